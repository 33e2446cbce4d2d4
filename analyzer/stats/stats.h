/* stats.h - tracemalloc-style statistics and comparisons of heap profiles.
 *
 * stats_group() is Snapshot.statistics(): it charges every sample of a profile to one
 * frame of its stack (the innermost one outside the allocator runtime), groups the
 * samples by a key of that frame (or of the whole stack) and sorts the groups.
 * stats_compare() is Snapshot.compare_to(): it groups two profiles the same way and
 * matches the groups by their symbolized key (strings, never addresses).  The results
 * are plain structs; format.h renders them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

enum stats_key {
	STATS_KEY_LINENO,    /* file and line of the charged frame */
	STATS_KEY_FILENAME,  /* file of the charged frame */
	STATS_KEY_FUNCTION,  /* function, its file and its module */
	STATS_KEY_TRACEBACK, /* every frame from the charged one outward */
};

enum stats_metric {
	STATS_METRIC_INUSE, /* PV_INUSE_SPACE, PV_INUSE_OBJECTS */
	STATS_METRIC_PEAK,  /* PV_PEAK_SPACE, PV_PEAK_OBJECTS */
	STATS_METRIC_ALLOC, /* PV_ALLOC_SPACE, PV_ALLOC_OBJECTS */
	STATS_METRIC_TEMPORARY, /* PV_TEMPORARY_SPACE, PV_TEMPORARY_OBJECTS */
	STATS_METRIC_COUNT
};

/* At most this many filters per grouping. */
#define STATS_MAX_FILTERS 64

/* tracemalloc's Filter: pattern is an fnmatch(3) glob on the file name without
 * FNM_PATHNAME (so '*' matches '/'), case-sensitive; a frame without a file name is
 * matched as "".  lineno < 0 matches any line.  all_frames false tests the charged
 * frame only; true tests every frame of the stack.  A sample is kept iff there is no
 * inclusive filter or some inclusive filter matches, and no exclusive filter matches. */
typedef struct stats_filter {
	bool inclusive;
	const char *pattern;
	int64_t lineno;
	bool all_frames;
} stats_filter_t;

typedef struct stats_options {
	enum stats_key key;
	enum stats_metric metric;
	/* Every frame from the charged one outward adds to its own key, except frames that
	 * charging skips (runtime, --skip); a key met twice in a stack counts twice.  Not
	 * with STATS_KEY_TRACEBACK. */
	bool cumulative;
	/* Charge allocator runtime frames too: frames in runtime modules
	 * (stats_module_is_runtime()) and in system headers (stats_file_is_runtime()). */
	bool keep_runtime;
	/* Function-name globs also skipped when charging.  A glob is matched against the
	 * function's qualified name (cxxname_qualified(): no return type, no parameters),
	 * so "std::*" matches "void std::vector<int>::push_back(int const&)"; a glob with
	 * a '(' is matched against the whole demangled name. */
	const char *const *skip;
	size_t nskip;
	/* Source-file globs also skipped when charging ('*' matches '/', as filters). */
	const char *const *skip_files;
	size_t nskip_files;
	const stats_filter_t *filters;
	size_t nfilters;   /* at most STATS_MAX_FILTERS */
	bool has_domain;   /* keep only samples of this domain */
	int64_t domain;
	/* 0 sorts every entry; N > 0 guarantees only that the first N entries are the
	 * greatest, in order (the others follow unordered), which is much faster for a
	 * top N of many entries; SIZE_MAX leaves every entry unordered. */
	size_t sort_limit;
} stats_options_t;

/* One symbolized frame, or the key of a group.  Strings belong to the profile.  address
 * is the frame's offset in its module (its absolute address when the mapping is
 * unknown); it is set only when both function and file are unknown, and is then part
 * of the frame's identity, so distinct unknown sites never merge. */
typedef struct stats_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	int64_t line;         /* 0 when unknown */
	const char *module;   /* basename of the mapping path, or NULL */
	uint64_t address;
	bool empty;           /* the sample had no frames at all */
} stats_frame_t;

/* One group.  For STATS_KEY_LINENO, site.function and site.module are those of the
 * first frame seen with that file and line (informative, not part of the key).  For
 * STATS_KEY_TRACEBACK, frame_ids lists the stack from the charged frame outward as
 * indices into frame_table; nframes is 0 for other keys. */
