/* collector.c - draining the ring into the live table and per-stack counters.
 *
 * Records are consumed strictly in ring order, so for every address the collector sees
 * its allocation and release in the order the allocator performed them (the shim
 * reserves releases before the real free).  Every field read from shared memory is
 * checked: a bad kind or stack id is counted as corrupt; a stack's frames are copied
 * out once, bounds-checked, on first sight, with the module of each frame resolved
 * while the process still maps it.
 */
#include "collector.h"

#include "cfifile.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "idxtab.h"
#include "prim.h"
#include "mem.h"
#include "sample.h"
#include "vec.h"

/* Under sampling, blocks are counted in 1/SAMPLED_BLOCK_UNIT so that the fractional
 * weights of sampled blocks add up without rounding each one. */
#define SAMPLED_BLOCK_UNIT 1024

struct domain_live {
	uint16_t domain;
	addrtab_t live;
	UT_hash_handle hh;
};

struct domain_stats {
	struct {
		uint32_t stack;
		uint32_t domain;
	} key;
	struct stack_stats s;
	UT_hash_handle hh;
};

int collector_attach(collector_t *c, int fd, pid_t pid, void *mapped)
{
	memset(c, 0, sizeof(*c));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t total = (uint64_t)st.st_size;
	if (total < sizeof(struct hs_ctl))
		return -EINVAL;
	struct hs_ctl *ctl = mapped ? mapped : prim_map_aligned(fd, total, HS_REGION);
	if (ctl == MAP_FAILED)
		return -errno;
	struct hs_layout l;
	uint32_t frame_limit;
	if (hs_layout_read(ctl, total, &l, &frame_limit) < 0) {
		munmap(ctl, total);
		return -EINVAL;
	}
	c->ctl = ctl;
	c->shm_size = total;
	c->g = hs_geometry_of(ctl, &l);
	ring_init(&c->ring, ctl, &c->g);
	c->frame_limit = frame_limit;
	c->start_nanos = ((volatile struct hs_ctl *)ctl)->start_nanos;
	timeline_init(&c->timeline, c->start_nanos, 0);
	c->pid = pid;
	c->pos = atomic_load(&ctl->tail);
	rangetab_init(&c->mapped);
	c->active = atomic_load(&ctl->recording) != 0;
	c->sample_period = ((volatile struct hs_ctl *)ctl)->sample_period;
	c->block_unit = c->sample_period ? SAMPLED_BLOCK_UNIT : 1;
	if (c->sample_period > SAMPLE_PERIOD_MAX) {
		munmap(ctl, total);
		memset(c, 0, sizeof(*c));
		return -EINVAL;
	}
	int r = addrtab_init(&c->live);
	if (r == 0 && !(c->sym = symbolizer_new(pid)))
		r = -ENOMEM;
	if (r < 0)
		collector_detach(c);
	return r;
}

/* Frees the live tables and counters of the heapsnap_track() domains. */
static void domains_free(collector_t *c)
{
	struct domain_live *d, *dtmp;
	HASH_ITER(hh, c->domains, d, dtmp) {
		HASH_DEL(c->domains, d);
		addrtab_free(&d->live);
		free(d);
	}
	struct domain_stats *ds, *dstmp;
	HASH_ITER(hh, c->dstats, ds, dstmp) {
		HASH_DEL(c->dstats, ds);
		sizedist_free(&ds->s.sizes);
		free(ds);
	}
}

void collector_detach(collector_t *c)
{
	if (c->ctl)
		munmap(c->ctl, c->shm_size);
	addrtab_free(&c->live);
	rangetab_free(&c->mapped);
	domains_free(c);
	for (uint64_t i = 0; i < c->nstats; i++)
		sizedist_free(&c->stats[i].sizes);
	symbolizer_free(c->sym);
	timeline_free(&c->timeline);
	free(c->stats);
	free(c->stacks);
	free(c->frames);
	free(c->frame_modules);
	memset(c, 0, sizeof(*c));
}

/* Copies module entries the shim has published since the last call. */
static void modules_sync(collector_t *c)
{
	struct hs_ctl *ctl = c->ctl;
	uint64_t n = atomic_load_explicit(&ctl->nmodules, memory_order_acquire);
	if (n > c->g.modules.cap)
		n = c->g.modules.cap;
	for (; c->nmodules_seen < n; c->nmodules_seen++) {
		struct hs_module m = *hs_module_at(&c->g, c->nmodules_seen);
		char path[4096];
		if (m.path_len >= sizeof(path) || !hs_run_ok(&c->g.paths, m.path_off, m.path_len)) {
			c->corrupt++;
			continue;
		}
		memcpy(path, hs_path_at(&c->g, m.path_off), m.path_len);
		path[m.path_len] = '\0';
		symbolizer_add_module(c->sym, path, m.lo, m.hi, m.bias, m.offset);
	}
}

