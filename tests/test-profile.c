/* test-profile.c - the profile builder (analyzer/snapshot/profile.c): interning,
 * growth of the mapping, location, sample and comment arrays, and release; and the
 * analyzer's big blocks mapped in one go (analyzer/util/mem.h).
 *
 * Run under ASan (-Db_sanitize=address) these also check that profile_free releases
 * everything and that grown arrays keep their contents.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mem.h"
#include "profile.h"
#include "checkmain.h"

START_TEST(new_is_empty)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->meta.pid, -1);
	ck_assert_int_eq(p->meta.peak_bytes, -1);
	ck_assert_ptr_null(p->meta.command);
	for (int v = 0; v < PV_COUNT; v++)
		ck_assert(!p->has_value[v]);
	ck_assert_uint_eq(p->nsamples, 0);
	ck_assert_uint_eq(p->nlocations, 0);
	ck_assert_uint_eq(p->nmappings, 0);
	ck_assert_uint_eq(p->ncomments, 0);
	profile_free(p);
	profile_free(NULL);
}
END_TEST

START_TEST(intern_shares_pointers)
{
	profile_t *p = profile_new();
	char a[] = "main.c", b[] = "main.c";
	const char *ia = profile_intern(p, a), *ib = profile_intern(p, b);
	ck_assert_ptr_nonnull(ia);
	ck_assert_ptr_eq(ia, ib);
	ck_assert_ptr_ne(ia, a);
	ck_assert_str_eq(ia, "main.c");
	/* A length-bounded intern of a prefix is the same string as the whole one. */
	ck_assert_ptr_eq(profile_intern_len(p, "main.cpp", 6), ia);
	ck_assert_ptr_ne(profile_intern(p, "main.h"), ia);
	ck_assert_ptr_null(profile_intern(p, NULL));
	ck_assert_str_eq(profile_intern(p, ""), "");
	profile_free(p);
}
END_TEST

START_TEST(add_interns_and_copies)
{
	profile_t *p = profile_new();
	char path[] = "/usr/lib/libfoo.so";
	profile_mapping_t m = { .start = 0x1000, .limit = 0x2000, .path = path };
	uint32_t mi, li;
	ck_assert_int_eq(profile_add_mapping(p, &m, &mi), 0);
	path[0] = 'X'; /* the profile holds its own copy */
	ck_assert_str_eq(p->mappings[mi].path, "/usr/lib/libfoo.so");
	ck_assert_ptr_eq(p->mappings[mi].path, profile_intern(p, "/usr/lib/libfoo.so"));
	ck_assert_ptr_null(p->mappings[mi].build_id);

	profile_line_t lines[2] = { { "inner", "a.c", 3 }, { "outer", "a.c", 9 } };
	ck_assert_int_eq(profile_add_location(p, 0x1234, mi, lines, 2, &li), 0);
	const profile_location_t *l = &p->locations[li];
	ck_assert_uint_eq(l->address, 0x1234);
	ck_assert_uint_eq(l->mapping, mi);
	ck_assert_uint_eq(l->nlines, 2);
	ck_assert_ptr_ne(l->lines, lines);
	ck_assert_ptr_eq(l->lines[0].file, l->lines[1].file);
	ck_assert_str_eq(l->lines[1].function, "outer");
	ck_assert_int_eq(l->lines[1].line, 9);

	int64_t v[PV_COUNT] = { 1, 2, 3, 4, 5, 6 };
	ck_assert_int_eq(profile_add_sample(p, &li, 1, v, 7, true), 0);
	ck_assert_uint_eq(p->nsamples, 1);
	ck_assert_uint_eq(p->samples[0].nlocs, 1);
	ck_assert_uint_eq(p->samples[0].locs[0], li);
	ck_assert_int_eq(p->samples[0].value[PV_PEAK_SPACE], 6);
	ck_assert_int_eq(p->samples[0].domain, 7);
	ck_assert(p->samples[0].truncated);

	ck_assert_int_eq(profile_add_comment(p, "hello"), 0);
	ck_assert_uint_eq(p->ncomments, 1);
	ck_assert_ptr_eq(p->comments[0], profile_intern(p, "hello"));
	profile_free(p);
}
END_TEST

