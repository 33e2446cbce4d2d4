/* manymaps.c - a process with a long /proc/PID/maps that exits while it may be read.
 * usage: manymaps PAIRS MILLISECONDS
 * Splits one mapping into 2*PAIRS areas of alternating protection (maps then runs to
 * about 80 bytes a line, and a read of it takes many system calls), allocates a block,
 * waits MILLISECONDS and exits 0.  test-tree.c runs it at many delays, so that its exit
 * falls inside the collector's check of whether it has exec'd. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: manymaps PAIRS MILLISECONDS\n");
		return 2;
	}
	long pairs = atol(argv[1]), ms = atol(argv[2]), pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)(2 * pairs * pg), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("manymaps: mmap");
		return 1;
	}
	for (long i = 0; i < pairs; i++)
		if (mprotect(m + (2 * i + 1) * pg, (size_t)pg, PROT_READ) < 0) {
			perror("manymaps: mprotect");
			return 1;
		}
	char *keep = malloc(100); /* site:keep */
	struct timespec t = { ms / 1000, ms % 1000 * 1000000 };
	nanosleep(&t, NULL);
	return keep ? 0 : 1;
}
