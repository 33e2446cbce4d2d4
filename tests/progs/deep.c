/* deep.c - allocations from a deep recursion and from main: the first stacks are
 * longer than the frame limit, the second is not. */
#include <stdlib.h>

static void *keep[4];

__attribute__((noinline)) static void descend(int depth)
{
	if (depth == 0) {
		keep[0] = malloc(10); /* site:deep_malloc */
		keep[1] = reallocarray(NULL, 5, 4); /* site:deep_reallocarray */
		return;
	}
	descend(depth - 1);
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

int main(void)
{
	descend(30);
	keep[2] = malloc(30); /* site:shallow */
	return 0;
}
