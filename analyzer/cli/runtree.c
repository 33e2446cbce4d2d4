/* runtree.c - heapsnap run's view of the traced process tree (see runtree.h).
 *
 * One poll loop serves the listening socket, every collector's connection and the
 * program's pidfd.  What a collector sends is untrusted: messages are bounded by the
 * packet size, fields are checked, and text is printed with control characters
 * replaced, so a program cannot drive run's terminal through its collector.
 */
#include "runtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format.h"
#include "hosted.h"
#include "prim.h"
#include "runlink.h"
#include "shmlayout.h"
#include "sock.h"
#include "vec.h"

#define POLL_MS 200
#define SUMMARY_ROWS 10
#define HOST_READY_MS 5000
#define HOST_END_MS 2000

/* Makes run's private directory: in $TMPDIR when it is set, else on a tmpfs
 * ($XDG_RUNTIME_DIR, /dev/shm), else in /tmp; a place that is not absolute, too long
 * for sun_path (over 40 characters) or refuses is passed over.  On this VM's ext4 /tmp
 * the mkdir, unlink and rmdir took 0.7-1.2 ms of every run, the rmdir at times
 * waiting on the disk; on a tmpfs 15 us.  Returns 0, or -errno of the last place
 * tried (t->dir then empty). */
static int runtree_mkdir(struct runtree *t)
{
	const char *places[] = { getenv("TMPDIR"), getenv("XDG_RUNTIME_DIR"), "/dev/shm", "/tmp" };
	int err = -ENOENT;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		const char *base = places[i];
		if (!base || base[0] != '/' || strlen(base) > 40)
			continue;
		snprintf(t->dir, sizeof(t->dir), "%s/heapsnap-run.XXXXXX", base);
		if (mkdtemp(t->dir))
			return 0;
		err = -errno;
	}
	t->dir[0] = '\0';
	return err;
}

int runtree_listen(struct runtree *t)
{
	memset(t, 0, sizeof(*t));
	t->listen_fd = -1;
	t->host_fd = -1;
	t->out = stderr;
	int r = runtree_mkdir(t);
	if (r < 0)
		return r;
	snprintf(t->sock, sizeof(t->sock), "%s/run.sock", t->dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->sock);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		runtree_close(t);
		return -e;
	}
	t->listen_fd = fd;
	t->max_turns = collect_max_turns();
	return 0;
}

