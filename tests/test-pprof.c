/* test-pprof.c - the snapshot codec: round trips, hand-built wire input, bad input,
 * gzip files, and go tool pprof reading what we write.
 *
 * Hand-built inputs are written with pbwire.h, the same small wire layer the codec
 * uses, but field by field, so each test states exactly which bytes it feeds in.
 * Set PPROF_SEED_DIR to a directory to have the round-trip test leave its encoded
 * profiles there as fuzzing seeds.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "gzwrite.h"
#include "pbwire.h"
#include "pprof.h"
#include "pprof_format.h"
#include "checkmain.h"

/* ---- building and comparing profiles ---- */

static const int64_t values[][PV_COUNT] = {
	{ 1, 100, 1, 100, 1, 100, 1, 100 },
	{ 5, 500, 2, 200, 3, 300, 2, 150 },
	{ 0, 0, 1, INT64_MAX - 1000, 0, INT64_MAX - 1000, 0, 0 },
	{ 0, 0, 0, 0, 0, 0, 0, 0 },
};

/* Size classes of samples 0 (its whole, written as the class alone) and 1 (two). */
static const profile_size_t sizes0[] = { { 7, 1, 100, 1, 100 } };
static const profile_size_t sizes1[] = { { 0, 1, 0, 0, 0 }, { 9, 4, 500, 2, 200 } };

/* A profile using every field: inlined lines, NULL strings, labels, facts, comments. */
static profile_t *make_profile(void)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	p->meta = (profile_meta_t){
		.pid = 1234, .command = profile_intern(p, "./prog a b"),
		.trigger = profile_intern(p, "signal 2"), .time_nanos = 1700000000123456789,
		.duration_nanos = 5000000000, .frame_limit = 16, .sampling_period = 0,
		.current_bytes = 4096, .peak_bytes = 8192, .lost_events = 1,
		.untracked_events = 2, .corrupt_records = 3, .unmatched_frees = 4,
		.dropped_stacks = 5, .merged_requests = 6, .overhead_bytes = 777,
	};
	const profile_mapping_t maps[] = {
		{ 0x400000, 0x500000, 0x1000, "/usr/bin/prog", "abcdef0123" },
		{ 0x7f0000000000, 0x7f0000100000, 0, "/lib/libc.so.6", NULL },
		{ 0, 0, 0, NULL, NULL },
	};
	uint32_t idx;
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		ck_assert_int_eq(profile_add_mapping(p, &maps[i], &idx), 0);
		ck_assert_uint_eq(idx, i);
	}
	const profile_line_t l0[] = { { "inlined_helper", "/src/a.h", 10 },
				      { "main", "/src/main.c", 42 } };
	const profile_line_t l1[] = { { "malloc", NULL, 0 } };
	const profile_line_t l2[] = { { NULL, "/src/main.c", 50 } };
	const profile_line_t l4[] = { { "main", "/src/main.c", 60 } };
	const profile_line_t l5[] = { { NULL, NULL, 7 } };
	ck_assert_int_eq(profile_add_location(p, 0x401000, 0, l0, 2, &idx), 0);
	ck_assert_int_eq(profile_add_location(p, 0x7f0000001234, 1, l1, 1, &idx), 0);
	ck_assert_int_eq(profile_add_location(p, 0x401100, 0, l2, 1, &idx), 0);
	ck_assert_int_eq(profile_add_location(p, 0xdead, PROFILE_NONE, NULL, 0, &idx), 0);
	ck_assert_int_eq(profile_add_location(p, 0x401200, 0, l4, 1, &idx), 0);
	ck_assert_int_eq(profile_add_location(p, 1, 2, l5, 1, &idx), 0);
	const uint32_t s0[] = { 1, 0 }, s1[] = { 1, 2, 4 }, s2[] = { 3, 5 };
	ck_assert_int_eq(profile_add_sample(p, s0, 2, values[0], 0, false), 0);
	ck_assert_int_eq(profile_add_sample(p, s1, 3, values[1], 7, true), 0);
	ck_assert_int_eq(profile_add_sample(p, s2, 2, values[2], 12, false), 0);
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, values[3], 0, true), 0);
	p->has_max_size = p->has_sizes = true;
	p->samples[0].max_size = 100;
	p->samples[1].max_size = 300;
	p->samples[2].max_size = INT64_MAX;
	ck_assert_int_eq(profile_set_sizes(p, 0, sizes0, 1), 0);
	ck_assert_int_eq(profile_set_sizes(p, 1, sizes1, 2), 0);
	ck_assert_int_eq(profile_add_comment(p, "built by test-pprof"), 0);
	ck_assert_int_eq(profile_add_comment(p, "heapsnap.unknown_key=5"), 0);
	ck_assert_int_eq(profile_add_comment(p, "heapsnap.frame_limit=many"), 0);
	ck_assert_int_eq(profile_add_comment(p, ""), 0);
	return p;
}

static void assert_meta_equal(const profile_meta_t *a, const profile_meta_t *b)
{
	ck_assert_int_eq(a->pid, b->pid);
	ck_assert_pstr_eq(a->command, b->command);
	ck_assert_pstr_eq(a->trigger, b->trigger);
	ck_assert_int_eq(a->time_nanos, b->time_nanos);
	ck_assert_int_eq(a->duration_nanos, b->duration_nanos);
	ck_assert_int_eq(a->frame_limit, b->frame_limit);
	ck_assert_int_eq(a->sampling_period, b->sampling_period);
	ck_assert_int_eq(a->current_bytes, b->current_bytes);
	ck_assert_int_eq(a->peak_bytes, b->peak_bytes);
	ck_assert_int_eq(a->lost_events, b->lost_events);
	ck_assert_int_eq(a->untracked_events, b->untracked_events);
	ck_assert_int_eq(a->corrupt_records, b->corrupt_records);
	ck_assert_int_eq(a->unmatched_frees, b->unmatched_frees);
	ck_assert_int_eq(a->dropped_stacks, b->dropped_stacks);
	ck_assert_int_eq(a->merged_requests, b->merged_requests);
	ck_assert_int_eq(a->overhead_bytes, b->overhead_bytes);
}

