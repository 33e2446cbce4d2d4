/* attachee.c - a program that heapsnap attach finds already running.
 *
 * Allocates before anything else (the line marked before; never freed), starts ATTACHEE_THREADS
 * threads (default 0) that allocate and free without a pause until told to stop, says
 * "ready PID", then waits for the test's "go" the way ATTACHEE_WAIT says:
 *   read       blocked in read(2) on stdin (the default)
 *   nanosleep  sleeping in nanosleep(2), looking for the file ATTACHEE_GO between naps
 *   futex      in pthread_cond_wait(), woken by a child process that reads stdin
 *   busy       spinning in its own code, looking for the file ATTACHEE_GO now and then
 *   poll       in one poll(2) of stdin with a minute's timeout, then reading it
 * Then it allocates the known pattern (marked after: 100 blocks of 1000 bytes, kept;
 * after_freed: 50 blocks of 300 bytes freed again; after_pointer: 10 blocks of 700
 * through a function pointer), frees half the blocks of
 * before, stops its threads, prints "allocated N", and waits once more (always
 * reading stdin) for "again": then it allocates after_detach (10 blocks of 500),
 * prints "done" and exits 0.
 *
 * With ATTACHEE_CHILDREN set, after "allocated N" it asks what SIGUSR2's action is, forks
 * a child that allocates child_exec and execs /bin/true and one that allocates
 * child_exit and calls _exit(3), waits for both, and prints "children A B usr2-default"
 * (or usr2-taken when the action it was told is not the default).
 *
 * With ATTACHEE_USER=UID (run as root), it first becomes that user and group, with no
 * supplementary groups, and stays dumpable (so /proc and ptrace see it as usual).
 *
 * With ATTACHEE_USR2 set, it handles SIGUSR2 itself from the start (a handler that
 * counts), and prints "usr2 N" with the count before "done".
 *
 * With ATTACHEE_TIMER set, a SIGALRM handler (SA_RESTART) ticks every millisecond
 * throughout, and the program exits 6 if the ticks stopped after the attach.
 * With ATTACHEE_PLUGIN set, it also dlopens that library after "go" and calls its
 * plugin_alloc() (a block kept).
 *
 * It lets any process of its user trace it (Yama's ptrace_scope 1 allows only
 * ancestors otherwise).  With arguments, it only does that and execs them: a real
 * program (jq) that heapsnap attach may then trace.
 */
#ifndef ATTACHEE_STATIC
#include <dlfcn.h>
#endif
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *before[64];
static void *after[100];
static void *later[10];
static void *through_pointer[10];
static void *(*volatile alloc_fn)(size_t);
void *plugin_block; /* kept: the plugin's block stays live */
static atomic_int stop;
static atomic_long churned;
static volatile unsigned long spin;
static volatile sig_atomic_t ticks;

static volatile sig_atomic_t usr2s;

static void on_usr2(int sig)
{
	(void)sig;
	usr2s++;
}

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

