/* test-ring.c - the segment contract both sides compile: layout, ring protocol,
 * give-up, snapshot requests and the /proc and signal primitives. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prim.h"
#include "ring.h"
#include "shmlayout.h"
#include "checkmain.h"

struct seg {
	struct hs_ctl *ctl;
	struct hs_layout l;
	struct hs_geometry g;
	struct ring r;
};

static void seg_open(struct seg *s, uint64_t ring_cap)
{
	ck_assert_int_eq(hs_layout_compute(ring_cap, HS_STACKS_MIN, &s->l), 0);
	s->ctl = mmap(NULL, s->l.total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(s->ctl, MAP_FAILED);
	hs_layout_write(s->ctl, &s->l, 16);
	s->g = hs_geometry_of(s->ctl, &s->l);
	ring_init(&s->r, s->ctl, &s->g);
}

static void seg_close(struct seg *s)
{
	munmap(s->ctl, s->l.total);
}

START_TEST(layout_rejects_bad_capacities)
{
	struct hs_layout l;
	memset(&l, 0x5a, sizeof(l));
	struct hs_layout before = l;
	ck_assert_int_eq(hs_layout_compute(3000, HS_STACKS_MIN, &l), -EINVAL); /* not 2^k */
	ck_assert_int_eq(hs_layout_compute(512, HS_STACKS_MIN, &l), -EINVAL);
	ck_assert_int_eq(hs_layout_compute(HS_RING_MAX * 2ull, HS_STACKS_MIN, &l), -EINVAL);
	ck_assert_int_eq(hs_layout_compute(4096, HS_STACKS_MAX + 1ull, &l), -EINVAL);
	ck_assert_int_eq(memcmp(&l, &before, sizeof(l)), 0); /* untouched on failure */
	ck_assert_int_eq(hs_layout_compute(4096, 5000, &l), 0);
	ck_assert_uint_eq(l.slots.cap, 16384);
	ck_assert_uint_eq(l.learnt.cap, HS_LEARNT_CAP);
	/* Page-aligned parts, one after the other: the control block, every table's head,
	 * the ring, then the tails.  What a short process writes (and its collector reads)
	 * lies in the first region, one page-table page. */
	const struct hs_table *t[] = { &l.modules, &l.paths, &l.learnt, &l.stacks, &l.frames,
				       &l.slots };
	const uint64_t size[] = { sizeof(struct hs_module), 1, sizeof(struct hs_learnt),
				  sizeof(struct hs_stack), sizeof(uint64_t), sizeof(struct hs_slot) };
	uint64_t at = sizeof(struct hs_ctl);
	for (int i = 0; i < 6; i++) {
		ck_assert_uint_eq(t[i]->head_off % HS_PAGE, 0);
		ck_assert_uint_ge(t[i]->head_off, at);
		ck_assert_uint_le(t[i]->head_cap, t[i]->cap);
		at = t[i]->head_off + t[i]->head_cap * size[i];
	}
	ck_assert_uint_ge(l.ring_off, at);
	ck_assert_uint_lt(l.ring_off, HS_REGION / 2);
	at = l.ring_off + 4096 * sizeof(struct hs_rec);
	for (int i = 0; i < 6; i++) {
		ck_assert_uint_eq(t[i]->tail_off % HS_PAGE, 0);
		ck_assert_uint_ge(t[i]->tail_off, at);
		at = t[i]->tail_off + (t[i]->cap - t[i]->head_cap) * size[i];
	}
	ck_assert_uint_le(at, l.total);
	ck_assert_uint_eq(l.total % HS_PAGE, 0);
	/* The defaults: each table but the modules' has a head and a tail. */
	ck_assert_int_eq(hs_layout_compute(65536, 1u << 20, &l), 0);
	ck_assert_uint_eq(l.modules.head_cap, l.modules.cap);
	ck_assert_uint_eq(l.stacks.cap, 1u << 20);
	ck_assert_uint_lt(l.stacks.head_cap, l.stacks.cap);
	ck_assert_uint_lt(l.frames.head_cap, l.frames.cap);
	ck_assert_uint_lt(l.paths.head_cap, l.paths.cap);
	ck_assert_uint_lt(l.learnt.head_cap, l.learnt.cap);
	ck_assert_uint_lt(l.slots.head_cap, l.slots.cap);
	/* The head ends where a level of slots does: no level spans both parts. */
	ck_assert_uint_ge(l.slots.head_cap, HS_SLOTS_LEVEL0);
	ck_assert_uint_eq(l.slots.head_cap & (l.slots.head_cap - 1), 0);
	ck_assert_uint_lt(l.slots.head_off + l.slots.head_cap * sizeof(struct hs_slot), HS_REGION / 2);
}
END_TEST