static uint32_t module_of(collector_t *c, uint64_t ip)
{
	uint32_t m = symbolizer_module_of(c->sym, ip);
	if (m == SYM_NO_MODULE &&
	    atomic_load_explicit(&c->ctl->nmodules, memory_order_acquire) > c->nmodules_seen) {
		modules_sync(c);
		m = symbolizer_module_of(c->sym, ip);
	}
	return m;
}

/* Items [*mapped, upto) of a shared array of cap items of size bytes have been written
 * by the process and are about to be read here for the first time: once they span
 * MEM_POPULATE_MIN they are mapped in one system call (mem.h) instead of a page fault
 * each few pages.  Never past the last written item: pages of the memfd the process
 * has not written would be allocated, and every page mapped here is one more to unmap
 * at the end (for a short process, most of what its collector costs). */
static void map_ahead(const void *array, size_t size, uint64_t *mapped, uint64_t upto,
		      uint64_t cap)
{
	upto = upto < cap ? upto : cap;
	if (upto <= *mapped || (upto - *mapped) * size < MEM_POPULATE_MIN)
		return;
	mem_advise((const char *)array + *mapped * size, (upto - *mapped) * size,
		   MADV_POPULATE_READ);
	*mapped = upto;
}

/* map_ahead() for a table of the segment, part by part.  Once the items reach the tail,
 * a rest of the head too small to be worth a system call is left to fault in. */
static void map_ahead_part(const struct hs_part *p, size_t size, uint64_t *mapped, uint64_t upto)
{
	upto = upto < p->cap ? upto : p->cap;
	if (*mapped < p->head_cap) {
		map_ahead(p->head, size, mapped, upto, p->head_cap);
		if (upto > p->head_cap)
			*mapped = p->head_cap;
	}
	if (upto > p->head_cap) {
		uint64_t in_tail = *mapped - p->head_cap;
		map_ahead(p->tail, size, &in_tail, upto - p->head_cap, p->cap - p->head_cap);
		*mapped = p->head_cap + in_tail;
	}
}

/* Makes room for stack ids below n.  Returns false when out of memory. */
static bool stats_reserve(collector_t *c, uint64_t n)
{
	if (n <= c->nstats)
		return true;
	if (n > c->stats_cap) {
		uint64_t cap = c->stats_cap ? c->stats_cap : 64;
		while (cap < n)
			cap *= 2;
		struct stack_stats *s = mem_realloc(c->stats, c->nstats * sizeof(*s), cap * sizeof(*s));
		if (!s)
			return false;
		c->stats = s;
		struct stack_copy *k = mem_realloc(c->stacks, c->nstats * sizeof(*k), cap * sizeof(*k));
		if (!k)
			return false;
		c->stacks = k;
		c->stats_cap = cap;
	}
	/* Only the entries now needed are cleared: the rest of a doubled array stays
	 * untouched (each first touch of a page costs 5-10 us on the machines we measure
	 * on), and once the array is 64 KiB or more (mem_realloc()) growing it again copies
	 * only the entries in use. */
	memset(c->stats + c->nstats, 0, (n - c->nstats) * sizeof(*c->stats));
	memset(c->stacks + c->nstats, 0, (n - c->nstats) * sizeof(*c->stacks));
	c->nstats = n;
	return true;
}

/* Copies stack id's frames out of shared memory on first sight.  Returns false (the
 * caller counts a corrupt record) when the entry does not make sense. */
