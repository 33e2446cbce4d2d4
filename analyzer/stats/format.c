/* format.c - text and JSON rendering of statistics and profile headers.
 *
 * Strings from the profile or the command line are escaped in text (control bytes,
 * C1 controls and bytes that are not UTF-8 as \n, \t, \r or \xNN) and JSON-quoted in
 * JSON, so a program's argv or paths cannot drive the terminal.
 * Sizes follow CPython's tracemalloc._format_size exactly (printf rounding on the
 * binary value, unit steps of 1024, TiB as the last unit).  Every printer takes the
 * computed struct and a FILE; colours are plain ANSI sequences, used only when the
 * caller asks (the CLI decides from --color and isatty).
 */
#include "format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cxxname.h"
#include "profile_meta.h"

/* Domains other than the one shown, named under the total. */
#define OTHER_DOMAINS_SHOWN 8

#define ANSI_RED "\033[31m"
#define ANSI_GREEN "\033[32m"
#define ANSI_BOLD "\033[1m"
#define ANSI_BOLD_RED "\033[1;31m"
#define ANSI_RESET "\033[0m"

const char *format_size_f(char buf[FORMAT_SIZE_MAX], double size, bool sign)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	for (size_t i = 0;; i++) {
		double mag = size < 0 ? -size : size;
		if (i > 0 && mag < 100) {
			snprintf(buf, FORMAT_SIZE_MAX, sign ? "%+.1f %s" : "%.1f %s", size, units[i]);
			return buf;
		}
		if (mag < 10 * 1024 || i == 4) {
			snprintf(buf, FORMAT_SIZE_MAX, sign ? "%+.0f %s" : "%.0f %s", size, units[i]);
			return buf;
		}
		size /= 1024;
	}
}

const char *format_size(char buf[FORMAT_SIZE_MAX], int64_t size, bool sign)
{
	return format_size_f(buf, (double)size, sign);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* True when byte c at s needs escaping in text: a C0 control or DEL, a C1 control
 * (U+0080..U+009F, which some terminals obey), or a byte that is not valid UTF-8.
 * Sets *n to the length of the sequence at s. */
static bool text_needs_escape(const unsigned char *s, size_t *n)
{
	unsigned char c = s[0];
	*n = 1;
	if (c < 0x20 || c == 0x7f)
		return true;
	if (c < 0x80)
		return false;
	if (!(*n = utf8_len(s))) {
		*n = 1;
		return true;
	}
	return c == 0xc2 && s[1] < 0xa0;
}

void format_text_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;
	while (*s) {
		if (!text_needs_escape(s, &n)) {
			fwrite(s, 1, n, out);
			s += n;
			continue;
		}
		for (size_t i = 0; i < n; i++, s++) {
			if (*s == '\n' || *s == '\t' || *s == '\r')
				fprintf(out, "\\%c", *s == '\n' ? 'n' : *s == '\t' ? 't' : 'r');
			else
				fprintf(out, "\\x%02x", *s);
		}
	}
}

void format_json_string(FILE *out, const char *str)
{
	if (!str) {
		fputs("null", out);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	putc('"', out);
	while (*s) {
		unsigned char c = *s;
		size_t n;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			s++;
		} else if (c >= 0x20 && c < 0x7f) {
			putc(c, out);
			s++;
		} else if (c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f') {
			putc('\\', out);
			putc(c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : c == '\b' ? 'b' : 'f',
			     out);
			s++;
		} else if (c >= 0x80 && (n = utf8_len(s))) {
			fwrite(s, 1, n, out);
			s += n;
		} else {
			fprintf(out, "\\u%04x", c);
			s++;
		}
	}
	putc('"', out);
}

/* format_frame(), with the function's short name (cxxname_short()) unless full. */
static void print_frame(FILE *out, const stats_frame_t *f, bool with_line, bool full)
{
	if (f->empty) {
		fputs("[no frames]", out);
		return;
	}
	char *sh = f->function && !full ? cxxname_short(f->function) : NULL;
	if (f->function)
		format_text_string(out, sh ? sh : f->function);
	else
		fprintf(out, "0x%" PRIx64, f->address);
	if (f->file) {
		fputs(" at ", out);
		format_text_string(out, f->file);
		if (with_line)
			fprintf(out, ":%" PRId64, f->line);
	}
	if (f->module) {
		fputs(" (", out);
		format_text_string(out, f->module);
		fputc(')', out);
	}
	free(sh);
}

