/* shmlayout.h - the shared-memory contract between the shim and the collector.
 *
 * One memfd holds a control block, the event ring and the stack table.  The shim (the
 * traced process) is the only writer of ring records and stack entries; the collector
 * is the only writer of the ring tail.  Everything the collector reads here may be
 * garbage (a buggy or hostile program can scribble over it), so it bounds-checks every
 * index and length before use (design.md invariant 6).
 *
 * The contract is this header with its siblings, each compiled into both sides:
 * shmlayout.c computes the layout (both sides, one function) and checks a header
 * someone else wrote; ring.h/ring.c hold the ring protocol; prim.h/prim.c the futex,
 * clock, /proc and signal primitives.  Nothing in them reads an offset from shared
 * memory after the layout was checked: each side keeps its own struct hs_geometry.
 *
 * Stack table: an insert-only open-addressing hash.  A slot goes 0 -> SLOT_BUSY (claimed
 * by CAS) -> hash (published with release once the entry and its frames are written).
 * Stack ids are dense indices into the entry array; id 0 is reserved for "unknown".
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_SHM_MAGIC 0x31504e5350414548ULL /* "HEAPSNP1" little-endian */
#define HS_SHM_VERSION 6

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
	/* A FREE of the block the releasing thread allocated last, with no allocation by
	 * that thread in between: a temporary allocation. */
	HS_REC_FREE_TEMPORARY = 4, /* addr, domain */
	/* Anonymous memory mappings, the mmap domain (size in bytes, whole pages). */
	HS_REC_MAP = 5,        /* addr, size, stack: a new mapping; replaces what it overlaps */
	HS_REC_UNMAP = 6,      /* addr, size: the range is no longer traced memory */
	HS_REC_REMAP_FROM = 7, /* addr, size, stack: mremap's old range, reserved before the
				* call; stack is the call's, for the new range */
	HS_REC_REMAP_TO = 8,   /* addr, size: mremap's new range, recorded after the call; a
				* mapping only when its REMAP_FROM took traced bytes (the old
				* range was anonymous); stack = that REMAP_FROM's position,
				* low 32 bits */
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

/* An unwind rule the shim learnt from the CFI (cfi.c), for the collector to keep on
 * disk with the module's others (cfifile.h).  Entries are handed out by nlearnt and
 * written, then marked ready (release); the collector reads only ready ones.  When the
 * area is full, later rules are not kept: this is a cache, not an event. */
struct hs_learnt {
	uint64_t ip;     /* the return address, in the process */
	int32_t off;
	int16_t rbp_off;
	uint8_t kind;    /* enum hs_cfi_kind */
	_Atomic uint8_t ready;
};

#define HS_LEARNT_CAP 32768u

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

/* A table of the segment in two parts: its first head_cap items in the segment's first
 * HS_REGION bytes, the rest (cap - head_cap items, maybe none) after the ring.  Each
 * table is written from its first item on, so a short process touches only the heads,
 * which with the control block and the start of the ring make one page-table page on
 * each side.  A run of items (a stack's frames, a module's path) never spans both
 * parts (hs_run_ok). */
struct hs_table {
	uint64_t head_off, head_cap; /* head_cap items at head_off */
	uint64_t tail_off, cap;      /* items head_cap .. cap - 1 at tail_off */
};

/* Where each area lies in the segment: a pure function of the two capacities, so both
 * sides compute it the same way and the collector never has to believe an offset. */
struct hs_layout {
	uint64_t total;              /* bytes in the segment */
	uint64_t ring_off, ring_cap; /* ring_cap is a power of two */
	struct hs_table modules;     /* struct hs_module */
	struct hs_table paths;       /* bytes of module paths */
	struct hs_table learnt;      /* struct hs_learnt */
	struct hs_table stacks;      /* struct hs_stack; id < cap */
	struct hs_table frames;      /* uint64_t frame addresses */
	struct hs_table slots;       /* struct hs_slot; cap is a power of two */
};

/* The segment is mapped at an address that is a multiple of HS_REGION, the span of one
 * page-table page: the first HS_REGION bytes then cost one such page, each other
 * region touched one more (on a paravirtualised VM, each a hypervisor call to set up
 * and another to free, in the program and again in its collector). */