static void assert_profiles_equal(const profile_t *a, const profile_t *b)
{
	assert_meta_equal(&a->meta, &b->meta);
	for (int v = 0; v < PV_COUNT; v++)
		ck_assert_int_eq(a->has_value[v], b->has_value[v]);
	ck_assert_uint_eq(a->nmappings, b->nmappings);
	for (uint32_t i = 0; i < a->nmappings; i++) {
		const profile_mapping_t *x = &a->mappings[i], *y = &b->mappings[i];
		ck_assert_uint_eq(x->start, y->start);
		ck_assert_uint_eq(x->limit, y->limit);
		ck_assert_uint_eq(x->offset, y->offset);
		ck_assert_pstr_eq(x->path, y->path);
		ck_assert_pstr_eq(x->build_id, y->build_id);
	}
	ck_assert_uint_eq(a->nlocations, b->nlocations);
	for (uint32_t i = 0; i < a->nlocations; i++) {
		const profile_location_t *x = &a->locations[i], *y = &b->locations[i];
		ck_assert_uint_eq(x->address, y->address);
		ck_assert_uint_eq(x->mapping, y->mapping);
		ck_assert_uint_eq(x->nlines, y->nlines);
		for (uint32_t j = 0; j < x->nlines; j++) {
			ck_assert_pstr_eq(x->lines[j].function, y->lines[j].function);
			ck_assert_pstr_eq(x->lines[j].file, y->lines[j].file);
			ck_assert_int_eq(x->lines[j].line, y->lines[j].line);
		}
	}
	ck_assert_uint_eq(a->nsamples, b->nsamples);
	for (size_t i = 0; i < a->nsamples; i++) {
		const profile_sample_t *x = &a->samples[i], *y = &b->samples[i];
		ck_assert_uint_eq(x->nlocs, y->nlocs);
		for (uint32_t j = 0; j < x->nlocs; j++)
			ck_assert_uint_eq(x->locs[j], y->locs[j]);
		for (int v = 0; v < PV_COUNT; v++)
			ck_assert_int_eq(x->value[v], y->value[v]);
		ck_assert_int_eq(x->domain, y->domain);
		ck_assert_int_eq(x->truncated, y->truncated);
		ck_assert_int_eq(x->max_size, y->max_size);
		ck_assert_uint_eq(x->nsizes, y->nsizes);
		for (uint32_t j = 0; j < x->nsizes; j++) {
			const profile_size_t *r = &x->sizes[j], *t = &y->sizes[j];
			ck_assert_uint_eq(r->cls, t->cls);
			ck_assert_int_eq(r->alloc_blocks, t->alloc_blocks);
			ck_assert_int_eq(r->alloc_bytes, t->alloc_bytes);
			ck_assert_int_eq(r->inuse_blocks, t->inuse_blocks);
			ck_assert_int_eq(r->inuse_bytes, t->inuse_bytes);
		}
	}
	ck_assert_int_eq(a->has_max_size, b->has_max_size);
	ck_assert_int_eq(a->has_sizes, b->has_sizes);
	ck_assert_uint_eq(a->ncomments, b->ncomments);
	for (uint32_t i = 0; i < a->ncomments; i++)
		ck_assert_str_eq(a->comments[i], b->comments[i]);
}

static void encode(const profile_t *p, uint8_t **buf, size_t *len)
{
	ck_assert_int_eq(pprof_encode(p, buf, len), 0);
	ck_assert_ptr_nonnull(*buf);
}

static profile_t *decode_ok(const uint8_t *buf, size_t len)
{
	profile_t *q = NULL;
	pprof_error_t err;
	int rc = pprof_decode(buf, len, &q, &err);
	ck_assert_msg(rc == 0, "decode failed (%d): %s", rc, err.why);
	return q;
}

/* Decodes buf expecting -EINVAL with a reason containing why. */
static void decode_bad(const uint8_t *buf, size_t len, const char *why)
{
	profile_t *q = (profile_t *)&q;
	pprof_error_t err;
	int rc = pprof_decode(buf, len, &q, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_eq(q, (profile_t *)&q);
	ck_assert_msg(strstr(err.why, why), "reason '%s' lacks '%s'", err.why, why);
}

static void write_seed(const char *name, const uint8_t *buf, size_t len)
{
	const char *dir = getenv("PPROF_SEED_DIR");
	if (!dir)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* ---- round trips ---- */

START_TEST(test_round_trip)
{
	profile_t *p = make_profile();
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	write_seed("full.pb", buf, len);
	profile_t *q = decode_ok(buf, len);
	assert_profiles_equal(p, q);

	/* Encoding the decoded profile gives the same bytes. */
	uint8_t *buf2;
	size_t len2;
	encode(q, &buf2, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	free(buf);
	free(buf2);
	profile_free(p);
	profile_free(q);
}
END_TEST

START_TEST(test_round_trip_empty)
{
	profile_t *p = profile_new();
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	write_seed("empty.pb", buf, len);
	profile_t *q = decode_ok(buf, len);
	/* With nothing to class, a file reads as having the sizes and largest blocks. */
	ck_assert(q->has_sizes && q->has_max_size);
	p->has_sizes = p->has_max_size = true;
	assert_profiles_equal(p, q);
	free(buf);
	profile_free(p);
	profile_free(q);
}
END_TEST

/* Files written before temporary allocations were counted have six values: they read
 * as before, with the temporary values absent and zero. */
START_TEST(test_read_six_value_file)
{
	profile_t *p = profile_new();
	for (int v = 0; v <= PV_PEAK_SPACE; v++)
		p->has_value[v] = true;
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, 0x10, PROFILE_NONE, NULL, 0, &idx), 0);
	const int64_t v[PV_COUNT] = { 3, 96, 1, 32, 2, 64 };
	ck_assert_int_eq(profile_add_sample(p, &idx, 1, v, 0, false), 0);
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	profile_t *q = decode_ok(buf, len);
	assert_profiles_equal(p, q);
	ck_assert(!q->has_value[PV_TEMPORARY_OBJECTS] && !q->has_value[PV_TEMPORARY_SPACE]);
	ck_assert_int_eq(q->samples[0].value[PV_PEAK_SPACE], 64);
	ck_assert_int_eq(q->samples[0].value[PV_TEMPORARY_SPACE], 0);
	free(buf);
	profile_free(p);
	profile_free(q);
}
END_TEST

/* Go's heap profiles have only the first four values. */
START_TEST(test_round_trip_some_values)
{
	profile_t *p = profile_new();
	p->has_value[PV_ALLOC_OBJECTS] = p->has_value[PV_INUSE_SPACE] = true;
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, 0x10, PROFILE_NONE, NULL, 0, &idx), 0);
	const int64_t v[PV_COUNT] = { 3, 0, 0, 96, 0, 0 };
	ck_assert_int_eq(profile_add_sample(p, &idx, 1, v, 0, false), 0);
	p->meta.sampling_period = 524288;
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	write_seed("two-values.pb", buf, len);
	profile_t *q = decode_ok(buf, len);
	assert_profiles_equal(p, q);
	free(buf);
	profile_free(p);
	profile_free(q);
}
END_TEST

/* A line that knows nothing is not worth a Line message. */
START_TEST(test_empty_line_dropped)
{
	profile_t *p = profile_new();
	const profile_line_t lines[] = { { NULL, NULL, 0 }, { "f", NULL, 0 } };
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, 0x10, PROFILE_NONE, lines, 2, &idx), 0);
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	profile_t *q = decode_ok(buf, len);
	ck_assert_uint_eq(q->nlocations, 1);
	ck_assert_uint_eq(q->locations[0].nlines, 1);
	ck_assert_str_eq(q->locations[0].lines[0].function, "f");
	ck_assert_ptr_null(q->locations[0].lines[0].file);
	free(buf);
	profile_free(p);
	profile_free(q);
}
END_TEST