/* Many entries of each kind: the arrays grow and keep what they hold. */
START_TEST(arrays_grow)
{
	enum { N = 5000 };
	profile_t *p = profile_new();
	char name[32];
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%u", i % 100);
		profile_line_t line = { name, "x.c", i };
		profile_mapping_t m = { .start = i, .limit = i + 1, .path = name };
		uint32_t mi, li;
		ck_assert_int_eq(profile_add_mapping(p, &m, &mi), 0);
		ck_assert_uint_eq(mi, i);
		ck_assert_int_eq(profile_add_location(p, 0x400000 + i, mi, &line, 1, &li), 0);
		ck_assert_uint_eq(li, i);
		int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = i };
		ck_assert_int_eq(profile_add_sample(p, &li, 1, v, 0, false), 0);
		ck_assert_int_eq(profile_add_comment(p, name), 0);
	}
	ck_assert_uint_eq(p->nmappings, N);
	ck_assert_uint_eq(p->nlocations, N);
	ck_assert_uint_eq(p->nsamples, N);
	ck_assert_uint_eq(p->ncomments, N);
	for (uint32_t i = 0; i < N; i++) {
		ck_assert_uint_eq(p->mappings[i].start, i);
		ck_assert_uint_eq(p->locations[i].address, 0x400000 + i);
		ck_assert_int_eq(p->locations[i].lines[0].line, i);
		ck_assert_uint_eq(p->samples[i].locs[0], i);
		ck_assert_int_eq(p->samples[i].value[PV_INUSE_SPACE], i);
		/* 100 distinct names, each one pointer. */
		ck_assert_ptr_eq(p->comments[i], p->comments[i % 100]);
		ck_assert_ptr_eq(p->locations[i].lines[0].function, p->comments[i]);
	}
	profile_free(p);
}
END_TEST

START_TEST(alloc_is_zeroed)
{
	profile_t *p = profile_new();
	for (int i = 0; i < 100; i++) {
		size_t n = (size_t)1 << (i % 22); /* up to 2 MiB: bigger than one arena chunk */
		unsigned char *b = profile_alloc(p, n);
		ck_assert_ptr_nonnull(b);
		ck_assert_uint_eq(((uintptr_t)b) % sizeof(void *), 0);
		ck_assert_uint_eq(b[0], 0);
		ck_assert_uint_eq(b[n - 1], 0);
		memset(b, 0xa5, n);
	}
	profile_free(p);
}
END_TEST

/* How many of the whole pages inside [p, p + n) are not mapped. */
static size_t pages_absent(const void *p, size_t n)
{
	uintptr_t page = (uintptr_t)getpagesize();
	uintptr_t from = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t to = ((uintptr_t)p + n) & ~(page - 1);
	size_t count = (to - from) / page, absent = 0;
	unsigned char vec[1024];
	ck_assert_uint_le(count, sizeof(vec));
	ck_assert_int_eq(mincore((void *)from, to - from, vec), 0);
	for (size_t i = 0; i < count; i++)
		absent += !(vec[i] & 1);
	return absent;
}

/* mem_realloc() maps a big new block before copying only the bytes in use into it;
 * small blocks are plain realloc(). */
START_TEST(big_blocks_are_mapped_at_once)
{
	size_t big = 2u << 20; /* above malloc's mmap threshold: fresh pages */
	char *small = mem_realloc(NULL, 0, 100);
	ck_assert_ptr_nonnull(small);
	memset(small, 'x', 100);
	char *b = mem_realloc(small, 100, big);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(pages_absent(b, big), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(b[i], 'x');
	char *c = mem_realloc(b, 100, 2 * big);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(pages_absent(c, 2 * big), 0);
	ck_assert_int_eq(c[99], 'x');
	free(c);
	unsigned *z = mem_calloc(big / sizeof(unsigned), sizeof(unsigned));
	ck_assert_ptr_nonnull(z);
	for (size_t i = 0; i < big / sizeof(unsigned); i += 1000)
		ck_assert_uint_eq(z[i], 0);
	free(z);
	ck_assert_ptr_null(mem_calloc(SIZE_MAX / 2, 4));
}
END_TEST

/* A profile's arena chunk: its first MEM_POPULATE_MIN bytes fault in as they are used
 * (not asserted: a huge page may map them anyway); past them it is mapped
 * MEM_POPULATE_MIN ahead of what is handed out. */
START_TEST(arena_is_mapped_ahead)
{
	size_t page = (size_t)getpagesize();
	profile_t *p = profile_new();
	char *a = profile_alloc(p, 64);
	ck_assert_ptr_nonnull(a);
	char *b = profile_alloc(p, MEM_POPULATE_MIN); /* in the same chunk, past its first 64 KiB */
	ck_assert_ptr_eq(b, a + 64);
	ck_assert_uint_eq(pages_absent(b + MEM_POPULATE_MIN + page, MEM_POPULATE_MIN - 4 * page), 0);
	profile_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("profile");
	TCase *tc = tcase_create("builder");
	tcase_add_test(tc, new_is_empty);
	tcase_add_test(tc, intern_shares_pointers);
	tcase_add_test(tc, add_interns_and_copies);
	tcase_add_test(tc, arrays_grow);
	tcase_add_test(tc, alloc_is_zeroed);
	tcase_add_test(tc, big_blocks_are_mapped_at_once);
	tcase_add_test(tc, arena_is_mapped_ahead);
	suite_add_tcase(s, tc);
	return check_run(s);
}
