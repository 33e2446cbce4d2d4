/* ring.c - the ring's slow paths: waiting for room, giving up, the collector's sleep.
 *
 * A producer that finds the ring full spins briefly, then sleeps on `space_seq` in
 * 20 ms steps, waking the collector each time.  It gives up tracing (once, for the
 * whole process) when the collector is gone, or when it waited past stall_ns; every
 * other waiting producer then sees `stopped` and abandons its position too.  Built
 * into libheapsnap.so and into the collector (see ring.h).
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <time.h>

#include "arch.h"

#define RING_SPINS 200
#define RING_SLEEP_NS (20 * 1000 * 1000)

void ring_init(struct ring *r, struct hs_ctl *ctl, const struct hs_geometry *g)
{
	r->ctl = ctl;
	r->recs = g->ring;
	r->cap = g->ring_cap;
	r->stall_ns = 0;
	r->on_give_up = NULL;
	atomic_store(&r->stopped, 0);
}

/* Reads the collector's tail afresh (acquire: its reads of the slot are done) and
 * says whether position pos is free. */
static inline bool has_room(const struct ring *r, uint64_t pos, uint64_t *tail_cache)
{
	*tail_cache = atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
	return pos - *tail_cache < r->cap;
}

int ring_liveness_init(struct hs_ctl *ctl)
{
	pthread_mutexattr_t a;
	int e = pthread_mutexattr_init(&a);
	if (!e)
		e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!e)
		e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!e)
		e = pthread_mutex_init(&ctl->collector_alive, &a);
	pthread_mutexattr_destroy(&a);
	return e;
}

void ring_liveness_hold(struct hs_ctl *ctl)
{
	/* Bounded: the shim holds the lock only for an instant, a scribbler forever. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	int e = pthread_mutex_timedlock(&ctl->collector_alive, &until);
	if (e == EOWNERDEAD)
		pthread_mutex_consistent(&ctl->collector_alive);
}

void ring_liveness_release(struct hs_ctl *ctl)
{
	pthread_mutex_unlock(&ctl->collector_alive); /* EPERM when never held: harmless */
}

bool ring_collector_alive(const struct ring *r)
{
	struct hs_ctl *ctl = r->ctl;
	if (atomic_load(&ctl->collector_state) == HS_COLLECTOR_DONE)
		return false;
	/* The collector's pid may be of another PID namespace (heapsnap run's, when this
	 * program is a namespace's init): the lock it holds answers first. */
	int e = pthread_mutex_trylock(&ctl->collector_alive);
	if (e == EBUSY)
		return true;
	if (e == EOWNERDEAD || e == ENOTRECOVERABLE)
		return false; /* this thread holds it now; tracing gives up */
	if (e == 0)
		pthread_mutex_unlock(&ctl->collector_alive); /* not taken yet: starting */
	pid_t pid = atomic_load(&ctl->collector_pid);
	if (pid <= 0)
		return true; /* still starting */
	struct proc_stat st;
	e = prim_proc_stat(pid, &st);
	if (e == -ESRCH)
		return false;
	return e < 0 || (st.state != 'Z' && st.state != 'X');
}

bool ring_give_up(struct ring *r, const char *why)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&r->stopped, &expect, 1))
		return false;
	atomic_store(&r->ctl->trace_state, HS_GAVE_UP);
	if (r->on_give_up)
		r->on_give_up(why);
	return true;
}

bool ring_wait(struct ring *r, uint64_t pos, uint64_t *tail_cache)
{
	struct hs_ctl *ctl = r->ctl;
	for (int spin = 0; spin < RING_SPINS; spin++) {
		if (has_room(r, pos, tail_cache))
			return true;
		if (spin == 0)
			ring_wake_collector(ctl);
		arch_cpu_relax();
	}
	uint64_t started = prim_now_ns(CLOCK_MONOTONIC);
	for (;;) {
		uint32_t seq = atomic_load(&ctl->space_seq);
		atomic_fetch_add(&ctl->space_waiters, 1);
		if (has_room(r, pos, tail_cache)) {
			atomic_fetch_sub(&ctl->space_waiters, 1);
			return true;
		}
		ring_wake_collector(ctl);
		prim_futex_wait(&ctl->space_seq, seq, RING_SLEEP_NS);
		atomic_fetch_sub(&ctl->space_waiters, 1);
		if (atomic_load(&r->stopped))
			return false;
		if (has_room(r, pos, tail_cache))
			return true;
		if (!ring_collector_alive(r)) {
			ring_give_up(r, "the collector is gone");
			return false;
		}
		if (r->stall_ns && prim_now_ns(CLOCK_MONOTONIC) - started > r->stall_ns) {
			ring_give_up(r, "the collector stalled past HEAPSNAP_STALL_TIMEOUT");
			return false;
		}
	}
}

void ring_release(const struct ring *r, uint64_t pos)
{
	struct hs_ctl *ctl = r->ctl;
	atomic_store_explicit(&ctl->tail, pos, memory_order_release);
	if (atomic_load(&ctl->space_waiters)) {
		atomic_fetch_add(&ctl->space_seq, 1);
		prim_futex_wake(&ctl->space_seq, INT_MAX);
	}
}

void ring_sleep(const struct ring *r, uint64_t pos, uint64_t requests_seen, uint64_t timeout_ns)
{
	struct hs_ctl *ctl = r->ctl;
	atomic_store(&ctl->collector_sleeping, 1);
	if (!ring_ready(r, pos) && atomic_load(&ctl->req_count) <= requests_seen)
		prim_futex_wait(&ctl->collector_sleeping, 1, timeout_ns);
	atomic_store(&ctl->collector_sleeping, 0);
}
