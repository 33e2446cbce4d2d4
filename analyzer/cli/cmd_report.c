/* cmd_report.c - heapsnap report: a snapshot, or two, as one offline HTML page.
 *
 * help() / parse_argv() / run(): the snapshots are read, report_compute() builds the
 * call trees and tables, report_write() renders the page into a temporary file next to
 * the output, which is renamed over it once whole.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cliopt.h"
#include "commands.h"
#include "fileid.h"
#include "report_page.h"
#include "snapread.h"

enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct report_args {
	const char *files[2];
	size_t nfiles;
	const char *output; /* NULL: derived from the file name */
	char *derived;      /* owned */
	int64_t max_nodes;
	const char **skip, **skip_files; /* point into argv */
	size_t nskip, nskip_files;
	stats_options_t domain; /* only has_domain and domain are used */
};

enum { OPT_SKIP = 0x100, OPT_SKIP_FILE, OPT_DOMAIN };

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "output", required_argument, NULL, 'o' },
	{ "max-nodes", required_argument, NULL, 'N' },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "skip-file", required_argument, NULL, OPT_SKIP_FILE },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ NULL, 0, NULL, 0 },
};

static void help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap report FILE [-o OUT.html]\n"
		"       heapsnap report OLD NEW -o OUT.html\n\n"
		"Write one self-contained HTML page (no network, no other files: open it from\n"
		"disk) showing a snapshot: its header facts, a flame graph (icicle) of inuse,\n"
		"peak, alloc or temporary bytes with zoom, search, tooltips and a toggle for the\n"
		"allocator runtime's frames, and the top tables by line, function and file (a\n"
		"click on a row marks its frames in the graph).  With two snapshots the graph is\n"
		"coloured by growth (red) and shrinkage (blue) and the tables are 'heapsnap\n"
		"diff's.\n\n"
		"Options:\n"
		"  -o, --output OUT.html   where to write (default for one FILE: its name with\n"
		"                          .pb.gz replaced by .html, in the current directory)\n"
		"      --max-nodes N       call tree nodes kept in the page (default %d); the\n"
		"                          lightest are merged into 'other'\n"
		"      --skip GLOB         also charge past frames of functions matching GLOB\n"
		"                          (as 'heapsnap top --skip'); the page's runtime toggle\n"
		"                          hides them too\n"
		"      --skip-file GLOB    the same for frames whose source file matches GLOB\n"
		"      --domain D          the domain shown: heap (the default), mmap, 1..65535\n"
		"                          (heapsnap_track) or all\n"
		"  -h, --help              show this help\n\n"
		"The path written is printed on stdout.\n\n"
		"Example:\n"
		"  heapsnap report heapsnap.1234.exit.pb.gz          # heapsnap.1234.exit.html\n"
		"  heapsnap report heapsnap.1234.1.pb.gz heapsnap.1234.2.pb.gz -o growth.html\n",
		REPORT_MAX_NODES);
}

static int usage_error(const char *fmt, const char *what)
{
	fputs("heapsnap: report: ", stderr);
	fprintf(stderr, fmt, what);
	fputs("; see 'heapsnap report --help'\n", stderr);
	return -EINVAL;
}

/* FILE's base name with .pb.gz (or .gz) replaced by .html; NULL when out of memory. */
static char *derive_output(const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	size_t len = strlen(base);
	if (len > 6 && !strcmp(base + len - 6, ".pb.gz"))
		len -= 6;
	else if (len > 3 && !strcmp(base + len - 3, ".gz"))
		len -= 3;
	char *out = malloc(len + 6);
	if (out) {
		memcpy(out, base, len);
		strcpy(out + len, ".html");
	}
	return out;
}

/* Parses argv into *a, which the caller has zeroed.  Returns PARSE_RUN, PARSE_HELP, or
 * a negative errno after reporting the problem. */
static int parse_argv(int argc, char **argv, struct report_args *a)
{
	a->skip = calloc(argc + 1, sizeof(*a->skip));
	a->skip_files = calloc(argc + 1, sizeof(*a->skip_files));
	if (!a->skip || !a->skip_files) {
		fputs("heapsnap: report: out of memory\n", stderr);
		return -ENOMEM;
	}
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":ho:", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help(stdout);
			return PARSE_HELP;
		case 'o':
			a->output = optarg;
			break;
		case 'N':
			if (!snapread_int64(optarg, &a->max_nodes) || a->max_nodes < 1)
				return usage_error("bad --max-nodes '%s' (a number from 1)", optarg);
			break;
		case OPT_SKIP:
			a->skip[a->nskip++] = optarg;
			break;
		case OPT_SKIP_FILE:
			a->skip_files[a->nskip_files++] = optarg;
			break;
		case OPT_DOMAIN:
			if (snapread_domain(optarg, &a->domain))
				return usage_error("bad --domain '%s' (heap, mmap, all or 1..65535)",
						   optarg);
			break;
		default: {
			char why[128];
			return usage_error("%s", cliopt_error(c, argv, why, sizeof(why)));
		}
		}
	}
	size_t n = argc - optind;
	if (n < 1)
		return usage_error("missing %s", "FILE");
	if (n > 2)
		return usage_error("unexpected argument '%s'", argv[optind + 2]);
	if (n == 2 && !a->output)
		return usage_error("%s needs -o OUT.html", "a diff");
	for (size_t i = 0; i < n; i++)
		a->files[i] = argv[optind + i];
	a->nfiles = n;
	if (!a->output && !(a->output = a->derived = derive_output(a->files[0]))) {
		fputs("heapsnap: report: out of memory\n", stderr);
		return -ENOMEM;
	}
	return PARSE_RUN;
}

