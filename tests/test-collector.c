/* test-collector.c - the collector's peak tracking (analyzer/collect/collector.c).
 *
 * collector_count_alloc/release hold design.md's epoch rule; they need no shared
 * memory, so a zeroed collector_t and a few stack counters drive them directly.  Each
 * test checks the traced totals and every stack's at-peak counters against a model
 * that remembers the per-stack counters at the last traced peak.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "checkmain.h"

enum { NSTACKS = 4 };

/* The model: counters now, and a copy taken whenever the total makes a new peak. */
struct model {
	int64_t bytes[NSTACKS], blocks[NSTACKS];
	int64_t peak_bytes[NSTACKS], peak_blocks[NSTACKS];
	int64_t current, peak;
};

struct world {
	collector_t c;
	struct stack_stats s[NSTACKS];
	struct model m;
};

static void alloc(struct world *w, int stack, int64_t size)
{
	collector_count_alloc(&w->c, &w->s[stack], size);
	w->m.bytes[stack] += size;
	w->m.blocks[stack]++;
	w->m.current += size;
	if (w->m.current > w->m.peak) {
		w->m.peak = w->m.current;
		memcpy(w->m.peak_bytes, w->m.bytes, sizeof(w->m.bytes));
		memcpy(w->m.peak_blocks, w->m.blocks, sizeof(w->m.blocks));
	}
}

static void release(struct world *w, int stack, int64_t size)
{
	collector_count_release(&w->c, &w->s[stack], size);
	w->m.bytes[stack] -= size;
	w->m.blocks[stack]--;
	w->m.current -= size;
}

static void check(const struct world *w)
{
	ck_assert_int_eq(w->c.current_bytes, w->m.current);
	ck_assert_int_eq(w->c.peak_bytes, w->m.peak);
	for (int i = 0; i < NSTACKS; i++) {
		int64_t bytes, blocks;
		collector_peak_of(&w->c, &w->s[i], &bytes, &blocks);
		ck_assert_int_eq(bytes, w->m.peak_bytes[i]);
		ck_assert_int_eq(blocks, w->m.peak_blocks[i]);
		ck_assert_int_eq(w->s[i].inuse_bytes, w->m.bytes[i]);
		ck_assert_int_eq(w->s[i].inuse_blocks, w->m.blocks[i]);
	}
}

START_TEST(peak_is_the_highest_total)
{
	struct world w = { 0 };
	alloc(&w, 0, 100);
	alloc(&w, 1, 50);
	check(&w);
	ck_assert_int_eq(w.c.peak_bytes, 150);
	release(&w, 0, 100);
	alloc(&w, 2, 30); /* total 80: below the peak */
	check(&w);
	ck_assert_int_eq(w.c.peak_bytes, 150);
	int64_t b, n;
	collector_peak_of(&w.c, &w.s[0], &b, &n);
	ck_assert_int_eq(b, 100); /* stack 0 held 100 at the peak, 0 now */
	ck_assert_int_eq(n, 1);
	collector_peak_of(&w.c, &w.s[2], &b, &n);
	ck_assert_int_eq(b, 0); /* stack 2 came after the peak */
	ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(new_peak_moves_every_stack)
{
	struct world w = { 0 };
	alloc(&w, 0, 100);
	release(&w, 0, 100);
	alloc(&w, 1, 60);
	alloc(&w, 1, 60); /* total 120 > 100: a new peak, stack 0 now 0 there */
	check(&w);
	int64_t b, n;
	collector_peak_of(&w.c, &w.s[0], &b, &n);
	ck_assert_int_eq(b, 0);
	collector_peak_of(&w.c, &w.s[1], &b, &n);
	ck_assert_int_eq(b, 120);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(w.s[1].alloc_bytes, 120);
	ck_assert_int_eq(w.s[1].alloc_blocks, 2);
}
END_TEST

START_TEST(equal_total_is_not_a_new_peak)
{
	struct world w = { 0 };
	alloc(&w, 0, 100);
	release(&w, 0, 100);
	alloc(&w, 1, 100); /* reaches the peak again without passing it */
	check(&w);
	int64_t b, n;
	collector_peak_of(&w.c, &w.s[0], &b, &n);
	ck_assert_int_eq(b, 100);
	collector_peak_of(&w.c, &w.s[1], &b, &n);
	ck_assert_int_eq(b, 0);
}
END_TEST

/* Random allocations and releases against the model. */
START_TEST(random_against_model)
{
	struct world w = { 0 };
	srand(1234);
	for (int i = 0; i < 100000; i++) {
		int stack = rand() % NSTACKS;
		int64_t size = 1 + rand() % 64;
		if (w.m.blocks[stack] > 0 && rand() % 2) {
			/* Release a "block" of average size; sizes need only balance. */
			int64_t avg = w.m.bytes[stack] / w.m.blocks[stack];
			release(&w, stack, w.m.blocks[stack] == 1 ? w.m.bytes[stack] : avg);
		} else {
			alloc(&w, stack, size);
		}
		if (i % 97 == 0)
			check(&w);
	}
	check(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collector");
	TCase *tc = tcase_create("peak");
	tcase_add_test(tc, peak_is_the_highest_total);
	tcase_add_test(tc, new_peak_moves_every_stack);
	tcase_add_test(tc, equal_total_is_not_a_new_peak);
	tcase_add_test(tc, random_against_model);
	suite_add_tcase(s, tc);
	return check_run(s);
}