#define HS_REGION (2u << 20)
#define HS_PAGE 4096u

/* The stack table's slots grow in levels (stacktab.c): level 0 is the first
 * HS_SLOTS_LEVEL0 slots, level k >= 1 the next HS_SLOTS_LEVEL0 << (k-1). */
#define HS_SLOTS_LEVEL0 1024u

struct hs_request {
	_Atomic uint64_t n;   /* request number, written last */
	_Atomic uint64_t pos; /* ring position at the time of the request */
};

#define HS_CACHELINE 64

/* In hs_ctl.signal_taken, with the signal. */
#define HS_SIGNAL_AT_START 0x10000 /* not at its default action at start */
#define HS_SIGNAL_IGNORED 0x20000  /* set to SIG_IGN by the program */

struct hs_ctl {
	/* Written once by the shim before the collector starts. */
	uint64_t magic;
	uint32_t version;
	uint32_t frame_limit;
	struct hs_layout layout;           /* see hs_layout_compute() */
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
	/* Robust and process-shared, held by the collector for its whole life: when it
	 * dies the kernel marks the holder dead, which the shim sees whatever PID
	 * namespace either lives in (ring_collector_alive()). */
	pthread_mutex_t collector_alive;

	_Alignas(HS_CACHELINE) _Atomic uint64_t nstacks;     /* entries handed out */
	_Atomic uint64_t nframes;                            /* frame pool used */
	_Atomic uint64_t nmodules;         /* published module entries */
	_Atomic uint64_t nlearnt;          /* learnt rules handed out (may pass the cap) */
	uint64_t paths_used;               /* written under the shim's module lock */
	_Atomic uint64_t lost;             /* events not recorded after giving up */
	_Atomic uint64_t dropped_stacks;   /* events recorded with HS_STACK_UNKNOWN */
	_Atomic uint64_t exit_pos;         /* head at the shim's exit hook, +1; 0 = none */
	_Atomic int32_t exit_code;         /* the status _exit was given, + 1; 0 = unknown */
	uint32_t pad_exit;
	_Atomic uint32_t exec_pending;     /* set while this image calls exec */
	_Atomic uint32_t detached;         /* heapsnap detach: write the last file and end */

	_Alignas(HS_CACHELINE) _Atomic uint64_t req_count; /* snapshot requests so far */
	struct hs_request req[HS_REQ_SLOTS];

	/* Leaving it on (analyzer/collect/control.h).  `recording` is read by every traced
	 * call and written only at start and stop: the shim sets it at creation (0 for
	 * HEAPSNAP_START=off), then only the collector changes it, to 0 at a stop and to
	 * a new generation at each start.  The shim's set of sampled blocks keys its
	 * entries by generation, so a start forgets every earlier sample. */
	_Alignas(HS_CACHELINE) _Atomic uint32_t recording;
	/* Under heapsnap run, the snapshot signal once it is not heapsnap's: the program
	 * put a handler of its own on it (HS_SIGNAL_IGNORED: SIG_IGN), or with
	 * HS_SIGNAL_AT_START it was not at its default action at start.  The collector
	 * tells run, which says it on its own stderr, not the program's. */
	_Atomic int32_t signal_taken;
	uint64_t sample_period; /* written once by the shim: bytes, 0 = exact tracing */
};

/* A table as mapped on one side (struct hs_table). */
struct hs_part {
	char *head, *tail;
	uint64_t head_cap, cap;
};

/* The segment's layout as each side keeps it, privately: after setup (the shim) or
 * attach (the collector, which checks every field first), neither reads a size or
 * offset from shared memory again, where the program could change it. */
struct hs_geometry {
	struct hs_rec *ring;
	uint64_t ring_cap;
	struct hs_part modules, paths, learnt, stacks, frames, slots;
};

/* Item i (< p->cap) of a table whose items are size bytes. */
static inline void *hs_item(const struct hs_part *p, uint64_t i, size_t size)
{
	return i < p->head_cap ? p->head + i * size : p->tail + (i - p->head_cap) * size;
}

