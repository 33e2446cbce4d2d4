/* cmd_flame.c - heapsnap flame: snapshots as folded stacks for flame graph tools.
 *
 * help() / parse_argv() / run(): the stacks are grouped by flame_add() (stats_group()
 * by traceback, so runtime frames, filters and domains work as in `heapsnap top`) and
 * printed by print_flame_folded().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"
#include "commands.h"
#include "flame.h"
#include "format.h"
#include "sampleopt.h"
#include "snapread.h"
#include "stats.h"

enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct flame_args {
	const char *const *files; /* files or directories, merged */
	size_t nfiles;
	sampleopt_t sel;
	bool count;
};

enum { OPT_COUNT = 0x100 };

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "metric", required_argument, NULL, 'm' },
	{ "count", no_argument, NULL, OPT_COUNT },
	SAMPLEOPT_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void help(FILE *out)
{
	fputs("Usage: heapsnap flame FILE|DIR... [OPTIONS...]\n\n"
	      "Print a snapshot's stacks folded, one line per stack, outermost frame first:\n"
	      "  main (prog.c:48);remember (prog.c:45) 1120000\n"
	      "the input of flamegraph.pl, inferno-flamegraph and speedscope.  A frame reads\n"
	      "'FUNCTION (FILE:LINE)', 'FUNCTION (MODULE)' without line information, or\n"
	      "'0xOFFSET (MODULE)' with no function either; ';' in names becomes '_'.\n"
	      "Several files, or a directory (its final snapshot of each process, as for\n"
	      "'heapsnap top'), are merged: one picture of a whole process tree.\n\n"
	      "Options:\n"
	      "  -m, --metric METRIC     inuse (live now, default), peak (live at the traced\n"
	      "                          peak), alloc (allocated since the start) or\n"
	      "                          temporary (freed by their thread before it\n"
	      "                          allocated again)\n"
	      "      --count             count blocks instead of bytes\n"
	      SAMPLEOPT_HELP_FILTERS
	      "      --skip GLOB         also leave out inner frames of functions matching GLOB\n"
	      "                          (C++ names without return type and parameters)\n"
	      "      --skip-file GLOB    also leave out inner frames whose file matches GLOB\n"
	      "      --keep-runtime      keep the inner frames in libc, libstdc++, the loader,\n"
	      "                          the system headers (/usr/include...)\n"
	      SAMPLEOPT_HELP_DOMAIN
	      "  -h, --help              show this help\n\n"
	      "As 'heapsnap top' charges them, stacks end at their innermost frame outside the\n"
	      "allocator runtime unless --keep-runtime; filters are top's.\n\n"
	      "Example:\n"
	      "  heapsnap flame heapsnap.1234.exit.pb.gz > heap.folded\n"
	      "  flamegraph.pl --countname bytes heap.folded > heap.svg\n",
	      out);
}

static int usage_error(const char *fmt, const char *what)
{
	return sampleopt_usage("flame", fmt, what);
}

/* An option of flame's own (sampleopt_getopt() took the shared ones). */
static int parse_option(void *arg, int c)
{
	struct flame_args *a = arg;
	switch (c) {
	case 'h':
		help(stdout);
		return PARSE_HELP;
	case 'm':
		if (stats_metric_parse(optarg, &a->sel.opt.metric))
			return usage_error("bad --metric '%s' (inuse, peak, alloc or temporary)",
					   optarg);
		return 0;
	case OPT_COUNT:
		a->count = true;
		return 0;
	}
	return 0; /* getopt_long returns no other */
}

/* Parses argv into *a, which the caller has zeroed.  Returns PARSE_RUN, PARSE_HELP, or
 * a negative errno after reporting the problem. */
static int parse_argv(int argc, char **argv, struct flame_args *a)
{
	int r = sampleopt_getopt(&a->sel, "flame", argc, argv, ":hm:" SAMPLEOPT_SHORT, long_options,
				 parse_option, a);
	if (r)
		return r;
	return sampleopt_finish_files(&a->sel, "flame", argc, argv, &a->files, &a->nfiles);
}

static int run(const struct flame_args *a)
{
	snapset_t set = { 0 };
	if (snapread_set(&set, "flame", a->files, a->nfiles, false)) {
		snapset_free(&set);
		return 1;
	}
	flame_t *f = flame_new(1);
	int r = f ? 0 : -ENOMEM;
	size_t i = 0;
	for (; r == 0 && i < set.n; i++)
		r = flame_add(f, set.profiles[i], 0, &a->sel.opt);
	if (!r)
		r = print_flame_folded(stdout, f, a->sel.opt.metric, a->count);
	if (r == -ENODATA) {
		char why[96];
		stats_metric_missing(a->sel.opt.metric, why, sizeof(why));
		snapread_say_path("cannot use", set.paths[i - 1], why);
	} else if (r)
		fprintf(stderr, "heapsnap: flame: %s\n", strerror(-r));
	flame_free(f);
	snapset_free(&set);
	return r ? 1 : cliopt_finish_output();
}

int cmd_flame(int argc, char **argv)
{
	struct flame_args a = { 0 };
	int r = parse_argv(argc, argv, &a);
	if (r == PARSE_RUN)
		r = run(&a);
	else
		r = r == PARSE_HELP ? 0 : r == -ENOMEM ? 1 : 2;
	sampleopt_free(&a.sel);
	return r;
}
