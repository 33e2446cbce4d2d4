/* stackattr.c - pthread_getattr_np as a thread's first allocation.
 *
 * glibc's pthread_getattr_np allocates while it holds the thread's lock (an fopen of
 * /proc/self/maps on the main thread, the CPU set on any thread).  When that is the
 * thread's first traced allocation, the shim must find the stack's top without taking
 * the same lock again.  The main thread and one new thread each ask for their own
 * attributes first, then allocate 100 bytes at one line.  Prints what each found.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *attributes_then_block(void *arg)
{
	(void)arg;
	pthread_attr_t a;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return NULL;
	int r = pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	if (r != 0 || !size)
		return NULL;
	return malloc(100); /* site:after_attributes */
}

int main(void)
{
	void *mine = attributes_then_block(NULL);
	pthread_t t;
	void *theirs = NULL;
	if (pthread_create(&t, NULL, attributes_then_block, NULL) != 0 ||
	    pthread_join(t, &theirs) != 0)
		return 1;
	printf("main %s, thread %s\n", mine ? "has its stack" : "failed",
	       theirs ? "has its stack" : "failed");
	free(mine);
	free(theirs);
	return 0;
}
