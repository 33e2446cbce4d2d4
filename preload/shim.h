/* shim.h - internal interfaces of libheapsnap.so, the preloaded tracing shim.
 *
 * preload/ may use libc, libunwind and its own headers only (see docs/architecture.md).
 * Nothing here allocates from the program's heap: the shim's memory comes from mmap.
 * Every function is hidden; only the wrapped allocator symbols are exported.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfifile.h"
#include "prim.h"
#include "ring.h"
#include "shmlayout.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* libheapsnap-attach.so, loaded into a running process by dlopen, cannot have its
 * thread-locals in the static TLS block (too small): it is built with dynamic TLS. */
#ifdef HEAPSNAP_DYNAMIC_TLS
#define TLS_IE
#else
#define TLS_IE __attribute__((tls_model("initial-exec")))
#endif

/* Global tracing state of this process image. */
enum shim_state {
	SHIM_UNINIT = 0,        /* nothing set up yet */
	SHIM_ON = 1,            /* tracing */
	SHIM_OFF = 2,           /* not tracing (disabled, failed to start, or gave up) */
	SHIM_CHILD_PENDING = 3, /* forked child: set up afresh at its first event */
};

extern _Atomic int shim_state HIDDEN;
/* Set once tracing gave up (collector gone or stalled): events are then counted. */
extern _Atomic int shim_gave_up HIDDEN;
/* Nesting guard: set while the shim works, so allocations it causes pass through. */
extern __thread int shim_guard TLS_IE HIDDEN;

/* shim.c: the real definition of name further down the lookup order (dlsym with
 * RTLD_NEXT, under the guard: dlsym may allocate), or NULL. */
void *shim_next_symbol(const char *name) HIDDEN;

/* options.c: HEAPSNAP_* settings, read once. */
struct shim_options {
	unsigned frames;        /* HEAPSNAP_FRAMES: frames kept per stack, 1..256 */
	int signal;             /* HEAPSNAP_SIGNAL: 0 for none */
	uint64_t ring_records;  /* HEAPSNAP_RING: ring capacity, a power of two */
	uint64_t stacks;        /* HEAPSNAP_STACKS: stack table capacity */
	bool stacks_set;        /* HEAPSNAP_STACKS was given (else sized to RLIMIT_AS) */
	double stall_timeout;   /* HEAPSNAP_STALL_TIMEOUT: seconds, 0 = wait forever */
	const char *dir;        /* HEAPSNAP_DIR, or NULL for the start directory */
	const char *collector;  /* HEAPSNAP_COLLECTOR: path of the heapsnap binary */
	const char *run_socket; /* HEAPSNAP_RUN_SOCKET: heapsnap run's socket, or NULL */
	bool disabled;          /* HEAPSNAP_DISABLE=1, or a setuid/setgid program */
	bool start_off;         /* HEAPSNAP_START=off: dormant until heapsnap start */
	uint64_t sample_period; /* HEAPSNAP_SAMPLE: bytes, 0 = exact tracing */
	bool verify_unwind;     /* HEAPSNAP_VERIFY_UNWIND=1: check the fast unwinder */
};
extern struct shim_options shim_opt HIDDEN;
void options_load(void) HIDDEN;

/* report.c: one line on stderr with raw write(2); never allocates.  report_init()
 * notes which file stderr is, at setup: later lines go only to that file. */
void report(const char *fmt, ...) HIDDEN __attribute__((format(printf, 1, 2)));
void report_init(void) HIDDEN;

/* segment.c: this process image's shared segment.  Its layout is kept privately (see
 * struct hs_geometry): the hot path reads no sizes from shared memory, and a program
 * scribbling over the segment cannot steer the shim's writes outside it. */
struct segment {
	struct hs_ctl *ctl; /* NULL when this image has none (untraced, or a new child) */
	uint64_t size;
	struct hs_geometry geo;
	struct ring ring;
	uint64_t sample_period; /* 0: exact tracing */
	_Atomic unsigned slot_levels_mapped; /* the stack table's levels below are mapped */
};
extern struct segment shim_seg HIDDEN;
/* Creates, sizes, seals and maps a segment for these options, and fills *s.  Its
 * command is the one this image read from /proc, read again unless parent is set (a
 * forked child's copy of its parent's segment: the same argv).  The new mapping
 * replaces parent's when the two are the same size, and *parent is then cleared.
 * Returns the memfd (close-on-exec) or a negative errno, *s untouched. */
int segment_create(struct segment *s, const struct shim_options *o,
		   struct segment *parent) HIDDEN;
void segment_unmap(struct segment *s) HIDDEN;

/* Items [first, first + n) of table p, in one of its parts, are about to be written
 * for the first time: prim_populate_ahead() for that part. */
