/* forker.c - fork without exec: the child is traced on its own.  forker _exit: the
 * child ends with _exit(3), as shell children do; the parent then vforks a child that
 * ends with _exit(9) at once, and execs sh -c 'exit 3'.  forker orphan MS: the parent
 * ends at once, and its child first allocates MS milliseconds later.  forker signals: a
 * forked child puts a handler on SIGUSR2 before its first allocation, a vfork child
 * sets it back to the default before it ends, and the parent raises it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr2(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "_exit");
	void *before = malloc(1000); /* site:parent_before */
	if (argc > 1 && !strcmp(argv[1], "signals")) {
		pid_t c = fork();
		if (c == 0) {
			signal(SIGUSR2, on_usr2);
			void *late = malloc(100); /* site:child_signal */
			(void)late;
			_exit(0);
		}
		waitpid(c, NULL, 0);
		pid_t v = vfork();
		if (v == 0) {
			signal(SIGUSR2, SIG_DFL);
			_exit(0);
		}
		waitpid(v, NULL, 0);
		raise(SIGUSR2); /* heapsnap's still: a snapshot */
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "orphan")) {
		if (fork() == 0) {
			usleep((useconds_t)atoi(argv[2]) * 1000);
			void *late = malloc(4000); /* site:orphan */
			(void)late;
		}
		return 0;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		void *c = malloc(2000); /* site:child */
		free(before);
		printf("child %d\n", (int)getpid());
		(void)c;
		if (quick) {
			fflush(stdout);
			_exit(3);
		}
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (quick) {
		pid_t v = vfork();
		if (v == 0)
			_exit(9);
		int vst;
		waitpid(v, &vst, 0);
	}
	void *after = malloc(3000); /* site:parent_after */
	printf("parent %d\n", (int)getpid());
	(void)after;
	if (quick) {
		fflush(stdout);
		execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
		return 127;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
