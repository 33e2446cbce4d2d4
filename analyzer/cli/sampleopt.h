/* sampleopt.h - the options that choose which samples count and where they are
 * charged, as top takes them: -i, -x, --all-frames, --skip, --skip-file,
 * --keep-runtime and --domain.  flame and hist put SAMPLEOPT_LONG_OPTIONS in their
 * option table and SAMPLEOPT_SHORT in their option string, and parse with
 * sampleopt_getopt(); top, flame and hist describe the filters and --domain with
 * SAMPLEOPT_HELP_FILTERS and SAMPLEOPT_HELP_DOMAIN (--skip's wording is each
 * command's own: top and hist charge past the frames, flame leaves them out).
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "stats.h"

enum {
	SAMPLEOPT_ALL_FRAMES = 0x180,
	SAMPLEOPT_SKIP,
	SAMPLEOPT_SKIP_FILE,
	SAMPLEOPT_KEEP_RUNTIME,
	SAMPLEOPT_DOMAIN,
};

#define SAMPLEOPT_SHORT "i:x:"
#define SAMPLEOPT_LONG_OPTIONS                                                      \
	{ "include", required_argument, NULL, 'i' },                               \
	{ "exclude", required_argument, NULL, 'x' },                               \
	{ "all-frames", no_argument, NULL, SAMPLEOPT_ALL_FRAMES },                 \
	{ "skip", required_argument, NULL, SAMPLEOPT_SKIP },                       \
	{ "skip-file", required_argument, NULL, SAMPLEOPT_SKIP_FILE },             \
	{ "keep-runtime", no_argument, NULL, SAMPLEOPT_KEEP_RUNTIME },             \
	{ "domain", required_argument, NULL, SAMPLEOPT_DOMAIN }

#define SAMPLEOPT_HELP_FILTERS                                                      \
	"  -i, --include PATTERN[:LINE]  keep allocations whose file matches the glob\n" \
	"  -x, --exclude PATTERN[:LINE]  drop allocations whose file matches the glob\n" \
	"      --all-frames        filters test every frame, not only the charged one\n"
#define SAMPLEOPT_HELP_DOMAIN                                                       \
	"      --domain D          the domain shown: heap (the default), mmap (anonymous\n" \
	"                          mappings), 1..65535 (heapsnap_track), or all\n"

/* The options parsed, and the stats options they fill (opt points into this). */
typedef struct sampleopt {
	stats_options_t opt;
	stats_filter_t filters[STATS_MAX_FILTERS];
	const char **skip;       /* points into argv */
	const char **skip_files; /* points into argv */
	bool all_frames;
} sampleopt_t;

/* Readies a zeroed s for a command line of argc arguments.  Returns 0 or -ENOMEM. */
int sampleopt_init(sampleopt_t *s, int argc);

/* Says "heapsnap: CMD: WHAT; see 'heapsnap CMD --help'" (fmt with one %s for arg)
 * on stderr and returns -EINVAL. */
int sampleopt_usage(const char *cmd, const char *fmt, const char *arg);

/* Takes getopt's result c with its argument arg when it is one of these options, for
 * subcommand cmd.  Returns 1 when it was, 0 when it is not one of them, or -EINVAL
 * (a bad value or too many filters) or -ENOMEM after saying so on stderr. */
int sampleopt_parse(sampleopt_t *s, const char *cmd, int c, const char *arg);

/* Readies a zeroed s (sampleopt_init()) and runs getopt_long over argv with shorts
 * (which start with ':' and include SAMPLEOPT_SHORT) and longs: an unknown option or a
 * missing value is reported (cliopt.h) and stops it with -EINVAL; each other option
 * goes to sampleopt_parse() first, and to own(arg, c) when it is not one of
 * these; own returns 0 to go on, or what to stop with (a PARSE_HELP of the command's,
 * or a negative errno after reporting).  Returns 0 once every option is taken, or
 * what stopped it. */
int sampleopt_getopt(sampleopt_t *s, const char *cmd, int argc, char **argv,
		     const char *shorts, const struct option *longs,
		     int (*own)(void *arg, int c), void *arg);

/* Once getopt is done (optind past the options): applies --all-frames to every
 * filter and takes the one FILE operand into *file.  Returns 0, or -EINVAL after
 * saying what is missing or extra. */
int sampleopt_finish(sampleopt_t *s, const char *cmd, int argc, char **argv,
		     const char **file);

/* The same for one or more FILE operands (files or directories): *files points into
 * argv. */
int sampleopt_finish_files(sampleopt_t *s, const char *cmd, int argc, char **argv,
			   const char *const **files, size_t *n);

void sampleopt_free(sampleopt_t *s);
