/* soaker.c - allocates and frees at full speed for SECONDS (default 300) from 64 call
 * sites, with a bounded working set, says "ready PID" first and "soaked N" at the end.
 * SECONDS may also come from SOAKER_SECONDS. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SET 8192

typedef void *(*site_fn)(size_t);

/* 64 distinct call sites: one function per site, picked by index. */
#define SITE(n) \
	__attribute__((noinline)) static void *site##n(size_t size) { return malloc(size); }
#define SITES8(a) SITE(a##0) SITE(a##1) SITE(a##2) SITE(a##3) SITE(a##4) SITE(a##5) SITE(a##6) SITE(a##7)
SITES8(1) SITES8(2) SITES8(3) SITES8(4) SITES8(5) SITES8(6) SITES8(7) SITES8(8)
#define REF8(a) site##a##0, site##a##1, site##a##2, site##a##3, site##a##4, site##a##5, \
		site##a##6, site##a##7
static const site_fn sites[64] = { REF8(1), REF8(2), REF8(3), REF8(4),
				   REF8(5), REF8(6), REF8(7), REF8(8) };

int main(int argc, char **argv)
{
	const char *env = getenv("SOAKER_SECONDS");
	double seconds = argc > 1 ? atof(argv[1]) : env ? atof(env) : 300;
	static void *set[SET];
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned x = 7;
	long rounds = 0;
	do {
		for (int i = 0; i < 10000; i++) {
			x = x * 1103515245u + 12345u;
			unsigned k = (x >> 8) % SET;
			free(set[k]);
			set[k] = sites[(x >> 20) % 64](16 + (x >> 4) % 512);
		}
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
	printf("soaked %ld\n", rounds);
	return 0;
}
