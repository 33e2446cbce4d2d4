/* pprof_decode.c - reading pprof profiles back, trusting nothing.
 *
 * A first scan over the top-level fields checks their framing and counts each kind,
 * then one scan per kind decodes functions, mappings, locations and samples in
 * dependency order, so a file may hold its fields in any order.  Ids become indices
 * through an id map that is the identity when ids are 1..n (the usual case) and an
 * open-addressing hash otherwise.  Memory grows only with what the input holds: the
 * decoder's arrays and the profile's structures may take DECODE_RATIO bytes per input
 * byte (plus DECODE_FLOOR), checked once from the counts after the first scan and
 * again after each message, so a flood of empty messages is refused before it costs
 * anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbwire.h"
#include "pprof.h"
#include "pprof_format.h"
#include "idxtab.h"
#include "vec.h"

/* Maps the ids of one kind of message to their indices in file order. */
struct idmap {
	uint64_t *ids; /* the id of each index */
	size_t n;
	bool dense; /* ids[i] == i + 1 throughout: no table needed */
	idxtab_t table;
};

/* An id looked up in an idmap. */
struct idkey {
	const struct idmap *m;
	uint64_t id;
};

/* Where in the file a message is, for error messages: "sample 5", or none. */
struct where {
	const char *kind;
	size_t index;
};

struct u64vec {
	uint64_t *v;
	size_t n, cap;
};

struct decoder {
	pbreader_t top;
	pprof_error_t *err;
	profile_t *p;
	size_t count[PROFILE_FIELD_MAX];
	size_t *strs; /* offset of each string_table field's tag */
	size_t nstrs;
	int *vmap; /* sample value position -> enum profile_value, or -1 */
	size_t ntypes;
	struct idmap functions, mappings, locations;
	const char **func_name, **func_file;
	struct u64vec ids, vals, sizes;
	uint32_t *locs;
	size_t locs_cap;
	profile_line_t *lines;
	size_t lines_cap;
	size_t own;                 /* bytes of the decoder's own per-message arrays */
	size_t budget;              /* limit on own + profile_bytes() */
};

static int failv(struct decoder *d, const struct where *w, const char *fmt, va_list ap)
{
	char msg[sizeof(d->err->why) - 64];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (w && w->kind)
		snprintf(d->err->why, sizeof(d->err->why), "%.40s %zu: %s", w->kind, w->index, msg);
	else
		snprintf(d->err->why, sizeof(d->err->why), "%s", msg);
	return -EINVAL;
}

/* Records why the input is bad and returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
static int fail(struct decoder *d, const struct where *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = failv(d, w, fmt, ap);
	va_end(ap);
	return r;
}

/* Reports a failed pb_read_field or pb_read_varint (st) at reader position r. */
static int fail_wire(struct decoder *d, const struct where *w, enum pb_status st,
		     const pbreader_t *r, const pbfield_t *f)
{
	switch (st) {
	case PB_TRUNCATED:
		return fail(d, w, "truncated varint at byte %zu", r->pos);
	case PB_SHORT_FIXED:
		return fail(d, w, "truncated fixed-width field at byte %zu", f->at);
	case PB_PAST_END:
		return fail(d, w, "field %" PRIu32 " at byte %zu: length %" PRIu64
			    " runs past the end (byte %zu)", f->number, f->at, f->value, r->end);
	case PB_VARINT_LONG:
		return fail(d, w, "varint longer than 10 bytes at byte %zu", r->pos);
	case PB_BAD_FIELD:
		return fail(d, w, "invalid field number %" PRIu32 " at byte %zu", f->number, f->at);
	case PB_BAD_WIRE_TYPE:
		return fail(d, w, "unsupported wire type %d at byte %zu%s", (int)f->type, f->at,
			    f->type == PB_GROUP_START || f->type == PB_GROUP_END ? " (group)" : "");
	default:
		return fail(d, w, "bad protobuf at byte %zu", r->pos);
	}
}

/* Checks that field f, known to the decoder, has wire type want. */
static int want(struct decoder *d, const struct where *w, const pbfield_t *f,
		enum pb_wire_type want)
{
	if (f->type == want)
		return 0;
	return fail(d, w, "field %" PRIu32 " at byte %zu has wire type %d, expected %d",
		    f->number, f->at, (int)f->type, (int)want);
}

