/* aslimit.c - a program under an address-space limit (RLIMIT_AS) it fits in natively.
 *
 * Sets its limit to 200 MiB and executes itself again under it (the shim sets up in
 * the new image, with the limit in place); there it allocates and touches 150 MiB at
 * one line and prints whether it could.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LIMIT (200ul << 20)
#define BLOCK (150ul << 20)

int main(int argc, char **argv)
{
	if (argc < 2) {
		struct rlimit rl = { LIMIT, LIMIT };
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return 2;
		char *again[] = { argv[0], "limited", NULL };
		execv("/proc/self/exe", again);
		return 3;
	}
	char *block = malloc(BLOCK); /* site:under_the_limit */
	if (!block) {
		printf("out of memory under the limit\n");
		return 1;
	}
	memset(block, 1, BLOCK);
	printf("allocated 150 MiB under a 200 MiB limit\n");
	free(block);
	return 0;
}
