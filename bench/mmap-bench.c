/* mmap-bench.c - the cost of the mmap domain: N rounds of an anonymous mapping that
 * is touched, has a hole punched in it, grows by mremap and is unmapped, plus a
 * thousand mappings kept live so the range table has depth. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 100000;
	long pg = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < 1000; i++)
		if (mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		    MAP_FAILED)
			return 1;
	unsigned long sum = 0;
	for (long i = 0; i < rounds; i++) {
		char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED)
			return 1;
		p[0] = (char)i;
		sum += (unsigned char)p[0];
		munmap(p + pg, pg);
		char *q = mremap(p + 2 * pg, 2 * pg, 3 * pg, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			return 1;
		munmap(p, pg);
		munmap(q, 3 * pg);
	}
	printf("%lu\n", sum);
	return 0;
}
