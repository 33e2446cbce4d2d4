/* stacktab.c - capturing call stacks and interning them in the shared stack table.
 *
 * A stack is unwound with libunwind's unw_backtrace (per-thread trace cache), the
 * shim's and libunwind's own leading frames are dropped, and the rest (up to the frame
 * limit) is hashed.  A small per-thread direct-mapped cache maps hashes to stack ids;
 * a hit is confirmed by comparing the frames with the table's copy, so a hash
 * collision can never merge two stacks.  A miss goes to the shared insert-only table
 * (see shmlayout.h for its protocol).  When the table is full, the event is recorded
 * with HS_STACK_UNKNOWN and counted, never dropped.
 */
#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "shim.h"

/* The most leading frames of the shim's own that a stack can start with. */
#define OWN_FRAMES_MAX 16
#define CACHE_SIZE 256

/* How many own frames to unwind past, learnt: most entry points have 3 (wrapper,
 * trace_alloc, stack_capture); a few nest one deeper (reallocarray -> realloc). */
static _Atomic unsigned own_frames = 3;

struct code_range {
	uintptr_t lo, hi;
};

/* The text of the shim and of libunwind: frames there are ours, not the program's. */
static struct code_range own_code[2];

struct cache_entry {
	uint64_t hash;
	uint32_t id;
	uint32_t generation;
};

static __thread struct cache_entry thread_cache[CACHE_SIZE] TLS_IE;
static _Atomic uint32_t cache_generation = 1;

static int find_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct code_range *r = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (r->lo >= lo && r->lo < hi) {
			r->lo = lo;
			r->hi = hi;
			return 1;
		}
	}
	return 0;
}

static void code_range_of(const void *fn, struct code_range *r)
{
	r->lo = (uintptr_t)fn;
	r->hi = 0;
	if (!dl_iterate_phdr(find_range, r))
		r->lo = r->hi = 0;
}

void stack_init(void)
{
	code_range_of((const void *)stack_capture, &own_code[0]);
	code_range_of((const void *)unw_backtrace, &own_code[1]);
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

void stack_forget_thread_cache(void)
{
	atomic_fetch_add_explicit(&cache_generation, 1, memory_order_relaxed);
}

static inline bool is_own_frame(uintptr_t ip)
{
	return (ip - own_code[0].lo < own_code[0].hi - own_code[0].lo) ||
	       (ip - own_code[1].lo < own_code[1].hi - own_code[1].lo);
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
static inline bool same_stack(uint32_t id, const uint64_t *f, unsigned n, unsigned flags)
{
	if (id >= shim_geo.stacks_cap)
		return false;
	const struct hs_stack s = shim_geo.stacks[id];
	return s.nframes == n && s.flags == flags && s.first <= shim_geo.frames_cap - n &&
	       !memcmp(&shim_geo.frames[s.first], f, n * sizeof(*f));
}

/* Inserts or finds the stack in the shared table.  Returns its id, or
 * HS_STACK_UNKNOWN when the table is full. */
static uint32_t stacktab_intern(struct hs_ctl *c, uint64_t hash, const uint64_t *f,
				unsigned n, unsigned flags)
{
	struct hs_slot *slots = shim_geo.slots;
	uint64_t mask = shim_geo.slots_cap - 1;
	for (uint64_t i = hash & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
		struct hs_slot *s = &slots[i];
		uint64_t h = atomic_load_explicit(&s->hash, memory_order_acquire);
		if (h == 0) {
			uint64_t expect = 0;
			if (!atomic_compare_exchange_strong_explicit(&s->hash, &expect, HS_SLOT_BUSY,
								     memory_order_acquire,
								     memory_order_acquire)) {
				h = expect;
			} else {
				uint32_t id = HS_STACK_UNKNOWN;
				uint64_t want = atomic_fetch_add_explicit(&c->nstacks, 1,
									  memory_order_relaxed);
				uint64_t first = atomic_fetch_add_explicit(&c->nframes, n,
									   memory_order_relaxed);
				if (want < shim_geo.stacks_cap && first <= shim_geo.frames_cap - n) {
					id = (uint32_t)want;
					modules_note(c, f, n);
					memcpy(&shim_geo.frames[first], f, n * sizeof(*f));
					shim_geo.stacks[id] = (struct hs_stack){
						.first = (uint32_t)first, .nframes = (uint16_t)n,
						.flags = (uint16_t)flags,
					};
				}
				atomic_store_explicit(&s->id, id, memory_order_relaxed);
				atomic_store_explicit(&s->hash, hash, memory_order_release);
				return id;
			}
		}
		while (h == HS_SLOT_BUSY) {
			sched_yield();
			h = atomic_load_explicit(&s->hash, memory_order_acquire);
		}
		if (h == hash) {
			uint32_t id = atomic_load_explicit(&s->id, memory_order_relaxed);
			if (id == HS_STACK_UNKNOWN || same_stack(id, f, n, flags))
				return id;
		}
	}
	return HS_STACK_UNKNOWN;
}

static unsigned count_own(void *const *ips, int got)
{
	unsigned skip = 0;
	while (skip < (unsigned)got && is_own_frame((uintptr_t)ips[skip]))
		skip++;
	return skip;
}

uint32_t stack_capture(void)
{
	struct hs_ctl *c = shim_ctl;
	void *ips[HS_FRAMES_MAX + OWN_FRAMES_MAX + 1];
	unsigned limit = shim_opt.frames;
	unsigned own = atomic_load_explicit(&own_frames, memory_order_relaxed);
	int want = (int)(limit + own + 1);
	int got = unw_backtrace(ips, want);
	unsigned skip = count_own(ips, got);
	if (UNLIKELY(skip > own) && skip < OWN_FRAMES_MAX) {
		/* A deeper entry path: learn it, and unwind again if the buffer filled up,
		 * or a truncated stack would look complete. */
		atomic_store_explicit(&own_frames, skip, memory_order_relaxed);
		if (got == want) {
			got = unw_backtrace(ips, (int)(limit + skip + 1));
			skip = count_own(ips, got);
		}
	}
	unsigned n = (unsigned)got - skip, flags = 0;
	if (n > limit) {
		n = limit;
		flags = HS_STACK_TRUNCATED;
	}
	const uint64_t *f = (const uint64_t *)&ips[skip];
	uint64_t hash = hash_frames(f, n, flags);

	uint32_t gen = atomic_load_explicit(&cache_generation, memory_order_relaxed);
	struct cache_entry *e = &thread_cache[hash & (CACHE_SIZE - 1)];
	if (e->hash == hash && e->generation == gen && same_stack(e->id, f, n, flags))
		return e->id;
	uint32_t id = stacktab_intern(c, hash, f, n, flags);
	if (id == HS_STACK_UNKNOWN) {
		atomic_fetch_add_explicit(&c->dropped_stacks, 1, memory_order_relaxed);
		return id;
	}
	*e = (struct cache_entry){ .hash = hash, .id = id, .generation = gen };
	return id;
}
