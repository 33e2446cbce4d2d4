/* profile.c - building and releasing in-memory heap profiles.
 *
 * Memory comes from a chunked bump arena, so a profile with millions of samples is a
 * few large allocations and is freed in one pass.  Strings are interned, in the arena
 * too, through a uthash table so equal strings share one pointer.  The four growable arrays
 * (mappings, locations, samples, comments) are vec.h vectors.
 */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "mem.h"
#include "vec.h"

#define ARENA_CHUNK (1u << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	size_t mapped; /* bytes mapped ahead of use (mem.h), a MEM_POPULATE_MIN at a time */
	max_align_t data[];
};

struct interned {
	UT_hash_handle hh;
	size_t len;
	char str[];
};

struct profile_store {
	struct arena_chunk *chunks;
	struct interned *strings;
	size_t mappings_cap, locations_cap, samples_cap, comments_cap;
	size_t bytes; /* see profile_bytes() */
};

static const char *const value_types[PV_COUNT] = {
	"alloc_objects", "alloc_space", "inuse_objects",
	"inuse_space", "peak_objects", "peak_space", "temporary_objects", "temporary_space",
};

const char *profile_value_type(enum profile_value v)
{
	return v < PV_COUNT ? value_types[v] : NULL;
}

const char *profile_value_unit(enum profile_value v)
{
	return (v & 1) ? "bytes" : "count";
}

