/* timeline.h - the traced total over the whole run, at bounded resolution.
 *
 * At most TIMELINE_POINTS points of equal width cover the run so far; each keeps the
 * lowest and highest total seen in its interval.  When the run outgrows them, pairs of
 * points merge (lowest of the lows, highest of the highs) and the width doubles, so
 * memory stays fixed and the peak is never smoothed away.  The collector notes the
 * total after every event (two comparisons) and moves to the current point every few
 * thousand events and when idle, so an event's moment is when the collector consumed
 * it: at most the ring's backlog late.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

#define TIMELINE_POINTS 2000
#define TIMELINE_FIRST_INTERVAL_NS 1000000u /* 1 ms, doubling as the run grows */

typedef struct timeline {
	uint64_t start_ns;    /* CLOCK_REALTIME when tracing started */
	uint64_t interval_ns; /* each point's width */
	uint32_t n;           /* points in use; the last is the current one */
	int64_t min[TIMELINE_POINTS], max[TIMELINE_POINTS];
	int64_t peak_ns;      /* when the peak was reached, since start; -1 before one */
	bool peak_pending;    /* a new peak since the last move: its moment is the next */
	int64_t *snaps;       /* moments of snapshot requests, since start */
	uint32_t nsnaps;
	size_t snaps_cap;
} timeline_t;

void timeline_init(timeline_t *t, uint64_t start_ns, int64_t total);
void timeline_free(timeline_t *t);

/* Moves to the point that holds now_ns (CLOCK_REALTIME), filling the points between
 * with the total then. */
void timeline_at(timeline_t *t, uint64_t now_ns, int64_t total);

/* The total after an event, in the current point. */
static inline void timeline_note(timeline_t *t, int64_t total)
{
	if (!t->n)
		return; /* not started */
	int64_t *lo = &t->min[t->n - 1], *hi = &t->max[t->n - 1];
	if (total < *lo)
		*lo = total;
	if (total > *hi)
		*hi = total;
}

/* A new peak was reached: its moment is taken at the next timeline_at(). */
static inline void timeline_peak(timeline_t *t)
{
	t->peak_pending = true;
}

/* Remembers a snapshot request seen at now_ns.  Returns 0 or -ENOMEM. */
int timeline_snap(timeline_t *t, uint64_t now_ns);

/* Describes t as a profile timeline whose arrays point into t (copy them before t
 * changes: profile_set_timeline() does). */
void timeline_view(const timeline_t *t, profile_timeline_t *out);
