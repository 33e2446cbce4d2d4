/* inputs.h - deterministic generated inputs for the corpus workloads.
 *
 * Every generator is a pure function of its arguments (a fixed LCG, no clock, no
 * pid), so two runs given the same arguments write the same bytes: the traced, the
 * untraced and the counted runs of a workload see identical input.  Each returns 0, or
 * a negative errno with the output possibly partial.
 */
#pragma once

#include <stddef.h>

/* A JSON array of `records` objects, one a line (ids, names, tags, nested arrays). */
int inputs_json(const char *path, long records);

/* `lines` text lines "WORD NUMBER WORD,INDEX" for sort, gzip and xz. */
int inputs_lines(const char *path, long lines);

/* An SQL script for sqlite3: a table of `rows` rows, an index, joins, aggregates. */
int inputs_sql(const char *path, long rows);

/* A C++ file with `functions` small classes and functions, with defects cppcheck finds. */
int inputs_cxx(const char *path, long functions);

/* A source tree for git: `dirs` directories of `files` text files each, all with the
 * same mtime, long past. */
int inputs_tree(const char *dir, int dirs, int files);

/* A make project in dir: a Makefile whose bash recipes sort and count `sources`
 * generated word lists (a process tree of make, bash, sort, uniq, wc, awk...). */
int inputs_make(const char *dir, int sources);

/* Removes path recursively (a file or a directory); 0 when it does not exist. */
int inputs_remove(const char *path);
