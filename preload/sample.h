/* sample.h - Poisson sampling by bytes: the sampler and its estimator, pure functions.
 *
 * The allocated bytes of a thread are cut by a Poisson process of rate 1/period: the
 * gaps between its points are exponentially distributed with mean `period`.  A block
 * is sampled when a point falls inside its bytes.  The process has no memory, so a
 * block of s bytes is sampled with probability 1 - e^(-s/period) whatever came before,
 * independently of every other block, and after a sampled block the next gap may start
 * afresh at its end.  A sampled block then stands for 1 / (1 - e^(-s/period)) blocks
 * and s times that many bytes: each estimate is unbiased (its expectation is the
 * block's true count and size), and so is any sum of them.  The shim draws the gaps
 * (trace.c); the collector weighs the sampled blocks (collector.c); the tests check
 * both as the functions they are.
 */
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The largest period HEAPSNAP_SAMPLE accepts: 1 TiB. */
#define SAMPLE_PERIOD_MAX (1ull << 40)

/* splitmix64: the next 64 random bits of *state. */
static inline uint64_t sample_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The natural logarithm of u in [2^-53, 1], without libm, which the shim would
 * otherwise load into every traced process for this one function: u = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), and ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172, whose
 * series has converged to within 1e-19 at t^23. */
static inline double sample_ln(double u)
{
	uint64_t bits;
	memcpy(&bits, &u, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((1ull << 52) - 1)) | (1023ull << 52);
	double m;
	memcpy(&m, &bits, sizeof(m));
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double t = (m - 1) / (m + 1), t2 = t * t, sum = 0;
	for (int k = 23; k >= 1; k -= 2)
		sum = sum * t2 + 1.0 / k;
	return e * 0.6931471805599453 + 2 * t * sum;
}

/* The bytes up to and including the next point, an exponentially distributed gap of
 * mean `period` rounded up: a block of s bytes holds the point exactly when s is at
 * least that many (rounding down would sample the smallest blocks twice too often). */
static inline int64_t sample_gap(uint64_t *state, uint64_t period)
{
	/* u in (0, 1]: -ln(u) is exponential with mean 1. */
	double u = (double)((sample_random(state) >> 11) + 1) * 0x1p-53;
	double gap = -sample_ln(u) * (double)period;
	if (gap > 0x1p62)
		return INT64_MAX / 2;
	int64_t up = (int64_t)gap; /* rounded up, without libm's ceil */
	up += (double)up < gap;
	return up < 1 ? 1 : up;
}

/* Counts size bytes against *left, the bytes to the next point.  Returns 1 when a
 * point falls in the block (it is sampled; *left is a fresh gap past its end), else 0. */
static inline int sample_block(int64_t *left, uint64_t *state, uint64_t period, uint64_t size)
{
	if (size < (uint64_t)*left) {
		*left -= (int64_t)size;
		return 0;
	}
	*left = sample_gap(state, period);
	return 1;
}

/* How many blocks a sampled block of size bytes stands for: 1 / (1 - e^(-size/period)). */
static inline double sample_weight(uint64_t size, uint64_t period)
{
	if (!period)
		return 1;
	double p = -expm1(-(double)size / (double)period);
	return p > 0 ? 1 / p : 1; /* size 0: never sampled (sample_block) */
}