typedef struct stats_entry {
	stats_frame_t site;
	int64_t size, count;
	int64_t size_diff, count_diff; /* stats_compare() only: new minus old */
	/* The largest block allocated by a stack of the group, over the run (0 when the
	 * profile has no max_size; in a comparison, of the new side). */
	int64_t max_size;
	const stats_frame_t *frame_table;
	const uint32_t *frame_ids;
	uint32_t nframes;
	bool truncated; /* some sample of the group had a cut stack */
} stats_entry_t;

typedef struct stats {
	enum stats_key key;
	enum stats_metric metric;
	bool cumulative;
	bool is_diff;
	stats_entry_t *entries; /* sorted, see stats_group() and stats_compare() */
	size_t nentries;
	/* Sums over every sample kept by the filters (for cumulative, each sample once). */
	int64_t total_size, total_count;
	int64_t total_size_diff, total_count_diff;
	bool has_max_size; /* every profile (the new side's, in a comparison) has max_size */
	struct stats_store *store; /* private */
} stats_t;

/* The frame at position i (0 = charged frame) of a traceback entry. */
static inline const stats_frame_t *stats_entry_frame(const stats_entry_t *e, uint32_t i)
{
	return &e->frame_table[e->frame_ids[i]];
}

/* Groups the samples of p.  Entries are sorted (see sort_limit) by (size, count, key)
 * descending, where keys compare by file, line, function, module, address (strings by
 * strcmp, NULL first), then for tracebacks frame by frame and shorter first.  The result points
 * into p, which must outlive it.  Returns 0 and sets *out; -ENODATA when p has no
 * space values for the metric; -EINVAL for bad options (cumulative traceback, too
 * many filters); -EOVERFLOW when a sum of values would not fit an int64 (cumulative
 * grouping charges a sample once per frame, so its sums can outgrow the file's);
 * -ENOMEM.  *out is untouched on failure. */
int stats_group(const profile_t *p, const stats_options_t *opt, stats_t **out);

/* Groups old_p and new_p and matches groups by key.  A key only in new_p has diffs
 * equal to its size and count; one only in old_p has size 0 and negative diffs.
 * Entries are sorted (see sort_limit) by (|size_diff|, size, |count_diff|, count, key)
 * descending.
 * Both profiles must outlive the result.  Returns as stats_group(). */
int stats_compare(const profile_t *old_p, const profile_t *new_p, const stats_options_t *opt,
		  stats_t **out);

/* Groups the samples of n profiles together, as pprof merges profiles: each profile
 * is grouped as by stats_group(), and groups with the same symbolized key (matched as
 * stats_compare() matches them) are added up; totals are sums.  With the peak metric
 * each profile contributes its own peak breakdown, so the result is an upper bound of
 * what the processes held at any one moment together.  n == 1 is stats_group().  The
 * profiles must outlive the result.  Returns as stats_group(), or -EINVAL when n is 0. */
int stats_merge(const profile_t *const *ps, size_t n, const stats_options_t *opt,
		stats_t **out);

/* stats_compare() of two merges: the old side is stats_merge() of old_ps, the new
 * side of new_ps.  Returns as stats_merge(). */
int stats_compare_many(const profile_t *const *old_ps, size_t nold,
		       const profile_t *const *new_ps, size_t nnew, const stats_options_t *opt,
		       stats_t **out);

/* Sets kept[i] (room for p->nsamples) to whether opt's filters and domain keep sample
 * i of p, charged as stats_group() charges it (opt's key, metric and cumulative are
 * ignored: every sample that allocated is considered).  Returns 0, -ENODATA when p
 * has no alloc values, -EINVAL for bad options, -ENOMEM. */
int stats_filter_samples(const profile_t *p, const stats_options_t *opt, bool *kept);

void stats_free(stats_t *s);

/* Sums the entries past the first limit ones into *rest (sizes, counts and diffs) and
 * returns how many there are; limit 0 means none are past it. */
size_t stats_rest(const stats_t *s, size_t limit, stats_entry_t *rest);