START_TEST(table_parts_and_runs)
{
	char head[64], tail[64];
	struct hs_part p = { .head = head, .tail = tail, .head_cap = 8, .cap = 24 };
	ck_assert_ptr_eq(hs_item(&p, 0, 8), head);
	ck_assert_ptr_eq(hs_item(&p, 7, 8), head + 56);
	ck_assert_ptr_eq(hs_item(&p, 8, 8), tail);
	ck_assert_ptr_eq(hs_item(&p, 23, 2), tail + 30);
	ck_assert(hs_run_ok(&p, 0, 8));
	ck_assert(hs_run_ok(&p, 5, 3));
	ck_assert(!hs_run_ok(&p, 5, 4)); /* would span both parts */
	ck_assert(hs_run_ok(&p, 8, 16));
	ck_assert(!hs_run_ok(&p, 8, 17));
	ck_assert(hs_run_ok(&p, 24, 0));
	ck_assert(!hs_run_ok(&p, 25, 0));
	ck_assert(!hs_run_ok(&p, 9, UINT64_MAX));
	ck_assert(!hs_run_ok(&p, 2, UINT64_MAX - 1));
}
END_TEST

START_TEST(layout_read_accepts_only_what_compute_gives)
{
	struct seg s;
	seg_open(&s, 4096);
	struct hs_layout got;
	uint32_t frames = 0;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), 0);
	ck_assert_int_eq(memcmp(&got, &s.l, sizeof(got)), 0);
	ck_assert_uint_eq(frames, 16);
	/* A total that is not the file's size, an offset moved by one, a capacity that
	 * would overrun, a bad magic, a zero frame limit: each refused. */
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total + 4096, &got, &frames), -EINVAL);
	s.ctl->layout.frames.tail_off += 8;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), -EINVAL);
	s.ctl->layout.frames.tail_off -= 8;
	s.ctl->layout.stacks.head_cap++;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), -EINVAL);
	s.ctl->layout.stacks.head_cap--;
	s.ctl->layout.ring_cap *= 2;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), -EINVAL);
	s.ctl->layout.ring_cap /= 2;
	s.ctl->magic ^= 1;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), -EINVAL);
	s.ctl->magic ^= 1;
	s.ctl->frame_limit = 0;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), -EINVAL);
	s.ctl->frame_limit = 16;
	ck_assert_int_eq(hs_layout_read(s.ctl, s.l.total, &got, &frames), 0);
	seg_close(&s);
}
END_TEST

START_TEST(records_come_out_in_position_order)
{
	struct seg s;
	seg_open(&s, 1024);
	uint64_t tail = 0;
	struct hs_rec out;
	uint64_t p0 = ring_reserve(&s.r, &tail), p1 = ring_reserve(&s.r, &tail);
	ck_assert_uint_eq(p0, 0);
	ck_assert_uint_eq(p1, 1);
	/* Published out of order: the reader still waits for position 0. */
	ring_publish(&s.r, p1, &tail, HS_REC_FREE, 0x2000, 0, 0, 3);
	ck_assert(!ring_ready(&s.r, 0));
	ck_assert(!ring_read(&s.r, 0, &out));
	ring_publish(&s.r, p0, &tail, HS_REC_ALLOC, 0x1000, 48, 7, 0);
	ck_assert(ring_read(&s.r, 0, &out));
	ck_assert_uint_eq(out.kind, HS_REC_ALLOC);
	ck_assert_uint_eq(out.addr, 0x1000);
	ck_assert_uint_eq(out.size, 48);
	ck_assert_uint_eq(out.stack, 7);
	ck_assert(ring_read(&s.r, 1, &out));
	ck_assert_uint_eq(out.kind, HS_REC_FREE);
	ck_assert_uint_eq(out.domain, 3);
	ring_release(&s.r, 2);
	ck_assert_uint_eq(atomic_load(&s.ctl->tail), 2);
	/* The slot of position 1024 is position 0's: not ready until published anew. */
	ck_assert(!ring_ready(&s.r, 1024));
	seg_close(&s);
}
END_TEST