/* Appends the values of a repeated varint field, packed or not, to v. */
static int read_repeated(struct decoder *d, const struct where *w, const pbfield_t *f,
			 struct u64vec *v)
{
	if (f->type == PB_VARINT) {
		if (vec_reserve((void **)&v->v, &v->cap, v->n + 1, sizeof(*v->v)))
			return -ENOMEM;
		v->v[v->n++] = f->value;
		return 0;
	}
	int r = want(d, w, f, PB_LEN);
	if (r)
		return r;
	/* Every varint takes at least one byte, so len bounds the count. */
	if (vec_reserve((void **)&v->v, &v->cap, v->n + f->len, sizeof(*v->v)))
		return -ENOMEM;
	pbreader_t pr = pbreader_sub(&d->top, f->off, f->len);
	while (pr.pos < pr.end) {
		enum pb_status st = pb_read_varint(&pr, &v->v[v->n]);
		if (st)
			return fail_wire(d, w, st, &pr, f);
		v->n++;
	}
	return 0;
}

/* Finds string idx: sets *s (not NUL-terminated) and *len, or fails. */
static int str_span(struct decoder *d, const struct where *w, uint64_t idx, const char **s,
		    size_t *len)
{
	if ((int64_t)idx < 0)
		return fail(d, w, "negative string index %" PRId64, (int64_t)idx);
	if (idx >= d->nstrs)
		return fail(d, w, "string index %" PRIu64 " out of range (table has %zu)", idx,
			    d->nstrs);
	pbreader_t r = { .base = d->top.base, .pos = d->strs[idx], .end = d->top.end };
	pbfield_t f;
	if (pb_read_field(&r, &f) != PB_OK) /* cannot happen: decode_scan checked it */
		return fail(d, w, "string %" PRIu64 " unreadable", idx);
	*s = (const char *)d->top.base + f.off;
	*len = f.len;
	return 0;
}

/* Interns string idx into *out; the empty string becomes NULL. */
static int str_intern(struct decoder *d, const struct where *w, uint64_t idx, const char **out)
{
	const char *s;
	size_t len;
	int r = str_span(d, w, idx, &s, &len);
	if (r)
		return r;
	if (len == 0) {
		*out = NULL;
		return 0;
	}
	*out = profile_intern_len(d->p, s, len);
	return *out ? 0 : -ENOMEM;
}

static bool str_is(struct decoder *d, uint64_t idx, const char *want)
{
	const char *s;
	size_t len;
	return str_span(d, NULL, idx, &s, &len) == 0 && len == strlen(want) &&
	       memcmp(s, want, len) == 0;
}

static uint64_t id_hash(uint64_t id)
{
	id *= 0x9e3779b97f4a7c15ull;
	return id ^ (id >> 29);
}

static bool idkey_eq(const void *ctx, uint32_t i)
{
	const struct idkey *k = ctx;
	return k->m->ids[i] == k->id;
}

/* Builds the lookup structure for m->ids; duplicate and zero ids are errors. */
static int idmap_build(struct decoder *d, struct idmap *m, const char *what)
{
	m->dense = true;
	for (size_t i = 0; i < m->n && m->dense; i++)
		m->dense = m->ids[i] == i + 1;
	if (m->dense)
		return 0;
	if (idxtab_reserve(&m->table, m->n, 0, NULL, NULL))
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		struct idkey k = { m, m->ids[i] };
		if (k.id == 0)
			return fail(d, &(struct where){ what, i }, "id 0 is reserved");
		uint32_t *slot = idxtab_probe(&m->table, id_hash(k.id), idkey_eq, &k);
		if (*slot)
			return fail(d, &(struct where){ what, i }, "duplicate id %" PRIu64, k.id);
		*slot = (uint32_t)i + 1;
	}
	return 0;
}

/* Returns the index of id, or PROFILE_NONE. */
static uint32_t idmap_find(const struct idmap *m, uint64_t id)
{
	if (m->dense)
		return id - 1 < m->n ? (uint32_t)(id - 1) : PROFILE_NONE;
	struct idkey k = { m, id };
	uint32_t *slot = idxtab_probe(&m->table, id_hash(id), idkey_eq, &k);
	return *slot ? *slot - 1 : PROFILE_NONE;
}

/* Rewrites the reason of a top-level framing error that no pprof profile can have
 * (a group, field 0, an overlong varint, a known field with the wrong wire type) as
 * "not a pprof profile (...)"; returns rc. */
static int not_pprof(struct decoder *d, int rc)
{
	char why[sizeof(d->err->why)];
	size_t n = strlen(d->err->why);
	const char *group = " (group)";
	if (n > strlen(group) && strcmp(d->err->why + n - strlen(group), group) == 0)
		n -= strlen(group);
	snprintf(why, sizeof(why), "not a pprof profile (%.*s)", (int)n, d->err->why);
	memcpy(d->err->why, why, sizeof(why));
	return rc;
}

