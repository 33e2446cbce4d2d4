/* cmd_ls.c - heapsnap ls: one line per snapshot file, oldest first.
 *
 * help() / parse_argv() / run() like the other subcommands.  run() reads every file
 * (snapset.h) and fills one row per file, sorted by snapshot time, before either
 * printer formats the rows; a file that cannot be read is a row with its error, and
 * makes the exit status 1 once everything is listed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"
#include "commands.h"
#include "format.h"
#include "snapset.h"

/* parse_argv() results besides a negative errno (bad usage, already reported). */
enum { PARSE_RUN = 0, PARSE_HELP = 1 };

/* Commands longer than this are cut in the text listing (not in JSON). */
#define COMMAND_WIDTH 40

struct ls_args {
	const char **paths; /* points into argv; "." when none was given */
	size_t npaths;
	bool json;
};

/* One listed file: its profile or its error. */
struct ls_row {
	const char *path;
	const profile_t *p;
	const char *error;
	long pid; /* from the profile, else from the name, else -1 */
};

static void help(FILE *out)
{
	fputs("Usage: heapsnap ls [OPTIONS...] [DIR|FILE...]\n\n"
	      "List snapshots one a line, oldest first: pid, command, trigger, time, traced\n"
	      "peak and path.  A directory stands for every heapsnap.*.pb.gz file in it; the\n"
	      "default is the current directory.  A file that cannot be read is listed with\n"
	      "its error, and the exit status is then 1.\n\n"
	      "Options:\n"
	      "      --json              print one JSON object\n"
	      "  -h, --help              show this help\n\n"
	      "Example:\n"
	      "  heapsnap ls\n"
	      "  heapsnap ls --json snapshots/ heapsnap.1234.exit.pb.gz\n",
	      out);
}

static int parse_argv(int argc, char **argv, struct ls_args *a)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *here[] = { "." };
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return PARSE_HELP;
		}
		if (c == 'j') {
			a->json = true;
			continue;
		}
		char why[128];
		fprintf(stderr, "heapsnap: ls: %s; see 'heapsnap ls --help'\n",
			cliopt_error(c, argv, why, sizeof(why)));
		return -EINVAL;
	}
	a->paths = optind < argc ? (const char **)argv + optind : here;
	a->npaths = optind < argc ? (size_t)(argc - optind) : 1;
	return PARSE_RUN;
}

