/* rawfork.c - a child made without the atfork handlers allocates at a marked line:
 * those blocks are the child's, in its own file, never its parent's.
 *   rawfork          the child of _Fork
 *   rawfork clone    the child of clone(fn, stack, SIGCHLD, arg), sharing no memory
 * The test finds each site marker's line in this file. */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t _Fork(void);

static void *keep[64];

static int child(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++)
		keep[i] = malloc(700); /* site:child700 */
	_exit(0);
}

int main(int argc, char **argv)
{
	for (int i = 0; i < 10; i++)
		keep[i] = malloc(100); /* site:parent100 */
	pid_t pid;
	if (argc > 1 && !strcmp(argv[1], "clone")) {
		static char stack[256 << 10];
		pid = clone(child, stack + sizeof(stack), SIGCHLD, NULL);
	} else {
		pid = _Fork();
		if (pid == 0)
			child(NULL);
	}
	if (pid < 0)
		return 2;
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 3;
	return 0;
}
