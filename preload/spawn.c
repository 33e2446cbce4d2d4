/* spawn.c - starting the collector process.
 *
 * Under `heapsnap run`, run starts the collector: the memfd goes to run over its
 * socket (spawn_introduce()).  Otherwise the collector is `heapsnap collect`, exec'd
 * in a grandchild that the program can neither see nor reap: both forks are raw
 * clone(2)s with no exit signal, so the program gets no SIGCHLD and its waitpid(-1)
 * never returns them; the intermediate is reaped here with __WCLONE.  The grandchild starts a session of its own (a terminal's
 * Ctrl-C must not kill it before it writes the exit snapshot), holds no fd of the
 * program's — stdin, stdout and stderr are /dev/null, so nothing that waits for
 * end-of-file on the program's output waits for us (design.md invariant 7) — only the
 * memfd (as fd 3) and its own connection to `heapsnap run` (fd 4, when there is one),
 * and gets the program's environment without LD_PRELOAD so it is not traced itself.
 *
 * Everything here runs inside the program, possibly from malloc: memory comes from
 * mmap, and the child side only makes async-signal-safe calls.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "shim.h"

extern char **environ;

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* Finds the heapsnap binary: HEAPSNAP_COLLECTOR, then beside the shim (build tree or
 * install tree), then the configured bindir.  Returns false when there is none. */
static bool find_collector(char *out, size_t size)
{
	if (shim_opt.collector) {
		snprintf(out, size, "%s", shim_opt.collector);
		return executable(out);
	}
	Dl_info info;
	if (dladdr((void *)find_collector, &info) && info.dli_fname && info.dli_fname[0] == '/') {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", info.dli_fname);
		char *slash = strrchr(dir, '/');
		*slash = '\0';
		static const char *const rel[] = {
			"/../analyzer/heapsnap", "/../bin/heapsnap", "/../../bin/heapsnap",
		};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(out, size, "%s%s", dir, rel[i]);
			if (executable(out))
				return true;
		}
	}
	snprintf(out, size, "%s/heapsnap", HEAPSNAP_BINDIR);
	return executable(out);
}

static pid_t raw_fork(void)
{
	/* No CLONE_* flags and no exit signal: a fork the parent is never signalled for. */
	return (pid_t)syscall(SYS_clone, 0, NULL, NULL, NULL, NULL);
}

/* The kernel's struct sigaction, for setting SIG_IGN without libc (whose wrappers
 * resolve to the shim's own, and may call dlsym). */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void ignore_signal(int sig)
{
	struct kernel_sigaction ksa = { .handler = SIG_IGN };
	syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
}

/* Runs in the grandchild, a copy of a possibly multithreaded process: only raw
 * system calls from here on.  Never returns. */
static void exec_collector(struct hs_ctl *c, const char *path, char **argv, char **envp,
			   int memfd, int runfd)
{
	atomic_store(&c->collector_pid, (int32_t)syscall(SYS_getpid));
	syscall(SYS_setsid);
	uint64_t none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
	ignore_signal(SIGINT);
	ignore_signal(SIGHUP);
	ignore_signal(SIGPIPE);
	/* Move our fds above 3 and 4 first: the memfd may itself be 3, and dup2(3, 3)
	 * would leave it close-on-exec. */
	int m = fcntl(memfd, F_DUPFD, 10);
	int r = runfd >= 0 ? fcntl(runfd, F_DUPFD, 10) : -1;
	if (m < 0 || (runfd >= 0 && r < 0) || dup2(m, 3) < 0 || (r >= 0 && dup2(r, 4) < 0))
		_exit(127);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, runfd >= 0 ? 5 : 4, ~0u, 0);
	syscall(SYS_execve, path, argv, envp);
	atomic_store(&c->collector_state, HS_COLLECTOR_DONE);
	_exit(127);
}

/* Connects to heapsnap run's socket (HEAPSNAP_RUN_SOCKET), when there is one: every
 * traced process image of the tree gets a connection of its own, made here, before the
 * program goes on, so run knows of each collector before the process can end.  The
 * connection goes to the collector; the program never holds it.  Returns the fd or -1. */