static bool stack_copy(collector_t *c, uint32_t id)
{
	struct stack_copy *k = &c->stacks[id];
	if (k->seen)
		return k->seen == 1;
	if (id == HS_STACK_UNKNOWN) {
		k->seen = 1;
		return true;
	}
	k->seen = 2; /* until the copy below succeeds */
	if (id >= c->stacks_mapped) {
		map_ahead_part(&c->g.stacks, sizeof(struct hs_stack), &c->stacks_mapped,
			       atomic_load_explicit(&c->ctl->nstacks, memory_order_acquire));
		map_ahead_part(&c->g.frames, sizeof(uint64_t), &c->frames_mapped,
			       atomic_load_explicit(&c->ctl->nframes, memory_order_acquire));
	}
	struct hs_stack e = *hs_stack_at(&c->g, id);
	if (e.nframes > c->frame_limit || !hs_run_ok(&c->g.frames, e.first, e.nframes))
		return false;
	if (c->nframes + e.nframes > c->frames_cap) {
		uint64_t cap = c->frames_cap ? c->frames_cap * 2 : 4096;
		while (cap < c->nframes + e.nframes)
			cap *= 2;
		uint64_t *f = mem_realloc(c->frames, c->nframes * sizeof(*f), cap * sizeof(*f));
		if (!f)
			return false;
		c->frames = f;
		uint32_t *m = mem_realloc(c->frame_modules, c->nframes * sizeof(*m),
					  cap * sizeof(*m));
		if (!m)
			return false;
		c->frame_modules = m;
		c->frames_cap = cap;
	}
	if (c->nframes > UINT32_MAX - e.nframes)
		return false;
	k->first = (uint32_t)c->nframes;
	k->nframes = e.nframes;
	k->flags = (uint8_t)(e.flags & HS_STACK_TRUNCATED);
	const uint64_t *src = hs_frames_at(&c->g, e.first);
	for (uint16_t i = 0; i < e.nframes; i++) {
		uint64_t ip = src[i];
		c->frames[c->nframes + i] = ip;
		c->frame_modules[c->nframes + i] = module_of(c, ip);
	}
	c->nframes += e.nframes;
	k->seen = 1;
	return true;
}

/* The live table of a domain, created on first use when create is set; NULL when out
 * of memory, or when the domain has no table and create is not set. */
static addrtab_t *live_of(collector_t *c, uint16_t domain, bool create)
{
	if (domain == 0)
		return &c->live;
	struct domain_live *d;
	HASH_FIND(hh, c->domains, &domain, sizeof(domain), d);
	if (!d && !create)
		return NULL;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d || addrtab_init(&d->live) < 0) {
			free(d);
			return NULL;
		}
		d->domain = domain;
		HASH_ADD(hh, c->domains, domain, sizeof(d->domain), d);
	}
	return &d->live;
}

/* The counters of a stack in a domain, created on first use; NULL when out of memory.
 * For domain 0, stats_reserve() must have made room for the stack id. */
static struct stack_stats *stats_of(collector_t *c, uint32_t stack, uint32_t domain)
{
	if (domain == 0)
		return &c->stats[stack];
	struct domain_stats *d, key;
	memset(&key, 0, sizeof(key));
	key.key.stack = stack;
	key.key.domain = domain;
	HASH_FIND(hh, c->dstats, &key.key, sizeof(key.key), d);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		d->key = key.key;
		HASH_ADD(hh, c->dstats, key, sizeof(d->key), d);
	}
	return &d->s;
}

/* Brings s's at-peak counters up to date before it changes (design.md's epochs). */
static inline void stats_touch(const collector_t *c, struct stack_stats *s)
{
	if (s->mod_epoch < c->epoch) {
		s->peak_bytes = s->inuse_bytes;
		s->peak_blocks = s->inuse_blocks;
		s->mod_epoch = c->epoch;
	}
}

/* Counts size bytes and blocks block units allocated against s. */
static void count_alloc(collector_t *c, struct stack_stats *s, int64_t size, int64_t blocks)
{
	stats_touch(c, s);
	s->inuse_bytes += size;
	s->inuse_blocks += blocks;
	s->alloc_bytes += size;
	s->alloc_blocks += blocks;
	c->current_bytes += size;
	if (c->current_bytes > c->peak_bytes) {
		c->peak_bytes = c->current_bytes;
		c->epoch++;
		timeline_peak(&c->timeline);
	}
}

static void count_release(collector_t *c, struct stack_stats *s, int64_t size, int64_t blocks)
{
	stats_touch(c, s);
	s->inuse_bytes -= size;
	s->inuse_blocks -= blocks;
	c->current_bytes -= size;
}

void collector_count_alloc(collector_t *c, struct stack_stats *s, int64_t size)
{
	count_alloc(c, s, size, 1);
}

void collector_count_release(collector_t *c, struct stack_stats *s, int64_t size)
{
	count_release(c, s, size, 1);
}

/* What a recorded block of size bytes in domain counts for: itself when tracing
 * exactly (or in a heapsnap_track() domain, always recorded), else the bytes and
 * block units a sampled block stands for (sample.h). */
