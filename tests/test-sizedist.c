/* test-sizedist.c - a stack's blocks by size class (analyzer/collect/sizedist.c) against
 * a simple model, and the classes' bounds (analyzer/stats/sizehist.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "sizedist.h"
#include "sizehist.h"

START_TEST(class_bounds)
{
	ck_assert_uint_eq(profile_size_class(0), 0);
	ck_assert_uint_eq(profile_size_class(1), 1);
	ck_assert_uint_eq(profile_size_class(2), 2);
	ck_assert_uint_eq(profile_size_class(3), 2);
	ck_assert_uint_eq(profile_size_class(4), 3);
	ck_assert_uint_eq(profile_size_class(1023), 10);
	ck_assert_uint_eq(profile_size_class(1024), 11);
	ck_assert_uint_eq(profile_size_class(UINT64_MAX), 64);
	for (uint32_t c = 0; c < PROFILE_SIZE_CLASSES; c++) {
		ck_assert_uint_eq(profile_size_class(sizehist_class_min(c)), c);
		ck_assert_uint_eq(profile_size_class(sizehist_class_max(c)), c);
	}
	ck_assert_uint_eq(sizehist_class_max(63), (UINT64_MAX >> 1));
}
END_TEST

/* The model: per class counters, the stack's totals, the largest block. */
struct model {
	profile_size_t cls[PROFILE_SIZE_CLASSES];
	profile_size_t whole;
	int64_t max;
};

static void model_add(profile_size_t *r, int64_t size, int sign)
{
	if (sign > 0) {
		r->alloc_blocks++;
		r->alloc_bytes += size;
	}
	r->inuse_blocks += sign;
	r->inuse_bytes += sign * size;
}

static void check(const sizedist_t *d, const struct model *m)
{
	profile_size_t rows[PROFILE_SIZE_CLASSES];
	uint32_t n = sizedist_rows(d, &m->whole, rows);
	uint32_t want = 0;
	for (uint32_t c = 0; c < PROFILE_SIZE_CLASSES; c++) {
		const profile_size_t *r = &m->cls[c];
		if (!r->alloc_blocks)
			continue;
		ck_assert_uint_lt(want, n);
		ck_assert_uint_eq(rows[want].cls, c);
		ck_assert_int_eq(rows[want].alloc_blocks, r->alloc_blocks);
		ck_assert_int_eq(rows[want].alloc_bytes, r->alloc_bytes);
		ck_assert_int_eq(rows[want].inuse_blocks, r->inuse_blocks);
		ck_assert_int_eq(rows[want].inuse_bytes, r->inuse_bytes);
		want++;
	}
	ck_assert_uint_eq(n, want);
	ck_assert_int_eq(d->max_size, m->max);
}

/* Random allocations and releases of sizes from nclasses classes (1: sizes 0 and
 * 100..127), with the distribution checked every 97 steps and at the end. */
static void random_run(unsigned seed, int nclasses)
{
	sizedist_t d;
	memset(&d, 0, sizeof(d));
	struct model m;
	memset(&m, 0, sizeof(m));
	int64_t live[256];
	int nlive = 0;
	srand(seed);
	for (int step = 0; step < 4000; step++) {
		if (nlive && (nlive == 256 || rand() % 3 == 0)) {
			int k = rand() % nlive;
			int64_t size = live[k];
			live[k] = live[--nlive];
			sizedist_release(&d, (uint64_t)size, (sizedist_weight_t){ size, 1 });
			model_add(&m.cls[profile_size_class((uint64_t)size)], size, -1);
			model_add(&m.whole, size, -1);
		} else {
			int64_t size = (int64_t)(rand() % 3 ? 100 + rand() % 28 : 0);
			if (nclasses > 1)
				size = (int64_t)((rand() % 2 ? 1 : 0) + (rand() % 4096) %
							       ((int64_t)1 << (rand() % nclasses)));
			ck_assert_int_eq(sizedist_alloc(&d, (uint64_t)size, (sizedist_weight_t){ size, 1 }, &m.whole), 0);
			model_add(&m.cls[profile_size_class((uint64_t)size)], size, 1);
			model_add(&m.whole, size, 1);
			m.max = size > m.max ? size : m.max;
			live[nlive++] = size;
		}
		if (step % 97 == 0)
			check(&d, &m);
	}
	check(&d, &m);
	sizedist_free(&d);
}

START_TEST(one_class_needs_no_rows)
{
	sizedist_t d;
	memset(&d, 0, sizeof(d));
	profile_size_t whole = { 0 };
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(sizedist_alloc(&d, 100 + (uint64_t)i % 20, (sizedist_weight_t){ 100 + i % 20, 1 }, &whole), 0);
		whole.alloc_blocks++;
		whole.inuse_blocks++;
	}
	ck_assert_ptr_null(d.rows);
	ck_assert_int_eq(d.max_size, 119);
	ck_assert_int_eq(sizedist_alloc(&d, 7, (sizedist_weight_t){ 7, 1 }, &whole), 0);
	ck_assert_ptr_nonnull(d.rows);
	profile_size_t rows[PROFILE_SIZE_CLASSES];
	ck_assert_uint_eq(sizedist_rows(&d, &whole, rows), 2);
	ck_assert_uint_eq(rows[0].cls, 3);
	ck_assert_int_eq(rows[0].alloc_blocks, 1);
	ck_assert_uint_eq(rows[1].cls, 7);
	ck_assert_int_eq(rows[1].alloc_blocks, 100);
	ck_assert_int_eq(sizedist_alloc(&d, 1ull << 63, (sizedist_weight_t){ 0, 1 }, &whole), -EINVAL);
	sizedist_free(&d);
}
END_TEST

START_TEST(random_against_model)
{
	for (unsigned seed = 1; seed <= 20; seed++)
		random_run(seed, 1 + (int)(seed % 13));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sizedist");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, class_bounds);
	tcase_add_test(tc, one_class_needs_no_rows);
	tcase_add_test(tc, random_against_model);
	suite_add_tcase(s, tc);
	return check_run(s);
}