#define PRODUCERS 4
#define PER_THREAD 200000

struct producer {
	struct seg *s;
	unsigned id;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t tail = 0;
	for (uint64_t i = 0; i < PER_THREAD; i++) {
		uint64_t pos = ring_reserve(&p->s->r, &tail);
		ck_assert_uint_ne(pos, RING_NO_POS);
		ring_publish(&p->s->r, pos, &tail, HS_REC_ALLOC, i, 0, p->id, 0);
	}
	return NULL;
}

START_TEST(threads_through_a_small_ring_lose_nothing)
{
	struct seg s;
	seg_open(&s, 1024); /* far smaller than the traffic: producers must wait */
	atomic_store(&s.ctl->collector_pid, (int32_t)getpid());
	pthread_t t[PRODUCERS];
	struct producer p[PRODUCERS];
	for (unsigned i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){ .s = &s, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	}
	uint64_t next[PRODUCERS] = { 0 };
	uint64_t pos = 0, total = (uint64_t)PRODUCERS * PER_THREAD;
	while (pos < total) {
		struct hs_rec r;
		if (!ring_read(&s.r, pos, &r)) {
			ring_release(&s.r, pos);
			ring_sleep(&s.r, pos, 0, 1000 * 1000);
			continue;
		}
		ck_assert_uint_lt(r.stack, PRODUCERS);
		/* Each thread's records arrive in the order it made them. */
		ck_assert_uint_eq(r.addr, next[r.stack]);
		next[r.stack]++;
		pos++;
		if ((pos & 255) == 0)
			ring_release(&s.r, pos);
	}
	ring_release(&s.r, pos);
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_eq(next[i], PER_THREAD);
	}
	ck_assert_uint_eq(atomic_load(&s.ctl->head), total);
	ck_assert_int_eq(atomic_load(&s.r.stopped), 0);
	seg_close(&s);
}
END_TEST

static _Atomic int give_ups;
static const char *give_up_why;

static void on_give_up(const char *why)
{
	atomic_fetch_add(&give_ups, 1);
	give_up_why = why;
}

/* Fills the ring (nobody consumes), then reserves once more. */
static uint64_t overfill(struct seg *s)
{
	uint64_t tail = 0;
	for (uint64_t i = 0; i < s->r.cap; i++)
		ring_publish(&s->r, ring_reserve(&s->r, &tail), &tail, HS_REC_NOOP, 0, 0, 0, 0);
	return ring_reserve(&s->r, &tail);
}

START_TEST(a_stalled_collector_is_given_up_once)
{
	struct seg s;
	seg_open(&s, 1024);
	atomic_store(&s.ctl->collector_pid, (int32_t)getpid()); /* alive, but never reads */
	s.r.stall_ns = prim_seconds_to_ns(1e-10);              /* rounds up, never to 0 */
	ck_assert_uint_eq(s.r.stall_ns, 1);
	s.r.on_give_up = on_give_up;
	atomic_store(&give_ups, 0);
	ck_assert_uint_eq(overfill(&s), RING_NO_POS);
	ck_assert_int_eq(atomic_load(&give_ups), 1);
	ck_assert_str_eq(give_up_why, "the collector stalled past HEAPSNAP_STALL_TIMEOUT");
	ck_assert_uint_eq(atomic_load(&s.ctl->trace_state), HS_GAVE_UP);
	/* Later reservations on the full ring give up without a second report. */
	uint64_t tail = 0;
	ck_assert_uint_eq(ring_reserve(&s.r, &tail), RING_NO_POS);
	ck_assert_int_eq(atomic_load(&give_ups), 1);
	seg_close(&s);
}
END_TEST