profile_t *profile_new(void)
{
	profile_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->store = calloc(1, sizeof(*p->store));
	if (!p->store) {
		free(p);
		return NULL;
	}
	int64_t *nums[] = {
		&p->meta.pid, &p->meta.time_nanos, &p->meta.duration_nanos,
		&p->meta.frame_limit, &p->meta.sampling_period, &p->meta.current_bytes,
		&p->meta.peak_bytes, &p->meta.lost_events, &p->meta.untracked_events,
		&p->meta.corrupt_records, &p->meta.unmatched_frees, &p->meta.missed_frees,
		&p->meta.dropped_stacks,
		&p->meta.merged_requests, &p->meta.overhead_bytes, &p->meta.tracing_off,
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		*nums[i] = -1;
	return p;
}

void profile_free(profile_t *p)
{
	if (!p)
		return;
	HASH_CLEAR(hh, p->store->strings); /* the strings are in the arena */
	for (struct arena_chunk *c = p->store->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(p->mappings);
	free(p->locations);
	free(p->samples);
	free(p->comments);
	free(p->store);
	free(p);
}

void *profile_alloc(profile_t *p, size_t n)
{
	const size_t align = sizeof(max_align_t);
	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	struct arena_chunk *c = p->store->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		/* Its first MEM_POPULATE_MIN bytes fault in as they are used, all that a short
		 * process's profile takes (mapping them ahead was 17 pages an image, most never
		 * written); past them the chunk is mapped a MEM_POPULATE_MIN at a time. */
		c->mapped = size < MEM_POPULATE_MIN ? size : MEM_POPULATE_MIN;
		/* A big one-off block goes behind the current chunk so its free space stays usable. */
		if (size != ARENA_CHUNK && p->store->chunks) {
			c->next = p->store->chunks->next;
			p->store->chunks->next = c;
		} else {
			c->next = p->store->chunks;
			p->store->chunks = c;
		}
	}
	void *r = (char *)c->data + c->used;
	c->used += n;
	p->store->bytes += n;
	if (c->used > c->mapped) {
		size_t to = (c->used + MEM_POPULATE_MIN - 1) / MEM_POPULATE_MIN * MEM_POPULATE_MIN;
		to = to < c->size ? to : c->size;
		mem_populate((char *)c->data + c->mapped, to - c->mapped);
		c->mapped = to;
	}
	memset(r, 0, n);
	return r;
}

size_t profile_bytes(const profile_t *p)
{
	return p->store->bytes;
}

const char *profile_intern_len(profile_t *p, const char *s, size_t len)
{
	if (!s)
		return NULL;
	struct interned *found;
	HASH_FIND(hh, p->store->strings, s, len, found);
	if (found)
		return found->str;
	/* In the arena, which maps its pages ahead: a compiler's profile interns
	 * thousands of names, each a malloc and, on fresh heap, a page fault every few. */
	found = profile_alloc(p, sizeof(*found) + len + 1);
	if (!found)
		return NULL;
	found->len = len;
	memcpy(found->str, s, len);
	found->str[len] = '\0';
	HASH_ADD_KEYPTR(hh, p->store->strings, found->str, len, found);
	return found->str;
}

const char *profile_intern(profile_t *p, const char *s)
{
	return s ? profile_intern_len(p, s, strlen(s)) : NULL;
}

/* Interns s into *out; returns false when out of memory. */
static bool intern_into(profile_t *p, const char *s, const char **out)
{
	*out = profile_intern(p, s);
	return !s || *out;
}

int profile_add_mapping(profile_t *p, const profile_mapping_t *m, uint32_t *index_out)
{
	profile_mapping_t copy = *m;
	if (p->nmappings == PROFILE_NONE - 1 ||
	    !intern_into(p, m->path, &copy.path) || !intern_into(p, m->build_id, &copy.build_id) ||
	    vec_reserve((void **)&p->mappings, &p->store->mappings_cap, p->nmappings + 1,
			sizeof(copy)))
		return -ENOMEM;
	p->mappings[p->nmappings] = copy;
	p->store->bytes += sizeof(copy);
	*index_out = p->nmappings++;
	return 0;
}

int profile_add_location(profile_t *p, uint64_t address, uint32_t mapping,
			 const profile_line_t *lines, uint32_t nlines, uint32_t *index_out)
{
	if (p->nlocations == PROFILE_NONE - 1)
		return -ENOMEM;
	profile_line_t *copy = NULL;
	if (nlines) {
		copy = profile_alloc(p, nlines * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		for (uint32_t i = 0; i < nlines; i++) {
			copy[i].line = lines[i].line;
			if (!intern_into(p, lines[i].function, &copy[i].function) ||
			    !intern_into(p, lines[i].file, &copy[i].file))
				return -ENOMEM;
		}
	}
	if (vec_reserve((void **)&p->locations, &p->store->locations_cap, p->nlocations + 1,
			sizeof(*p->locations)))
		return -ENOMEM;
	p->locations[p->nlocations] = (profile_location_t){
		.address = address, .mapping = mapping, .nlines = nlines, .lines = copy,
	};
	*index_out = p->nlocations++;
	p->store->bytes += sizeof(*p->locations);
	return 0;
}

int profile_add_sample(profile_t *p, const uint32_t *locs, uint32_t nlocs,
		       const int64_t value[PV_COUNT], int64_t domain, bool truncated)
{
	uint32_t *copy = NULL;
	if (nlocs) {
		copy = profile_alloc(p, nlocs * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, locs, nlocs * sizeof(*copy));
	}
	if (vec_reserve((void **)&p->samples, &p->store->samples_cap, p->nsamples + 1,
			sizeof(*p->samples)))
		return -ENOMEM;
	profile_sample_t *s = &p->samples[p->nsamples++];
	s->nlocs = nlocs;
	s->locs = copy;
	memcpy(s->value, value, sizeof(s->value));
	s->domain = domain;
	s->truncated = truncated;
	s->max_size = 0;
	s->nsizes = 0;
	s->sizes = NULL;
	p->store->bytes += sizeof(*s);
	return 0;
}

int profile_reserve_samples(profile_t *p, size_t n)
{
	return vec_reserve((void **)&p->samples, &p->store->samples_cap, n, sizeof(*p->samples));
}

int profile_set_sizes(profile_t *p, size_t i, const profile_size_t *rows, uint32_t n)
{
	profile_size_t *copy = n ? profile_alloc(p, n * sizeof(*copy)) : NULL;
	if (n && !copy)
		return -ENOMEM;
	if (n)
		memcpy(copy, rows, n * sizeof(*copy));
	p->samples[i].sizes = copy;
	p->samples[i].nsizes = n;
	return 0;
}

int profile_add_comment(profile_t *p, const char *comment)
{
	const char *c = profile_intern(p, comment);
	if (!c || vec_reserve((void **)&p->comments, &p->store->comments_cap, p->ncomments + 1,
			      sizeof(*p->comments)))
		return -ENOMEM;
	p->comments[p->ncomments++] = c;
	p->store->bytes += sizeof(*p->comments);
	return 0;
}

int profile_set_timeline(profile_t *p, const profile_timeline_t *t)
{
	if (t->n > PROFILE_TIMELINE_MAX || t->nsnaps > PROFILE_TIMELINE_MAX)
		return -EINVAL;
	profile_timeline_t c = *t;
	size_t points = (size_t)t->n * sizeof(int64_t), snaps = (size_t)t->nsnaps * sizeof(int64_t);
	c.min_bytes = profile_alloc(p, points ? points : 1);
	c.max_bytes = profile_alloc(p, points ? points : 1);
	c.snap_nanos = profile_alloc(p, snaps ? snaps : 1);
	if (!c.min_bytes || !c.max_bytes || !c.snap_nanos)
		return -ENOMEM;
	if (points) {
		memcpy(c.min_bytes, t->min_bytes, points);
		memcpy(c.max_bytes, t->max_bytes, points);
	}
	if (snaps)
		memcpy(c.snap_nanos, t->snap_nanos, snaps);
	p->timeline = c;
	return 0;
}
