/* intervals.h - sorted address ranges answering "which ranges hold x" by binary search.
 *
 * The symbolizer's lookup tables (symbols, compilation units, the scopes of a unit) are
 * arrays of [lo, hi) ranges that may nest or overlap.  Sorted by lo, with the largest hi
 * of every prefix beside each range, the ranges holding x are found by a binary search
 * for the last lo <= x and a walk back that stops where no earlier range reaches x:
 * O(log n) plus the number of ranges that overlap x.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define INTERVAL_NONE UINT32_MAX

struct interval {
	uint64_t lo, hi;  /* [lo, hi); empty when hi <= lo */
	uint64_t maxhi;   /* largest hi of this range and every one before it; set by sort */
	uint32_t id;      /* the caller's: an index into its own table */
};

/* Sorts v by lo (then id) and fills in maxhi. */
void intervals_sort(struct interval *v, size_t n);

/* The number of ranges with lo <= x: the ranges holding x are among v[0..result),
 * and the walk back from result - 1 may stop at the first i with v[i].maxhi <= x. */
size_t intervals_upper(const struct interval *v, size_t n, uint64_t x);

/* The smallest id of the ranges holding x, or INTERVAL_NONE. */
uint32_t intervals_first(const struct interval *v, size_t n, uint64_t x);