void format_frame(FILE *out, const stats_frame_t *f, bool with_line)
{
	print_frame(out, f, with_line, true);
}

void format_site(FILE *out, enum stats_key key, const stats_frame_t *site)
{
	if (key == STATS_KEY_FUNCTION && site->function)
		format_frame(out, site, false);
	else if (site->file && key == STATS_KEY_FILENAME)
		format_text_string(out, site->file);
	else if (site->file) {
		format_text_string(out, site->file);
		fprintf(out, ":%" PRId64, site->line);
	} else
		format_frame(out, site, false);
}

static void print_diff_size(FILE *out, int64_t diff, bool color)
{
	char b[FORMAT_SIZE_MAX];
	const char *c = !color || !diff ? NULL : diff > 0 ? ANSI_RED : ANSI_GREEN;
	fprintf(out, "%s%s%s", c ? c : "", format_size(b, diff, true), c ? ANSI_RESET : "");
}

/* "size=..., count=..." (with diffs for a comparison). */
static void print_size_count(FILE *out, const stats_t *s, int64_t size, int64_t count,
			     int64_t size_diff, int64_t count_diff, bool color)
{
	char b[FORMAT_SIZE_MAX];
	fprintf(out, "size=%s", format_size(b, size, false));
	if (s->is_diff) {
		fputs(" (", out);
		print_diff_size(out, size_diff, color);
		fputc(')', out);
	}
	fprintf(out, ", count=%" PRId64, count);
	if (s->is_diff)
		fprintf(out, " (%+" PRId64 ")", count_diff);
}

void format_statistic(FILE *out, const stats_t *s, const stats_entry_t *e, bool color)
{
	char b[FORMAT_SIZE_MAX];
	format_site(out, s->key, &e->site);
	fputs(": ", out);
	print_size_count(out, s, e->size, e->count, e->size_diff, e->count_diff, color);
	if (e->count)
		fprintf(out, ", average=%s", format_size_f(b, (double)e->size / e->count, false));
}

/* print_size_count() of a sum of entries, and the line's end. */
static void print_sum(FILE *out, const stats_t *s, int64_t size, int64_t count,
		      int64_t size_diff, int64_t count_diff, bool color)
{
	print_size_count(out, s, size, count, size_diff, count_diff, color);
	fputc('\n', out);
}

static bool is_merge(const stats_t *s, const format_opts_t *o)
{
	return s->is_diff ? o->old_files.n > 1 || o->new_files.n > 1 : o->files.n > 1;
}

/* One side of a title: 'FILE', or "N files (M processes)" for a merge. */
static void print_side(FILE *out, const char *file, const format_files_t *f)
{
	if (f->n > 1)
		fprintf(out, "%zu files (%zu process%s)", f->n, f->nprocesses,
			f->nprocesses == 1 ? "" : "es");
	else {
		fputc('\'', out);
		format_text_string(out, file);
		fputc('\'', out);
	}
}

