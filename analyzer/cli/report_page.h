/* report_page.h - heapsnap report's HTML page: what it shows, computed, then written.
 *
 * report_compute() reads nothing and prints nothing: from one profile (or a diff's two)
 * it builds the call tree of every metric with runtime frames kept (the page hides them
 * itself, with a toggle) and the top tables by line, function and file, as `heapsnap
 * top --json` (or `diff --json`) would print them.  report_write() renders the page:
 * the template, style and script embedded at build time (report/), with the data as one
 * JSON blob.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "flame.h"
#include "profile.h"
#include "stats.h"

/* Rows per table; the rest is summed into "other". */
#define REPORT_TABLE_ROWS 200
/* Call tree nodes sent to the page by default (flame_limit()). */
#define REPORT_MAX_NODES 60000

typedef struct report {
	const profile_t *profiles[2];
	const char *files[2];
	size_t nfiles;              /* 1, or 2 for a diff (old, new) */
	size_t max_nodes;
	/* --skip and --skip-file globs (stats_options_t): the tables skip them when
	 * charging, and the page's runtime toggle hides them with the runtime. */
	const char *const *skip, *const *skip_files;
	size_t nskip, nskip_files;
	bool has_domain;            /* --domain: the graph and tables show only this one */
	int64_t domain;
	flame_t *flame;             /* one set per file */
	size_t nodes_before_limit;
	stats_t *tables[STATS_METRIC_COUNT][3]; /* [metric][lineno, function, filename];
						       NULL when a file lacks the metric */
} report_t;

/* Fills r's results from its profiles, files, nfiles, max_nodes and skips.  Returns 0, -ENODATA
 * when no metric is present in every file, or -ENOMEM; report_free() releases the
 * results either way. */
int report_compute(report_t *r);
void report_free(report_t *r);

/* Writes the page.  Returns 0, or -ENOMEM / -EIO (out's error). */
int report_write(FILE *out, const report_t *r);
