/* idle-bench.c - a program that computes and barely allocates (ten blocks).
 *
 * usage: idle-bench [ITERATIONS]   (default 300000000)
 *
 * What a tracer costs a program that does not use the heap: loading, setting up and
 * the exit snapshot, nothing per event.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300000000;
	uint64_t *acc[10];
	for (int i = 0; i < 10; i++) {
		acc[i] = malloc(64);
		acc[i][0] = (uint64_t)i;
	}
	uint64_t x = 88172645463325252ull;
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc[x & 7][0] += x;
	}
	uint64_t sum = 0;
	for (int i = 0; i < 10; i++) {
		sum += acc[i][0];
		free(acc[i]);
	}
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