static void weigh(const collector_t *c, uint32_t domain, uint64_t size, int64_t *bytes,
		  int64_t *blocks)
{
	if (!c->sample_period || domain != 0) {
		*bytes = (int64_t)size;
		*blocks = c->block_unit;
		return;
	}
	double w = sample_weight(size, c->sample_period);
	*bytes = llround((double)size * w);
	*blocks = llround(w * (double)c->block_unit);
}

void collector_start(collector_t *c)
{
	c->active = true;
}

void collector_stop(collector_t *c)
{
	c->active = false;
	addrtab_free(&c->live);
	if (addrtab_init(&c->live) < 0)
		c->corrupt++; /* out of memory: the next allocations are counted as corrupt */
	domains_free(c);
	rangetab_free(&c->mapped);
	memset(c->remaps, 0, sizeof(c->remaps));
	for (uint64_t i = 0; i < c->nstats; i++)
		sizedist_free(&c->stats[i].sizes);
	if (c->nstats)
		memset(c->stats, 0, c->nstats * sizeof(*c->stats));
	c->current_bytes = c->peak_bytes = 0;
	c->epoch = 0;
	timeline_note(&c->timeline, 0);
	timeline_peak(&c->timeline);
}

void collector_reset_peak(collector_t *c)
{
	c->peak_bytes = c->current_bytes;
	c->epoch++; /* every stack's at-peak counters are its current ones */
	timeline_peak(&c->timeline);
}

void collector_peak_of(const collector_t *c, const struct stack_stats *s, int64_t *bytes,
		       int64_t *blocks)
{
	bool at_peak = s->mod_epoch == c->epoch;
	*bytes = at_peak ? s->peak_bytes : s->inuse_bytes;
	*blocks = at_peak ? s->peak_blocks : s->inuse_blocks;
}

static void release(collector_t *c, uint32_t stack, uint32_t domain, uint64_t size,
		    bool temporary)
{
	struct stack_stats *s = stats_of(c, stack, domain);
	if (!s) {
		c->corrupt++;
		return;
	}
	int64_t bytes, blocks;
	weigh(c, domain, size, &bytes, &blocks);
	count_release(c, s, bytes, blocks);
	sizedist_release(&s->sizes, size, (sizedist_weight_t){ bytes, blocks });
	if (temporary) {
		s->temp_blocks += blocks;
		s->temp_bytes += bytes;
	}
}

/* The checked stack id and size of an allocation or mapping record: false (counted as
 * corrupt) when the record cannot be used; a bad stack id alone becomes "unknown". */
static bool checked_alloc(collector_t *c, const struct hs_rec *r, uint32_t *stack_out)
{
	uint32_t stack = r->stack;
	uint64_t nstacks = atomic_load_explicit(&c->ctl->nstacks, memory_order_acquire);
	if (stack >= c->g.stacks.cap || stack >= nstacks || !stats_reserve(c, stack + 1ull) ||
	    !stack_copy(c, stack)) {
		c->corrupt++;
		stack = HS_STACK_UNKNOWN;
		if (!stats_reserve(c, 1))
			return false;
		c->stacks[0].seen = 1;
	}
	if (!r->addr || r->size > (uint64_t)INT64_MAX / 4) {
		c->corrupt++;
		return false;
	}
	*stack_out = stack;
	return true;
}

static void on_alloc(collector_t *c, const struct hs_rec *r)
{
	uint32_t stack;
	if (!checked_alloc(c, r, &stack))
		return;
	uint64_t old_size;
	uint32_t old_stack;
	int err;
	addrtab_t *live = live_of(c, r->domain, true);
	struct stack_stats *s = stats_of(c, stack, r->domain);
	if (!live || !s) {
		c->corrupt++;
		return;
	}
	if (addrtab_put(live, r->addr, r->size, stack, &old_size, &old_stack, &err)) {
		/* The block's release was never seen (passed through untraced): drop it. */
		c->missed_frees++;
		release(c, old_stack, r->domain, old_size, false);
	}
	if (err < 0) {
		c->corrupt++;
		return;
	}
	int64_t bytes, blocks;
	weigh(c, r->domain, r->size, &bytes, &blocks);
	if (sizedist_alloc(&s->sizes, r->size, (sizedist_weight_t){ bytes, blocks },
			   &(profile_size_t){
				   .alloc_blocks = s->alloc_blocks, .alloc_bytes = s->alloc_bytes,
				   .inuse_blocks = s->inuse_blocks, .inuse_bytes = s->inuse_bytes }))
		c->corrupt++; /* counted, but not in its size class */
	count_alloc(c, s, bytes, blocks);
}