static int spawn_connect_run(void)
{
	const char *path = shim_opt.run_socket;
	if (!path)
		return -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Introduces this image to run, which knows whose file is missing if its collector
 * dies before saying anything: "hello PID COMMAND" when the collector is started here,
 * or "host PID SIGNAL DIR COMMAND" with the memfd and the connection itself attached
 * (SCM_RIGHTS), asking run to start the collector: run forks it from itself, with no
 * exec and no dynamic linking, and the program forks nothing.  Run takes the pid from
 * the connection's credentials, in its own PID namespace.  Returns 0 or -1. */
static int spawn_introduce(int runfd, const struct hs_ctl *c, int memfd, const char *dir)
{
	char head[64], msg[HS_COMMAND_MAX];
	size_t h = 0, n = 0;
	bool fit = memfd >= 0 ? prim_put_str(head, sizeof(head), &h, "host\t") &&
					prim_put_int(head, sizeof(head), &h, getpid()) &&
					prim_put_str(head, sizeof(head), &h, "\t") &&
					prim_put_int(head, sizeof(head), &h, shim_opt.signal) &&
					prim_put_str(head, sizeof(head), &h, "\t")
			      : prim_put_str(head, sizeof(head), &h, "hello\t") &&
					prim_put_int(head, sizeof(head), &h, getpid()) &&
					prim_put_str(head, sizeof(head), &h, "\t");
	if (!fit)
		return -1;
	uint32_t len = c->command_len < HS_COMMAND_MAX ? c->command_len : HS_COMMAND_MAX;
	for (uint32_t i = 0; i < len; i++)
		msg[n++] = c->command[i] ? c->command[i] : ' ';
	while (n > 0 && msg[n - 1] == ' ')
		n--;
	struct iovec iov[4] = { { head, h } };
	int niov = 1;
	if (memfd >= 0) {
		iov[niov++] = (struct iovec){ (void *)dir, strlen(dir) };
		iov[niov++] = (struct iovec){ "\t", 1 };
	}
	iov[niov++] = (struct iovec){ msg, n };
	size_t total = 0;
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (total > 4200 + HS_COMMAND_MAX)
		return -1;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctrl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
	if (memfd >= 0) {
		int fds[2] = { memfd, runfd };
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	return sendmsg(runfd, &mh, MSG_NOSIGNAL) == (ssize_t)total ? 0 : -1;
}

int spawn_collector(struct segment *s, int memfd, const char *dir)
{
	int runfd = spawn_connect_run();
	if (runfd >= 0) {
		int r = spawn_introduce(runfd, s->ctl, memfd, dir);
		close(runfd);
		if (r == 0)
			return 0;
		runfd = spawn_connect_run(); /* run refused the fds: start the collector here */
	}
	if (runfd >= 0 && spawn_introduce(runfd, s->ctl, -1, NULL) < 0) {
		close(runfd);
		runfd = -1;
	}
	/* The kernel kills every process of a PID namespace when its init ends, a
	 * collector started here included (heapsnap run's live outside): say so now. */
	if (getpid() == 1)
		report("this process is pid 1 of its PID namespace: its collector ends with it, "
		       "so its exit snapshot cannot be written (trace it with heapsnap run, or "
		       "trace the program inside, not the namespace's init)");
	char path[PATH_MAX];
	if (!find_collector(path, sizeof(path))) {
		report("cannot find the heapsnap binary (set HEAPSNAP_COLLECTOR); not tracing");
		if (runfd >= 0)
			close(runfd);
		return -ENOENT;
	}
	size_t nenv = 0;
	for (char **e = environ; e && *e; e++)
		nenv++;
	size_t area_size = (nenv + 2) * sizeof(char *) + 4096;
	char *area = shim_real_mmap(NULL, area_size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		int e = errno;
		report("cannot start the collector: %s; not tracing", strerror(e));
		if (runfd >= 0)
			close(runfd);
		return -e;
	}
	char **envp = prim_env_without_preload((char **)(area + 4096), nenv + 2);
	char pid_arg[24], sig_arg[16];
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)getpid());
	snprintf(sig_arg, sizeof(sig_arg), "%d", shim_opt.signal);
	char *argv[] = {
		path, "collect", "--shm-fd", "3", "--pid", pid_arg, "--dir", (char *)dir,
		"--signal", sig_arg, NULL, NULL, NULL,
	};
	if (runfd >= 0) {
		argv[10] = "--run-fd";
		argv[11] = "4";
	}

	int r;
	pid_t mid = raw_fork();
	if (mid == 0) {
		pid_t gc = raw_fork();
		if (gc == 0)
			exec_collector(s->ctl, path, argv, envp, memfd, runfd);
		_exit(gc < 0 ? 1 : 0);
	}
	if (mid < 0) {
		r = -errno;
		report("cannot start the collector: %s; not tracing", strerror(errno));
	} else {
		int st = 0;
		while (waitpid(mid, &st, __WCLONE) < 0 && errno == EINTR)
			;
		r = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
		if (r < 0)
			report("cannot start the collector; not tracing");
	}
	if (runfd >= 0)
		close(runfd);
	shim_real_munmap(area, area_size);
	return r;
}
