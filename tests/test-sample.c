/* test-sample.c - Poisson sampling by bytes (preload/sample.h) as the pure functions it
 * is: each block is sampled with probability 1 - e^(-size/period), and the estimates
 * of bytes and blocks are unbiased, checked over many seeds against the truth. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "sample.h"
#include "checkmain.h"

/* One run over a fixed allocation sequence with one seed: the true and estimated
 * bytes and blocks of each size class. */
#define NSIZES 6
static const uint64_t sizes[NSIZES] = { 1, 24, 100, 3000, 65536, 1 << 21 };

struct run {
	double bytes[NSIZES], blocks[NSIZES];
};

static void run_once(uint64_t seed, uint64_t period, unsigned rounds, struct run *out)
{
	uint64_t state = seed;
	int64_t left = sample_gap(&state, period);
	*out = (struct run){ 0 };
	for (unsigned r = 0; r < rounds; r++)
		for (int i = 0; i < NSIZES; i++) {
			/* A mix of sizes, smaller ones more often. */
			unsigned reps = NSIZES - (unsigned)i;
			for (unsigned k = 0; k < reps; k++)
				if (sample_block(&left, &state, period, sizes[i])) {
					double w = sample_weight(sizes[i], period);
					out->bytes[i] += (double)sizes[i] * w;
					out->blocks[i] += w;
				}
		}
}

/* Over many seeds, the mean estimate of every size class is its true value within
 * four standard errors of the mean: no bias, for blocks far below and far above the
 * period alike. */
START_TEST(estimates_are_unbiased_over_many_seeds)
{
	const uint64_t period = 4096;
	const unsigned rounds = 200, seeds = 4000;
	static double sum[NSIZES], sq[NSIZES], bsum[NSIZES], bsq[NSIZES];
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		struct run r;
		run_once(seed * 0x2545f4914f6cdd1dull, period, rounds, &r);
		for (int i = 0; i < NSIZES; i++) {
			sum[i] += r.bytes[i];
			sq[i] += r.bytes[i] * r.bytes[i];
			bsum[i] += r.blocks[i];
			bsq[i] += r.blocks[i] * r.blocks[i];
		}
	}
	for (int i = 0; i < NSIZES; i++) {
		double blocks = (double)rounds * (double)(NSIZES - i);
		double truth = blocks * (double)sizes[i];
		double mean = sum[i] / seeds, var = sq[i] / seeds - mean * mean;
		double se = sqrt(var > 0 ? var : 0) / sqrt((double)seeds);
		ck_assert_msg(fabs(mean - truth) <= 4 * se + 1e-9 * truth,
			      "size %llu: mean estimate %.1f B, truth %.1f B, standard error %.1f",
			      (unsigned long long)sizes[i], mean, truth, se);
		double bmean = bsum[i] / seeds, bvar = bsq[i] / seeds - bmean * bmean;
		double bse = sqrt(bvar > 0 ? bvar : 0) / sqrt((double)seeds);
		ck_assert_msg(fabs(bmean - blocks) <= 4 * bse + 1e-9 * blocks,
			      "size %llu: mean estimate %.2f blocks, truth %.0f, standard error %.2f",
			      (unsigned long long)sizes[i], bmean, blocks, bse);
	}
}
END_TEST

/* One seed's estimate of a total of B bytes is within a few sqrt(period / B) of it,
 * the relative error the docs promise for blocks small against the period. */
START_TEST(one_estimate_is_within_its_statistical_error)
{
	const uint64_t period = 512 * 1024, size = 64, n = 4000000; /* 256 MB */
	double truth = (double)(size * n), rsd = sqrt((double)period / truth);
	for (uint64_t seed = 1; seed <= 20; seed++) {
		uint64_t state = seed;
		int64_t left = sample_gap(&state, period);
		double est = 0;
		for (uint64_t k = 0; k < n; k++)
			if (sample_block(&left, &state, period, size))
				est += (double)size * sample_weight(size, period);
		ck_assert_msg(fabs(est / truth - 1) < 5 * rsd, "seed %llu: estimate %.0f of %.0f",
			      (unsigned long long)seed, est, truth);
	}
}
END_TEST

/* A block is sampled with probability 1 - e^(-size/period), whatever came before. */
START_TEST(blocks_are_sampled_with_the_poisson_probability)
{
	const uint64_t period = 1000;
	static const uint64_t probe[] = { 10, 500, 1000, 5000 };
	for (size_t i = 0; i < sizeof(probe) / sizeof(*probe); i++) {
		uint64_t state = 42 + i;
		int64_t left = sample_gap(&state, period);
		const unsigned n = 400000;
		unsigned hits = 0;
		for (unsigned k = 0; k < n; k++) {
			/* Interleave other sizes: they must not change this block's odds. */
			sample_block(&left, &state, period, 77 * (k % 5));
			hits += (unsigned)sample_block(&left, &state, period, probe[i]);
		}
		double p = -expm1(-(double)probe[i] / period);
		double se = sqrt(p * (1 - p) / n);
		ck_assert_msg(fabs((double)hits / n - p) < 5 * se, "size %llu: %.4f sampled, want %.4f",
			      (unsigned long long)probe[i], (double)hits / n, p);
	}
}
END_TEST

/* The shim's own logarithm agrees with libm's to within a few units in the last place
 * over every u the sampler can draw: the ends, each power of two and the points where
 * the mantissa is folded, and a million draws. */
START_TEST(ln_agrees_with_libm)
{
	double worst = 0;
	uint64_t state = 42;
	for (int i = 0; i < 1000000 + 2000; i++) {
		double u;
		if (i < 54)
			u = ldexp(1, -i); /* 1, 1/2, ... 2^-53 */
		else if (i < 2000)
			u = ldexp(1.4142135623730951 + (i % 3 - 1) * 0x1p-52, -(i % 53) - 1);
		else
			u = (double)((sample_random(&state) >> 11) + 1) * 0x1p-53;
		double want = log(u), got = sample_ln(u);
		double err = want == 0 ? fabs(got) : fabs(got - want) / fabs(want);
		if (err > worst)
			worst = err;
		ck_assert_msg(want == 0 ? got == 0 : err < 1e-15, "u %a: ln %a, libm %a", u, got,
			      want);
	}
	fprintf(stderr, "sample_ln: worst relative error %.3g\n", worst);
}
END_TEST

START_TEST(weights)
{
	ck_assert_double_eq(sample_weight(100, 0), 1);      /* exact tracing */
	ck_assert_double_eq_tol(sample_weight(1 << 30, 4096), 1, 1e-12);
	ck_assert_double_eq_tol(sample_weight(1, 4096), 4096.5, 0.01); /* ~ period / size */
	ck_assert_double_eq_tol(sample_weight(4096, 4096), 1 / (1 - exp(-1)), 1e-12);
	ck_assert_double_eq(sample_weight(0, 4096), 1);
	uint64_t state = 7;
	for (int k = 0; k < 100000; k++)
		ck_assert_int_ge(sample_gap(&state, 1), 1);
}
END_TEST

static Suite *sample_suite(void)
{
	Suite *s = suite_create("sample");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, estimates_are_unbiased_over_many_seeds);
	tcase_add_test(tc, one_estimate_is_within_its_statistical_error);
	tcase_add_test(tc, blocks_are_sampled_with_the_poisson_probability);
	tcase_add_test(tc, weights);
	tcase_add_test(tc, ln_agrees_with_libm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(sample_suite());
}
