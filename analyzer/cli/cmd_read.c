/* cmd_read.c - the subcommands that read snapshots: top, diff and info.
 *
 * Each is help() / parse_argv() / run() (systemd style).  top and diff share one option
 * table and one parser; the work is stats_merge() or stats_compare_many() over the
 * files named (a directory stands for its processes' final snapshots, snapset.h),
 * followed by a printer from format.h.  One file is the plain stats_group() or
 * stats_compare().  Errors are reported here, once, as one "heapsnap: ..." line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliopt.h"
#include "commands.h"
#include "format.h"
#include "pprof.h"
#include "sampleopt.h"
#include "snapread.h"
#include "snapset.h"
#include "stats.h"

enum color_mode { COLOR_AUTO, COLOR_NEVER, COLOR_ALWAYS };

/* parse_argv() results besides a negative errno (bad usage, already reported). */
enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct read_args {
	const char *cmd;         /* "top", "diff" or "info" */
	/* top and info: the FILE or DIR arguments; diff: OLD (files[0]) and NEW (files[1]),
	 * or every --old and --new.  All point into argv. */
	const char **files;
	size_t nfiles;
	const char **old_files, **new_files;
	size_t nold, nnew;
	bool all;                /* a directory stands for every file in it */
	stats_options_t opt;
	stats_filter_t filters[STATS_MAX_FILTERS];
	const char **skip;       /* points into argv */
	const char **skip_files; /* points into argv */
	size_t limit;
	bool full_names;
	bool all_frames;
	bool json;
	bool max;                /* --max */
	enum color_mode color;
};

enum {
	OPT_CUMULATIVE = 0x100,
	OPT_ALL_FRAMES,
	OPT_SKIP,
	OPT_SKIP_FILE,
	OPT_KEEP_RUNTIME,
	OPT_FULL_NAMES,
	OPT_DOMAIN,
	OPT_JSON,
	OPT_MAX,
	OPT_COLOR,
	OPT_ALL,
	OPT_OLD,
	OPT_NEW,
};

static const struct option stats_long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "limit", required_argument, NULL, 'n' },
	{ "key", required_argument, NULL, 'k' },
	{ "cumulative", no_argument, NULL, OPT_CUMULATIVE },
	{ "metric", required_argument, NULL, 'm' },
	{ "include", required_argument, NULL, 'i' },
	{ "exclude", required_argument, NULL, 'x' },
	{ "all-frames", no_argument, NULL, OPT_ALL_FRAMES },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "skip-file", required_argument, NULL, OPT_SKIP_FILE },
	{ "keep-runtime", no_argument, NULL, OPT_KEEP_RUNTIME },
	{ "full-names", no_argument, NULL, OPT_FULL_NAMES },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "max", no_argument, NULL, OPT_MAX },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "old", required_argument, NULL, OPT_OLD },
	{ "new", required_argument, NULL, OPT_NEW },
	{ NULL, 0, NULL, 0 },
};

static const struct option info_long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ NULL, 0, NULL, 0 },
};