/* Checks the decoded structures so far against the budget. */
static int check_budget(struct decoder *d)
{
	if (d->own + profile_bytes(d->p) <= d->budget)
		return 0;
	fail(d, NULL, "profile too dense: decoding its %zu bytes would take more than "
		    "%d bytes of memory per byte (%zu samples, %zu locations)",
		    (size_t)d->top.end, DECODE_RATIO, d->count[PROFILE_SAMPLE],
		    d->count[PROFILE_LOCATION]);
	return -EFBIG;
}

/* Charges the decoder's arrays, and the least the profile will take, for the counts
 * decode_scan found. */
static int charge_counts(struct decoder *d)
{
	const size_t *c = d->count;
	d->own = c[PROFILE_STRING_TABLE] * sizeof(size_t) + c[PROFILE_SAMPLE_TYPE] * sizeof(int) +
		 c[PROFILE_FUNCTION] * (sizeof(uint64_t) + 2 * sizeof(char *)) +
		 (c[PROFILE_MAPPING] + c[PROFILE_LOCATION]) * sizeof(uint64_t);
	size_t least = c[PROFILE_MAPPING] * sizeof(profile_mapping_t) +
		       c[PROFILE_LOCATION] * sizeof(profile_location_t) +
		       c[PROFILE_SAMPLE] * sizeof(profile_sample_t);
	d->own += least; /* profile_bytes() takes over as the entries are added */
	int rc = check_budget(d);
	d->own -= least;
	return rc;
}

/* Checks the top-level framing and wire types, and counts each kind of field. */
static int decode_scan(struct decoder *d)
{
	pbreader_t r = d->top;
	pbfield_t f;
	enum pb_status st;
	int rc;
	while ((st = pb_read_field(&r, &f)) == PB_OK) {
		switch (f.number) {
		case PROFILE_SAMPLE_TYPE:
		case PROFILE_SAMPLE:
		case PROFILE_MAPPING:
		case PROFILE_LOCATION:
		case PROFILE_FUNCTION:
		case PROFILE_STRING_TABLE:
		case PROFILE_PERIOD_TYPE:
			if ((rc = want(d, NULL, &f, PB_LEN)))
				return not_pprof(d, rc);
			d->count[f.number]++;
			break;
		case PROFILE_DROP_FRAMES:
		case PROFILE_KEEP_FRAMES:
		case PROFILE_TIME_NANOS:
		case PROFILE_DURATION_NANOS:
		case PROFILE_PERIOD:
		case PROFILE_DEFAULT_SAMPLE_TYPE:
			if ((rc = want(d, NULL, &f, PB_VARINT)))
				return not_pprof(d, rc);
			break;
		case PROFILE_COMMENT:
			if (f.type != PB_VARINT && (rc = want(d, NULL, &f, PB_LEN)))
				return not_pprof(d, rc);
			break;
		}
	}
	if (st == PB_BAD_WIRE_TYPE || st == PB_BAD_FIELD || st == PB_VARINT_LONG)
		return not_pprof(d, fail_wire(d, NULL, st, &r, &f));
	if (st != PB_END)
		return fail_wire(d, NULL, st, &r, &f);
	if (d->count[PROFILE_MAPPING] >= PROFILE_NONE || d->count[PROFILE_LOCATION] >= PROFILE_NONE ||
	    d->count[PROFILE_FUNCTION] >= PROFILE_NONE)
		return fail(d, NULL, "too many mappings, locations or functions");
	return charge_counts(d);
}

/* Records the offset of every string; the first must be "". */
static int decode_strings(struct decoder *d)
{
	d->strs = malloc((d->count[PROFILE_STRING_TABLE] + 1) * sizeof(*d->strs));
	if (!d->strs)
		return -ENOMEM;
	pbreader_t r = d->top;
	pbfield_t f;
	while (pb_read_field(&r, &f) == PB_OK)
		if (f.number == PROFILE_STRING_TABLE)
			d->strs[d->nstrs++] = f.at;
	const char *s;
	size_t len;
	if (d->nstrs && (str_span(d, NULL, 0, &s, &len) || len))
		return fail(d, NULL, "string table entry 0 is not empty");
	return 0;
}

/* Decodes a ValueType; sets *type and *unit to their string indices, validated. */
static int decode_value_type(struct decoder *d, const struct where *w, const pbfield_t *vf,
			     uint64_t *type, uint64_t *unit)
{
	pbreader_t r = pbreader_sub(&d->top, vf->off, vf->len);
	pbfield_t f;
	enum pb_status st;
	const char *s;
	size_t len;
	int rc = 0;
	*type = *unit = 0;
	while ((st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number == VALUE_TYPE_TYPE || f.number == VALUE_TYPE_UNIT) {
			if ((rc = want(d, w, &f, PB_VARINT)) ||
			    (rc = str_span(d, w, f.value, &s, &len)))
				return rc;
			*(f.number == VALUE_TYPE_TYPE ? type : unit) = f.value;
		}
	}
	return st == PB_END ? 0 : fail_wire(d, w, st, &r, &f);
}

