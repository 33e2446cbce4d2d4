/* flame.h - call trees of heap profiles: what flame graphs draw.
 *
 * A flame_t is a tree of frames, the root's children outermost (main, a thread's start
 * routine), built from the traceback groups of stats_group(): it skips the allocator
 * runtime, filters and picks a domain exactly as `heapsnap top -k traceback` does.
 * Each node holds the totals of the stacks through it, bytes and blocks per metric,
 * for one or two sets of values (a diff's old and new profiles): its own share is its
 * total minus its children's.  flame_limit() keeps the heaviest nodes and merges the
 * others into one "other" child per parent, so what a renderer gets stays bounded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "stats.h"

#define FLAME_NONE UINT32_MAX
#define FLAME_MAX_SETS 2
/* Values per set: index flame_value(metric, blocks). */
#define FLAME_NVALUES (2 * STATS_METRIC_COUNT)

typedef struct flame_node {
	uint32_t parent; /* FLAME_NONE for the root, node 0 */
	uint32_t frame;  /* index into frames; FLAME_NONE for the root and "other" nodes */
} flame_node_t;

typedef struct flame {
	stats_frame_t *frames;  /* distinct frames by content; strings belong to the profiles */
	uint32_t nframes;
	flame_node_t *nodes;    /* a parent always comes before its children */
	size_t nnodes;
	size_t nsets;           /* 1, or 2 for a diff (set 0 old, set 1 new) */
	int64_t *total;         /* per node: nsets * FLAME_NVALUES totals */
	struct flame_store *store; /* private */
} flame_t;

static inline size_t flame_value(enum stats_metric m, bool blocks)
{
	return (size_t)m * 2 + (blocks ? 1 : 0);
}

/* The totals of node n for set s. */
static inline int64_t *flame_total(const flame_t *f, size_t n, size_t s)
{
	return &f->total[(n * f->nsets + s) * FLAME_NVALUES];
}

/* Returns a new tree with only the root, for nsets (1 or 2) sets of values, or NULL
 * when out of memory or nsets is out of range. */
flame_t *flame_new(size_t nsets);
void flame_free(flame_t *f);

/* Groups p by traceback with opt (its key and sort_limit are ignored) and adds every
 * stack, outermost frame first, to set's values of opt->metric.  p must outlive f.
 * Returns 0, or what stats_group() returns (f may then hold part of p). */
int flame_add(flame_t *f, const profile_t *p, size_t set, const stats_options_t *opt);

/* The share of node n itself (its total minus its children's) for set s, value v:
 * fills self[nnodes] (the caller's array).  */
void flame_self(const flame_t *f, size_t s, size_t v, int64_t *self);

/* Keeps max_nodes nodes (at least the root) when there are more: the heaviest by
 * their largest byte total over sets and metrics (ties: the first ones), which keeps
 * every kept node's parent.  The children a kept node loses become one "other" child
 * of it (frame FLAME_NONE) holding their totals, so up to max_nodes more nodes may
 * follow.  Call it last: nodes added afterwards may repeat a path.  Returns 0 or
 * -ENOMEM (f unchanged). */
int flame_limit(flame_t *f, size_t max_nodes);
