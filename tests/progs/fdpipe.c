/* fdpipe.c - a program that puts its own file on the high fd numbers where the shim
 * keeps libunwind's pipe, then allocates where libunwind unwinds (in a signal
 * handler).  libunwind read a byte from the file and wrote one into it, through its
 * old numbers; now the file stays as written, its offset at 0. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig;
	free(malloc(64));
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	raise(SIGALRM); /* libunwind's pipe is made now, at the top of the fd limit */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1;
	/* fds.c's numbers: 64 below the soft limit */
	int base = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536 ? 65536 - 64
		   : rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : (int)rl.rlim_cur / 2;
	char name[] = "/tmp/fdpipe.XXXXXX";
	int fd = mkstemp(name);
	if (fd < 0 || write(fd, "0123456789", 10) != 10)
		return 1;
	unlink(name);
	for (int i = 0; i < 4; i++)
		dup2(fd, base + i);
	lseek(fd, 0, SEEK_SET);
	for (int i = 0; i < 3; i++)
		raise(SIGALRM);
	char buf[11] = { 0 };
	ssize_t n = pread(fd, buf, 10, 0);
	printf("read %zd '%s', offset %ld\n", n, buf, (long)lseek(fd, 0, SEEK_CUR));
	return 0;
}
