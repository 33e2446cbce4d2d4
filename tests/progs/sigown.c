/* sigown.c - a program that takes SIGUSR2 for its own without sigaction() or signal():
 *   sigown sysv     through sysv_signal() (what signal() is under strict ISO C)
 *   sigown sigset   through sigset(), which the shim does not wrap
 * then asks sigaction() what SIGUSR2's action is, raises it, and prints "own" or
 * "other" (what it was told) and how many times its handler ran: natively "own 1".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t handled;
static void *keep;

static void on_usr2(int sig)
{
	(void)sig;
	handled++;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void take_with_sigset(void)
{
	sigset(SIGUSR2, on_usr2);
}
#pragma GCC diagnostic pop

int main(int argc, char **argv)
{
	keep = malloc(100); /* site:before */
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "sysv"))
		sysv_signal(SIGUSR2, on_usr2);
	else if (!strcmp(argv[1], "sigset"))
		take_with_sigset();
	else
		return 2;
	struct sigaction now;
	if (sigaction(SIGUSR2, NULL, &now) < 0)
		return 3;
	raise(SIGUSR2);
	printf("%s %d\n", now.sa_handler == on_usr2 ? "own" : "other", (int)handled);
	return 0;
}