static void print_text(FILE *out, const stats_t *s, const format_opts_t *o)
{
	bool c = o->color;
	fputs(c ? ANSI_BOLD : "", out);
	if (o->limit)
		fprintf(out, "Top %zu ", o->limit);
	else
		fputs("All ", out);
	if (s->is_diff) {
		fputs("differences from ", out);
		print_side(out, o->old_file, &o->old_files);
		fputs(" to ", out);
		print_side(out, o->new_file, &o->new_files);
	} else {
		fputs("statistics of ", out);
		print_side(out, o->file, &o->files);
	}
	fprintf(out, " by %s%s, metric %s", stats_key_name(s->key),
		s->cumulative ? " (cumulative)" : "", stats_metric_name(s->metric));
	if (o->domain)
		fprintf(out, ", domain %s", o->domain);
	fprintf(out, "%s\n", c ? ANSI_RESET : "");
	if (is_merge(s, o) && s->metric == STATS_METRIC_PEAK)
		fputs("Peaks are each file's own peak added up: an upper bound of the peak of the "
		      "processes together\n", out);
	int64_t period = o->files.sampling_period;
	if (o->old_files.sampling_period > period)
		period = o->old_files.sampling_period;
	if (o->new_files.sampling_period > period)
		period = o->new_files.sampling_period;
	if (period > 0) {
		char b[FORMAT_SIZE_MAX];
		fprintf(out, "Estimates: sampled, one sample per %s allocated on average\n",
			format_size(b, period, false));
	}

	size_t n = o->limit && o->limit < s->nentries ? o->limit : s->nentries;
	for (size_t i = 0; i < n; i++) {
		const stats_entry_t *e = &s->entries[i];
		fprintf(out, "#%zu: ", i + 1);
		format_statistic(out, s, e, c);
		if (o->max && s->has_max_size) {
			char b[FORMAT_SIZE_MAX];
			fprintf(out, ", max=%s", format_size(b, e->max_size, false));
		}
		fputc('\n', out);
		for (uint32_t f = 0; f < e->nframes; f++) {
			fputs("    ", out);
			print_frame(out, stats_entry_frame(e, f), true, o->full_names);
			fputc('\n', out);
		}
		if (e->nframes && e->truncated)
			fputs("    [truncated: the stack had more frames than were kept; "
			      "heapsnap run --frames N keeps more]\n", out);
	}
	stats_entry_t rest;
	size_t nrest = stats_rest(s, o->limit, &rest);
	if (nrest) {
		fprintf(out, "%zu other: ", nrest);
		print_sum(out, s, rest.size, rest.count, rest.size_diff, rest.count_diff, c);
	}
	fputs("Total: ", out);
	print_sum(out, s, s->total_size, s->total_count, s->total_size_diff,
		  s->total_count_diff, c);
	/* The largest first (stats_other_domains()), a few: a file can hold 65,536. */
	size_t shown = o->nothers < OTHER_DOMAINS_SHOWN ? o->nothers : OTHER_DOMAINS_SHOWN;
	for (size_t i = 0; i < shown; i++) {
		const stats_domain_sum_t *d = &o->others[i];
		char nb[24];
		fprintf(out, "%s%s ", i ? "; " : "Other domains: ", stats_domain_name(d->domain, nb));
		print_size_count(out, s, d->size, d->count, d->size_diff, d->count_diff, c);
	}
	if (o->nothers > shown)
		fprintf(out, "; and %zu more", o->nothers - shown);
	if (shown)
		fputs(" (see --domain)\n", out);
}

void print_top_text(FILE *out, const stats_t *s, const format_opts_t *o)
{
	print_text(out, s, o);
}

void print_diff_text(FILE *out, const stats_t *s, const format_opts_t *o)
{
	print_text(out, s, o);
}

static void json_frame_fields(FILE *out, const stats_frame_t *f)
{
	fputs("\"file\":", out);
	format_json_string(out, f->file);
	fprintf(out, ",\"line\":%" PRId64 ",\"function\":", f->line);
	format_json_string(out, f->function);
	char *sh = f->function ? cxxname_short(f->function) : NULL;
	if (sh && strcmp(sh, f->function)) {
		fputs(",\"short_function\":", out);
		format_json_string(out, sh);
	}
	free(sh);
	fputs(",\"module\":", out);
	format_json_string(out, f->module);
	if (!f->function && !f->file && !f->empty)
		fprintf(out, ",\"address\":\"0x%" PRIx64 "\"", f->address);
}

static void json_sum(FILE *out, const stats_t *s, int64_t size, int64_t count,
		     int64_t size_diff, int64_t count_diff)
{
	fprintf(out, "\"size\":%" PRId64 ",\"count\":%" PRId64, size, count);
	if (s->is_diff)
		fprintf(out, ",\"size_diff\":%" PRId64 ",\"count_diff\":%" PRId64, size_diff,
			count_diff);
}

/* Prints "name":[paths...],"name_processes":M (the prefix "" gives "files"). */
static void json_files(FILE *out, const char *prefix, const format_files_t *f)
{
	fprintf(out, "\"%sfiles\":[", prefix);
	for (size_t i = 0; i < f->n; i++) {
		if (i)
			fputc(',', out);
		format_json_string(out, f->paths[i]);
	}
	fprintf(out, "],\"%sprocesses\":%zu", prefix, f->nprocesses);
}

