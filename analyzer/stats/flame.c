/* flame.c - call trees of heap profiles, built from traceback groups.
 *
 * stats_group() with the traceback key does the charging, filtering and grouping; this
 * file only turns each group's frames (charged frame first) into a path from the root
 * (outermost first).  Frames are interned by content, since the two profiles of a
 * diff share no pointers; a grouping's frame ids are mapped to ours once each, so a
 * stack costs a table lookup per frame for its node, keyed by (parent, frame).  Every
 * node on a stack's path adds the stack's values, so a node's total includes its
 * descendants and needs no second pass.
 */
#include "flame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idxtab.h"
#include "stats_internal.h"
#include "vec.h"

struct flame_store {
	size_t frames_cap, hash_cap, nodes_cap, total_cap;
	uint64_t *frame_hash; /* per frame */
	idxtab_t frame_tab;   /* frames by content */
	idxtab_t node_tab;    /* nodes by (parent, frame) */
};

static uint64_t node_hash_of(uint32_t parent, uint32_t frame)
{
	return hash_finish(hash_mix(hash_mix(0, parent), frame));
}

static uint64_t node_hash(const void *ctx, uint32_t i)
{
	const flame_t *f = ctx;
	return node_hash_of(f->nodes[i].parent, f->nodes[i].frame);
}

static uint64_t frame_hash(const void *ctx, uint32_t i)
{
	return ((const flame_t *)ctx)->store->frame_hash[i];
}

/* Appends a node with zero totals; returns its index or FLAME_NONE when out of memory. */
static uint32_t flame_push_node(flame_t *f, uint32_t parent, uint32_t frame)
{
	struct flame_store *st = f->store;
	size_t stride = f->nsets * FLAME_NVALUES;
	if (f->nnodes >= FLAME_NONE - 1 ||
	    vec_reserve((void **)&f->nodes, &st->nodes_cap, f->nnodes + 1, sizeof(*f->nodes)) ||
	    vec_reserve((void **)&f->total, &st->total_cap, (f->nnodes + 1) * stride,
			sizeof(*f->total)))
		return FLAME_NONE;
	f->nodes[f->nnodes] = (flame_node_t){ .parent = parent, .frame = frame };
	memset(&f->total[f->nnodes * stride], 0, stride * sizeof(*f->total));
	return (uint32_t)f->nnodes++;
}

flame_t *flame_new(size_t nsets)
{
	if (nsets < 1 || nsets > FLAME_MAX_SETS)
		return NULL;
	flame_t *f = calloc(1, sizeof(*f));
	if (!f || !(f->store = calloc(1, sizeof(*f->store)))) {
		free(f);
		return NULL;
	}
	f->nsets = nsets;
	if (flame_push_node(f, FLAME_NONE, FLAME_NONE) == FLAME_NONE) {
		flame_free(f);
		return NULL;
	}
	return f;
}

void flame_free(flame_t *f)
{
	if (!f)
		return;
	free(f->frames);
	free(f->nodes);
	free(f->total);
	if (f->store) {
		free(f->store->frame_hash);
		idxtab_free(&f->store->frame_tab);
		idxtab_free(&f->store->node_tab);
		free(f->store);
	}
	free(f);
}

struct frame_probe {
	const flame_t *f;
	const stats_frame_t *fr;
	uint64_t hash;
};

static bool frame_probe_eq(const void *ctx, uint32_t i)
{
	const struct frame_probe *p = ctx;
	return p->f->store->frame_hash[i] == p->hash && !stats_frame_cmp(&p->f->frames[i], p->fr);
}

/* Stores the id of a frame equal to fr in *id, adding it when new.  Returns 0 or -ENOMEM. */
static int flame_intern_frame(flame_t *f, const stats_frame_t *fr, uint32_t *id)
{
	struct flame_store *st = f->store;
	if (idxtab_reserve(&st->frame_tab, (size_t)f->nframes + 1, f->nframes, frame_hash, f))
		return -ENOMEM;
	struct frame_probe p = { f, fr, stats_frame_hash_str(fr) };
	uint32_t *slot = idxtab_probe(&st->frame_tab, p.hash, frame_probe_eq, &p);
	if (*slot) {
		*id = *slot - 1;
		return 0;
	}
	if (f->nframes == FLAME_NONE - 1 ||
	    vec_reserve((void **)&f->frames, &st->frames_cap, (size_t)f->nframes + 1,
			sizeof(*f->frames)) ||
	    vec_reserve((void **)&st->frame_hash, &st->hash_cap, (size_t)f->nframes + 1,
			sizeof(*st->frame_hash)))
		return -ENOMEM;
	f->frames[f->nframes] = *fr;
	st->frame_hash[f->nframes] = p.hash;
	*slot = f->nframes + 1;
	*id = f->nframes++;
	return 0;
}