static const char stats_options_help[] =
	"Options:\n"
	"  -n, --limit N           list the top N entries (default 10; 0 lists all)\n"
	"  -k, --key KEY           group by KEY (default lineno):\n"
	"                            lineno     FILE:LINE of the charged frame\n"
	"                            filename   FILE of the charged frame\n"
	"                            function   FUNCTION at FILE (MODULE)\n"
	"                            traceback  the stack from the charged frame outward\n"
	"      --cumulative        every frame of a stack adds to its own key\n"
	"                          (lineno, filename and function only)\n"
	"  -m, --metric METRIC     inuse (live now, default), peak (live at the traced\n"
	"                          peak), alloc (allocated since the start) or\n"
	"                          temporary (freed by their thread before it\n"
	"                          allocated again)\n"
	SAMPLEOPT_HELP_FILTERS
	"      --skip GLOB         also skip frames of functions matching GLOB when\n"
	"                          charging (your own wrappers: --skip 'xmalloc*');\n"
	"                          C++ names are matched without return type and\n"
	"                          parameters: --skip 'std::*'\n"
	"      --skip-file GLOB    also skip frames whose source file matches GLOB\n"
	"                          (a vendored library: --skip-file '*/third_party/*')\n"
	"      --keep-runtime      charge frames in libc, libstdc++, the loader and the\n"
	"                          system headers (/usr/include...) too\n"
	"      --full-names        tracebacks show whole C++ names, not std::vector<…>\n"
	SAMPLEOPT_HELP_DOMAIN
	"      --max               end each line with max=SIZE, the largest block any\n"
	"                          stack of the entry allocated (JSON: max_size)\n"
	"      --json              print one JSON object (sizes in bytes)\n"
	"      --color=WHEN        auto (default: on a terminal), never or always\n"
	"      --all               a directory stands for all of its snapshots\n"
	"  -h, --help              show this help\n"
	"\n"
	"Each allocation is charged to the innermost frame of its stack outside the\n"
	"allocator runtime (the shim, libc, libstdc++, libgcc_s, the dynamic loader,\n"
	"jemalloc, tcmalloc, code from the system and compiler include directories:\n"
	"/usr/include, /usr/local/include, /usr/lib/gcc/*/*/include, /usr/lib/llvm-*/\n"
	"include, and operator new and delete and, without a source file, std:: code by\n"
	"name), so std::vector's growth is charged to the push_back line.  Patterns\n"
	"are fnmatch globs on the source file name ('*' matches '/'; case-sensitive),\n"
	"tested as Python's tracemalloc.Filter: an entry is kept if some --include\n"
	"matches (or there is none) and no --exclude matches.\n"
	"A frame without line information shows as 'FUNCTION (MODULE)', or as\n"
	"'0xOFFSET (MODULE)' with no function either.\n"
	"\n"
	"Several files, or a directory, are merged as pprof merges profiles: entries with\n"
	"the same key are added up, and so are the totals.  A directory stands for the\n"
	"final snapshot of each process in it: its exit file and exec files, or its\n"
	"highest-numbered heapsnap.PID.N.pb.gz when it has neither (earlier snapshots\n"
	"of a process hold the same bytes again); --all takes every file.  The peak of a\n"
	"merge adds up each file's own peak: an upper bound of the peak of the processes\n"
	"together.\n";

static void help_top(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap top FILE|DIR... [OPTIONS...]\n\n"
		"Show the top allocation sites of a snapshot, or of several merged, like\n"
		"tracemalloc's Snapshot.statistics(): sorted by size, then count, then key.\n\n%s\n"
		"Example:\n"
		"  heapsnap top heapsnap.1234.exit.pb.gz -n 20 -x '*/tests/*'\n"
		"  heapsnap top heapsnap.1234.1.pb.gz -k traceback -m peak --skip 'xmalloc'\n"
		"  heapsnap top heapsnap.1234.exit.pb.gz --skip 'absl::*' --skip-file '*/vendor/*'\n"
		"  heapsnap top snapshots/            # every process of a traced tree\n",
		stats_options_help);
}

static void help_diff(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap diff OLD NEW [OPTIONS...]\n"
		"       heapsnap diff --old FILE|DIR... --new FILE|DIR... [OPTIONS...]\n\n"
		"Compare two snapshots, like tracemalloc's Snapshot.compare_to(): entries are\n"
		"matched by their symbolized key and sorted by the absolute size difference,\n"
		"size, absolute count difference, count, then key.  OLD and NEW may each be a\n"
		"file or a directory; to merge several on a side, name each with --old or --new\n"
		"(repeated as needed): --old FILE|DIR and --new FILE|DIR.\n\n%s\n"
		"Example:\n"
		"  heapsnap diff heapsnap.1234.1.pb.gz heapsnap.1234.2.pb.gz -n 5\n"
		"  heapsnap diff run1/ run2/             # two traced trees\n"
		"  heapsnap diff --old a.pb.gz --old b.pb.gz --new run2/\n",
		stats_options_help);
}

static void help_info(FILE *out)
{
	fputs("Usage: heapsnap info FILE [OPTIONS...]\n\n"
	      "Show a snapshot's header: process, command, trigger, time, traced totals and\n"
	      "peak, sample types, numbers of samples, locations and mappings, totals per\n"
	      "metric, and a WARNING line for every non-zero count of lost, untracked,\n"
	      "corrupt or dropped events.\n\n"
	      "Options:\n"
	      "      --json              print one JSON object\n"
	      "      --color=WHEN        auto (default: on a terminal), never or always\n"
	      "  -h, --help              show this help\n\n"
	      "Example:\n"
	      "  heapsnap info heapsnap.1234.exit.pb.gz\n",
	      out);
}

static int usage_error(const struct read_args *a, const char *fmt, const char *what)
{
	fprintf(stderr, "heapsnap: %s: ", a->cmd);
	fprintf(stderr, fmt, what);
	fprintf(stderr, "; see 'heapsnap %s --help'\n", a->cmd);
	return -EINVAL;
}

