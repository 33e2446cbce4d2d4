/* stats_compare.c - Snapshot.compare_to(): both profiles (or both merges of profiles)
 * are grouped, then entries are matched by their symbolized key (strings, never
 * addresses), with tracemalloc's rules for keys found in only one of them.
 * stats_match() is the one matcher: stats_merge() adds groups up with it too. */
#include "stats.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats_internal.h"

static uint64_t str_hash(uint64_t h, const char *s)
{
	if (!s)
		return hash_mix(h, 1);
	uint64_t x = 0xcbf29ce484222325ull;
	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 0x100000001b3ull;
	return hash_mix(h, x);
}

uint64_t stats_frame_hash_str(const stats_frame_t *f)
{
	uint64_t h = str_hash(0, f->function);
	h = str_hash(h, f->file);
	h = str_hash(h, f->module);
	h = hash_mix(h, (uint64_t)f->line);
	h = hash_mix(h, f->address);
	return hash_finish(hash_mix(h, f->empty));
}

/* Matching the groups of two profiles: strings are compared by content.  For
 * tracebacks each distinct frame of the new profile is first mapped to the equal frame
 * of the old one, so stacks then compare as id sequences. */
struct matcher {
	enum stats_key key;
	uint32_t *map; /* traceback: new frame id -> old frame id, or NO_ID */
};

static uint64_t hash_at(const void *hashes, uint32_t i)
{
	return ((const uint64_t *)hashes)[i];
}

/* Indexes n items whose hashes are given, each under its own slot (the items are
 * distinct: no test for equality).  Room for n + 1 keeps the table sized as before
 * it was an idxtab.  Returns 0 or -ENOMEM. */
static int index_hashes(idxtab_t *t, const uint64_t *hashes, size_t n)
{
	return idxtab_reserve(t, n + 1, n, hash_at, hashes);
}

/* A frame of the new profile looked up among the old one's. */
struct frame_probe {
	const frametab_t *old;
	const uint64_t *hashes;
	const stats_frame_t *f;
	uint64_t hash;
};

static bool frame_probe_eq(const void *ctx, uint32_t oid)
{
	const struct frame_probe *p = ctx;
	return p->hashes[oid] == p->hash && !stats_frame_cmp(&p->old->frames[oid], p->f);
}

/* Fills m->map from the frame tables of old and new.  Returns 0 or -ENOMEM. */
static int matcher_map_frames(struct matcher *m, const stats_t *old, const stats_t *new)
{
	const frametab_t *ot = &old->store->full, *nt = &new->store->full;
	idxtab_t t = { 0 };
	uint64_t *hashes = malloc(((size_t)ot->n + 1) * sizeof(*hashes));
	m->map = malloc(((size_t)nt->n + 1) * sizeof(*m->map));
	if (hashes)
		for (uint32_t id = 0; id < ot->n; id++)
			hashes[id] = stats_frame_hash_str(&ot->frames[id]);
	if (!hashes || !m->map || index_hashes(&t, hashes, ot->n)) {
		free(hashes);
		return -ENOMEM;
	}
	for (uint32_t id = 0; id < nt->n; id++) {
		struct frame_probe p = { ot, hashes, &nt->frames[id],
					 stats_frame_hash_str(&nt->frames[id]) };
		uint32_t *slot = idxtab_probe(&t, p.hash, frame_probe_eq, &p);
		m->map[id] = *slot ? *slot - 1 : NO_ID;
	}
	idxtab_free(&t);
	free(hashes);
	return 0;
}

/* The hash of an entry's key; for a new traceback entry with a frame the old profile
 * lacks, returns false (it cannot match). */
static bool matcher_hash(const struct matcher *m, const stats_entry_t *e, bool is_new,
			 uint64_t *hash)
{
	if (m->key != STATS_KEY_TRACEBACK) {
		stats_frame_t site = stats_frame_project(m->key, &e->site);
		*hash = stats_frame_hash_str(&site);
		return true;
	}
	uint64_t h = e->nframes;
	for (uint32_t i = 0; i < e->nframes; i++) {
		uint32_t id = is_new ? m->map[e->frame_ids[i]] : e->frame_ids[i];
		if (id == NO_ID)
			return false;
		h = hash_mix(h, id);
	}
	*hash = hash_finish(h);
	return true;
}

static bool matcher_eq(const struct matcher *m, const stats_entry_t *old_e,
		       const stats_entry_t *new_e)
{
	if (m->key != STATS_KEY_TRACEBACK) {
		stats_frame_t a = stats_frame_project(m->key, &old_e->site);
		stats_frame_t b = stats_frame_project(m->key, &new_e->site);
		return !stats_frame_cmp(&a, &b);
	}
	if (old_e->nframes != new_e->nframes)
		return false;
	for (uint32_t i = 0; i < new_e->nframes; i++)
		if (m->map[new_e->frame_ids[i]] != old_e->frame_ids[i])
			return false;
	return true;
}

/* An entry of the new profile looked up among the old one's unmatched entries. */
struct entry_probe {
	const struct matcher *m;
	const stats_t *old;
	const uint64_t *hashes;
	const bool *matched;
	const stats_entry_t *e;
	uint64_t hash;
};

