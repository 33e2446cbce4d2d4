/* report_page.c - heapsnap report's page: the call trees and tables, then the HTML.
 *
 * The page is report/report.html with its three markers replaced: the style sheet, the
 * script (report_core.js, the logic, then report_ui.js, the DOM), and the data.  The
 * data is one JSON object in a <script type="application/json"> element; every '<' in
 * it is written as \u003c (JSON allows that escape only inside strings, and '<' occurs
 * nowhere else), so no string can close the element.  Its fields:
 *
 *   v          1, the data format
 *   diff       false, or true for OLD NEW
 *   files      the snapshot file names
 *   headers    per file, `heapsnap info --json`'s object
 *   other_domains  per file, what the domains the page does not show hold (live):
 *              [{"domain": "mmap"|"heap"|N, "size", "count"}...], [] for none
 *   metrics    the metrics every file has, of "inuse", "peak", "alloc", "temporary"
 *   frames     [name, file, line, module, flags] per frame: name is the function or the
 *              module offset "0x1a2b"; flags 1 runtime (a runtime module, a system
 *              header, or a --skip or --skip-file match), 2 no function, 4 no stack
 *   nodes      flat [parent, frame] per node, the root first as [-1, -1]; a parent comes
 *              before its children; frame -1 below the root is "other" (merged nodes)
 *   values     flat, per node and file: bytes, blocks of inuse, peak, alloc, temporary (totals
 *              including the node's descendants)
 *   limit      {"nodes": nodes before merging, "max": the node budget}
 *   tables     {metric: {"lineno"|"function"|"filename": top or diff --json's object}}
 *   timeline   memory over time, per file (one object, or [old, new] for a diff; null
 *              for a file without one) as {"t": [ns...], "bytes": [highest...],
 *              "min": [lowest...], "peak_t": ns or null, "snaps": [ns...]}
 */
#include "report_page.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "report_assets.h"

static const enum stats_key table_keys[3] = { STATS_KEY_LINENO, STATS_KEY_FUNCTION,
					       STATS_KEY_FILENAME };

static bool report_has_metric(const report_t *r, enum stats_metric m)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!r->profiles[i]->has_value[stats_metric_space(m)])
			return false;
	return true;
}

/* The options that charge as r's --skip and --skip-file say, in r's domain. */
static stats_options_t report_options(const report_t *r)
{
	return (stats_options_t){ .skip = r->skip, .nskip = r->nskip,
				  .skip_files = r->skip_files, .nskip_files = r->nskip_files,
				  .has_domain = r->has_domain, .domain = r->domain };
}

static int report_tables(report_t *r, enum stats_metric m)
{
	for (size_t k = 0; k < 3; k++) {
		stats_options_t opt = report_options(r);
		opt.key = table_keys[k];
		opt.metric = m;
		opt.sort_limit = REPORT_TABLE_ROWS;
		int e = r->nfiles == 2
				? stats_compare(r->profiles[0], r->profiles[1], &opt, &r->tables[m][k])
				: stats_group(r->profiles[0], &opt, &r->tables[m][k]);
		if (e)
			return e;
	}
	return 0;
}

int report_compute(report_t *r)
{
	r->flame = flame_new(r->nfiles);
	if (!r->flame)
		return -ENOMEM;
	bool any = false;
	for (enum stats_metric m = STATS_METRIC_INUSE; m < STATS_METRIC_COUNT; m++) {
		if (!report_has_metric(r, m))
			continue;
		any = true;
		stats_options_t opt = { .metric = m, .keep_runtime = true,
					.has_domain = r->has_domain, .domain = r->domain };
		for (size_t i = 0; i < r->nfiles; i++) {
			int e = flame_add(r->flame, r->profiles[i], i, &opt);
			if (e)
				return e;
		}
		int e = report_tables(r, m);
		if (e)
			return e;
	}
	if (!any)
		return -ENODATA;
	r->nodes_before_limit = r->flame->nnodes;
	return flame_limit(r->flame, r->max_nodes ? r->max_nodes : REPORT_MAX_NODES);
}

void report_free(report_t *r)
{
	flame_free(r->flame);
	r->flame = NULL;
	for (size_t m = 0; m < STATS_METRIC_COUNT; m++)
		for (size_t k = 0; k < 3; k++) {
			stats_free(r->tables[m][k]);
			r->tables[m][k] = NULL;
		}
}

