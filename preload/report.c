/* report.c - the shim's messages on stderr.
 *
 * Formatting uses a fixed stack buffer and vsnprintf (which does not allocate for the
 * conversions used here), output is one raw write(2), and the nesting guard is held so
 * nothing it calls can re-enter the shim's tracing.
 *
 * Only to the stderr the image started with: a program that closes fd 2 and opens a
 * file of its own, which gets fd 2, would find our lines in its data.  The file is
 * noted at setup (report_init) and compared with fd 2's before each message; a
 * message for a stderr that is not that file any more is dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

static enum { ERR_UNKNOWN, ERR_NONE, ERR_KNOWN } err_state;
static dev_t err_dev;
static ino_t err_ino;

void report_init(void)
{
	struct stat st;
	if (fstat(STDERR_FILENO, &st) < 0) {
		err_state = ERR_NONE;
		return;
	}
	err_dev = st.st_dev;
	err_ino = st.st_ino;
	err_state = ERR_KNOWN;
}

/* Whether fd 2 is still the stderr noted at setup (before it, whatever it is). */
static bool stderr_is_the_programs(void)
{
	struct stat st;
	if (err_state == ERR_UNKNOWN)
		return true;
	return err_state == ERR_KNOWN && fstat(STDERR_FILENO, &st) == 0 &&
	       st.st_dev == err_dev && st.st_ino == err_ino;
}

void report(const char *fmt, ...)
{
	char buf[512];
	int saved = errno;
	int old_guard = shim_guard;
	shim_guard = 1;
	size_t len = (size_t)snprintf(buf, sizeof(buf), "heapsnap[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, sizeof(buf) - len - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len += (size_t)n < sizeof(buf) - len - 1 ? (size_t)n : sizeof(buf) - len - 2;
	buf[len++] = '\n';
	if (stderr_is_the_programs()) {
		ssize_t r = write(STDERR_FILENO, buf, len);
		(void)r;
	}
	shim_guard = old_guard;
	errno = saved;
}
