/* pprof_encode.c - writing profiles as gzip-compressed pprof.
 *
 * The encoder first gives every string a string-table index and every distinct
 * (function, file) pair a Function id, keyed on the profile's interned pointers with
 * uthash over two preallocated pools, then writes the Profile message in field order
 * into one growable buffer, which pprof_write_fd gzips to the file (gzwrite.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) ((elt)->oom = true)
#include <uthash.h>

#include "gzwrite.h"
#include "pbwire.h"
#include "pprof.h"
#include "pprof_format.h"

struct strent {
	UT_hash_handle hh;
	const char *ptr; /* the key: an interned string pointer */
	bool oom;
};

struct funcent {
	UT_hash_handle hh;
	struct {
		const char *name, *file;
	} key;
	uint64_t name_idx, file_idx;
	bool oom;
};

struct mapping_flags {
	bool functions, filenames, line_numbers, inline_frames;
};

struct encoder {
	const profile_t *p;
	pbuf_t out, msg;
	struct strent *strs; /* the string table, index order; [0] is "" */
	size_t nstrs, strs_cap;
	struct strent *strhash;
	struct funcent *funcs; /* Function id i + 1 is funcs[i] */
	size_t nfuncs, funcs_cap;
	struct funcent *funchash;
	uint32_t *line_func; /* the Function id of each written Line, in writing order */
	size_t nline_funcs;
	struct mapping_flags *mflags;
	char *facts[ARRAY_SIZE(meta_keys)];
	size_t nfacts;
	uint64_t type_idx[PV_COUNT], unit_idx[PV_COUNT];
	uint64_t space_idx, bytes_idx, domain_idx, truncated_idx, true_idx, max_size_idx;
	bool oom;
};

/* Returns the string-table index of s, adding it when new; NULL and "" are index 0. */
static uint64_t enc_string(struct encoder *e, const char *s)
{
	if (!s || !*s)
		return 0;
	struct strent *ent;
	HASH_FIND(hh, e->strhash, &s, sizeof(s), ent);
	if (ent)
		return (uint64_t)(ent - e->strs);
	if (e->nstrs == e->strs_cap) { /* cannot happen: enc_prepare counted them all */
		e->oom = true;
		return 0;
	}
	ent = &e->strs[e->nstrs++];
	ent->ptr = s;
	ent->oom = false;
	HASH_ADD(hh, e->strhash, ptr, sizeof(ent->ptr), ent);
	if (ent->oom)
		e->oom = true;
	return (uint64_t)(ent - e->strs);
}

/* A line that knows nothing is written as no Line at all. */
static bool line_is_empty(const profile_line_t *l)
{
	return !l->function && !l->file && !l->line;
}

/* Returns the Function for a line, adding it when new.  A line without function or
 * file still gets one (named ""): go tool pprof rejects a Line without a function. */
static struct funcent *enc_function(struct encoder *e, const profile_line_t *l)
{
	struct funcent probe, *ent;
	memset(&probe.key, 0, sizeof(probe.key));
	probe.key.name = l->function;
	probe.key.file = l->file;
	HASH_FIND(hh, e->funchash, &probe.key, sizeof(probe.key), ent);
	if (ent)
		return ent;
	if (e->nfuncs == e->funcs_cap) { /* cannot happen: one per line at most */
		e->oom = true;
		return &e->funcs[0];
	}
	ent = &e->funcs[e->nfuncs++];
	ent->key = probe.key;
	ent->oom = false;
	ent->name_idx = enc_string(e, l->function);
	ent->file_idx = enc_string(e, l->file);
	HASH_ADD(hh, e->funchash, key, sizeof(ent->key), ent);
	if (ent->oom)
		e->oom = true;
	return ent;
}