/* Every prefix of a valid encoding decodes or fails cleanly, as do corrupted copies. */
START_TEST(test_truncation_and_corruption)
{
	profile_t *p = make_profile();
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees overreads */
		memcpy(copy, buf, n);
		profile_t *q = NULL;
		pprof_error_t err = { .why = "" };
		int rc = pprof_decode(copy, n, &q, &err);
		ck_assert_msg(rc == 0 || rc == -EINVAL, "prefix %zu: rc %d", n, rc);
		if (rc == 0)
			profile_free(q);
		else
			ck_assert_msg(err.why[0], "prefix %zu: no reason", n);
		free(copy);
	}
	srand(1);
	for (int i = 0; i < 20000; i++) {
		uint8_t *copy = malloc(len);
		memcpy(copy, buf, len);
		for (int k = 0; k < 1 + i % 4; k++)
			copy[(size_t)rand() % len] = (uint8_t)rand();
		profile_t *q = NULL;
		pprof_error_t err;
		int rc = pprof_decode(copy, len, &q, &err);
		ck_assert(rc == 0 || rc == -EINVAL);
		profile_free(rc == 0 ? q : NULL);
		free(copy);
	}
	free(buf);
	profile_free(p);
}
END_TEST

/* ---- hand-built wire input ---- */

/* A string table of the given strings, appended to b. */
static void put_strings(pbuf_t *b, const char *const *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pbuf_put_bytes(b, 6, s[i], strlen(s[i]));
}

