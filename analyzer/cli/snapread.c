/* snapread.c - reading a snapshot file for flame and report, reporting failure once. */
#include "snapread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "pprof.h"

void snapread_say_path(const char *what, const char *path, const char *why)
{
	fprintf(stderr, "heapsnap: %s '", what);
	format_text_string(stderr, path);
	fprintf(stderr, "': %s\n", why);
}

profile_t *snapread(const char *path)
{
	profile_t *p = NULL;
	pprof_error_t err = { .why = "" };
	int r = pprof_read_file(path, &p, &err);
	if (r < 0 || !p) {
		snapread_say_path("cannot read", path, err.why[0] ? err.why : strerror(r < 0 ? -r : EIO));
		return NULL;
	}
	return p;
}

bool snapread_int64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return false;
	*out = v;
	return true;
}

int snapread_domain(const char *arg, stats_options_t *opt)
{
	bool all;
	int64_t d = 0;
	if (stats_domain_parse(arg, &all, &d))
		return -EINVAL;
	opt->has_domain = !all;
	opt->domain = d;
	return 0;
}

int snapread_filter(const char *arg, bool inclusive, stats_filter_t *out)
{
	const char *colon = strrchr(arg, ':');
	int64_t line = -1;
	size_t len = strlen(arg);
	if (colon && colon[1] >= '0' && colon[1] <= '9' && snapread_int64(colon + 1, &line))
		len = colon - arg;
	char *pattern = strndup(arg, len);
	if (!pattern)
		return -ENOMEM;
	*out = (stats_filter_t){ .inclusive = inclusive, .pattern = pattern, .lineno = line };
	return 0;
}
