/* stats_internal.h - what stats.c (grouping), stats_sort.c (orders) and
 * stats_compare.c (diffs) share.  Internal to analyzer/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "idxtab.h"
#include "stats.h"
#include "vec.h"

#define NO_ID UINT32_MAX

/* An insert-only set of frames compared by pointer identity; ids are dense. */
typedef struct frametab {
	stats_frame_t *frames;
	uint32_t n;
	size_t cap;
	idxtab_t table; /* frames by hash_ptr: pointer identity */
} frametab_t;

/* A group being accumulated.  For tracebacks, off/len locate its frame ids. */
struct group {
	uint64_t hash;
	size_t off;
	uint32_t len;
	uint32_t key;
	int64_t size, count;
	int64_t max_size;
	bool truncated;
};

struct stats_store {
	frametab_t full;    /* every distinct frame; traceback entries index it */
	frametab_t keys;    /* projected keys, for the other keys */
	uint32_t *seqbuf;   /* traceback frame ids, back to back */
	stats_t *parts[2];  /* stats_compare(): the grouped old and new profiles */
};

static inline uint64_t hash_mix(uint64_t h, uint64_t v)
{
	h = (h << 5 | h >> 59) ^ v;
	return h * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t hash_finish(uint64_t h)
{
	return h ^ (h >> 29) ^ (h >> 47);
}

/* Sorts s's entries in its order (statistics or compare); with limit, only the first
 * limit entries are selected and sorted.  Returns 0 or -ENOMEM. */
int stats_sort(stats_t *s, size_t limit);

/* Sums of magnitudes below this fit an int64, and so does any difference of two. */
#define STATS_SUM_LIMIT ((uint64_t)1 << 62)

/* Returns -EOVERFLOW unless the magnitudes of s's entries' sizes, counts and diffs,
 * each summed, and its totals stay below STATS_SUM_LIMIT: then stats_rest() and the
 * diffs of a comparison cannot overflow.  Returns 0 otherwise. */
int stats_check_sums(const stats_t *s);

/* Orders two frames by function, file, line, module (a total order). */
int stats_frame_cmp(const stats_frame_t *a, const stats_frame_t *b);

/* A hash of frame f by the content of its strings, equal for frames of two profiles
 * that stats_frame_cmp() finds equal. */
uint64_t stats_frame_hash_str(const stats_frame_t *f);

/* Checks options against the profile: -ENODATA for a metric it lacks, -EINVAL for
 * a bad combination.  Returns 0 when they fit. */
int stats_check_options(const profile_t *p, const stats_options_t *opt);

/* The part of frame f that key k groups by (all of it for traceback). */
stats_frame_t stats_frame_project(enum stats_key k, const stats_frame_t *f);

/* A new empty result for opt's key and metric, or NULL when out of memory. */
stats_t *stats_alloc(const stats_options_t *opt);

/* Matches the entries of new to those of old by symbolized key (strings, never
 * pointers): match[i] (room for new->nentries) becomes the index of the entry of old
 * with the key of new's entry i, or NO_ID.  Both must have one key and no key twice.
 * For tracebacks, when frame_map is not NULL, *frame_map becomes a malloc'd map from
 * new's frame ids to old's (NO_ID where old lacks the frame) for the caller to free.
 * Returns 0, or -ENOMEM leaving *frame_map untouched. */
int stats_match(const stats_t *old, const stats_t *new, uint32_t *match, uint32_t **frame_map);
