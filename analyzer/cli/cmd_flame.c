/* cmd_flame.c - heapsnap flame: a snapshot as folded stacks for flame graph tools.
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
#include "snapread.h"
#include "stats.h"

enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct flame_args {
	const char *file;
	stats_options_t opt;
	stats_filter_t filters[STATS_MAX_FILTERS];
	const char **skip; /* points into argv */
	const char **skip_files; /* points into argv */
	bool all_frames;
	bool count;
};

enum { OPT_ALL_FRAMES = 0x100, OPT_SKIP, OPT_SKIP_FILE, OPT_KEEP_RUNTIME, OPT_DOMAIN, OPT_COUNT };

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "metric", required_argument, NULL, 'm' },
	{ "count", no_argument, NULL, OPT_COUNT },
	{ "include", required_argument, NULL, 'i' },
	{ "exclude", required_argument, NULL, 'x' },
	{ "all-frames", no_argument, NULL, OPT_ALL_FRAMES },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "skip-file", required_argument, NULL, OPT_SKIP_FILE },
	{ "keep-runtime", no_argument, NULL, OPT_KEEP_RUNTIME },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ NULL, 0, NULL, 0 },
};

static void help(FILE *out)
{
	fputs("Usage: heapsnap flame FILE [OPTIONS...]\n\n"
	      "Print a snapshot's stacks folded, one line per stack, outermost frame first:\n"
	      "  main (prog.c:48);remember (prog.c:45) 1120000\n"
	      "the input of flamegraph.pl, inferno-flamegraph and speedscope.  A frame reads\n"
	      "'FUNCTION (FILE:LINE)', 'FUNCTION (MODULE)' without line information, or\n"
	      "'0xOFFSET (MODULE)' with no function either; ';' in names becomes '_'.\n\n"
	      "Options:\n"
	      "  -m, --metric METRIC     inuse (live now, default), peak (live at the traced\n"
	      "                          peak) or alloc (allocated since the start)\n"
	      "      --count             count blocks instead of bytes\n"
	      "  -i, --include PATTERN[:LINE]  keep allocations whose file matches the glob\n"
	      "  -x, --exclude PATTERN[:LINE]  drop allocations whose file matches the glob\n"
	      "      --all-frames        filters test every frame, not only the charged one\n"
	      "      --skip GLOB         also leave out inner frames of functions matching GLOB\n"
	      "                          (C++ names without return type and parameters)\n"
	      "      --skip-file GLOB    also leave out inner frames whose file matches GLOB\n"
	      "      --keep-runtime      keep the inner frames in libc, libstdc++, the loader,\n"
	      "                          the system headers (/usr/include...)\n"
	      "      --domain N          only allocations of tracking domain N (0: the heap)\n"
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
	fputs("heapsnap: flame: ", stderr);
	fprintf(stderr, fmt, what);
	fputs("; see 'heapsnap flame --help'\n", stderr);
	return -EINVAL;
}

/* Adds an include or exclude filter from "PATTERN[:LINE]". */
static int add_filter(struct flame_args *a, bool inclusive, const char *arg)
{
	if (a->opt.nfilters == STATS_MAX_FILTERS)
		return usage_error("too many filters (at most %s)", "64");
	if (snapread_filter(arg, inclusive, &a->filters[a->opt.nfilters]) < 0) {
		fputs("heapsnap: flame: out of memory\n", stderr);
		return -ENOMEM;
	}
	a->opt.nfilters++;
	return 0;
}

static int parse_option(struct flame_args *a, int c, char **argv)
{
	switch (c) {
	case 'h':
		help(stdout);
		return PARSE_HELP;
	case 'm':
		if (stats_metric_parse(optarg, &a->opt.metric) ||
		    a->opt.metric > STATS_METRIC_ALLOC)
			return usage_error("bad --metric '%s' (inuse, peak or alloc)", optarg);
		return 0;
	case OPT_COUNT:
		a->count = true;
		return 0;
	case 'i':
	case 'x':
		return add_filter(a, c == 'i', optarg);
	case OPT_ALL_FRAMES:
		a->all_frames = true;
		return 0;
	case OPT_SKIP:
		a->skip[a->opt.nskip++] = optarg;
		return 0;
	case OPT_SKIP_FILE:
		a->skip_files[a->opt.nskip_files++] = optarg;
		return 0;
	case OPT_KEEP_RUNTIME:
		a->opt.keep_runtime = true;
		return 0;
	case OPT_DOMAIN:
		if (!snapread_int64(optarg, &a->opt.domain))
			return usage_error("bad --domain '%s' (a number)", optarg);
		a->opt.has_domain = true;
		return 0;
	default: {
		char why[128];
		return usage_error("%s", cliopt_error(c, argv, why, sizeof(why)));
	}
	}
}

/* Parses argv into *a, which the caller has zeroed.  Returns PARSE_RUN, PARSE_HELP, or
 * a negative errno after reporting the problem. */
static int parse_argv(int argc, char **argv, struct flame_args *a)
{
	a->skip = calloc(argc + 1, sizeof(*a->skip));
	a->skip_files = calloc(argc + 1, sizeof(*a->skip_files));
	if (!a->skip || !a->skip_files) {
		fputs("heapsnap: flame: out of memory\n", stderr);
		return -ENOMEM;
	}
	a->opt.skip = a->skip;
	a->opt.skip_files = a->skip_files;
	a->opt.filters = a->filters;
	optind = 0;
	opterr = 0;
	int c, r = 0;
	while (!r && (c = getopt_long(argc, argv, ":hm:i:x:", long_options, NULL)) != -1)
		r = parse_option(a, c, argv);
	if (r)
		return r;
	for (size_t i = 0; i < a->opt.nfilters; i++)
		a->filters[i].all_frames = a->all_frames;
	if (optind == argc)
		return usage_error("missing %s", "FILE");
	if (argc - optind > 1)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	a->file = argv[optind];
	return PARSE_RUN;
}

static int run(const struct flame_args *a)
{
	profile_t *p = snapread(a->file);
	if (!p)
		return 1;
	flame_t *f = flame_new(1);
	int r = f ? flame_add(f, p, 0, &a->opt) : -ENOMEM;
	if (!r)
		r = print_flame_folded(stdout, f, a->opt.metric, a->count);
	if (r == -ENODATA)
		fprintf(stderr, "heapsnap: '%s' has no %s values (not a heapsnap snapshot?)\n",
			a->file, stats_metric_name(a->opt.metric));
	else if (r)
		fprintf(stderr, "heapsnap: flame: %s\n", strerror(-r));
	flame_free(f);
	profile_free(p);
	if (r)
		return 1;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "heapsnap: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int cmd_flame(int argc, char **argv)
{
	struct flame_args a = { 0 };
	int r = parse_argv(argc, argv, &a);
	if (r == PARSE_RUN)
		r = run(&a);
	else
		r = r == PARSE_HELP ? 0 : r == -ENOMEM ? 1 : 2;
	for (size_t i = 0; i < a.opt.nfilters; i++)
		free((char *)a.filters[i].pattern);
	free(a.skip);
	free(a.skip_files);
	return r;
}