/* Builds the "heapsnap.key=value" comments for the facts p has. */
static int enc_facts(struct encoder *e)
{
	const profile_meta_t *m = &e->p->meta;
	for (size_t i = 0; i < ARRAY_SIZE(meta_keys); i++) {
		const struct meta_key *k = &meta_keys[i];
		int n = 0;
		char *s = NULL;
		if (k->kind == META_VERSION)
			n = asprintf(&s, "%s=%d", k->key, META_VERSION_VALUE);
		else if (k->kind == META_NUM && meta_get_num(m, k) >= 0)
			n = asprintf(&s, "%s=%" PRId64, k->key, meta_get_num(m, k));
		else if (k->kind == META_STR && meta_get_str(m, k))
			n = asprintf(&s, "%s=%s", k->key, meta_get_str(m, k));
		else
			continue;
		if (n < 0)
			return -ENOMEM;
		e->facts[e->nfacts++] = s;
	}
	return 0;
}

/* Sizes the pools, then assigns string indices and Function ids in the order the
 * encoder will write them.  Returns 0 or -ENOMEM. */
static int enc_prepare(struct encoder *e)
{
	const profile_t *p = e->p;
	size_t nlines = 0;
	for (uint32_t i = 0; i < p->nlocations; i++)
		nlines += p->locations[i].nlines;

	e->strs_cap = 1 + 2 * PV_COUNT + 6 + 2 * (size_t)p->nmappings + 2 * nlines +
		      p->ncomments + ARRAY_SIZE(meta_keys);
	/* Both are filled in order from the start and each entry is set when it is used
	 * (HASH_ADD sets every field of the handle): not cleared, so that only the pages
	 * of the entries used are touched.  Their counts are bounds, often well above. */
	e->strs = malloc(e->strs_cap * sizeof(*e->strs));
	e->funcs_cap = nlines ? nlines : 1;
	e->funcs = malloc(e->funcs_cap * sizeof(*e->funcs));
	e->line_func = malloc(e->funcs_cap * sizeof(*e->line_func));
	e->mflags = calloc(p->nmappings ? p->nmappings : 1, sizeof(*e->mflags));
	if (!e->strs || !e->funcs || !e->line_func || !e->mflags || enc_facts(e) < 0)
		return -ENOMEM;
	e->strs[0].ptr = "";
	e->nstrs = 1;

	for (enum profile_value v = 0; v < PV_COUNT; v++) {
		e->type_idx[v] = enc_string(e, profile_value_type(v));
		e->unit_idx[v] = enc_string(e, profile_value_unit(v));
	}
	e->space_idx = enc_string(e, "space");
	e->bytes_idx = enc_string(e, profile_value_unit(PV_ALLOC_SPACE));
	e->domain_idx = enc_string(e, "domain");
	e->truncated_idx = enc_string(e, "truncated");
	e->true_idx = enc_string(e, "true");
	e->max_size_idx = enc_string(e, "max_size");
	for (uint32_t i = 0; i < p->nmappings; i++) {
		enc_string(e, p->mappings[i].path);
		enc_string(e, p->mappings[i].build_id);
	}
	for (uint32_t i = 0; i < p->nlocations; i++) {
		const profile_location_t *loc = &p->locations[i];
		struct mapping_flags *mf =
			loc->mapping < p->nmappings ? &e->mflags[loc->mapping] : NULL;
		for (uint32_t j = 0; j < loc->nlines; j++) {
			const profile_line_t *l = &loc->lines[j];
			if (line_is_empty(l))
				continue;
			e->line_func[e->nline_funcs++] = (uint32_t)(enc_function(e, l) - e->funcs) + 1;
			if (mf) {
				mf->functions |= l->function != NULL;
				mf->filenames |= l->file != NULL;
				mf->line_numbers |= l->line != 0;
				/* The symbolizer reports inlined frames whenever it finds a
				 * function, so a symbolized location is complete. */
				mf->inline_frames |= l->function != NULL;
			}
		}
	}
	for (size_t i = 0; i < e->nfacts; i++)
		enc_string(e, e->facts[i]);
	for (uint32_t i = 0; i < p->ncomments; i++)
		enc_string(e, p->comments[i]);
	return e->oom ? -ENOMEM : 0;
}

