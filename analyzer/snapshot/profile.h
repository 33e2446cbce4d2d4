/* profile.h - the in-memory heap profile shared by the snapshot writer and readers.
 *
 * A profile is what one snapshot file holds: header facts, the mappings (modules) the
 * frames live in, the symbolized locations, and one sample per unique (stack, domain)
 * with eight values (see enum profile_value).  The collector builds one and encodes it
 * as gzip-compressed pprof (pprof_encode.c); the readers decode a file back into one.
 *
 * All strings and arrays belong to the profile: strings are interned (equal strings
 * share one pointer, so grouping can compare pointers), and everything is released by
 * profile_free().  Indices, not pointers, link samples to locations and locations to
 * mappings, so the arrays may grow while a profile is being built.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sample values, in file order.  A file read from elsewhere may lack some:
 * profile_t.has_value says which were present. */
enum profile_value {
	PV_ALLOC_OBJECTS,
	PV_ALLOC_SPACE,
	PV_INUSE_OBJECTS,
	PV_INUSE_SPACE,
	PV_PEAK_OBJECTS,
	PV_PEAK_SPACE,
	PV_TEMPORARY_OBJECTS, /* blocks released before their thread allocated again */
	PV_TEMPORARY_SPACE,   /* their bytes */
	PV_COUNT
};

#define PROFILE_NONE UINT32_MAX

/* Sample domains: 0 is the heap, 1..65535 heapsnap_track() domains, and this one the
 * program's anonymous memory mappings (mmap, munmap, mremap). */
#define PROFILE_DOMAIN_MMAP 65536

typedef struct profile_line {
	const char *function; /* demangled name, or NULL when unknown */
	const char *file;     /* source file, or NULL when unknown */
	int64_t line;         /* 0 when unknown */
} profile_line_t;

typedef struct profile_mapping {
	uint64_t start;       /* first address of the mapping in the traced process */
	uint64_t limit;       /* one past its last address */
	uint64_t offset;      /* file offset that start corresponds to */
	const char *path;     /* module path, or NULL */
	const char *build_id; /* lowercase hex, or NULL */
} profile_mapping_t;

typedef struct profile_location {
	uint64_t address;       /* the frame's address in the traced process */
	uint32_t mapping;       /* index into profile_t.mappings, or PROFILE_NONE */
	uint32_t nlines;
	profile_line_t *lines;  /* innermost inlined function first, the real frame last */
} profile_location_t;

/* A sample's blocks of one power-of-two size class (a heapsnap extension,
 * docs/format.md): class c holds sizes in [2^(c-1), 2^c), class 0 the size 0. */
#define PROFILE_SIZE_CLASSES 64

typedef struct profile_size {
	uint32_t cls;
	int64_t alloc_blocks, alloc_bytes; /* allocated since tracing started */
	int64_t inuse_blocks, inuse_bytes; /* live at the snapshot */
} profile_size_t;

/* The size class of a block of size bytes. */
static inline uint32_t profile_size_class(uint64_t size)
{
	return size ? 64u - (uint32_t)__builtin_clzll(size) : 0u;
}

typedef struct profile_sample {
	uint32_t nlocs;
	uint32_t *locs;           /* indices into profile_t.locations, innermost first */
	int64_t value[PV_COUNT];  /* 0 for values the file does not have */
	int64_t domain;           /* 0 the heap, 1..65535 heapsnap_track(), PROFILE_DOMAIN_MMAP */
	bool truncated;           /* the stack had more frames than were kept */
	int64_t max_size;         /* the largest block, when profile_t.has_max_size */
	uint32_t nsizes;          /* size classes with blocks, by increasing class */
	profile_size_t *sizes;    /* when profile_t.has_sizes */
} profile_sample_t;

/* Header facts.  Numbers are -1 when the file does not say. */
typedef struct profile_meta {
	int64_t pid;
	const char *command;      /* the traced command line, or NULL */
	const char *trigger;      /* "signal 3", "exit", "killed by SIGSEGV", ... or NULL */
	int64_t time_nanos;       /* when the snapshot was taken (Unix epoch) */
	int64_t duration_nanos;   /* time since tracing started */
	int64_t frame_limit;      /* frames kept per stack */
	int64_t sampling_period;  /* 0: every allocation is traced */
	int64_t current_bytes;    /* traced bytes live at the snapshot */
	int64_t peak_bytes;       /* highest traced total so far */
	int64_t lost_events;      /* events that could not be recorded */
	int64_t untracked_events; /* allocations passed through untraced (shim re-entry) */
	int64_t corrupt_records;  /* ring or stack-table records the collector rejected */
	int64_t unmatched_frees;  /* frees of blocks never seen allocated */
	int64_t missed_frees;     /* blocks found replaced: their release was never seen */
	int64_t dropped_stacks;   /* events whose stack did not fit the stack table */
	int64_t merged_requests;  /* snapshot requests folded into this one */
	int64_t overhead_bytes;   /* the tracer's own memory */
	int64_t tracing_off;      /* 1: tracing was stopped (heapsnap stop, --off) */
} profile_meta_t;

