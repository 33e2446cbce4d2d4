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

#include "shmlayout.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TLS_IE __attribute__((tls_model("initial-exec")))

/* Global tracing state of this process image. */
enum shim_state {
	SHIM_UNINIT = 0,        /* nothing set up yet */
	SHIM_ON = 1,            /* tracing */
	SHIM_OFF = 2,           /* not tracing (disabled, failed to start, or gave up) */
	SHIM_CHILD_PENDING = 3, /* forked child: set up afresh at its first event */
};

/* The segment's layout, kept privately (see struct hs_geometry): the hot path reads
 * no sizes from shared memory, and a program scribbling over the segment cannot
 * steer the shim's writes outside it.  Shared counters are checked against it. */
extern struct hs_geometry shim_geo HIDDEN;

extern _Atomic int shim_state HIDDEN;
/* Set once tracing gave up (collector gone or stalled): events are then counted. */
extern _Atomic int shim_gave_up HIDDEN;
extern struct hs_ctl *shim_ctl HIDDEN;
/* Nesting guard: set while the shim works, so allocations it causes pass through. */
extern __thread int shim_guard TLS_IE HIDDEN;

/* options.c: HEAPSNAP_* settings, read once. */
struct shim_options {
	unsigned frames;        /* HEAPSNAP_FRAMES: frames kept per stack, 1..256 */
	int signal;             /* HEAPSNAP_SIGNAL: 0 for none */
	uint64_t ring_records;  /* HEAPSNAP_RING: ring capacity, a power of two */
	uint64_t stacks;        /* HEAPSNAP_STACKS: stack table capacity */
	double stall_timeout;   /* HEAPSNAP_STALL_TIMEOUT: seconds, 0 = wait forever */
	const char *dir;        /* HEAPSNAP_DIR, or NULL for the start directory */
	const char *collector;  /* HEAPSNAP_COLLECTOR: path of the heapsnap binary */
	bool disabled;          /* HEAPSNAP_DISABLE=1, or a setuid/setgid program */
	bool verify_unwind;     /* HEAPSNAP_VERIFY_UNWIND=1: check the fast unwinder */
};
extern struct shim_options shim_opt HIDDEN;
void options_load(void) HIDDEN;

/* report.c: one line on stderr with raw write(2); never allocates. */
void report(const char *fmt, ...) HIDDEN __attribute__((format(printf, 1, 2)));

/* trace.c: setting up and recording. */
void trace_setup(void) HIDDEN;     /* from SHIM_UNINIT or SHIM_CHILD_PENDING */
/* Record an allocation (after the real call) or a release (before it) in a domain:
 * 0 for the heap, 1..65535 for heapsnap_track() blocks. */
void trace_alloc(const void *p, size_t size, uint16_t domain) HIDDEN;
void trace_free(const void *p, uint16_t domain) HIDDEN;
/* realloc: reserve the release of the old block before the real call... */
uint64_t trace_reserve(void) HIDDEN;
/* ...and settle it afterwards: a FREE of old, or a NOOP when the call failed. */
void trace_settle(uint64_t pos, void *old, bool freed) HIDDEN;
void trace_give_up(const char *why) HIDDEN;
/* Counts events that tracing no longer records (after giving up). */
void trace_count_lost(unsigned events) HIDDEN;
void trace_fork_child(void) HIDDEN;
void trace_exit_hook(void) HIDDEN;
#define TRACE_NO_POS UINT64_MAX

/* unwind.c: the caller's stack, starting at the first frame outside the shim; up to
 * max return addresses in out, *more set when the stack went on.  unwind_fast()
 * returns -1 when it cannot answer (a frame not in this thread's rule cache); then
 * unwind_backtrace() (libunwind's unw_backtrace) answers, and now and then
 * unwind_slow(), libunwind's cursor walk, several times slower, answers and teaches
 * the cache the rules of every frame it passes. */
void unwind_init(void) HIDDEN;
int unwind_fast(uint64_t *out, unsigned max, bool *more) HIDDEN;
int unwind_backtrace(uint64_t *out, unsigned max, bool *more) HIDDEN;
int unwind_slow(uint64_t *out, unsigned max, bool *more) HIDDEN;

/* stacktab.c: capture the caller's stack and intern it; returns its id. */
uint32_t stack_capture(void) HIDDEN;
void stack_forget_thread_cache(void) HIDDEN;

/* modules.c: make sure the modules holding these frames are in the shared module
 * table.  Called for each new stack, before it is published. */
void modules_note(struct hs_ctl *c, const uint64_t *frames, unsigned n) HIDDEN;
void modules_reset(void) HIDDEN;

/* spawn.c: start the collector.  The `heapsnap run` socket (HEAPSNAP_RUN_FD) is
 * taken out of the environment at start and handed to the first collector only. */
int spawn_collector(int memfd, const char *dir) HIDDEN;
void spawn_take_run_fd(void) HIDDEN;
void spawn_drop_run_fd(void) HIDDEN;

/* signal.c: the snapshot signal. */
void signal_install(void) HIDDEN;