struct node_probe {
	const flame_t *f;
	uint32_t parent, frame;
};

static bool node_probe_eq(const void *ctx, uint32_t i)
{
	const struct node_probe *p = ctx;
	return p->f->nodes[i].parent == p->parent && p->f->nodes[i].frame == p->frame;
}

/* The child of parent for frame, added when new; FLAME_NONE when out of memory. */
static uint32_t flame_child(flame_t *f, uint32_t parent, uint32_t frame)
{
	struct flame_store *st = f->store;
	if (idxtab_reserve(&st->node_tab, f->nnodes + 1, f->nnodes, node_hash, f))
		return FLAME_NONE;
	struct node_probe p = { f, parent, frame };
	uint32_t *slot = idxtab_probe(&st->node_tab, node_hash_of(parent, frame), node_probe_eq, &p);
	if (*slot)
		return *slot - 1;
	uint32_t n = flame_push_node(f, parent, frame);
	if (n != FLAME_NONE)
		*slot = n + 1;
	return n;
}

/* The previous stack's path, outermost first: consecutive stacks often share their
 * outer frames, which then need no lookup. */
struct flame_path {
	uint32_t *frames, *nodes;
	size_t len, cap, nodes_cap;
};

/* Adds one traceback entry; map caches the grouping's frame ids as ours. */
static int flame_add_entry(flame_t *f, const stats_entry_t *e, uint32_t *map,
			   struct flame_path *prev, size_t set, size_t v)
{
	uint32_t node = 0;
	size_t depth = 0;
	if (vec_reserve((void **)&prev->frames, &prev->cap, e->nframes, sizeof(uint32_t)) ||
	    vec_reserve((void **)&prev->nodes, &prev->nodes_cap, e->nframes, sizeof(uint32_t)))
		return -ENOMEM;
	for (uint32_t i = e->nframes; i-- > 0; depth++) {
		uint32_t gid = e->frame_ids[i];
		if (map[gid] == FLAME_NONE && flame_intern_frame(f, &e->frame_table[gid], &map[gid]))
			return -ENOMEM;
		if (depth < prev->len && prev->frames[depth] == map[gid]) {
			node = prev->nodes[depth];
			continue;
		}
		prev->len = depth; /* the paths part here */
		node = flame_child(f, node, map[gid]);
		if (node == FLAME_NONE)
			return -ENOMEM;
		prev->frames[depth] = map[gid];
		prev->nodes[depth] = node;
	}
	prev->len = depth;
	for (uint32_t n = node; n != FLAME_NONE; n = f->nodes[n].parent) {
		int64_t *t = flame_total(f, n, set);
		t[v] += e->size;
		t[v + 1] += e->count;
	}
	return 0;
}

int flame_add(flame_t *f, const profile_t *p, size_t set, const stats_options_t *opt)
{
	if (set >= f->nsets)
		return -EINVAL;
	stats_options_t o = *opt;
	o.key = STATS_KEY_TRACEBACK;
	o.cumulative = false;
	o.sort_limit = SIZE_MAX; /* unordered: groups come in the order samples are met */
	stats_t *s = NULL;
	int r = stats_group(p, &o, &s);
	if (r)
		return r;
	uint32_t nfull = s->store->full.n;
	uint32_t *map = malloc(((size_t)nfull + 1) * sizeof(*map));
	r = map ? 0 : -ENOMEM;
	if (map)
		memset(map, 0xff, ((size_t)nfull + 1) * sizeof(*map));
	struct flame_path prev = { 0 };
	for (size_t i = 0; !r && i < s->nentries; i++)
		r = flame_add_entry(f, &s->entries[i], map, &prev, set, flame_value(o.metric, false));
	free(prev.frames);
	free(prev.nodes);
	free(map);
	stats_free(s);
	return r;
}