static int row_cmp(const void *pa, const void *pb)
{
	const struct ls_row *a = pa, *b = pb;
	if (!a->p != !b->p)
		return a->p ? -1 : 1;
	if (a->p && a->p->meta.time_nanos != b->p->meta.time_nanos)
		return a->p->meta.time_nanos < b->p->meta.time_nanos ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* One row per file of set, sorted by time (unreadable files last). */
static struct ls_row *ls_rows(const snapset_t *set)
{
	struct ls_row *rows = calloc(set->n + 1, sizeof(*rows));
	for (size_t i = 0; rows && i < set->n; i++) {
		const char *slash = strrchr(set->paths[i], '/');
		snapname_t name = { .pid = -1 };
		snapname_parse(slash ? slash + 1 : set->paths[i], &name);
		const profile_t *p = set->profiles[i];
		rows[i] = (struct ls_row){ .path = set->paths[i], .p = p, .error = set->errors[i],
					   .pid = p && p->meta.pid >= 0 ? p->meta.pid : name.pid };
	}
	if (rows)
		qsort(rows, set->n, sizeof(*rows), row_cmp);
	return rows;
}

/* The text of each column of a row, for widths and printing. */
struct ls_cells {
	char pid[24], command[COMMAND_WIDTH + 1], trigger[64], time[64], peak[FORMAT_SIZE_MAX];
};

/* text escaped as text output escapes it (a newline in an argument as \n), so that a
 * row stays one line, in out of size bytes: cut to size - 4 with "..." when longer;
 * "-" for none. */
static void escaped_cell(char *out, size_t size, const char *text)
{
	char *esc = NULL;
	size_t len = 0;
	FILE *f = text ? open_memstream(&esc, &len) : NULL;
	if (f) {
		format_text_string(f, text);
		fclose(f);
	}
	const char *t = esc ? esc : "-";
	if (strlen(t) >= size)
		snprintf(out, size, "%.*s...", (int)size - 4, t);
	else
		snprintf(out, size, "%s", t);
	free(esc);
}

static void ls_cells(const struct ls_row *r, struct ls_cells *c)
{
	const profile_meta_t *m = r->p ? &r->p->meta : NULL;
	snprintf(c->pid, sizeof(c->pid), r->pid >= 0 ? "%ld" : "-", r->pid);
	escaped_cell(c->command, sizeof(c->command), m ? m->command : NULL);
	escaped_cell(c->trigger, sizeof(c->trigger), m ? m->trigger : NULL);
	if (m && m->time_nanos >= 0)
		format_time(c->time, sizeof(c->time), m->time_nanos);
	else
		strcpy(c->time, "-");
	if (m && m->peak_bytes >= 0)
		format_size(c->peak, m->peak_bytes, false);
	else
		strcpy(c->peak, "-");
}

static int max_int(int a, size_t b)
{
	return (size_t)a > b ? a : (int)b;
}

static void print_ls_text(FILE *out, const struct ls_row *rows, size_t n)
{
	struct ls_cells c;
	int w[5] = { 3, 7, 7, 4, 4 }; /* the header words */
	for (size_t i = 0; i < n; i++) {
		ls_cells(&rows[i], &c);
		w[0] = max_int(w[0], strlen(c.pid));
		w[1] = max_int(w[1], strlen(c.command));
		w[2] = max_int(w[2], strlen(c.trigger));
		w[3] = max_int(w[3], strlen(c.time));
		w[4] = max_int(w[4], strlen(c.peak));
	}
	if (n)
		fprintf(out, "%*s  %-*s  %-*s  %-*s  %*s  %s\n", w[0], "PID", w[1], "COMMAND", w[2],
			"TRIGGER", w[3], "TIME", w[4], "PEAK", "PATH");
	for (size_t i = 0; i < n; i++) {
		ls_cells(&rows[i], &c);
		fprintf(out, "%*s  %-*s  %-*s  %-*s  %*s  ", w[0], c.pid, w[1], c.command, w[2],
			c.trigger, w[3], c.time, w[4], c.peak);
		/* Escaped as every other text output escapes it: a row stays one line. */
		format_text_string(out, rows[i].path);
		if (rows[i].error) {
			fputs(": ", out);
			format_text_string(out, rows[i].error);
		}
		fputc('\n', out);
	}
}

static void print_ls_json(FILE *out, const struct ls_row *rows, size_t n)
{
	fputs("{\"snapshots\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct ls_row *r = &rows[i];
		fputs(i ? ",\n{\"path\":" : "\n{\"path\":", out);
		format_json_string(out, r->path);
		if (r->pid >= 0)
			fprintf(out, ",\"pid\":%ld", r->pid);
		else
			fputs(",\"pid\":null", out);
		if (r->error) {
			fputs(",\"error\":", out);
			format_json_string(out, r->error);
		} else {
			fputs(",\"command\":", out);
			format_json_string(out, r->p->meta.command);
			fputs(",\"trigger\":", out);
			format_json_string(out, r->p->meta.trigger);
			fprintf(out, ",\"time_nanos\":%" PRId64 ",\"peak_bytes\":%" PRId64,
				r->p->meta.time_nanos, r->p->meta.peak_bytes);
		}
		fputc('}', out);
	}
	fputs(n ? "\n]}\n" : "]}\n", out);
}

/* Adds every path to set; a directory that cannot be listed is reported and counted
 * in *failed. */
static int ls_collect(const struct ls_args *a, snapset_t *set, int *failed)
{
	for (size_t i = 0; i < a->npaths; i++) {
		int r = snapset_add(set, a->paths[i], true);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			fprintf(stderr, "heapsnap: ls: cannot list '%s': %s\n", a->paths[i],
				strerror(-r));
			++*failed;
		}
	}
	int r = snapset_read(set);
	if (r < 0)
		return r;
	*failed += r;
	return 0;
}

static int run(const struct ls_args *a)
{
	snapset_t set = { 0 };
	int failed = 0;
	struct ls_row *rows = NULL;
	int r = ls_collect(a, &set, &failed);
	if (!r && !(rows = ls_rows(&set)))
		r = -ENOMEM;
	if (r) {
		fprintf(stderr, "heapsnap: ls: %s\n", strerror(-r));
		snapset_free(&set);
		return 1;
	}
	(a->json ? print_ls_json : print_ls_text)(stdout, rows, set.n);
	free(rows);
	snapset_free(&set);
	if (cliopt_finish_output())
		return 1;
	if (failed)
		fprintf(stderr, "heapsnap: ls: %d of the files could not be read or listed\n",
			failed);
	return failed ? 1 : 0;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_args a = { 0 };
	int r = parse_argv(argc, argv, &a);
	if (r == PARSE_HELP)
		return fflush(stdout) ? 1 : 0;
	return r == PARSE_RUN ? run(&a) : 2;
}
