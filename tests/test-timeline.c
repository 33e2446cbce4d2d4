/* test-timeline.c - memory over time: bounded points, merging that keeps the extremes,
 * and the snapshot file's timeline field written and read back. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "profile.h"
#include "timeline.h"
#include "checkmain.h"

#define MS 1000000ull

START_TEST(points_stay_bounded_and_keep_the_extremes)
{
	static timeline_t t;
	uint64_t start = 1000 * MS;
	timeline_init(&t, start, 0);
	/* 60 s of events every 0.5 ms: a total that climbs, with one spike of 1 GB. */
	int64_t total = 0, lowest_after_spike = INT64_MAX;
	for (uint64_t k = 0; k < 120000; k++) {
		uint64_t now = start + k * MS / 2;
		timeline_at(&t, now, total);
		total = (int64_t)(k % 1000) * 10;
		if (k == 77777) {
			total = 1 << 30;
			timeline_peak(&t);
		}
		timeline_note(&t, total);
		if (k > 77777 && total < lowest_after_spike)
			lowest_after_spike = total;
	}
	timeline_at(&t, start + 60000 * MS, total);
	ck_assert_uint_le(t.n, TIMELINE_POINTS);
	ck_assert_uint_gt(t.n, TIMELINE_POINTS / 2);
	/* 60 s in at most 2000 points: the width doubled from 1 ms to 32 ms. */
	ck_assert_uint_eq(t.interval_ns, 32 * MS);
	int64_t hi = 0, lo = INT64_MAX;
	for (uint32_t i = 0; i < t.n; i++) {
		ck_assert_int_le(t.min[i], t.max[i]);
		hi = t.max[i] > hi ? t.max[i] : hi;
		lo = t.min[i] < lo ? t.min[i] : lo;
	}
	ck_assert_int_eq(hi, 1 << 30); /* the spike survives every merge */
	ck_assert_int_eq(lo, 0);
	/* The peak's moment: the move after it, 77778 half-milliseconds in. */
	ck_assert_int_eq(t.peak_ns, (int64_t)(77778 * MS / 2));
	uint32_t spike = (uint32_t)(t.peak_ns / (int64_t)t.interval_ns);
	ck_assert_int_eq(t.max[spike], 1 << 30);
	timeline_free(&t);
}
END_TEST

START_TEST(idle_stretches_repeat_the_total)
{
	static timeline_t t;
	timeline_init(&t, 0, 0);
	timeline_note(&t, 500);
	timeline_at(&t, 10 * MS, 500); /* nothing for 10 ms */
	ck_assert_uint_eq(t.n, 11);
	for (uint32_t i = 1; i < t.n; i++) {
		ck_assert_int_eq(t.min[i], 500);
		ck_assert_int_eq(t.max[i], 500);
	}
	ck_assert_int_eq(t.min[0], 0);
	ck_assert_int_eq(t.max[0], 500);
	ck_assert_int_eq(timeline_snap(&t, 7 * MS), 0);
	ck_assert_uint_eq(t.nsnaps, 1);
	ck_assert_int_eq(t.snaps[0], (int64_t)(7 * MS));
	timeline_free(&t);
}
END_TEST

static profile_t *round_trip(const profile_t *p)
{
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(pprof_encode(p, &buf, &len), 0);
	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_decode(buf, len, &q, &err) == 0, "%s", err.why);
	free(buf);
	return q;
}

START_TEST(the_file_carries_it)
{
	static timeline_t t;
	timeline_init(&t, 0, 0);
	for (uint64_t k = 0; k < 5000; k++) {
		timeline_at(&t, k * MS, (int64_t)k);
		timeline_note(&t, (int64_t)k * 3);
	}
	timeline_snap(&t, 100 * MS);
	timeline_snap(&t, 200 * MS);
	t.peak_ns = 4999 * MS;
	profile_t *p = profile_new();
	profile_timeline_t view;
	timeline_view(&t, &view);
	ck_assert_int_eq(profile_set_timeline(p, &view), 0);
	profile_t *q = round_trip(p);
	ck_assert_uint_eq(q->timeline.n, t.n);
	ck_assert_int_eq(q->timeline.interval_nanos, (int64_t)t.interval_ns);
	ck_assert_int_eq(q->timeline.peak_nanos, (int64_t)(4999 * MS));
	ck_assert_uint_eq(q->timeline.nsnaps, 2);
	ck_assert_int_eq(q->timeline.snap_nanos[1], (int64_t)(200 * MS));
	ck_assert_int_eq(memcmp(q->timeline.max_bytes, t.max, t.n * sizeof(int64_t)), 0);
	ck_assert_int_eq(memcmp(q->timeline.min_bytes, t.min, t.n * sizeof(int64_t)), 0);
	profile_free(q);
	/* Without one, none comes back. */
	profile_t *empty = profile_new();
	q = round_trip(empty);
	ck_assert_uint_eq(q->timeline.n, 0);
	profile_free(q);
	profile_free(empty);
	profile_free(p);
	timeline_free(&t);
}
END_TEST

START_TEST(a_bad_timeline_is_refused)
{
	/* Field 100 holding min_bytes of two points and max_bytes of one; then one point
	 * whose low (5) is above its high (2). */
	static const uint8_t two_one[] = { 0xa2, 0x06, 0x09, 0x08, 0x08, 0x12, 0x02, 0x01, 0x02,
					   0x1a, 0x01, 0x05 };
	static const uint8_t low_above[] = { 0xa2, 0x06, 0x08, 0x08, 0x08, 0x12, 0x01, 0x05,
					     0x1a, 0x01, 0x02 };
	static const uint8_t low_below[] = { 0xa2, 0x06, 0x08, 0x08, 0x08, 0x12, 0x01, 0x02,
					     0x1a, 0x01, 0x05 };
	const struct { const uint8_t *b; size_t n; } bad[] = { { two_one, sizeof(two_one) },
							       { low_above, sizeof(low_above) } };
	for (size_t i = 0; i < 2; i++) {
		profile_t *q = NULL;
		pprof_error_t err;
		ck_assert_int_eq(pprof_decode(bad[i].b, bad[i].n, &q, &err), -EINVAL);
		ck_assert_msg(strstr(err.why, "inconsistent timeline"), "%s", err.why);
		ck_assert_ptr_null(q);
	}
	/* The same point the right way round is read. */
	profile_t *q = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_decode(low_below, sizeof(low_below), &q, &err) == 0, "%s", err.why);
	ck_assert_uint_eq(q->timeline.n, 1);
	ck_assert_int_eq(q->timeline.min_bytes[0], 2);
	ck_assert_int_eq(q->timeline.max_bytes[0], 5);
	profile_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timeline");
	TCase *tc = tcase_create("timeline");
	tcase_add_test(tc, points_stay_bounded_and_keep_the_extremes);
	tcase_add_test(tc, idle_stretches_repeat_the_total);
	tcase_add_test(tc, the_file_carries_it);
	tcase_add_test(tc, a_bad_timeline_is_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
