/* pprof.c - snapshot files: profiles as gzip-compressed pprof, written and read back.
 *
 * The encoder first gives every string a string-table index and every distinct
 * (function, file) pair a Function id, keyed on the profile's interned pointers with
 * uthash over two preallocated pools, then writes the Profile message in field order
 * into one growable buffer.  The decoder trusts nothing: a first scan over the
 * top-level fields checks their framing and counts each kind, then one scan per kind
 * decodes functions, mappings, locations and samples in dependency order, so a file
 * may hold its fields in any order.  Ids become indices through an id map that is the
 * identity when ids are 1..n (the usual case) and an open-addressing hash otherwise.
 * Memory grows only with what the input actually holds.  The header facts travel as
 * "heapsnap.key=value" comments described by one table used in both directions.
 */
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) ((elt)->oom = true)
#include <uthash.h>

#include "pbwire.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Field numbers from profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_DROP_FRAMES = 7,
	PROFILE_KEEP_FRAMES = 8,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	PROFILE_FIELD_MAX = 15,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3, LABEL_NUM_UNIT = 4 };
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
       LOCATION_IS_FOLDED = 5 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2, LINE_COLUMN = 3 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
       FUNCTION_START_LINE = 5 };

/* The header facts carried as "heapsnap.key=value" comments.  time_nanos and
 * duration_nanos have Profile fields of their own. */
enum meta_kind { META_VERSION, META_NUM, META_STR };

static const struct meta_key {
	const char *key;
	enum meta_kind kind;
	size_t offset; /* into profile_meta_t */
} meta_keys[] = {
	{ "heapsnap.version", META_VERSION, 0 },
	{ "heapsnap.pid", META_NUM, offsetof(profile_meta_t, pid) },
	{ "heapsnap.command", META_STR, offsetof(profile_meta_t, command) },
	{ "heapsnap.trigger", META_STR, offsetof(profile_meta_t, trigger) },
	{ "heapsnap.frame_limit", META_NUM, offsetof(profile_meta_t, frame_limit) },
	{ "heapsnap.sampling_period", META_NUM, offsetof(profile_meta_t, sampling_period) },
	{ "heapsnap.current_bytes", META_NUM, offsetof(profile_meta_t, current_bytes) },
	{ "heapsnap.peak_bytes", META_NUM, offsetof(profile_meta_t, peak_bytes) },
	{ "heapsnap.lost_events", META_NUM, offsetof(profile_meta_t, lost_events) },
	{ "heapsnap.untracked_events", META_NUM, offsetof(profile_meta_t, untracked_events) },
	{ "heapsnap.corrupt_records", META_NUM, offsetof(profile_meta_t, corrupt_records) },
	{ "heapsnap.unmatched_frees", META_NUM, offsetof(profile_meta_t, unmatched_frees) },
	{ "heapsnap.dropped_stacks", META_NUM, offsetof(profile_meta_t, dropped_stacks) },
	{ "heapsnap.merged_requests", META_NUM, offsetof(profile_meta_t, merged_requests) },
	{ "heapsnap.overhead_bytes", META_NUM, offsetof(profile_meta_t, overhead_bytes) },
};

#define META_VERSION_VALUE 1
/* Level 1: on 100k-sample profiles it compresses 2.6x faster than 6 for 3% more bytes. */
#define GZIP_LEVEL 1
#define GZIP_CHUNK (256u << 10)
#define UNCOMPRESSED_LIMIT ((size_t)1 << 32)

static int64_t *meta_num(profile_meta_t *m, const struct meta_key *k)
{
	return (int64_t *)((char *)m + k->offset);
}

static const char **meta_str(profile_meta_t *m, const struct meta_key *k)
{
	return (const char **)((char *)m + k->offset);
}

static int64_t meta_get_num(const profile_meta_t *m, const struct meta_key *k)
{
	return *(const int64_t *)((const char *)m + k->offset);
}