/* A SIGALRM every millisecond, handled with SA_RESTART. */
static void start_ticking(void)
{
	struct sigaction sa = { .sa_handler = on_tick, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Whether the ticks go on: a few within half a second of spinning. */
static bool still_ticking(void)
{
	sig_atomic_t from = ticks;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while (ticks < from + 5 && (now.tv_sec - t0.tv_sec) * 1000000000L +
				   (now.tv_nsec - t0.tv_nsec) < 500000000L);
	return ticks >= from + 5;
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg;
	void *held[16] = { 0 };
	while (!atomic_load(&stop)) {
		unsigned i = (seed = seed * 1103515245 + 12345) >> 16;
		free(held[i % 16]);
		held[i % 16] = malloc(16 + i % 4000); /* site:churn */
		atomic_fetch_add(&churned, 1);
	}
	for (int i = 0; i < 16; i++)
		free(held[i]);
	return NULL;
}

static void *child_block;

/* See ATTACHEE_CHILDREN above. */
static void children(void)
{
	struct sigaction old;
	sigaction(SIGUSR2, NULL, &old);
	pid_t a = fork();
	if (a == 0) {
		child_block = malloc(400); /* site:child_exec */
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	pid_t b = fork();
	if (b == 0) {
		child_block = malloc(600); /* site:child_exit */
		_exit(3);
	}
	int sa = 0, sb = 0;
	if (a < 0 || b < 0 || waitpid(a, &sa, 0) != a || waitpid(b, &sb, 0) != b ||
	    !WIFEXITED(sa) || WEXITSTATUS(sa) != 0 || !WIFEXITED(sb) || WEXITSTATUS(sb) != 3)
		exit(7);
	printf("children %d %d %s\n", (int)a, (int)b,
	       !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL ? "usr2-default"
									: "usr2-taken");
	fflush(stdout);
}

static void read_line(const char *want)
{
	char line[64];
	if (!fgets(line, sizeof(line), stdin) || strncmp(line, want, strlen(want)))
		exit(3);
}

static void wait_file(const char *path, bool sleep_between)
{
	for (;;) {
		if (access(path, F_OK) == 0)
			return;
		if (sleep_between) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		} else {
			for (unsigned long i = 0; i < 2000000; i++)
				spin += i;
		}
	}
}

/* One poll with a timeout: once interrupted, the kernel resumes it as restart_syscall. */
static void wait_poll(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	if (poll(&p, 1, 60 * 1000) != 1)
		exit(4);
	read_line("go");
}

/* The futex wait: this process's only thread in pthread_cond_wait, signalled from a
 * child process through a process-shared condition variable. */
static void wait_futex(void)
{
	struct shared {
		pthread_mutex_t m;
		pthread_cond_t c;
		int go;
	} *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		exit(4);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->m, &ma);
	pthread_cond_init(&s->c, &ca);
	pid_t child = fork();
	if (child == 0) {
		read_line("go");
		pthread_mutex_lock(&s->m);
		s->go = 1;
		pthread_cond_signal(&s->c);
		pthread_mutex_unlock(&s->m);
		_exit(0);
	}
	pthread_mutex_lock(&s->m);
	while (!s->go)
		pthread_cond_wait(&s->c, &s->m);
	pthread_mutex_unlock(&s->m);
	waitpid(child, NULL, 0);
}

int main(int argc, char **argv)
{
#ifdef PR_SET_PTRACER
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* EINVAL without Yama: fine */
#endif
	if (argc > 1) {
		execvp(argv[1], argv + 1);
		return 127;
	}
	const char *user = getenv("ATTACHEE_USER");
	if (user) {
		uid_t uid = (uid_t)atoi(user);
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
			return 8;
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	}
	bool usr2 = getenv("ATTACHEE_USR2") != NULL;
	if (usr2) {
		struct sigaction sa = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
	}
	for (int i = 0; i < 64; i++)
		before[i] = malloc(200); /* site:before */
	const char *t = getenv("ATTACHEE_THREADS");
	int nthreads = t ? atoi(t) : 0;
	pthread_t th[16];
	for (int i = 0; i < nthreads && i < 16; i++)
		pthread_create(&th[i], NULL, churn, (void *)(size_t)(i + 1));
	bool timer = getenv("ATTACHEE_TIMER") != NULL;
	if (timer)
		start_ticking();
	printf("ready %d\n", (int)getpid());
	fflush(stdout);

	const char *how = getenv("ATTACHEE_WAIT");
	const char *go = getenv("ATTACHEE_GO");
	if (!how || !strcmp(how, "read"))
		read_line("go");
	else if (!strcmp(how, "nanosleep"))
		wait_file(go, true);
	else if (!strcmp(how, "busy"))
		wait_file(go, false);
	else if (!strcmp(how, "futex"))
		wait_futex();
	else if (!strcmp(how, "poll"))
		wait_poll();
	else
		return 2;

	if (timer && !still_ticking())
		return 6;
	for (int i = 0; i < 100; i++)
		after[i] = malloc(1000); /* site:after */
	/* Through a pointer: built -no-pie, this makes the PLT entry malloc's address. */
	alloc_fn = malloc;
	for (int i = 0; i < 10; i++)
		through_pointer[i] = alloc_fn(700); /* site:after_pointer */
	for (int i = 0; i < 50; i++)
		free(malloc(300)); /* site:after_freed */
	for (int i = 0; i < 32; i++)
		free(before[i]);
#ifndef ATTACHEE_STATIC
	const char *plugin = getenv("ATTACHEE_PLUGIN");
	if (plugin) {
		void *h = dlopen(plugin, RTLD_NOW);
		void *(*f)(void) = h ? (void *(*)(void))dlsym(h, "plugin_alloc") : NULL;
		if (!f)
			return 5;
		plugin_block = f();
	}
#endif
	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads && i < 16; i++)
		pthread_join(th[i], NULL);
	printf("allocated %d\n", 100);
	fflush(stdout);
	if (getenv("ATTACHEE_CHILDREN"))
		children();

	read_line("again");
	for (int i = 0; i < 10; i++)
		later[i] = malloc(500); /* site:after_detach */
	if (usr2)
		printf("usr2 %d\n", (int)usr2s);
	printf("done\n");
	return 0;
}
