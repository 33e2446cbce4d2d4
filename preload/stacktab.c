/* stacktab.c - capturing call stacks and interning them in the shared stack table.
 *
 * A stack is unwound by unwind.c (cached CFA rules, libunwind on a miss) from the first
 * frame outside the shim, up to the frame limit, and hashed.  A small per-thread direct-mapped cache maps hashes to stack ids;
 * a hit is confirmed by comparing the frames with the table's copy, so a hash
 * collision can never merge two stacks.  A miss goes to the shared insert-only table
 * (see shmlayout.h for its protocol).  When the table is full, the event is recorded
 * with HS_STACK_UNKNOWN and counted, never dropped.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define CACHE_SIZE 256
#define LEARN_FIRST 256u

struct cache_entry {
	uint64_t hash;
	uint32_t id;
	uint32_t generation;
};

_Static_assert(CACHE_SIZE * sizeof(struct cache_entry) <= THREAD_BLOCK_CACHE,
	       "the stack cache fits its part of the thread's block");
static __thread unsigned fast_misses TLS_IE;
static _Atomic uint32_t cache_generation = 1;
/* Claimed stack-table slots whose writer never filled them (see settle()). */
#define STUCK_MAX 8u
static _Atomic(struct hs_slot *) stuck[STUCK_MAX];
static _Atomic unsigned stuck_next;

void stack_forget_thread_cache(void)
{
	atomic_fetch_add_explicit(&cache_generation, 1, memory_order_relaxed);
	/* A forked child sets up a segment of its own: its slots are not these. */
	for (unsigned i = 0; i < STUCK_MAX; i++)
		atomic_store_explicit(&stuck[i], NULL, memory_order_relaxed);
}

