/* stats_merge.c - statistics of several profiles at once, as pprof merges profiles.
 *
 * Each profile is grouped alone by stats_group(); its groups are then added to the
 * merged groups of the same symbolized key, found by stats_match(), the matcher that
 * stats_compare() uses, so a merge and a diff agree on what "the same line" is.  The
 * merged result holds its own copies of frames and traceback sequences (frame ids into
 * its own frame table, unique by content), so each part is freed once added; the
 * strings still point into the profiles, which must outlive the result.
 */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>

#include "stats_internal.h"

struct merger {
	stats_t *m;         /* the merged groups so far */
	size_t entries_cap;
	size_t *seq_off;    /* traceback: per merged entry, its offset in m's seqbuf */
	size_t off_cap, seq_n, seq_cap;
};

/* Appends the frames of part that m lacks (map[id] == NO_ID) to m's frame table and
 * completes map.  Returns 0 or -ENOMEM. */
static int merger_add_frames(struct merger *g, const stats_t *part, uint32_t *map)
{
	frametab_t *t = &g->m->store->full;
	const frametab_t *pt = &part->store->full;
	for (uint32_t id = 0; id < pt->n; id++) {
		if (map[id] != NO_ID)
			continue;
		if (vec_reserve((void **)&t->frames, &t->cap, (size_t)t->n + 1, sizeof(*t->frames)))
			return -ENOMEM;
		t->frames[t->n] = pt->frames[id];
		map[id] = t->n++;
	}
	return 0;
}

/* Appends a copy of part entry pe, whose traceback frames map translates, to m. */
static int merger_append(struct merger *g, const stats_entry_t *pe, const uint32_t *map)
{
	stats_t *m = g->m;
	if (vec_reserve((void **)&m->entries, &g->entries_cap, m->nentries + 1,
			sizeof(*m->entries)))
		return -ENOMEM;
	if (m->key == STATS_KEY_TRACEBACK) {
		if (vec_reserve((void **)&g->seq_off, &g->off_cap, m->nentries + 1,
				sizeof(*g->seq_off)) ||
		    vec_reserve((void **)&m->store->seqbuf, &g->seq_cap, g->seq_n + pe->nframes,
				sizeof(*m->store->seqbuf)))
			return -ENOMEM;
		for (uint32_t i = 0; i < pe->nframes; i++)
			m->store->seqbuf[g->seq_n + i] = map[pe->frame_ids[i]];
		g->seq_off[m->nentries] = g->seq_n;
		g->seq_n += pe->nframes;
	}
	m->entries[m->nentries++] = *pe;
	return 0;
}

/* Points every traceback entry of m at m's (possibly moved) frame table and seqbuf. */
static void merger_repoint(struct merger *g)
{
	stats_t *m = g->m;
	for (size_t i = 0; i < m->nentries; i++) {
		m->entries[i].frame_table = m->store->full.frames;
		m->entries[i].frame_ids = m->store->seqbuf + g->seq_off[i];
	}
}

/* Adds the groups of part to m: to the group of the same key, or as a new one. */
static int merger_add(struct merger *g, const stats_t *part)
{
	bool traceback = g->m->key == STATS_KEY_TRACEBACK;
	uint32_t *match = malloc((part->nentries + 1) * sizeof(*match));
	uint32_t *map = NULL;
	int r = match ? stats_match(g->m, part, match, traceback ? &map : NULL) : -ENOMEM;
	if (!r && traceback)
		r = merger_add_frames(g, part, map);
	for (size_t i = 0; !r && i < part->nentries; i++) {
		const stats_entry_t *pe = &part->entries[i];
		if (match[i] == NO_ID) {
			r = merger_append(g, pe, map);
			continue;
		}
		stats_entry_t *e = &g->m->entries[match[i]];
		if (__builtin_add_overflow(e->size, pe->size, &e->size) ||
		    __builtin_add_overflow(e->count, pe->count, &e->count))
			r = -EOVERFLOW;
		e->max_size = pe->max_size > e->max_size ? pe->max_size : e->max_size;
		e->truncated |= pe->truncated;
	}
	if (traceback)
		merger_repoint(g);
	if (__builtin_add_overflow(g->m->total_size, part->total_size, &g->m->total_size) ||
	    __builtin_add_overflow(g->m->total_count, part->total_count, &g->m->total_count))
		r = r ? r : -EOVERFLOW;
	free(match);
	free(map);
	return r;
}

int stats_merge(const profile_t *const *ps, size_t n, const stats_options_t *opt,
		stats_t **out)
{
	if (n == 1)
		return stats_group(ps[0], opt, out);
	int r = n ? 0 : -EINVAL;
	for (size_t i = 0; !r && i < n; i++)
		r = stats_check_options(ps[i], opt);
	if (r)
		return r;
	struct merger g = { .m = stats_alloc(opt) };
	if (!g.m)
		return -ENOMEM;
	g.m->has_max_size = true;
	for (size_t i = 0; i < n; i++)
		g.m->has_max_size &= ps[i]->has_max_size;
	/* The parts are matched, not listed: no need to sort them. */
	stats_options_t part_opt = *opt;
	part_opt.sort_limit = SIZE_MAX;
	for (size_t i = 0; !r && i < n; i++) {
		stats_t *part = NULL;
		r = stats_group(ps[i], &part_opt, &part);
		if (!r)
			r = merger_add(&g, part);
		stats_free(part);
	}
	free(g.seq_off);
	/* Each part's sums are below STATS_SUM_LIMIT; theirs may not be. */
	if (!r)
		r = stats_check_sums(g.m);
	if (!r && opt->sort_limit != SIZE_MAX)
		r = stats_sort(g.m, opt->sort_limit);
	if (r) {
		stats_free(g.m);
		return r;
	}
	*out = g.m;
	return 0;
}
