/* snapread.c - reading a snapshot file for flame and report, reporting failure once. */
#include "snapread.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"
#include "pprof.h"
#include "snapset.h"

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
	struct stat st;
	if ((r < 0 || !p) && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snapread_say_path("cannot read", path, "a directory; this command reads one file "
				  "(top, diff, flame and ls read directories)");
		return NULL;
	}
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

/* Says on stderr when a snapshot misses events, since its statistics are then short. */
static void warn_incomplete(const char *path, const profile_t *p)
{
	const profile_meta_t *m = &p->meta;
	int64_t lost = (m->lost_events > 0 ? m->lost_events : 0) +
		       (m->untracked_events > 0 ? m->untracked_events : 0) +
		       (m->corrupt_records > 0 ? m->corrupt_records : 0) +
		       (m->dropped_stacks > 0 ? m->dropped_stacks : 0);
	if (lost) {
		char why[160];
		snprintf(why, sizeof(why), "%" PRId64 " events are missing (lost, untracked, "
			 "corrupt or dropped); see 'heapsnap info'", lost);
		snapread_say_path("warning:", path, why);
	}
	if (m->tracing_off == 1)
		snapread_say_path("warning:", path, "tracing was off at this snapshot (heapsnap "
				  "stop, or --off before heapsnap start): it counts nothing");
}

int snapread_set(snapset_t *set, const char *cmd, const char *const *paths, size_t n, bool all)
{
	for (size_t i = 0; i < n; i++) {
		int r = snapset_add(set, paths[i], all);
		if (r < 0) {
			fprintf(stderr, "heapsnap: %s: cannot list '%s': %s\n", cmd, paths[i],
				strerror(-r));
			return 1;
		}
		if (r == 0) {
			fprintf(stderr, "heapsnap: %s: no snapshots (heapsnap.*.pb.gz) in '%s'\n",
				cmd, paths[i]);
			return 1;
		}
	}
	int failed = snapset_read(set);
	if (failed < 0) {
		fprintf(stderr, "heapsnap: %s: %s\n", cmd, strerror(-failed));
		return 1;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (set->errors[i]) {
			snapread_say_path("cannot read", set->paths[i], set->errors[i]);
			return 1;
		}
	}
	for (size_t i = 0; i < set->n; i++)
		warn_incomplete(set->paths[i], set->profiles[i]);
	return 0;
}