static inline void segment_populate_ahead(const struct hs_part *p, uint64_t first, uint64_t n,
					  size_t size)
{
	if (first < p->head_cap)
		prim_populate_ahead(p->head, first, n, p->head_cap, size);
	else
		prim_populate_ahead(p->tail, first - p->head_cap, n, p->cap - p->head_cap, size);
}

/* tracing.c: setting up (from SHIM_UNINIT or SHIM_CHILD_PENDING), and the exit hook. */
void tracing_setup(void) HIDDEN;
void tracing_exit(void) HIDDEN;

/* exec.c: finds the exec wrappers' real functions now (before a fork). */
void exec_resolve(void) HIDDEN;

/* trace.c: recording, in a domain: 0 for the heap, 1..65535 for heapsnap_track()
 * blocks.  An allocation is recorded after the real call, a release before it. */
void trace_alloc(struct segment *s, const void *p, size_t size, uint16_t domain) HIDDEN;
/* Under sampling (sample.h), the bytes this thread has left to its next sampling point
 * (0 until its first allocation).  trace_unsampled() is the fast path of trace_alloc()
 * for a heap block, inline in the wrappers: true when the block does not reach the
 * point (it is counted, and nothing else happens); false when trace_alloc() must
 * decide. */
extern __thread int64_t trace_sample_left TLS_IE HIDDEN;
static inline bool trace_unsampled(const struct segment *s, size_t size)
{
	if (!s->sample_period || (uint64_t)size >= (uint64_t)trace_sample_left)
		return false;
	trace_sample_left -= (int64_t)size;
	return true;
}
void trace_free(struct segment *s, const void *p, uint16_t domain) HIDDEN;
/* realloc: reserve the release of the old block before the real call (RING_NO_POS
 * after giving up, or when sampling and old was not sampled)... */
uint64_t trace_reserve(struct segment *s, const void *old) HIDDEN;
/* ...and settle it afterwards: a FREE of old, or a NOOP when the call failed. */
void trace_settle(struct segment *s, uint64_t pos, const void *old, bool freed) HIDDEN;
/* Memory mappings (mmap.c), never sampled: reserve a position, publish a record at it,
 * or record a MAP (with the caller's stack) or UNMAP at once.  Sizes are whole pages. */
uint64_t trace_reserve_range(struct segment *s) HIDDEN;
void trace_put(struct segment *s, uint64_t pos, unsigned kind, const void *addr,
	       uint64_t size, uint32_t stack) HIDDEN;
void trace_range(struct segment *s, unsigned kind, const void *addr, uint64_t size) HIDDEN;
/* Counts events that tracing no longer records (after giving up). */
void trace_count_lost(struct segment *s, unsigned events) HIDDEN;
/* Forgets this thread's view of the ring (a new segment). */
void trace_thread_reset(void) HIDDEN;

/* sampleset.c: the addresses of the live sampled blocks, in generation gen (the
 * segment's `recording`).  Lock-free; insert returns false when the block cannot be
 * held (its bucket is full), take whether it was there (and removes it). */
int sampleset_init(void) HIDDEN;
bool sampleset_insert(const void *p, uint32_t gen) HIDDEN;
bool sampleset_take(const void *p, uint32_t gen) HIDDEN;

/* threadmem.c: this thread's block for the unwinder's rule cache (THREAD_BLOCK_RULES
 * bytes at its start) and the stack cache (THREAD_BLOCK_CACHE bytes after them), kept
 * out of the static TLS block, which glibc takes from every thread's stack.  Zero when
 * first mapped, then handed from an ended thread to a new one as it is.  NULL when no
 * memory can be had.  thread_block_init() makes the key that returns blocks, at
 * setup. */
#define THREAD_BLOCK_RULES (32u << 10)
#define THREAD_BLOCK_CACHE (4u << 10)
#define THREAD_BLOCK (THREAD_BLOCK_RULES + THREAD_BLOCK_CACHE)
/* A new block's rules use their first page only, 2^THREAD_RULE_BITS_FIRST of them: an
 * image that ends after a few dozen stacks (most of a shell's or a build's) then maps
 * two pages, not nine (a page costs a short process as much as a system call).
 * thread_block_grow() goes on to all of them, for a thread that keeps missing. */
#define THREAD_RULE_BITS_FIRST 8u
#define THREAD_RULE_BITS 11u
extern __thread void *shim_thread_block TLS_IE HIDDEN;
extern __thread uint8_t shim_rule_bits TLS_IE HIDDEN; /* rules in use: 2^bits */
extern __thread uint32_t shim_rule_misses TLS_IE HIDDEN; /* since the block was taken */
void thread_block_grow(void) HIDDEN;
void thread_block_init(void) HIDDEN;
void thread_block_fork_child(void) HIDDEN; /* in a forked child, first */
/* In a forked child about to trace: this thread's block is its parent's pages, shared
 * until written; copies them in one system call, not a page fault each as the walk and
 * the stack cache touch them. */
