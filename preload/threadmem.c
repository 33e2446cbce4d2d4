/* threadmem.c - each thread's block for the unwinder's rule cache and the stack cache.
 *
 * They were thread-locals, 36 KiB of them, and glibc carves the static TLS block out
 * of every thread's stack: under the shim a thread created with a small stack (16 or
 * 32 KiB, which node uses) failed to start with EINVAL, and one with 64 KiB kept 28.
 * Now a thread has only a pointer there, and its block is mapped the first time it
 * captures a stack (most threads of most programs never allocate).  A thread's block
 * goes to a free list when it ends (a pthread key's destructor) and to the next new
 * thread as it is: a rule or a cached stack is the process's, not the thread's, so
 * nothing in it needs clearing.
 *
 * Everything here may run inside malloc, with the guard set: memory comes from mmap,
 * and pthread_setspecific allocates nothing for the first 32 keys (and otherwise
 * through the guard, untraced).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "shim.h"

__thread void *shim_thread_block TLS_IE HIDDEN;
__thread uint8_t shim_rule_bits TLS_IE HIDDEN;
__thread uint32_t shim_rule_misses TLS_IE HIDDEN;

/* Over the first rule of a block on the free list. */
struct free_block {
	struct free_block *next;
	uint64_t rule_bits;   /* how many of its rules were in use, mapped */
};
_Static_assert(sizeof(struct free_block) <= THREAD_BLOCK_RULES >> THREAD_RULE_BITS,
	       "one rule holds a free block's record");

/* Bytes of a block mapped when bits of its rules are in use: those, and the stack
 * cache after all of them. */
static void populate_block(char *b, unsigned bits)
{
	prim_populate(b, (THREAD_BLOCK_RULES >> THREAD_RULE_BITS) << bits);
	prim_populate(b + THREAD_BLOCK_RULES, THREAD_BLOCK_CACHE);
}
static struct free_block *free_blocks;
static _Atomic bool free_lock;
static pthread_key_t block_key;
static _Atomic int key_state; /* 0: not made yet, 1: made, -1: cannot be */

static void lock(void)
{
	while (atomic_exchange_explicit(&free_lock, true, memory_order_acquire))
		;
}

static void unlock(void)
{
	atomic_store_explicit(&free_lock, false, memory_order_release);
}

/* The key's destructor, at the thread's end: its block goes to the next thread.  A
 * later capture in this thread (another destructor allocating) takes a block again,
 * and glibc runs this again for it. */
static void block_release(void *block)
{
	shim_thread_block = NULL;
	struct free_block *b = block;
	b->rule_bits = shim_rule_bits;
	lock();
	b->next = free_blocks;
	free_blocks = b;
	unlock();
}

void thread_block_fork_child(void)
{
	/* A thread of the parent may have held the lock at the fork, and it does not exist
	 * here.  The list is consistent at every step but the push's last (a block then
	 * lost to the child, no more).  Written only when held: a write copies the page. */
	if (atomic_load_explicit(&free_lock, memory_order_relaxed))
		unlock();
}

void thread_block_copy(void)
{
	if (shim_thread_block)
		populate_block(shim_thread_block, shim_rule_bits);
}

void thread_block_grow(void)
{
	if (shim_thread_block && shim_rule_bits < THREAD_RULE_BITS) {
		shim_rule_bits = THREAD_RULE_BITS;
		populate_block(shim_thread_block, shim_rule_bits);
	}
}

/* Once per image, from its first setup, which runs under the setup lock. */
void thread_block_init(void)
{
	if (atomic_load(&key_state) == 0)
		atomic_store(&key_state, pthread_key_create(&block_key, block_release) ? -1 : 1);
}

void *thread_block_new(void)
{
	lock();
	struct free_block *b = free_blocks;
	if (b)
		free_blocks = b->next;
	unlock();
	void *m = b;
	shim_rule_misses = 0;
	if (!m) {
		m = shim_real_mmap(NULL, THREAD_BLOCK, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL; /* the walk then goes to libunwind, uncached */
		shim_rule_bits = THREAD_RULE_BITS_FIRST;
		populate_block(m, shim_rule_bits); /* one call, not a fault a page */
	} else {
		shim_rule_bits = (uint8_t)b->rule_bits;
		*b = (struct free_block){ 0 }; /* was the list's: a rule's ip, now 0 */
	}
	/* Without the key (the program used every one up), the block is this thread's for
	 * good: a thread that ends leaves it mapped. */
	if (atomic_load(&key_state) == 1)
		pthread_setspecific(block_key, m);
	shim_thread_block = m;
	return m;
}
