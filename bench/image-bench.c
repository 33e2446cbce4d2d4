/* image-bench.c - what one traced process image costs, without a shell around it.
 *
 * usage: image-bench spawn N PROGRAM [ARGS...]   N posix_spawns of PROGRAM, one at a time
 *        image-bench fork N                      N forked children that malloc once and _exit
 *
 * The parent first allocates 2,000 blocks, so a forked child inherits a heap.  Each
 * child is waited for before the next starts.  Prints the wall time per image and the
 * children's CPU time per image (user + system, RUSAGE_CHILDREN); hsbench times the
 * whole run, the collectors included.
 */
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double ms_of(struct timeval t)
{
	return t.tv_sec * 1e3 + t.tv_usec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "spawn") && strcmp(argv[1], "fork")) ||
	    (!strcmp(argv[1], "spawn") && argc < 4)) {
		fprintf(stderr, "usage: image-bench spawn N PROGRAM [ARGS...] | fork N\n");
		return 2;
	}
	int n = atoi(argv[2]);
	bool spawn = !strcmp(argv[1], "spawn");
	static void *heap[2000];
	for (int i = 0; i < 2000; i++)
		heap[i] = malloc(100 + (size_t)i);
	struct rusage r0, r1;
	struct timespec a, b;
	getrusage(RUSAGE_CHILDREN, &r0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		pid_t pid;
		if (spawn) {
			if (posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) {
				perror("image-bench: posix_spawn");
				return 1;
			}
		} else if ((pid = fork()) == 0) {
			void *volatile p = malloc(16);
			free(p);
			_exit(0);
		} else if (pid < 0) {
			perror("image-bench: fork");
			return 1;
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "image-bench: child %d failed\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	getrusage(RUSAGE_CHILDREN, &r1);
	double wall = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	double cpu = ms_of(r1.ru_utime) - ms_of(r0.ru_utime) + ms_of(r1.ru_stime) -
		     ms_of(r0.ru_stime);
	printf("%s: %.3f ms an image, children's CPU %.3f ms an image\n", argv[1], wall / n,
	       cpu / n);
	return heap[1999] == NULL;
}
