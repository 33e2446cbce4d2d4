/* stepper.c - allocates and frees on command, for tests that drive tracing from outside.
 *
 * Says "ready PID", then reads one command a line from stdin and answers "ok" once it
 * is done: "a N" allocates N blocks of 100 bytes (site a), "b N" N blocks of 1000 bytes
 * (site b), "r N" reallocates the newest N blocks of site a to 200 bytes, "fa" and "fb"
 * free every block of a site, "s BYTES N" allocates N blocks of BYTES at site s and
 * frees them at once, "q" (or end of input) exits 0.  With STEPPER_OWN_USR2 set it
 * handles SIGUSR2 itself and says at the end how often: "usr2 N". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX 100000

static void *as[MAX], *bs[MAX];
static int na, nb;
static volatile sig_atomic_t usr2;

static void on_usr2(int sig)
{
	(void)sig;
	usr2++;
}

static void step(const char *cmd, long n, long m)
{
	if (!strcmp(cmd, "a"))
		for (long i = 0; i < n && na < MAX; i++)
			as[na++] = malloc(100); /* site:step_a */
	else if (!strcmp(cmd, "b"))
		for (long i = 0; i < n && nb < MAX; i++)
			bs[nb++] = malloc(1000); /* site:step_b */
	else if (!strcmp(cmd, "r"))
		for (long i = 0; i < n && i < na; i++)
			as[na - 1 - i] = realloc(as[na - 1 - i], 200); /* site:step_r */
	else if (!strcmp(cmd, "fa"))
		while (na > 0)
			free(as[--na]);
	else if (!strcmp(cmd, "fb"))
		while (nb > 0)
			free(bs[--nb]);
	else if (!strcmp(cmd, "s"))
		for (long i = 0; i < m; i++)
			free(malloc((size_t)n)); /* site:step_s */
}

int main(void)
{
	if (getenv("STEPPER_OWN_USR2"))
		signal(SIGUSR2, on_usr2);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[128], cmd[8];
	while (fgets(line, sizeof(line), stdin)) {
		long n = 0, m = 0;
		if (sscanf(line, "%7s %ld %ld", cmd, &n, &m) < 1 || !strcmp(cmd, "q"))
			break;
		step(cmd, n, m);
		printf("ok\n");
		fflush(stdout);
	}
	if (getenv("STEPPER_OWN_USR2"))
		printf("usr2 %d\n", (int)usr2);
	return 0;
}
