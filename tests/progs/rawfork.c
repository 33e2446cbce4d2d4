/* rawfork.c - a child made by _Fork, which runs no atfork handler, allocates at a
 * marked line: those blocks are the child's, in its own file, never its parent's.
 * The test finds each site marker's line in this file. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t _Fork(void);

static void *keep[64];

int main(void)
{
	for (int i = 0; i < 10; i++)
		keep[i] = malloc(100); /* site:parent100 */
	pid_t pid = _Fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		for (int i = 0; i < 64; i++)
			keep[i] = malloc(700); /* site:child700 */
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 3;
	return 0;
}
