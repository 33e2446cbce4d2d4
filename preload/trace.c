/* trace.c - recording the program's allocator events into the ring.
 *
 * The ordering rule of design.md: an allocation is recorded after the real allocator
 * returned it, a release is reserved before the real free runs (trace_reserve, then
 * trace_settle once the outcome is known), so the ring order agrees with the
 * allocator's own order for every address.  Each thread keeps its last view of the
 * ring's tail, so a reservation costs one atomic add while the ring has room.
 *
 * Temporary allocations (heaptrack's word): a block the thread releases before it
 * allocates again.  Each thread remembers the last block it allocated (address and
 * domain); a release of exactly that block is recorded as HS_REC_FREE_TEMPORARY.  It
 * is exact, lock-free and two thread-local stores per event.  A realloc is a release
 * then an allocation, as everywhere else: its old block is temporary when it was the
 * thread's last allocation, and its new block becomes the last one.  Under sampling
 * only recorded blocks are remembered, so "before it allocates again" means before
 * its next sampled allocation.
 *
 * Under HEAPSNAP_SAMPLE (sample.h) each thread counts its allocated bytes down to the
 * next sampling point: an allocation that does not reach it costs a compare and a
 * subtraction, no stack and no record.  A sampled heap block goes into the set of
 * sampled blocks (sampleset.c) before it is recorded; a release is recorded only when
 * its block is taken out of that set.  Blocks of heapsnap_track() domains are always
 * recorded.
 */
#include <time.h>

#include "sample.h"
#include "shim.h"

static __thread uint64_t cached_tail TLS_IE;
__thread int64_t trace_sample_left TLS_IE HIDDEN; /* see shim.h */
static __thread uint64_t sample_state TLS_IE; /* its random state; 0 until seeded */
static __thread uintptr_t last_addr TLS_IE;  /* this thread's last allocated block */
static __thread uint16_t last_domain TLS_IE;

void trace_thread_reset(void)
{
	cached_tail = 0;
	last_addr = 0;
}

/* The kind of a release of p: temporary when p is this thread's last allocation,
 * which it stops being. */
static inline uint16_t release_kind(const void *p, uint16_t domain)
{
	if ((uintptr_t)p != last_addr || domain != last_domain)
		return HS_REC_FREE;
	last_addr = 0;
	return HS_REC_FREE_TEMPORARY;
}

void trace_count_lost(struct segment *s, unsigned events)
{
	if (s->ctl)
		atomic_fetch_add_explicit(&s->ctl->lost, events, memory_order_relaxed);
}

static inline uint32_t trace_generation(const struct segment *s)
{
	return atomic_load_explicit(&s->ctl->recording, memory_order_relaxed);
}

/* The rare path of sampling: this thread's first allocation, or a sampled one. */
static __attribute__((noinline)) bool trace_sample_slow(struct segment *s, size_t size)
{
	if (!sample_state) {
		sample_state = prim_now_ns(CLOCK_MONOTONIC) ^ (uint64_t)(uintptr_t)&trace_sample_left;
		sample_state += !sample_state;
		trace_sample_left = sample_gap(&sample_state, s->sample_period);
	}
	return sample_block(&trace_sample_left, &sample_state, s->sample_period, size);
}

/* Whether a heap block of size bytes that trace_unsampled() did not skip is to be
 * recorded; a sampled one is put in the set of sampled blocks first. */
static inline bool trace_keep(struct segment *s, const void *p, size_t size)
{
	if (!trace_sample_slow(s, size))
		return false;
	uint32_t gen = trace_generation(s);
	if (!gen)
		return false; /* stopped meanwhile */
	if (!sampleset_insert(p, gen)) {
		trace_count_lost(s, 1);
		return false;
	}
	return true;
}

/* Whether the release of heap block p is to be recorded: always when tracing exactly,
 * else when p was sampled (and is now taken out of the set). */
static inline bool trace_keep_release(struct segment *s, const void *p)
{
	if (!s->sample_period)
		return true;
	uint32_t gen = trace_generation(s);
	return gen && sampleset_take(p, gen);
}

void trace_alloc(struct segment *s, const void *p, size_t size, uint16_t domain)
{
	if (s->sample_period && domain == 0 && !trace_keep(s, p, size))
		return;
	uint32_t stack = stack_capture(s);
	last_addr = (uintptr_t)p;
	last_domain = domain;
	uint64_t pos = ring_reserve(&s->ring, &cached_tail);
	if (pos != RING_NO_POS)
		ring_publish(&s->ring, pos, &cached_tail, HS_REC_ALLOC, (uint64_t)(uintptr_t)p,
			     size, stack, domain);
}

void trace_free(struct segment *s, const void *p, uint16_t domain)
{
	if (domain == 0 && !trace_keep_release(s, p))
		return;
	uint64_t pos = ring_reserve(&s->ring, &cached_tail);
	if (pos != RING_NO_POS)
		ring_publish(&s->ring, pos, &cached_tail, release_kind(p, domain),
			     (uint64_t)(uintptr_t)p, 0, 0, domain);
}

uint64_t trace_reserve(struct segment *s, const void *old)
{
	if (!trace_keep_release(s, old))
		return RING_NO_POS;
	return ring_reserve(&s->ring, &cached_tail);
}

void trace_settle(struct segment *s, uint64_t pos, const void *old, bool freed)
{
	if (pos == RING_NO_POS)
		return;
	ring_publish(&s->ring, pos, &cached_tail, freed ? release_kind(old, 0) : HS_REC_NOOP,
		     (uint64_t)(uintptr_t)old, 0, 0, 0);
	/* A failed realloc leaves the sampled block live: back into the set. */
	if (!freed && s->sample_period) {
		uint32_t gen = trace_generation(s);
		if (!gen || !sampleset_insert(old, gen))
			trace_count_lost(s, 1);
	}
}

/* Mappings are never sampled: they are few, and each is a large share of memory. */
uint64_t trace_reserve_range(struct segment *s)
{
	return ring_reserve(&s->ring, &cached_tail);
}

void trace_put(struct segment *s, uint64_t pos, unsigned kind, const void *addr,
	       uint64_t size, uint32_t stack)
{
	if (pos != RING_NO_POS)
		ring_publish(&s->ring, pos, &cached_tail, kind, (uint64_t)(uintptr_t)addr, size,
			     stack, 0);
}

void trace_range(struct segment *s, unsigned kind, const void *addr, uint64_t size)
{
	uint32_t stack = kind == HS_REC_MAP ? stack_capture(s) : HS_STACK_UNKNOWN;
	trace_put(s, trace_reserve_range(s), kind, addr, size, stack);
}
