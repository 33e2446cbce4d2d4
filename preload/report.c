/* report.c - the shim's messages on stderr.
 *
 * Formatting uses a fixed stack buffer and vsnprintf (which does not allocate for the
 * conversions used here), output is one raw write(2), and the nesting guard is held so
 * nothing it calls can re-enter the shim's tracing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

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
	ssize_t r = write(STDERR_FILENO, buf, len);
	(void)r;
	shim_guard = old_guard;
	errno = saved;
}
