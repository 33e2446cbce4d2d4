/* test-flame.c - call trees (analyzer/stats/flame.c) and their folded rendering,
 * checked on a small profile whose stacks are known, against the expected folded
 * lines; flame_limit() against the totals it must preserve. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "format.h"
#include "profile.h"

static uint32_t loc(profile_t *p, uint32_t map, uint64_t addr, const char *fn, const char *file,
		    int64_t line)
{
	profile_line_t l = { fn, file, line };
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, p->mappings[map].start + addr, map, &l,
					      fn || file ? 1 : 0, &idx), 0);
	return idx;
}

static void sample(profile_t *p, int64_t size, int64_t count, uint32_t nlocs, const uint32_t *locs)
{
	int64_t v[PV_COUNT] = {
		[PV_INUSE_SPACE] = size, [PV_INUSE_OBJECTS] = count,
		[PV_PEAK_SPACE] = size * 2, [PV_PEAK_OBJECTS] = count * 2,
		[PV_ALLOC_SPACE] = size * 10, [PV_ALLOC_OBJECTS] = count * 10,
	};
	ck_assert_int_eq(profile_add_sample(p, locs, nlocs, v, 0, false), 0);
}

/* main calls load and parse (with an inlined vec_push), all through libc's malloc;
 * scale multiplies the parse stack (for diffs). */
static profile_t *known_profile(int64_t scale)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	const profile_mapping_t maps[] = {
		{ 0x400000, 0x500000, 0, "/usr/bin/prog", NULL },
		{ 0x7f0000000000, 0x7f0000200000, 0, "/lib/x86_64-linux-gnu/libc.so.6", NULL },
	};
	uint32_t idx;
	for (size_t i = 0; i < 2; i++)
		ck_assert_int_eq(profile_add_mapping(p, &maps[i], &idx), 0);
	uint32_t malloc_ = loc(p, 1, 0x100, "malloc", NULL, 0);
	uint32_t main_ = loc(p, 0, 0x10, "main", "prog.c", 30);
	uint32_t load = loc(p, 0, 0x20, "load;it", "prog.c", 12);
	profile_line_t il[2] = { { "vec_push", "vec.h", 22 }, { "parse", "parse.c", 80 } };
	uint32_t parse;
	ck_assert_int_eq(profile_add_location(p, 0x400030, 0, il, 2, &parse), 0);
	uint32_t anon = loc(p, 0, 0x1234, NULL, NULL, 0);

	sample(p, 2000 * scale, 10 * scale, 3, (uint32_t[]){ malloc_, parse, main_ });
	sample(p, 400, 2, 3, (uint32_t[]){ malloc_, load, main_ });
	sample(p, 100, 1, 2, (uint32_t[]){ malloc_, main_ });
	sample(p, 10, 1, 2, (uint32_t[]){ anon, main_ });
	return p;
}

static char *folded(const flame_t *f, enum stats_metric m, bool blocks)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(print_flame_folded(out, f, m, blocks), 0);
	fclose(out);
	return buf;
}

START_TEST(folded_skips_runtime)
{
	profile_t *p = known_profile(1);
	flame_t *f = flame_new(1);
	stats_options_t opt = { .metric = STATS_METRIC_INUSE };
	ck_assert_int_eq(flame_add(f, p, 0, &opt), 0);
	char *s = folded(f, STATS_METRIC_INUSE, false);
	ck_assert_str_eq(s, "main (prog.c:30) 100\n"
			    "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22) 2000\n"
			    "main (prog.c:30);load_it (prog.c:12) 400\n"
			    "main (prog.c:30);0x1234 (prog) 10\n");
	free(s);
	s = folded(f, STATS_METRIC_INUSE, true);
	ck_assert_str_eq(s, "main (prog.c:30) 1\n"
			    "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22) 10\n"
			    "main (prog.c:30);load_it (prog.c:12) 2\n"
			    "main (prog.c:30);0x1234 (prog) 1\n");
	free(s);
	/* The root holds the total. */
	ck_assert_int_eq(flame_total(f, 0, 0)[flame_value(STATS_METRIC_INUSE, false)], 2510);
	flame_free(f);
	profile_free(p);
}
END_TEST

