/* snapset.c - the snapshot files one command reads (see snapset.h).
 *
 * A directory is listed once with readdir(3); names are parsed, sorted by (pid, kind,
 * number, suffix), and each pid's run of names is then reduced to its final files and
 * a numbered snapshot newer than them (found_numbered_kept()).
 * Nothing is opened before snapset_read(), so selecting among many files costs no
 * decoding.
 */
#include "snapset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileid.h"
#include "vec.h"

/* Parses a decimal number of at most 9 digits at *s, advancing *s. */
static bool parse_num(const char **s, long *out)
{
	long v = 0;
	int digits = 0;
	for (; **s >= '0' && **s <= '9' && digits < 10; (*s)++, digits++)
		v = v * 10 + (**s - '0');
	if (!digits || digits > 9)
		return false;
	*out = v;
	return true;
}

int snapname_parse(const char *base, snapname_t *out)
{
	snapname_t r = { .dup = 1 };
	const char *s = base;
	if (strncmp(s, "heapsnap.", 9))
		return -EINVAL;
	s += 9;
	if (!parse_num(&s, &r.pid) || *s++ != '.')
		return -EINVAL;
	if (!strncmp(s, "exit", 4) || !strncmp(s, "exec", 4)) {
		r.kind = s[3] == 't' ? SNAPNAME_EXIT : SNAPNAME_EXEC;
		s += 4;
	} else if (!parse_num(&s, &r.n)) {
		return -EINVAL;
	}
	if (*s == '-' && (s++, !parse_num(&s, &r.dup)))
		return -EINVAL;
	if (strcmp(s, ".pb.gz"))
		return -EINVAL;
	*out = r;
	return 0;
}

static int snapname_cmp(const snapname_t *a, const snapname_t *b)
{
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return (a->dup > b->dup) - (a->dup < b->dup);
}

/* A snapshot file found in a directory. */
struct found {
	snapname_t name;
	char *base;
	struct timespec mtime; /* when it was written (renamed into place); 0 if unknown */
};

static int found_cmp(const void *a, const void *b)
{
	return snapname_cmp(&((const struct found *)a)->name, &((const struct found *)b)->name);
}

static int snapset_push(snapset_t *set, char *path)
{
	if (vec_reserve((void **)&set->paths, &set->cap, set->n + 1, sizeof(*set->paths))) {
		free(path);
		return -ENOMEM;
	}
	set->paths[set->n++] = path;
	return 0;
}

/* Whether f[a] was written after f[b]: by time, then by name (a higher number). */
static bool found_newer(const struct found *f, size_t a, size_t b)
{
	const struct timespec *x = &f[a].mtime, *y = &f[b].mtime;
	if (x->tv_sec != y->tv_sec || x->tv_nsec != y->tv_nsec)
		return x->tv_sec > y->tv_sec || (x->tv_sec == y->tv_sec && x->tv_nsec > y->tv_nsec);
	return a > b;
}

/* The numbered snapshot kept of a pid's run [lo, hi) of f (sorted), or hi for none:
 * the pid's newest, when it was written after every final file of the pid (by an
 * image that came after an exec, or by a new process that reused the pid, still
 * running).  A numbered snapshot written before a final file is an earlier state of a
 * heap that file has.  One pass: a directory can hold tens of thousands of one pid's. */
static size_t found_numbered_kept(const struct found *f, size_t lo, size_t hi)
{
	size_t best = hi;
	for (size_t j = lo; j < hi; j++)
		if (f[j].name.kind == SNAPNAME_NUMBERED && (best == hi || found_newer(f, j, best)))
			best = j;
	for (size_t j = lo; best < hi && j < hi; j++)
		if (f[j].name.kind != SNAPNAME_NUMBERED &&
		    (!found_newer(f, best, j) || f[j].mtime.tv_sec == 0))
			best = hi;
	return best;
}

/* Adds the kept files of f[0..n) (sorted) under dir. */
static int snapset_push_found(snapset_t *set, const char *dir, struct found *f, size_t n,
			      bool all)
{
	int added = 0;
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo; hi < n && f[hi].name.pid == f[lo].name.pid; hi++)
			;
		size_t numbered = all ? hi : found_numbered_kept(f, lo, hi);
		for (size_t i = lo; i < hi; i++) {
			if (!all && f[i].name.kind == SNAPNAME_NUMBERED && i != numbered)
				continue;
			size_t len = strlen(dir);
			while (len > 1 && dir[len - 1] == '/')
				len--;
			char *path = NULL;
			if (strcmp(dir, ".") ? asprintf(&path, "%.*s/%s", (int)len, dir, f[i].base) < 0
					     : !(path = strdup(f[i].base)))
				return -ENOMEM;
			if (snapset_push(set, path))
				return -ENOMEM;
			added++;
		}
	}
	return added;
}

