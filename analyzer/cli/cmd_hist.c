/* cmd_hist.c - heapsnap hist: a snapshot's blocks by power-of-two size.
 *
 * help() / parse_argv() / run(), as cmd_flame.c: the filters are top's (the samples
 * kept are those top would list), sizehist_add() computes and print_hist_text() or
 * print_hist_json() renders.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"
#include "commands.h"
#include "format.h"
#include "sampleopt.h"
#include "sizehist.h"
#include "snapread.h"
#include "stats.h"

enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct hist_args {
	const char *file;
	sampleopt_t sel;
	bool json;
};

enum { OPT_JSON = 0x100 };

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	SAMPLEOPT_LONG_OPTIONS,
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static void help(FILE *out)
{
	fputs("Usage: heapsnap hist FILE [OPTIONS...]\n\n"
	      "Show a snapshot's blocks by size, in power-of-two classes ([16 B, 32 B) holds\n"
	      "16 to 31 bytes): how many blocks of each class were allocated since tracing\n"
	      "started and how many are live at the snapshot, with their bytes.  Like\n"
	      "heaptrack_print -H.\n\n"
	      "Options:\n"
	      SAMPLEOPT_HELP_FILTERS
	      "      --skip GLOB         also skip frames of functions matching GLOB when\n"
	      "                          charging (C++ names without return type and\n"
	      "                          parameters)\n"
	      "      --skip-file GLOB    also skip frames whose source file matches GLOB\n"
	      "      --keep-runtime      charge frames in libc, libstdc++, the loader and the\n"
	      "                          system headers (/usr/include...) too\n"
	      SAMPLEOPT_HELP_DOMAIN
	      "      --json              print one JSON object (sizes in bytes)\n"
	      "  -h, --help              show this help\n\n"
	      "The filters keep what 'heapsnap top' with the same filters lists.  Anonymous\n"
	      "mappings have no size classes (one can be unmapped in part): --domain mmap is\n"
	      "refused, and --domain all counts the heap and the heapsnap_track() domains\n"
	      "(and says how much the mappings left out hold).\n\n"
	      "Example:\n"
	      "  heapsnap hist heapsnap.1234.exit.pb.gz -i '*/parser/*'\n",
	      out);
}

static int usage_error(const char *fmt, const char *what)
{
	return sampleopt_usage("hist", fmt, what);
}

/* An option of hist's own (sampleopt_getopt() took the shared ones). */
static int parse_option(void *arg, int c)
{
	struct hist_args *a = arg;
	switch (c) {
	case 'h':
		help(stdout);
		return PARSE_HELP;
	case OPT_JSON:
		a->json = true;
		return 0;
	}
	return 0; /* getopt_long returns no other */
}

/* Parses argv into *a, which the caller has zeroed.  Returns PARSE_RUN, PARSE_HELP, or
 * a negative errno after reporting the problem. */
static int parse_argv(int argc, char **argv, struct hist_args *a)
{
	int r = sampleopt_getopt(&a->sel, "hist", argc, argv, ":h" SAMPLEOPT_SHORT, long_options,
				 parse_option, a);
	if (r)
		return r;
	/* A mapping can be unmapped in part: its size class would say nothing of what is
	 * live, so snapshots keep none for the mmap domain. */
	if (a->sel.opt.has_domain && a->sel.opt.domain == PROFILE_DOMAIN_MMAP)
		return usage_error("%s has no size classes (a mapping can be unmapped in part; "
				   "'heapsnap top --domain mmap --max' shows the largest)",
				   "the mmap domain");
	return sampleopt_finish(&a->sel, "hist", argc, argv, &a->file);
}

/* Prints h for a->file; returns 0, or 1 after saying why. */
static int print(const struct hist_args *a, const sizehist_t *h)
{
	(a->json ? print_hist_json : print_hist_text)(stdout, h, a->file);
	return cliopt_finish_output();
}

static int run(const struct hist_args *a)
{
	profile_t *p = snapread(a->file);
	if (!p)
		return 1;
	sizehist_t h;
	memset(&h, 0, sizeof(h));
	int r = sizehist_add(&h, p, &a->sel.opt);
	if (r == -ENODATA)
		snapread_say_path("cannot use", a->file,
				  p->has_value[PV_ALLOC_OBJECTS]
					  ? "no block sizes (written before heapsnap kept them)"
					  : "no alloc values (not a heapsnap snapshot?)");
	else if (r == -EOVERFLOW)
		snapread_say_path("cannot use", a->file, "values overflow: the sums exceed 64 bits");
	else if (r)
		fprintf(stderr, "heapsnap: hist: %s\n", strerror(-r));
	if (!r && a->sel.opt.nfilters && !h.samples)
		fprintf(stderr, "heapsnap: hist: no allocation matched the filters; patterns "
				"match the whole path of the file (try '*/name.c')\n");
	if (!r && h.mappings) {
		char size[FORMAT_SIZE_MAX];
		fprintf(stderr, "heapsnap: hist: anonymous mappings (%s in use) have no size "
				"classes and are left out\n", format_size(size, h.mapped_bytes, false));
	}
	if (!r)
		r = print(a, &h);
	profile_free(p);
	return r ? 1 : 0;
}

int cmd_hist(int argc, char **argv)
{
	struct hist_args a = { 0 };
	int r = parse_argv(argc, argv, &a);
	if (r == PARSE_RUN)
		r = run(&a);
	else
		r = r == PARSE_HELP ? 0 : r == -ENOMEM ? 1 : 2;
	sampleopt_free(&a.sel);
	return r;
}