static const char *meta_get_str(const profile_meta_t *m, const struct meta_key *k)
{
	return *(const char *const *)((const char *)m + k->offset);
}

/* ======================================================================== encoding */

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
	struct mapping_flags *mflags;
	char *facts[ARRAY_SIZE(meta_keys)];
	size_t nfacts;
	uint64_t type_idx[PV_COUNT], unit_idx[PV_COUNT];
	uint64_t space_idx, bytes_idx, domain_idx, truncated_idx, true_idx;
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

	e->strs_cap = 1 + 2 * PV_COUNT + 5 + 2 * (size_t)p->nmappings + 2 * nlines +
		      p->ncomments + ARRAY_SIZE(meta_keys);
	e->strs = calloc(e->strs_cap, sizeof(*e->strs));
	e->funcs_cap = nlines ? nlines : 1;
	e->funcs = calloc(e->funcs_cap, sizeof(*e->funcs));
	e->mflags = calloc(p->nmappings ? p->nmappings : 1, sizeof(*e->mflags));
	if (!e->strs || !e->funcs || !e->mflags || enc_facts(e) < 0)
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
			enc_function(e, l);
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

static void enc_label(pbuf_t *b, uint64_t key, uint32_t field, uint64_t v)
{
	pbuf_put_tag(b, SAMPLE_LABEL, PB_LEN);
	pbuf_put_varint(b, label_size(key, v));
	pbuf_put_uint(b, LABEL_KEY, key);
	pbuf_put_uint(b, field, v);
}