/* Fills p->meta from comment i (string idx) when it is a "heapsnap.key=value" fact,
 * or adds it to p->comments. */
static int decode_comment(struct decoder *d, size_t i, uint64_t idx)
{
	const char *s, *eq;
	size_t len;
	int rc = str_span(d, &(struct where){ "comment", i }, idx, &s, &len);
	if (rc)
		return rc;
	if (len > 9 && memcmp(s, "heapsnap.", 9) == 0 && (eq = memchr(s, '=', len))) {
		size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
		const char *v = eq + 1;
		for (size_t i = 0; i < ARRAY_SIZE(meta_keys); i++) {
			const struct meta_key *k = &meta_keys[i];
			if (strlen(k->key) != klen || memcmp(k->key, s, klen) != 0)
				continue;
			if (k->kind == META_FIELD)
				break; /* carried in a field of its own: a plain comment */
			if (k->kind == META_STR) {
				const char *str = profile_intern_len(d->p, v, vlen);
				if (!str)
					return -ENOMEM;
				*meta_str(&d->p->meta, k) = str;
				return 0;
			}
			int64_t n = 0;
			size_t j = 0;
			for (; j < vlen && v[j] >= '0' && v[j] <= '9' && n <= (INT64_MAX - 9) / 10; j++)
				n = n * 10 + (v[j] - '0');
			if (vlen == 0 || j != vlen)
				break; /* not a number we wrote: keep it as a comment */
			if (k->kind == META_NUM)
				*meta_num(&d->p->meta, k) = n;
			return 0;
		}
	}
	const char *c = profile_intern_len(d->p, s, len);
	return c ? profile_add_comment(d->p, c) : -ENOMEM;
}

/* Decodes the sample types, the scalar fields and the comments. */
static int decode_header(struct decoder *d)
{
	d->vmap = malloc((d->count[PROFILE_SAMPLE_TYPE] + 1) * sizeof(*d->vmap));
	if (!d->vmap)
		return -ENOMEM;
	d->ids.n = 0;
	pbreader_t r = d->top;
	pbfield_t f;
	uint64_t type, unit;
	const char *s;
	size_t len;
	int rc = 0;
	while (rc == 0 && pb_read_field(&r, &f) == PB_OK) {
		struct where w = { NULL, 0 };
		switch (f.number) {
		case PROFILE_SAMPLE_TYPE:
			w = (struct where){ "sample type", d->ntypes };
			if ((rc = decode_value_type(d, &w, &f, &type, &unit)))
				break;
			d->vmap[d->ntypes] = -1;
			for (enum profile_value v = 0; v < PV_COUNT; v++) {
				if (!d->p->has_value[v] && str_is(d, type, profile_value_type(v))) {
					d->vmap[d->ntypes] = (int)v;
					d->p->has_value[v] = true;
				}
			}
			d->ntypes++;
			break;
		case PROFILE_PERIOD_TYPE:
			w.kind = "period type";
			rc = decode_value_type(d, &w, &f, &type, &unit);
			break;
		case PROFILE_DROP_FRAMES:
		case PROFILE_KEEP_FRAMES:
		case PROFILE_DEFAULT_SAMPLE_TYPE:
			rc = str_span(d, NULL, f.value, &s, &len);
			break;
		case PROFILE_TIME_NANOS:
			d->p->meta.time_nanos = (int64_t)f.value;
			break;
		case PROFILE_DURATION_NANOS:
			d->p->meta.duration_nanos = (int64_t)f.value;
			break;
		case PROFILE_PERIOD:
			d->p->meta.sampling_period = (int64_t)f.value;
			break;
		case PROFILE_COMMENT:
			rc = read_repeated(d, NULL, &f, &d->ids);
			break;
		}
	}
	/* Comments last, so heapsnap.sampling_period wins over Profile.period. */
	for (size_t i = 0; rc == 0 && i < d->ids.n; i++)
		if (!(rc = decode_comment(d, i, d->ids.v[i])) && i % 1024 == 0)
			rc = check_budget(d);
	return rc ? rc : check_budget(d);
}

