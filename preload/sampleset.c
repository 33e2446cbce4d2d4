/* sampleset.c - the shim's set of sampled blocks, answering "was this block sampled?"
 *
 * Under HEAPSNAP_SAMPLE only sampled blocks are in the ring, so only their releases may
 * be recorded: a free looks its address up here and writes nothing when it is absent.
 * The set is lock-free and lives in its own mapping, never in the program's heap: 16384
 * buckets of 8 slots, one cache line each, and an address only ever in the bucket its
 * hash names, so a lookup reads one line.  A slot holds 0 (empty) or the address with
 * the recording generation in its top 16 bits (shmlayout.h): a start makes every entry
 * of an earlier generation stale, to be overwritten, without a pass over the table.
 * In front of the table, one byte per group of four buckets counts their entries (one
 * 4 KiB page, which stays in the processor's cache where the 1 MiB table would not):
 * most frees, of unsampled blocks, read a zero there and nothing else.
 *
 * Concurrency: a block is inserted by the thread that allocated it, before the program
 * gets its address, and taken out (CAS to 0) by the thread that releases it, before
 * the real free: so a free on another thread finds it (the program's own hand-over
 * orders the two), and a new block at the same address, which the allocator can only
 * hand out after the real free, never finds a stale entry of the old one.  A group's
 * count goes up before an entry is written into an empty slot and down after one is
 * taken out, so it is never 0 while the group holds a block whose free may come (the
 * count was raised before the program got the block).  A full bucket refuses the
 * insert; the caller counts the block as lost.
 */
#include <errno.h>
#include <sys/mman.h>

#include "shim.h"

#define BUCKETS 16384u
#define SLOTS 8u
#define GROUP 4u /* buckets per count: 4 KiB of counts, up to 32 entries each */
#define ADDR_BITS 48
#define ADDR_MASK ((1ull << ADDR_BITS) - 1)

static _Atomic uint64_t *table;
static _Atomic uint8_t *counts; /* entries per bucket, stale ones included */

int sampleset_init(void)
{
	if (table)
		return 0;
	size_t size = BUCKETS * SLOTS * sizeof(uint64_t) + BUCKETS / GROUP;
	void *t = shim_real_mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return -errno;
	counts = (_Atomic uint8_t *)((char *)t + BUCKETS * SLOTS * sizeof(uint64_t));
	table = t;
	return 0;
}

static inline uint64_t bucket_of(uint64_t addr)
{
	return (addr >> 4) * 0x9e3779b97f4a7c15ull >> (64 - 14);
}

static inline uint64_t entry_of(uint64_t addr, uint32_t gen)
{
	return (uint64_t)(gen & 0xffff ? gen & 0xffff : 1) << ADDR_BITS | addr;
}

bool sampleset_insert(const void *p, uint32_t gen)
{
	uint64_t addr = (uint64_t)(uintptr_t)p;
	if (addr & ~ADDR_MASK)
		return false;
	uint64_t want = entry_of(addr, gen), cur_gen = want >> ADDR_BITS, k = bucket_of(addr);
	_Atomic uint64_t *b = table + k * SLOTS;
	for (unsigned i = 0; i < SLOTS; i++) {
		uint64_t v = atomic_load_explicit(&b[i], memory_order_relaxed);
		if (v != 0 && v >> ADDR_BITS == cur_gen)
			continue;
		/* An empty slot is counted before it is filled; a stale one already is. */
		if (v == 0)
			atomic_fetch_add_explicit(&counts[k / GROUP], 1, memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&b[i], &v, want, memory_order_release,
							    memory_order_relaxed))
			return true;
		if (v == 0)
			atomic_fetch_sub_explicit(&counts[k / GROUP], 1, memory_order_relaxed);
	}
	return false;
}

bool sampleset_take(const void *p, uint32_t gen)
{
	uint64_t addr = (uint64_t)(uintptr_t)p;
	if (addr & ~ADDR_MASK)
		return false;
	uint64_t k = bucket_of(addr);
	if (!atomic_load_explicit(&counts[k / GROUP], memory_order_relaxed))
		return false; /* the common case: an unsampled block */
	uint64_t want = entry_of(addr, gen);
	_Atomic uint64_t *b = table + k * SLOTS;
	for (unsigned i = 0; i < SLOTS; i++)
		if (atomic_load_explicit(&b[i], memory_order_acquire) == want) {
			uint64_t v = want;
			if (!atomic_compare_exchange_strong_explicit(&b[i], &v, 0, memory_order_acq_rel,
								     memory_order_relaxed))
				return false;
			atomic_fetch_sub_explicit(&counts[k / GROUP], 1, memory_order_relaxed);
			return true;
		}
	return false;
}
