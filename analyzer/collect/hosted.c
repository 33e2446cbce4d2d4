/* hosted.c - heapsnap run's host of collectors (see hosted.h). */
#include "hosted.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <linux/prctl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "prim.h"
#include "runlink.h"
#include "segpool.h"
#include "shmlayout.h"
#include "symcache.h"

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

_Noreturn void collect_host_start(int sock, const char *run_dir)
{
	/* Run's handlers forward signals to the program: none of them may run here. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	setsid();
	place(sock, 3);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	syscall(SYS_close_range, 4, ~0u, 0);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		_exit(127);
	self[n] = '\0';
	char *argv[] = { self, "collect", "--host-fd", "3", NULL };
	/* A library preloaded into run (LD_PRELOAD=libtcmalloc.so heapsnap run ...) would
	 * stay in a host merely forked, its own fds among those just closed or replaced:
	 * tcmalloc's libunwind then read a pipe that was now run's socket, and hung.  Such
	 * a host is exec'd, without LD_PRELOAD. */
	const char *preload = getenv("LD_PRELOAD");
	if ((preload && *preload) || set_cmdline(argv) < 0) {
		/* An exec'd host keeps no segments: its command line is the one
		 * running.c knows, with no room for run's directory. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		size_t nenv = 0;
		while (environ[nenv])
			nenv++;
		char **envp = mmap(NULL, (nenv + 1) * sizeof(char *), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (envp == MAP_FAILED)
			_exit(127);
		execve(self, argv, prim_env_without_preload(envp, nenv + 1));
		_exit(127);
	}
	segpool_init(run_dir);
	collect_host(3);
}

struct job {
	int memfd, runfd;
	pid_t pid;
	char dir[PATH_MAX];
	struct job *next;
};

/* The host's threads.  A thread whose image is done waits up to IDLE_S for the next
 * one before it ends: a tree of many short processes reuses a few threads, and each
 * thread's creation, its stack's release and its exit (a TLB flush on every CPU the
 * host runs on) are paid once, not per image. */
#define IDLE_S 2
/* Their stacks.  The default, RLIMIT_STACK's 8 MiB, made twelve images at once under
 * ulimit -v 100000 fill the limit with stacks, and their segments failed to map.  A
 * collector needs less than 1 MiB: symbolizing libpython's DWARF with libdw took
 * more than 128 KiB and less than 256 KiB (one function of libdw reserves a frame of
 * 150 KiB). */
#define HOST_THREAD_STACK (1024u << 10)
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static struct job *queue_head, **queue_tail = &queue_head;
static unsigned threads, idle, busy;

static void *pool_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += IDLE_S;
		idle++;
		while (!queue_head &&
		       pthread_cond_timedwait(&pool_work, &pool_lock, &until) != ETIMEDOUT)
			;
		idle--;
		struct job *j = queue_head;
		if (!j)
			break;
		if (!(queue_head = j->next))
			queue_tail = &queue_head;
		busy++;
		pthread_mutex_unlock(&pool_lock);
		collect_image(j->memfd, j->pid, j->dir, j->runfd, true);
		prctl(PR_SET_NAME, "hs idle");
		free(j);
		pthread_mutex_lock(&pool_lock);
		busy--;
		pthread_cond_broadcast(&pool_done);
	}
	threads--;
	pthread_cond_broadcast(&pool_done);
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

unsigned collect_max_turns(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	const char *want = getenv("HEAPSNAP_SYMBOLIZERS");
	char *end;
	long w = want ? strtol(want, &end, 10) : 0;
	if (want && !*end && w >= 1 && w <= 4096)
		n = w;
	return n > 0 ? (unsigned)n : 1;
}

/* The host's turns: its threads would otherwise each ask run, a round trip through
 * run's poll loop (two context switches and four system calls) for every image. */
static sem_t turns;

bool collect_turn_take(int timeout_ms)
{
	uint64_t at = prim_now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
	struct timespec until = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
	while (sem_clockwait(&turns, CLOCK_MONOTONIC, &until) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

void collect_turn_give(void)
{
	sem_post(&turns);
}

/* Queues a job, starting a thread when none is idle.  Returns 0, or -1 when no thread
 * can take it. */
static int pool_submit(struct job *j, const pthread_attr_t *attr)
{
	pthread_mutex_lock(&pool_lock);
	j->next = NULL;
	*queue_tail = j;
	queue_tail = &j->next;
	int r = 0;
	pthread_t t;
	unsigned queued = 0;
	for (struct job *q = queue_head; q; q = q->next)
		queued++;
	if (queued > idle) {
		if (pthread_create(&t, attr, pool_thread, NULL) == 0) {
			threads++;
		} else if (!threads) {
			queue_head = NULL; /* j was alone in the queue: nobody will take it */
			queue_tail = &queue_head;
			r = -1;
		}
	}
	if (r == 0)
		pthread_cond_signal(&pool_work);
	pthread_mutex_unlock(&pool_lock);
	return r;
}

void collect_refuse(int memfd)
{
	struct hs_ctl *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ctl == MAP_FAILED)
		return;
	atomic_store(&ctl->collector_state, HS_COLLECTOR_DONE);
	munmap(ctl, sizeof(*ctl));
}

/* Receives one image: "PID\tDIR" with its memfd and run connection.  Returns 1 with a
 * job, 0 for a packet that made no sense (its fds closed), -1 at the end. */
static int receive_job(int sock, struct job *j)
{
	char msg[PATH_MAX + 32];
	int fds[RUNLINK_FDS_MAX], nfds;
	ssize_t len = runlink_recv_fds(sock, msg, sizeof(msg), fds, &nfds, 0);
	if (len < 0 && errno == EINTR)
		return 0;
	if (len <= 0)
		return -1;
	char *tab = strchr(msg, '\t'), *end;
	long pid = strtol(msg, &end, 10);
	if (nfds != 2 || !tab || end != tab || pid <= 0 || pid > INT32_MAX || tab[1] != '/') {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return 0;
	}
	*j = (struct job){ .memfd = fds[0], .runfd = fds[1], .pid = (pid_t)pid };
	snprintf(j->dir, sizeof(j->dir), "%s", tab + 1);
	return 1;
}

void collect_ignore_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_IGN);
}