/* One file's timeline object, or null. */
static void write_timeline(FILE *out, const profile_t *p)
{
	const profile_timeline_t *t = p ? &p->timeline : NULL;
	if (!t || !t->n) {
		fputs("null", out);
		return;
	}
	fputs("{\"t\":[", out);
	for (uint32_t i = 0; i < t->n; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", (int64_t)i * t->interval_nanos);
	fputs("],\"bytes\":[", out);
	for (uint32_t i = 0; i < t->n; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", t->max_bytes[i]);
	fputs("],\"min\":[", out);
	for (uint32_t i = 0; i < t->n; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", t->min_bytes[i]);
	if (t->peak_nanos >= 0)
		fprintf(out, "],\"peak_t\":%" PRId64 ",\"snaps\":[", t->peak_nanos);
	else
		fputs("],\"peak_t\":null,\"snaps\":[", out);
	for (uint32_t i = 0; i < t->nsnaps; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", t->snap_nanos[i]);
	fputs("]}", out);
}

/* The timeline field: one file's, or both sides' of a diff. */
static void write_timelines(FILE *out, const report_t *r)
{
	fputs(",\"timeline\":", out);
	if (!r->profiles[1]) {
		write_timeline(out, r->profiles[0]);
		return;
	}
	fputc('[', out);
	write_timeline(out, r->profiles[0]);
	fputc(',', out);
	write_timeline(out, r->profiles[1]);
	fputc(']', out);
}

/* The frames that kept nodes use, numbered in order of first use: map[frame]. */
static uint32_t *report_frame_map(const flame_t *f, uint32_t *nused)
{
	uint32_t *map = malloc(((size_t)f->nframes + 1) * sizeof(*map));
	if (!map)
		return NULL;
	memset(map, 0xff, ((size_t)f->nframes + 1) * sizeof(*map));
	uint32_t n = 0;
	for (size_t i = 1; i < f->nnodes; i++) {
		uint32_t fr = f->nodes[i].frame;
		if (fr != FLAME_NONE && map[fr] == FLAME_NONE)
			map[fr] = n++;
	}
	*nused = n;
	return map;
}

static void write_frames(FILE *out, const report_t *r, const uint32_t *map, uint32_t nused)
{
	const flame_t *f = r->flame;
	stats_options_t opt = report_options(r);
	const stats_frame_t **order = calloc(nused + 1, sizeof(*order));
	for (uint32_t i = 0; order && i < f->nframes; i++)
		if (map[i] != FLAME_NONE)
			order[map[i]] = &f->frames[i];
	fputs(",\"frames\":[", out);
	for (uint32_t i = 0; order && i < nused; i++) {
		const stats_frame_t *fr = order[i];
		bool skipped = stats_frame_skipped(&opt, fr, stats_module_is_runtime(fr->module));
		int flags = (skipped ? 1 : 0) | (fr->function ? 0 : 2) |
			    (fr->empty ? 4 : 0);
		fputs(i ? ",[" : "[", out);
		if (fr->function || fr->empty)
			format_json_string(out, fr->empty ? "[no frames]" : fr->function);
		else
			fprintf(out, "\"0x%" PRIx64 "\"", fr->address);
		fputc(',', out);
		format_json_string(out, fr->file);
		fprintf(out, ",%" PRId64 ",", fr->line);
		format_json_string(out, fr->module);
		fprintf(out, ",%d]", flags);
	}
	fputc(']', out);
	free(order);
}

static void write_tree(FILE *out, const flame_t *f, const uint32_t *map)
{
	fputs(",\"nodes\":[-1,-1", out);
	for (size_t i = 1; i < f->nnodes; i++) {
		uint32_t fr = f->nodes[i].frame;
		fprintf(out, ",%" PRIu32 ",%" PRId64, f->nodes[i].parent,
			fr == FLAME_NONE ? (int64_t)-1 : (int64_t)map[fr]);
	}
	fputs("],\"values\":[", out);
	size_t nvals = f->nnodes * f->nsets * FLAME_NVALUES;
	for (size_t i = 0; i < nvals; i++)
		fprintf(out, i ? ",%" PRId64 : "%" PRId64, f->total[i]);
	fputc(']', out);
}

static void write_tables(FILE *out, const report_t *r)
{
	static const char *const key_names[3] = { "lineno", "function", "filename" };
	fputs(",\"tables\":{", out);
	bool first = true;
	for (enum stats_metric m = STATS_METRIC_INUSE; m < STATS_METRIC_COUNT; m++) {
		if (!r->tables[m][0])
			continue;
		fprintf(out, "%s\"%s\":{", first ? "" : ",", stats_metric_name(m));
		first = false;
		for (size_t k = 0; k < 3; k++) {
			format_opts_t o = { .file = r->files[0], .old_file = r->files[0],
					    .new_file = r->files[r->nfiles - 1],
					    .limit = REPORT_TABLE_ROWS };
			fprintf(out, "%s\"%s\":", k ? "," : "", key_names[k]);
			(r->nfiles == 2 ? print_diff_json : print_top_json)(out, r->tables[m][k], &o);
		}
		fputc('}', out);
	}
	fputc('}', out);
}

/* Writes the data object to out.  Returns 0 or -ENOMEM. */
static int write_data(FILE *out, const report_t *r)
{
	uint32_t nused = 0;
	uint32_t *map = report_frame_map(r->flame, &nused);
	if (!map)
		return -ENOMEM;
	fprintf(out, "{\"v\":1,\"diff\":%s,\"files\":[", r->nfiles == 2 ? "true" : "false");
	for (size_t i = 0; i < r->nfiles; i++) {
		fputs(i ? "," : "", out);
		format_json_string(out, r->files[i]);
	}
	fputs("],\"headers\":[", out);
	for (size_t i = 0; i < r->nfiles; i++) {
		format_opts_t o = { .file = r->files[i] };
		fputs(i ? "," : "", out);
		print_info_json(out, r->profiles[i], &o);
	}
	fputs("],\"other_domains\":[", out);
	for (size_t i = 0; i < r->nfiles; i++) {
		stats_options_t opt = { .metric = STATS_METRIC_INUSE, .has_domain = r->has_domain,
					.domain = r->domain };
		stats_domain_sum_t *d = NULL;
		size_t nd = 0;
		if (stats_other_domains(&r->profiles[i], 1, &opt, &d, &nd) < 0) {
			free(map);
			return -ENOMEM;
		}
		fputs(i ? "," : "", out);
		format_json_domains(out, d, nd, false);
		free(d);
	}
	fputs("],\"metrics\":[", out);
	bool first = true;
	for (enum stats_metric m = STATS_METRIC_INUSE; m < STATS_METRIC_COUNT; m++)
		if (r->tables[m][0]) {
			fprintf(out, "%s\"%s\"", first ? "" : ",", stats_metric_name(m));
			first = false;
		}
	fputc(']', out);
	write_frames(out, r, map, nused);
	write_tree(out, r->flame, map);
	fprintf(out, ",\"limit\":{\"nodes\":%zu,\"max\":%zu}", r->nodes_before_limit,
		r->max_nodes ? r->max_nodes : REPORT_MAX_NODES);
	write_tables(out, r);
	write_timelines(out, r);
	fputc('}', out);
	free(map);
	return 0;
}

/* Writes len bytes of s with every '<' as \u003c. */
static void write_script_safe(FILE *out, const char *s, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '<')
			continue;
		fwrite(s + start, 1, i - start, out);
		fputs("\\u003c", out);
		start = i + 1;
	}
	fwrite(s + start, 1, len - start, out);
}

/* Writes the template up to the marker at *pos (or to its end), then moves *pos past the
 * marker; returns false when the marker is missing. */
static bool write_until(FILE *out, const char *tpl, size_t *pos, const char *marker)
{
	const char *at = strstr(tpl + *pos, marker);
	size_t end = at ? (size_t)(at - tpl) : strlen(tpl);
	fwrite(tpl + *pos, 1, end - *pos, out);
	*pos = at ? end + strlen(marker) : end;
	return at != NULL;
}

int report_write(FILE *out, const report_t *r)
{
	char *data = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&data, &len);
	if (!mem)
		return -ENOMEM;
	int e = write_data(mem, r);
	if (fclose(mem) || e) {
		free(data);
		return -ENOMEM;
	}
	const char *tpl = (const char *)report_asset_html;
	size_t pos = 0;
	bool ok = write_until(out, tpl, &pos, "@REPORT_CSS@");
	fwrite(report_asset_css, 1, report_asset_css_len, out);
	ok = ok && write_until(out, tpl, &pos, "@REPORT_DATA@");
	write_script_safe(out, data, len);
	ok = ok && write_until(out, tpl, &pos, "@REPORT_JS@");
	fwrite(report_asset_core_js, 1, report_asset_core_js_len, out);
	fwrite(report_asset_ui_js, 1, report_asset_ui_js_len, out);
	write_until(out, tpl, &pos, "\1"); /* the rest */
	free(data);
	if (!ok)
		return -EINVAL;
	/* The write's own error (EFBIG, ENOSPC) rather than a generic one. */
	errno = 0;
	return fflush(out) || ferror(out) ? (errno ? -errno : -EIO) : 0;
}