static void on_free(collector_t *c, const struct hs_rec *r)
{
	uint64_t size;
	uint32_t stack;
	/* A release in a domain never seen is unmatched: it creates no table. */
	addrtab_t *live = live_of(c, r->domain, false);
	if (live && addrtab_take(live, r->addr, &size, &stack))
		release(c, stack, r->domain, size, r->kind == HS_REC_FREE_TEMPORARY);
	else
		c->unmatched_frees++;
}

/* A piece of a mapping shrank or went (rangetab's report). */
static void range_changed(void *arg, uint32_t stack, int64_t bytes, int64_t pieces)
{
	collector_t *c = arg;
	struct stack_stats *s = stats_of(c, stack, PROFILE_DOMAIN_MMAP);
	if (!s) {
		c->corrupt++;
		return;
	}
	count_release(c, s, -bytes, -pieces * c->block_unit);
}

static void map_range(collector_t *c, const struct hs_rec *r, uint32_t stack);

static void on_map(collector_t *c, const struct hs_rec *r)
{
	uint32_t stack;
	if (!checked_alloc(c, r, &stack))
		return;
	map_range(c, r, stack);
}

/* Takes r's range out of the traced mappings; returns the bytes that went.  Unmapping
 * what was never traced (a file mapping, memory mapped before tracing) is no error. */
static uint64_t on_unmap(collector_t *c, const struct hs_rec *r)
{
	uint64_t lost;
	uint64_t took = rangetab_unmap(&c->mapped, r->addr, r->size, range_changed, c, &lost);
	if (lost)
		c->corrupt++; /* out of memory splitting a range: its upper part was dropped */
	return took;
}

/* mremap's old range goes; when it held traced bytes, its REMAP_TO (later in the ring)
 * maps the new range with the call's stack: the pair is matched by this position. */
static void on_remap_from(collector_t *c, const struct hs_rec *r)
{
	if (!on_unmap(c, r))
		return;
	struct pending_remap *slot = &c->remaps[c->nremaps++ % COLLECTOR_REMAPS];
	*slot = (struct pending_remap){ .key = (uint32_t)c->pos, .stack = r->stack, .used = true };
}

static void on_remap_to(collector_t *c, const struct hs_rec *r)
{
	for (unsigned i = 0; i < COLLECTOR_REMAPS; i++) {
		struct pending_remap *p = &c->remaps[i];
		if (p->used && p->key == r->stack) {
			p->used = false;
			struct hs_rec moved = *r;
			moved.stack = p->stack;
			on_map(c, &moved);
			return;
		}
	}
}

static void map_range(collector_t *c, const struct hs_rec *r, uint32_t stack)
{
	struct stack_stats *s = stats_of(c, stack, PROFILE_DOMAIN_MMAP);
	if (!s || !r->size ||
	    rangetab_map(&c->mapped, r->addr, r->size, stack, range_changed, c) < 0) {
		c->corrupt++;
		return;
	}
	if ((int64_t)r->size > s->sizes.max_size)
		s->sizes.max_size = (int64_t)r->size;
	count_alloc(c, s, (int64_t)r->size, c->block_unit); /* mappings are never sampled */
}


static void apply(collector_t *c, const struct hs_rec *r)
{
	if (!c->active) {
		c->events++;
		return; /* dormant or stopped: nothing is kept */
	}
	switch (r->kind) {
	case HS_REC_ALLOC:
		on_alloc(c, r);
		break;
	case HS_REC_FREE:
	case HS_REC_FREE_TEMPORARY:
		on_free(c, r);
		break;
	case HS_REC_NOOP:
		break;
	case HS_REC_MAP:
		on_map(c, r);
		break;
	case HS_REC_UNMAP:
		on_unmap(c, r);
		break;
	case HS_REC_REMAP_FROM:
		on_remap_from(c, r);
		break;
	case HS_REC_REMAP_TO:
		on_remap_to(c, r);
		break;
	default:
		c->corrupt++;
	}
	c->events++;
	timeline_note(&c->timeline, c->current_bytes);
}

