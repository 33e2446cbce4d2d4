/* ring.h - the event ring: many producers in the traced program, one consumer in the
 * collector.
 *
 * A producer reserves position p with one atomic add on `head`, waits until
 * p - tail < cap, writes the record at slot p % cap and publishes it by storing
 * seq = p + 1 with release order.  The collector consumes in position order: it waits
 * for seq == p + 1 (acquire), copies the record out, and advances `tail` (release),
 * waking producers that sleep for room.  The collector sleeps on its own futex word
 * when the ring is empty; a producer wakes it once a sixteenth of the ring waits, and
 * the snapshot signal's handler wakes it for every request.
 *
 * Both sides keep a private `struct ring` built from a checked layout: nothing here
 * reads a size or offset from shared memory.  The fast paths are inline; waiting for
 * room, giving up, and the collector's sleep are in ring.c, which both sides compile.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "prim.h"
#include "shmlayout.h"

#define RING_NO_POS UINT64_MAX

struct ring {
	struct hs_ctl *ctl;
	struct hs_rec *recs;
	uint64_t cap; /* a power of two */
	/* Producer side only. */
	uint64_t stall_ns;                  /* give up after waiting this long; 0 = never */
	void (*on_give_up)(const char *why); /* called once, by the thread that gave up */
	_Atomic int stopped;                /* set once tracing gave up */
};

/* Sets r up over the segment at ctl with a checked layout; the producer fields are
 * zero (never give up, no callback). */
void ring_init(struct ring *r, struct hs_ctl *ctl, const struct hs_geometry *g);

/* ---- producer ---- */

/* Waits until position pos is free.  Returns true when it is; false once tracing gave
 * up (by this thread: the collector is gone, or stalled past stall_ns; or by another).
 * *tail_cache is refreshed. */
bool ring_wait(struct ring *r, uint64_t pos, uint64_t *tail_cache);

/* Stops recording: marks the ring as given up in this process and in the segment, and
 * calls on_give_up(why) if this call was the first.  Returns whether it was. */
bool ring_give_up(struct ring *r, const char *why);

/* Whether the collector process is still there (running or starting); a zombie or a
 * collector that said it finished counts as gone. */
bool ring_collector_alive(const struct ring *r);

/* The shim, creating the segment: sets up ctl's collector_alive lock.  Returns 0 or an
 * errno. */
int ring_liveness_init(struct hs_ctl *ctl);
/* The collector, once attached: takes the lock for the rest of its life.  Failing
 * (a scribbled lock) only leaves the shim to judge by the collector's pid. */
void ring_liveness_hold(struct hs_ctl *ctl);
/* The collector, at its end, when it is a thread that outlives its segment: lets go of
 * the lock (a process's exit lets go of it by itself). */
void ring_liveness_release(struct hs_ctl *ctl);

static inline void ring_wake_collector(struct hs_ctl *ctl)
{
	if (atomic_exchange_explicit(&ctl->collector_sleeping, 0, memory_order_acq_rel))
		prim_futex_wake(&ctl->collector_sleeping, 1);
}

/* Reserves the next position, or returns RING_NO_POS after giving up; an abandoned
 * position is never published, and the collector counts it as lost.  *tail_cache is
 * the caller's (per-thread) last view of the tail. */
static inline uint64_t ring_reserve(struct ring *r, uint64_t *tail_cache)
{
	uint64_t pos = atomic_fetch_add_explicit(&r->ctl->head, 1, memory_order_relaxed);
	if (__builtin_expect(pos - *tail_cache >= r->cap, 0) && !ring_wait(r, pos, tail_cache))
		return RING_NO_POS;
	if (pos < r->cap) /* the first lap: records never written before */
		prim_populate_ahead(r->recs, pos, 1, r->cap, sizeof(*r->recs));
	return pos;
}

/* Writes and publishes the record at a reserved position. */
static inline void ring_publish(const struct ring *r, uint64_t pos, uint64_t *tail_cache,
				unsigned kind, uint64_t addr, uint64_t size, uint32_t stack,
				uint16_t domain)
{
	struct hs_rec *rec = &r->recs[pos & (r->cap - 1)];
	rec->addr = addr;
	rec->size = size;
	rec->stack = stack;
	rec->kind = (uint16_t)kind;
	rec->domain = domain;
	atomic_store_explicit(&rec->seq, pos + 1, memory_order_release);
	/* Wake a sleeping collector only once a sixteenth of the ring waits for it.  The
	 * tail must be read afresh: the cached one is only refreshed when the ring is full,
	 * and a stale one made almost every publish a futex wake. */
	struct hs_ctl *ctl = r->ctl;
	if (__builtin_expect(atomic_load_explicit(&ctl->collector_sleeping, memory_order_relaxed), 0) &&
	    pos - (*tail_cache = atomic_load_explicit(&ctl->tail, memory_order_relaxed)) >=
		    r->cap / 16)
		ring_wake_collector(ctl);
}

/* Records snapshot request n at the current head and wakes the collector.  Only atomic
 * operations and one system call: safe in a signal handler that may have interrupted a
 * thread holding an unpublished slot (the record itself is never touched). */
static inline uint64_t ring_request_snapshot(struct hs_ctl *ctl)
{
	uint64_t n = atomic_fetch_add(&ctl->req_count, 1) + 1;
	struct hs_request *req = &ctl->req[n % HS_REQ_SLOTS];
	atomic_store(&req->pos, atomic_load(&ctl->head));
	atomic_store_explicit(&req->n, n, memory_order_release);
	ring_wake_collector(ctl);
	return n;
}

/* Marks the end of this process image's events (its exit hook) and wakes the collector. */
static inline void ring_mark_exit(struct hs_ctl *ctl)
{
	atomic_store(&ctl->exit_pos, atomic_load(&ctl->head) + 1);
	ring_wake_collector(ctl);
}

/* ---- consumer ---- */

/* Whether the record at pos has been published. */
static inline bool ring_ready(const struct ring *r, uint64_t pos)
{
	return atomic_load_explicit(&r->recs[pos & (r->cap - 1)].seq, memory_order_acquire) ==
	       pos + 1;
}

/* Copies the record at pos into *out when it has been published; the copy is what the
 * collector checks and uses, never the shared slot. */
static inline bool ring_read(const struct ring *r, uint64_t pos, struct hs_rec *out)
{
	const struct hs_rec *slot = &r->recs[pos & (r->cap - 1)];
	if (atomic_load_explicit(&slot->seq, memory_order_acquire) != pos + 1)
		return false;
	out->addr = slot->addr;
	out->size = slot->size;
	out->stack = slot->stack;
	out->kind = slot->kind;
	out->domain = slot->domain;
	return true;
}

/* Hands every position below pos back to the producers, waking those asleep. */
void ring_release(const struct ring *r, uint64_t pos);

/* The collector's idle sleep: at most timeout_ns, unless the record at pos is already
 * published or more than `requests_seen` snapshot requests were made. */
void ring_sleep(const struct ring *r, uint64_t pos, uint64_t requests_seen, uint64_t timeout_ns);