/* Memory over time (a heapsnap extension; docs/format.md): the traced total over the
 * whole run in n points of equal width, each keeping its interval's lowest and highest
 * total so the peak is never smoothed away.  n is 0 when the file has none. */
typedef struct profile_timeline {
	uint32_t n;
	int64_t interval_nanos;  /* each point's width */
	int64_t *min_bytes;      /* point i covers [i, i+1) * interval_nanos after start */
	int64_t *max_bytes;
	int64_t peak_nanos;      /* when the traced total was highest, or -1 */
	uint32_t nsnaps;
	int64_t *snap_nanos;     /* when each snapshot request was seen, since start */
} profile_timeline_t;

#define PROFILE_TIMELINE_MAX 100000u /* points or snapshot moments a reader accepts */

typedef struct profile {
	profile_meta_t meta;
	profile_timeline_t timeline;
	bool has_value[PV_COUNT];
	bool has_max_size;  /* samples carry max_size (files before it do not) */
	bool has_sizes;     /* samples carry their size classes */

	profile_mapping_t *mappings;
	uint32_t nmappings;
	profile_location_t *locations;
	uint32_t nlocations;
	profile_sample_t *samples;
	size_t nsamples;

	/* Comments that are not heapsnap header facts, in file order. */
	const char **comments;
	uint32_t ncomments;

	struct profile_store *store; /* arena and string intern table; private */
} profile_t;

/* Returns a new empty profile with every meta number set to -1 and no value present,
 * or NULL when out of memory. */
profile_t *profile_new(void);
void profile_free(profile_t *p);

/* Returns the interned copy of s (NULL for NULL), or NULL when out of memory. */
const char *profile_intern(profile_t *p, const char *s);
const char *profile_intern_len(profile_t *p, const char *s, size_t len);

/* The bytes p's entries, arena blocks and strings take, without the slack of growing
 * arrays and allocator overhead: what readers weigh against their input's size. */
size_t profile_bytes(const profile_t *p);

/* Returns a zeroed block of n bytes that lives as long as p, or NULL. */
void *profile_alloc(profile_t *p, size_t n);

/* Each add function copies its input (strings are interned), stores the new entry's
 * index in *index_out and returns 0, or returns -ENOMEM and changes nothing. */
int profile_add_mapping(profile_t *p, const profile_mapping_t *m, uint32_t *index_out);
int profile_add_location(profile_t *p, uint64_t address, uint32_t mapping,
			 const profile_line_t *lines, uint32_t nlines, uint32_t *index_out);
int profile_add_sample(profile_t *p, const uint32_t *locs, uint32_t nlocs,
		       const int64_t value[PV_COUNT], int64_t domain, bool truncated);
int profile_add_comment(profile_t *p, const char *comment);
/* Makes room for n samples in all, so that adding them copies no array: a writer that
 * knows its count saves the growing array's copies and their fresh pages.  Returns 0
 * or -ENOMEM. */
int profile_reserve_samples(profile_t *p, size_t n);
/* Copies n size classes (increasing cls, each below PROFILE_SIZE_CLASSES) into sample
 * i.  Returns 0 or -ENOMEM, changing nothing then. */
int profile_set_sizes(profile_t *p, size_t i, const profile_size_t *rows, uint32_t n);
/* Copies a timeline of n points and nsnaps moments into p (replacing any).  Returns 0,
 * -EINVAL (n or nsnaps over PROFILE_TIMELINE_MAX) or -ENOMEM, changing nothing then. */
int profile_set_timeline(profile_t *p, const profile_timeline_t *t);

/* The pprof sample type names for each value ("alloc_objects", "inuse_space", ...)
 * and their units ("count" or "bytes"). */
const char *profile_value_type(enum profile_value v);
const char *profile_value_unit(enum profile_value v);