uint64_t collector_drain(collector_t *c, uint64_t limit, uint64_t max, bool at_end)
{
	struct hs_ctl *ctl = c->ctl;
	uint64_t n = 0;
	uint64_t head = atomic_load(&ctl->head);
	uint64_t end = at_end ? c->pos + c->g.ring_cap : UINT64_MAX;
	if (at_end && head < end)
		end = head;
	if (c->ring_mapped < c->g.ring_cap)
		map_ahead(c->g.ring, sizeof(*c->g.ring), &c->ring_mapped, head < limit ? head : limit,
			  c->g.ring_cap);
	while (c->pos < limit && c->pos < end && n < max) {
		struct hs_rec r;
		if (ring_read(&c->ring, c->pos, &r)) {
			/* Read after the record: a request its thread made before publishing
			 * it is seen here (ring.h: the count goes up before the position is
			 * taken).  Exact for the thread that took the signal.  Another thread's
			 * record reserved after the request's position is ordered only through
			 * the relaxed add on head: enough on x86-64 (a locked add) and
			 * AArch64, not by the C11 model alone. */
			if (!at_end && atomic_load_explicit(&ctl->req_count, memory_order_acquire) !=
					       c->requests_seen)
				break;
			apply(c, &r);
		} else {
			if (!at_end)
				break;
			c->lost_at_end++;
		}
		c->pos++;
		n++;
		if ((n & 4095) == 0) {
			ring_release(&c->ring, c->pos);
			timeline_at(&c->timeline, prim_now_ns(CLOCK_REALTIME), c->current_bytes);
		}
	}
	if (at_end && c->pos == end && head > end) {
		/* Reserved by threads still waiting for room when the process ended. */
		c->lost_at_end += head - end;
		c->pos = head;
	}
	if (n)
		ring_release(&c->ring, c->pos);
	return n;
}

uint64_t collector_memory(const collector_t *c)
{
	uint64_t domains = 0, rows = 0;
	for (const struct domain_live *d = c->domains; d; d = d->hh.next)
		domains += sizeof(*d) + addrtab_memory(&d->live);
	domains += HASH_COUNT(c->dstats) * (sizeof(struct domain_stats) + 16);
	for (const struct domain_stats *d = c->dstats; d; d = d->hh.next)
		rows += sizedist_memory(&d->s.sizes);
	for (uint64_t i = 0; i < c->nstats; i++)
		rows += sizedist_memory(&c->stats[i].sizes);
	domains += rows;
	return domains + addrtab_memory(&c->live) + rangetab_memory(&c->mapped) +
	       c->stats_cap * (sizeof(*c->stats) + sizeof(*c->stacks)) +
	       c->frames_cap * (sizeof(*c->frames) + sizeof(*c->frame_modules)) +
	       symbolizer_memory(c->sym);
}

/* Bytes of the shared segment in use: the ring, and the stack table so far. */
static uint64_t shm_memory(const collector_t *c)
{
	uint64_t stacks = atomic_load(&c->ctl->nstacks), frames = atomic_load(&c->ctl->nframes);
	if (stacks > c->g.stacks.cap)
		stacks = c->g.stacks.cap;
	if (frames > c->g.frames.cap)
		frames = c->g.frames.cap;
	return c->g.ring_cap * sizeof(struct hs_rec) +
	       stacks * (sizeof(struct hs_stack) + 2 * sizeof(struct hs_slot)) +
	       frames * sizeof(uint64_t);
}

/* A location of the profile being built, by (module, frame address). */
struct loc_key {
	uint64_t ip;
	uint32_t module;
	uint32_t loc;
};

/* A per-profile map from (module, frame address) to location index. */
struct loc_map {
	struct loc_key *keys; /* in the order first seen */
	size_t n, cap;
	idxtab_t table;       /* indexes keys */
};

static uint64_t loc_hash(uint64_t ip, uint32_t module)
{
	return (ip ^ ((uint64_t)module << 40)) * 0x9e3779b97f4a7c15ull >> 17;
}

static uint64_t loc_key_hash(const void *ctx, uint32_t i)
{
	const struct loc_key *k = &((const struct loc_map *)ctx)->keys[i];
	return loc_hash(k->ip, k->module);
}

/* A (module, frame address) looked up in a loc_map. */
struct loc_probe {
	const struct loc_map *m;
	uint64_t ip;
	uint32_t module;
};

static bool loc_probe_eq(const void *ctx, uint32_t i)
{
	const struct loc_probe *p = ctx;
	return p->m->keys[i].ip == p->ip && p->m->keys[i].module == p->module;
}

/* Stores in *loc the location of frame ip in module, symbolizing it into p on first
 * sight.  Returns 0 or a negative errno. */
