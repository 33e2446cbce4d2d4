/* retitle.c - a program that sets its process title the way chromium, nginx and
 * postgres do: it moves its environment to the heap and overwrites the strings where
 * the kernel put it (and with them every pointer into it), then forks a child that
 * allocates 64 bytes at one line.  Prints the child's exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(void)
{
	void *before = malloc(32); /* site:before_title */
	size_t n = 0;
	while (environ[n])
		n++;
	char **moved = calloc(n + 1, sizeof(*moved));
	for (size_t i = 0; i < n; i++) {
		moved[i] = strdup(environ[i]);
		memset(environ[i], 0, strlen(environ[i]));
	}
	environ = moved;
	pid_t pid = fork();
	if (pid == 0) {
		void *volatile p = malloc(64); /* site:child_after_title */
		(void)p;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	printf("child %s %d\n", WIFEXITED(st) ? "exited" : "died", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	free(before);
	return 0;
}
