/* sizedist.c - a stack's blocks by power-of-two size class (see sizedist.h). */
#include "sizedist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_ROW 0xffu

/* Rows in the order their classes were first seen; at[c] is class c's row or NO_ROW. */
struct sizedist_rows {
	uint8_t at[PROFILE_SIZE_CLASSES];
	uint8_t n, cap;
	profile_size_t row[];
};

/* Appends an empty row for class c; returns it, or NULL when out of memory. */
static profile_size_t *row_add(sizedist_t *d, uint32_t c)
{
	struct sizedist_rows *r = d->rows;
	if (!r || r->n == r->cap) {
		uint8_t cap = r ? (uint8_t)(r->cap * 2 > PROFILE_SIZE_CLASSES ? PROFILE_SIZE_CLASSES
									: r->cap * 2)
				: 4;
		struct sizedist_rows *g = realloc(r, sizeof(*g) + cap * sizeof(g->row[0]));
		if (!g)
			return NULL;
		if (!r) {
			memset(g->at, NO_ROW, sizeof(g->at));
			g->n = 0;
		}
		g->cap = cap;
		d->rows = r = g;
	}
	r->at[c] = r->n;
	r->row[r->n] = (profile_size_t){ .cls = c };
	return &r->row[r->n++];
}

int sizedist_alloc_rows(sizedist_t *d, uint64_t size, sizedist_weight_t w,
			const profile_size_t *whole)
{
	uint32_t c = profile_size_class(size);
	if (c >= PROFILE_SIZE_CLASSES)
		return -EINVAL;
	if ((int64_t)size > d->max_size)
		d->max_size = (int64_t)size;
	if (!d->only)
		d->only = (uint8_t)(c + 1);
	if (d->only == c + 1 && !d->rows)
		return 0;
	if (!d->rows) {
		profile_size_t *first = row_add(d, d->only - 1u);
		if (!first)
			return -ENOMEM;
		*first = *whole;
		first->cls = d->only - 1u;
	}
	uint8_t at = d->rows->at[c];
	profile_size_t *r = at != NO_ROW ? &d->rows->row[at] : row_add(d, c);
	if (!r)
		return -ENOMEM;
	r->alloc_blocks += w.blocks;
	r->alloc_bytes += w.bytes;
	r->inuse_blocks += w.blocks;
	r->inuse_bytes += w.bytes;
	return 0;
}

void sizedist_release_rows(sizedist_t *d, uint64_t size, sizedist_weight_t w)
{
	uint32_t c = profile_size_class(size);
	if (c >= PROFILE_SIZE_CLASSES || d->rows->at[c] == NO_ROW)
		return;
	profile_size_t *r = &d->rows->row[d->rows->at[c]];
	r->inuse_blocks -= w.blocks;
	r->inuse_bytes -= w.bytes;
}

uint32_t sizedist_rows(const sizedist_t *d, const profile_size_t *whole, profile_size_t *out)
{
	uint32_t n = 0;
	if (d->rows) {
		for (uint32_t c = 0; c < PROFILE_SIZE_CLASSES; c++)
			if (d->rows->at[c] != NO_ROW)
				out[n++] = d->rows->row[d->rows->at[c]];
	} else if (d->only) {
		out[n] = *whole;
		out[n++].cls = d->only - 1u;
	}
	return n;
}

size_t sizedist_memory(const sizedist_t *d)
{
	return d->rows ? sizeof(*d->rows) + d->rows->cap * sizeof(d->rows->row[0]) : 0;
}

void sizedist_free(sizedist_t *d)
{
	free(d->rows);
	memset(d, 0, sizeof(*d));
}
