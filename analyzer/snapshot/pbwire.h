/* pbwire.h - a minimal protobuf wire layer: varints and length-delimited fields.
 *
 * Writing goes into a pbuf_t, a growable byte vector with a sticky failure flag, so a
 * long run of puts needs one check at the end.  Reading walks a pbreader_t, a window
 * [pos, end) into one input buffer; positions are absolute offsets from the start of
 * that buffer so errors can name the byte they happened at.  Every read checks its
 * bounds; nothing here allocates.  The functions are small and on the hot path of both
 * directions, so they live here as static inlines.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

enum pb_wire_type {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2,
	PB_GROUP_START = 3,
	PB_GROUP_END = 4,
	PB_FIXED32 = 5,
};

#define PB_VARINT_MAX 10

/* ---- writing ---- */

typedef struct pbuf {
	uint8_t *data;
	size_t len, cap;
	bool failed; /* an allocation failed; the content is incomplete */
} pbuf_t;

/* Makes room for n more bytes; returns false (and sets failed) when out of memory. */
static inline bool pbuf_grow(pbuf_t *b, size_t n)
{
	if (b->failed)
		return false;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < n) {
		if (ncap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		ncap *= 2;
	}
	uint8_t *d = mem_realloc(b->data, b->len, ncap);
	if (!d) {
		b->failed = true;
		return false;
	}
	b->data = d;
	b->cap = ncap;
	return true;
}

static inline bool pbuf_reserve(pbuf_t *b, size_t n)
{
	return b->cap - b->len >= n || pbuf_grow(b, n);
}

/* Gives the buffer room for n bytes in all, exactly, for a writer that can tell about
 * how much it will write: growing by doubling copies into fresh pages at each step.  A
 * hint: when the memory cannot be had, the buffer is left as it was, not failed. */
static inline void pbuf_presize(pbuf_t *b, size_t n)
{
	if (b->failed || n <= b->cap)
		return;
	uint8_t *d = mem_realloc(b->data, b->len, n);
	if (d) {
		b->data = d;
		b->cap = n;
	}
}

static inline size_t pb_varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Appends v without a bounds check; the caller reserved PB_VARINT_MAX bytes. */
static inline void pbuf_put_varint_unchecked(pbuf_t *b, uint64_t v)
{
	uint8_t *d = b->data + b->len;
	while (v >= 0x80) {
		*d++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*d++ = (uint8_t)v;
	b->len = (size_t)(d - b->data);
}

/* A tag, and a varint field, where pbuf_reserve() has made room. */
static inline void pbuf_put_tag_unchecked(pbuf_t *b, uint32_t field, enum pb_wire_type wt)
{
	pbuf_put_varint_unchecked(b, (uint64_t)field << 3 | wt);
}

static inline void pbuf_put_uint_unchecked(pbuf_t *b, uint32_t field, uint64_t v)
{
	pbuf_put_tag_unchecked(b, field, PB_VARINT);
	pbuf_put_varint_unchecked(b, v);
}

static inline void pbuf_put_varint(pbuf_t *b, uint64_t v)
{
	if (pbuf_reserve(b, PB_VARINT_MAX))
		pbuf_put_varint_unchecked(b, v);
}

static inline void pbuf_put_tag(pbuf_t *b, uint32_t field, enum pb_wire_type wt)
{
	pbuf_put_varint(b, (uint64_t)field << 3 | wt);
}

/* A varint field; int64 values go as their two's complement, like protobuf does. */
static inline void pbuf_put_uint(pbuf_t *b, uint32_t field, uint64_t v)
{
	pbuf_put_tag(b, field, PB_VARINT);
	pbuf_put_varint(b, v);
}

/* Like pbuf_put_uint, but omits the field when v is 0 (the proto3 default). */
static inline void pbuf_put_uint_nz(pbuf_t *b, uint32_t field, uint64_t v)
{
	if (v)
		pbuf_put_uint(b, field, v);
}

static inline void pbuf_put_bytes(pbuf_t *b, uint32_t field, const void *data, size_t len)
{
	pbuf_put_tag(b, field, PB_LEN);
	pbuf_put_varint(b, len);
	if (len && pbuf_reserve(b, len)) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
	}
}