/* Adds an include or exclude filter from "PATTERN[:LINE]". */
static int add_filter(struct read_args *a, bool inclusive, const char *arg)
{
	if (a->opt.nfilters == STATS_MAX_FILTERS)
		return usage_error(a, "too many filters (at most %s)", "64");
	if (snapread_filter(arg, inclusive, &a->filters[a->opt.nfilters]) < 0) {
		fprintf(stderr, "heapsnap: %s: out of memory\n", a->cmd);
		return -ENOMEM;
	}
	a->opt.nfilters++;
	return 0;
}

static void read_args_free(struct read_args *a)
{
	for (size_t i = 0; i < a->opt.nfilters; i++)
		free((char *)a->filters[i].pattern);
	free(a->skip);
	free(a->skip_files);
	free(a->old_files);
	free(a->new_files);
}

static int parse_color(struct read_args *a, const char *arg)
{
	if (!strcmp(arg, "auto"))
		a->color = COLOR_AUTO;
	else if (!strcmp(arg, "never"))
		a->color = COLOR_NEVER;
	else if (!strcmp(arg, "always"))
		a->color = COLOR_ALWAYS;
	else
		return usage_error(a, "bad --color '%s' (auto, never or always)", arg);
	return 0;
}

/* Applies --all, --old or --new (diff only) to *a. */
static int parse_file_option(struct read_args *a, int c, bool diff)
{
	if (c == OPT_ALL)
		a->all = true;
	else if (!diff)
		return usage_error(a, "%s is an option of diff", c == OPT_OLD ? "--old" : "--new");
	else if (c == OPT_OLD)
		a->old_files[a->nold++] = optarg;
	else
		a->new_files[a->nnew++] = optarg;
	return 0;
}

/* Applies option c (with optarg) of top/diff/info to *a.  Returns 0, PARSE_HELP, or a
 * negative errno after reporting the problem. */
static int parse_option(struct read_args *a, int c, char **argv, size_t nfiles_want, bool info)
{
	int64_t n;
	switch (c) {
	case 'h':
		(info ? help_info : nfiles_want == 2 ? help_diff : help_top)(stdout);
		return PARSE_HELP;
	case 'n':
		if (optarg[0] < '0' || optarg[0] > '9' || !snapread_int64(optarg, &n))
			return usage_error(a, "bad --limit '%s' (a number, 0 for all)", optarg);
		a->limit = (size_t)n;
		a->opt.sort_limit = a->limit;
		return 0;
	case 'k':
		if (stats_key_parse(optarg, &a->opt.key))
			return usage_error(a, "bad --key '%s' (lineno, filename, function or traceback)",
					   optarg);
		return 0;
	case 'm':
		if (stats_metric_parse(optarg, &a->opt.metric))
			return usage_error(a, "bad --metric '%s' (inuse, peak, alloc or temporary)",
					   optarg);
		return 0;
	case 'i':
	case 'x':
		return add_filter(a, c == 'i', optarg);
	case OPT_CUMULATIVE:
		a->opt.cumulative = true;
		return 0;
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
	case OPT_FULL_NAMES:
		a->full_names = true;
		return 0;
	case OPT_DOMAIN:
		if (snapread_domain(optarg, &a->opt))
			return usage_error(a, "bad --domain '%s' (heap, mmap, all or 1..65535)", optarg);
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_MAX:
		a->max = true;
		return 0;
	case OPT_COLOR:
		return parse_color(a, optarg);
	case OPT_ALL:
	case OPT_OLD:
	case OPT_NEW:
		return parse_file_option(a, c, nfiles_want == 2);
	default: {
		char why[128];
		return usage_error(a, "%s", cliopt_error(c, argv, why, sizeof(why)));
	}
	}
}

/* Takes the n arguments left after the options: info's FILE, top's FILE|DIR..., diff's
 * OLD NEW (unless --old and --new named the sides).  Returns PARSE_RUN or -EINVAL. */
static int parse_files(struct read_args *a, size_t n, const char **args, size_t nfiles_want,
		       bool info)
{
	const char *missing = nfiles_want == 2 ? "OLD and NEW files" : info ? "FILE" : "FILE or DIR";
	if (a->nold || a->nnew) {
		if (!a->nold || !a->nnew)
			return usage_error(a, "%s", a->nold ? "--old needs --new" : "--new needs --old");
		if (n)
			return usage_error(a, "unexpected argument '%s' (with --old and --new)", args[0]);
		return PARSE_RUN;
	}
	if (n == 1 && nfiles_want == 2)
		return usage_error(a, "needs OLD and NEW, got only '%s' (heapsnap diff OLD NEW)",
				   args[0]);
	if (!n || n < nfiles_want)
		return usage_error(a, "missing %s", missing);
	if ((info || nfiles_want == 2) && n > nfiles_want)
		return usage_error(a, "unexpected argument '%s'", args[nfiles_want]);
	a->files = args;
	a->nfiles = n;
	if (nfiles_want == 2) {
		a->old_files[a->nold++] = args[0];
		a->new_files[a->nnew++] = args[1];
	}
	return PARSE_RUN;
}