static int decode_function(struct decoder *d, size_t i, const pbfield_t *mf)
{
	struct where w = { "function", i };
	pbreader_t r = pbreader_sub(&d->top, mf->off, mf->len);
	pbfield_t f;
	enum pb_status st;
	const char *s;
	size_t len;
	int rc = 0;
	d->functions.ids[i] = 0;
	d->func_name[i] = d->func_file[i] = NULL;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		switch (f.number) {
		case FUNCTION_ID:
			if (!(rc = want(d, &w, &f, PB_VARINT)))
				d->functions.ids[i] = f.value;
			break;
		case FUNCTION_NAME:
			if (!(rc = want(d, &w, &f, PB_VARINT)))
				rc = str_intern(d, &w, f.value, &d->func_name[i]);
			break;
		case FUNCTION_FILENAME:
			if (!(rc = want(d, &w, &f, PB_VARINT)))
				rc = str_intern(d, &w, f.value, &d->func_file[i]);
			break;
		case FUNCTION_SYSTEM_NAME:
			if (!(rc = want(d, &w, &f, PB_VARINT)))
				rc = str_span(d, &w, f.value, &s, &len);
			break;
		case FUNCTION_START_LINE:
			rc = want(d, &w, &f, PB_VARINT);
			break;
		}
	}
	if (rc)
		return rc;
	return st == PB_END ? 0 : fail_wire(d, &w, st, &r, &f);
}

static int decode_mapping(struct decoder *d, size_t i, const pbfield_t *mf)
{
	struct where w = { "mapping", i };
	pbreader_t r = pbreader_sub(&d->top, mf->off, mf->len);
	pbfield_t f;
	enum pb_status st;
	profile_mapping_t m = { 0 };
	int rc = 0;
	uint32_t index;
	d->mappings.ids[i] = 0;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number > MAPPING_HAS_INLINE_FRAMES)
			continue;
		if ((rc = want(d, &w, &f, PB_VARINT)))
			break;
		switch (f.number) {
		case MAPPING_ID:
			d->mappings.ids[i] = f.value;
			break;
		case MAPPING_MEMORY_START:
			m.start = f.value;
			break;
		case MAPPING_MEMORY_LIMIT:
			m.limit = f.value;
			break;
		case MAPPING_FILE_OFFSET:
			m.offset = f.value;
			break;
		case MAPPING_FILENAME:
			rc = str_intern(d, &w, f.value, &m.path);
			break;
		case MAPPING_BUILD_ID:
			rc = str_intern(d, &w, f.value, &m.build_id);
			break;
		}
	}
	if (rc)
		return rc;
	if (st != PB_END)
		return fail_wire(d, &w, st, &r, &f);
	return profile_add_mapping(d->p, &m, &index);
}

/* Decodes one Line of location w into d->lines[n]. */
static int decode_line(struct decoder *d, const struct where *w, const pbfield_t *lf, size_t n)
{
	pbreader_t r = pbreader_sub(&d->top, lf->off, lf->len);
	pbfield_t f;
	enum pb_status st;
	profile_line_t *l = &d->lines[n];
	int rc = 0;
	*l = (profile_line_t){ 0 };
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number > LINE_COLUMN)
			continue;
		if ((rc = want(d, w, &f, PB_VARINT)))
			break;
		if (f.number == LINE_LINE) {
			if ((int64_t)f.value < 0)
				return fail(d, w, "line %" PRId64 " is negative", (int64_t)f.value);
			l->line = (int64_t)f.value;
		} else if (f.number == LINE_FUNCTION_ID && f.value) {
			uint32_t fi = idmap_find(&d->functions, f.value);
			if (fi == PROFILE_NONE)
				return fail(d, w, "function id %" PRIu64 " not defined", f.value);
			l->function = d->func_name[fi];
			l->file = d->func_file[fi];
		}
	}
	if (rc)
		return rc;
	return st == PB_END ? 0 : fail_wire(d, w, st, &r, &f);
}

static int decode_location(struct decoder *d, size_t i, const pbfield_t *lf)
{
	struct where w = { "location", i };
	pbreader_t r = pbreader_sub(&d->top, lf->off, lf->len);
	pbfield_t f;
	enum pb_status st;
	uint64_t address = 0;
	uint32_t mapping = PROFILE_NONE, index;
	size_t nlines = 0;
	int rc = 0;
	d->locations.ids[i] = 0;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number > LOCATION_IS_FOLDED)
			continue;
		if ((rc = want(d, &w, &f, f.number == LOCATION_LINE ? PB_LEN : PB_VARINT)))
			break;
		switch (f.number) {
		case LOCATION_ID:
			d->locations.ids[i] = f.value;
			break;
		case LOCATION_MAPPING_ID:
			mapping = PROFILE_NONE;
			if (f.value && (mapping = idmap_find(&d->mappings, f.value)) == PROFILE_NONE)
				return fail(d, &w, "mapping id %" PRIu64 " not defined", f.value);
			break;
		case LOCATION_ADDRESS:
			address = f.value;
			break;
		case LOCATION_LINE:
			if (nlines == UINT32_MAX)
				return fail(d, &w, "too many lines");
			if (vec_reserve((void **)&d->lines, &d->lines_cap, nlines + 1, sizeof(*d->lines)))
				return -ENOMEM;
			rc = decode_line(d, &w, &f, nlines++);
			break;
		}
	}
	if (rc)
		return rc;
	if (st != PB_END)
		return fail_wire(d, &w, st, &r, &f);
	return profile_add_location(d->p, address, mapping, d->lines, (uint32_t)nlines, &index);
}