/* Lists dir's snapshot files into *f (malloc'd), *n of them. */
static int list_dir(const char *dir, struct found **f, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *e;
	int r = 0;
	while (!r && (e = readdir(d))) {
		snapname_t name;
		struct stat st;
		if (snapname_parse(e->d_name, &name))
			continue;
		if (vec_reserve((void **)f, &cap, *n + 1, sizeof(**f)) ||
		    !((*f)[*n].base = strdup(e->d_name))) {
			r = -ENOMEM;
		} else {
			bool known = fstatat(dirfd(d), e->d_name, &st, 0) == 0;
			(*f)[*n].mtime = known ? st.st_mtim : (struct timespec){ 0 };
			(*f)[(*n)++].name = name;
		}
	}
	closedir(d);
	return r;
}

int snapset_add(snapset_t *set, const char *path, bool all)
{
	struct stat st;
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		char *copy = strdup(path);
		return !copy ? -ENOMEM : snapset_push(set, copy) ? -ENOMEM : 1;
	}
	struct found *f = NULL;
	size_t n = 0;
	int r = list_dir(path, &f, &n);
	if (!r) {
		if (n)
			qsort(f, n, sizeof(*f), found_cmp);
		r = snapset_push_found(set, path, f, n, all);
	}
	for (size_t i = 0; i < n; i++)
		free(f[i].base);
	free(f);
	return r;
}

/* Drops a path naming a file named before (DIR and DIR/FILE, or one path twice): a
 * file counts once.  Returns 0 or -ENOMEM. */
static int snapset_dedupe(snapset_t *set)
{
	struct stat *seen = malloc((set->n + 1) * sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	size_t k = 0, nseen = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct stat st;
		bool dup = false;
		if (stat(set->paths[i], &st) == 0) {
			for (size_t j = 0; j < nseen && !dup; j++)
				dup = file_same_inode(&seen[j], &st);
			if (!dup)
				seen[nseen++] = st;
		}
		if (dup)
			free(set->paths[i]);
		else
			set->paths[k++] = set->paths[i];
	}
	set->n = k;
	free(seen);
	return 0;
}

int snapset_read(snapset_t *set)
{
	if (snapset_dedupe(set))
		return -ENOMEM;
	set->profiles = calloc(set->n + 1, sizeof(*set->profiles));
	set->errors = calloc(set->n + 1, sizeof(*set->errors));
	if (!set->profiles || !set->errors)
		return -ENOMEM;
	int failed = 0;
	for (size_t i = 0; i < set->n; i++) {
		pprof_error_t err = { .why = "" };
		int r = pprof_read_file(set->paths[i], &set->profiles[i], &err);
		if (r >= 0 && set->profiles[i])
			continue;
		set->profiles[i] = NULL;
		set->errors[i] = strdup(err.why[0] ? err.why : strerror(r < 0 ? -r : EIO));
		if (!set->errors[i])
			return -ENOMEM;
		failed++;
	}
	return failed;
}

static int pid_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

size_t snapset_processes(const snapset_t *set)
{
	int64_t *pids = malloc((set->n + 1) * sizeof(*pids));
	size_t n = 0, known = 0;
	for (size_t i = 0; i < set->n; i++) {
		const profile_t *p = set->profiles ? set->profiles[i] : NULL;
		if (p && p->meta.pid >= 0 && pids)
			pids[known++] = p->meta.pid;
		else
			n++;
	}
	if (!pids)
		return set->n;
	qsort(pids, known, sizeof(*pids), pid_cmp);
	for (size_t i = 0; i < known; i++)
		n += !i || pids[i] != pids[i - 1];
	free(pids);
	return n;
}

void snapset_free(snapset_t *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->paths[i]);
		if (set->profiles)
			profile_free(set->profiles[i]);
		if (set->errors)
			free(set->errors[i]);
	}
	free(set->paths);
	free(set->profiles);
	free(set->errors);
	*set = (snapset_t){ 0 };
}
