/* smallstack.c - threads on the smallest stacks glibc allows.
 *
 * glibc takes the static TLS block out of each thread's stack: a preloaded library's
 * thread-locals make a small stack smaller, or too small to start a thread at all
 * (pthread_create fails with EINVAL; node uses such stacks).  Starts one thread on a
 * PTHREAD_STACK_MIN (16 KiB) stack and one on 32 KiB, each allocating 77 bytes at one
 * line, and prints what pthread_create said for each.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *allocate(void *arg)
{
	(void)arg;
	return malloc(77); /* site:small_stack */
}

int main(void)
{
	const size_t sizes[] = { PTHREAD_STACK_MIN, 32 * 1024 };
	for (size_t i = 0; i < 2; i++) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, sizes[i]);
		pthread_t t;
		int r = pthread_create(&t, &a, allocate, NULL);
		pthread_attr_destroy(&a);
		void *block = NULL;
		if (r == 0)
			pthread_join(t, &block);
		printf("%zu KiB: %s\n", sizes[i] / 1024, r ? strerror(r) : "started");
		free(block);
	}
	return 0;
}