/* Appends the contents of sub as an embedded message field. */
static inline void pbuf_put_message(pbuf_t *b, uint32_t field, const pbuf_t *sub)
{
	if (sub->failed)
		b->failed = true;
	else
		pbuf_put_bytes(b, field, sub->data, sub->len);
}

/* ---- reading ---- */

typedef struct pbreader {
	const uint8_t *base; /* start of the whole input; offsets count from here */
	size_t pos, end;
} pbreader_t;

/* One decoded field.  For PB_LEN, the payload is base[off, off + len); when that
 * would run past the end (PB_PAST_END), value holds the length the field claims. */
typedef struct pbfield {
	uint32_t number;
	enum pb_wire_type type;
	size_t at;       /* offset of the field's tag */
	uint64_t value;  /* PB_VARINT, PB_FIXED64, PB_FIXED32 */
	size_t off, len; /* PB_LEN */
} pbfield_t;

enum pb_status {
	PB_OK = 0,
	PB_END,           /* no more fields in the window */
	PB_TRUNCATED,     /* a varint runs past the end of the window */
	PB_SHORT_FIXED,   /* a fixed32 or fixed64 runs past the end of the window */
	PB_PAST_END,      /* a length-delimited payload runs past the end of the window */
	PB_VARINT_LONG,   /* a varint longer than 10 bytes */
	PB_BAD_FIELD,     /* field number 0 or above 2^29 - 1 */
	PB_BAD_WIRE_TYPE, /* a group (3, 4) or an undefined wire type (6, 7) */
};

static inline pbreader_t pbreader_sub(const pbreader_t *r, size_t off, size_t len)
{
	return (pbreader_t){ .base = r->base, .pos = off, .end = off + len };
}

/* Reads a varint at r->pos.  On failure r->pos is left at the varint's first byte. */
static inline enum pb_status pb_read_varint(pbreader_t *r, uint64_t *v)
{
	const uint8_t *p = r->base + r->pos;
	size_t avail = r->end - r->pos;
	if (avail && p[0] < 0x80) {
		*v = p[0];
		r->pos++;
		return PB_OK;
	}
	uint64_t x = 0;
	for (size_t i = 0; i < PB_VARINT_MAX; i++) {
		if (i == avail)
			return PB_TRUNCATED;
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80) {
			*v = x;
			r->pos += i + 1;
			return PB_OK;
		}
	}
	return PB_VARINT_LONG;
}

/* Reads the next field's tag and payload (skipping over it).  Returns PB_END when the
 * window is exhausted.  On failure, f->at holds the offset of the offending field and
 * r->pos that of the varint that failed, if one did. */
static inline enum pb_status pb_read_field(pbreader_t *r, pbfield_t *f)
{
	if (r->pos >= r->end)
		return PB_END;
	f->at = r->pos;
	uint64_t tag;
	enum pb_status st = pb_read_varint(r, &tag);
	if (st)
		return st;
	f->number = (uint32_t)(tag >> 3);
	f->type = (enum pb_wire_type)(tag & 7);
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return PB_BAD_FIELD;
	switch (f->type) {
	case PB_VARINT:
		return pb_read_varint(r, &f->value);
	case PB_FIXED64:
	case PB_FIXED32: {
		size_t n = f->type == PB_FIXED64 ? 8 : 4;
		if (r->end - r->pos < n)
			return PB_SHORT_FIXED;
		f->value = 0;
		for (size_t i = 0; i < n; i++)
			f->value |= (uint64_t)r->base[r->pos + i] << (8 * i);
		r->pos += n;
		return PB_OK;
	}
	case PB_LEN: {
		uint64_t len;
		if ((st = pb_read_varint(r, &len)))
			return st;
		if (len > r->end - r->pos) {
			f->value = len;
			return PB_PAST_END;
		}
		f->off = r->pos;
		f->len = (size_t)len;
		r->pos += (size_t)len;
		return PB_OK;
	}
	default:
		return PB_BAD_WIRE_TYPE;
	}
}
