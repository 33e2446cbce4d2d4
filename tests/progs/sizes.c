/* sizes.c - known temporary allocations, largest sizes and size classes per line.
 * usage: sizes
 * NTHREADS workers run ROUNDS rounds of a fixed pattern (see work()); the main thread
 * then hands HANDOFFS blocks, one at a time, to a thread that frees them while the
 * main thread waits, so the block is its last allocation but another thread frees it.
 * Every block is freed except one leak per worker.  Nothing here prints before the
 * end: stdio's buffer would be an allocation of the main thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 4
#define ROUNDS 50
#define HANDOFFS 30

static void *leaks[NTHREADS];
static _Atomic(char *) mailbox;
static _Atomic int handoff_done;

static void work(int me)
{
	for (int i = 0; i < ROUNDS; i++) {
		/* Twice at one line: alloc, free, alloc, free: both temporary. */
		for (int j = 0; j < 2; j++) {
			char *t = malloc(24); /* site:tmp_loop */
			t[0] = 1;
			free(t);
		}
		/* Nested: the inner block is temporary, the outer one is not. */
		char *a = malloc(40); /* site:outer */
		char *b = malloc(56); /* site:inner */
		free(b);
		free(a);
		/* Another block's release in between does not matter, only allocations. */
		char *k = malloc(72); /* site:keep */
		char *c = malloc((size_t)(1000 + me * 100 + i)); /* site:varsize */
		free(k);
		free(c);
		/* realloc: the release of the old block, then a new block. */
		char *r = malloc(100); /* site:realloc_first */
		r = realloc(r, 200); /* site:realloc_second */
		free(r);
		char *g = malloc(300); /* site:r_keep */
		char *q = malloc(8); /* site:r_other */
		g = realloc(g, 600); /* site:r_grow */
		free(q);
		free(g);
	}
	leaks[me] = malloc(5000); /* site:leak */
}

static void *worker(void *arg)
{
	work((int)(long)arg);
	return NULL;
}

static void *freer(void *arg)
{
	(void)arg;
	for (int n = 0; n < HANDOFFS; n++) {
		char *p;
		while (!(p = atomic_load(&mailbox)))
			;
		free(p);
		atomic_store(&mailbox, NULL);
	}
	atomic_store(&handoff_done, 1);
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS], f;
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_create(&f, NULL, freer, NULL);
	for (int n = 0; n < HANDOFFS; n++) {
		char *p = malloc(88); /* site:handoff */
		atomic_store(&mailbox, p);
		while (atomic_load(&mailbox))
			;
	}
	pthread_join(f, NULL);
	printf("sizes done %d\n", atomic_load(&handoff_done));
	return 0;
}