/* Parses the options of top/diff (nfiles_want 1 or 2) or info (info true) into *a,
 * which the caller has zeroed.  Returns PARSE_RUN, PARSE_HELP, or a negative errno
 * after reporting the problem. */
static int parse_argv(int argc, char **argv, struct read_args *a, size_t nfiles_want, bool info)
{
	a->cmd = argv[0];
	a->limit = 10;
	a->opt.sort_limit = a->limit;
	a->opt.has_domain = true; /* the heap, unless --domain says otherwise */
	a->skip = calloc(argc + 1, sizeof(*a->skip));
	a->skip_files = calloc(argc + 1, sizeof(*a->skip_files));
	a->old_files = calloc(argc + 1, sizeof(*a->old_files));
	a->new_files = calloc(argc + 1, sizeof(*a->new_files));
	if (!a->skip || !a->skip_files || !a->old_files || !a->new_files) {
		fprintf(stderr, "heapsnap: %s: out of memory\n", a->cmd);
		return -ENOMEM;
	}
	a->opt.skip = a->skip;
	a->opt.skip_files = a->skip_files;
	a->opt.filters = a->filters;
	optind = 0; /* full reset: the parser may run more than once per process */
	opterr = 0;
	const char *shorts = info ? ":h" : ":hn:k:m:i:x:";
	const struct option *longs = info ? info_long_options : stats_long_options;
	int c, r = 0;
	while (!r && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
		r = parse_option(a, c, argv, nfiles_want, info);
	if (r)
		return r;
	for (size_t i = 0; i < a->opt.nfilters; i++)
		a->filters[i].all_frames = a->all_frames;
	if (a->opt.cumulative && a->opt.key == STATS_KEY_TRACEBACK)
		return usage_error(a, "%s does not apply to -k traceback", "--cumulative");
	return parse_files(a, argc - optind, (const char **)argv + optind, nfiles_want, info);
}

static bool use_color(enum color_mode m)
{
	if (m != COLOR_AUTO)
		return m == COLOR_ALWAYS;
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
}


/* Reports a stats_merge()/stats_compare_many() failure: for a missing metric, names the
 * first file of the sets that lacks it. */
static int stats_error(const struct read_args *a, const snapset_t *sets, size_t nsets, int r)
{
	enum profile_value v = stats_metric_space(a->opt.metric);
	for (size_t i = 0; r == -ENODATA && i < nsets; i++) {
		for (size_t j = 0; j < sets[i].n; j++) {
			if (sets[i].profiles[j]->has_value[v])
				continue;
			char why[96];
			stats_metric_missing(a->opt.metric, why, sizeof(why));
			snapread_say_path("cannot use", sets[i].paths[j], why);
			return 1;
		}
	}
	if (r == -EOVERFLOW)
		fprintf(stderr, "heapsnap: %s: values overflow: the sums exceed 64 bits%s\n", a->cmd,
			a->opt.cumulative ? " (cumulative sums add a stack's bytes once per frame)"
					  : "");
	else
		fprintf(stderr, "heapsnap: %s: %s\n", a->cmd, strerror(-r));
	return 1;
}


/* For --max: names the first file without max_size and returns 1, or returns 0. */
static int max_missing(const struct read_args *a, const snapset_t *set)
{
	for (size_t i = 0; a->max && i < set->n; i++) {
		if (!set->profiles[i]->has_max_size) {
			snapread_say_path("cannot use", set->paths[i],
					  "no max_size (written before heapsnap kept the largest "
					  "block per stack)");
			return 1;
		}
	}
	return 0;
}

static format_files_t files_of(const snapset_t *set)
{
	int64_t period = 0;
	for (size_t i = 0; i < set->n; i++)
		if (set->profiles[i] && set->profiles[i]->meta.sampling_period > period)
			period = set->profiles[i]->meta.sampling_period;
	return (format_files_t){ .paths = (const char *const *)set->paths, .n = set->n,
				 .nprocesses = snapset_processes(set), .sampling_period = period };
}

/* The domain named in top's title: none for the heap. */
static const char *shown_domain(const stats_options_t *opt, char buf[24])
{
	if (!opt->has_domain)
		return "all";
	return opt->domain ? stats_domain_name(opt->domain, buf) : NULL;
}

static int run_top(const struct read_args *a)
{
	snapset_t set = { 0 };
	stats_t *s = NULL;
	int r = snapread_set(&set, a->cmd, a->files, a->nfiles, a->all);
	if (!r)
		r = max_missing(a, &set);
	if (!r && (r = stats_merge((const profile_t *const *)set.profiles, set.n, &a->opt, &s)))
		r = stats_error(a, &set, 1, r);
	stats_domain_sum_t *others = NULL;
	size_t nothers = 0;
	if (!r && stats_other_domains((const profile_t *const *)set.profiles, set.n, &a->opt,
				      &others, &nothers))
		r = stats_error(a, &set, 1, -ENOMEM);
	if (!r) {
		char nb[24];
		format_opts_t o = { .file = set.paths[0], .files = files_of(&set), .limit = a->limit,
				    .full_names = a->full_names, .color = use_color(a->color),
				    .domain = shown_domain(&a->opt, nb), .others = others,
				    .nothers = nothers, .max = a->max };
		(a->json ? print_top_json : print_top_text)(stdout, s, &o);
		r = cliopt_finish_output();
		if (!r && a->opt.nfilters && !s->nentries)
			fprintf(stderr, "heapsnap: top: no allocation matched the filters; patterns "
					"match the whole path of the file (try '*/name.c')\n");
	}
	free(others);
	stats_free(s);
	snapset_free(&set);
	return r;
}

static int run_diff(const struct read_args *a)
{
	snapset_t sets[2] = { { 0 }, { 0 } };
	stats_t *s = NULL;
	int r = snapread_set(&sets[0], a->cmd, a->old_files, a->nold, a->all);
	if (!r)
		r = snapread_set(&sets[1], a->cmd, a->new_files, a->nnew, a->all);
	if (!r)
		r = max_missing(a, &sets[1]);
	if (!r && (r = stats_compare_many((const profile_t *const *)sets[0].profiles, sets[0].n,
					  (const profile_t *const *)sets[1].profiles, sets[1].n,
					  &a->opt, &s)))
		r = stats_error(a, sets, 2, r);
	/* What the other domains hold and how they changed, as top says it: a default diff
	 * of a pymalloc Python showed +294 KiB of heap and nothing of +10 MiB of arenas. */
	stats_domain_sum_t *others = NULL;
	size_t nothers = 0;
	if (!r && stats_other_domains_diff((const profile_t *const *)sets[0].profiles, sets[0].n,
					   (const profile_t *const *)sets[1].profiles, sets[1].n,
					   &a->opt, &others, &nothers))
		r = stats_error(a, sets, 2, -ENOMEM);
	if (!r) {
		char nb[24];
		format_opts_t o = { .old_file = sets[0].paths[0], .new_file = sets[1].paths[0],
				    .old_files = files_of(&sets[0]), .new_files = files_of(&sets[1]),
				    .limit = a->limit, .full_names = a->full_names,
				    .color = use_color(a->color), .max = a->max,
				    .domain = shown_domain(&a->opt, nb), .others = others,
				    .nothers = nothers };
		(a->json ? print_diff_json : print_diff_text)(stdout, s, &o);
		r = cliopt_finish_output();
	}
	free(others);
	stats_free(s);
	snapset_free(&sets[0]);
	snapset_free(&sets[1]);
	return r;
}

static int run_info(const struct read_args *a)
{
	profile_t *p = snapread(a->files[0]);
	if (!p)
		return 1;
	format_opts_t o = { .file = a->files[0], .color = use_color(a->color) };
	(a->json ? print_info_json : print_info_text)(stdout, p, &o);
	profile_free(p);
	return cliopt_finish_output();
}

/* Parses, runs, and maps the outcome to an exit status. */
static int read_command(int argc, char **argv, size_t nfiles, bool info,
			int (*run)(const struct read_args *a))
{
	struct read_args a = { 0 };
	int r = parse_argv(argc, argv, &a, nfiles, info);
	if (r == PARSE_RUN)
		r = run(&a);
	else
		r = r == PARSE_HELP ? cliopt_finish_output() : r == -ENOMEM ? 1 : 2;
	read_args_free(&a);
	return r;
}

int cmd_top(int argc, char **argv)
{
	return read_command(argc, argv, 1, false, run_top);
}

int cmd_diff(int argc, char **argv)
{
	return read_command(argc, argv, 2, false, run_diff);
}

int cmd_info(int argc, char **argv)
{
	return read_command(argc, argv, 1, true, run_info);
}
