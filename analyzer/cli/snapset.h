/* snapset.h - the snapshot files one command reads: files named on its command line,
 * and the heapsnap.PID.WHAT.pb.gz files of directories.
 *
 * A directory stands for the final file of each process image in it unless every
 * file is asked for: a process's exit file and its exec files (each the end of an
 * image that exec replaced), or, for a pid that has neither, its highest-numbered
 * snapshot.  Numbered snapshots of a process that has a final file are earlier states
 * of the same heap: counting them too would count its bytes twice.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pprof.h"
#include "profile.h"

enum snapname_kind { SNAPNAME_NUMBERED, SNAPNAME_EXEC, SNAPNAME_EXIT };

/* What a snapshot file's name says: heapsnap.PID.N.pb.gz, heapsnap.PID.exit.pb.gz or
 * heapsnap.PID.exec.pb.gz, with "-K" before ".pb.gz" when the name was taken. */
typedef struct snapname {
	long pid;
	enum snapname_kind kind;
	long n;   /* SNAPNAME_NUMBERED: the request number; 0 otherwise */
	long dup; /* K of a "-K" suffix; 1 without one */
} snapname_t;

/* Parses a base name.  Returns 0, or -EINVAL (not a snapshot name) leaving *out
 * untouched. */
int snapname_parse(const char *base, snapname_t *out);

/* A list of files and, once snapset_read() ran, their profiles or why each could
 * not be read. */
typedef struct snapset {
	char **paths;
	size_t n, cap;
	profile_t **profiles; /* per path, NULL when it could not be read */
	char **errors;        /* per path, why it could not be read, or NULL */
} snapset_t;

/* Adds path: a directory's snapshot files (every one with all, else the final ones,
 * see above; sorted by pid, then kind, then number), anything else as it is.  Returns
 * the number of paths added (0 for a directory without snapshots), or -ENOMEM, or a
 * negative errno when a directory cannot be listed. */
int snapset_add(snapset_t *set, const char *path, bool all);

/* Reads every file of the set, once each: a file named twice (DIR and DIR/FILE) is
 * dropped from paths the second time.  Returns the number that failed (their errors
 * say why), or -ENOMEM. */
int snapset_read(snapset_t *set);

/* The number of distinct pids among the profiles read (a file without a pid counts
 * as one process of its own). */
size_t snapset_processes(const snapset_t *set);

void snapset_free(snapset_t *set);
