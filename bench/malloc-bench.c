/* malloc-bench.c - random replacement in a working set of malloc'd blocks.
 *
 * usage: malloc-bench [THREADS [ALLOCATIONS]]   (defaults: 1 thread, 2500000)
 *
 * Each thread keeps a working set of 4096 blocks of 16..528 bytes and, ALLOCATIONS /
 * THREADS times, frees a random one and allocates its replacement through a chain of
 * eight noinline functions, so a tracer unwinds nine frames of program code per
 * allocation.  The chain is built without sibling calls (see meson.build) so every
 * level keeps its frame.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WORKING_SET 4096
#define NOINLINE __attribute__((noinline))

static NOINLINE void *chain8(size_t n) { void *p = malloc(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain7(size_t n) { void *p = chain8(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain6(size_t n) { void *p = chain7(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain5(size_t n) { void *p = chain6(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain4(size_t n) { void *p = chain5(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain3(size_t n) { void *p = chain4(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain2(size_t n) { void *p = chain3(n); __asm__ volatile("" ::: "memory"); return p; }
static NOINLINE void *chain1(size_t n) { void *p = chain2(n); __asm__ volatile("" ::: "memory"); return p; }

struct worker {
	long allocations;
	uint64_t seed;
	uint64_t checksum;
};

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	void **set = calloc(WORKING_SET, sizeof(*set));
	uint64_t sum = 0;
	for (long i = 0; i < w->allocations; i++) {
		uint64_t r = xorshift(&w->seed);
		unsigned slot = (unsigned)(r & (WORKING_SET - 1));
		size_t size = 16 + (size_t)((r >> 16) % 513);
		free(set[slot]);
		char *p = chain1(size);
		p[0] = (char)i;
		sum += (uintptr_t)p & 0xff;
		set[slot] = p;
	}
	for (int i = 0; i < WORKING_SET; i++)
		free(set[i]);
	free(set);
	w->checksum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	long total = argc > 2 ? atol(argv[2]) : 2500000;
	if (threads < 1 || threads > 64 || total < 1) {
		fprintf(stderr, "usage: malloc-bench [THREADS [ALLOCATIONS]]\n");
		return 2;
	}
	struct worker w[64];
	pthread_t t[64];
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .allocations = total / threads, .seed = 0x9e3779b97f4a7c15ull + (uint64_t)i };
		if (threads > 1)
			pthread_create(&t[i], NULL, work, &w[i]);
		else
			work(&w[i]);
	}
	uint64_t sum = 0;
	for (int i = 0; i < threads; i++) {
		if (threads > 1)
			pthread_join(t[i], NULL);
		sum += w[i].checksum;
	}
	printf("%d threads, %ld allocations, checksum %llu\n", threads, total,
	       (unsigned long long)sum);
	return 0;
}