/* The opening members of a merge's object, up to "key". */
static void json_merge_head(FILE *out, const stats_t *s, const format_opts_t *o)
{
	fputc('{', out);
	if (s->is_diff) {
		json_files(out, "old_", &o->old_files);
		fputc(',', out);
		json_files(out, "new_", &o->new_files);
	} else {
		json_files(out, "", &o->files);
	}
	if (s->metric == STATS_METRIC_PEAK)
		fputs(",\"peak_is_sum\":true", out);
}

static void print_json(FILE *out, const stats_t *s, const format_opts_t *o)
{
	if (is_merge(s, o)) {
		json_merge_head(out, s, o);
	} else if (s->is_diff) {
		fputs("{\"old\":", out);
		format_json_string(out, o->old_file);
		fputs(",\"new\":", out);
		format_json_string(out, o->new_file);
	} else {
		fputs("{\"file\":", out);
		format_json_string(out, o->file);
	}
	fprintf(out, ",\"key\":\"%s\",\"metric\":\"%s\",\"cumulative\":%s,\"stats\":[",
		stats_key_name(s->key), stats_metric_name(s->metric),
		s->cumulative ? "true" : "false");
	size_t n = o->limit && o->limit < s->nentries ? o->limit : s->nentries;
	for (size_t i = 0; i < n; i++) {
		const stats_entry_t *e = &s->entries[i];
		fputs(i ? ",\n{" : "\n{", out);
		json_frame_fields(out, &e->site);
		fputc(',', out);
		json_sum(out, s, e->size, e->count, e->size_diff, e->count_diff);
		if (s->has_max_size)
			fprintf(out, ",\"max_size\":%" PRId64, e->max_size);
		if (s->key == STATS_KEY_TRACEBACK) {
			fprintf(out, ",\"truncated\":%s,\"frames\":[", e->truncated ? "true" : "false");
			for (uint32_t f = 0; f < e->nframes; f++) {
				fputs(f ? ",{" : "{", out);
				json_frame_fields(out, stats_entry_frame(e, f));
				fputc('}', out);
			}
			fputc(']', out);
		}
		fputc('}', out);
	}
	stats_entry_t rest;
	size_t nrest = stats_rest(s, o->limit, &rest);
	fprintf(out, "%s],\n\"other\":{\"entries\":%zu,", n ? "\n" : "", nrest);
	json_sum(out, s, rest.size, rest.count, rest.size_diff, rest.count_diff);
	fputs("},\n\"total\":{", out);
	json_sum(out, s, s->total_size, s->total_count, s->total_size_diff, s->total_count_diff);
	fputc('}', out);
	if (o->domain) {
		fputs(",\n\"domain\":", out);
		format_json_string(out, o->domain);
	}
	if (o->nothers) {
		fputs(",\n\"other_domains\":", out);
		format_json_domains(out, o->others, o->nothers, s->is_diff);
	}
	fputs("}\n", out);
}

void format_json_domains(FILE *out, const stats_domain_sum_t *d, size_t n, bool diff)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		char nb[24];
		fputs(i ? ",{\"domain\":" : "{\"domain\":", out);
		format_json_string(out, stats_domain_name(d[i].domain, nb));
		fprintf(out, ",\"size\":%" PRId64 ",\"count\":%" PRId64, d[i].size, d[i].count);
		if (diff)
			fprintf(out, ",\"size_diff\":%" PRId64 ",\"count_diff\":%" PRId64,
				d[i].size_diff, d[i].count_diff);
		fputc('}', out);
	}
	fputc(']', out);
}

void print_top_json(FILE *out, const stats_t *s, const format_opts_t *o)
{
	print_json(out, s, o);
}

void print_diff_json(FILE *out, const stats_t *s, const format_opts_t *o)
{
	print_json(out, s, o);
}

#define MAX_WARNINGS 4

