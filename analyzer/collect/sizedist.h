/* sizedist.h - a stack's blocks by power-of-two size class, and its largest block.
 *
 * Most stacks allocate one size, or sizes of one class.  While that holds, a
 * distribution has no rows: the stack's own counters (allocated and live, blocks and
 * bytes) are its one class's counters, and it costs a byte.  The first block of a
 * second class makes rows, one per class seen, in increasing class order, starting
 * from the stack's counters so far; from then on every allocation and release updates
 * its class's row.  Updates are O(classes seen), at most PROFILE_SIZE_CLASSES.
 */
#pragma once

#include <stdint.h>

#include "profile.h"

/* All zeros is an empty distribution. */
typedef struct sizedist {
	profile_size_t *rows; /* NULL while every block is in one class */
	int64_t max_size;     /* the largest block so far */
	uint8_t only;         /* 1 + the class of the first block; 0 before any */
	uint8_t n, cap;       /* rows in use and allocated */
} sizedist_t;

/* Counts an allocation of size bytes.  whole holds the stack's counters before it
 * (cls ignored): the rows start from them when a second class appears.  Returns 0, or
 * -ENOMEM when the block could not be counted in its class (the largest block still
 * is). */
int sizedist_alloc(sizedist_t *d, uint64_t size, const profile_size_t *whole);

/* Counts the release of a block of size bytes counted by sizedist_alloc(). */
void sizedist_release(sizedist_t *d, uint64_t size);

/* Copies the classes of d into out (room for PROFILE_SIZE_CLASSES) and returns how
 * many: whole, the stack's counters now, stands for the one class when d has no rows. */
uint32_t sizedist_rows(const sizedist_t *d, const profile_size_t *whole, profile_size_t *out);

void sizedist_free(sizedist_t *d);