START_TEST(folded_keep_runtime_and_metrics)
{
	profile_t *p = known_profile(1);
	flame_t *f = flame_new(1);
	stats_options_t opt = { .metric = STATS_METRIC_ALLOC, .keep_runtime = true };
	ck_assert_int_eq(flame_add(f, p, 0, &opt), 0);
	opt.metric = STATS_METRIC_PEAK;
	ck_assert_int_eq(flame_add(f, p, 0, &opt), 0);
	char *s = folded(f, STATS_METRIC_ALLOC, false);
	ck_assert_str_eq(s,
			 "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22);malloc (libc.so.6) 20000\n"
			 "main (prog.c:30);load_it (prog.c:12);malloc (libc.so.6) 4000\n"
			 "main (prog.c:30);malloc (libc.so.6) 1000\n"
			 "main (prog.c:30);0x1234 (prog) 100\n");
	free(s);
	s = folded(f, STATS_METRIC_PEAK, false);
	ck_assert_ptr_nonnull(strstr(s, "main (prog.c:30);malloc (libc.so.6) 200\n"));
	free(s);
	flame_free(f);
	profile_free(p);
}
END_TEST

START_TEST(filters_and_diff_sets)
{
	profile_t *old_p = known_profile(1), *new_p = known_profile(3);
	flame_t *f = flame_new(2);
	stats_filter_t flt = { .inclusive = true, .pattern = "vec.h", .lineno = -1 };
	stats_options_t opt = { .metric = STATS_METRIC_INUSE, .filters = &flt, .nfilters = 1 };
	ck_assert_int_eq(flame_add(f, old_p, 0, &opt), 0);
	ck_assert_int_eq(flame_add(f, new_p, 1, &opt), 0);
	/* One path, shared by both profiles: root, main, parse, vec_push. */
	ck_assert_uint_eq(f->nnodes, 4);
	size_t v = flame_value(STATS_METRIC_INUSE, false);
	ck_assert_int_eq(flame_total(f, 3, 0)[v], 2000);
	ck_assert_int_eq(flame_total(f, 3, 1)[v], 6000);
	ck_assert_str_eq(f->frames[f->nodes[3].frame].function, "vec_push");
	ck_assert_int_eq(flame_add(f, old_p, 2, &opt), -EINVAL);
	flame_free(f);
	profile_free(old_p);
	profile_free(new_p);
}
END_TEST

START_TEST(limit_merges_into_other)
{
	profile_t *p = known_profile(1);
	flame_t *f = flame_new(1);
	stats_options_t opt = { .metric = STATS_METRIC_INUSE };
	ck_assert_int_eq(flame_add(f, p, 0, &opt), 0);
	ck_assert_uint_eq(f->nnodes, 6);
	/* root, main, parse, vec_push, then main's lighter children become "other". */
	ck_assert_int_eq(flame_limit(f, 4), 0);
	ck_assert_uint_eq(f->nnodes, 5);
	ck_assert_uint_eq(f->nodes[4].frame, FLAME_NONE);
	ck_assert_uint_eq(f->nodes[4].parent, 1);
	size_t v = flame_value(STATS_METRIC_INUSE, false);
	ck_assert_int_eq(flame_total(f, 4, 0)[v], 410);
	ck_assert_int_eq(flame_total(f, 1, 0)[v], 2510);
	char *s = folded(f, STATS_METRIC_INUSE, false);
	ck_assert_str_eq(s, "main (prog.c:30) 100\n"
			    "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22) 2000\n"
			    "main (prog.c:30);other 410\n");
	free(s);
	ck_assert_int_eq(flame_limit(f, 100), 0); /* already small: unchanged */
	ck_assert_uint_eq(f->nnodes, 5);
	flame_free(f);
	profile_free(p);
}
END_TEST

START_TEST(no_data)
{
	profile_t *p = known_profile(1);
	p->has_value[PV_PEAK_SPACE] = false;
	flame_t *f = flame_new(1);
	stats_options_t opt = { .metric = STATS_METRIC_PEAK };
	ck_assert_int_eq(flame_add(f, p, 0, &opt), -ENODATA);
	flame_free(f);
	profile_free(p);
	ck_assert_ptr_null(flame_new(0));
	ck_assert_ptr_null(flame_new(3));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flame");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, folded_skips_runtime);
	tcase_add_test(tc, folded_keep_runtime_and_metrics);
	tcase_add_test(tc, filters_and_diff_sets);
	tcase_add_test(tc, limit_merges_into_other);
	tcase_add_test(tc, no_data);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
