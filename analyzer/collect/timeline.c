/* timeline.c - memory over time at bounded resolution (see timeline.h). */
#include "timeline.h"

#include <errno.h>
#include <stdlib.h>

#include "vec.h"

void timeline_init(timeline_t *t, uint64_t start_ns, int64_t total)
{
	t->start_ns = start_ns;
	t->interval_ns = TIMELINE_FIRST_INTERVAL_NS;
	t->n = 1;
	t->min[0] = t->max[0] = total;
	t->peak_ns = -1;
	t->peak_pending = false;
	t->snaps = NULL;
	t->nsnaps = t->snaps_cap = 0;
}

void timeline_free(timeline_t *t)
{
	free(t->snaps);
	t->snaps = NULL;
	t->nsnaps = t->snaps_cap = 0;
}

/* Halves the resolution: point i becomes points 2i and 2i+1 merged. */
static void timeline_halve(timeline_t *t)
{
	uint32_t n = (t->n + 1) / 2;
	for (uint32_t i = 0; i < n; i++) {
		int64_t lo = t->min[2 * i], hi = t->max[2 * i];
		if (2 * i + 1 < t->n) {
			if (t->min[2 * i + 1] < lo)
				lo = t->min[2 * i + 1];
			if (t->max[2 * i + 1] > hi)
				hi = t->max[2 * i + 1];
		}
		t->min[i] = lo;
		t->max[i] = hi;
	}
	t->n = n;
	t->interval_ns *= 2;
}

void timeline_at(timeline_t *t, uint64_t now_ns, int64_t total)
{
	uint64_t since = now_ns > t->start_ns ? now_ns - t->start_ns : 0;
	if (t->peak_pending) {
		t->peak_ns = (int64_t)since;
		t->peak_pending = false;
	}
	while (since / t->interval_ns >= TIMELINE_POINTS)
		timeline_halve(t);
	uint64_t idx = since / t->interval_ns;
	for (; t->n <= idx; t->n++)
		t->min[t->n] = t->max[t->n] = total;
}

int timeline_snap(timeline_t *t, uint64_t now_ns)
{
	if (t->nsnaps >= PROFILE_TIMELINE_MAX)
		return 0; /* a storm: the first ones tell enough */
	if (vec_reserve((void **)&t->snaps, &t->snaps_cap, t->nsnaps + 1, sizeof(*t->snaps)))
		return -ENOMEM;
	t->snaps[t->nsnaps++] = now_ns > t->start_ns ? (int64_t)(now_ns - t->start_ns) : 0;
	return 0;
}

void timeline_view(const timeline_t *t, profile_timeline_t *out)
{
	*out = (profile_timeline_t){
		.n = t->n,
		.interval_nanos = (int64_t)t->interval_ns,
		.min_bytes = (int64_t *)t->min,
		.max_bytes = (int64_t *)t->max,
		.peak_nanos = t->peak_ns,
		.nsnaps = t->nsnaps,
		.snap_nanos = t->snaps,
	};
}