void flame_self(const flame_t *f, size_t s, size_t v, int64_t *self)
{
	for (size_t n = 0; n < f->nnodes; n++)
		self[n] = flame_total(f, n, s)[v];
	for (size_t n = 1; n < f->nnodes; n++)
		self[f->nodes[n].parent] -= flame_total(f, n, s)[v];
}

/* A node's weight for flame_limit(): its largest byte total. */
static int64_t flame_weight(const flame_t *f, size_t n)
{
	int64_t w = 0;
	for (size_t s = 0; s < f->nsets; s++)
		for (int m = 0; m < STATS_METRIC_COUNT; m++) {
			int64_t t = flame_total(f, n, s)[flame_value((enum stats_metric)m, false)];
			w = t > w ? t : w;
		}
	return w;
}

static int weight_cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Which nodes flame_limit() keeps: keep[n] is the node's new index or FLAME_NONE. */
static int flame_choose(const flame_t *f, size_t max_nodes, uint32_t *keep)
{
	int64_t *w = malloc(f->nnodes * sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t n = 0; n < f->nnodes; n++)
		w[n] = flame_weight(f, n);
	int64_t *sorted = malloc(f->nnodes * sizeof(*sorted));
	if (!sorted) {
		free(w);
		return -ENOMEM;
	}
	memcpy(sorted, w, f->nnodes * sizeof(*sorted));
	qsort(sorted, f->nnodes, sizeof(*sorted), weight_cmp_desc);
	int64_t cut = sorted[max_nodes - 1];
	size_t above = 0;
	while (above < max_nodes && sorted[above] > cut)
		above++;
	size_t equal_left = max_nodes - above, kept = 0;
	free(sorted);
	for (size_t n = 0; n < f->nnodes; n++) {
		uint32_t parent = f->nodes[n].parent;
		bool ok = n == 0 || (keep[parent] != FLAME_NONE &&
				     (w[n] > cut || (w[n] == cut && equal_left > 0)));
		if (ok && n && w[n] == cut)
			equal_left--;
		keep[n] = ok ? (uint32_t)kept++ : FLAME_NONE;
	}
	free(w);
	return 0;
}

int flame_limit(flame_t *f, size_t max_nodes)
{
	if (max_nodes < 1)
		max_nodes = 1;
	if (f->nnodes <= max_nodes)
		return 0;
	size_t stride = f->nsets * FLAME_NVALUES;
	uint32_t *keep = malloc(f->nnodes * sizeof(*keep));
	uint32_t *other = malloc(f->nnodes * sizeof(*other)); /* per old node: its "other" */
	flame_t *g = flame_new(f->nsets);
	int r = -ENOMEM;
	if (!keep || !other || !g || flame_choose(f, max_nodes, keep))
		goto out;
	memset(other, 0xff, f->nnodes * sizeof(*other));
	for (size_t n = 1; n < f->nnodes; n++) {
		uint32_t parent = f->nodes[n].parent;
		if (keep[n] != FLAME_NONE &&
		    flame_push_node(g, keep[parent], f->nodes[n].frame) == FLAME_NONE)
			goto out;
	}
	memcpy(g->total, f->total, stride * sizeof(*f->total));
	for (size_t n = 1; n < f->nnodes; n++) {
		uint32_t parent = f->nodes[n].parent;
		if (keep[n] != FLAME_NONE) {
			memcpy(&g->total[keep[n] * stride], &f->total[n * stride],
			       stride * sizeof(*f->total));
			continue;
		}
		if (keep[parent] == FLAME_NONE)
			continue;
		if (other[parent] == FLAME_NONE &&
		    (other[parent] = flame_push_node(g, keep[parent], FLAME_NONE)) == FLAME_NONE)
			goto out;
		for (size_t i = 0; i < stride; i++)
			g->total[other[parent] * stride + i] += f->total[n * stride + i];
	}
	/* Take g's arrays; the frames stay. */
	flame_t tmp = *f;
	f->nodes = g->nodes;
	f->nnodes = g->nnodes;
	f->total = g->total;
	f->store->nodes_cap = g->store->nodes_cap;
	f->store->total_cap = g->store->total_cap;
	idxtab_free(&f->store->node_tab);
	g->nodes = tmp.nodes;
	g->total = tmp.total;
	r = 0;
out:
	free(keep);
	free(other);
	flame_free(g);
	return r;
}