/* The labels of a sample that heapsnap reads. */
struct sample_labels {
	int64_t domain;
	bool truncated;
	bool has_max_size;
	int64_t max_size;
};

/* Reads a Label of sample w into *out when it is one of ours. */
static int decode_label(struct decoder *d, const struct where *w, const pbfield_t *lf,
			struct sample_labels *out)
{
	pbreader_t r = pbreader_sub(&d->top, lf->off, lf->len);
	pbfield_t f;
	enum pb_status st;
	uint64_t key = 0, str = 0, num = 0;
	bool has_num = false;
	const char *s;
	size_t len;
	int rc = 0;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number > LABEL_NUM_UNIT)
			continue;
		if ((rc = want(d, w, &f, PB_VARINT)))
			break;
		if (f.number == LABEL_KEY)
			key = f.value;
		else if (f.number == LABEL_STR)
			str = f.value;
		else if (f.number == LABEL_NUM)
			num = f.value, has_num = true;
		if (f.number != LABEL_NUM)
			rc = str_span(d, w, f.value, &s, &len);
	}
	if (rc)
		return rc;
	if (st != PB_END)
		return fail_wire(d, w, st, &r, &f);
	if (str_is(d, key, "domain") && has_num) {
		if (num < 1 || num > PROFILE_DOMAIN_MMAP)
			return fail(d, w, "domain %" PRIu64 " out of range (1..%d)", num,
				    PROFILE_DOMAIN_MMAP);
		out->domain = (int64_t)num;
	}
	else if (str_is(d, key, "truncated"))
		out->truncated = (has_num && num == 1) || str_is(d, str, "true");
	else if (str_is(d, key, "max_size") && has_num) {
		if (num > INT64_MAX)
			return fail(d, w, "max_size %" PRIu64 " out of range", num);
		out->has_max_size = true;
		out->max_size = (int64_t)num;
	}
	return 0;
}

/* Adds the size classes read into d->sizes to sample i (docs/format.md): one class
 * alone holds all of the sample's blocks; else rows of SIZES_ROW_VALUES, by strictly
 * increasing class. */
static int decode_sizes(struct decoder *d, const struct where *w, size_t i)
{
	const uint64_t *v = d->sizes.v;
	size_t n = d->sizes.n;
	if (n != 1 && (n == 0 || n % SIZES_ROW_VALUES))
		return fail(d, w, "%zu size class values (1 or a multiple of %d)", n,
			    SIZES_ROW_VALUES);
	for (size_t k = 0; k < n; k += SIZES_ROW_VALUES)
		if (v[k] >= PROFILE_SIZE_CLASSES)
			return fail(d, w, "size class %" PRIu64 " out of range (0..%d)", v[k],
				    PROFILE_SIZE_CLASSES - 1);
	profile_sample_t *s = &d->p->samples[i];
	uint32_t rows = n == 1 ? 1 : (uint32_t)(n / SIZES_ROW_VALUES);
	profile_size_t *out = profile_alloc(d->p, rows * sizeof(*out));
	if (!out)
		return -ENOMEM;
	if (n == 1)
		out[0] = (profile_size_t){ (uint32_t)v[0], s->value[PV_ALLOC_OBJECTS],
					   s->value[PV_ALLOC_SPACE], s->value[PV_INUSE_OBJECTS],
					   s->value[PV_INUSE_SPACE] };
	for (uint32_t r = 0; n > 1 && r < rows; r++) {
		const uint64_t *x = &v[(size_t)r * SIZES_ROW_VALUES];
		for (int k = 1; k < SIZES_ROW_VALUES; k++)
			if (x[k] > INT64_MAX)
				return fail(d, w, "size class value %" PRIu64 " out of range", x[k]);
		out[r] = (profile_size_t){ (uint32_t)x[0], (int64_t)x[1], (int64_t)x[2],
					   (int64_t)x[3], (int64_t)x[4] };
		if (r && x[0] <= out[r - 1].cls)
			return fail(d, w, "size classes out of order");
	}
	s->sizes = out;
	s->nsizes = rows;
	d->p->has_sizes = true;
	return 0;
}

