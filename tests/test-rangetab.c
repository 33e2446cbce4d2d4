/* test-rangetab.c - the mmap domain's range table against a page-by-page model. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "rangetab.h"

#define PAGES 512
#define PAGE 4096ull
#define BASE 0x7f0000000000ull
#define STACKS 8

/* The model: each page's mapping (0 = none) and its stack. */
struct model {
	uint32_t id[PAGES];
	uint32_t stack[PAGES];
	uint32_t next_id;
};

/* What the callbacks reported, per stack. */
struct seen {
	int64_t bytes[STACKS];
	int64_t pieces[STACKS];
};

static void on_change(void *arg, uint32_t stack, int64_t bytes, int64_t pieces)
{
	struct seen *s = arg;
	ck_assert_uint_lt(stack, STACKS);
	ck_assert_int_lt(bytes, 0);
	s->bytes[stack] += bytes;
	s->pieces[stack] += pieces;
}

/* Pieces are maximal runs of pages of one mapping. */
static void model_totals(const struct model *m, int64_t bytes[STACKS], int64_t pieces[STACKS])
{
	memset(bytes, 0, STACKS * sizeof(*bytes));
	memset(pieces, 0, STACKS * sizeof(*pieces));
	for (int p = 0; p < PAGES; p++) {
		if (!m->id[p])
			continue;
		bytes[m->stack[p]] += PAGE;
		if (p == 0 || m->id[p - 1] != m->id[p])
			pieces[m->stack[p]]++;
	}
}

static void check_against(const rangetab_t *t, const struct model *m, const struct seen *s)
{
	int64_t bytes[STACKS], pieces[STACKS];
	model_totals(m, bytes, pieces);
	uint64_t all_bytes = 0, all_pieces = 0;
	for (int k = 0; k < STACKS; k++) {
		ck_assert_int_eq(s->bytes[k], bytes[k]);
		ck_assert_int_eq(s->pieces[k], pieces[k]);
		all_bytes += (uint64_t)bytes[k];
		all_pieces += (uint64_t)pieces[k];
	}
	ck_assert_uint_eq(t->bytes, all_bytes);
	ck_assert_uint_eq(t->count, all_pieces);
	for (int p = 0; p < PAGES; p++) {
		uint64_t start, len;
		uint32_t stack;
		int found = rangetab_find(t, BASE + p * PAGE + 17, &start, &len, &stack);
		ck_assert_int_eq(found, m->id[p] != 0);
		if (!found)
			continue;
		ck_assert_uint_eq(stack, m->stack[p]);
		int first = p, last = p;
		while (first > 0 && m->id[first - 1] == m->id[p])
			first--;
		while (last + 1 < PAGES && m->id[last + 1] == m->id[p])
			last++;
		ck_assert_uint_eq(start, BASE + first * PAGE);
		ck_assert_uint_eq(len, (uint64_t)(last - first + 1) * PAGE);
	}
}

START_TEST(random_maps_and_unmaps_match_the_model)
{
	srandom(12345);
	for (int round = 0; round < 8; round++) {
		rangetab_t t;
		rangetab_init(&t);
		struct model m = { .next_id = 1 };
		struct seen s = { 0 };
		for (int op = 0; op < 400; op++) {
			int first = (int)(random() % PAGES);
			int n = 1 + (int)(random() % 40);
			if (first + n > PAGES)
				n = PAGES - first;
			uint64_t start = BASE + first * PAGE, len = (uint64_t)n * PAGE;
			if (random() % 2) {
				uint32_t stack = (uint32_t)(random() % STACKS);
				ck_assert_int_eq(rangetab_map(&t, start, len, stack, on_change, &s), 0);
				s.bytes[stack] += (int64_t)len;
				s.pieces[stack]++;
				for (int p = first; p < first + n; p++) {
					m.id[p] = m.next_id;
					m.stack[p] = stack;
				}
				m.next_id++;
			} else {
				uint64_t expect = 0;
				for (int p = first; p < first + n; p++) {
					expect += m.id[p] ? PAGE : 0;
					m.id[p] = 0;
				}
				uint64_t lost = 1;
				ck_assert_uint_eq(rangetab_unmap(&t, start, len, on_change, &s, &lost),
						  expect);
				ck_assert_uint_eq(lost, 0);
			}
			check_against(&t, &m, &s);
		}
		rangetab_free(&t);
		ck_assert_uint_eq(t.count, 0);
	}
}
END_TEST

START_TEST(a_hole_in_the_middle_makes_two_pieces)
{
	rangetab_t t;
	rangetab_init(&t);
	struct seen s = { 0 };
	ck_assert_int_eq(rangetab_map(&t, BASE, 10 * PAGE, 3, on_change, &s), 0);
	ck_assert_uint_eq(rangetab_unmap(&t, BASE + 4 * PAGE, 2 * PAGE, on_change, &s, NULL),
			  2 * PAGE);
	ck_assert_int_eq(s.bytes[3], -(int64_t)(2 * PAGE));
	ck_assert_int_eq(s.pieces[3], 1);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_uint_eq(t.bytes, 8 * PAGE);
	/* Unmapping what was never mapped (a file mapping, say) changes nothing. */
	ck_assert_uint_eq(rangetab_unmap(&t, BASE + 100 * PAGE, PAGE, on_change, &s, NULL), 0);
	/* One unmap over both pieces and beyond takes everything. */
	ck_assert_uint_eq(rangetab_unmap(&t, BASE - PAGE, 20 * PAGE, on_change, &s, NULL),
			  8 * PAGE);
	ck_assert_int_eq(s.pieces[3], -1);
	ck_assert_uint_eq(t.count, 0);
	rangetab_free(&t);
}
END_TEST

START_TEST(descending_addresses_stay_shallow)
{
	/* mmap hands out addresses top-down: 200,000 inserts in that order must not
	 * degrade (the treap's priorities keep it balanced; a plain search tree would take
	 * 2*10^10 steps). */
	rangetab_t t;
	rangetab_init(&t);
	struct seen s = { 0 };
	for (uint64_t i = 0; i < 200000; i++)
		ck_assert_int_eq(rangetab_map(&t, BASE - i * PAGE, PAGE, 1, on_change, &s), 0);
	ck_assert_uint_eq(t.count, 200000);
	ck_assert_uint_eq(rangetab_unmap(&t, BASE - 199999 * PAGE, 200000 * PAGE, on_change, &s,
					 NULL),
			  200000 * PAGE);
	ck_assert_uint_eq(t.count, 0);
	rangetab_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rangetab");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_maps_and_unmaps_match_the_model);
	tcase_add_test(tc, a_hole_in_the_middle_makes_two_pieces);
	tcase_add_test(tc, descending_addresses_stay_shallow);
	suite_add_tcase(s, tc);
	return check_run(s);
}
