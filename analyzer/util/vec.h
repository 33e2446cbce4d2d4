/* vec.h - the analyzer's one growable-array helper.
 *
 * A vector is a pointer, a count the caller keeps, and a capacity in elements.
 * vec_reserve() grows the capacity by doubling (from 16), checking every size
 * computation for overflow, so appending n elements costs O(n) amortized.
 */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"

/* Makes room for need elements of size elem in *vec, whose capacity is *cap.
 * Returns 0, or -ENOMEM with *vec and *cap untouched (out of memory, or need * elem
 * does not fit a size_t). */
static inline int vec_reserve(void **vec, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	void *n = mem_realloc(*vec, *cap * elem, ncap * elem);
	if (!n)
		return -ENOMEM;
	*vec = n;
	*cap = ncap;
	return 0;
}