static void enc_value_type(struct encoder *e, uint32_t field, uint64_t type, uint64_t unit)
{
	e->msg.len = 0;
	pbuf_put_uint_nz(&e->msg, VALUE_TYPE_TYPE, type);
	pbuf_put_uint_nz(&e->msg, VALUE_TYPE_UNIT, unit);
	pbuf_put_message(&e->out, field, &e->msg);
}

static size_t label_size(uint64_t key, uint64_t v)
{
	return 1 + pb_varint_size(key) + 1 + pb_varint_size(v);
}

/* The parts of a sample, written unchecked into the room enc_sample() reserved. */
static void enc_label(pbuf_t *b, uint64_t key, uint32_t field, uint64_t v)
{
	pbuf_put_tag_unchecked(b, SAMPLE_LABEL, PB_LEN);
	pbuf_put_varint_unchecked(b, label_size(key, v));
	pbuf_put_uint_unchecked(b, LABEL_KEY, key);
	pbuf_put_uint_unchecked(b, field, v);
}

/* The max_size label: a number with unit bytes. */
static void enc_label_max_size(struct encoder *e, pbuf_t *b, int64_t max_size)
{
	pbuf_put_tag_unchecked(b, SAMPLE_LABEL, PB_LEN);
	pbuf_put_varint_unchecked(b, label_size(e->max_size_idx, (uint64_t)max_size) + 1 +
					     pb_varint_size(e->bytes_idx));
	pbuf_put_uint_unchecked(b, LABEL_KEY, e->max_size_idx);
	pbuf_put_uint_unchecked(b, LABEL_NUM, (uint64_t)max_size);
	pbuf_put_uint_unchecked(b, LABEL_NUM_UNIT, e->bytes_idx);
}

/* Whether s's one size class holds exactly the sample's blocks: then the class alone
 * is written. */
static bool sizes_are_whole(const profile_sample_t *s)
{
	const profile_size_t *r = &s->sizes[0];
	return s->nsizes == 1 && r->alloc_blocks == s->value[PV_ALLOC_OBJECTS] &&
	       r->alloc_bytes == s->value[PV_ALLOC_SPACE] &&
	       r->inuse_blocks == s->value[PV_INUSE_OBJECTS] &&
	       r->inuse_bytes == s->value[PV_INUSE_SPACE];
}

/* Sample field SAMPLE_HEAPSNAP_SIZES (docs/format.md). */
static void enc_sizes(pbuf_t *b, const profile_sample_t *s)
{
	if (sizes_are_whole(s)) {
		pbuf_put_tag_unchecked(b, SAMPLE_HEAPSNAP_SIZES, PB_LEN);
		pbuf_put_varint_unchecked(b, pb_varint_size(s->sizes[0].cls));
		pbuf_put_varint_unchecked(b, s->sizes[0].cls);
		return;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < s->nsizes; i++) {
		const profile_size_t *r = &s->sizes[i];
		n += pb_varint_size(r->cls) + pb_varint_size((uint64_t)r->alloc_blocks) +
		     pb_varint_size((uint64_t)r->alloc_bytes) +
		     pb_varint_size((uint64_t)r->inuse_blocks) +
		     pb_varint_size((uint64_t)r->inuse_bytes);
	}
	pbuf_put_tag_unchecked(b, SAMPLE_HEAPSNAP_SIZES, PB_LEN);
	pbuf_put_varint_unchecked(b, n);
	for (uint32_t i = 0; i < s->nsizes; i++) {
		const profile_size_t *r = &s->sizes[i];
		pbuf_put_varint_unchecked(b, r->cls);
		pbuf_put_varint_unchecked(b, (uint64_t)r->alloc_blocks);
		pbuf_put_varint_unchecked(b, (uint64_t)r->alloc_bytes);
		pbuf_put_varint_unchecked(b, (uint64_t)r->inuse_blocks);
		pbuf_put_varint_unchecked(b, (uint64_t)r->inuse_bytes);
	}
}