static int loc_of(collector_t *c, profile_t *p, struct loc_map *lm, uint32_t *mapping_cache,
		  uint64_t ip, uint32_t module, uint32_t *loc)
{
	if (idxtab_reserve(&lm->table, lm->n + 1, lm->n, loc_key_hash, lm))
		return -ENOMEM;
	struct loc_probe probe = { lm, ip, module };
	uint32_t *slot = idxtab_probe(&lm->table, loc_hash(ip, module), loc_probe_eq, &probe);
	if (*slot) {
		*loc = lm->keys[*slot - 1].loc;
		return 0;
	}
	if (vec_reserve((void **)&lm->keys, &lm->cap, lm->n + 1, sizeof(*lm->keys)))
		return -ENOMEM;
	int r = symbolizer_add_location(c->sym, p, module, ip, mapping_cache, loc);
	if (r < 0)
		return r;
	lm->keys[lm->n] = (struct loc_key){ .ip = ip, .module = module, .loc = *loc };
	*slot = (uint32_t)++lm->n;
	return 0;
}

/* Turns the block units (1/unit blocks) of the field at off of rows[0..n) into whole
 * blocks that add up to total, the sample's own rounded count, by largest remainder:
 * a sampled stack's size classes add up to what top says of it. */
static void blocks_of_units(profile_size_t *rows, uint32_t n, int64_t unit, size_t off,
			    int64_t total)
{
	int64_t rem[PROFILE_SIZE_CLASSES], sum = 0;
	if (!n)
		return;
	for (uint32_t i = 0; i < n; i++) {
		int64_t *v = (int64_t *)((char *)&rows[i] + off);
		rem[i] = *v % unit;
		*v /= unit;
		sum += *v;
	}
	for (int64_t extra = total - sum; extra > 0; extra--) {
		uint32_t best = 0;
		for (uint32_t i = 1; i < n; i++)
			if (rem[i] > rem[best])
				best = i;
		if (rem[best] < 0)
			break;
		rem[best] = -1;
		(*(int64_t *)((char *)&rows[best] + off))++;
	}
}

static int add_sample(collector_t *c, profile_t *p, struct loc_map *lm, uint32_t *mapping_cache,
		      uint32_t id, uint32_t domain, const struct stack_stats *s)
{
	const struct stack_copy *k = &c->stacks[id];
	uint32_t locs[HS_FRAMES_MAX];
	for (uint16_t i = 0; i < k->nframes; i++) {
		int r = loc_of(c, p, lm, mapping_cache, c->frames[k->first + i],
			       c->frame_modules[k->first + i], &locs[i]);
		if (r < 0)
			return r;
	}
	int64_t peak_bytes, peak_blocks;
	collector_peak_of(c, s, &peak_bytes, &peak_blocks);
	int64_t unit = c->block_unit, half = unit / 2;
	int64_t value[PV_COUNT] = {
		[PV_ALLOC_OBJECTS] = (s->alloc_blocks + half) / unit,
		[PV_ALLOC_SPACE] = s->alloc_bytes,
		[PV_INUSE_OBJECTS] = (s->inuse_blocks + half) / unit,
		[PV_INUSE_SPACE] = s->inuse_bytes,
		[PV_PEAK_OBJECTS] = (peak_blocks + half) / unit,
		[PV_PEAK_SPACE] = peak_bytes,
		[PV_TEMPORARY_OBJECTS] = (s->temp_blocks + half) / unit,
		[PV_TEMPORARY_SPACE] = s->temp_bytes,
	};
	int r = profile_add_sample(p, locs, k->nframes, value, domain, k->flags & HS_STACK_TRUNCATED);
	if (r < 0)
		return r;
	profile_size_t rows[PROFILE_SIZE_CLASSES];
	const profile_size_t whole = { .alloc_blocks = s->alloc_blocks, .alloc_bytes = s->alloc_bytes,
				       .inuse_blocks = s->inuse_blocks,
				       .inuse_bytes = s->inuse_bytes };
	p->samples[p->nsamples - 1].max_size = s->sizes.max_size;
	/* A mapping can lose part of itself, so its size class says nothing of what is
	 * live: the mmap domain has its largest mapping, but no classes. */
	if (domain == PROFILE_DOMAIN_MMAP)
		return 0;
	uint32_t n = sizedist_rows(&s->sizes, &whole, rows);
	if (unit > 1) {
		blocks_of_units(rows, n, unit, offsetof(profile_size_t, alloc_blocks),
				value[PV_ALLOC_OBJECTS]);
		blocks_of_units(rows, n, unit, offsetof(profile_size_t, inuse_blocks),
				value[PV_INUSE_OBJECTS]);
	}
	return profile_set_sizes(p, p->nsamples - 1, rows, n);
}

/* Whether domain 0's stack id makes a sample: a stack copied and allocated from. */
static bool has_sample(const collector_t *c, uint64_t id)
{
	return c->stacks[id].seen == 1 && c->stats[id].alloc_blocks > 0;
}

