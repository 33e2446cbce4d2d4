/* sizehist.h - a power-of-two histogram of block sizes over the samples of profiles.
 *
 * heaptrack_print -H's view: how many blocks of which sizes a program allocated, and
 * how many of them are live, with their bytes.  Each sample of a heapsnap snapshot
 * carries its blocks by size class (profile_sample_t.sizes); the histogram adds up
 * the classes of the samples that a top-style filter keeps.  sizehist_add() computes,
 * print_hist_text() and print_hist_json() render.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"
#include "stats.h"

typedef struct sizehist {
	profile_size_t cls[PROFILE_SIZE_CLASSES]; /* class i in cls[i] */
	profile_size_t total;                     /* cls unused */
	size_t samples;                           /* samples kept */
	size_t mappings;     /* of them, anonymous mappings: no size classes */
	int64_t mapped_bytes; /* their bytes in use */
} sizehist_t;

/* Adds the size classes of the samples of p that opt's filters and domain keep (as
 * stats_filter_samples()) to h, which starts zeroed.  Returns 0; -ENODATA when p has
 * no size classes (a file written before heapsnap kept them); -EOVERFLOW when a sum
 * would not fit an int64; or what stats_filter_samples() returns. */
int sizehist_add(sizehist_t *h, const profile_t *p, const stats_options_t *opt);

/* The smallest and largest size of class c. */
uint64_t sizehist_class_min(uint32_t c);
uint64_t sizehist_class_max(uint32_t c);

/* A title naming file, then one line per class from the first class with blocks to
 * the last: "[16 B, 32 B)", allocated blocks and bytes, live blocks and bytes; then
 * the totals.  Sizes as format_size(). */
void print_hist_text(FILE *out, const sizehist_t *h, const char *file);

/* One JSON object: {"file":...,"classes":[{"min":16,"max":31,"alloc_blocks":...,
 * "alloc_bytes":...,"inuse_blocks":...,"inuse_bytes":...},...],"total":{...}},
 * classes with blocks only. */
void print_hist_json(FILE *out, const sizehist_t *h, const char *file);