static void put_raw(pbuf_t *b, const void *data, size_t len)
{
	ck_assert(pbuf_reserve(b, len));
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void put_sub(pbuf_t *b, uint32_t field, pbuf_t *sub)
{
	ck_assert(!sub->failed);
	pbuf_put_message(b, field, sub);
	sub->len = 0;
}

static const char *const go_strings[] = {
	"", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects",
	"inuse_space", "foo", "main.f", "main.go", "domain", "truncated", "/bin/x", "note",
};

/* A Go-style profile: string table last, unpacked repeated fields, sparse ids, an
 * unknown sample type, and unknown fields of every wire type everywhere. */
START_TEST(test_decode_handbuilt)
{
	pbuf_t b = { 0 }, m = { 0 }, l = { 0 };
	/* sample types: alloc_objects, foo (unknown), inuse_space */
	pbuf_put_uint(&m, 1, 1), pbuf_put_uint(&m, 2, 2), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 1, 7), pbuf_put_uint(&m, 2, 2), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 1, 6), pbuf_put_uint(&m, 2, 4), put_sub(&b, 1, &m);
	/* unknown top-level fields: varint, fixed64, bytes, fixed32 */
	pbuf_put_uint(&b, 99, 5);
	pbuf_put_tag(&b, 100, PB_FIXED64), put_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	pbuf_put_bytes(&b, 101, "xyz", 3);
	pbuf_put_tag(&b, 102, PB_FIXED32), put_raw(&b, "\x80\x80\x80\x80", 4);
	/* sample: unpacked location ids and values, labels domain=9 and truncated num=1 */
	pbuf_put_uint(&m, 1, 1000), pbuf_put_uint(&m, 1, 77);
	pbuf_put_uint(&m, 2, 4), pbuf_put_uint(&m, 2, 99), pbuf_put_uint(&m, 2, 4096);
	pbuf_put_uint(&l, 1, 10), pbuf_put_uint(&l, 3, 9), pbuf_put_uint(&l, 4, 4);
	put_sub(&m, 3, &l);
	pbuf_put_uint(&l, 1, 11), pbuf_put_uint(&l, 3, 1), put_sub(&m, 3, &l);
	pbuf_put_bytes(&m, 50, "unknown", 7);
	put_sub(&b, 2, &m);
	/* a second sample with packed fields mixed with unpacked ones */
	pbuf_put_bytes(&m, 1, "\x4d", 1); /* 77 */
	pbuf_put_bytes(&m, 2, "\x01\x02", 2), pbuf_put_uint(&m, 2, 3);
	put_sub(&b, 2, &m);
	/* mapping id 5000 */
	pbuf_put_uint(&m, 1, 5000), pbuf_put_uint(&m, 2, 0x1000), pbuf_put_uint(&m, 3, 0x2000);
	pbuf_put_uint(&m, 5, 12), pbuf_put_uint(&m, 7, 1), pbuf_put_uint(&m, 42, 1);
	put_sub(&b, 3, &m);
	/* locations 1000 (mapped, one line) and 77 (no mapping, no lines) */
	pbuf_put_uint(&m, 1, 1000), pbuf_put_uint(&m, 2, 5000), pbuf_put_uint(&m, 3, 0x1234);
	pbuf_put_uint(&l, 1, 3), pbuf_put_uint(&l, 2, 12), pbuf_put_uint(&l, 3, 5);
	put_sub(&m, 4, &l);
	pbuf_put_uint(&m, 5, 0);
	put_sub(&b, 4, &m);
	pbuf_put_uint(&m, 1, 77), pbuf_put_uint(&m, 3, 0x99), put_sub(&b, 4, &m);
	/* function id 3 */
	pbuf_put_uint(&m, 1, 3), pbuf_put_uint(&m, 2, 8), pbuf_put_uint(&m, 3, 8);
	pbuf_put_uint(&m, 4, 9), pbuf_put_uint(&m, 5, 10);
	put_sub(&b, 5, &m);
	/* comments, unpacked, and a period; the string table comes last */
	pbuf_put_uint(&b, 13, 13), pbuf_put_uint(&b, 12, 512);
	put_strings(&b, go_strings, sizeof(go_strings) / sizeof(go_strings[0]));
	ck_assert(!b.failed);

	profile_t *q = decode_ok(b.data, b.len);
	ck_assert(q->has_value[PV_ALLOC_OBJECTS] && q->has_value[PV_INUSE_SPACE]);
	ck_assert(!q->has_value[PV_ALLOC_SPACE] && !q->has_value[PV_PEAK_SPACE]);
	ck_assert_int_eq(q->meta.sampling_period, 512);
	ck_assert_int_eq(q->meta.pid, -1);
	ck_assert_uint_eq(q->ncomments, 1);
	ck_assert_str_eq(q->comments[0], "note");
	ck_assert_uint_eq(q->nmappings, 1);
	ck_assert_str_eq(q->mappings[0].path, "/bin/x");
	ck_assert_uint_eq(q->mappings[0].limit, 0x2000);
	ck_assert_ptr_null(q->mappings[0].build_id);
	ck_assert_uint_eq(q->nlocations, 2);
	ck_assert_uint_eq(q->locations[0].address, 0x1234);
	ck_assert_uint_eq(q->locations[0].mapping, 0);
	ck_assert_uint_eq(q->locations[0].nlines, 1);
	ck_assert_str_eq(q->locations[0].lines[0].function, "main.f");
	ck_assert_str_eq(q->locations[0].lines[0].file, "main.go");
	ck_assert_int_eq(q->locations[0].lines[0].line, 12);
	ck_assert_uint_eq(q->locations[1].mapping, PROFILE_NONE);
	ck_assert_uint_eq(q->locations[1].nlines, 0);
	ck_assert_uint_eq(q->nsamples, 2);
	const profile_sample_t *s = &q->samples[0];
	ck_assert_uint_eq(s->nlocs, 2);
	ck_assert_uint_eq(s->locs[0], 0);
	ck_assert_uint_eq(s->locs[1], 1);
	ck_assert_int_eq(s->value[PV_ALLOC_OBJECTS], 4);
	ck_assert_int_eq(s->value[PV_INUSE_SPACE], 4096);
	ck_assert_int_eq(s->value[PV_ALLOC_SPACE], 0);
	ck_assert_int_eq(s->domain, 9);
	ck_assert(s->truncated);
	s = &q->samples[1];
	ck_assert_uint_eq(s->nlocs, 1);
	ck_assert_uint_eq(s->locs[0], 1);
	ck_assert_int_eq(s->value[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(s->value[PV_INUSE_SPACE], 3);
	ck_assert_int_eq(s->domain, 0);
	ck_assert(!s->truncated);
	profile_free(q);
	free(b.data);
	free(m.data);
	free(l.data);
}
END_TEST

/* A valid minimal profile: one sample type, one sample at location id 1. */
static const uint8_t minimal[] = {
	0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,       /* sample_type {type 1, unit 2} */
	0x12, 0x05, 0x0a, 0x01, 0x01, 0x10, 0x05, /* sample {location_id [1], value 5} */
	0x22, 0x02, 0x08, 0x01,                   /* location {id 1} */
	0x32, 0x00, 0x32, 0x01, 'a', 0x32, 0x01, 'b',
};

START_TEST(test_decode_minimal)
{
	profile_t *q = decode_ok(minimal, sizeof(minimal));
	ck_assert_uint_eq(q->nsamples, 1);
	ck_assert(!q->has_value[PV_ALLOC_OBJECTS]); /* "a" is no type we know */
	profile_free(q);
}
END_TEST

struct bad_case {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	const char *why;
};

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static const struct bad_case bad_cases[] = {
	{ "truncated varint", BYTES(0x48, 0x80), "truncated varint at byte 1" },
	{ "truncated tag", BYTES(0x32, 0x00, 0xc8), "truncated varint at byte 2" },
	{ "long varint", BYTES(0x48, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
	  "not a pprof profile (varint longer than 10 bytes at byte 1)" },
	{ "field zero", BYTES(0x32, 0x00, 0x00, 0x00),
	  "not a pprof profile (invalid field number 0 at byte 2)" },
	{ "group start", BYTES(0x0b), "not a pprof profile (unsupported wire type 3 at byte 0)" },
	{ "group end", BYTES(0x32, 0x00, 0x0c),
	  "not a pprof profile (unsupported wire type 4 at byte 2)" },
	{ "wire type 7", BYTES(0x0f), "not a pprof profile (unsupported wire type 7 at byte 0)" },
	{ "nested group", BYTES(0x32, 0x00, 0x12, 0x01, 0x0c),
	  "sample 0: unsupported wire type 4 at byte 4 (group)" },
	{ "short fixed64", BYTES(0xa1, 0x06, 0x00, 0x00), "truncated fixed-width field at byte 0" },
	{ "length past end", BYTES(0x32, 0x00, 0x0a, 0x05, 0x08), "length 5 runs past the end" },
	{ "wrong wire type", BYTES(0x08, 0x01),
	  "not a pprof profile (field 1 at byte 0 has wire type 0, expected 2)" },
	{ "wrong wire type time", BYTES(0x4a, 0x00),
	  "not a pprof profile (field 9 at byte 0 has wire type 2, expected 0)" },
	{ "wrong wire type nested", BYTES(0x12, 0x02, 0x18, 0x00, 0x32, 0x00),
	  "sample 0: field 3 at byte 2 has wire type 0, expected 2" },
	{ "nested truncation", BYTES(0x32, 0x00, 0x12, 0x02, 0x0a, 0x05),
	  "sample 0: field 1 at byte 4: length 5 runs past the end (byte 6)" },
	{ "packed truncation", BYTES(0x32, 0x00, 0x12, 0x03, 0x0a, 0x01, 0x80),
	  "sample 0: truncated varint at byte 6" },
	{ "string index", BYTES(0x32, 0x00, 0x0a, 0x03, 0x08, 0x84, 0x07),
	  "string index 900 out of range (table has 1)" },
	{ "negative string index",
	  BYTES(0x32, 0x00, 0x0a, 0x0b, 0x08, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	  "negative string index -3" },
	{ "comment index", BYTES(0x32, 0x00, 0x68, 0x02), "comment 0: string index 2 out of range (table has 1)" },
	{ "first string", BYTES(0x32, 0x01, 'x'), "string table entry 0 is not empty" },
	{ "missing location", BYTES(0x32, 0x00, 0x12, 0x02, 0x08, 0x4d),
	  "sample 0: location id 77 not defined" },
	{ "location id zero", BYTES(0x32, 0x00, 0x12, 0x02, 0x08, 0x00),
	  "sample 0: location id 0 not defined" },
	{ "duplicate location", BYTES(0x32, 0x00, 0x22, 0x02, 0x08, 0x05, 0x22, 0x02, 0x08, 0x05),
	  "location 1: duplicate id 5" },
	{ "zero location id", BYTES(0x32, 0x00, 0x22, 0x02, 0x08, 0x05, 0x22, 0x00),
	  "location 1: id 0 is reserved" },
	{ "missing mapping", BYTES(0x32, 0x00, 0x22, 0x04, 0x08, 0x01, 0x10, 0x09),
	  "location 0: mapping id 9 not defined" },
	{ "missing function", BYTES(0x32, 0x00, 0x22, 0x06, 0x08, 0x01, 0x22, 0x02, 0x08, 0x03),
	  "location 0: function id 3 not defined" },
	{ "duplicate function", BYTES(0x2a, 0x02, 0x08, 0x02, 0x2a, 0x02, 0x08, 0x02),
	  "function 1: duplicate id 2" },
	{ "duplicate mapping", BYTES(0x1a, 0x02, 0x08, 0x01, 0x1a, 0x02, 0x08, 0x01),
	  "mapping 1: duplicate id 1" },
	{ "value count", BYTES(0x32, 0x00, 0x12, 0x02, 0x10, 0x01),
	  "sample 0: 1 values for 0 sample types" },
	{ "label key", BYTES(0x32, 0x00, 0x12, 0x04, 0x1a, 0x02, 0x08, 0x07),
	  "sample 0: string index 7 out of range" },
	{ "mapping filename", BYTES(0x1a, 0x04, 0x08, 0x01, 0x28, 0x03),
	  "mapping 0: string index 3 out of range (table has 0)" },
};

START_TEST(test_decode_bad)
{
	const struct bad_case *c = &bad_cases[_i];
	profile_t *q = (profile_t *)&q;
	pprof_error_t err;
	int rc = pprof_decode(c->bytes, c->len, &q, &err);
	ck_assert_msg(rc == -EINVAL, "%s: rc %d", c->name, rc);
	ck_assert_ptr_eq(q, (profile_t *)&q);
	ck_assert_msg(strstr(err.why, c->why), "%s: reason '%s' lacks '%s'", c->name, err.why,
		      c->why);
}
END_TEST

START_TEST(test_decode_values_mismatch)
{
	pbuf_t b = { 0 }, m = { 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 2, 1), put_sub(&b, 2, &m);
	put_strings(&b, (const char *const[]){ "", "inuse_space" }, 2);
	decode_bad(b.data, b.len, "sample 0: 1 values for 2 sample types");
	free(b.data);
	free(m.data);
}
END_TEST

/* A negative value or line number: refused (heapsnap writes neither; a forged file
 * printed "size=-100 B" and line -9223372036854775808). */
START_TEST(test_decode_negative_bad)
{
	pbuf_t b = { 0 }, m = { 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 2, (uint64_t)-100), put_sub(&b, 2, &m);
	put_strings(&b, (const char *const[]){ "", "inuse_space" }, 2);
	decode_bad(b.data, b.len, "sample 0: value -100 is negative");
	free(b.data);

	pbuf_t l = { 0 };
	b = (pbuf_t){ 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	pbuf_put_uint(&l, 2, (uint64_t)INT64_MIN);
	pbuf_put_uint(&m, 1, 1), put_sub(&m, 4, &l), put_sub(&b, 4, &m);
	put_strings(&b, (const char *const[]){ "", "inuse_space" }, 2);
	decode_bad(b.data, b.len, "line -9223372036854775808 is negative");
	free(b.data);
	free(m.data);
	free(l.data);
}
END_TEST

/* A sample deeper than the file's frame limit, or than any heapsnap keeps: refused,
 * as a forged file whose tracebacks would print every frame. */
static void put_deep_sample(pbuf_t *b, size_t nlocs)
{
	pbuf_t m = { 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(b, 4, &m); /* location 1 */
	for (size_t i = 0; i < nlocs; i++)
		pbuf_put_uint(&m, 1, 1);
	pbuf_put_uint(&m, 2, 1), put_sub(b, 2, &m);
	free(m.data);
}

START_TEST(test_decode_deeper_than_the_frame_limit_bad)
{
	pbuf_t b = { 0 }, m = { 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	put_deep_sample(&b, 5);
	pbuf_put_uint(&b, 13, 2);
	put_strings(&b, (const char *const[]){ "", "inuse_space", "heapsnap.frame_limit=4" }, 3);
	decode_bad(b.data, b.len, "sample 0: 5 locations, more than the frame limit 4");
	free(b.data);

	b = (pbuf_t){ 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	put_deep_sample(&b, 257);
	put_strings(&b, (const char *const[]){ "", "inuse_space" }, 2);
	decode_bad(b.data, b.len, "sample 0: 257 locations, more than the frame limit 256");
	free(b.data);

	/* At the limit, read. */
	b = (pbuf_t){ 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	put_deep_sample(&b, 4);
	pbuf_put_uint(&b, 13, 2);
	put_strings(&b, (const char *const[]){ "", "inuse_space", "heapsnap.frame_limit=4" }, 3);
	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_decode(b.data, b.len, &q, &err) == 0, "%s", err.why);
	ck_assert_uint_eq(q->nsamples, 1);
	ck_assert_uint_eq(q->samples[0].nlocs, 4);
	profile_free(q);
	free(b.data);
	free(m.data);
}
END_TEST

/* A domain label outside 1..65536 (the heap has none): refused, as the format says. */
START_TEST(test_decode_domain_bad)
{
	static const uint64_t bad[] = { 0, 65537, (uint64_t)-1 };
	static const char *const why[] = { "domain 0 out of range (1..65536)",
					   "domain 65537 out of range (1..65536)",
					   "domain 18446744073709551615 out of range (1..65536)" };
	for (size_t i = 0; i < 3; i++) {
		pbuf_t b = { 0 }, m = { 0 }, l = { 0 };
		pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
		pbuf_put_uint(&m, 2, 1);
		pbuf_put_uint(&l, 1, 2), pbuf_put_uint(&l, 3, bad[i]), put_sub(&m, 3, &l);
		put_sub(&b, 2, &m);
		put_strings(&b, (const char *const[]){ "", "inuse_space", "domain" }, 3);
		decode_bad(b.data, b.len, why[i]);
		free(b.data);
		free(m.data);
		free(l.data);
	}
}
END_TEST

/* A sample with the size-class field: bad lengths, classes and orders are refused. */
static void decode_sizes_bad(const uint64_t *v, size_t n, const char *why)
{
	pbuf_t b = { 0 }, m = { 0 }, packed = { 0 };
	pbuf_put_uint(&m, 1, 1), put_sub(&b, 1, &m);
	pbuf_put_uint(&m, 2, 1);
	for (size_t i = 0; i < n; i++)
		pbuf_put_varint(&packed, v[i]);
	pbuf_put_bytes(&m, 100, packed.data, packed.len);
	put_sub(&b, 2, &m);
	put_strings(&b, (const char *const[]){ "", "inuse_space" }, 2);
	decode_bad(b.data, b.len, why);
	free(b.data);
	free(m.data);
	free(packed.data);
}

START_TEST(test_decode_sizes_bad)
{
	decode_sizes_bad((const uint64_t[]){ 1, 2 }, 2,
			 "sample 0: 2 size class values (1 or a multiple of 5)");
	decode_sizes_bad((const uint64_t[]){ 64 }, 1, "sample 0: size class 64 out of range");
	decode_sizes_bad((const uint64_t[]){ 3, 1, 1, 0, 0, 1ull << 32, 1, 1, 0, 0 }, 10,
			 "size class 4294967296 out of range");
	decode_sizes_bad((const uint64_t[]){ 3, 1, 1, 0, 0, 3, 1, 1, 0, 0 }, 10,
			 "sample 0: size classes out of order");
	decode_sizes_bad((const uint64_t[]){ 3, 1, UINT64_MAX, 0, 0 }, 5,
			 "sample 0: size class value 18446744073709551615 out of range");
}
END_TEST

/* ---- files ---- */

static char *temp_path(void)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/test-pprof.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void write_profile(const char *path, const profile_t *p)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pprof_write_fd(p, fd), 0);
	close(fd);
}

static void read_bad(const char *path, int want_rc, const char *why)
{
	profile_t *q = (profile_t *)&q;
	pprof_error_t err;
	ck_assert_int_eq(pprof_read_file(path, &q, &err), want_rc);
	ck_assert_ptr_eq(q, (profile_t *)&q);
	ck_assert_msg(strstr(err.why, why), "reason '%s' lacks '%s'", err.why, why);
}

/* make_profile() with small values (its third sample holds values near INT64_MAX,
 * which the codec carries; a file's sums are checked when read). */
static profile_t *make_summable_profile(void)
{
	profile_t *p = make_profile();
	p->samples[2].value[PV_INUSE_SPACE] = 7;
	p->samples[2].value[PV_PEAK_SPACE] = 7;
	return p;
}

/* The file at path reads back as p. */
static void assert_file_holds(const char *path, const profile_t *p)
{
	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_read_file(path, &q, &err) == 0, "%s", err.why);
	assert_profiles_equal(p, q);
	profile_free(q);
}

START_TEST(test_file_round_trip)
{
	char *path = temp_path();
	profile_t *p = make_summable_profile();
	write_profile(path, p);
	FILE *f = fopen(path, "rb");
	ck_assert_int_eq(fgetc(f), 0x1f);
	ck_assert_int_eq(fgetc(f), 0x8b);
	fclose(f);
	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_int_eq(pprof_read_file(path, &q, &err), 0);
	assert_profiles_equal(p, q);
	profile_free(q);

	/* Plain protobuf is read too. */
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	write_file(path, buf, len);
	ck_assert_int_eq(pprof_read_file(path, &q, &err), 0);
	assert_profiles_equal(p, q);
	profile_free(q);
	free(buf);
	profile_free(p);
	unlink(path);
}
END_TEST

static off_t file_size(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* A profile of at most GZIP_STORED_MAX bytes of protobuf is stored in its gzip file,
 * not compressed (it takes one disk block either way); one byte more is compressed. */
START_TEST(test_file_small_stored)
{
	char *path = temp_path();
	for (int past = 0; past <= 1; past++) {
		profile_t *p = NULL;
		uint8_t *buf;
		size_t len;
		/* One more function whose name brings the protobuf to the limit, or past it:
		 * a repeated name, which level 1 compresses well. */
		size_t extra = 64, target = GZIP_STORED_MAX + (size_t)past;
		char *name = calloc(1, GZIP_STORED_MAX);
		ck_assert_ptr_nonnull(name);
		for (;;) {
			profile_t *t = make_summable_profile();
			memset(name, 'x', extra);
			name[extra] = '\0';
			const profile_line_t l = { profile_intern(t, name), "/src/s.c", 1 };
			uint32_t loc;
			ck_assert_int_eq(profile_add_location(t, 0x401000, 0, &l, 1, &loc), 0);
			encode(t, &buf, &len);
			free(buf);
			/* A length's varint may grow by a byte: within 8 bytes of the limit. */
			bool near = len + 8 >= target && len <= target + 8;
			if (near && (len > GZIP_STORED_MAX) == past) {
				p = t;
				break;
			}
			profile_free(t);
			extra = len < target ? extra + (target - len) : extra - 1;
		}
		free(name);
		write_profile(path, p);
		if (past)
			ck_assert_int_lt(file_size(path), 1024);
		else
			ck_assert_int_eq(file_size(path), (off_t)len + 23);
		assert_file_holds(path, p);
		profile_free(p);
	}
	unlink(path);
}
END_TEST

/* A profile over GZIP_MEMBER bytes of protobuf is written as several gzip members
 * (the writer's bounded buffer), and reads back whole. */
/* The next of a fixed sequence of pseudo-random numbers (xorshift64) from *x. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

START_TEST(test_file_round_trip_members)
{
	char *path = temp_path();
	profile_t *p = make_summable_profile();
	/* Ten functions with names of a million bytes: 10 MB of protobuf.  The names are
	 * random strings of two letters, which compress about 7 times: a regular pattern
	 * compressed more than the reader allows (INFLATE_RATIO). */
	enum { NAMES = 10, NAME_LEN = 1000000 };
	char *name = malloc(NAME_LEN + 1);
	ck_assert_ptr_nonnull(name);
	uint32_t locs[NAMES];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < NAMES; i++) {
		for (int k = 0; k < NAME_LEN; k++)
			name[k] = (char)('a' + (next_random(&x) & 1));
		name[NAME_LEN] = '\0';
		const profile_line_t l = { profile_intern(p, name), "/src/big.c", 100 + i };
		ck_assert_int_eq(profile_add_location(p, 0x402000 + 16u * (unsigned)i, 0, &l, 1,
						      &locs[i]), 0);
	}
	free(name);
	int64_t v[PV_COUNT] = { 1, 64, 1, 64, 1, 64, 0, 0 };
	ck_assert_int_eq(profile_add_sample(p, locs, NAMES, v, 0, false), 0);
	uint8_t *buf;
	size_t len;
	encode(p, &buf, &len);
	ck_assert_uint_gt(len, GZIP_MEMBER);
	free(buf);
	write_profile(path, p);
	/* The first member ends before the file does: more members follow. */
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static uint8_t gz[4 << 20];
	size_t gzlen = fread(gz, 1, sizeof(gz), f);
	fclose(f);
	ck_assert_uint_lt(gzlen, sizeof(gz));
	z_stream zs = { 0 };
	ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	static uint8_t out[1 << 20];
	zs.next_in = gz;
	zs.avail_in = (uInt)gzlen;
	int zr;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof(out);
		zr = inflate(&zs, Z_NO_FLUSH);
	} while (zr == Z_OK);
	ck_assert_int_eq(zr, Z_STREAM_END);
	ck_assert_uint_eq(zs.total_out, GZIP_MEMBER);
	ck_assert_uint_gt(zs.avail_in, 0);
	inflateEnd(&zs);
	assert_file_holds(path, p);
	profile_free(p);
	unlink(path);
}
END_TEST

/* Bytes of every kind through gzip_write_fd() and back: random ones, which do not
 * compress (the compressor falls back to stored blocks, which must fit the room the
 * writer gives it), and random ones of two letters, which do; at the sizes where the
 * writer changes its way: the stored member's limit, a stored block's 65,535 bytes,
 * the member's size. */
START_TEST(test_gzip_write_sizes)
{
	const size_t sizes[] = { 0, 1, GZIP_STORED_MAX, GZIP_STORED_MAX + 1, 65535, 65536,
				 300000, GZIP_MEMBER + 1 };
	uint8_t *in = malloc(GZIP_MEMBER + 1), *gz = malloc(2 * GZIP_MEMBER);
	ck_assert(in && gz);
	char *path = temp_path();
	for (int letters = 0; letters <= 1; letters++) {
		uint64_t x = 0x2545f4914f6cdd1dull;
		for (size_t k = 0; k < GZIP_MEMBER + 1; k++) {
			uint64_t v = next_random(&x);
			in[k] = letters ? (uint8_t)('a' + (v & 1)) : (uint8_t)(v >> 24);
		}
		for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			int fd = open(path, O_WRONLY | O_TRUNC);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(gzip_write_fd(in, sizes[i], fd), 0);
			close(fd);
			FILE *f = fopen(path, "rb");
			ck_assert_ptr_nonnull(f);
			size_t gzlen = fread(gz, 1, 2 * GZIP_MEMBER, f);
			fclose(f);
			ck_assert_uint_lt(gzlen, 2 * GZIP_MEMBER);
			if (!letters && sizes[i] > 0)
				ck_assert_uint_gt(gzlen, sizes[i]); /* stored: nothing to gain */
			uint8_t *out = NULL;
			size_t out_len = 0;
			pprof_error_t err;
			ck_assert_msg(pprof_gunzip(gz, gzlen, SIZE_MAX, &out, &out_len, &err) == 0,
				      "%zu bytes: %s", sizes[i], err.why);
			ck_assert_uint_eq(out_len, sizes[i]);
			ck_assert(!memcmp(out, in, sizes[i]));
			free(out);
		}
	}
	unlink(path);
	free(gz);
	free(in);
}
END_TEST

START_TEST(test_file_errors)
{
	char *path = temp_path();
	read_bad(path, -EINVAL, "empty file");
	write_file(path, "hello world\n", 12);
	read_bad(path, -EINVAL, "not gzip or pprof (bad header)");
	unlink(path);
	read_bad(path, -ENOENT, "No such file or directory");
	read_bad("/", -EISDIR, "Is a directory");

	/* Truncated and corrupted gzip. */
	path = temp_path();
	profile_t *p = make_profile();
	write_profile(path, p);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	uint8_t *data = malloc((size_t)st.st_size);
	FILE *f = fopen(path, "rb");
	ck_assert_uint_eq(fread(data, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	for (size_t n = 2; n < (size_t)st.st_size; n += 7) {
		write_file(path, data, n);
		read_bad(path, -EINVAL, "truncated gzip stream");
	}
	data[3] = 0xff; /* reserved flag bits */
	write_file(path, data, (size_t)st.st_size);
	read_bad(path, -EINVAL, "corrupt gzip stream (");
	free(data);
	profile_free(p);
	unlink(path);
}
END_TEST

/* Gzips data as one member into out (which must be big enough); returns its size. */
static size_t gzip_member(const void *data, size_t len, uint8_t *out, size_t cap)
{
	z_stream zs = { 0 };
	ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	deflateEnd(&zs);
	return cap - zs.avail_out;
}

START_TEST(test_gunzip)
{
	uint8_t gz[4096], *out;
	size_t n = gzip_member("abc", 3, gz, sizeof(gz)), out_len;
	n += gzip_member("def", 3, gz + n, sizeof(gz) - n);
	pprof_error_t err;
	ck_assert_int_eq(pprof_gunzip(gz, n, 1 << 20, &out, &out_len, &err), 0);
	ck_assert_uint_eq(out_len, 6);
	ck_assert_int_eq(memcmp(out, "abcdef", 6), 0);
	free(out);

	gz[n] = 'x';
	ck_assert_int_eq(pprof_gunzip(gz, n + 1, 1 << 20, &out, &out_len, &err), -EINVAL);
	ck_assert_str_eq(err.why, "corrupt gzip stream (trailing garbage)");

	/* A small input that inflates past the limit stops at the limit. */
	uint8_t *zeros = calloc(1, 1 << 20);
	n = gzip_member(zeros, 1 << 20, gz, sizeof(gz));
	ck_assert_int_eq(pprof_gunzip(gz, n, 1 << 20, &out, &out_len, &err), 0);
	ck_assert_uint_eq(out_len, 1 << 20);
	free(out);
	ck_assert_int_eq(pprof_gunzip(gz, n, (1 << 20) - 1, &out, &out_len, &err), -EINVAL);
	ck_assert_str_eq(err.why, "uncompressed size over 1048575 bytes");
	ck_assert_int_eq(pprof_gunzip(gz, n, (size_t)1 << 30, &out, &out_len, &err), 0);
	free(out);
	free(zeros);
}
END_TEST

START_TEST(test_write_enospc)
{
	int fd = open("/dev/full", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	profile_t *p = make_profile();
	ck_assert_int_eq(pprof_write_fd(p, fd), -ENOSPC);
	close(fd);
	ck_assert_int_eq(pprof_write_fd(p, -1), -EBADF);
	profile_free(p);
}
END_TEST

/* ---- hostile files: each is refused or read in seconds, in memory bounded by its
 * size (pprof_format.h has the limits, docs/security.md why) ---- */

/* Reads path expecting rc and exactly the reason why. */
static void read_exact(const char *path, int want_rc, const char *why)
{
	profile_t *q = (profile_t *)&q;
	pprof_error_t err = { .why = "" };
	ck_assert_int_eq(pprof_read_file(path, &q, &err), want_rc);
	ck_assert_ptr_eq(q, (profile_t *)&q);
	ck_assert_str_eq(err.why, why);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This process's peak resident size so far, in MiB. */
static long peak_rss_mib(void)
{
	struct rusage ru;
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss / 1024;
}

/* Gzips total bytes made of copies of pattern (len at most 65536) into path, without
 * holding the input; returns the compressed size. */
static size_t gzip_repeated(const char *path, const void *pattern, size_t len, size_t total)
{
	static uint8_t in[65536], out[65536];
	size_t chunk = sizeof(in) / len * len;
	for (size_t i = 0; i < chunk; i += len)
		memcpy(in + i, pattern, len);
	z_stream zs = { 0 };
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
			 Z_OK);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	size_t left = total, written = 0;
	int flush;
	do {
		size_t n = left < chunk ? left : chunk;
		left -= n;
		flush = left ? Z_NO_FLUSH : Z_FINISH;
		zs.next_in = in;
		zs.avail_in = (uInt)n;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			ck_assert_int_ne(deflate(&zs, flush), Z_STREAM_ERROR);
			size_t have = sizeof(out) - zs.avail_out;
			ck_assert_uint_eq(fwrite(out, 1, have, f), have);
			written += have;
		} while (zs.avail_out == 0);
	} while (flush != Z_FINISH);
	deflateEnd(&zs);
	fclose(f);
	return written;
}

/* A device or a FIFO is refused at once: the open does not block, nothing is read. */
START_TEST(test_read_not_regular)
{
	read_exact("/dev/zero", -EINVAL, "not a regular file (a character device)");
	char dir[] = "/tmp/test-pprof-fifo.XXXXXX", fifo[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	read_exact(fifo, -EINVAL, "not a regular file (a FIFO)"); /* the tcase timeout: 10 s */
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* A 3 GiB sparse file is refused from its size, without reading it. */
START_TEST(test_read_sparse_huge)
{
	char *path = temp_path();
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)3 << 30), 0);
	close(fd);
	double t0 = now_seconds();
	read_exact(path, -EFBIG, "file too large (3221225472 bytes, the limit is 1 GiB)");
	ck_assert_double_lt(now_seconds() - t0, 0.5);
	unlink(path);
}
END_TEST

/* 256 MiB of zeros in 255 KiB of gzip stops at 64 times its size. */
START_TEST(test_read_gzip_bomb)
{
	char *path = temp_path();
	static const uint8_t zero[1];
	size_t n = gzip_repeated(path, zero, 1, (size_t)256 << 20);
	long rss = peak_rss_mib();
	double t0 = now_seconds();
	read_exact(path, -EINVAL, "uncompressed size over 64 times the compressed size (a gzip bomb?)");
	ck_assert_double_lt(now_seconds() - t0, 2.0);
	/* The input holds 256 MiB; the limit is 1 MiB + 64 times its size (17 MiB), read
	 * beside the input.  The margin is for ASan, whose quarantine keeps the buffers
	 * outgrown on the way. */
	ck_assert_int_le(peak_rss_mib() - rss, 4 * (long)(1 + 65 * n / (1 << 20)) + 16);
	unlink(path);
}
END_TEST

/* Empty sample fields (2 bytes each, 80 decoded): gzipped, the inflated size is
 * refused; plain, the decoder refuses from the count before allocating them. */
START_TEST(test_read_empty_samples)
{
	static const uint8_t empty_sample[] = { 0x12, 0x00 };
	char *path = temp_path();
	gzip_repeated(path, empty_sample, 2, (size_t)64 << 20);
	long rss = peak_rss_mib();
	read_exact(path, -EINVAL, "uncompressed size over 64 times the compressed size (a gzip bomb?)");
	ck_assert_int_le(peak_rss_mib() - rss, 16);

	uint8_t *plain = malloc((size_t)1 << 20);
	for (size_t i = 0; i < (size_t)1 << 20; i += 2)
		memcpy(plain + i, empty_sample, 2);
	write_file(path, plain, (size_t)1 << 20);
	free(plain);
	rss = peak_rss_mib();
	read_exact(path, -EFBIG, "profile too dense: decoding its 1048576 bytes would take more "
				 "than 16 bytes of memory per byte (524288 samples, 0 locations)");
	ck_assert_int_le(peak_rss_mib() - rss, 4);
	unlink(path);
}
END_TEST

/* Values whose sum does not fit an int64 (with room for a diff) are refused. */
START_TEST(test_read_values_overflow)
{
	char *path = temp_path();
	profile_t *p = profile_new();
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	const int64_t half[PV_COUNT] = { 1, (int64_t)1 << 61, 1, (int64_t)1 << 61, 1, 1 };
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, half, 0, false), 0);
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, half, 0, false), 0);
	write_profile(path, p);
	read_exact(path, -EOVERFLOW,
		   "values overflow (sample 1: the alloc_space values add up to 2^62 or more)");
	profile_free(p);
	unlink(path);
}
END_TEST

