/* snapshot-bench.c - how long a snapshot of 100,000 unique stacks takes.
 *
 * usage: snapshot-bench SHIM HEAPSNAP [RUNS [STACKS]]   (defaults: 3 runs, 100000)
 *
 * Re-executes itself with the shim preloaded (in a child subreaper's tree), and the
 * traced copy allocates one block from each of STACKS unique call stacks: a recursion
 * nine levels deep whose call site at each level is picked by one base-4 digit of i.  It then raises the snapshot signal and measures how long
 * until heapsnap.PID.1.pb.gz appears (the collector drains what is left of the ring,
 * symbolizes and writes).  The parent also measures the exit snapshot: from the traced
 * program's end until the collector has exited.  Prints the medians.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 9
#define NOINLINE __attribute__((noinline))

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One frame per level: f0..f3 each call the function named by the next base-4 digit
 * of i, so each frame's return address (function k, call site j) spells a digit and
 * every i below 4^DEPTH has its own stack (DEPTH + 6 frames with traced(), main and
 * libc's start, within the default 16). */
static void *f0(unsigned i, int level);
static void *f1(unsigned i, int level);
static void *f2(unsigned i, int level);
static void *f3(unsigned i, int level);

#define LEVEL(name)                                                \
	static NOINLINE void *name(unsigned i, int level)          \
	{                                                          \
		void *p;                                           \
		if (level == DEPTH)                                \
			p = malloc(32);                            \
		else                                               \
			switch (i & 3) {                           \
			case 0: p = f0(i >> 2, level + 1); break;  \
			case 1: p = f1(i >> 2, level + 1); break;  \
			case 2: p = f2(i >> 2, level + 1); break;  \
			default: p = f3(i >> 2, level + 1); break; \
			}                                          \
		__asm__ volatile("" ::: "memory");                 \
		return p;                                          \
	}
LEVEL(f0)
LEVEL(f1)
LEVEL(f2)
LEVEL(f3)

/* The traced side: allocate, request a snapshot, wait for its file. */
static int traced(unsigned stacks)
{
	const char *dir = getenv("HEAPSNAP_DIR");
	void **keep = malloc(stacks * sizeof(*keep));
	double t0 = now_s();
	for (unsigned i = 0; i < stacks; i++)
		keep[i] = f0(i, 0);
	double t1 = now_s();
	char path[4096];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.1.pb.gz", dir, (int)getpid());
	raise(SIGUSR2);
	struct stat st;
	while (stat(path, &st) < 0) {
		struct timespec ts = { 0, 200 * 1000 };
		nanosleep(&ts, NULL);
		if (now_s() - t1 > 60) {
			fprintf(stderr, "snapshot-bench: no snapshot after 60 s\n");
			return 1;
		}
	}
	double t2 = now_s();
	printf("%.4f %.4f %lld\n", t1 - t0, t2 - t1, (long long)st.st_size);
	for (unsigned i = 0; i < stacks; i++)
		free(keep[i]);
	free(keep);
	return 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--traced"))
		return traced(argc > 2 ? (unsigned)atoi(argv[2]) : 100000);
	if (argc < 3) {
		fprintf(stderr, "usage: snapshot-bench SHIM HEAPSNAP [RUNS [STACKS]]\n");
		return 2;
	}
	int runs = argc > 3 ? atoi(argv[3]) : 3;
	const char *stacks = argc > 4 ? argv[4] : "100000";
	if (runs < 1 || runs > 32)
		runs = 3;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	double alloc[32], snap[32], tail[32];
	long size = 0, coll_rss = 0;
	for (int r = 0; r < runs; r++) {
		char dir[] = "/tmp/hsbench-snap.XXXXXX";
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		int fds[2];
		if (pipe(fds) < 0)
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fds[1], 1);
			setenv("LD_PRELOAD", argv[1], 1);
			setenv("HEAPSNAP_COLLECTOR", argv[2], 1);
			setenv("HEAPSNAP_DIR", dir, 1);
			execl("/proc/self/exe", argv[0], "--traced", stacks, (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		char buf[256] = "";
		ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		double t_prog = 0, t_last = 0;
		int st, ok = 0;
		struct rusage ru;
		pid_t w;
		while ((w = wait4(-1, &st, __WALL, &ru)) > 0) {
			t_last = now_s();
			if (w == pid) {
				t_prog = t_last;
				ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			} else if (ru.ru_maxrss > coll_rss) {
				coll_rss = ru.ru_maxrss;
			}
		}
		rm_dir(dir);
		if (!ok || sscanf(buf, "%lf %lf %ld", &alloc[r], &snap[r], &size) != 3) {
			fprintf(stderr, "snapshot-bench: the traced run failed\n");
			return 1;
		}
		tail[r] = t_last - t_prog;
	}
	qsort(alloc, (size_t)runs, sizeof(double), cmp);
	qsort(snap, (size_t)runs, sizeof(double), cmp);
	qsort(tail, (size_t)runs, sizeof(double), cmp);
	printf("\n== snapshot of %s unique stacks: median of %d runs ==\n", stacks, runs);
	printf("allocating (one new stack each):  %.3f s\n", alloc[runs / 2]);
	printf("signal snapshot, raise to file:   %.3f s (%ld bytes)\n", snap[runs / 2], size);
	printf("exit snapshot, exit to collector gone: %.3f s\n", tail[runs / 2]);
	printf("collector peak RSS: %.1f MiB\n", (double)coll_rss / 1024.0);
	printf("target: snapshot in under 1 s: %s (%.3f s)\n", snap[runs / 2] < 1.0 ? "met" : "MISSED",
	       snap[runs / 2]);
	return 0;
}
