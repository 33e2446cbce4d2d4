/* waiter.c - allocates, says "ready PID", then waits for SIGTERM to exit 0.  With
 * WAITER_OWN_USR2 set it handles SIGUSR2 itself and says at the end how often. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep[64];
static volatile sig_atomic_t done, usr2;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2++;
}

int main(void)
{
	if (getenv("WAITER_OWN_USR2"))
		signal(SIGUSR2, on_usr2);
	for (int i = 0; i < 64; i++)
		keep[i] = malloc(32); /* site:before_snap */
	signal(SIGTERM, on_term);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < 3000 && !done; i++)
		usleep(10000);
	if (getenv("WAITER_OWN_USR2"))
		printf("usr2 %d\n", (int)usr2);
	return done ? 0 : 1;
}