/* Whether items [i, i + n) are all in the table, and in one of its parts: only then
 * are they contiguous in memory. */
static inline bool hs_run_ok(const struct hs_part *p, uint64_t i, uint64_t n)
{
	return i <= p->cap && n <= p->cap - i && (i >= p->head_cap || n <= p->head_cap - i);
}

static inline struct hs_module *hs_module_at(const struct hs_geometry *g, uint64_t i)
{
	return hs_item(&g->modules, i, sizeof(struct hs_module));
}

static inline struct hs_learnt *hs_learnt_at(const struct hs_geometry *g, uint64_t i)
{
	return hs_item(&g->learnt, i, sizeof(struct hs_learnt));
}

static inline struct hs_stack *hs_stack_at(const struct hs_geometry *g, uint64_t id)
{
	return hs_item(&g->stacks, id, sizeof(struct hs_stack));
}

static inline struct hs_slot *hs_slot_at(const struct hs_geometry *g, uint64_t i)
{
	return hs_item(&g->slots, i, sizeof(struct hs_slot));
}

/* The first of a run of frames or path bytes (hs_run_ok checked by the caller). */
static inline uint64_t *hs_frames_at(const struct hs_geometry *g, uint64_t first)
{
	return hs_item(&g->frames, first, sizeof(uint64_t));
}

static inline char *hs_path_at(const struct hs_geometry *g, uint64_t off)
{
	return hs_item(&g->paths, off, 1);
}

#define HS_RING_MIN 1024u
#define HS_RING_MAX (1u << 26)
#define HS_STACKS_MIN 1024u
#define HS_STACKS_MAX (1u << 24)

/* Computes the layout for a ring of ring_cap records (a power of two in
 * [HS_RING_MIN, HS_RING_MAX]) and a stack table of stacks_cap entries (in
 * [HS_STACKS_MIN, HS_STACKS_MAX]).  Returns 0, or -EINVAL for capacities out of range
 * (*out untouched). */
int hs_layout_compute(uint64_t ring_cap, uint64_t stacks_cap, struct hs_layout *out);

/* Writes the header of a new segment of l->total bytes at ctl. */
void hs_layout_write(struct hs_ctl *ctl, const struct hs_layout *l, uint32_t frame_limit);

/* Reads the header of a segment of total bytes that someone else wrote, each field
 * once, and checks it: magic, version, frame limit, and every offset and capacity
 * against hs_layout_compute() of its capacities.  Returns 0 with *out filled, or
 * -EINVAL. */
int hs_layout_read(const struct hs_ctl *ctl, uint64_t total, struct hs_layout *out,
		   uint32_t *frame_limit);

/* The areas of the segment mapped at ctl, from a computed or checked layout. */
struct hs_geometry hs_geometry_of(struct hs_ctl *ctl, const struct hs_layout *l);

/* Segments kept for the next image.  Under heapsnap run, the host keeps the segment of
 * an image whose process has ended (or exec'd), zeroes the pages it used, writes
 * HS_POOL_MAGIC as its magic and offers it in run's private directory (the directory
 * of HEAPSNAP_RUN_SOCKET) as "pool.N", N below HS_POOL_SLOTS: a symbolic link to the
 * memfd among the host's open files.  A new image claims one by renaming it to
 * "claim.PID", opens that, and unlinks it; it takes the segment only when it has the
 * size it wants, its seals, and HS_POOL_MAGIC, which it clears first with a
 * compare-and-swap.  Its pages are then already the segment's: on the machines we
 * measure on, a fresh shared page cost 5-7 us to allocate, to fault in on both sides
 * and to free again, where a kept one is mapped for a fraction of that. */
#define HS_POOL_MAGIC 0x4c4f4f50504e5348ULL /* "HSNPPOOL" little-endian */
#define HS_POOL_SLOTS 8u

/* Environment shared by heapsnap run and the shim.  HEAPSNAP_RUN_SOCKET is the path of
 * run's SOCK_SEQPACKET socket; every traced image connects to it for its collector. */
#define HS_ENV_COLLECTOR "HEAPSNAP_COLLECTOR"
#define HS_ENV_RUN_SOCKET "HEAPSNAP_RUN_SOCKET"
