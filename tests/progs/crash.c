/* crash.c - allocates, then dies of SIGSEGV. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static void *keep[4];

int main(void)
{
	struct rlimit none = { 0, 0 };
	setrlimit(RLIMIT_CORE, &none); /* no core file in the test directory */
	keep[0] = malloc(4242); /* site:before_crash */
	fflush(stdout);
	raise(SIGSEGV);
	return 0;
}