int collector_profile(collector_t *c, const char *trigger, uint64_t merged, profile_t **out)
{
	profile_t *p = profile_new();
	if (!p)
		return -ENOMEM;
	struct hs_ctl *ctl = c->ctl;
	uint64_t now = prim_now_ns(CLOCK_REALTIME);
	p->meta.pid = c->pid;
	p->meta.trigger = profile_intern(p, trigger);
	p->meta.time_nanos = (int64_t)now;
	p->meta.duration_nanos = now > c->start_nanos ? (int64_t)(now - c->start_nanos) : 0;
	p->meta.frame_limit = c->frame_limit;
	p->meta.sampling_period = (int64_t)c->sample_period;
	p->meta.current_bytes = c->current_bytes;
	p->meta.peak_bytes = c->peak_bytes;
	p->meta.lost_events = (int64_t)(atomic_load(&ctl->lost) + c->lost_at_end);
	p->meta.corrupt_records = (int64_t)c->corrupt;
	p->meta.unmatched_frees = (int64_t)c->unmatched_frees;
	p->meta.missed_frees = (int64_t)c->missed_frees;
	p->meta.dropped_stacks = (int64_t)atomic_load(&ctl->dropped_stacks);
	p->meta.merged_requests = (int64_t)merged;
	p->meta.overhead_bytes = (int64_t)(collector_memory(c) + shm_memory(c));
	if (!c->active)
		p->meta.tracing_off = 1; /* the fact is written only then */
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	p->has_max_size = p->has_sizes = true;
	timeline_at(&c->timeline, now, c->current_bytes);
	profile_timeline_t tl;
	timeline_view(&c->timeline, &tl);
	if (profile_set_timeline(p, &tl) < 0) {
		profile_free(p);
		return -ENOMEM;
	}

	uint32_t nmod = symbolizer_modules(c->sym);
	uint32_t *mapping_cache = malloc((nmod + 1) * sizeof(*mapping_cache));
	struct loc_map lm = { 0 };
	int r = mapping_cache ? 0 : -ENOMEM;
	for (uint32_t i = 0; mapping_cache && i <= nmod; i++)
		mapping_cache[i] = PROFILE_NONE;
	if (r == 0)
		r = symbolizer_add_main_mapping(c->sym, p, mapping_cache);
	size_t nsamples = HASH_COUNT(c->dstats);
	for (uint64_t id = 0; id < c->nstats; id++)
		nsamples += has_sample(c, id);
	if (r == 0)
		r = profile_reserve_samples(p, nsamples);
	for (uint64_t id = 0; r == 0 && id < c->nstats; id++)
		if (has_sample(c, id))
			r = add_sample(c, p, &lm, mapping_cache, (uint32_t)id, 0, &c->stats[id]);
	for (const struct domain_stats *d = c->dstats; r == 0 && d; d = d->hh.next)
		if (d->s.alloc_blocks > 0)
			r = add_sample(c, p, &lm, mapping_cache, d->key.stack, d->key.domain,
				       &d->s);
	free(lm.keys);
	idxtab_free(&lm.table);
	free(mapping_cache);
	if (r < 0) {
		profile_free(p);
		return r;
	}
	*out = p;
	return 0;
}

int collector_store_rules(collector_t *c)
{
	uint64_t n = atomic_load_explicit(&c->ctl->nlearnt, memory_order_acquire);
	if (n > c->g.learnt.cap)
		n = c->g.learnt.cap;
	if (!n || !c->sym)
		return 0;
	uint64_t *ips = malloc(n * sizeof(*ips));
	struct hs_cfi_entry *rules = malloc(n * sizeof(*rules));
	int r = ips && rules ? 0 : -ENOMEM;
	size_t k = 0;
	for (uint64_t i = 0; r == 0 && i < n; i++) {
		const struct hs_learnt *l = hs_learnt_at(&c->g, i);
		if (!atomic_load_explicit(&l->ready, memory_order_acquire))
			continue;
		/* Each field read once; symcache_store_rules() leaves out what is invalid. */
		const volatile struct hs_learnt *v = l;
		ips[k] = v->ip;
		rules[k] = (struct hs_cfi_entry){ .off = v->off, .rbp_off = v->rbp_off,
						  .kind = v->kind };
		k++;
	}
	if (r == 0)
		r = symbolizer_store_rules(c->sym, ips, rules, k);
	free(ips);
	free(rules);
	return r;
}
