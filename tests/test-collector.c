/* test-collector.c - the collector's peak tracking and draining
 * (analyzer/collect/collector.c).
 *
 * collector_count_alloc/release hold design.md's epoch rule; they need no shared
 * memory, so a zeroed collector_t and a few stack counters drive them directly.  Each
 * test checks the traced totals and every stack's at-peak counters against a model
 * that remembers the per-stack counters at the last traced peak.  Draining runs on a
 * segment of its own, written as the shim writes it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector.h"
#include "ring.h"
#include "shmlayout.h"
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

/* Publishes n records that record nothing, as the shim would. */
static void publish_noops(struct ring *w, uint64_t *tail, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t p = ring_reserve(w, tail);
		ring_publish(w, p, tail, HS_REC_NOOP, 0, 0, 0, 0);
	}
}

/* Draining stops at a record once more snapshot requests were made than the caller
 * knew of, though no limit says so: the request's position may be at or below that
 * record (the signal's thread published it after the request), and the snapshot must
 * not see it.  Before, a collector draining up to "anything" when a signal came went
 * on past the request's position: one file in three of basic's first snapshot held
 * frees made after it, under heapsnap run. */
START_TEST(drain_stops_for_a_request_it_does_not_know)
{
	struct hs_layout l;
	ck_assert_int_eq(hs_layout_compute(4096, HS_STACKS_MIN, &l), 0);
	int fd = memfd_create("test-collector", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)l.total), 0);
	struct hs_ctl *ctl = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(ctl, MAP_FAILED);
	hs_layout_write(ctl, &l, 16);
	struct hs_geometry g = hs_geometry_of(ctl, &l);
	struct ring w;
	ring_init(&w, ctl, &g);
	static collector_t c;
	ck_assert_int_eq(collector_attach(&c, fd, getpid(), NULL), 0);
	uint64_t tail = 0;
	publish_noops(&w, &tail, 10);
	ck_assert_uint_eq(collector_drain(&c, UINT64_MAX, 100, false), 10);
	publish_noops(&w, &tail, 5);
	ck_assert_uint_eq(ring_request_snapshot(ctl), 1); /* at position 15 */
	publish_noops(&w, &tail, 5);
	ck_assert_uint_eq(collector_drain(&c, UINT64_MAX, 100, false), 0);
	c.requests_seen = 1; /* the caller looked, and drains up to the request */
	ck_assert_uint_eq(ctl->req[1].pos, 15);
	ck_assert_uint_eq(collector_drain(&c, 15, 100, false), 5);
	ck_assert_uint_eq(collector_drain(&c, UINT64_MAX, 100, false), 5);
	ck_assert_uint_eq(c.pos, 20);
	collector_detach(&c);
	munmap(ctl, l.total);
	close(fd);
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
	tcase_add_test(tc, drain_stops_for_a_request_it_does_not_know);
	suite_add_tcase(s, tc);
	return check_run(s);
}
