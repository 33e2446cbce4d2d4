/* sizedist.h - a stack's blocks by power-of-two size class, and its largest block.
 *
 * Most stacks allocate one size, or sizes of one class.  While that holds, a
 * distribution has no rows: the stack's own counters (allocated and live, blocks and
 * bytes) are its one class's counters, and it costs a byte.  The first block of a
 * second class makes rows, one per class seen, starting from the stack's counters so
 * far; from then on every allocation and release updates its class's row, found in
 * O(1) through a per-class index.
 */
#pragma once

#include <stdint.h>

#include "profile.h"

struct sizedist_rows; /* the rows and their index by class */

/* All zeros is an empty distribution. */
typedef struct sizedist {
	struct sizedist_rows *rows; /* NULL while every block is in one class */
	int64_t max_size;           /* the largest block so far */
	uint8_t only;               /* 1 + the class of the first block; 0 before any */
} sizedist_t;

/* What one block counts for in its class, in the stack's own units: its size and 1
 * when traced exactly; under sampling, the bytes and block units (1/1024 blocks) a
 * sampled block stands for, as the stack's counters count it. */
typedef struct sizedist_weight {
	int64_t bytes, blocks;
} sizedist_weight_t;

/* The rows' part of sizedist_alloc(), out of line. */
int sizedist_alloc_rows(sizedist_t *d, uint64_t size, sizedist_weight_t w,
			const profile_size_t *whole);

/* Counts an allocation of size bytes (below 2^63), weighing w, in size's class.
 * whole holds the stack's counters before it (cls ignored): the rows start from them
 * when a second class appears.  Returns 0, -EINVAL for a size of 2^63 or more
 * (nothing counted), or -ENOMEM when the block could not be counted in its class (the
 * largest block still is). */
static inline int sizedist_alloc(sizedist_t *d, uint64_t size, sizedist_weight_t w,
				 const profile_size_t *whole)
{
	uint32_t c = profile_size_class(size);
	if (d->only == c + 1 && !d->rows) {
		if ((int64_t)size > d->max_size)
			d->max_size = (int64_t)size;
		return 0;
	}
	return sizedist_alloc_rows(d, size, w, whole);
}

/* The rows' part of sizedist_release(), out of line. */
void sizedist_release_rows(sizedist_t *d, uint64_t size, sizedist_weight_t w);

/* Counts the release of a block of size bytes counted by sizedist_alloc() with w. */
static inline void sizedist_release(sizedist_t *d, uint64_t size, sizedist_weight_t w)
{
	if (d->rows)
		sizedist_release_rows(d, size, w);
}

/* Copies the classes of d into out (room for PROFILE_SIZE_CLASSES), by increasing
 * class, and returns how many: whole, the stack's counters now, stands for the one
 * class when d has no rows. */
uint32_t sizedist_rows(const sizedist_t *d, const profile_size_t *whole, profile_size_t *out);

/* The bytes d holds besides itself. */
size_t sizedist_memory(const sizedist_t *d);

void sizedist_free(sizedist_t *d);