/* A gzip of text is named for what it is not. */
START_TEST(test_read_gzip_of_text)
{
	char *path = temp_path();
	gzip_repeated(path, "hello world\n", 12, 12);
	read_exact(path, -EINVAL, "not a pprof profile (unsupported wire type 4 at byte 2)");
	unlink(path);
}
END_TEST

/* ---- interoperability ---- */

/* Runs cmd and returns its output (stdout and stderr), failing the test on exit != 0. */
static char *run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	for (size_t r; (r = fread(out + n, 1, cap - n - 1, f)) > 0;) {
		n += r;
		if (n + 1 == cap)
			out = realloc(out, cap *= 2);
	}
	out[n] = '\0';
	int status = pclose(f);
	ck_assert_msg(status == 0, "'%s' failed (status %d):\n%s", cmd, status, out);
	return out;
}

static void assert_contains(const char *out, const char *want)
{
	ck_assert_msg(strstr(out, want), "output lacks '%s':\n%s", want, out);
}

/* go tool pprof reads our files.  CI installs golang-go: a missing go is a failure. */
START_TEST(test_go_pprof_reads_output)
{
	char *path = temp_path();
	profile_t *p = make_profile();
	write_profile(path, p);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "HOME=${HOME:-/tmp} go tool pprof -raw -symbolize=none %s 2>&1",
		 path);
	char *out = run(cmd);
	assert_contains(out, "PeriodType: space bytes");
	assert_contains(out, "alloc_objects/count alloc_space/bytes inuse_objects/count "
			     "inuse_space/bytes[dflt] peak_objects/count peak_space/bytes");
	assert_contains(out, "5        500          2        200          3        300");
	assert_contains(out, "domain:[7]");
	assert_contains(out, "truncated:[true]");
	assert_contains(out, "inlined_helper /src/a.h:10");
	assert_contains(out, "main /src/main.c:42");
	assert_contains(out, "Duration: 5s");
	assert_contains(out, "/usr/bin/prog");
	assert_contains(out, "heapsnap.pid=1234");
	free(out);

	snprintf(cmd, sizeof(cmd),
		 "HOME=${HOME:-/tmp} go tool pprof -top -sample_index=alloc_space %s 2>&1", path);
	out = run(cmd);
	assert_contains(out, "Type: alloc_space");
	assert_contains(out, "600B total");
	assert_contains(out, "malloc");
	free(out);
	profile_free(p);
	unlink(path);
}
END_TEST