START_TEST(a_dead_collector_is_given_up)
{
	struct seg s;
	seg_open(&s, 1024);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	atomic_store(&s.ctl->collector_pid, (int32_t)child); /* reaped: gone */
	s.r.on_give_up = on_give_up;
	atomic_store(&give_ups, 0);
	ck_assert(!ring_collector_alive(&s.r));
	ck_assert_uint_eq(overfill(&s), RING_NO_POS);
	ck_assert_int_eq(atomic_load(&give_ups), 1);
	ck_assert_str_eq(give_up_why, "the collector is gone");
	seg_close(&s);
}
END_TEST

START_TEST(requests_and_exit_mark_the_head)
{
	struct seg s;
	seg_open(&s, 1024);
	uint64_t tail = 0;
	for (int i = 0; i < 5; i++)
		ring_reserve(&s.r, &tail);
	atomic_store(&s.ctl->collector_sleeping, 1);
	ck_assert_uint_eq(ring_request_snapshot(s.ctl), 1);
	ck_assert_uint_eq(atomic_load(&s.ctl->collector_sleeping), 0); /* woken */
	ring_reserve(&s.r, &tail);
	ck_assert_uint_eq(ring_request_snapshot(s.ctl), 2);
	ck_assert_uint_eq(atomic_load(&s.ctl->req[1].n), 1);
	ck_assert_uint_eq(atomic_load(&s.ctl->req[1].pos), 5);
	ck_assert_uint_eq(atomic_load(&s.ctl->req[2].pos), 6);
	ring_mark_exit(s.ctl);
	ck_assert_uint_eq(atomic_load(&s.ctl->exit_pos), 7);
	/* The collector does not sleep past a request it has not seen. */
	uint64_t t0 = prim_now_ns(CLOCK_MONOTONIC);
	ring_sleep(&s.r, 6, 1, 2000ull * 1000 * 1000);
	ck_assert_uint_lt(prim_now_ns(CLOCK_MONOTONIC) - t0, 1000ull * 1000 * 1000);
	seg_close(&s);
}
END_TEST

START_TEST(proc_stat_reads_state_and_exit_code)
{
	struct proc_stat st;
	ck_assert_int_eq(prim_proc_stat(getpid(), &st), 0);
	ck_assert_int_eq(st.ppid, getppid());
	ck_assert_int_eq(st.exit_code, -1);
	pid_t child = fork();
	if (child == 0)
		_exit(42);
	/* A zombie: its exit code is readable until it is reaped. */
	for (int i = 0; i < 2000; i++) {
		ck_assert_int_eq(prim_proc_stat(child, &st), 0);
		if (st.state == 'Z')
			break;
		usleep(1000);
	}
	ck_assert_int_eq(st.state, 'Z');
	ck_assert(WIFEXITED(st.exit_code));
	ck_assert_int_eq(WEXITSTATUS(st.exit_code), 42);
	waitpid(child, NULL, 0);
	ck_assert_int_eq(prim_proc_stat(child, &st), -ESRCH);
}
END_TEST

START_TEST(signal_rules)
{
	ck_assert(prim_signal_usable(SIGUSR2));
	ck_assert(prim_signal_usable(SIGRTMIN + 3));
	ck_assert(!prim_signal_usable(0));
	ck_assert(!prim_signal_usable(SIGKILL));
	ck_assert(!prim_signal_usable(SIGSEGV));
	ck_assert(!prim_signal_usable(SIGCHLD));
	ck_assert(!prim_signal_usable(SIGRTMAX + 1));
	ck_assert_uint_eq(prim_seconds_to_ns(0), 0);
	ck_assert_uint_eq(prim_seconds_to_ns(1.5), 1500000000ull);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, layout_rejects_bad_capacities);
	tcase_add_test(tc, table_parts_and_runs);
	tcase_add_test(tc, layout_read_accepts_only_what_compute_gives);
	tcase_add_test(tc, records_come_out_in_position_order);
	tcase_add_test(tc, threads_through_a_small_ring_lose_nothing);
	tcase_add_test(tc, a_stalled_collector_is_given_up_once);
	tcase_add_test(tc, a_dead_collector_is_given_up);
	tcase_add_test(tc, requests_and_exit_mark_the_head);
	tcase_add_test(tc, proc_stat_reads_state_and_exit_code);
	tcase_add_test(tc, signal_rules);
	suite_add_tcase(s, tc);
	return check_run(s);
}
