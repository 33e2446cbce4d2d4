/* sigmask.c - the program's own signal masks while the shim unwinds.
 *
 * The shim makes libunwind's sigprocmask calls no-ops while it unwinds (preload/
 * unwind.c); the program's own calls must keep working, main code and signal
 * handlers alike, even a handler that interrupts an unwind.  A SIGALRM every 50 us
 * interrupts a loop that allocates from ROUNDS distinct call paths (each new path
 * sends the shim through libunwind); the handler blocks SIGUSR1, raises it, checks it
 * is pending and not delivered, and unblocks it, when it is delivered.  Prints
 * "violations 0" when every mask held, then the number of blocks allocated.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define ROUNDS 4000

static volatile sig_atomic_t blocked_now, violations, delivered, alarms;

static void on_usr1(int sig)
{
	(void)sig;
	if (blocked_now)
		violations++;
	delivered++;
}

static void on_alarm(int sig)
{
	(void)sig;
	sigset_t usr1, pending;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	long before = delivered;
	if (sigprocmask(SIG_BLOCK, &usr1, NULL) != 0)
		violations++;
	blocked_now = 1;
	raise(SIGUSR1);
	if (sigpending(&pending) != 0 || !sigismember(&pending, SIGUSR1))
		violations++;
	blocked_now = 0;
	if (sigprocmask(SIG_UNBLOCK, &usr1, NULL) != 0 || delivered != before + 1)
		violations++;
	alarms++;
}

typedef void *(*step_fn)(unsigned, unsigned);
static void *step_a(unsigned depth, unsigned path);
static void *step_b(unsigned depth, unsigned path);

/* Allocates at the end of a call path of 12 levels chosen by the bits of path. */
static void *step_a(unsigned depth, unsigned path)
{
	if (!depth)
		return malloc(32); /* site:leaf_a */
	step_fn next = path & 1 ? step_b : step_a;
	return next(depth - 1, path >> 1);
}

static void *step_b(unsigned depth, unsigned path)
{
	if (!depth)
		return malloc(32); /* site:leaf_b */
	step_fn next = path & 1 ? step_a : step_b;
	return next(depth - 1, path >> 1);
}

int main(void)
{
	signal(SIGUSR1, on_usr1);
	signal(SIGALRM, on_alarm);
	/* The main code's own mask first. */
	sigset_t usr1, pending;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	blocked_now = 1;
	raise(SIGUSR1);
	sigpending(&pending);
	if (!sigismember(&pending, SIGUSR1))
		violations++;
	blocked_now = 0;
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);

	struct itimerval every = { { 0, 50 }, { 0, 50 } };
	setitimer(ITIMER_REAL, &every, NULL);
	long blocks = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		free(step_a(12, i));
		blocks++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("violations %d\n", (int)violations);
	printf("blocks %ld\n", blocks);
	fprintf(stderr, "alarms %d\n", (int)alarms);
	return violations != 0;
}