_Noreturn void collect_host(int sock)
{
	/* Blocks up to 8 MiB come from malloc's arenas, which keep what they are given
	 * back: the next image's collector reuses it, instead of mapping and unmapping
	 * (each unmap is a TLB flush on every CPU the host's threads ran on).  One arena
	 * for all the threads: an image's collector runs in whichever thread is free, and
	 * with an arena each it reused only memory its own thread had touched.  A fresh
	 * page costs 5-10 us here (a fault, or the hypervisor's first touch of a page
	 * mapped ahead): a make of 30 files went from 1.51x to 1.48x.  The threads spend
	 * most of their time waiting on their rings, and only as many as the host's turns
	 * (collect_turn_take()) symbolize at once, so the arena's lock is rarely contended. */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_ARENA_MAX, 1);
	sem_init(&turns, 0, collect_max_turns());
	/* Image after image loads the same cache entries: a pyenv python start is 80
	 * images, each with bash's and libc's entries to read, check and parse. */
	symcache_share_tables();
	signal(SIGINT, SIG_IGN); /* the terminal's Ctrl-C must not cost the exit files */
	signal(SIGHUP, SIG_IGN);
	collect_ignore_signals();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char ready[32];
	int n = snprintf(ready, sizeof(ready), "ready\t%d", (int)getpid());
	send(sock, ready, (size_t)n, MSG_NOSIGNAL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, HOST_THREAD_STACK);
	for (;;) {
		struct job j;
		int got = receive_job(sock, &j);
		if (got < 0)
			break;
		if (!got)
			continue;
		struct job *copy = malloc(sizeof(*copy));
		if (copy)
			*copy = j;
		if (!copy || pool_submit(copy, &attr) < 0) {
			collect_refuse(j.memfd);
			close(j.memfd);
			close(j.runfd);
			free(copy);
		}
	}
	/* Run has let go: every image it passed on is here; the host ends with its last,
	 * and idle threads go at once.  No segment is kept for an image to come. */
	pthread_mutex_lock(&pool_lock);
	while (queue_head || busy)
		pthread_cond_wait(&pool_done, &pool_lock);
	pthread_mutex_unlock(&pool_lock);
	segpool_close();
	_exit(0);
}

int collect_host_send(int sock, int memfd, int runfd, pid_t pid, const char *dir)
{
	char msg[PATH_MAX + 32];
	int n = snprintf(msg, sizeof(msg), "%d\t%s", (int)pid, dir);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -ENAMETOOLONG;
	struct iovec iov = { .iov_base = msg, .iov_len = (size_t)n };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctrl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = { memfd, runfd };
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == n ? 0 : -errno;
}

pid_t collect_host_ready(int sock, int timeout_ms)
{
	char msg[32];
	/* Run forwards signals with a handler: one that comes while the host starts (a
	 * snapshot signal right after the program's first image) must not make run give
	 * the host up and refuse the image. */
	if (!runlink_readable(sock, prim_now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u))
		return -1;
	ssize_t len = recv(sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (len <= 6)
		return -1;
	msg[len] = '\0';
	char *end;
	long pid = strtol(msg + 6, &end, 10);
	return strncmp(msg, "ready\t", 6) || *end || pid <= 0 ? -1 : (pid_t)pid;
}