void thread_block_copy(void) HIDDEN;
void *thread_block_new(void) HIDDEN;
static inline void *thread_block(void)
{
	void *b = shim_thread_block;
	return LIKELY(b != NULL) ? b : thread_block_new();
}

/* cfi.c: the unwind rule at return address ip from its module's .eh_frame, when it
 * is one the fast unwinder can replay: CFA = RSP or RBP + off, the return address at
 * CFA - 8, the caller's RBP unchanged (rbp_off 0) or saved at CFA + rbp_off; the
 * outermost frame (HS_CFI_END); or no rule at all (HS_CFI_UNCOVERED), when ip is in a
 * module whose .eh_frame_hdr lists no FDE covering it.  False for anything else. */
struct cfi_rule {
	uint8_t kind; /* enum hs_cfi_kind, HS_CFI_NONE aside */
	int32_t off;
	int16_t rbp_off;
};
bool cfi_rule(uint64_t ip, struct cfi_rule *out) HIDDEN;

/* cfistore.c: the rules kept on disk per build-id (cfifile.h), and those learnt here.
 * cfistore_init() reads where the cache is, at setup.  cfistore_find() gives the rule
 * at return address ip from its module's file: 1 with *out, 0 when the file says the
 * CFI has none, -1 when the file (or a file) does not know ip.  cfistore_learnt()
 * hands a rule read from the CFI (NULL: none) to the collector. */
void cfistore_init(void) HIDDEN;
int cfistore_find(uint64_t ip, struct cfi_rule *out) HIDDEN;
void cfistore_learnt(uint64_t ip, const struct cfi_rule *rule) HIDDEN;

/* unwind.c: the caller's stack, starting at the first frame outside the shim; up to
 * max return addresses in out, *more set when the stack went on.  unwind_fast()
 * walks with this thread's cache of rules, learning a missing rule from the CFI
 * (cfi.c); it returns -1 when it cannot answer (a frame whose rule is not one it can
 * replay); then unwind_backtrace() (libunwind's unw_backtrace) answers, and now and
 * then unwind_slow(), libunwind's cursor walk, several times slower, answers and
 * teaches the cache the rules of every frame it passes. */
/* fds.c: before each use of libunwind, its pipe is checked to be still its own. */
void fds_check_unwinder_pipe(void) HIDDEN;
void unwind_init(void) HIDDEN;
int unwind_fast(uint64_t *out, unsigned max, bool *more) HIDDEN;
int unwind_backtrace(uint64_t *out, unsigned max, bool *more) HIDDEN;
int unwind_slow(uint64_t *out, unsigned max, bool *more) HIDDEN;
/* Rules learned from the CFI, counted with HEAPSNAP_VERIFY_UNWIND=1 only. */
extern _Atomic uint64_t unwind_cfi_rules HIDDEN;
extern _Atomic uint64_t unwind_file_rules HIDDEN; /* from the rules files, so far */

/* stacktab.c: capture the caller's stack and intern it in s; returns its id. */
uint32_t stack_capture(struct segment *s) HIDDEN;
void stack_forget_thread_cache(void) HIDDEN;
/* With HEAPSNAP_VERIFY_UNWIND=1, says how many stacks each unwinder took. */
void stack_verify_report(void) HIDDEN;

/* modules.c: make sure the modules holding these frames are in the shared module
 * table.  Called for each new stack, before it is published. */
void modules_note(struct segment *s, const uint64_t *frames, unsigned n) HIDDEN;
/* In a forked child: lets go of the lock; then, with the child's new segment, enters
 * the modules the parent had registered (the child has them loaded at the same
 * addresses) without reading their headers again. */
void modules_reset(void) HIDDEN;
void modules_inherit(struct segment *s) HIDDEN;
/* Notes the process that sets this image up (see modules_note()). */
void modules_image_start(void) HIDDEN;
/* The program headers of the object that _dl_find_object found (dlfo, a struct
 * dl_find_object): the kernel's for the program, those after a library's ELF header
 * at the start of its mapping.  False when they cannot be had. */
bool modules_phdrs_of(const void *dlfo, const void **phdrs, unsigned *phnum) HIDDEN;

/* spawn.c: start the collector, connected to heapsnap run when there is one.
 * Returns 0 or a negative errno (and has said why on stderr). */
int spawn_collector(struct segment *s, int memfd, const char *dir) HIDDEN;

/* mmap.c: the real mmap and munmap, for the shim's own mappings, which must never be
 * recorded (a forked child unmapping its parent's segment, for one). */
