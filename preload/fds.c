/* fds.c - keeping the shim's file descriptors out of the program's way.
 *
 * The shim itself keeps no fd open, but libunwind opens a pipe when it initializes
 * (for validating addresses) and again whenever it finds that pipe closed.  pipe2(2)
 * returns the lowest free numbers, so the program would find fds 3 and 4 taken that
 * are not its own.  libunwind calls pipe2 through its PLT, so it reaches this wrapper:
 * when the shim's guard is set — the call comes from inside the shim's own work — the
 * pipe is moved to high, close-on-exec numbers.  Every other call passes through.
 *
 * High numbers are still the program's to take: dup2 onto them, or a closefrom(3)
 * and enough opens.  libunwind would then read a byte from the program's file and
 * write one into it, or close it and put its pipe there.  So the pipe is remembered
 * (its array is libunwind's own, the one pipe2 was given) and checked before each
 * use of libunwind (fds_check_unwinder_pipe()): when a number is no longer that pipe,
 * libunwind is given none, and makes a new one, elsewhere, at its next validation.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* libunwind's array of its pipe's two fds, and the pipe's identity. */
static int *unwinder_pipe;
static dev_t unwinder_dev;
static ino_t unwinder_ino;

/* Whether fd is the remembered pipe. */
static bool is_unwinder_pipe(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_dev == unwinder_dev &&
	       st.st_ino == unwinder_ino;
}

void fds_check_unwinder_pipe(void)
{
	int *fds = unwinder_pipe;
	if (!fds || (fds[0] < 0 && fds[1] < 0))
		return;
	int saved = errno;
	bool ours[2] = { fds[0] >= 0 && is_unwinder_pipe(fds[0]),
			 fds[1] >= 0 && is_unwinder_pipe(fds[1]) };
	if (!ours[0] || !ours[1]) {
		for (int i = 0; i < 2; i++)
			if (ours[i])
				close(fds[i]);
		fds[0] = fds[1] = -1; /* never the program's fds: libunwind makes a new pipe */
	}
	errno = saved;
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
		struct stat st;
		if (fstat(fds[0], &st) == 0) {
			unwinder_dev = st.st_dev;
			unwinder_ino = st.st_ino;
			unwinder_pipe = fds;
		}
		errno = saved;
	}
	return r;
}