static const char go_heap_program[] =
	"package main\n"
	"import (\"os\"; \"runtime\"; \"runtime/pprof\")\n"
	"var keep [][]byte\n"
	"func main() {\n"
	"\truntime.MemProfileRate = 1\n"
	"\tfor i := 0; i < 100; i++ { keep = append(keep, make([]byte, 1000)) }\n"
	"\truntime.GC()\n"
	"\tpprof.Lookup(\"heap\").WriteTo(os.Stdout, 0)\n"
	"}\n";

/* We read the heap profiles Go writes: four sample types, its own ids and strings. */
START_TEST(test_read_go_heap_profile)
{
	char dir[] = "/tmp/test-pprof-go.XXXXXX", src[64], out[64], cmd[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/main.go", dir);
	snprintf(out, sizeof(out), "%s/heap.pb.gz", dir);
	write_file(src, go_heap_program, strlen(go_heap_program));
	snprintf(cmd, sizeof(cmd), "cd %s && HOME=${HOME:-/tmp} go run main.go > %s 2>&1", dir, out);
	free(run(cmd));

	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_read_file(out, &q, &err) == 0, "%s", err.why);
	ck_assert(q->has_value[PV_ALLOC_OBJECTS] && q->has_value[PV_ALLOC_SPACE]);
	ck_assert(q->has_value[PV_INUSE_OBJECTS] && q->has_value[PV_INUSE_SPACE]);
	ck_assert(!q->has_value[PV_PEAK_OBJECTS] && !q->has_value[PV_PEAK_SPACE]);
	ck_assert_int_eq(q->meta.sampling_period, 1);
	bool found = false;
	int64_t inuse = 0;
	for (size_t i = 0; i < q->nsamples; i++) {
		const profile_sample_t *s = &q->samples[i];
		for (uint32_t j = 0; j < s->nlocs; j++) {
			const profile_location_t *loc = &q->locations[s->locs[j]];
			for (uint32_t k = 0; k < loc->nlines; k++)
				if (loc->lines[k].function && !strcmp(loc->lines[k].function, "main.main")) {
					found = true;
					inuse += s->value[PV_INUSE_SPACE];
					k = loc->nlines, j = s->nlocs;
				}
		}
	}
	ck_assert(found);
	ck_assert_int_ge(inuse, 100 * 1000);
	profile_free(q);
	unlink(src);
	unlink(out);
	rmdir(dir);
}
END_TEST

