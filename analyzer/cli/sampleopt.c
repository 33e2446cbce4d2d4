/* sampleopt.c - top's sample-selecting options for flame and hist (see sampleopt.h). */
#include "sampleopt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cliopt.h"
#include "snapread.h"

int sampleopt_init(sampleopt_t *s, int argc)
{
	s->skip = calloc((size_t)argc + 1, sizeof(*s->skip));
	s->skip_files = calloc((size_t)argc + 1, sizeof(*s->skip_files));
	if (!s->skip || !s->skip_files)
		return -ENOMEM;
	s->opt.skip = s->skip;
	s->opt.skip_files = s->skip_files;
	s->opt.filters = s->filters;
	s->opt.has_domain = true; /* the heap, unless --domain says otherwise */
	return 0;
}

int sampleopt_usage(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "heapsnap: %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see 'heapsnap %s --help'\n", cmd);
	return -EINVAL;
}

int sampleopt_parse(sampleopt_t *s, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case 'i':
	case 'x':
		if (s->opt.nfilters == STATS_MAX_FILTERS)
			return sampleopt_usage(cmd, "too many filters (at most 64): '%s'", arg);
		if (snapread_filter(arg, c == 'i', &s->filters[s->opt.nfilters]) < 0) {
			fprintf(stderr, "heapsnap: %s: out of memory\n", cmd);
			return -ENOMEM;
		}
		s->opt.nfilters++;
		return 1;
	case SAMPLEOPT_ALL_FRAMES:
		s->all_frames = true;
		return 1;
	case SAMPLEOPT_SKIP:
		s->skip[s->opt.nskip++] = arg;
		return 1;
	case SAMPLEOPT_SKIP_FILE:
		s->skip_files[s->opt.nskip_files++] = arg;
		return 1;
	case SAMPLEOPT_KEEP_RUNTIME:
		s->opt.keep_runtime = true;
		return 1;
	case SAMPLEOPT_DOMAIN:
		if (snapread_domain(arg, &s->opt))
			return sampleopt_usage(cmd, "bad --domain '%s' (heap, mmap, all or 1..65535)",
					       arg);
		return 1;
	default:
		return 0;
	}
}

int sampleopt_getopt(sampleopt_t *s, const char *cmd, int argc, char **argv,
		     const char *shorts, const struct option *longs,
		     int (*own)(void *arg, int c), void *arg)
{
	if (sampleopt_init(s, argc) < 0) {
		fprintf(stderr, "heapsnap: %s: out of memory\n", cmd);
		return -ENOMEM;
	}
	optind = 0; /* full reset: the parser may run more than once per process */
	opterr = 0;
	int c, r = 0;
	while (!r && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == ':' || c == '?') {
			char why[128];
			return sampleopt_usage(cmd, "%s", cliopt_error(c, argv, why, sizeof(why)));
		}
		r = sampleopt_parse(s, cmd, c, optarg);
		r = r ? (r < 0 ? r : 0) : own(arg, c);
	}
	return r;
}

int sampleopt_finish_files(sampleopt_t *s, const char *cmd, int argc, char **argv,
			   const char *const **files, size_t *n)
{
	for (size_t i = 0; i < s->opt.nfilters; i++)
		s->filters[i].all_frames = s->all_frames;
	if (optind >= argc)
		return sampleopt_usage(cmd, "missing %s", "FILE");
	*files = (const char *const *)argv + optind;
	*n = (size_t)(argc - optind);
	return 0;
}

int sampleopt_finish(sampleopt_t *s, const char *cmd, int argc, char **argv,
		     const char **file)
{
	const char *const *files;
	size_t n;
	int r = sampleopt_finish_files(s, cmd, argc, argv, &files, &n);
	if (r)
		return r;
	if (n > 1)
		return sampleopt_usage(cmd, "unexpected argument '%s'", files[1]);
	*file = files[0];
	return 0;
}

void sampleopt_free(sampleopt_t *s)
{
	for (size_t i = 0; i < s->opt.nfilters; i++)
		free((char *)s->filters[i].pattern);
	free(s->skip);
	free(s->skip_files);
}