/* Fills texts with a sentence per non-zero loss count of p; returns how many. */
static size_t info_warnings(const profile_t *p, char texts[MAX_WARNINGS][160])
{
	const struct {
		int64_t n;
		const char *what;
	} w[MAX_WARNINGS] = {
		{ p->meta.lost_events, "events were lost (not recorded): totals are incomplete" },
		{ p->meta.untracked_events,
		  "allocations passed through untraced: totals are incomplete" },
		{ p->meta.corrupt_records, "corrupt records were rejected by the collector" },
		{ p->meta.dropped_stacks,
		  "events were dropped because their stack did not fit the stack table" },
	};
	size_t n = 0;
	for (size_t i = 0; i < MAX_WARNINGS; i++)
		if (w[i].n > 0)
			snprintf(texts[n++], sizeof(texts[0]), "%" PRId64 " %s", w[i].n, w[i].what);
	return n;
}

void format_time(char *buf, size_t n, int64_t nanos)
{
	time_t t = (time_t)(nanos / 1000000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(buf, n, "%" PRId64 " ns", nanos);
		return;
	}
	size_t len = strlen(buf);
	snprintf(buf + len, n - len, ".%03d UTC", (int)(nanos % 1000000000 / 1000000));
}

/* The header fact shown in info row `row`, or NULL past the last. */
static const struct meta_key *info_row(int row)
{
	for (size_t i = 0; i < META_NKEYS; i++)
		if (meta_keys[i].row == row)
			return &meta_keys[i];
	return NULL;
}

/* Prints fact k of m as one "label value" line, or nothing when m does not have it. */
static void info_fact_text(FILE *out, const profile_meta_t *m, const struct meta_key *k)
{
	char b[FORMAT_SIZE_MAX], tb[64];
	if (k->show == SHOW_STR) {
		if (meta_get_str(m, k)) {
			fprintf(out, "%-17s ", k->label);
			format_text_string(out, meta_get_str(m, k));
			fputc('\n', out);
		}
		return;
	}
	int64_t v = meta_get_num(m, k);
	if (v < 0)
		return;
	switch (k->show) {
	case SHOW_BYTES:
		fprintf(out, "%-17s %s (%" PRId64 " B)\n", k->label, format_size(b, v, false), v);
		break;
	case SHOW_TIME:
		format_time(tb, sizeof(tb), v);
		fprintf(out, "%-17s %s\n", k->label, tb);
		break;
	case SHOW_SECONDS:
		fprintf(out, "%-17s %.3f s\n", k->label, v / 1e9);
		break;
	case SHOW_OFF:
		if (v == 1)
			fprintf(out, "%-17s off at this snapshot (heapsnap stop, or --off before "
				"heapsnap start): it counts nothing\n", k->label);
		break;
	case SHOW_PERIOD:
		if (v == 0)
			fprintf(out, "%-17s 0 (every allocation is traced)\n", k->label);
		else
			fprintf(out, "%-17s %" PRId64 " B (%s): sizes and counts are estimates from "
				"Poisson sampling by bytes\n", k->label, v, format_size(b, v, false));
		break;
	default:
		fprintf(out, "%-17s %" PRId64 "\n", k->label, v);
	}
}

/* Prints fact k of m as one ',"name":value' member, or nothing when m does not
 * have it. */
static void info_fact_json(FILE *out, const profile_meta_t *m, const struct meta_key *k)
{
	const char *name = k->key + strlen("heapsnap.");
	if (k->show == SHOW_STR) {
		if (meta_get_str(m, k)) {
			fprintf(out, ",\"%s\":", name);
			format_json_string(out, meta_get_str(m, k));
		}
	} else if (meta_get_num(m, k) >= 0) {
		fprintf(out, ",\"%s\":%" PRId64, name, meta_get_num(m, k));
	}
}

#define SPARK_COLUMNS 48

/* The timeline as one line: a sparkline of the highest total per column, the range,
 * the span, and when the peak was. */