/* Sums every sample's values of p into totals (all domains).  The sums fit: for a
 * profile from pprof_read_file() the magnitudes of each kind add up below 2^62. */
void stats_totals(const profile_t *p, int64_t totals[PV_COUNT]);

/* The values a metric reads, and names for keys and metrics ("lineno", "inuse",
 * "temporary"). */
enum profile_value stats_metric_space(enum stats_metric m);
enum profile_value stats_metric_objects(enum stats_metric m);
const char *stats_key_name(enum stats_key k);
const char *stats_metric_name(enum stats_metric m);
/* Writes what a file lacking metric m's values is missing, and why it may: "no peak
 * values (not a heapsnap snapshot?)", "no temporary values (written before ...)". */
void stats_metric_missing(enum stats_metric m, char *out, size_t len);

/* Parses a key or metric name; returns 0, or -EINVAL leaving *out untouched. */
int stats_key_parse(const char *name, enum stats_key *out);
int stats_metric_parse(const char *name, enum stats_metric *out);

/* Domains on the command line: "heap" or 0, "mmap" (PROFILE_DOMAIN_MMAP), 1..65535
 * for heapsnap_track() domains, or "all" (*all set: every domain added together).
 * Returns 0, or -EINVAL leaving the outputs untouched. */
int stats_domain_parse(const char *name, bool *all, int64_t *out);
/* A domain's name: "heap", "mmap" or its number, in buf when it needs it. */
const char *stats_domain_name(int64_t domain, char buf[24]);

/* What the domains opt does not show hold, by the metric of opt. */
typedef struct stats_domain_sum {
	int64_t domain;
	int64_t size, count;
	int64_t size_diff, count_diff; /* stats_other_domains_diff(): new less old */
} stats_domain_sum_t;

/* Sums, per domain other than opt->domain, the metric's values of every sample of the
 * n profiles (no filter applies: they select lines, not domains), in increasing domain
 * order, leaving out domains that hold nothing.  *out (for the caller to free) and *n_out
 * are empty when opt shows every domain.  Returns 0 or -ENOMEM. */
int stats_other_domains(const profile_t *const *ps, size_t n, const stats_options_t *opt,
			stats_domain_sum_t **out, size_t *n_out);

/* The same for a comparison: each domain's sums in the new profiles, with what they
 * grew by since the old ones; domains that hold nothing on either side are left out. */
int stats_other_domains_diff(const profile_t *const *old_ps, size_t nold,
			     const profile_t *const *new_ps, size_t nnew,
			     const stats_options_t *opt, stats_domain_sum_t **out, size_t *n_out);

/* Whether a module (mapping path basename) belongs to the allocator runtime: the shim,
 * libc, libstdc++, libgcc_s, the dynamic loader, jemalloc, tcmalloc. */
bool stats_module_is_runtime(const char *module);

/* Whether a source file lies under a system or toolchain include directory, whose
 * inlined code (std::vector, std::string, std::make_shared...) is allocator runtime:
 * /usr/include, /usr/local/include, GCC's /usr/lib/gcc/TARGET/N/include and
 * include-fixed, LLVM's /usr/lib/llvm-N/include and /usr/lib/llvm-N/lib/clang/N/include.
 * "." and ".." components are resolved first, so
 * "/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/new" is one.  NULL is
 * not. */
bool stats_file_is_runtime(const char *file);

/* Whether a frame's function belongs to the C++ runtime by its name, wherever it was
 * linked: the global operators new and delete (a program's own too: the allocation's
 * site is the new-expression), and, in a frame without a source file, the standard
 * library's namespaces and its ABI's __cxa_ functions (libstdc++ linked statically,
 * -static-libstdc++ or GCC's own compilers).  NULL is not. */
bool stats_function_is_runtime(const char *function, const char *file);

/* Whether charging skips frame f under opt: a runtime frame (module_runtime, its
 * module's stats_module_is_runtime(), a system header file, or
 * stats_function_is_runtime()) unless keep_runtime,
 * or a frame that a --skip or --skip-file glob of opt matches.  Returns false when
 * out of memory for a --skip test. */
bool stats_frame_skipped(const stats_options_t *opt, const stats_frame_t *f,
			 bool module_runtime);