static int runtree_send(int fd, const char *msg)
{
	return send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

static void runtree_send_status(const struct runtree *t, const struct runtree_conn *c)
{
	char msg[32];
	snprintf(msg, sizeof(msg), "status\t%d", t->child_status);
	runtree_send(c->fd, msg);
}

/* A new record for a collector; returns its index, or SIZE_MAX when out of memory. */
static size_t runtree_add_proc(struct runtree *t, pid_t pid, const char *command)
{
	if (vec_reserve((void **)&t->procs, &t->procs_cap, t->nprocs + 1, sizeof(*t->procs)))
		return SIZE_MAX;
	t->procs[t->nprocs] = (struct runtree_proc){
		.pid = pid, .command = strdup(command), .connected = true,
	};
	return t->nprocs++;
}

/* Copies text with control characters replaced, for printing. */
static char *runtree_clean(const char *text)
{
	char *s = strdup(text);
	for (char *p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* Splits msg at tabs into at most max fields; returns how many. */
static int runtree_fields(char *msg, char **f, int max)
{
	int n = 0;
	f[n++] = msg;
	for (char *p = msg; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool runtree_pid(const char *s, pid_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || end == s || v <= 0 || v > INT32_MAX)
		return false;
	*out = (pid_t)v;
	return true;
}

/* Records the image that connected as pid, and tells its collector whether it is the
 * program itself. */
static void runtree_introduced(struct runtree *t, struct runtree_conn *c, pid_t pid,
			       const char *command)
{
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].pid == pid)
			t->procs[i].execd = 0; /* the image after an exec has come */
	char *cmd = runtree_clean(command);
	c->proc = runtree_add_proc(t, pid, cmd ? cmd : "");
	free(cmd);
	bool main = pid == t->child;
	runtree_send(c->fd, main ? "main" : "other");
	if (main && t->child_done)
		runtree_send_status(t, c);
}

static void runtree_on_hello(struct runtree *t, struct runtree_conn *c, char **f, int n)
{
	pid_t pid;
	if (n < 3 || c->proc != SIZE_MAX || !runtree_pid(f[1], &pid))
		return;
	runtree_introduced(t, c, pid, f[2]);
}

/* The host of the tree's collectors (hosted.h) is run's child, reaped when it ends
 * (heapsnap snap tells it from the program by its command line: running.c).  Every
 * signal is blocked around the fork: run's handlers forward to the program, and must
 * never run in a copy of run. */
int runtree_start_host(struct runtree *t)
{
	if (t->host_fd >= 0)
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	fflush(NULL);
	pid_t host = fork();
	if (host == 0) {
		close(sv[0]);
		collect_host_start(sv[1], t->dir);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (host < 0) {
		close(sv[0]);
		return -1;
	}
	t->host_fd = sv[0];
	t->host_pid = 0;
	t->host_child = host;
	return 0;
}

/* Reaps the host once it has ended, without waiting for it. */
static void runtree_reap_host(struct runtree *t)
{
	if (t->host_child > 0 && waitpid(t->host_child, NULL, WNOHANG) != 0)
		t->host_child = 0;
}

static void runtree_drop_host(struct runtree *t)
{
	close(t->host_fd);
	t->host_fd = -1;
	t->host_pid = 0;
	runtree_reap_host(t);
}

/* Waits for the host's "ready" the first time it is needed.  Returns 0 or -1. */
static int runtree_host_ready(struct runtree *t)
{
	if (runtree_start_host(t) < 0)
		return -1;
	if (!t->host_pid) {
		pid_t host = collect_host_ready(t->host_fd, HOST_READY_MS);
		if (host < 0) {
			runtree_drop_host(t);
			return -1;
		}
		t->host_pid = host;
	}
	return 0;
}

/* Hands an image to the host, starting the host first if there is none yet, or again
 * if it is gone.  Returns 0 or -1. */
static int runtree_host(struct runtree *t, int memfd, int runfd, pid_t pid, const char *dir)
{
	for (int tries = 0; tries < 2; tries++) {
		if (runtree_host_ready(t) < 0)
			return -1;
		if (collect_host_send(t->host_fd, memfd, runfd, pid, dir) == 0)
			return 0;
		runtree_drop_host(t);
	}
	return -1;
}

/* "host PID SIGNAL DIR COMMAND" with the image's memfd and its end of this connection
 * attached.  The pid that counts is the connection's (SO_PEERCRED), in run's PID
 * namespace: a program that is pid 1 of a namespace of its own says 1. */
static void runtree_on_host(struct runtree *t, struct runtree_conn *c, char **f, int n,
			    const int *fds, int nfds)
{
	pid_t pid;
	char *end;
	long sig = n == 5 ? strtol(f[2], &end, 10) : -1;
	if (n != 5 || nfds != 2 || c->proc != SIZE_MAX || !runtree_pid(f[1], &pid) || *end ||
	    sig < 0 || sig >= NSIG || f[3][0] != '/')
		return;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
		pid = cred.pid;
	runtree_introduced(t, c, pid, f[4]);
	if (runtree_host(t, fds[0], fds[1], pid, f[3]) < 0)
		collect_refuse(fds[0]);
}

static void runtree_on_file(struct runtree *t, struct runtree_conn *c, char **f, int n)
{
	pid_t pid;
	char *end;
	if (n < 5 || !runtree_pid(f[1], &pid))
		return;
	int64_t peak = strtoll(f[2], &end, 10);
	if (*end || peak < 0)
		return;
	if (c->proc == SIZE_MAX)
		c->proc = runtree_add_proc(t, pid, "");
	if (c->proc == SIZE_MAX)
		return;
	struct runtree_proc *p = &t->procs[c->proc];
	free(p->path);
	free(p->trigger);
	p->failed = !strcmp(f[4], "-");
	p->path = p->failed ? NULL : runtree_clean(f[4]);
	p->trigger = runtree_clean(f[3]);
	if (!strcmp(f[3], "exec"))
		p->execd = prim_now_ns(CLOCK_MONOTONIC);
	p->peak = peak;
}

/* Gives the turn to symbolize to waiting collectors, oldest request first, while
 * fewer than max_turns have one: a tree of many short processes never has more
 * symbolizers at once than CPUs. */
static void runtree_grant(struct runtree *t)
{
	while (t->turns < t->max_turns) {
		struct runtree_conn *next = NULL;
		for (size_t i = 0; i < t->nconns; i++)
			if (t->conns[i].asked && !t->conns[i].has_turn &&
			    (!next || t->conns[i].asked < next->asked))
				next = &t->conns[i];
		if (!next)
			return;
		next->has_turn = true;
		t->turns++;
		runtree_send(next->fd, "go");
	}
}

/* A command line as the summary shows it: the program's base name and its arguments. */
static const char *runtree_short(const char *command)
{
	if (!command)
		return "";
	size_t first = strcspn(command, " ");
	const char *base = command;
	for (size_t i = 0; i < first; i++)
		if (command[i] == '/')
			base = command + i + 1;
	return base;
}

/* What an image did with the snapshot signal, for a line after "pid N (command): ". */
static void runtree_signal_text(const struct runtree_proc *p, char *out, size_t len)
{
	const char *name = sigabbrev_np(p->signal);
	snprintf(out, len,
		 p->signal_how == 's'   ? "SIG%s was not at its default action at start"
		 : p->signal_how == 'i' ? "the program ignores SIG%s"
					: "the program installed its own handler for SIG%s",
		 name ? name : "?");
}

/* "signal SIG start|own|ignored": the image's snapshot signal is the program's.  Said
 * at once for the program itself; for the rest of the tree, in one list at the end. */
static void runtree_on_signal(struct runtree *t, struct runtree_conn *c, char **f, int n)
{
	char *end;
	long sig = n == 3 ? strtol(f[1], &end, 10) : 0;
	if (n != 3 || *end || sig <= 0 || sig >= NSIG || c->proc == SIZE_MAX ||
	    (strcmp(f[2], "start") && strcmp(f[2], "own") && strcmp(f[2], "ignored")))
		return;
	struct runtree_proc *p = &t->procs[c->proc];
	p->signal = (int)sig;
	p->signal_how = f[2][0] == 'i' ? 'i' : f[2][0] == 's' ? 's' : 'o';
	if (p->pid != t->child || t->quiet)
		return;
	char text[96];
	runtree_signal_text(p, text, sizeof(text));
	const char *name = sigabbrev_np(p->signal);
	fprintf(t->out, "heapsnap: pid %d (%.40s): %s: kill -%s does not snapshot it, "
			"'heapsnap snap %d' does\n",
		(int)p->pid, runtree_short(p->command), text, name ? name : "?", (int)p->pid);
	p->signal_said = true;
}

/* Handles one packet from a collector; false when the connection ended. */
static bool runtree_on_message(struct runtree *t, struct runtree_conn *c)
{
	char msg[RUNLINK_MSG_MAX + 1];
	int fds[RUNLINK_FDS_MAX], nfds;
	ssize_t len = runlink_recv_fds(c->fd, msg, sizeof(msg), fds, &nfds, MSG_DONTWAIT);
	/* A collector that closes with a reply of ours unread resets the connection; the
	 * error is reported once, before the packets it sent, which are still there. */
	if (len < 0 && errno == ECONNRESET)
		len = runlink_recv_fds(c->fd, msg, sizeof(msg), fds, &nfds, MSG_DONTWAIT);
	if (len < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNRESET;
	if (len == 0)
		return false;
	char *f[5];
	int n = runtree_fields(msg, f, 5);
	if (!strcmp(f[0], "host"))
		runtree_on_host(t, c, f, n, fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (!strcmp(f[0], "hello"))
		runtree_on_hello(t, c, f, n);
	else if (!strcmp(f[0], "file"))
		runtree_on_file(t, c, f, n);
	else if (!strcmp(f[0], "turn") && !c->asked) {
		c->asked = prim_now_ns(CLOCK_MONOTONIC);
		runtree_grant(t);
	} else if (!strcmp(f[0], "signal")) {
		runtree_on_signal(t, c, f, n);
	} else if (!strcmp(f[0], "say") && n == 2) {
		char *text = runtree_clean(f[1]);
		if (text)
			fprintf(t->out, "heapsnap: %s\n", text);
		free(text);
	}
	return true;
}

static void runtree_accept(struct runtree *t)
{
	for (;;) {
		int fd = sock_accept_waiting(t->listen_fd);
		if (fd < 0)
			return;
		if (vec_reserve((void **)&t->conns, &t->conns_cap, t->nconns + 1, sizeof(*t->conns))) {
			close(fd);
			return;
		}
		t->conns[t->nconns++] = (struct runtree_conn){ .fd = fd, .proc = SIZE_MAX };
	}
}

static void runtree_drop(struct runtree *t, size_t i)
{
	struct runtree_conn *c = &t->conns[i];
	if (c->proc != SIZE_MAX)
		t->procs[c->proc].connected = false;
	close(c->fd);
	bool had_turn = c->has_turn;
	t->conns[i] = t->conns[--t->nconns];
	if (had_turn) {
		t->turns--;
		runtree_grant(t);
	}
}

/* Reaps the program if it ended, and tells its collectors how. */
static void runtree_reap(struct runtree *t)
{
	if (t->child_done)
		return;
	/* Seen ended but not reaped yet, while its pid cannot be reused: stop forwarding
	 * signals to it first. */
	siginfo_t info = { 0 };
	if (waitid(P_PID, (id_t)t->child, &info, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    info.si_pid != t->child)
		return;
	if (t->forward_to)
		*t->forward_to = 0;
	int st;
	pid_t r = waitpid(t->child, &st, WNOHANG);
	if (r != t->child)
		return;
	t->child_done = true;
	t->child_status = st;
	for (size_t i = 0; i < t->nconns; i++)
		if (t->conns[i].proc != SIZE_MAX && t->procs[t->conns[i].proc].pid == t->child)
			runtree_send_status(t, &t->conns[i]);
}

/* The program stopped (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, by itself or by a signal
 * run forwarded): when a shell with job control started run (run's process group is
 * not its parent's), run stops with the same signal, so that the shell sees its job
 * stopped, and fg or bg work.  Once run is continued, so is the program, unless that
 * was done already (a shell continues the whole process group); and a program that
 * stopped again meanwhile is mirrored again, not continued.  Run started by anything
 * else (a script, a service manager) stays as it is, as nobody would continue it. */
static void runtree_mirror_stop(struct runtree *t)
{
	siginfo_t info = { 0 };
	if (t->child_done || getpgrp() == getpgid(getppid()) ||
	    waitid(P_PID, (id_t)t->child, &info, WSTOPPED | WNOHANG) < 0 ||
	    info.si_pid != t->child || info.si_code != CLD_STOPPED)
		return;
	int sig = info.si_status;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, was;
	sigemptyset(&dfl.sa_mask);
	bool swapped = sig != SIGSTOP && sigaction(sig, &dfl, &was) == 0;
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, &old);
	raise(sig); /* returns once run is continued */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (swapped)
		sigaction(sig, &was, NULL);
	info = (siginfo_t){ 0 };
	bool continued = waitid(P_PID, (id_t)t->child, &info, WCONTINUED | WNOHANG) == 0 &&
			 info.si_pid == t->child;
	info = (siginfo_t){ 0 };
	if (waitid(P_PID, (id_t)t->child, &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 &&
	    info.si_pid == t->child) {
		*t->stopped = 1; /* continued and stopped again: mirrored next round */
		return;
	}
	if (!continued)
		kill(t->child, SIGCONT);
}

/* Reaps the children of run's that ended, but the program and the host (left to
 * runtree_reap() and runtree_reap_host(): a pidfd may yet be opened on the host's pid,
 * which must not be free for reuse by then), and says whether one still lives.  Run is
 * the tree's subreaper (cmd_run.c): every process whose parent ended becomes run's
 * child, so the tree outlives the program while run has such a child.  It may be about
 * to connect (the program forked it and ended before its first allocation), or never
 * will (untraced, or allocating nothing).  Without /proc's list of children
 * (CONFIG_PROC_CHILDREN), zombies are reaped up to the first that must wait, and none
 * is said to live. */
static bool runtree_orphans(struct runtree *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)syscall(SYS_gettid));
	FILE *f = fopen(path, "re");
	if (!f) {
		for (;;) {
			siginfo_t info = { 0 };
			pid_t p = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0
					  ? 0
					  : info.si_pid;
			if (!p || p == t->child || p == t->host_child ||
			    waitpid(p, NULL, WNOHANG | __WALL) != p)
				return false;
		}
	}
	bool live = false;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1)
		if (pid > 0 && pid != t->child && pid != t->host_child &&
		    waitpid((pid_t)pid, NULL, WNOHANG | __WALL) == 0)
			live = true;
	fclose(f);
	return live;
}

/* One round of poll over the program and every connection, for at most ms. */
static void runtree_poll(struct runtree *t, int pidfd, int ms)
{
	struct pollfd *p = calloc(t->nconns + 2, sizeof(*p));
	if (!p) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	size_t n = 0;
	p[n++] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = t->child_done ? -1 : pidfd, .events = POLLIN };
	for (size_t i = 0; i < t->nconns; i++)
		p[n++] = (struct pollfd){ .fd = t->conns[i].fd, .events = POLLIN };
	int r = poll(p, n, ms);
	if (r > 0) {
		/* Backwards, so that dropping a connection moves only ones already seen. */
		for (size_t i = t->nconns; i-- > 0;)
			if (p[i + 2].revents && !runtree_on_message(t, &t->conns[i]))
				runtree_drop(t, i);
		if (p[0].revents)
			runtree_accept(t);
	}
	free(p);
}

/* Whether a process whose image exec'd may still connect for its next image: its
 * collector is gone before the new image's shim has set up, and run must not end in
 * between.  A new image that is not traced (static, or setuid) never connects: it is
 * waited for EXEC_GRACE_NS at most, and not at all once the process is gone. */
#define EXEC_GRACE_NS (2 * 1000 * 1000 * 1000ull)
static bool runtree_awaiting_exec(struct runtree *t)
{
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	for (size_t i = 0; i < t->nprocs; i++) {
		struct runtree_proc *p = &t->procs[i];
		if (p->execd && (now - p->execd > EXEC_GRACE_NS || kill(p->pid, 0) < 0))
			p->execd = 0;
		if (p->execd)
			return true;
	}
	return false;
}

/* How long, once the program has ended and no collector is left, run waits for the
 * processes of the tree that have not connected: they connect at their first
 * allocation, or never. */
#define ORPHAN_GRACE_NS (2 * 1000 * 1000 * 1000ull)
#define ORPHAN_POLL_MS 10

int runtree_serve(struct runtree *t, unsigned timeout_s, volatile const int *stop)
{
	int pidfd = (int)syscall(SYS_pidfd_open, t->child, 0);
	uint64_t ended = 0, idle = 0;
	for (;;) {
		int ms = POLL_MS;
		if (t->stopped && *t->stopped) {
			*t->stopped = 0;
			runtree_mirror_stop(t);
		}
		runtree_reap(t);
		/* Orphans' zombies are reaped a poll's timeout apart at most: a system call
		 * each round would be one more for every message of a tree's collectors. */
		uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
		if (now - t->orphans_reaped >= POLL_MS * 1000000ull) {
			t->orphans_reaped = now;
			runtree_orphans(t);
		}
		if (t->child_done) {
			if (!ended)
				ended = now;
			runtree_accept(t);
			/* The grace counts from when the last collector was done. */
			idle = t->nconns ? 0 : idle ? idle : now;
			if (t->nconns == 0 && !runtree_awaiting_exec(t)) {
				if (now - idle > ORPHAN_GRACE_NS || !runtree_orphans(t))
					break;
				ms = ORPHAN_POLL_MS;
			}
			if ((timeout_s && now - ended > (uint64_t)timeout_s * 1000000000u) ||
			    (stop && *stop)) {
				if (pidfd >= 0)
					close(pidfd);
				return 1;
			}
		}
		runtree_poll(t, pidfd, ms);
	}
	if (pidfd >= 0)
		close(pidfd);
	return 0;
}

const struct runtree_proc *runtree_main(const struct runtree *t)
{
	const struct runtree_proc *last = NULL;
	for (size_t i = 0; i < t->nprocs; i++) {
		const struct runtree_proc *p = &t->procs[i];
		if (p->pid != t->child || (!p->path && !p->failed))
			continue;
		if (!last || !p->trigger || strcmp(p->trigger, "exec"))
			last = p;
	}
	return last;
}

static int runtree_by_peak(const void *a, const void *b)
{
	const struct runtree_proc *x = *(struct runtree_proc *const *)a;
	const struct runtree_proc *y = *(struct runtree_proc *const *)b;
	if (x->peak != y->peak)
		return x->peak > y->peak ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The largest peaks of a tree of more than one process image. */
static void runtree_report_tree(const struct runtree *t, FILE *out)
{
	struct runtree_proc **rows = calloc(t->nprocs, sizeof(*rows));
	size_t n = 0;
	for (size_t i = 0; rows && i < t->nprocs; i++)
		if (t->procs[i].path)
			rows[n++] = &t->procs[i];
	if (n > 1) {
		qsort(rows, n, sizeof(*rows), runtree_by_peak);
		fprintf(out, "heapsnap: %zu files from this process tree; the largest peaks:\n", n);
		for (size_t i = 0; i < n && i < SUMMARY_ROWS; i++) {
			char size[FORMAT_SIZE_MAX];
			fprintf(out, "heapsnap:   %10s  pid %-7d %-30.30s %s\n",
				format_size(size, rows[i]->peak, false), (int)rows[i]->pid,
				runtree_short(rows[i]->command), rows[i]->path);
		}
		if (n > SUMMARY_ROWS)
			fprintf(out, "heapsnap:   and %zu more ('heapsnap ls' lists them all)\n",
				n - SUMMARY_ROWS);
	}
	free(rows);
}

void runtree_report(const struct runtree *t, FILE *out)
{
	bool quiet = t->quiet;
	const struct runtree_proc *m = runtree_main(t);
	char size[FORMAT_SIZE_MAX];
	if (!quiet && m && m->path)
		fprintf(out, "heapsnap: %s (pid %d, traced peak %s)\n", m->path, (int)m->pid,
			format_size(size, m->peak, false));
	else if (m && m->failed)
		fprintf(out, "heapsnap: pid %d: the exit snapshot could not be written\n",
			(int)m->pid);
	if (!quiet)
		runtree_report_tree(t, out);
	/* As the shim says it without run, unless run was asked to be quiet: a script
	 * that handles SIGUSR2 (bash's EXIT trap does) must not find more on its stderr
	 * than natively. */
	size_t taken = 0;
	for (size_t i = 0; !quiet && i < t->nprocs; i++)
		taken += t->procs[i].signal && !t->procs[i].signal_said;
	if (taken)
		fprintf(out, "heapsnap: %zu other process%s of the tree %s the snapshot signal; "
			     "'heapsnap snap PID' snapshots %s:\n",
			taken, taken == 1 ? "" : "es", taken == 1 ? "keeps" : "keep",
			taken == 1 ? "it" : "them");
	for (size_t i = 0, k = 0; taken && i < t->nprocs && k < SUMMARY_ROWS; i++) {
		const struct runtree_proc *p = &t->procs[i];
		if (!p->signal || p->signal_said)
			continue;
		char text[96];
		runtree_signal_text(p, text, sizeof(text));
		fprintf(out, "heapsnap:   pid %d (%.40s): %s\n", (int)p->pid,
			runtree_short(p->command), text);
		k++;
	}
	if (taken > SUMMARY_ROWS)
		fprintf(out, "heapsnap:   and %zu more\n", taken - SUMMARY_ROWS);
	/* Lost files are said aloud, -q or not. */
	for (size_t i = 0; i < t->nprocs; i++) {
		const struct runtree_proc *p = &t->procs[i];
		if (!p->connected && !p->path && !p->failed)
			fprintf(out, "heapsnap: pid %d (%.40s): its collector ended without writing "
				     "a file (killed?)\n", (int)p->pid, runtree_short(p->command));
	}
	size_t waiting = 0;
	for (size_t i = 0; i < t->nprocs; i++)
		waiting += t->procs[i].connected;
	if (!waiting && !t->nconns)
		return;
	size_t n = waiting + (t->nconns > waiting ? t->nconns - waiting : 0);
	fprintf(out, "heapsnap: gave up waiting for %zu collector%s; %s may appear later:", n,
		n == 1 ? "" : "s", n == 1 ? "its file" : "their files");
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].connected)
			fprintf(out, " pid %d (%.40s)", (int)t->procs[i].pid,
				runtree_short(t->procs[i].command));
	fputc('\n', out);
}

/* Lets the host go: it ends once its last collector is done, which, when every
 * collector has said goodbye, is at once.  Returns a pidfd to wait on for that, or -1
 * (no host, or one that is not done). */
static int runtree_let_host_go(struct runtree *t)
{
	if (t->host_fd < 0)
		return -1;
	/* A host started early that no image needed says ready all the same. */
	if (!t->host_pid && !t->nconns) {
		pid_t host = collect_host_ready(t->host_fd, HOST_END_MS);
		t->host_pid = host > 0 ? host : 0;
	}
	int pidfd = t->nconns || !t->host_pid ? -1 : (int)syscall(SYS_pidfd_open, t->host_pid, 0);
	runtree_drop_host(t);
	return pidfd;
}

/* Waits for the host's end, so that nothing of the tree outlives run. */
static void runtree_wait_host(struct runtree *t, int pidfd)
{
	if (pidfd < 0)
		return;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	while (poll(&p, 1, HOST_END_MS) < 0 && errno == EINTR)
		;
	close(pidfd);
	runtree_reap_host(t);
}

/* Removes the kept segments' links ("pool.N") and claims ("claim.PID") left in run's
 * directory. */
static void runtree_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "pool.", 5) || !strncmp(e->d_name, "claim.", 6))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

void runtree_close(struct runtree *t)
{
	/* The host's exit (its memory freed) and run's own clean-up overlap. */
	int host = runtree_let_host_go(t);
	for (size_t i = 0; i < t->nconns; i++)
		close(t->conns[i].fd);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->sock[0])
		unlink(t->sock);
	if (t->dir[0] && rmdir(t->dir) < 0) {
		/* The host's kept segments (segpool.h) go with it: wait for it, then remove
		 * what is left, a link an image claimed and did not unlink included. */
		runtree_wait_host(t, host);
		host = -1;
		runtree_empty_dir(t->dir);
		rmdir(t->dir);
	}
	runtree_wait_host(t, host);
	for (size_t i = 0; i < t->nprocs; i++) {
		free(t->procs[i].command);
		free(t->procs[i].path);
		free(t->procs[i].trigger);
	}
	free(t->procs);
	free(t->conns);
	memset(t, 0, sizeof(*t));
	t->listen_fd = -1;
	t->host_fd = -1;
}