static Suite *pprof_suite(void)
{
	Suite *s = suite_create("pprof");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_empty);
	tcase_add_test(tc, test_round_trip_some_values);
	tcase_add_test(tc, test_read_six_value_file);
	tcase_add_test(tc, test_decode_sizes_bad);
	tcase_add_test(tc, test_empty_line_dropped);
	tcase_add_test(tc, test_decode_handbuilt);
	tcase_add_test(tc, test_decode_minimal);
	tcase_add_loop_test(tc, test_decode_bad, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_decode_values_mismatch);
	tcase_add_test(tc, test_decode_domain_bad);
	tcase_add_test(tc, test_decode_deeper_than_the_frame_limit_bad);
	tcase_add_test(tc, test_decode_negative_bad);
	tcase_add_test(tc, test_truncation_and_corruption);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file_round_trip);
	tcase_add_test(tc, test_file_round_trip_members);
	tcase_add_test(tc, test_file_small_stored);
	tcase_add_test(tc, test_gzip_write_sizes);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_gunzip);
	tcase_add_test(tc, test_write_enospc);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, test_read_not_regular);
	tcase_add_test(tc, test_read_sparse_huge);
	tcase_add_test(tc, test_read_gzip_bomb);
	tcase_add_test(tc, test_read_empty_samples);
	tcase_add_test(tc, test_read_values_overflow);
	tcase_add_test(tc, test_read_gzip_of_text);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);

	tc = tcase_create("go");
	tcase_add_test(tc, test_go_pprof_reads_output);
	tcase_add_test(tc, test_read_go_heap_profile);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pprof_suite());
}
