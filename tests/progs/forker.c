/* forker.c - fork without exec: the child is traced on its own. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	void *before = malloc(1000); /* site:parent_before */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		void *c = malloc(2000); /* site:child */
		free(before);
		printf("child %d\n", (int)getpid());
		(void)c;
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	void *after = malloc(3000); /* site:parent_after */
	printf("parent %d\n", (int)getpid());
	(void)after;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
