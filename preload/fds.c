/* fds.c - keeping the shim's file descriptors out of the program's way.
 *
 * The shim itself keeps no fd open, but libunwind opens a pipe when it initializes
 * (for validating addresses) and again whenever it finds that pipe closed.  pipe2(2)
 * returns the lowest free numbers, so the program would find fds 3 and 4 taken that
 * are not its own.  libunwind calls pipe2 through its PLT, so it reaches this wrapper:
 * when the shim's guard is set — the call comes from inside the shim's own work — the
 * pipe is moved to high, close-on-exec numbers.  Every other call passes through.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "shim.h"

/* Fds at or above this are out of the way: the top of the soft limit. */
static int high_base(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 65536)
		return 65536 - 64;
	return rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : (int)rl.rlim_cur / 2;
}

static void move_high(int *fd, int base)
{
	int high = fcntl(*fd, F_DUPFD_CLOEXEC, base);
	if (high >= 0) {
		close(*fd);
		*fd = high;
	}
}

EXPORT int pipe2(int fds[2], int flags)
{
	static int (*real)(int *, int);
	if (!real && !(real = (int (*)(int *, int))shim_next_symbol("pipe2"))) {
		errno = ENOSYS;
		return -1;
	}
	int r = real(fds, flags);
	if (r == 0 && shim_guard) {
		int saved = errno, base = high_base();
		move_high(&fds[0], base);
		move_high(&fds[1], base);
		errno = saved;
	}
	return r;
}
