/* stackattr.c - pthread_getattr_np as a thread's first allocation.
 *
 * glibc's pthread_getattr_np allocates while it holds the thread's lock (an fopen of
 * /proc/self/maps on the main thread, the CPU set on any thread).  When that is the
 * thread's first traced allocation, the shim must find the stack's top without taking
 * the same lock again.  The main thread and one new thread each ask for their own
 * attributes first, then allocate 100 bytes at one line.  Prints what each found.
 *
 * `stackattr coroutine`: the main thread's first allocation is made on a coroutine's
 * stack (makecontext, in the program's data, below the thread's descriptor), then 100 more
 * on its own stack, whose top must still be found: with HEAPSNAP_VERIFY_UNWIND=1 the
 * fast walk should take them, not libunwind.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

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

static ucontext_t main_context, coroutine_context;
static void *from_coroutine;

static void coroutine(void)
{
	from_coroutine = malloc(24); /* site:on_coroutine */
}

static int coroutine_then_main_stack(void)
{
	static void *blocks[100];
	static char stack[256 << 10];
	if (getcontext(&coroutine_context) != 0)
		return 1;
	coroutine_context.uc_stack.ss_sp = stack;
	coroutine_context.uc_stack.ss_size = sizeof(stack);
	coroutine_context.uc_link = &main_context;
	makecontext(&coroutine_context, coroutine, 0);
	if (swapcontext(&main_context, &coroutine_context) != 0 || !from_coroutine)
		return 1;
	for (int i = 0; i < 100; i++)
		blocks[i] = malloc(40); /* site:on_main_stack */
	printf("coroutine %s, main stack %s\n", from_coroutine ? "allocated" : "failed",
	       blocks[99] ? "allocated" : "failed");
	for (int i = 0; i < 100; i++)
		free(blocks[i]);
	free(from_coroutine);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "coroutine"))
		return coroutine_then_main_stack();
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