static int decode_sample(struct decoder *d, size_t i, const pbfield_t *sf)
{
	struct where w = { "sample", i };
	pbreader_t r = pbreader_sub(&d->top, sf->off, sf->len);
	pbfield_t f;
	enum pb_status st;
	struct sample_labels labels = { 0 };
	int rc = 0;
	d->ids.n = d->vals.n = d->sizes.n = 0;
	bool has_sizes = false;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number == SAMPLE_LOCATION_ID)
			rc = read_repeated(d, &w, &f, &d->ids);
		else if (f.number == SAMPLE_VALUE)
			rc = read_repeated(d, &w, &f, &d->vals);
		else if (f.number == SAMPLE_LABEL && !(rc = want(d, &w, &f, PB_LEN)))
			rc = decode_label(d, &w, &f, &labels);
		else if (f.number == SAMPLE_HEAPSNAP_SIZES) {
			has_sizes = true;
			rc = read_repeated(d, &w, &f, &d->sizes);
		}
	}
	if (rc)
		return rc;
	if (st != PB_END)
		return fail_wire(d, &w, st, &r, &f);
	if (d->vals.n != d->ntypes)
		return fail(d, &w, "%zu values for %zu sample types", d->vals.n, d->ntypes);
	/* Deeper stacks than the file says it kept: a forged file, whose tracebacks would
	 * print every frame of every sample. */
	int64_t limit = d->p->meta.frame_limit;
	if (limit <= 0 || limit > FRAMES_LIMIT)
		limit = FRAMES_LIMIT;
	if (d->ids.n > (uint64_t)limit)
		return fail(d, &w, "%zu locations, more than the frame limit %" PRId64, d->ids.n,
			    limit);
	if (vec_reserve((void **)&d->locs, &d->locs_cap, d->ids.n, sizeof(*d->locs)))
		return -ENOMEM;
	for (size_t j = 0; j < d->ids.n; j++) {
		d->locs[j] = idmap_find(&d->locations, d->ids.v[j]);
		if (d->locs[j] == PROFILE_NONE)
			return fail(d, &w, "location id %" PRIu64 " not defined", d->ids.v[j]);
	}
	/* Counts and bytes, never negative (a difference of files is computed, not read). */
	int64_t value[PV_COUNT] = { 0 };
	for (size_t j = 0; j < d->ntypes; j++) {
		if (d->vmap[j] < 0)
			continue;
		if ((int64_t)d->vals.v[j] < 0)
			return fail(d, &w, "value %" PRId64 " is negative", (int64_t)d->vals.v[j]);
		value[d->vmap[j]] = (int64_t)d->vals.v[j];
	}
	rc = profile_add_sample(d->p, d->locs, (uint32_t)d->ids.n, value, labels.domain,
				labels.truncated);
	if (rc)
		return rc;
	if (labels.has_max_size) {
		d->p->samples[d->p->nsamples - 1].max_size = labels.max_size;
		d->p->has_max_size = true;
	}
	return has_sizes ? decode_sizes(d, &w, d->p->nsamples - 1) : 0;
}

/* Runs decode_one over every top-level field number field, in file order. */
static int decode_each(struct decoder *d, uint32_t field,
		       int (*decode_one)(struct decoder *, size_t, const pbfield_t *))
{
	pbreader_t r = d->top;
	pbfield_t f;
	size_t i = 0;
	int rc = 0;
	while (rc == 0 && pb_read_field(&r, &f) == PB_OK)
		if (f.number == field && !(rc = decode_one(d, i++, &f)))
			rc = check_budget(d);
	return rc;
}

/* Allocates the id array of m for n entries. */
static int idmap_alloc(struct idmap *m, size_t n)
{
	m->n = n;
	m->ids = malloc((n ? n : 1) * sizeof(*m->ids));
	return m->ids ? 0 : -ENOMEM;
}

/* Reads a packed run of non-negative varints (at most PROFILE_TIMELINE_MAX) into a new
 * array in *out, its length in *n. */
