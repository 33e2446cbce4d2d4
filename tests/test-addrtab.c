/* test-addrtab.c - the collector's live table against a plain reference model. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "addrtab.h"
#include "checkmain.h"

#define N 20000

/* The reference: a direct array over addresses 16 * (1..N). */
struct ref {
	uint64_t size;
	uint32_t stack;
	bool live;
};

static uint64_t addr_of(unsigned i)
{
	return 0x7f0000000000ull + (uint64_t)(i + 1) * 16;
}

START_TEST(random_operations_match_the_model)
{
	addrtab_t t;
	ck_assert_int_eq(addrtab_init(&t), 0);
	static struct ref ref[N];
	unsigned x = 99;
	uint64_t live = 0;
	for (int op = 0; op < 400000; op++) {
		x = x * 1103515245u + 12345u;
		unsigned i = (x >> 8) % N;
		uint64_t size = (x >> 4) % 3 == 0 ? (uint64_t)1 << 33 | i : 16 + i; /* some >= 4 GiB */
		uint64_t old_size = 0;
		uint32_t old_stack = 0;
		int err;
		if ((x >> 20) & 1) {
			bool replaced = addrtab_put(&t, addr_of(i), size, i * 3, &old_size, &old_stack, &err);
			ck_assert_int_eq(err, 0);
			ck_assert(replaced == ref[i].live);
			if (replaced) {
				ck_assert_uint_eq(old_size, ref[i].size);
				ck_assert_uint_eq(old_stack, ref[i].stack);
			} else {
				live++;
			}
			ref[i] = (struct ref){ size, i * 3, true };
		} else {
			bool found = addrtab_take(&t, addr_of(i), &old_size, &old_stack);
			ck_assert(found == ref[i].live);
			if (found) {
				ck_assert_uint_eq(old_size, ref[i].size);
				ck_assert_uint_eq(old_stack, ref[i].stack);
				live--;
			}
			ref[i].live = false;
		}
		ck_assert_uint_eq(t.count, live);
	}
	/* Everything still live is found, with its size, and nothing else is. */
	for (unsigned i = 0; i < N; i++) {
		uint64_t size;
		uint32_t stack;
		ck_assert(addrtab_take(&t, addr_of(i), &size, &stack) == ref[i].live);
		if (ref[i].live)
			ck_assert_uint_eq(size, ref[i].size);
	}
	ck_assert_uint_eq(t.count, 0);
	ck_assert(!addrtab_take(&t, 0, &(uint64_t){ 0 }, &(uint32_t){ 0 }));
	addrtab_free(&t);
}
END_TEST

START_TEST(sixteen_bytes_a_slot_under_three_quarters_load)
{
	addrtab_t t;
	ck_assert_int_eq(addrtab_init(&t), 0);
	int err;
	for (unsigned i = 0; i < 1000000; i++)
		addrtab_put(&t, addr_of(i), 32, 1, &(uint64_t){ 0 }, &(uint32_t){ 0 }, &err);
	ck_assert_uint_eq(t.count, 1000000);
	ck_assert_uint_le(t.count * 4, (t.mask + 1) * 3);
	/* 2^21 slots of 16 bytes: about 33.5 bytes a live block at a million. */
	ck_assert_uint_le(addrtab_memory(&t), (size_t)1000000 * 34);
	addrtab_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addrtab");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_operations_match_the_model);
	tcase_add_test(tc, sixteen_bytes_a_slot_under_three_quarters_load);
	suite_add_tcase(s, tc);
	return check_run(s);
}
