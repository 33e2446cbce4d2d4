/* snapread.h - reading a snapshot file for a subcommand, reporting failure once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "profile.h"
#include "snapset.h"
#include "stats.h"

/* Reads the snapshot at path.  On failure prints "heapsnap: cannot read 'PATH': WHY"
 * on stderr and returns NULL. */
profile_t *snapread(const char *path);

/* Adds each of paths (files, or directories: snapset_add() with all) to set and reads
 * them all, warning on stderr of any file that misses events.  Returns 0, or 1 after
 * saying on stderr what could not be listed or read (cmd names the command). */
int snapread_set(snapset_t *set, const char *cmd, const char *const *paths, size_t n, bool all);

/* Says "heapsnap: WHAT 'PATH': WHY" on stderr, PATH with control characters escaped. */
void snapread_say_path(const char *what, const char *path, const char *why);

/* Parses a whole decimal number into *out; returns false (out untouched) if s is not
 * one or is out of range. */
bool snapread_int64(const char *s, int64_t *out);

/* Sets opt's domain from a --domain argument (stats_domain_parse()); returns 0, or
 * -EINVAL with opt untouched. */
int snapread_domain(const char *arg, stats_options_t *opt);

/* Makes an include or exclude filter from "PATTERN[:LINE]" (the pattern copied, for
 * the caller to free).  Returns 0, or -ENOMEM with *out untouched. */
int snapread_filter(const char *arg, bool inclusive, stats_filter_t *out);
