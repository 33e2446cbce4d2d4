/* hosted.c - turning a child of heapsnap run into a collector (see hosted.h). */
#include "hosted.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "commands.h"
#include "prim.h"
#include "shmlayout.h"

extern char **environ;

/* Reads the numbered fields of /proc/self/stat that PR_SET_MM_MAP must be given back
 * unchanged.  Returns 0 or -1. */
static int read_mm(struct prctl_mm_map *m)
{
	char buf[1024];
	int err;
	const char *paren = prim_proc_stat_text(getpid(), buf, sizeof(buf), &err);
	if (!paren)
		return -1;
	static const int fields[] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
	unsigned long long v[52] = { 0 };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *f = prim_stat_field(paren, fields[i]);
		if (!f)
			return -1;
		v[fields[i]] = strtoull(f, NULL, 10);
	}
	*m = (struct prctl_mm_map){
		.start_code = v[26], .end_code = v[27], .start_stack = v[28],
		.start_data = v[45], .end_data = v[46], .start_brk = v[47],
		.brk = (unsigned long)sbrk(0), .arg_start = v[48], .arg_end = v[49],
		.env_start = v[50], .env_end = v[51], .exe_fd = (unsigned)-1,
	};
	return 0;
}

/* Makes /proc/self/cmdline read as argv.  The strings go to an anonymous mapping of
 * their own: the kernel reads a command line from anonymous memory only.  Returns 0
 * or -1. */
static int set_cmdline(char *const argv[])
{
	size_t len = 0;
	for (int i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	char *area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -1;
	size_t off = 0;
	for (int i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		memcpy(area + off, argv[i], l);
		off += l;
	}
	struct prctl_mm_map m;
	if (read_mm(&m) < 0)
		return -1;
	m.arg_start = (unsigned long)area;
	m.arg_end = (unsigned long)area + len;
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) == 0 ? 0 : -1;
}

/* Moves fd to target, which may be taken; the other fds are high by then. */
static void place(int fd, int target)
{
	int high = fcntl(fd, F_DUPFD, 10);
	if (high < 0 || dup2(high, target) < 0)
		_exit(127);
	close(high);
}

_Noreturn void collect_hosted(int memfd, int runfd, pid_t pid, int sig, const char *dir)
{
	/* Run's handlers forward signals to the program: none of them may run here. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	signal(SIGINT, SIG_IGN); /* the terminal's Ctrl-C must not cost the exit file */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setsid();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	int m = fcntl(memfd, F_DUPFD, 10), r = fcntl(runfd, F_DUPFD, 10);
	if (m < 0 || r < 0)
		_exit(127);
	place(m, 3);
	place(r, 4);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 5, ~0u, 0);

	/* Said before anything can see this process as a collector, as the shim's own
	 * grandchild does: a collector killed before it attaches is then known dead. */
	struct hs_ctl *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (ctl != MAP_FAILED) {
		atomic_store(&ctl->collector_pid, (int32_t)getpid());
		munmap(ctl, sizeof(*ctl));
	}

	char self[PATH_MAX], pid_arg[24], sig_arg[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		_exit(127);
	self[n] = '\0';
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)pid);
	snprintf(sig_arg, sizeof(sig_arg), "%d", sig);
	char *argv[] = { self, "collect", "--shm-fd", "3", "--pid", pid_arg, "--dir", (char *)dir,
			 "--signal", sig_arg, "--run-fd", "4", NULL };
	if (set_cmdline(argv) < 0) {
		execve(self, argv, environ);
		_exit(127);
	}
	_exit(cmd_collect(11, argv + 1)); /* as main() calls it: argv[0] is "collect" */
}
