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
 * thread's last allocation, and its new block becomes the last one.
 */
#include "shim.h"

static __thread uint64_t cached_tail TLS_IE;
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

void trace_alloc(struct segment *s, const void *p, size_t size, uint16_t domain)
{
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
	uint64_t pos = ring_reserve(&s->ring, &cached_tail);
	if (pos != RING_NO_POS)
		ring_publish(&s->ring, pos, &cached_tail, release_kind(p, domain),
			     (uint64_t)(uintptr_t)p, 0, 0, domain);
}

uint64_t trace_reserve(struct segment *s)
{
	return ring_reserve(&s->ring, &cached_tail);
}

void trace_settle(struct segment *s, uint64_t pos, const void *old, bool freed)
{
	if (pos != RING_NO_POS)
		ring_publish(&s->ring, pos, &cached_tail, freed ? release_kind(old, 0) : HS_REC_NOOP,
			     (uint64_t)(uintptr_t)old, 0, 0, 0);
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
	trace_put(s, ring_reserve(&s->ring, &cached_tail), kind, addr, size, stack);
}