static inline uint64_t hash_frames(const uint64_t *f, unsigned n, unsigned flags)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n << 8) ^ flags;
	for (unsigned i = 0; i < n; i++) {
		h ^= f[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return h < 2 ? h + 2 : h; /* 0 and HS_SLOT_BUSY mark empty and claimed slots */
}

/* Whether entry id holds these frames.  The entry is in shared memory, so its id and
 * extent are checked before anything is read through them. */
static inline bool same_stack(const struct hs_geometry *g, uint32_t id, const uint64_t *f, unsigned n, unsigned flags)
{
	if (id >= g->stacks.cap)
		return false;
	const struct hs_stack s = *hs_stack_at(g, id);
	return s.nframes == n && s.flags == flags && hs_run_ok(&g->frames, s.first, n) &&
	       !memcmp(hs_frames_at(g, s.first), f, n * sizeof(*f));
}

/* The slot table grows in levels, so that a short process touches few of its pages
 * (level 0 is 16 KiB: a process with a hundred stacks touches four pages, not forty):
 * level 0 is the first HS_SLOTS_LEVEL0 slots, level k >= 1 the next
 * HS_SLOTS_LEVEL0 << (k-1), each a power of two.  New stacks go into the lowest level
 * still at most half full (judged by the number of stacks), a lookup searches the
 * levels below first.  A first touch of a shared page costs a fault, and one random
 * slot per new stack in a 32 MB table made a short traced cc1 take 3.5 times its own
 * page faults. */

static unsigned levels_of(const struct hs_geometry *g)
{
	unsigned n = 1;
	while ((uint64_t)HS_SLOTS_LEVEL0 << (n - 1) < g->slots.cap)
		n++;
	return n;
}

static void level_range(const struct hs_geometry *g, unsigned k, uint64_t *start, uint64_t *size)
{
	*start = k ? (uint64_t)HS_SLOTS_LEVEL0 << (k - 1) : 0;
	*size = k ? *start : (g->slots.cap < HS_SLOTS_LEVEL0 ? g->slots.cap : HS_SLOTS_LEVEL0);
}

/* The level new stacks go to when the table holds nstacks. */
static unsigned level_now(unsigned nlevels, uint64_t nstacks)
{
	unsigned k = 0;
	while (k + 1 < nlevels && ((uint64_t)HS_SLOTS_LEVEL0 << k) < 2 * (nstacks + 1))
		k++;
	return k;
}

enum { PROBE_FOUND, PROBE_ABSENT, PROBE_FULL };

/* A claimed slot is filled within microseconds by a live writer.  One whose writer
 * died in between stays claimed for good: a _Fork or raw-clone child, which writes
 * into its parent's segment (it runs no atfork handler), killed at that moment; or a
 * program scribbling over its own segment.  A probe waits up to BUSY_WAIT_NS for a
 * claimed slot, then takes it for another stack's and goes on, remembering it so the
 * next probes pass it at once; the rest of that probe waits for no claimed slot.  The
 * worst a writer that was only slow can cost is its stack interned twice. */
#define BUSY_WAIT_NS (20 * 1000 * 1000ull)
/* Waits for claimed slot s to be filled; returns its hash, or HS_SLOT_BUSY when it is
 * to be passed (stuck, or *may_wait already spent by this probe). */
static uint64_t settle(struct hs_slot *s, bool *may_wait)
{
	for (unsigned i = 0; i < STUCK_MAX; i++)
		if (atomic_load_explicit(&stuck[i], memory_order_relaxed) == s)
			return HS_SLOT_BUSY;
	uint64_t h, until = 0;
	while ((h = atomic_load_explicit(&s->hash, memory_order_acquire)) == HS_SLOT_BUSY) {
		if (!*may_wait)
			return h;
		uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
		if (!until) {
			until = now + BUSY_WAIT_NS;
		} else if (now > until) {
			unsigned k = atomic_fetch_add_explicit(&stuck_next, 1, memory_order_relaxed);
			atomic_store_explicit(&stuck[k % STUCK_MAX], s, memory_order_relaxed);
			*may_wait = false;
			return h;
		}
		sched_yield();
	}
	return h;
}

/* Writes a new entry for the stack into the table, for slot s (claimed).  Returns its
 * id, or HS_STACK_UNKNOWN when the entries or frames are used up. */
static uint32_t stacktab_fill(struct segment *sg, struct hs_slot *s, uint64_t hash,
			      const uint64_t *f, unsigned n, unsigned flags)
{
	struct hs_ctl *c = sg->ctl;
	const struct hs_geometry *g = &sg->geo;
	uint32_t id = HS_STACK_UNKNOWN;
	uint64_t want = atomic_fetch_add_explicit(&c->nstacks, 1, memory_order_relaxed);
	uint64_t first = atomic_fetch_add_explicit(&c->nframes, n, memory_order_relaxed);
	if (first < g->frames.head_cap && n > g->frames.head_cap - first) /* both parts */
		first = atomic_fetch_add_explicit(&c->nframes, n, memory_order_relaxed);
	if (want < g->stacks.cap && hs_run_ok(&g->frames, first, n)) {
		segment_populate_ahead(&g->stacks, want, 1, sizeof(struct hs_stack));
		segment_populate_ahead(&g->frames, first, n, sizeof(uint64_t));
		id = (uint32_t)want;
		modules_note(sg, f, n);
		memcpy(hs_frames_at(g, first), f, n * sizeof(*f));
		*hs_stack_at(g, id) = (struct hs_stack){
			.first = (uint32_t)first, .nframes = (uint16_t)n, .flags = (uint16_t)flags,
		};
	}
	atomic_store_explicit(&s->id, id, memory_order_relaxed);
	atomic_store_explicit(&s->hash, hash, memory_order_release);
	return id;
}

/* Looks for the stack in level k, and with insert, claims its first empty slot for it.
 * PROBE_FOUND with *id (found or inserted), PROBE_ABSENT (an empty slot ends the search,
 * without insert), or PROBE_FULL (the level has no empty slot on the way). */
static int level_probe(struct segment *sg, unsigned k, uint64_t hash, const uint64_t *f,
		       unsigned n, unsigned flags, bool insert, uint32_t *id)
{
	const struct hs_geometry *g = &sg->geo;
	uint64_t start, size;
	level_range(g, k, &start, &size);
	uint64_t mask = size - 1;
	bool may_wait = true;
	struct hs_slot *level = hs_slot_at(g, start); /* a level lies in one part */
	for (uint64_t i = hash & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
		struct hs_slot *s = &level[i];
		uint64_t h = atomic_load_explicit(&s->hash, memory_order_acquire);
		if (h == 0) {
			if (!insert)
				return PROBE_ABSENT;
			uint64_t expect = 0;
			if (atomic_compare_exchange_strong_explicit(&s->hash, &expect, HS_SLOT_BUSY,
								    memory_order_acquire,
								    memory_order_acquire)) {
				*id = stacktab_fill(sg, s, hash, f, n, flags);
				return PROBE_FOUND;
			}
			h = expect;
		}
		if (h == HS_SLOT_BUSY && (h = settle(s, &may_wait)) == HS_SLOT_BUSY)
			continue; /* stuck: another stack's, for this probe */
		if (h == hash) {
			uint32_t got = atomic_load_explicit(&s->id, memory_order_relaxed);
			if (got == HS_STACK_UNKNOWN || same_stack(g, got, f, n, flags)) {
				*id = got;
				return PROBE_FOUND;
			}
		}
	}
	return PROBE_FULL;
}

/* New stacks go to level top from now on, at random slots: the levels up to it are
 * mapped in one system call each, where a fault would come for most of their pages. */
static void map_levels(struct segment *sg, unsigned top)
{
	unsigned k = atomic_load_explicit(&sg->slot_levels_mapped, memory_order_relaxed);
	if (LIKELY(k > top))
		return;
	atomic_store_explicit(&sg->slot_levels_mapped, top + 1, memory_order_relaxed);
	for (; k <= top; k++) {
		uint64_t start, size;
		level_range(&sg->geo, k, &start, &size);
		prim_populate(hs_slot_at(&sg->geo, start), size * sizeof(struct hs_slot));
	}
}

/* Inserts or finds the stack in the shared table.  Returns its id, or
 * HS_STACK_UNKNOWN when the table is full. */
static uint32_t stacktab_intern(struct segment *sg, uint64_t hash, const uint64_t *f,
				unsigned n, unsigned flags)
{
	unsigned nlevels = levels_of(&sg->geo);
	unsigned top = level_now(nlevels, atomic_load_explicit(&sg->ctl->nstacks,
							       memory_order_relaxed));
	map_levels(sg, top);
	uint32_t id = HS_STACK_UNKNOWN;
	for (unsigned k = 0; k < top; k++)
		if (level_probe(sg, k, hash, f, n, flags, false, &id) == PROBE_FOUND)
			return id;
	/* A level that filled up sends new stacks on to the next. */
	for (unsigned k = top; k < nlevels; k++)
		if (level_probe(sg, k, hash, f, n, flags, true, &id) == PROBE_FOUND)
			return id;
	return HS_STACK_UNKNOWN;
}

/* HEAPSNAP_VERIFY_UNWIND, for testing: compares every fast walk with libunwind's, and
 * on the first difference says so and aborts, so that no test can miss it. */
static void verify(const uint64_t *fast, int n, bool more)
{
	static _Atomic int said;
	uint64_t slow[HS_FRAMES_MAX];
	bool slow_more;
	int m = unwind_slow(slow, shim_opt.frames, &slow_more);
	if (m == n && slow_more == more && !memcmp(fast, slow, (size_t)n * sizeof(*fast)))
		return;
	int k = 0;
	while (k < n && k < m && fast[k] == slow[k])
		k++;
	if (!atomic_exchange(&said, 1))
		report("unwind mismatch at frame %d of %d/%d: fast %#lx, libunwind %#lx", k, n, m,
		       k < n ? (unsigned long)fast[k] : 0ul, k < m ? (unsigned long)slow[k] : 0ul);
	abort();
}

/* HEAPSNAP_VERIFY_UNWIND=1 also counts the stacks each way and the rules from each
 * source, said at exit. */
static _Atomic uint64_t verified_fast, verified_slow;

void stack_verify_report(void)
{
	if (shim_opt.verify_unwind)
		report("unwind: %lu stacks by the fast walk, %lu by libunwind, %lu rules from "
		       "the CFI, %lu from the rules files",
		       (unsigned long)atomic_load(&verified_fast),
		       (unsigned long)atomic_load(&verified_slow),
		       (unsigned long)atomic_load(&unwind_cfi_rules),
		       (unsigned long)atomic_load(&unwind_file_rules));
}

uint32_t stack_capture(struct segment *s)
{
	uint64_t frames[HS_FRAMES_MAX];
	bool more = false;
	int got = unwind_fast(frames, shim_opt.frames, &more);
	if (UNLIKELY(shim_opt.verify_unwind))
		atomic_fetch_add(got >= 0 ? &verified_fast : &verified_slow, 1);
	if (got >= 0) {
		if (UNLIKELY(shim_opt.verify_unwind))
			verify(frames, got, more);
	} else if (++fast_misses <= LEARN_FIRST || (fast_misses & 63) == 1 ||
		   shim_opt.verify_unwind) {
		/* Learning costs a cursor walk: after a thread's first LEARN_FIRST misses,
		 * one miss in 64 pays for it, so a program whose stacks keep missing (a frame
		 * that cannot be cached, more call paths than the cache holds) runs at
		 * libunwind's usual speed.  The first misses all learn: a short process then
		 * never calls unw_backtrace, whose first call builds a 256 KiB cache (64 page
		 * faults, more than a short process's whole tracing otherwise takes). */
		got = unwind_slow(frames, shim_opt.frames, &more);
	} else {
		got = unwind_backtrace(frames, shim_opt.frames, &more);
	}
	unsigned n = (unsigned)got, flags = more ? HS_STACK_TRUNCATED : 0;
	const uint64_t *f = frames;
	uint64_t hash = hash_frames(f, n, flags);

	uint32_t gen = atomic_load_explicit(&cache_generation, memory_order_relaxed);
	char *block = thread_block();
	struct cache_entry *e = block ? (struct cache_entry *)(block + THREAD_BLOCK_RULES) +
						(hash & (CACHE_SIZE - 1))
				      : NULL;
	if (e && e->hash == hash && e->generation == gen && same_stack(&s->geo, e->id, f, n, flags))
		return e->id;
	uint32_t id = stacktab_intern(s, hash, f, n, flags);
	if (id == HS_STACK_UNKNOWN) {
		atomic_fetch_add_explicit(&s->ctl->dropped_stacks, 1, memory_order_relaxed);
		return id;
	}
	if (e)
		*e = (struct cache_entry){ .hash = hash, .id = id, .generation = gen };
	return id;
}