/* The most bytes enc_sample() writes for s, each varint at its longest: two for each
 * packed field's tag and length, six for each of the domain and truncated labels,
 * eight for max_size.  A sample is written with one pbuf_reserve() and unchecked
 * varints after it: a compiler's exit profile is 3,500 samples of some 30 varints
 * each, and checking each varint's room was most of the encoder's time. */
static size_t sample_bound(const profile_sample_t *s)
{
	return PB_VARINT_MAX * (2 + (size_t)s->nlocs + 2 + PV_COUNT + 6 + 6 + 8 + 2 +
				5 * (size_t)s->nsizes);
}

static void enc_sample(struct encoder *e, const profile_sample_t *s)
{
	const profile_t *p = e->p;
	pbuf_t *b = &e->msg;
	b->len = 0;
	if (!pbuf_reserve(b, sample_bound(s)))
		return; /* b->failed is set */
	if (s->nlocs) {
		size_t n = 0;
		for (uint32_t i = 0; i < s->nlocs; i++)
			n += pb_varint_size((uint64_t)s->locs[i] + 1);
		pbuf_put_tag_unchecked(b, SAMPLE_LOCATION_ID, PB_LEN);
		pbuf_put_varint_unchecked(b, n);
		for (uint32_t i = 0; i < s->nlocs; i++)
			pbuf_put_varint_unchecked(b, (uint64_t)s->locs[i] + 1);
	}
	size_t n = 0;
	for (enum profile_value v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			n += pb_varint_size((uint64_t)s->value[v]);
	if (n) {
		pbuf_put_tag_unchecked(b, SAMPLE_VALUE, PB_LEN);
		pbuf_put_varint_unchecked(b, n);
		for (enum profile_value v = 0; v < PV_COUNT; v++)
			if (p->has_value[v])
				pbuf_put_varint_unchecked(b, (uint64_t)s->value[v]);
	}
	if (s->domain)
		enc_label(b, e->domain_idx, LABEL_NUM, (uint64_t)s->domain);
	if (s->truncated)
		enc_label(b, e->truncated_idx, LABEL_STR, e->true_idx);
	if (p->has_max_size)
		enc_label_max_size(e, b, s->max_size);
	if (p->has_sizes && s->nsizes)
		enc_sizes(b, s);
	pbuf_put_message(&e->out, PROFILE_SAMPLE, b);
}

static void enc_mapping(struct encoder *e, uint32_t i)
{
	const profile_mapping_t *m = &e->p->mappings[i];
	const struct mapping_flags *mf = &e->mflags[i];
	pbuf_t *b = &e->msg;
	b->len = 0;
	pbuf_put_uint(b, MAPPING_ID, (uint64_t)i + 1);
	pbuf_put_uint_nz(b, MAPPING_MEMORY_START, m->start);
	pbuf_put_uint_nz(b, MAPPING_MEMORY_LIMIT, m->limit);
	pbuf_put_uint_nz(b, MAPPING_FILE_OFFSET, m->offset);
	pbuf_put_uint_nz(b, MAPPING_FILENAME, enc_string(e, m->path));
	pbuf_put_uint_nz(b, MAPPING_BUILD_ID, enc_string(e, m->build_id));
	pbuf_put_uint_nz(b, MAPPING_HAS_FUNCTIONS, mf->functions);
	pbuf_put_uint_nz(b, MAPPING_HAS_FILENAMES, mf->filenames);
	pbuf_put_uint_nz(b, MAPPING_HAS_LINE_NUMBERS, mf->line_numbers);
	pbuf_put_uint_nz(b, MAPPING_HAS_INLINE_FRAMES, mf->inline_frames);
	pbuf_put_message(&e->out, PROFILE_MAPPING, b);
}

/* Locations are written in the order enc_prepare() went through them: their Lines'
 * Function ids are taken in turn from e->line_func. */
static void enc_location(struct encoder *e, uint32_t i, size_t *next_line)
{
	const profile_location_t *loc = &e->p->locations[i];
	pbuf_t *b = &e->msg;
	b->len = 0;
	pbuf_put_uint(b, LOCATION_ID, (uint64_t)i + 1);
	if (loc->mapping < e->p->nmappings)
		pbuf_put_uint(b, LOCATION_MAPPING_ID, (uint64_t)loc->mapping + 1);
	pbuf_put_uint_nz(b, LOCATION_ADDRESS, loc->address);
	for (uint32_t j = 0; j < loc->nlines; j++) {
		const profile_line_t *l = &loc->lines[j];
		if (line_is_empty(l))
			continue;
		uint64_t fid = e->line_func[(*next_line)++];
		size_t n = 1 + pb_varint_size(fid) +
			   (l->line ? 1 + pb_varint_size((uint64_t)l->line) : 0);
		pbuf_put_tag(b, LOCATION_LINE, PB_LEN);
		pbuf_put_varint(b, n);
		pbuf_put_uint(b, LINE_FUNCTION_ID, fid);
		pbuf_put_uint_nz(b, LINE_LINE, (uint64_t)l->line);
	}
	pbuf_put_message(&e->out, PROFILE_LOCATION, b);
}

static void enc_function_msg(struct encoder *e, size_t i)
{
	const struct funcent *f = &e->funcs[i];
	pbuf_t *b = &e->msg;
	b->len = 0;
	pbuf_put_uint(b, FUNCTION_ID, (uint64_t)i + 1);
	pbuf_put_uint_nz(b, FUNCTION_NAME, f->name_idx);
	pbuf_put_uint_nz(b, FUNCTION_SYSTEM_NAME, f->name_idx);
	pbuf_put_uint_nz(b, FUNCTION_FILENAME, f->file_idx);
	pbuf_put_message(&e->out, PROFILE_FUNCTION, b);
}

/* Packed non-negative varints as field f of b. */
static void enc_packed(pbuf_t *b, uint32_t f, const int64_t *v, uint32_t n)
{
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++)
		len += pb_varint_size((uint64_t)(v[i] < 0 ? 0 : v[i]));
	if (!n)
		return;
	pbuf_put_tag(b, f, PB_LEN);
	pbuf_put_varint(b, len);
	for (uint32_t i = 0; i < n; i++)
		pbuf_put_varint(b, (uint64_t)(v[i] < 0 ? 0 : v[i]));
}

