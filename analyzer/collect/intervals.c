/* intervals.c - sorted address ranges with prefix maxima (see intervals.h). */
#include "intervals.h"

#include <stdlib.h>

static int interval_cmp(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void intervals_sort(struct interval *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), interval_cmp);
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].hi > max)
			max = v[i].hi;
		v[i].maxhi = max;
	}
}

size_t intervals_upper(const struct interval *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t intervals_first(const struct interval *v, size_t n, uint64_t x)
{
	uint32_t best = INTERVAL_NONE;
	for (size_t i = intervals_upper(v, n, x); i-- > 0 && v[i].maxhi > x;)
		if (v[i].hi > x && v[i].id < best)
			best = v[i].id;
	return best;
}
