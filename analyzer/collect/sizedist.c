/* sizedist.c - a stack's blocks by power-of-two size class (see sizedist.h). */
#include "sizedist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The row of class c, or NULL. */
static profile_size_t *row_of(sizedist_t *d, uint32_t c)
{
	for (uint8_t i = 0; i < d->n; i++)
		if (d->rows[i].cls == c)
			return &d->rows[i];
	return NULL;
}

/* Inserts an empty row for class c in order; returns it, or NULL when out of memory. */
static profile_size_t *row_insert(sizedist_t *d, uint32_t c)
{
	if (d->n == d->cap) {
		uint8_t cap = d->cap ? (uint8_t)(d->cap * 2 > PROFILE_SIZE_CLASSES
							 ? PROFILE_SIZE_CLASSES
							 : d->cap * 2)
				     : 4;
		profile_size_t *rows = realloc(d->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		d->rows = rows;
		d->cap = cap;
	}
	uint8_t at = 0;
	while (at < d->n && d->rows[at].cls < c)
		at++;
	memmove(&d->rows[at + 1], &d->rows[at], (size_t)(d->n - at) * sizeof(*d->rows));
	d->n++;
	d->rows[at] = (profile_size_t){ .cls = c };
	return &d->rows[at];
}

int sizedist_alloc(sizedist_t *d, uint64_t size, const profile_size_t *whole)
{
	uint32_t c = profile_size_class(size);
	if ((int64_t)size > d->max_size)
		d->max_size = (int64_t)size;
	if (!d->only)
		d->only = (uint8_t)(c + 1);
	if (!d->rows && d->only != c + 1) {
		profile_size_t *first = row_insert(d, d->only - 1u);
		if (!first)
			return -ENOMEM;
		*first = *whole;
		first->cls = d->only - 1u;
	}
	if (d->rows) {
		profile_size_t *r = row_of(d, c);
		if (!r && !(r = row_insert(d, c)))
			return -ENOMEM;
		r->alloc_blocks++;
		r->alloc_bytes += (int64_t)size;
		r->inuse_blocks++;
		r->inuse_bytes += (int64_t)size;
	}
	return 0;
}

void sizedist_release(sizedist_t *d, uint64_t size)
{
	profile_size_t *r = d->rows ? row_of(d, profile_size_class(size)) : NULL;
	if (r) {
		r->inuse_blocks--;
		r->inuse_bytes -= (int64_t)size;
	}
}

uint32_t sizedist_rows(const sizedist_t *d, const profile_size_t *whole, profile_size_t *out)
{
	if (d->rows) {
		memcpy(out, d->rows, d->n * sizeof(*out));
		return d->n;
	}
	if (!d->only)
		return 0;
	out[0] = *whole;
	out[0].cls = d->only - 1u;
	return 1;
}

void sizedist_free(sizedist_t *d)
{
	free(d->rows);
	memset(d, 0, sizeof(*d));
}