static void enc_sample(struct encoder *e, const profile_sample_t *s)
{
	const profile_t *p = e->p;
	pbuf_t *b = &e->msg;
	b->len = 0;
	if (s->nlocs) {
		size_t n = 0;
		for (uint32_t i = 0; i < s->nlocs; i++)
			n += pb_varint_size((uint64_t)s->locs[i] + 1);
		pbuf_put_tag(b, SAMPLE_LOCATION_ID, PB_LEN);
		pbuf_put_varint(b, n);
		if (pbuf_reserve(b, n))
			for (uint32_t i = 0; i < s->nlocs; i++)
				pbuf_put_varint_unchecked(b, (uint64_t)s->locs[i] + 1);
	}
	size_t n = 0;
	for (enum profile_value v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			n += pb_varint_size((uint64_t)s->value[v]);
	if (n) {
		pbuf_put_tag(b, SAMPLE_VALUE, PB_LEN);
		pbuf_put_varint(b, n);
		for (enum profile_value v = 0; v < PV_COUNT; v++)
			if (p->has_value[v])
				pbuf_put_varint(b, (uint64_t)s->value[v]);
	}
	if (s->domain)
		enc_label(b, e->domain_idx, LABEL_NUM, (uint64_t)s->domain);
	if (s->truncated)
		enc_label(b, e->truncated_idx, LABEL_STR, e->true_idx);
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

static void enc_location(struct encoder *e, uint32_t i)
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
		uint64_t fid = (uint64_t)(enc_function(e, l) - e->funcs) + 1;
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

static void enc_profile(struct encoder *e)
{
	const profile_t *p = e->p;
	const profile_meta_t *m = &p->meta;
	for (enum profile_value v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			enc_value_type(e, PROFILE_SAMPLE_TYPE, e->type_idx[v], e->unit_idx[v]);
	for (size_t i = 0; i < p->nsamples; i++)
		enc_sample(e, &p->samples[i]);
	for (uint32_t i = 0; i < p->nmappings; i++)
		enc_mapping(e, i);
	for (uint32_t i = 0; i < p->nlocations; i++)
		enc_location(e, i);
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
	free(e.mflags);
	free(e.msg.data);
	free(e.out.data);
	return r;
}

/* Writes all of buf to fd; returns 0 or a negative errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Gzips buf to fd in GZIP_CHUNK pieces; returns 0 or a negative errno. */
static int gzip_write_fd(const uint8_t *buf, size_t len, int fd)
{
	z_stream zs = { 0 };
	if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	uint8_t *chunk = malloc(GZIP_CHUNK);
	int r = chunk ? 0 : -ENOMEM, zr = Z_OK;
	zs.next_in = (Bytef *)buf;
	while (r == 0 && zr != Z_STREAM_END) {
		if (zs.avail_in == 0 && len) {
			zs.avail_in = len > (1u << 30) ? (1u << 30) : (uInt)len;
			len -= zs.avail_in;
		}
		zs.next_out = chunk;
		zs.avail_out = GZIP_CHUNK;
		zr = deflate(&zs, len ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR)
			r = -EIO;
		else
			r = write_all(fd, chunk, GZIP_CHUNK - zs.avail_out);
	}
	deflateEnd(&zs);
	free(chunk);
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

/* ======================================================================== decoding */

/* Maps the ids of one kind of message to their indices in file order. */
struct idmap {
	uint64_t *ids; /* the id of each index */
	size_t n;
	bool dense;      /* ids[i] == i + 1 throughout: no table needed */
	uint32_t *slots; /* index + 1, or 0 when empty */
	size_t mask;
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
	struct u64vec ids, vals;
	uint32_t *locs;
	size_t locs_cap;
	profile_line_t *lines;
	size_t lines_cap;
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

/* Makes room for need elements in *vec; returns 0 or -ENOMEM. */
static int vec_reserve(void **vec, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	void *n = realloc(*vec, ncap * elem);
	if (!n)
		return -ENOMEM;
	*vec = n;
	*cap = ncap;
	return 0;
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

/* Builds the lookup structure for m->ids; duplicate and zero ids are errors. */
static int idmap_build(struct decoder *d, struct idmap *m, const char *what)
{
	m->dense = true;
	for (size_t i = 0; i < m->n && m->dense; i++)
		m->dense = m->ids[i] == i + 1;
	if (m->dense)
		return 0;
	size_t size = 16;
	while (size < m->n * 2)
		size *= 2;
	m->slots = calloc(size, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->mask = size - 1;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t id = m->ids[i];
		if (id == 0)
			return fail(d, &(struct where){ what, i }, "id 0 is reserved");
		size_t h = id_hash(id) & m->mask;
		for (; m->slots[h]; h = (h + 1) & m->mask)
			if (m->ids[m->slots[h] - 1] == id)
				return fail(d, &(struct where){ what, i }, "duplicate id %" PRIu64, id);
		m->slots[h] = (uint32_t)i + 1;
	}
	return 0;
}

/* Returns the index of id, or PROFILE_NONE. */
static uint32_t idmap_find(const struct idmap *m, uint64_t id)
{
	if (m->dense)
		return id - 1 < m->n ? (uint32_t)(id - 1) : PROFILE_NONE;
	for (size_t h = id_hash(id) & m->mask; m->slots[h]; h = (h + 1) & m->mask)
		if (m->ids[m->slots[h] - 1] == id)
			return m->slots[h] - 1;
	return PROFILE_NONE;
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
				return rc;
			d->count[f.number]++;
			break;
		case PROFILE_DROP_FRAMES:
		case PROFILE_KEEP_FRAMES:
		case PROFILE_TIME_NANOS:
		case PROFILE_DURATION_NANOS:
		case PROFILE_PERIOD:
		case PROFILE_DEFAULT_SAMPLE_TYPE:
			if ((rc = want(d, NULL, &f, PB_VARINT)))
				return rc;
			break;
		case PROFILE_COMMENT:
			if (f.type != PB_VARINT && (rc = want(d, NULL, &f, PB_LEN)))
				return rc;
			break;
		}
	}
	if (st != PB_END)
		return fail_wire(d, NULL, st, &r, &f);
	if (d->count[PROFILE_MAPPING] >= PROFILE_NONE || d->count[PROFILE_LOCATION] >= PROFILE_NONE ||
	    d->count[PROFILE_FUNCTION] >= PROFILE_NONE)
		return fail(d, NULL, "too many mappings, locations or functions");
	return 0;
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
		rc = decode_comment(d, i, d->ids.v[i]);
	return rc;
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

/* Reads a Label of sample w, setting *domain or *truncated when it is one of ours. */
static int decode_label(struct decoder *d, const struct where *w, const pbfield_t *lf,
			int64_t *domain, bool *truncated)
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
	if (str_is(d, key, "domain") && has_num)
		*domain = (int64_t)num;
	else if (str_is(d, key, "truncated"))
		*truncated = (has_num && num == 1) || str_is(d, str, "true");
	return 0;
}

static int decode_sample(struct decoder *d, size_t i, const pbfield_t *sf)
{
	struct where w = { "sample", i };
	pbreader_t r = pbreader_sub(&d->top, sf->off, sf->len);
	pbfield_t f;
	enum pb_status st;
	int64_t domain = 0;
	bool truncated = false;
	int rc = 0;
	d->ids.n = d->vals.n = 0;
	while (rc == 0 && (st = pb_read_field(&r, &f)) == PB_OK) {
		if (f.number == SAMPLE_LOCATION_ID)
			rc = read_repeated(d, &w, &f, &d->ids);
		else if (f.number == SAMPLE_VALUE)
			rc = read_repeated(d, &w, &f, &d->vals);
		else if (f.number == SAMPLE_LABEL && !(rc = want(d, &w, &f, PB_LEN)))
			rc = decode_label(d, &w, &f, &domain, &truncated);
	}
	if (rc)
		return rc;
	if (st != PB_END)
		return fail_wire(d, &w, st, &r, &f);
	if (d->vals.n != d->ntypes)
		return fail(d, &w, "%zu values for %zu sample types", d->vals.n, d->ntypes);
	if (d->ids.n > UINT32_MAX)
		return fail(d, &w, "too many locations");
	if (vec_reserve((void **)&d->locs, &d->locs_cap, d->ids.n, sizeof(*d->locs)))
		return -ENOMEM;
	for (size_t j = 0; j < d->ids.n; j++) {
		d->locs[j] = idmap_find(&d->locations, d->ids.v[j]);
		if (d->locs[j] == PROFILE_NONE)
			return fail(d, &w, "location id %" PRIu64 " not defined", d->ids.v[j]);
	}
	int64_t value[PV_COUNT] = { 0 };
	for (size_t j = 0; j < d->ntypes; j++)
		if (d->vmap[j] >= 0)
			value[d->vmap[j]] = (int64_t)d->vals.v[j];
	return profile_add_sample(d->p, d->locs, (uint32_t)d->ids.n, value, domain, truncated);
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
		if (f.number == field)
			rc = decode_one(d, i++, &f);
	return rc;
}

/* Allocates the id array of m for n entries. */
static int idmap_alloc(struct idmap *m, size_t n)
{
	m->n = n;
	m->ids = malloc((n ? n : 1) * sizeof(*m->ids));
	return m->ids ? 0 : -ENOMEM;
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
	return decode_each(d, PROFILE_SAMPLE, decode_sample);
}

int pprof_decode(const uint8_t *buf, size_t len, profile_t **out, pprof_error_t *err)
{
	pprof_error_t dummy;
	struct decoder d = {
		.top = { .base = buf, .pos = 0, .end = len },
		.err = err ? err : &dummy,
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
		free(maps[i]->slots);
	}
	free(d.strs);
	free(d.vmap);
	free(d.func_name);
	free(d.func_file);
	free(d.ids.v);
	free(d.vals.v);
	free(d.locs);
	free(d.lines);
	return rc;
}

/* ======================================================================== files */

static int set_why(pprof_error_t *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records why a read failed and returns rc. */
static int set_why(pprof_error_t *err, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return rc;
}

static int over_limit(pprof_error_t *err, size_t limit)
{
	if (limit >= (1u << 30) && limit % (1u << 30) == 0)
		return set_why(err, -EINVAL, "uncompressed size over %zu GiB", limit >> 30);
	return set_why(err, -EINVAL, "uncompressed size over %zu bytes", limit);
}

int pprof_gunzip(const uint8_t *in, size_t len, size_t limit, uint8_t **out, size_t *out_len,
		 pprof_error_t *err)
{
	pprof_error_t dummy;
	if (!err)
		err = &dummy;
	z_stream zs = { 0 };
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
	/* Start from the compressed size, never from the gzip trailer's claim. */
	size_t cap = len < limit / 4 ? len * 4 : limit;
	cap = cap < 4096 ? 4096 : cap;
	size_t n = 0, in_left = len;
	uint8_t *buf = NULL;
	int rc = 0;
	zs.next_in = (Bytef *)in;
	for (;;) {
		if (!buf || n == cap) {
			if (n > limit) {
				rc = over_limit(err, limit);
				break;
			}
			size_t ncap = buf ? (cap > limit / 2 ? limit + 1 : cap * 2) : cap;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
				break;
			}
			buf = nb;
			cap = ncap;
		}
		if (zs.avail_in == 0 && in_left) {
			zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
			in_left -= zs.avail_in;
		}
		size_t room = cap - n > (1u << 30) ? (1u << 30) : cap - n;
		zs.next_out = buf + n;
		zs.avail_out = (uInt)room;
		int zr = inflate(&zs, Z_NO_FLUSH);
		n += room - zs.avail_out;
		if (zr == Z_STREAM_END) {
			if (n > limit) {
				rc = over_limit(err, limit);
				break;
			}
			size_t pos = len - in_left - zs.avail_in;
			if (pos == len)
				break;
			/* Another member follows (gzip allows concatenation). */
			if (len - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
				rc = set_why(err, -EINVAL, "corrupt gzip stream (trailing garbage)");
				break;
			}
			inflateReset(&zs);
		} else if (zr == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
			rc = set_why(err, -EINVAL, "truncated gzip stream");
			break;
		} else if (zr == Z_MEM_ERROR) {
			rc = set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
			break;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = set_why(err, -EINVAL, "corrupt gzip stream (%s)",
				     zs.msg ? zs.msg : "bad data");
			break;
		}
	}
	inflateEnd(&zs);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* Reads all of fd into a malloc'd buffer; returns 0 or a negative errno. */
static int read_all(int fd, uint8_t **out, size_t *out_len)
{
	struct stat st;
	size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	size_t n = 0;
	uint8_t *buf = NULL;
	for (;;) {
		if (!buf || n == cap) {
			size_t ncap = buf ? cap * 2 : cap;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int pprof_read_file(const char *path, profile_t **out, pprof_error_t *err)
{
	pprof_error_t dummy;
	if (!err)
		err = &dummy;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_why(err, -errno, "%s", strerror(errno));
	uint8_t *data = NULL, *raw;
	size_t len = 0, raw_len;
	int rc = read_all(fd, &data, &len);
	close(fd);
	if (rc < 0)
		return set_why(err, rc, "%s", strerror(-rc));
	if (len == 0) {
		free(data);
		return set_why(err, -EINVAL, "empty file");
	}
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		rc = pprof_gunzip(data, len, UNCOMPRESSED_LIMIT, &raw, &raw_len, err);
		free(data);
		if (rc < 0)
			return rc;
		rc = pprof_decode(raw, raw_len, out, err);
		free(raw);
		return rc;
	}
	if (len > UNCOMPRESSED_LIMIT) {
		free(data);
		return over_limit(err, UNCOMPRESSED_LIMIT);
	}
	rc = pprof_decode(data, len, out, err);
	/* Plain pprof starts with its sample types; anything else that fails is junk. */
	if (rc == -EINVAL && data[0] != ((PROFILE_SAMPLE_TYPE << 3) | PB_LEN))
		set_why(err, rc, "not gzip or pprof (bad header)");
	free(data);
	return rc;
}
