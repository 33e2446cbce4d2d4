/* stacks.c - N allocations from N different call stacks: every path through eight
 * levels of four functions each is a stack of its own (4^8 = 65536 of them). */
#include <stdio.h>
#include <stdlib.h>

#define LEVELS 8

void *keep[1 << (2 * LEVELS)]; /* not static: at -O2 unread stores would drop the mallocs */
static unsigned next;

static void walk(unsigned level, unsigned path);

#define STEP(name) \
	__attribute__((noinline)) static void name(unsigned level, unsigned path) \
	{ \
		walk(level + 1, path); \
		__asm__ volatile("" ::: "memory"); \
	}
STEP(s0)
STEP(s1)
STEP(s2)
STEP(s3)

static void walk(unsigned level, unsigned path)
{
	static void (*const steps[4])(unsigned, unsigned) = { s0, s1, s2, s3 };
	if (level == LEVELS) {
		keep[next++] = malloc(16); /* site:leaf */
		return;
	}
	steps[(path >> (2 * level)) & 3](level, path);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1u << (2 * LEVELS);
	if (n > 1u << (2 * LEVELS))
		n = 1u << (2 * LEVELS);
	for (unsigned p = 0; p < n; p++)
		walk(0, p);
	printf("%u stacks\n", next);
	return 0;
}