/* Writes r's page to path through a temporary file renamed over it.  Returns 0 or a
 * negative errno. */
static int write_page(const report_t *r, const char *path)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 16);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = -errno;
		free(tmp);
		return e;
	}
	fchmod(fd, 0644 & ~umask(umask(0)));
	FILE *out = fdopen(fd, "w");
	int e = out ? report_write(out, r) : -errno;
	if (out && fclose(out) && !e)
		e = -errno;
	else if (!out)
		close(fd);
	if (!e && rename(tmp, path))
		e = -errno;
	if (e)
		unlink(tmp);
	free(tmp);
	return e;
}

/* Whether path names one of the input files (the page would replace it). */
static bool is_input(const struct report_args *a, const char *path)
{
	struct stat out, in;
	if (stat(path, &out) < 0)
		return false;
	for (size_t i = 0; i < a->nfiles; i++)
		if (stat(a->files[i], &in) == 0 && file_same_inode(&in, &out))
			return true;
	return false;
}

static int run(const struct report_args *a)
{
	profile_t *p[2] = { NULL, NULL };
	int status = 1;
	if (is_input(a, a->output)) {
		fprintf(stderr, "heapsnap: report: '%s' is an input file; the page needs a name of "
				"its own\n", a->output);
		return 1;
	}
	/* The page is renamed over the path: over a FIFO or a device (root's -o /dev/null)
	 * that would put a file in their place, and through a symbolic link it would
	 * replace the link.  A link to a file is written through. */
	struct stat st;
	char *through = NULL;
	if (stat(a->output, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "heapsnap: report: '%s' is not a regular file; the page is written "
				"to a file of its own\n", a->output);
		return 1;
	}
	if (lstat(a->output, &st) == 0 && S_ISLNK(st.st_mode) &&
	    !(through = realpath(a->output, NULL))) {
		fprintf(stderr, "heapsnap: cannot write '%s': %s\n", a->output, strerror(errno));
		return 1;
	}
	/* A file size limit makes the write fail (EFBIG), and the partial page is removed,
	 * instead of the signal killing report with it left behind. */
	signal(SIGXFSZ, SIG_IGN);
	for (size_t i = 0; i < a->nfiles; i++)
		if (!(p[i] = snapread(a->files[i])))
			goto out;
	report_t r = { .profiles = { p[0], p[1] }, .files = { a->files[0], a->files[1] },
		       .nfiles = a->nfiles, .max_nodes = (size_t)a->max_nodes,
		       .skip = a->skip, .nskip = a->nskip, .skip_files = a->skip_files,
		       .nskip_files = a->nskip_files, .has_domain = a->domain.has_domain,
		       .domain = a->domain.domain };
	int e = report_compute(&r);
	if (e == -ENODATA)
		fprintf(stderr, "heapsnap: report: %s no metric in common (inuse, peak, alloc or temporary)\n",
			a->nfiles == 2 ? "the two files have" : "the file has");
	else if (e)
		fprintf(stderr, "heapsnap: report: %s\n", strerror(-e));
	else if ((e = write_page(&r, through ? through : a->output)))
		fprintf(stderr, "heapsnap: cannot write '%s': %s\n", a->output, strerror(-e));
	else if (printf("%s\n", a->output) < 0 || fflush(stdout))
		fprintf(stderr, "heapsnap: report: wrote '%s', but cannot say so on standard "
				"output: %s\n", a->output, strerror(errno));
	else
		status = 0;
	report_free(&r);
out:
	free(through);
	profile_free(p[0]);
	profile_free(p[1]);
	return status;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { .domain = { .has_domain = true } }; /* the heap by default */
	int r = parse_argv(argc, argv, &a);
	if (r == PARSE_RUN)
		r = run(&a);
	else
		r = r == PARSE_HELP ? 0 : r == -ENOMEM ? 1 : 2;
	free(a.derived);
	free(a.skip);
	free(a.skip_files);
	return r;
}
