/* killed.c - allocates, then dies of SIGKILL without any exit path running. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void *keep[100];

int main(void)
{
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(64); /* site:before_kill */
	printf("about to die\n");
	fflush(stdout);
	raise(SIGKILL);
	return 0;
}