static void info_timeline_text(FILE *out, const profile_timeline_t *t)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					    "\u2585", "\u2586", "\u2587", "\u2588" };
	if (!t->n)
		return;
	uint32_t cols = t->n < SPARK_COLUMNS ? t->n : SPARK_COLUMNS;
	int64_t top = 0, low = INT64_MAX, col[SPARK_COLUMNS];
	for (uint32_t c = 0; c < cols; c++) {
		col[c] = 0;
		for (uint32_t i = (uint32_t)((uint64_t)c * t->n / cols);
		     i < (uint32_t)((uint64_t)(c + 1) * t->n / cols); i++)
			if (t->max_bytes[i] > col[c])
				col[c] = t->max_bytes[i];
		if (col[c] > top)
			top = col[c];
	}
	for (uint32_t i = 0; i < t->n; i++)
		if (t->min_bytes[i] < low)
			low = t->min_bytes[i];
	fprintf(out, "%-17s ", "timeline:");
	for (uint32_t c = 0; c < cols; c++)
		fputs(bars[top > 0 ? (int)((col[c] * 7 + top / 2) / top) : 0], out);
	char lo[FORMAT_SIZE_MAX], hi[FORMAT_SIZE_MAX];
	fprintf(out, " %s to %s over %.3g s", format_size(lo, low, false),
		format_size(hi, top, false), (double)t->n * (double)t->interval_nanos * 1e-9);
	if (t->peak_nanos >= 0)
		fprintf(out, "; peak at %.3g s", (double)t->peak_nanos * 1e-9);
	if (t->nsnaps)
		fprintf(out, "; %" PRIu32 " snapshot request%s", t->nsnaps, t->nsnaps == 1 ? "" : "s");
	fputc('\n', out);
}

static void json_int64s(FILE *out, const char *name, const int64_t *v, uint32_t n)
{
	fprintf(out, ",\"%s\":[", name);
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", v[i]);
	fputc(']', out);
}

static void info_timeline_json(FILE *out, const profile_timeline_t *t)
{
	if (!t->n)
		return;
	fprintf(out, ",\"timeline\":{\"interval_nanos\":%" PRId64 ",\"peak_nanos\":%" PRId64,
		t->interval_nanos, t->peak_nanos);
	json_int64s(out, "min_bytes", t->min_bytes, t->n);
	json_int64s(out, "max_bytes", t->max_bytes, t->n);
	json_int64s(out, "snap_nanos", t->snap_nanos, t->nsnaps);
	fputc('}', out);
}