void *shim_real_mmap(void *addr, size_t len, int prot, int flags, int fd, long off) HIDDEN;
int shim_real_munmap(void *addr, size_t len) HIDDEN;
/* Finds them now, once per image: a forked child then inherits them, where a lookup
 * of its own (dlsym) would cost it as much as the rest of its setup. */
void shim_real_mmap_resolve(void) HIDDEN;
/* len rounded up to whole pages: what a mapping of len bytes holds. */
uint64_t shim_whole_pages(size_t len) HIDDEN;


/* attach.c: heapsnap attach's entry points (exported) and what the rest of the shim
 * asks of it.  attach_dlopened() is true when this image was loaded by heapsnap attach
 * (outside the global scope) rather than preloaded; then the real functions are the
 * global scope's, and the constructor leaves tracing to heapsnap_attach_start().
 * attach_lookup() is dlsym(RTLD_DEFAULT) less the shim's own definitions.
 * attach_getenv() is secure_getenv(), or the settings heapsnap attach passed. */
bool attach_dlopened(void) HIDDEN;
void *attach_lookup(const char *name) HIDDEN;
/* Whether the definition of name the program's calls find is neither the shim's nor
 * next, the one the shim's wrapper forwards to: the program replaced it. */
bool attach_replaced(const char *name, void *next) HIDDEN;
/* The dynamic loader's code, [lo, hi), once attached (else empty).  Its own calls into
 * the allocator pass straight through: in an attached non-PIE program whose PLT entry
 * is malloc's address, they reach the wrappers, and come while it allocates a thread's
 * dynamic TLS, which the wrappers' first thread-local access would enter again. */
extern uintptr_t attach_loader_lo HIDDEN, attach_loader_hi HIDDEN;
#ifdef HEAPSNAP_DYNAMIC_TLS
#define FROM_LOADER()                                                     \
	((uintptr_t)__builtin_return_address(0) - attach_loader_lo <       \
	 attach_loader_hi - attach_loader_lo)
/* Past that test, the attached build reads the guard, and runs the rest of calloc and
 * realloc, in functions of their own: clang computes a thread-local's address (a
 * __tls_get_addr call, which allocates the thread's block the first time) wherever it
 * likes in a function, and had put route()'s guard above FROM_LOADER(), so the
 * loader's malloc for a new thread's TLS came back in and recursed until the stack
 * overflowed (test a_non_pie_program_whose_plt_entry_is_mallocs_address, under a
 * clang build).  A call that may have side effects is never moved above the test. */
int shim_guard_read(void) HIDDEN;
#define PAST_LOADER_CHECK __attribute__((noinline))
#else
/* The preloaded shim's thread-locals are static, and it is never attached: the hot
 * path of malloc and free need not ask. */
#define FROM_LOADER() 0
#define shim_guard_read() shim_guard
#define PAST_LOADER_CHECK inline __attribute__((always_inline))
#endif
const char *attach_getenv(const char *name) HIDDEN;

/* signal.c: the snapshot signal; uninstalled (back to the default action, unless the
 * program has changed it) when heapsnap detach ends tracing. */
void signal_install(void) HIDDEN;
void signal_note_taken(void) HIDDEN; /* a forked child's, once it has its segment */
void signal_uninstall(void) HIDDEN;

/* ---- entering and leaving the traced path (every wrapper) ---- */

/* Returns true, with the guard set, when this call is to be traced. */
static inline bool enter(void)
{
	if (UNLIKELY(shim_guard))
		return false;
	int s = atomic_load_explicit(&shim_state, memory_order_relaxed);
	if (UNLIKELY(s != SHIM_ON)) {
		if (s == SHIM_OFF)
			return false;
		tracing_setup();
		if (atomic_load(&shim_state) != SHIM_ON)
			return false;
	}
	/* Dormant or stopped (heapsnap start/stop): one load, and the call passes through.
	 * Acquire: a thread that sees a start reserves its slots after the start's ring
	 * position (control.h). */
	if (UNLIKELY(!atomic_load_explicit(&shim_seg.ctl->recording, memory_order_acquire)))
		return false;
	shim_guard = 1;
	return true;
}

/* Counts, after tracing gave up, the events a call that passed through would have
 * recorded.  Nested calls (the guard is set) are never the program's own. */
static inline void passed(unsigned events)
{
	if (UNLIKELY(atomic_load_explicit(&shim_gave_up, memory_order_relaxed)) && !shim_guard &&
	    events)
		trace_count_lost(&shim_seg, events);
}

static inline void leave(void)
{
	shim_guard = 0;
}

static inline void leave_cleanup(int *unused)
{
	(void)unused;
	shim_guard = 0;
}
