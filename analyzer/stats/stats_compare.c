/* stats_compare.c - Snapshot.compare_to(): both profiles are grouped, then entries
 * are matched by their symbolized key (strings, never addresses), with tracemalloc's
 * rules for keys found in only one of them. */
#include "stats.h"
#include <errno.h>
#include <fnmatch.h>
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

static uint64_t frame_hash_str(const stats_frame_t *f)
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

/* Fills m->map from the frame tables of old and new.  Returns 0 or -ENOMEM. */
static int matcher_map_frames(struct matcher *m, const stats_t *old, const stats_t *new)
{
	const frametab_t *ot = &old->store->full, *nt = &new->store->full;
	size_t nslots = 16;
	while (nslots < (size_t)ot->n * 2 + 2)
		nslots *= 2;
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	uint64_t *hashes = malloc(((size_t)ot->n + 1) * sizeof(*hashes));
	m->map = malloc(((size_t)nt->n + 1) * sizeof(*m->map));
	if (!slots || !hashes || !m->map) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (uint32_t id = 0; id < ot->n; id++) {
		hashes[id] = frame_hash_str(&ot->frames[id]);
		size_t j = hashes[id] & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = id + 1;
	}
	for (uint32_t id = 0; id < nt->n; id++) {
		uint64_t h = frame_hash_str(&nt->frames[id]);
		m->map[id] = NO_ID;
		for (size_t j = h & (nslots - 1); slots[j]; j = (j + 1) & (nslots - 1)) {
			uint32_t oid = slots[j] - 1;
			if (hashes[oid] == h && !stats_frame_cmp(&ot->frames[oid], &nt->frames[id])) {
				m->map[id] = oid;
				break;
			}
		}
	}
	free(slots);
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
		*hash = frame_hash_str(&site);
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

/* Matches the entries of old and new into s->entries. */
static int compare_match(stats_t *s, const stats_t *old, const stats_t *new, size_t limit)
{
	struct matcher m = { .key = s->key };
	size_t nslots = 16;
	while (nslots < old->nentries * 2 + 2)
		nslots *= 2;
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	uint64_t *hashes = malloc((old->nentries + 1) * sizeof(*hashes));
	bool *matched = calloc(old->nentries + 1, sizeof(*matched));
	s->entries = malloc((old->nentries + new->nentries + 1) * sizeof(*s->entries));
	if (!slots || !hashes || !matched || !s->entries ||
	    (m.key == STATS_KEY_TRACEBACK && matcher_map_frames(&m, old, new))) {
		free(slots);
		free(hashes);
		free(matched);
		free(m.map);
		return -ENOMEM;
	}
	for (size_t i = 0; i < old->nentries; i++) {
		matcher_hash(&m, &old->entries[i], false, &hashes[i]);
		size_t j = hashes[i] & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = i + 1;
	}
	size_t n = 0;
	for (size_t i = 0; i < new->nentries; i++) {
		const stats_entry_t *ne = &new->entries[i];
		stats_entry_t *e = &s->entries[n++];
		*e = *ne;
		e->size_diff = ne->size;
		e->count_diff = ne->count;
		uint64_t h;
		if (!matcher_hash(&m, ne, true, &h))
			continue;
		for (size_t j = h & (nslots - 1); slots[j]; j = (j + 1) & (nslots - 1)) {
			size_t oi = slots[j] - 1;
			if (hashes[oi] == h && !matched[oi] && matcher_eq(&m, &old->entries[oi], ne)) {
				matched[oi] = true;
				e->size_diff -= old->entries[oi].size;
				e->count_diff -= old->entries[oi].count;
				break;
			}
		}
	}
	for (size_t i = 0; i < old->nentries; i++) {
		if (matched[i])
			continue;
		stats_entry_t *e = &s->entries[n++];
		*e = old->entries[i];
		e->size_diff = -e->size;
		e->count_diff = -e->count;
		e->size = e->count = 0;
	}
	s->nentries = n;
	free(slots);
	free(hashes);
	free(matched);
	free(m.map);
	return stats_sort(s, limit);
}

int stats_compare(const profile_t *old_p, const profile_t *new_p, const stats_options_t *opt,
		  stats_t **out)
{
	int r = stats_check_options(old_p, opt);
	if (!r)
		r = stats_check_options(new_p, opt);
	if (r)
		return r;
	stats_t *s = stats_alloc(opt);
	if (!s)
		return -ENOMEM;
	s->is_diff = true;
	/* The groups of each side are matched, not listed: no need to sort them. */
	stats_options_t part_opt = *opt;
	part_opt.sort_limit = SIZE_MAX;
	r = stats_group(old_p, &part_opt, &s->store->parts[0]);
	if (!r)
		r = stats_group(new_p, &part_opt, &s->store->parts[1]);
	if (!r)
		r = compare_match(s, s->store->parts[0], s->store->parts[1], opt->sort_limit);
	if (r) {
		stats_free(s);
		return r;
	}
	const stats_t *o = s->store->parts[0], *n = s->store->parts[1];
	s->total_size = n->total_size;
	s->total_count = n->total_count;
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

