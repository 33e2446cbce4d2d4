/* shmlayout.h - the shared-memory layout between the shim and the collector.
 *
 * One memfd holds a control block, the event ring and the stack table.  The shim (the
 * traced process) is the only writer of ring records and stack entries; the collector
 * is the only writer of the ring tail.  Everything the collector reads here may be
 * garbage (a buggy or hostile program can scribble over it), so it bounds-checks every
 * index and length before use (design.md invariant 6).
 *
 * Ring protocol: a producer reserves position p with one atomic add on `head`, waits
 * until p - tail < ring_cap, writes the record at slot p % ring_cap and publishes it by
 * storing seq = p + 1 with release order.  The collector consumes in position order: it
 * waits for seq == p + 1 (acquire), handles the record, then advances `tail` (release).
 *
 * Stack table: an insert-only open-addressing hash.  A slot goes 0 -> SLOT_BUSY (claimed
 * by CAS) -> hash (published with release once the entry and its frames are written).
 * Stack ids are dense indices into the entry array; id 0 is reserved for "unknown".
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#define HS_SHM_MAGIC 0x31504e5350414548ULL /* "HEAPSNP1" little-endian */
#define HS_SHM_VERSION 1

#define HS_FRAMES_DEFAULT 16
#define HS_FRAMES_MAX 256
#define HS_REQ_SLOTS 64
#define HS_COMMAND_MAX 4096

/* Stack id for an event whose stack is not known (table full, or none taken). */
#define HS_STACK_UNKNOWN 0u

enum hs_rec_kind {
	HS_REC_ALLOC = 1,   /* addr, size, stack, domain */
	HS_REC_FREE = 2,    /* addr, domain */
	HS_REC_NOOP = 3,    /* a reserved slot that turned out to record nothing */
};

struct hs_rec {
	_Atomic uint64_t seq; /* position + 1 once published */
	uint64_t addr;
	uint64_t size;
	uint32_t stack;
	uint16_t kind;
	uint16_t domain;
};

#define HS_STACK_TRUNCATED 1u /* the stack had more frames than the limit */

struct hs_stack {
	uint32_t first;   /* index of the first frame in the frame pool */
	uint16_t nframes; /* frames stored, innermost first */
	uint16_t flags;
};

#define HS_SLOT_BUSY 1u

/* One executable segment of a loaded module, registered by the shim before the first
 * stack with a frame in it is published. */
struct hs_module {
	uint64_t lo, hi;    /* the segment's addresses in the process */
	uint64_t bias;      /* load bias: process address - file virtual address */
	uint64_t offset;    /* file offset of lo */
	uint32_t path_off;  /* into the path area */
	uint32_t path_len;  /* without a terminating NUL */
};

struct hs_slot {
	_Atomic uint64_t hash; /* 0 empty, HS_SLOT_BUSY being filled, else the stack's hash */
	_Atomic uint32_t id;
	uint32_t pad;
};

enum hs_trace_state {
	HS_TRACING = 0,
	HS_GAVE_UP = 1, /* the shim stopped tracing: collector gone or stalled */
};

enum hs_collector_state {
	HS_COLLECTOR_STARTING = 0,
	HS_COLLECTOR_RUNNING = 1,
	HS_COLLECTOR_DONE = 2,
};

struct hs_request {
	_Atomic uint64_t n;   /* request number, written last */
	_Atomic uint64_t pos; /* ring position at the time of the request */
};

#define HS_CACHELINE 64

struct hs_ctl {
	/* Written once by the shim before the collector starts. */
	uint64_t magic;
	uint32_t version;
	uint32_t frame_limit;
	uint64_t total_size;
	uint64_t ring_off, ring_cap;       /* ring_cap is a power of two */
	uint64_t slots_off, slots_cap;     /* slots_cap is a power of two */
	uint64_t stacks_off, stacks_cap;   /* entries; id < stacks_cap */
	uint64_t frames_off, frames_cap;   /* uint64_t frame addresses */
	uint64_t modules_off, modules_cap; /* struct hs_module */
	uint64_t paths_off, paths_cap;     /* bytes of module paths */
	int32_t pid;
	int32_t signal;                    /* the snapshot signal, 0 for none */
	uint64_t start_nanos;              /* CLOCK_REALTIME when tracing started */
	uint32_t command_len;              /* bytes of command[] in use */
	char command[HS_COMMAND_MAX];      /* /proc/self/cmdline: NUL-separated argv */

	_Alignas(HS_CACHELINE) _Atomic uint64_t head; /* next position to reserve */
	_Alignas(HS_CACHELINE) _Atomic uint64_t tail; /* positions below are consumed */
	_Atomic uint32_t space_seq;                   /* futex: bumped when tail moves */
	_Atomic uint32_t space_waiters;               /* producers sleeping on space_seq */
	_Alignas(HS_CACHELINE) _Atomic uint32_t collector_sleeping; /* futex word */
	_Atomic uint32_t trace_state;                 /* enum hs_trace_state */
	_Atomic uint32_t collector_state;             /* enum hs_collector_state */
	_Atomic int32_t collector_pid;

	_Alignas(HS_CACHELINE) _Atomic uint64_t nstacks;     /* entries handed out */
	_Atomic uint64_t nframes;                            /* frame pool used */
	_Atomic uint64_t nmodules;         /* published module entries */
	uint64_t paths_used;               /* written under the shim's module lock */
	_Atomic uint64_t lost;             /* events not recorded after giving up */
	_Atomic uint64_t dropped_stacks;   /* events recorded with HS_STACK_UNKNOWN */
	_Atomic uint64_t exit_pos;         /* head at the shim's exit hook, +1; 0 = none */
	_Atomic uint32_t exec_pending;     /* set while this image calls exec */

	_Alignas(HS_CACHELINE) _Atomic uint64_t req_count; /* snapshot requests so far */
	struct hs_request req[HS_REQ_SLOTS];
};

/* The segment's layout as each side keeps it, privately: after setup (the shim) or
 * attach (the collector, which checks every field first), neither reads a size or
 * offset from shared memory again, where the program could change it. */
struct hs_geometry {
	struct hs_rec *ring;
	uint64_t ring_cap;
	struct hs_slot *slots;
	uint64_t slots_cap;
	struct hs_stack *stacks;
	uint64_t stacks_cap;
	uint64_t *frames;
	uint64_t frames_cap;
	struct hs_module *modules;
	uint64_t modules_cap;
	char *paths;
	uint64_t paths_cap;
};

static inline struct hs_rec *hs_ring(struct hs_ctl *c)
{
	return (struct hs_rec *)((char *)c + c->ring_off);
}

static inline struct hs_slot *hs_slots(struct hs_ctl *c)
{
	return (struct hs_slot *)((char *)c + c->slots_off);
}

static inline struct hs_stack *hs_stacks(struct hs_ctl *c)
{
	return (struct hs_stack *)((char *)c + c->stacks_off);
}

static inline struct hs_module *hs_modules(struct hs_ctl *c)
{
	return (struct hs_module *)((char *)c + c->modules_off);
}

static inline char *hs_paths(struct hs_ctl *c)
{
	return (char *)c + c->paths_off;
}

static inline uint64_t *hs_frames(struct hs_ctl *c)
{
	return (uint64_t *)((char *)c + c->frames_off);
}

/* Environment shared by heapsnap run and the shim.  HEAPSNAP_RUN_FD is FD:INODE. */
#define HS_ENV_COLLECTOR "HEAPSNAP_COLLECTOR"
#define HS_ENV_RUN_FD "HEAPSNAP_RUN_FD"