static bool entry_probe_eq(const void *ctx, uint32_t oi)
{
	const struct entry_probe *p = ctx;
	return p->hashes[oi] == p->hash && !p->matched[oi] &&
	       matcher_eq(p->m, &p->old->entries[oi], p->e);
}

int stats_match(const stats_t *old, const stats_t *new, uint32_t *match, uint32_t **frame_map)
{
	struct matcher m = { .key = new->key };
	idxtab_t t = { 0 };
	uint64_t *hashes = malloc((old->nentries + 1) * sizeof(*hashes));
	bool *matched = calloc(old->nentries + 1, sizeof(*matched));
	bool ok = hashes && matched &&
		  !(m.key == STATS_KEY_TRACEBACK && matcher_map_frames(&m, old, new));
	for (size_t i = 0; ok && i < old->nentries; i++)
		matcher_hash(&m, &old->entries[i], false, &hashes[i]);
	if (!ok || index_hashes(&t, hashes, old->nentries)) {
		free(hashes);
		free(matched);
		free(m.map);
		return -ENOMEM;
	}
	for (size_t i = 0; i < new->nentries; i++) {
		const stats_entry_t *ne = &new->entries[i];
		uint64_t h;
		match[i] = NO_ID;
		if (!matcher_hash(&m, ne, true, &h))
			continue;
		struct entry_probe p = { &m, old, hashes, matched, ne, h };
		uint32_t *slot = idxtab_probe(&t, h, entry_probe_eq, &p);
		if (*slot) {
			match[i] = *slot - 1;
			matched[*slot - 1] = true;
		}
	}
	idxtab_free(&t);
	free(hashes);
	free(matched);
	if (frame_map)
		*frame_map = m.map;
	else
		free(m.map);
	return 0;
}

/* Lists the entries of new with their differences from old, then those only in old,
 * into s->entries, and sorts them. */
static int compare_match(stats_t *s, const stats_t *old, const stats_t *new, size_t limit)
{
	uint32_t *match = malloc((new->nentries + 1) * sizeof(*match));
	bool *matched = calloc(old->nentries + 1, sizeof(*matched));
	s->entries = malloc((old->nentries + new->nentries + 1) * sizeof(*s->entries));
	if (!match || !matched || !s->entries || stats_match(old, new, match, NULL)) {
		free(match);
		free(matched);
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < new->nentries; i++) {
		const stats_entry_t *ne = &new->entries[i];
		stats_entry_t *e = &s->entries[n++];
		*e = *ne;
		e->size_diff = ne->size;
		e->count_diff = ne->count;
		if (match[i] != NO_ID) {
			matched[match[i]] = true;
			e->size_diff -= old->entries[match[i]].size;
			e->count_diff -= old->entries[match[i]].count;
		}
	}
	for (size_t i = 0; i < old->nentries; i++) {
		if (matched[i])
			continue;
		stats_entry_t *e = &s->entries[n++];
		*e = old->entries[i];
		e->size_diff = -e->size;
		e->count_diff = -e->count;
		e->size = e->count = e->max_size = 0;
	}
	s->nentries = n;
	free(match);
	free(matched);
	return stats_sort(s, limit);
}

int stats_compare_many(const profile_t *const *old_ps, size_t nold,
		       const profile_t *const *new_ps, size_t nnew, const stats_options_t *opt,
		       stats_t **out)
{
	int r = 0;
	for (size_t i = 0; !r && i < nold + nnew; i++)
		r = stats_check_options(i < nold ? old_ps[i] : new_ps[i - nold], opt);
	if (r)
		return r;
	if (!nold || !nnew)
		return -EINVAL;
	stats_t *s = stats_alloc(opt);
	if (!s)
		return -ENOMEM;
	s->is_diff = true;
	/* The groups of each side are matched, not listed: no need to sort them. */
	stats_options_t part_opt = *opt;
	part_opt.sort_limit = SIZE_MAX;
	r = stats_merge(old_ps, nold, &part_opt, &s->store->parts[0]);
	if (!r)
		r = stats_merge(new_ps, nnew, &part_opt, &s->store->parts[1]);
	if (!r)
		r = compare_match(s, s->store->parts[0], s->store->parts[1], opt->sort_limit);
	if (!r)
		r = stats_check_sums(s);
	if (r) {
		stats_free(s);
		return r;
	}
	const stats_t *o = s->store->parts[0], *n = s->store->parts[1];
	s->total_size = n->total_size;
	s->total_count = n->total_count;
	s->has_max_size = n->has_max_size;
	s->total_size_diff = n->total_size - o->total_size;
	s->total_count_diff = n->total_count - o->total_count;
	/* The matched entries point into the sides' frame tables, not their entries. */
	for (int i = 0; i < 2; i++) {
		free(s->store->parts[i]->entries);
		s->store->parts[i]->entries = NULL;
		s->store->parts[i]->nentries = 0;
	}
	*out = s;
	return 0;
}

int stats_compare(const profile_t *old_p, const profile_t *new_p, const stats_options_t *opt,
		  stats_t **out)
{
	return stats_compare_many(&old_p, 1, &new_p, 1, opt, out);
}
