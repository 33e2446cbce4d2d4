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
#define HS_PAGE 4096u

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

int hs_layout_compute(uint64_t ring_cap, uint64_t stacks_cap, struct hs_layout *out)
{
	if (!is_pow2(ring_cap) || ring_cap < HS_RING_MIN || ring_cap > HS_RING_MAX ||
	    stacks_cap < HS_STACKS_MIN || stacks_cap > HS_STACKS_MAX)
		return -EINVAL;
	struct hs_layout l = { .ring_cap = ring_cap, .stacks_cap = stacks_cap };
	l.slots_cap = 1;
	while (l.slots_cap < stacks_cap * 2)
		l.slots_cap <<= 1;
	l.frames_cap = stacks_cap * HS_FRAMES_PER_STACK;
	l.modules_cap = HS_MODULES_CAP;
	l.paths_cap = HS_PATHS_CAP;
	l.learnt_cap = HS_LEARNT_CAP;
	uint64_t off = round_up(sizeof(struct hs_ctl), HS_PAGE);
	l.modules_off = place(&off, l.modules_cap, sizeof(struct hs_module));
	l.paths_off = place(&off, l.paths_cap, 1);
	l.learnt_off = place(&off, l.learnt_cap, sizeof(struct hs_learnt));
	l.stacks_off = place(&off, l.stacks_cap, sizeof(struct hs_stack));
	l.ring_off = place(&off, l.ring_cap, sizeof(struct hs_rec));
	l.frames_off = place(&off, l.frames_cap, sizeof(uint64_t));
	l.slots_off = place(&off, l.slots_cap, sizeof(struct hs_slot));
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
	    hs_layout_compute(seen.ring_cap, seen.stacks_cap, &want) < 0 ||
	    memcmp(&seen, &want, sizeof(want)) != 0)
		return -EINVAL;
	*out = want;
	*frame_limit = frames;
	return 0;
}

struct hs_geometry hs_geometry_of(struct hs_ctl *ctl, const struct hs_layout *l)
{
	char *base = (char *)ctl;
	return (struct hs_geometry){
		.ring = (struct hs_rec *)(base + l->ring_off), .ring_cap = l->ring_cap,
		.slots = (struct hs_slot *)(base + l->slots_off), .slots_cap = l->slots_cap,
		.stacks = (struct hs_stack *)(base + l->stacks_off), .stacks_cap = l->stacks_cap,
		.frames = (uint64_t *)(base + l->frames_off), .frames_cap = l->frames_cap,
		.modules = (struct hs_module *)(base + l->modules_off),
		.modules_cap = l->modules_cap,
		.paths = base + l->paths_off, .paths_cap = l->paths_cap,
		.learnt = (struct hs_learnt *)(base + l->learnt_off), .learnt_cap = l->learnt_cap,
	};
}
