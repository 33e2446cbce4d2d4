/* collector.h - the collector's view of one traced process image.
 *
 * It drains the shared ring in position order, keeps the live table and per-stack
 * counters (inuse, alloc since start, and at the traced peak with the O(1) epoch
 * method of design.md), copies each stack out of shared memory the first time it is
 * seen (so later scribbles cannot change it), and builds profiles for snapshots.
 * Blocks reported with heapsnap_track() live in domains of their own: an address may
 * be live in the heap and in a domain at once (a pool's first object is its arena).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addrtab.h"
#include "rangetab.h"
#include "profile.h"
#include "prim.h"
#include "ring.h"
#include "shmlayout.h"
#include "sizedist.h"
#include "symbolize.h"
#include "timeline.h"

struct stack_stats {
	int64_t inuse_bytes, inuse_blocks;
	int64_t alloc_bytes, alloc_blocks;
	int64_t peak_bytes, peak_blocks; /* valid when mod_epoch == the current epoch */
	uint64_t mod_epoch;              /* epoch of the last change */
	int64_t temp_bytes, temp_blocks; /* blocks released as temporary, and their bytes */
	sizedist_t sizes;                /* by size class, and the largest block */
};

struct stack_copy {
	uint32_t first;   /* into collector_t.frames / frame_modules */
	uint16_t nframes;
	uint8_t flags;
	uint8_t seen;     /* 1: copied; 2: its entry made no sense (every use is corrupt) */
};

/* An mremap whose old range was traced, until its REMAP_TO: one per thread in an
 * mremap at most, so a few suffice; the oldest is replaced (its REMAP_TO was lost). */
#define COLLECTOR_REMAPS 64
struct pending_remap {
	uint32_t key;   /* the REMAP_FROM's ring position, low 32 bits */
	uint32_t stack; /* the mremap call's */
	bool used;
};

struct domain_live;   /* the live table of a heapsnap_track() domain */
struct domain_stats;  /* a stack's counters in a heapsnap_track() domain */

typedef struct collector {
	struct hs_ctl *ctl;
	uint64_t shm_size;
	struct hs_geometry g;       /* copied and checked at attach */
	struct ring ring;           /* the consumer's view of g's ring */
	uint32_t frame_limit;       /* likewise */
	uint64_t start_nanos;
	uint64_t pos;           /* next ring position to consume */
	uint64_t requests_seen; /* snapshot requests the caller knows of (collector_drain) */
	pid_t pid;

	addrtab_t live;                  /* domain 0: the heap */
	struct domain_live *domains;     /* the other domains' live tables */
	rangetab_t mapped;               /* PROFILE_DOMAIN_MMAP: anonymous mappings */
	struct pending_remap remaps[COLLECTOR_REMAPS]; /* mremaps between FROM and TO */
	unsigned nremaps;
	struct stack_stats *stats;       /* domain 0, indexed by stack id */
	struct domain_stats *dstats;     /* other domains, by (stack, domain) */
	struct stack_copy *stacks;  /* indexed by stack id */
	uint64_t nstats;            /* entries of stats and stacks in use (zeroed when new) */
	uint64_t stats_cap;         /* entries allocated */
	uint64_t *frames;           /* private copies of stack frames */
	uint32_t *frame_modules;    /* module of each frame, or SYM_NO_MODULE */
	uint64_t nframes, frames_cap;
	uint64_t nmodules_seen;     /* shim module entries copied so far */
	uint64_t ring_mapped;       /* ring slots, stack entries and frames mapped ahead */
	uint64_t stacks_mapped, frames_mapped;

	int64_t current_bytes, peak_bytes;
	uint64_t epoch;             /* bumped at each new traced peak */

	uint64_t corrupt;           /* records rejected */
	uint64_t unmatched_frees;   /* frees of addresses not live */
	uint64_t missed_frees;      /* allocations at an address still live */
	uint64_t lost_at_end;       /* slots reserved but never published at the end */
	uint64_t events;            /* records consumed */

	symbolizer_t *sym;
	timeline_t timeline;        /* the traced total over time */

	bool active;                /* records are applied: started, not stopped */
	uint64_t sample_period;     /* bytes, 0 = exact (the shim's HEAPSNAP_SAMPLE) */
	int64_t block_unit;         /* blocks are counted in 1/block_unit: 1 when exact */
} collector_t;

/* Maps the segment in fd, unless mapped is its mapping already (then taken: unmapped
 * on failure, or by collector_detach()), and checks its header.  Returns 0, -EINVAL
 * (not a heapsnap segment, or sizes that do not fit the file) or -errno. */
int collector_attach(collector_t *c, int fd, pid_t pid, void *mapped);
void collector_detach(collector_t *c);

/* Consumes published records at positions below limit, at most max of them.  With
 * at_end (the process is gone), a slot that was reserved but never published is
 * counted in lost_at_end and skipped instead of waited for.  Until then it stops at a
 * record when more snapshot requests were made than requests_seen: a request's
 * position may be at or below a record published after it, and the caller must
 * answer it first.  Returns the number of positions consumed. */
uint64_t collector_drain(collector_t *c, uint64_t limit, uint64_t max, bool at_end);

/* Adds the unwind rules the process read from its modules' CFI (the segment's learnt
 * area) to their rules files, for the next process of the same binaries (cfifile.h).
 * Returns 0 or a negative errno; the files are only ever an optimisation. */
int collector_store_rules(collector_t *c);

/* Builds the profile of the current state.  Returns 0 and *out, or -ENOMEM. */
int collector_profile(collector_t *c, const char *trigger, uint64_t merged,
		      profile_t **out);

/* The per-stack counters and the traced peak (design.md, "What every snapshot
 * holds"): counting an allocation or a release of size bytes against stack counters s
 * first saves s's counters as its at-peak ones if s last changed before the current
 * peak, then updates s and the traced total; an allocation that makes a new traced
 * peak starts a new epoch.  O(1) each.  collector_peak_of gives s's bytes and blocks
 * at the traced peak. */
void collector_count_alloc(collector_t *c, struct stack_stats *s, int64_t size);
void collector_count_release(collector_t *c, struct stack_stats *s, int64_t size);
void collector_peak_of(const collector_t *c, const struct stack_stats *s, int64_t *bytes,
		       int64_t *blocks);

/* heapsnap start/stop/reset-peak (control.h), applied at a ring position: start
 * applies the records from here on; stop forgets every block and counter and ignores
 * the records from here on; reset-peak makes the current traced total the peak, and
 * each stack's current counters its at-peak ones. */
void collector_start(collector_t *c);
void collector_stop(collector_t *c);
void collector_reset_peak(collector_t *c);

/* The collector's own memory use, in bytes (tables, copies, caches). */
uint64_t collector_memory(const collector_t *c);
