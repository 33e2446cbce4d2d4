/* threads.c - N threads allocate and hand blocks to the next thread to free.
 * usage: threads NTHREADS EVENTS_PER_THREAD [SECONDS]
 * With SECONDS, each thread goes on until that much time has passed instead of
 * stopping after EVENTS_PER_THREAD (then what it leaked is not known in advance).
 * Every thread allocates EVENTS/2 blocks of 16..527 bytes and passes them through a
 * lock-free mailbox to its neighbour, which frees them; every 1000th block is leaked
 * instead, so the leaks are exactly known (the test replays the size generator). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 1024

struct mailbox {
	_Atomic(void *) slot[SLOTS];
};

static struct mailbox *boxes;
static int nthreads;
static long per_thread;
static void *leaks[1 << 16];
static _Atomic int nleaks;
static double seconds; /* 0: stop after per_thread events */
static struct timespec started;

/* Whether a thread that has made i allocations should stop. */
static int done(long i)
{
	if (!seconds)
		return i >= per_thread / 2;
	if (i % 1000)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - started.tv_sec) + (now.tv_nsec - started.tv_nsec) / 1e9 >=
		       seconds ||
	       atomic_load(&nleaks) >= (1 << 16) - 64;
}

static void *leak(size_t size)
{
	return malloc(size); /* site:leak */
}

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct mailbox *out = &boxes[(me + 1) % nthreads], *in = &boxes[me];
	unsigned x = (unsigned)me * 2654435761u + 1;
	long made = 0;
	for (long i = 0; !done(i); i++) {
		x = x * 1103515245u + 12345u;
		size_t size = 16 + (x >> 8) % 512;
		if (i % 1000 == 999) {
			leaks[atomic_fetch_add(&nleaks, 1)] = leak(size);
			continue;
		}
		void *p = malloc(size); /* site:handoff */
		made++;
		unsigned s = x % SLOTS;
		void *old = atomic_exchange(&out->slot[s], p);
		free(old);
		/* Free what our neighbour left for us. */
		void *mine = atomic_exchange(&in->slot[(x >> 4) % SLOTS], NULL);
		free(mine);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 4;
	per_thread = argc > 2 ? atol(argv[2]) : 100000;
	seconds = argc > 3 ? atof(argv[3]) : 0;
	clock_gettime(CLOCK_MONOTONIC, &started);
	boxes = calloc((size_t)nthreads, sizeof(*boxes));
	pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	for (int b = 0; b < nthreads; b++)
		for (int s = 0; s < SLOTS; s++)
			free(atomic_exchange(&boxes[b].slot[s], NULL));
	free(t);
	free(boxes);
	printf("leaked %d\n", atomic_load(&nleaks));
	return 0;
}
