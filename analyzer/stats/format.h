/* format.h - rendering statistics and profile headers as text or JSON.
 *
 * Nothing here computes: stats.h fills the structs, these functions print them.  Text
 * follows Python's tracemalloc (format_size, Statistic and StatisticDiff lines,
 * display_top); JSON is one object per command with exact byte counts.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flame.h"
#include "profile.h"
#include "stats.h"

/* Enough for any format_size() result. */
#define FORMAT_SIZE_MAX 48

/* tracemalloc's _format_size(): writes "4096 B", "12.3 KiB", "-512 KiB", "+0 B" (with
 * sign) into buf and returns buf.  format_size_f() takes a fractional size (averages). */
const char *format_size(char buf[FORMAT_SIZE_MAX], int64_t size, bool sign);
const char *format_size_f(char buf[FORMAT_SIZE_MAX], double size, bool sign);

/* Writes s as a JSON string literal, or null when s is NULL.  Quotes, backslashes and
 * control characters are escaped; bytes that are not valid UTF-8 become \u00XX (the
 * byte's value), so file names that are not UTF-8 survive. */
void format_json_string(FILE *out, const char *s);

/* Writes what other domains hold as a JSON array of {"domain", "size", "count"}, with
 * "size_diff" and "count_diff" for a comparison. */
void format_json_domains(FILE *out, const stats_domain_sum_t *d, size_t n, bool diff);

/* Writes s for text output: newline, tab and carriage return as \n, \t and \r, other
 * control bytes (C0, DEL, and the C1 controls U+0080..U+009F) and bytes that are not
 * valid UTF-8 as \xNN; everything else, backslashes included, as it is. */
void format_text_string(FILE *out, const char *s);

/* One frame: "function at file:line (module)"; without with_line "function at file
 * (module)".  Unknown parts are left out: "function (module)", and with no function the
 * module offset "0x1a2b (module)".  A sample without frames prints "[no frames]". */
void format_frame(FILE *out, const stats_frame_t *f, bool with_line);

/* The label of a group: lineno and traceback "file:line", filename "file", function
 * "function at file (module)"; a frame without a file falls back to format_frame(). */
void format_site(FILE *out, enum stats_key key, const stats_frame_t *site);

/* tracemalloc's Statistic (or StatisticDiff when s->is_diff) line without the "#N: "
 * prefix and newline: "file:line: size=1024 B (+512 B), count=2 (+1), average=512 B".
 * With color, size differences are red when growing and green when shrinking. */
void format_statistic(FILE *out, const stats_t *s, const stats_entry_t *e, bool color);

/* The files of a merge (stats_merge()): their paths and how many processes they
 * came from. */
typedef struct format_files {
	const char *const *paths;
	size_t n;
	size_t nprocesses;
	int64_t sampling_period; /* the files' largest; > 0: their numbers are estimates */
} format_files_t;

typedef struct format_opts {
	const char *file;     /* top and info: the snapshot file name */
	const char *old_file; /* diff */
	const char *new_file; /* diff */
	/* A merge when files.n (top), or old_files.n or new_files.n (diff), is over 1;
	 * then these name the files instead of file, old_file and new_file. */
	format_files_t files, old_files, new_files;
	size_t limit;         /* entries to list; 0 lists all */
	bool full_names;      /* traceback frames: whole function names, not short ones */
	bool color;           /* ANSI colours */
	/* top: the domain shown, when not the heap ("mmap", "7", "all"), named in the title;
	 * and what the other domains hold, said on a last line so that nothing is unseen. */
	const char *domain;
	const stats_domain_sum_t *others;
	size_t nothers;
	bool max;             /* text: each listed entry ends with ", max=SIZE" (its largest
			       * block) when s->has_max_size */
} format_opts_t;

/* display_top: a title line, "#1: ..." per listed entry (for tracebacks followed by the
 * stack, one indented frame per line, and a note when it was cut), "N other: ..." when
 * entries were left out, and "Total: ...".  A traceback's frames name functions by
 * their short names (cxxname_short(): "std::vector<…>::push_back") unless
 * o->full_names. */
void print_top_text(FILE *out, const stats_t *s, const format_opts_t *o);
void print_diff_text(FILE *out, const stats_t *s, const format_opts_t *o);

/* A merge's title names "N files (M processes)" instead of a file, and with the peak
 * metric a second line says that the peaks are per-file peaks added up.  When a file
 * was sampled (files.sampling_period, or old_files' or new_files'), a line says that
 * the numbers are estimates, and at what period. */
/* One JSON object: {"file" (top) or "old" and "new" (diff), "key", "metric",
 * "cumulative", "stats": [{"file", "line", "function", ["short_function"], "module",
 * ["address"], "size", "count", ["size_diff", "count_diff"], ["truncated", "frames":
 * [{"file", "line", "function", ["short_function"], "module", ["address"]}]]}],
 * "other": {"entries", "size", "count", [diffs]},
 * "total": {"size", "count", [diffs]}}, then a newline.  A merge has "files" and
 * "processes" (top), or "old_files", "old_processes", "new_files" and "new_processes"
 * (diff), instead of "file" or "old" and "new", and "peak_is_sum": true with the peak
 * metric.  "function" is the whole demangled name; "short_function", its
 * cxxname_short(), is there only when that differs (C++ names with a return type,
 * parameters or template arguments). */
void print_top_json(FILE *out, const stats_t *s, const format_opts_t *o);
void print_diff_json(FILE *out, const stats_t *s, const format_opts_t *o);

/* Writes a snapshot time (Unix nanoseconds) as "2023-11-14 22:13:20.123 UTC" into buf,
 * or as "N ns" when it is out of range. */
void format_time(char *buf, size_t n, int64_t nanos);

/* The header of a profile: every known fact (numbers of -1 are left out), the sample
 * types present, the numbers of samples, locations and mappings, the totals per metric,
 * the comments, and one "WARNING: ..." line per non-zero count of lost, untracked,
 * corrupt or dropped events (red with color). */
void print_info_text(FILE *out, const profile_t *p, const format_opts_t *o);
/* The same as one JSON object; "warnings" lists the warning texts. */
void print_info_json(FILE *out, const profile_t *p, const format_opts_t *o);

/* A flame graph frame's name: "function (file:line)", "function (module)" without a
 * file, "0x1a2b (module)" with no function either, "[no frames]" for a sample without
 * a stack; ';' and control characters become '_', since folded lines use them. */
void format_flame_frame(FILE *out, const stats_frame_t *f);

/* Folded stacks, the input of flamegraph.pl, inferno and speedscope: one line
 * "outer;...;inner VALUE" per node with a non-zero share of its own, VALUE being the
 * bytes (or blocks) of metric m in set 0, in node order.  Returns 0, or -ENOMEM having
 * printed nothing. */
int print_flame_folded(FILE *out, const flame_t *f, enum stats_metric m, bool blocks);
