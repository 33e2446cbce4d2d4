/* shmlayout.c - computing, writing and checking the segment's layout (see shmlayout.h).
 *
 * Built into libheapsnap.so and into the collector, so the writer and the checker of
 * the header share one computation: the collector recomputes every offset from the two
 * capacities it reads and accepts the segment only when all of them agree.
 */
#include "shmlayout.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define HS_MODULES_CAP 4096u
#define HS_PATHS_CAP (1u << 20)
#define HS_FRAMES_PER_STACK 12u

/* The heads (shmlayout.h, struct hs_table): enough for a process of a few thousand
 * stacks, 700 KiB in all with the whole module table, which leaves the first 1.3 MiB of
 * the ring in the first region too.  The slots' head holds their first four levels. */
#define HS_PATHS_HEAD (32u << 10)
#define HS_LEARNT_HEAD 4096u
#define HS_STACKS_HEAD 8192u
#define HS_FRAMES_HEAD 32768u
#define HS_SLOTS_HEAD (HS_SLOTS_LEVEL0 * 8)

_Static_assert(sizeof(struct hs_ctl) + HS_MODULES_CAP * sizeof(struct hs_module) +
		       HS_PATHS_HEAD + HS_LEARNT_HEAD * sizeof(struct hs_learnt) +
		       HS_STACKS_HEAD * sizeof(struct hs_stack) + HS_FRAMES_HEAD * sizeof(uint64_t) +
		       HS_SLOTS_HEAD * sizeof(struct hs_slot) + 8 * HS_PAGE <= HS_REGION / 2,
	       "the heads leave most of the first region to the ring");

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Places count elements of size bytes at *off; returns their offset. */
static uint64_t place(uint64_t *off, uint64_t count, uint64_t size)
{
	uint64_t at = *off;
	*off = round_up(at + count * size, HS_PAGE);
	return at;
}

static void place_head(struct hs_table *t, uint64_t *off, uint64_t cap, uint64_t head,
		       uint64_t size)
{
	t->cap = cap;
	t->head_cap = cap < head ? cap : head;
	t->head_off = place(off, t->head_cap, size);
}

static void place_tail(struct hs_table *t, uint64_t *off, uint64_t size)
{
	t->tail_off = place(off, t->cap - t->head_cap, size);
}

int hs_layout_compute(uint64_t ring_cap, uint64_t stacks_cap, struct hs_layout *out)
{
	if (!is_pow2(ring_cap) || ring_cap < HS_RING_MIN || ring_cap > HS_RING_MAX ||
	    stacks_cap < HS_STACKS_MIN || stacks_cap > HS_STACKS_MAX)
		return -EINVAL;
	struct hs_layout l = { .ring_cap = ring_cap };
	uint64_t slots_cap = 1;
	while (slots_cap < stacks_cap * 2)
		slots_cap <<= 1;
	uint64_t off = round_up(sizeof(struct hs_ctl), HS_PAGE);
	place_head(&l.modules, &off, HS_MODULES_CAP, HS_MODULES_CAP, sizeof(struct hs_module));
	place_head(&l.paths, &off, HS_PATHS_CAP, HS_PATHS_HEAD, 1);
	place_head(&l.learnt, &off, HS_LEARNT_CAP, HS_LEARNT_HEAD, sizeof(struct hs_learnt));
	place_head(&l.stacks, &off, stacks_cap, HS_STACKS_HEAD, sizeof(struct hs_stack));
	place_head(&l.frames, &off, stacks_cap * HS_FRAMES_PER_STACK, HS_FRAMES_HEAD,
		   sizeof(uint64_t));
	place_head(&l.slots, &off, slots_cap, HS_SLOTS_HEAD, sizeof(struct hs_slot));
	l.ring_off = place(&off, ring_cap, sizeof(struct hs_rec));
	place_tail(&l.modules, &off, sizeof(struct hs_module));
	place_tail(&l.paths, &off, 1);
	place_tail(&l.learnt, &off, sizeof(struct hs_learnt));
	place_tail(&l.stacks, &off, sizeof(struct hs_stack));
	place_tail(&l.frames, &off, sizeof(uint64_t));
	place_tail(&l.slots, &off, sizeof(struct hs_slot));
	l.total = off;
	*out = l;
	return 0;
}

void hs_layout_write(struct hs_ctl *ctl, const struct hs_layout *l, uint32_t frame_limit)
{
	ctl->magic = HS_SHM_MAGIC;
	ctl->version = HS_SHM_VERSION;
	ctl->frame_limit = frame_limit;
	ctl->layout = *l;
}

int hs_layout_read(const struct hs_ctl *ctl, uint64_t total, struct hs_layout *out,
		   uint32_t *frame_limit)
{
	/* Each field is read once, then checked, then used: the program can write the
	 * segment at any moment. */
	const volatile struct hs_ctl *v = ctl;
	struct hs_layout seen;
	memcpy(&seen, (const void *)&v->layout, sizeof(seen));
	uint64_t magic = v->magic;
	uint32_t version = v->version, frames = v->frame_limit;
	struct hs_layout want;
	if (magic != HS_SHM_MAGIC || version != HS_SHM_VERSION || frames == 0 ||
	    frames > HS_FRAMES_MAX || seen.total != total ||
	    hs_layout_compute(seen.ring_cap, seen.stacks.cap, &want) < 0 ||
	    memcmp(&seen, &want, sizeof(want)) != 0)
		return -EINVAL;
	*out = want;
	*frame_limit = frames;
	return 0;
}

static struct hs_part part_of(char *base, const struct hs_table *t)
{
	return (struct hs_part){ .head = base + t->head_off, .tail = base + t->tail_off,
				 .head_cap = t->head_cap, .cap = t->cap };
}

struct hs_geometry hs_geometry_of(struct hs_ctl *ctl, const struct hs_layout *l)
{
	char *base = (char *)ctl;
	return (struct hs_geometry){
		.ring = (struct hs_rec *)(base + l->ring_off), .ring_cap = l->ring_cap,
		.modules = part_of(base, &l->modules),
		.paths = part_of(base, &l->paths),
		.learnt = part_of(base, &l->learnt),
		.stacks = part_of(base, &l->stacks),
		.frames = part_of(base, &l->frames),
		.slots = part_of(base, &l->slots),
	};
}
