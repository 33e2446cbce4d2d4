/* trace.c - setting tracing up, and recording events into the ring.
 *
 * Setup creates the shared memory (a memfd, mapped, then closed: the program is left
 * with no extra fd), starts the collector and installs the snapshot signal.  Recording
 * follows design.md's ordering rule: an allocation is recorded after the real
 * allocator returns, a free is reserved before the real free runs.  When the ring is
 * full the producer waits (spin, then futex) and never drops; if the collector is gone
 * or stalled past HEAPSNAP_STALL_TIMEOUT it gives up tracing once, says so on stderr,
 * and lets the program run on untraced, counting what it no longer records.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

_Atomic int shim_state HIDDEN = SHIM_UNINIT;
struct hs_geometry shim_geo HIDDEN;
static uint64_t shm_size; /* the segment's size, kept privately like shim_geo */
_Atomic int shim_gave_up HIDDEN;
struct hs_ctl *shim_ctl HIDDEN;
__thread int shim_guard TLS_IE HIDDEN;

static __thread uint64_t cached_tail TLS_IE;
static _Atomic int setup_lock;
static char start_dir[PATH_MAX];

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

static uint64_t now_nanos(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Creates and maps the shared segment; returns the memfd or -errno. */
static int shm_create(struct hs_ctl **out)
{
	uint64_t ring_cap = shim_opt.ring_records;
	uint64_t stacks_cap = shim_opt.stacks;
	uint64_t slots_cap = 1;
	while (slots_cap < stacks_cap * 2)
		slots_cap <<= 1;
	uint64_t frames_cap = stacks_cap * 12;
	if (frames_cap > UINT32_MAX)
		frames_cap = UINT32_MAX;

	uint64_t off = round_up(sizeof(struct hs_ctl), 4096);
	uint64_t ring_off = off;
	off = round_up(off + ring_cap * sizeof(struct hs_rec), 4096);
	uint64_t slots_off = off;
	off = round_up(off + slots_cap * sizeof(struct hs_slot), 4096);
	uint64_t stacks_off = off;
	off = round_up(off + stacks_cap * sizeof(struct hs_stack), 4096);
	uint64_t frames_off = off;
	off = round_up(off + frames_cap * sizeof(uint64_t), 4096);
	uint64_t modules_cap = 4096, paths_cap = 1u << 20;
	uint64_t modules_off = off;
	off = round_up(off + modules_cap * sizeof(struct hs_module), 4096);
	uint64_t paths_off = off;
	off = round_up(off + paths_cap, 4096);

	int fd = memfd_create("heapsnap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed against shrinking: the collector's reads can never fault (SIGBUS) on a
	 * segment someone truncated through /proc/PID/map_files. */
	if (ftruncate(fd, (off_t)off) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct hs_ctl *c = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->magic = HS_SHM_MAGIC;
	c->version = HS_SHM_VERSION;
	c->frame_limit = shim_opt.frames;
	c->total_size = off;
	shm_size = off;
	c->ring_off = ring_off;
	c->ring_cap = ring_cap;
	c->slots_off = slots_off;
	c->slots_cap = slots_cap;
	c->stacks_off = stacks_off;
	c->stacks_cap = stacks_cap;
	c->frames_off = frames_off;
	c->frames_cap = frames_cap;
	c->modules_off = modules_off;
	c->modules_cap = modules_cap;
	c->paths_off = paths_off;
	c->paths_cap = paths_cap;
	c->pid = (int32_t)getpid();
	c->signal = shim_opt.signal;
	c->start_nanos = now_nanos(CLOCK_REALTIME);
	atomic_store(&c->nstacks, 1); /* id 0 is HS_STACK_UNKNOWN */
	shim_geo = (struct hs_geometry){
		.ring = hs_ring(c), .ring_cap = ring_cap, .slots = hs_slots(c),
		.slots_cap = slots_cap, .stacks = hs_stacks(c), .stacks_cap = stacks_cap,
		.frames = hs_frames(c), .frames_cap = frames_cap, .modules = hs_modules(c),
		.modules_cap = modules_cap, .paths = hs_paths(c), .paths_cap = paths_cap,
	};
	int cmd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (cmd >= 0) {
		ssize_t n = read(cmd, c->command, sizeof(c->command));
		c->command_len = n > 0 ? (uint32_t)n : 0;
		close(cmd);
	}
	*out = c;
	return fd;
}

static void fork_child(void)
{
	trace_fork_child();
}

static void setup_locked(void)
{
	int was = atomic_load(&shim_state);
	if (was == SHIM_UNINIT) {
		options_load();
		spawn_take_run_fd();
		if (shim_opt.disabled) {
			spawn_drop_run_fd();
			atomic_store(&shim_state, SHIM_OFF);
			return;
		}
		/* Absolute, so the files go where the program started whatever it does
		 * later, and heapsnap snap finds them from anywhere. */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			strcpy(cwd, ".");
		if (!shim_opt.dir)
			snprintf(start_dir, sizeof(start_dir), "%s", cwd);
		else if (!strcmp(shim_opt.dir, "."))
			snprintf(start_dir, sizeof(start_dir), "%s", cwd);
		else if (shim_opt.dir[0] != '/')
			snprintf(start_dir, sizeof(start_dir), "%s/%s", cwd,
				 shim_opt.dir + (strncmp(shim_opt.dir, "./", 2) ? 0 : 2));
		else
			snprintf(start_dir, sizeof(start_dir), "%s", shim_opt.dir);
		shim_opt.dir = start_dir;
		unwind_init();
		pthread_atfork(NULL, NULL, fork_child);
	}
	struct hs_ctl *c = NULL;
	int fd = shm_create(&c);
	if (fd < 0) {
		report("cannot create the shared ring: %s; not tracing", strerror(-fd));
		spawn_drop_run_fd();
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	shim_ctl = c;
	int r = spawn_collector(fd, shim_opt.dir);
	close(fd);
	if (r < 0) {
		munmap(c, shm_size);
		shim_ctl = NULL;
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	cached_tail = 0;
	atomic_store(&shim_state, SHIM_ON);
	if (was == SHIM_UNINIT)
		signal_install();
}

void trace_setup(void)
{
	int old_guard = shim_guard;
	shim_guard = 1;
	int saved = errno;
	while (atomic_exchange_explicit(&setup_lock, 1, memory_order_acquire))
		sched_yield();
	int s = atomic_load(&shim_state);
	if (s == SHIM_UNINIT || s == SHIM_CHILD_PENDING)
		setup_locked();
	atomic_store_explicit(&setup_lock, 0, memory_order_release);
	errno = saved;
	shim_guard = old_guard;
}

void trace_fork_child(void)
{
	/* Only this thread exists now.  The parent's segment is the parent's: drop it and
	 * set up a ring and collector of our own at this process's first event. */
	atomic_store(&setup_lock, 0);
	modules_reset();
	struct hs_ctl *c = shim_ctl;
	if (!c)
		return; /* never traced: disabled, or setup failed */
	/* Traced, or given up (then the child, a new process, starts afresh too): either
	 * way the parent's segment and its counters must not see the child's events. */
	shim_ctl = NULL;
	atomic_store(&shim_gave_up, 0);
	atomic_store(&shim_state, SHIM_CHILD_PENDING);
	munmap(c, shm_size);
	stack_forget_thread_cache();
}

void trace_give_up(const char *why)
{
	struct hs_ctl *c = shim_ctl;
	int expect = SHIM_ON;
	if (!atomic_compare_exchange_strong(&shim_state, &expect, SHIM_OFF))
		return;
	atomic_store(&c->trace_state, HS_GAVE_UP);
	atomic_store(&shim_gave_up, 1);
	report("%s; tracing stopped, the program continues untraced", why);
}

/* Whether the collector process still exists and has not finished.  A zombie (its
 * parent, maybe a container's init, has not reaped it) counts as gone. */
static bool collector_alive(struct hs_ctl *c)
{
	if (atomic_load(&c->collector_state) == HS_COLLECTOR_DONE)
		return false;
	pid_t pid = atomic_load(&c->collector_pid);
	if (pid <= 0)
		return true; /* still starting */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	char path[48], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

static void wake_collector(struct hs_ctl *c)
{
	if (atomic_exchange_explicit(&c->collector_sleeping, 0, memory_order_acq_rel))
		futex(&c->collector_sleeping, FUTEX_WAKE, 1, NULL);
}

/* Reads the collector's tail afresh (acquire: its reads of the slot are done) and
 * says whether position pos is free. */
static inline bool ring_has_room(struct hs_ctl *c, uint64_t pos)
{
	cached_tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	return pos - cached_tail < shim_geo.ring_cap;
}

/* Waits until position pos is free in the ring.  Returns false after giving up. */
static __attribute__((noinline)) bool ring_wait(struct hs_ctl *c, uint64_t pos)
{
	for (int spin = 0; spin < 200; spin++) {
		if (ring_has_room(c, pos))
			return true;
		if (spin == 0)
			wake_collector(c);
		__builtin_ia32_pause();
	}
	uint64_t started = now_nanos(CLOCK_MONOTONIC);
	uint64_t stall = (uint64_t)(shim_opt.stall_timeout * 1e9);
	for (;;) {
		uint32_t seq = atomic_load(&c->space_seq);
		atomic_fetch_add(&c->space_waiters, 1);
		if (ring_has_room(c, pos)) {
			atomic_fetch_sub(&c->space_waiters, 1);
			return true;
		}
		wake_collector(c);
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		futex(&c->space_seq, FUTEX_WAIT, seq, &ts);
		atomic_fetch_sub(&c->space_waiters, 1);
		if (atomic_load(&shim_state) != SHIM_ON)
			return false;
		if (ring_has_room(c, pos))
			return true;
		if (!collector_alive(c)) {
			trace_give_up("the collector is gone");
			return false;
		}
		if (stall && now_nanos(CLOCK_MONOTONIC) - started > stall) {
			trace_give_up("the collector stalled past HEAPSNAP_STALL_TIMEOUT");
			return false;
		}
	}
}

/* Reserves the next ring position, or returns TRACE_NO_POS after giving up; the
 * abandoned position is never published, and the collector counts it as lost. */
static inline uint64_t ring_reserve(struct hs_ctl *c)
{
	uint64_t pos = atomic_fetch_add_explicit(&c->head, 1, memory_order_relaxed);
	if (UNLIKELY(pos - cached_tail >= shim_geo.ring_cap) && !ring_wait(c, pos))
		return TRACE_NO_POS;
	return pos;
}

static inline void ring_publish(struct hs_ctl *c, uint64_t pos, unsigned kind, const void *addr,
				uint64_t size, uint32_t stack, uint16_t domain)
{
	struct hs_rec *r = &shim_geo.ring[pos & (shim_geo.ring_cap - 1)];
	r->addr = (uint64_t)(uintptr_t)addr;
	r->size = size;
	r->stack = stack;
	r->kind = (uint16_t)kind;
	r->domain = domain;
	atomic_store_explicit(&r->seq, pos + 1, memory_order_release);
	/* Wake a sleeping collector only once a sixteenth of the ring waits for it.  The
	 * tail must be read afresh: cached_tail is only refreshed when the ring is full,
	 * and a stale one made almost every publish a futex wake. */
	if (UNLIKELY(atomic_load_explicit(&c->collector_sleeping, memory_order_relaxed)) &&
	    pos - (cached_tail = atomic_load_explicit(&c->tail, memory_order_relaxed)) >=
		    shim_geo.ring_cap / 16)
		wake_collector(c);
}

void trace_count_lost(unsigned events)
{
	struct hs_ctl *c = shim_ctl;
	if (c)
		atomic_fetch_add_explicit(&c->lost, events, memory_order_relaxed);
}

void trace_alloc(const void *p, size_t size, uint16_t domain)
{
	struct hs_ctl *c = shim_ctl;
	uint32_t stack = stack_capture();
	uint64_t pos = ring_reserve(c);
	if (pos != TRACE_NO_POS)
		ring_publish(c, pos, HS_REC_ALLOC, p, size, stack, domain);
}

void trace_free(const void *p, uint16_t domain)
{
	struct hs_ctl *c = shim_ctl;
	uint64_t pos = ring_reserve(c);
	if (pos != TRACE_NO_POS)
		ring_publish(c, pos, HS_REC_FREE, p, 0, 0, domain);
}

uint64_t trace_reserve(void)
{
	return ring_reserve(shim_ctl);
}

void trace_settle(uint64_t pos, void *old, bool freed)
{
	if (pos == TRACE_NO_POS)
		return;
	ring_publish(shim_ctl, pos, freed ? HS_REC_FREE : HS_REC_NOOP, old, 0, 0, 0);
}

void trace_exit_hook(void)
{
	struct hs_ctl *c = shim_ctl;
	if (atomic_load(&shim_state) != SHIM_ON || !c)
		return;
	uint64_t head = atomic_load(&c->head);
	atomic_store(&c->exit_pos, head + 1);
	wake_collector(c);
}
