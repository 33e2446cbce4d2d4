/* waiter.c - allocates, says "ready PID", then waits for SIGTERM to exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep[64];
static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

int main(void)
{
	for (int i = 0; i < 64; i++)
		keep[i] = malloc(32); /* site:before_snap */
	signal(SIGTERM, on_term);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < 3000 && !done; i++)
		usleep(10000);
	return done ? 0 : 1;
}