/* The timeline extension (PROFILE_HEAPSNAP_TIMELINE), when p has one. */
static void enc_timeline(struct encoder *e)
{
	const profile_timeline_t *t = &e->p->timeline;
	if (!t->n)
		return;
	pbuf_t m = { 0 };
	pbuf_put_uint(&m, TIMELINE_INTERVAL, (uint64_t)t->interval_nanos);
	enc_packed(&m, TIMELINE_MIN_BYTES, t->min_bytes, t->n);
	enc_packed(&m, TIMELINE_MAX_BYTES, t->max_bytes, t->n);
	if (t->peak_nanos >= 0)
		pbuf_put_uint(&m, TIMELINE_PEAK_NANOS, (uint64_t)t->peak_nanos + 1);
	enc_packed(&m, TIMELINE_SNAP_NANOS, t->snap_nanos, t->nsnaps);
	if (m.failed)
		e->out.failed = true;
	else
		pbuf_put_message(&e->out, PROFILE_HEAPSNAP_TIMELINE, &m);
	free(m.data);
}

/* About the bytes enc_profile() writes, a little over for typical values: the output
 * is then sized once.  Doubling from 4 KiB took a compiler's 284 KB profile through
 * 960 KB of buffers, each step a copy into fresh pages.  A profile of unusually wide
 * values goes past the estimate and grows from there. */
static size_t enc_estimate(const struct encoder *e)
{
	const profile_t *p = e->p;
	size_t n = 256 + 8 * (e->nfacts + p->ncomments);
	for (size_t i = 0; i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		n += 12 + 2 * (size_t)s->nlocs + 2 * PV_COUNT + 8 * (size_t)s->nsizes;
	}
	for (uint32_t i = 0; i < p->nlocations; i++)
		n += 10 + 6 * (size_t)p->locations[i].nlines;
	n += 64 * (size_t)p->nmappings + 10 * e->nfuncs;
	for (size_t i = 0; i < e->nstrs; i++)
		n += 2 + strlen(e->strs[i].ptr);
	n += 20 * ((size_t)p->timeline.n + p->timeline.nsnaps);
	return n;
}