static int decode_packed(struct decoder *d, const struct where *w, const pbfield_t *f,
			 int64_t **out, uint32_t *n)
{
	int rc = want(d, w, f, PB_LEN);
	if (rc)
		return rc;
	pbreader_t r = pbreader_sub(&d->top, f->off, f->len);
	uint32_t count = 0;
	for (uint64_t v; r.pos < r.end; count++)
		if (pb_read_varint(&r, &v) || v > INT64_MAX || count >= PROFILE_TIMELINE_MAX)
			return fail(d, w, "bad packed values at byte %zu", f->off);
	int64_t *a = profile_alloc(d->p, (count ? count : 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = pbreader_sub(&d->top, f->off, f->len);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t v = 0;
		pb_read_varint(&r, &v);
		a[i] = (int64_t)v;
	}
	*out = a;
	*n = count;
	return 0;
}

/* heapsnap's timeline extension: optional; a bad one is an error like any field. */
static int decode_timeline(struct decoder *d, size_t i, const pbfield_t *tf)
{
	struct where w = { "timeline", i };
	profile_timeline_t t = { .peak_nanos = -1 };
	uint32_t nmax = 0;
	if (tf->type != PB_LEN)
		return 0; /* not ours: an unknown field, skipped like any other */
	int rc = 0;
	pbreader_t r = pbreader_sub(&d->top, tf->off, tf->len);
	pbfield_t f;
	while (!rc && pb_read_field(&r, &f) == PB_OK) {
		if (f.number == TIMELINE_INTERVAL && f.type == PB_VARINT && f.value <= INT64_MAX)
			t.interval_nanos = (int64_t)f.value;
		else if (f.number == TIMELINE_PEAK_NANOS && f.type == PB_VARINT &&
			 f.value <= INT64_MAX)
			t.peak_nanos = (int64_t)f.value - 1;
		else if (f.number == TIMELINE_MIN_BYTES)
			rc = decode_packed(d, &w, &f, &t.min_bytes, &t.n);
		else if (f.number == TIMELINE_MAX_BYTES)
			rc = decode_packed(d, &w, &f, &t.max_bytes, &nmax);
		else if (f.number == TIMELINE_SNAP_NANOS)
			rc = decode_packed(d, &w, &f, &t.snap_nanos, &t.nsnaps);
	}
	if (rc)
		return rc;
	bool ok = r.pos == r.end && t.n == nmax && t.n && t.interval_nanos > 0;
	for (uint32_t k = 0; ok && k < t.n; k++)
		ok = t.min_bytes[k] <= t.max_bytes[k];
	if (!ok)
		return fail(d, &w, "inconsistent timeline at byte %zu", tf->at);
	d->p->timeline = t;
	return 0;
}

static int decode_profile(struct decoder *d)
{
	int rc;
	if ((rc = decode_scan(d)) || (rc = decode_strings(d)) || (rc = decode_header(d)))
		return rc;
	size_t nfunc = d->count[PROFILE_FUNCTION];
	d->func_name = malloc((nfunc ? nfunc : 1) * sizeof(*d->func_name));
	d->func_file = malloc((nfunc ? nfunc : 1) * sizeof(*d->func_file));
	if (!d->func_name || !d->func_file || idmap_alloc(&d->functions, nfunc) ||
	    idmap_alloc(&d->mappings, d->count[PROFILE_MAPPING]) ||
	    idmap_alloc(&d->locations, d->count[PROFILE_LOCATION]))
		return -ENOMEM;
	if ((rc = decode_each(d, PROFILE_FUNCTION, decode_function)) ||
	    (rc = idmap_build(d, &d->functions, "function")) ||
	    (rc = decode_each(d, PROFILE_MAPPING, decode_mapping)) ||
	    (rc = idmap_build(d, &d->mappings, "mapping")) ||
	    (rc = decode_each(d, PROFILE_LOCATION, decode_location)) ||
	    (rc = idmap_build(d, &d->locations, "location")))
		return rc;
	if ((rc = decode_each(d, PROFILE_SAMPLE, decode_sample)))
		return rc;
	/* A file with nothing to class has every class there is: a process that allocated
	 * nothing, or only mappings (which have none), is not an old file. */
	bool heap = false;
	for (size_t i = 0; i < d->p->nsamples && !heap; i++)
		heap = d->p->samples[i].domain != PROFILE_DOMAIN_MMAP;
	if (!heap)
		d->p->has_sizes = true;
	if (!d->p->nsamples)
		d->p->has_max_size = true;
	return decode_each(d, PROFILE_HEAPSNAP_TIMELINE, decode_timeline);
}

int pprof_decode(const uint8_t *buf, size_t len, profile_t **out, pprof_error_t *err)
{
	pprof_error_t dummy;
	struct decoder d = {
		.top = { .base = buf, .pos = 0, .end = len },
		.err = err ? err : &dummy,
		.budget = len > (SIZE_MAX - DECODE_FLOOR) / DECODE_RATIO
				  ? SIZE_MAX
				  : DECODE_FLOOR + len * DECODE_RATIO,
	};
	d.err->why[0] = '\0';
	d.p = profile_new();
	int rc = d.p ? decode_profile(&d) : -ENOMEM;
	if (rc == -ENOMEM && !d.err->why[0])
		snprintf(d.err->why, sizeof(d.err->why), "%s", strerror(ENOMEM));
	if (rc == 0)
		*out = d.p;
	else
		profile_free(d.p);
	struct idmap *maps[] = { &d.functions, &d.mappings, &d.locations };
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		free(maps[i]->ids);
		idxtab_free(&maps[i]->table);
	}
	free(d.strs);
	free(d.vmap);
	free(d.func_name);
	free(d.func_file);
	free(d.ids.v);
	free(d.vals.v);
	free(d.sizes.v);
	free(d.locs);
	free(d.lines);
	return rc;
}