void print_info_text(FILE *out, const profile_t *p, const format_opts_t *o)
{
	char b[FORMAT_SIZE_MAX];
	fprintf(out, "%-17s ", "file:");
	format_text_string(out, o->file);
	fputc('\n', out);
	const struct meta_key *k;
	for (int row = 0; (k = info_row(row)); row++)
		info_fact_text(out, &p->meta, k);

	fprintf(out, "%-17s", "sample types:");
	for (int v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			fprintf(out, " %s", profile_value_type(v));
	fputc('\n', out);
	fprintf(out, "%-17s %zu\n%-17s %" PRIu32 "\n%-17s %" PRIu32 "\n", "samples:",
		p->nsamples, "locations:", p->nlocations, "mappings:", p->nmappings);
	int64_t totals[PV_COUNT];
	stats_totals(p, totals);
	/* The totals add every domain up, where top shows the heap alone: said when the
	 * file has another. */
	bool domains = false;
	for (size_t i = 0; i < p->nsamples && !domains; i++)
		domains = p->samples[i].domain != 0;
	for (enum stats_metric mt = STATS_METRIC_INUSE; mt < STATS_METRIC_COUNT; mt++) {
		enum profile_value vs = stats_metric_space(mt), vo = stats_metric_objects(mt);
		if (!p->has_value[vs] && !p->has_value[vo])
			continue;
		char label[32];
		snprintf(label, sizeof(label), "total %s:", stats_metric_name(mt));
		fprintf(out, "%-17s size=%s, count=%" PRId64 "%s\n", label,
			format_size(b, totals[vs], false), totals[vo],
			domains ? " (every domain: heap, mmap...)" : "");
	}
	info_timeline_text(out, &p->timeline);
	for (uint32_t i = 0; i < p->ncomments; i++) {
		fprintf(out, "%-17s ", "comment:");
		format_text_string(out, p->comments[i]);
		fputc('\n', out);
	}

	char w[MAX_WARNINGS][160];
	size_t nw = info_warnings(p, w);
	for (size_t i = 0; i < nw; i++)
		fprintf(out, "%sWARNING: %s%s\n", o->color ? ANSI_BOLD_RED : "", w[i],
			o->color ? ANSI_RESET : "");
}

/* Prints ,"name":[s0,s1,...] with each string JSON-quoted. */
static void json_strings(FILE *out, const char *name, const char *const *s, size_t n)
{
	fprintf(out, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		format_json_string(out, s[i]);
	}
	fputc(']', out);
}

void print_info_json(FILE *out, const profile_t *p, const format_opts_t *o)
{
	fputs("{\"file\":", out);
	format_json_string(out, o->file);
	const struct meta_key *k;
	for (int row = 0; (k = info_row(row)); row++)
		info_fact_json(out, &p->meta, k);
	const char *types[PV_COUNT];
	size_t ntypes = 0;
	for (int v = 0; v < PV_COUNT; v++)
		if (p->has_value[v])
			types[ntypes++] = profile_value_type(v);
	json_strings(out, "sample_types", types, ntypes);
	fprintf(out, ",\"samples\":%zu,\"locations\":%" PRIu32 ",\"mappings\":%" PRIu32
		     ",\"totals\":{",
		p->nsamples, p->nlocations, p->nmappings);
	int64_t totals[PV_COUNT];
	stats_totals(p, totals);
	bool first = true;
	for (enum stats_metric mt = STATS_METRIC_INUSE; mt < STATS_METRIC_COUNT; mt++) {
		enum profile_value vs = stats_metric_space(mt), vo = stats_metric_objects(mt);
		if (!p->has_value[vs] && !p->has_value[vo])
			continue;
		fprintf(out, "%s\"%s\":{\"size\":%" PRId64 ",\"count\":%" PRId64 "}",
			first ? "" : ",", stats_metric_name(mt), totals[vs], totals[vo]);
		first = false;
	}
	fputc('}', out);
	info_timeline_json(out, &p->timeline);
	json_strings(out, "comments", p->comments, p->ncomments);
	char w[MAX_WARNINGS][160];
	const char *warnings[MAX_WARNINGS];
	size_t nw = info_warnings(p, w);
	for (size_t i = 0; i < nw; i++)
		warnings[i] = w[i];
	json_strings(out, "warnings", warnings, nw);
	fputs("}\n", out);
}

/* Writes s with ';' and control characters as '_'. */
static void put_folded(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s == ';' || (unsigned char)*s < 0x20 ? '_' : *s, out);
}

void format_flame_frame(FILE *out, const stats_frame_t *f)
{
	if (f->empty) {
		fputs("[no frames]", out);
		return;
	}
	if (f->function)
		put_folded(out, f->function);
	else if (f->file)
		fputs("?", out);
	else
		fprintf(out, "0x%" PRIx64, f->address);
	if (f->file) {
		fputs(" (", out);
		put_folded(out, f->file);
		fprintf(out, ":%" PRId64 ")", f->line);
	} else if (f->module) {
		fputs(" (", out);
		put_folded(out, f->module);
		fputc(')', out);
	}
}

int print_flame_folded(FILE *out, const flame_t *f, enum stats_metric m, bool blocks)
{
	int64_t *self = malloc((f->nnodes + 1) * sizeof(*self));
	uint32_t *path = malloc((f->nnodes + 1) * sizeof(*path));
	if (!self || !path) {
		free(self);
		free(path);
		return -ENOMEM;
	}
	flame_self(f, 0, flame_value(m, blocks), self);
	for (size_t n = 1; n < f->nnodes; n++) {
		if (!self[n])
			continue;
		size_t len = 0;
		for (uint32_t i = (uint32_t)n; i != 0; i = f->nodes[i].parent)
			path[len++] = i;
		while (len-- > 0) {
			uint32_t fr = f->nodes[path[len]].frame;
			if (fr == FLAME_NONE)
				fputs("other", out);
			else
				format_flame_frame(out, &f->frames[fr]);
			fputc(len ? ';' : ' ', out);
		}
		fprintf(out, "%" PRId64 "\n", self[n]);
	}
	free(self);
	free(path);
	return 0;
}