static void enc_profile(struct encoder *e)
{
	const profile_t *p = e->p;
	const profile_meta_t *m = &p->meta;
	pbuf_presize(&e->out, enc_estimate(e));
	for (enum profile_value v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			enc_value_type(e, PROFILE_SAMPLE_TYPE, e->type_idx[v], e->unit_idx[v]);
	for (size_t i = 0; i < p->nsamples; i++)
		enc_sample(e, &p->samples[i]);
	for (uint32_t i = 0; i < p->nmappings; i++)
		enc_mapping(e, i);
	size_t next_line = 0;
	for (uint32_t i = 0; i < p->nlocations; i++)
		enc_location(e, i, &next_line);
	for (size_t i = 0; i < e->nfuncs; i++)
		enc_function_msg(e, i);
	for (size_t i = 0; i < e->nstrs; i++)
		pbuf_put_bytes(&e->out, PROFILE_STRING_TABLE, e->strs[i].ptr, strlen(e->strs[i].ptr));
	if (m->time_nanos >= 0)
		pbuf_put_uint(&e->out, PROFILE_TIME_NANOS, (uint64_t)m->time_nanos);
	if (m->duration_nanos >= 0)
		pbuf_put_uint(&e->out, PROFILE_DURATION_NANOS, (uint64_t)m->duration_nanos);
	enc_value_type(e, PROFILE_PERIOD_TYPE, e->space_idx, e->bytes_idx);
	if (m->sampling_period >= 0)
		pbuf_put_uint(&e->out, PROFILE_PERIOD, (uint64_t)m->sampling_period);
	size_t n = 0, ncomments = e->nfacts + p->ncomments;
	uint64_t *idx = malloc((ncomments ? ncomments : 1) * sizeof(*idx));
	if (!idx) {
		e->out.failed = true;
		return;
	}
	for (size_t i = 0; i < e->nfacts; i++)
		idx[i] = enc_string(e, e->facts[i]);
	for (uint32_t i = 0; i < p->ncomments; i++)
		idx[e->nfacts + i] = enc_string(e, p->comments[i]);
	for (size_t i = 0; i < ncomments; i++)
		n += pb_varint_size(idx[i]);
	if (n) {
		pbuf_put_tag(&e->out, PROFILE_COMMENT, PB_LEN);
		pbuf_put_varint(&e->out, n);
		for (size_t i = 0; i < ncomments; i++)
			pbuf_put_varint(&e->out, idx[i]);
	}
	free(idx);
	if (p->has_value[PV_INUSE_SPACE])
		pbuf_put_uint(&e->out, PROFILE_DEFAULT_SAMPLE_TYPE, e->type_idx[PV_INUSE_SPACE]);
	enc_timeline(e);
}

int pprof_encode(const profile_t *p, uint8_t **buf, size_t *len)
{
	struct encoder e = { .p = p };
	int r = enc_prepare(&e);
	if (r == 0) {
		enc_profile(&e);
		r = e.out.failed || e.msg.failed || e.oom ? -ENOMEM : 0;
	}
	if (r == 0) {
		*buf = e.out.data;
		*len = e.out.len;
		e.out.data = NULL;
	}
	HASH_CLEAR(hh, e.strhash);
	HASH_CLEAR(hh, e.funchash);
	for (size_t i = 0; i < e.nfacts; i++)
		free(e.facts[i]);
	free(e.strs);
	free(e.funcs);
	free(e.line_func);
	free(e.mflags);
	free(e.msg.data);
	free(e.out.data);
	return r;
}

int pprof_write_fd(const profile_t *p, int fd)
{
	uint8_t *buf;
	size_t len;
	int r = pprof_encode(p, &buf, &len);
	if (r < 0)
		return r;
	r = gzip_write_fd(buf, len, fd);
	free(buf);
	return r;
}
