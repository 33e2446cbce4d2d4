/* awkward.c - the awkward cases, one mode each: awkward MODE [ARG].
 * Output never shows addresses, so traced and untraced runs can be compared. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *keep[64];

static void show(const char *what, const void *p, int err)
{
	printf("%s %s errno=%s\n", what, p ? "ptr" : "NULL", err ? strerrorname_np(err) : "0");
}

/* malloc(0), realloc to 0, realloc(NULL), free(NULL), odd alignments, failures. */
static int edge(void)
{
	errno = 0;
	void *z = malloc(0); /* site:malloc0 */
	show("malloc(0)", z, errno);
	errno = 0;
	void *r = realloc(NULL, 24); /* site:realloc_null */
	show("realloc(NULL,24)", r, errno);
	errno = 0;
	void *r0 = realloc(r, 0);
	show("realloc(p,0)", r0, errno);
	free(NULL);
	void *p = NULL;
	printf("posix_memalign(3) = %s\n", strerrorname_np(posix_memalign(&p, 3, 10)));
	printf("posix_memalign(64) = %d\n", posix_memalign(&p, 64, 100)); /* site:pm64 */
	free(p);
	errno = 0;
	void *a = aligned_alloc(4096, 4096 * 3); /* site:aligned4096 */
	show("aligned_alloc(4096)", a, errno);
	keep[3] = pvalloc(10); /* site:pvalloc: a whole page */
	errno = 0;
	volatile size_t odd = 24; /* not a power of two, on purpose */
	void *m = memalign(odd, 10);
	show("memalign(24)", m, errno);
	free(m);
	errno = 0;
	void *huge = malloc(SIZE_MAX / 2);
	show("malloc(huge)", huge, errno);
	errno = 0;
	volatile size_t quarter = SIZE_MAX / 4; /* not a constant: no compile-time warning */
	void *cal = calloc(quarter, 8);
	show("calloc(overflow)", cal, errno);
	errno = 0;
	void *ra = reallocarray(NULL, quarter, 8);
	show("reallocarray(overflow)", ra, errno);
	void *keepme = malloc(100); /* site:kept */
	keep[9] = keepme;
	errno = 0;
	void *rh = realloc(keepme, SIZE_MAX / 2);
	show("realloc(huge)", rh, errno);
	keep[0] = rh ? rh : keep[9]; /* the failed realloc left the block where it was */
	keep[1] = a;
	keep[2] = z;
	return 0;
}

static pthread_key_t key;

static void *thread_body(void *arg)
{
	(void)arg;
	pthread_setspecific(key, malloc(40)); /* site:tls */
	return NULL;
}

/* Threads created and exiting in a loop; each leaves a block freed by its TLS
 * destructor at exit. */
static int threads(void)
{
	pthread_key_create(&key, free);
	for (int i = 0; i < 200; i++) {
		pthread_t t;
		pthread_create(&t, NULL, thread_body, NULL);
		pthread_join(t, NULL);
	}
	printf("threads done\n");
	return 0;
}

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	keep[3] = malloc(555); /* site:in_handler */
	handled++;
}

/* An allocation from the program's own signal handler. */
static int handler(void)
{
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	printf("handled %d\n", (int)handled);
	return 0;
}

static void on_usr2(int sig)
{
	(void)sig;
	handled++;
}

/* The program takes the snapshot signal for itself. */
static int own_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr2 };
	struct sigaction old;
	sigaction(SIGUSR2, NULL, &old);
	printf("before: %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	raise(SIGUSR2);
	printf("own handler ran %d times\n", (int)handled);
	return 0;
}

/* Closes every fd above 2, clears the environment, and goes on allocating. */
static int closefds(void)
{
	syscall(SYS_close_range, 3, ~0u, 0);
	clearenv();
	for (int i = 0; i < 50; i++)
		keep[4] = malloc(77); /* site:after_close */
	printf("still here\n");
	return 0;
}

/* A library that allocates, then is unloaded: its frames must still symbolize. */
static int plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	void *(*alloc)(void) = (void *(*)(void))dlsym(h, "plugin_alloc");
	keep[5] = alloc();
	dlclose(h);
	keep[6] = malloc(9); /* site:after_dlclose */
	/* PLUGIN_FIFO: a FIFO now stands where the library was, for the collector to meet
	 * when it symbolizes at exit. */
	if (getenv("PLUGIN_FIFO") && (unlink(path) < 0 || mkfifo(path, 0600) < 0))
		return 1;
	printf("plugin done\n");
	return 0;
}

/* vfork + exec and posix_spawn: children that exec at once. */
static int spawn(void)
{
	keep[7] = malloc(111); /* site:spawner */
	pid_t v = vfork();
	if (v == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(v, &st, 0);
	printf("vfork child %d\n", WEXITSTATUS(st));
	pid_t s;
	char *argv[] = { "true", NULL };
	posix_spawn(&s, "/bin/true", NULL, NULL, argv, environ);
	waitpid(s, &st, 0);
	printf("posix_spawn child %d\n", WEXITSTATUS(st));
	return 0;
}

/* Double fork and setsid: the daemon is traced on its own. */
static int daemonize(void)
{
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return 1;
	pid_t a = fork();
	if (a == 0) {
		setsid();
		if (fork() == 0) {
			keep[8] = malloc(888); /* site:daemon */
			dprintf(pipefd[1], "%d\n", (int)getpid());
			_exit(0);
		}
		_exit(0);
	}
	close(pipefd[1]);
	waitpid(a, NULL, 0);
	char buf[32] = "";
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	printf("daemon %s", buf);
	return 0;
}

/* Which allocator is underneath: heapsnap wraps whatever malloc comes next. */
static int allocator(void)
{
	const char *name = dlsym(RTLD_DEFAULT, "mallctl")     ? "jemalloc"
			   : dlsym(RTLD_DEFAULT, "tc_malloc") ? "tcmalloc"
							      : "glibc";
	for (int i = 0; i < 10; i++)
		keep[10 + i] = malloc(1000 + (size_t)i); /* site:under_allocator */
	for (int i = 0; i < 10; i += 2)
		free(keep[10 + i]);
	printf("allocator %s\n", name);
	return 0;
}

/* Exec of a static binary: the new image cannot be traced, and is left alone. */
static int exec_static(const char *path)
{
	keep[20] = malloc(222); /* site:before_static */
	fflush(stdout);
	execl(path, path, "--version", (char *)NULL);
	perror("execl");
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "edge"))
		return edge();
	if (!strcmp(mode, "threads"))
		return threads();
	if (!strcmp(mode, "handler"))
		return handler();
	if (!strcmp(mode, "own-signal"))
		return own_signal();
	if (!strcmp(mode, "closefds"))
		return closefds();
	if (!strcmp(mode, "plugin") && argc > 2)
		return plugin(argv[2]);
	if (!strcmp(mode, "spawn"))
		return spawn();
	if (!strcmp(mode, "daemon"))
		return daemonize();
	if (!strcmp(mode, "allocator"))
		return allocator();
	if (!strcmp(mode, "exec-static") && argc > 2)
		return exec_static(argv[2]);
	fprintf(stderr, "usage: awkward edge|threads|handler|own-signal|closefds|"
			"plugin LIB|spawn|daemon|allocator|exec-static PATH\n");
	return 2;
}
