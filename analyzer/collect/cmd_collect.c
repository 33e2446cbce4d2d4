/* cmd_collect.c - `heapsnap collect`, the collector process the shim starts.
 *
 * The loop drains the ring, answers snapshot requests at the ring position each was
 * made at, and sleeps on a futex when there is nothing to do (producers wake it when
 * the ring fills up; it wakes itself every few milliseconds to look at requests and
 * at the process).  It ends when the traced process is gone (pidfd) or has exec'd
 * (its maps no longer hold our segment): it then drains what is left, writes the exit
 * snapshot (its trigger says how the process ended), and, under `heapsnap run`,
 * reports the file on the run socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "control.h"
#include "commands.h"
#include "hosted.h"
#include "runlink.h"
#include "segpool.h"
#include "snapfile.h"

#define IDLE_SLEEP_NS (5 * 1000 * 1000)
/* Dormant or stopped, nothing is recorded: a longer sleep keeps the collector's own
 * wake-ups (2% of a core at 5 ms under load) out of the way.  Snapshot signals and the
 * exit hook still wake it at once; a control request waits at most this long. */
#define DORMANT_SLEEP_NS (50 * 1000 * 1000)
#define EXEC_CHECK_NS (250 * 1000 * 1000ull)
#define BATCH 65536
#define MERGE_BACKLOG 8
/* Files for signal requests: bursts of SNAP_BURST, then SNAP_RATE a second.  Beyond
 * that, waiting requests are merged into the newest, which is answered when the rate
 * allows; the collector drains no further than its position meanwhile (docs/heapsnap.1,
 * SNAPSHOT FILES). */
#define SNAP_BURST 8.0
#define SNAP_RATE 10.0
#define RUN_STATUS_WAIT_MS 2000
#define TURN_WAIT_MS 60000
#define WRITING_WAIT_NS (100 * 1000 * 1000ull)
#define GAVE_UP_GRACE_NS (100 * 1000 * 1000ull)

struct collect_args {
	int shm_fd;
	pid_t pid;
	const char *dir;
	int run_fd;
	int host_fd;    /* --host-fd: a host of collectors (hosted.h), fed on this fd */
};

struct session {
	collector_t c;
	struct collect_args a;
	char command[4096];
	int pidfd;
	uint64_t memfd_inode;
	bool owner_gone;        /* nothing writes to the segment: it can be kept */
	uint64_t handled;       /* requests answered or merged so far */
	uint64_t snapshots;     /* files written */
	uint64_t last_exec_check;
	uint64_t gave_up_seen;  /* when the shim's give-up was first seen, or 0 */
	struct runlink link;    /* where messages and reports go */
	struct control control; /* requests from outside: heapsnap snap */
	uint64_t writing_since;  /* since when a request is being written, or 0 */
	double tokens;          /* files that may be written now (SNAP_RATE) */
	uint64_t tokens_at;     /* when tokens was last refilled */
	bool hosted;            /* a thread of heapsnap run's host (hosted.h) */
	bool signal_said;       /* the program's taking the snapshot signal was said */
};

static void help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap collect --shm-fd FD --pid PID --dir DIR [--signal SIG] [--run-fd FD]\n"
		"       heapsnap collect --host-fd FD\n\n"
		"The collector process.  libheapsnap.so starts it; it is not meant to be run\n"
		"by hand.  It drains the traced process's event ring from FD and writes\n"
		"DIR/heapsnap.PID.N.pb.gz on each snapshot request and heapsnap.PID.exit.pb.gz\n"
		"when the process ends.  With --host-fd, it is heapsnap run's host of\n"
		"collectors: each image that run passes on over FD gets a thread of its own.\n\n"
		"Example (what the shim runs, with the segment on fd 3):\n"
		"  heapsnap collect --shm-fd 3 --pid 4242 --dir /home/me/work --signal 12\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_argv(int argc, char **argv, struct collect_args *a)
{
	static const struct option opts[] = {
		{ "shm-fd", required_argument, NULL, 'f' },
		{ "pid", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "signal", required_argument, NULL, 's' },
		{ "run-fd", required_argument, NULL, 'r' },
		{ "host-fd", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct collect_args){ .shm_fd = -1, .run_fd = -1, .host_fd = -1 };
	optind = 0; /* full reset: the parser may run more than once per process */
	long v;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
		case 'r':
		case 'H':
			if (parse_int(optarg, 0, INT_MAX, &v) < 0) {
				fprintf(stderr, "heapsnap: collect: bad fd '%s'\n", optarg);
				return -EINVAL;
			}
			*(opt == 'f' ? &a->shm_fd : opt == 'r' ? &a->run_fd : &a->host_fd) = (int)v;
			break;
		case 'p':
			if (parse_int(optarg, 1, INT_MAX, &v) < 0) {
				fprintf(stderr, "heapsnap: collect: bad pid '%s'\n", optarg);
				return -EINVAL;
			}
			a->pid = (pid_t)v;
			break;
		case 'd':
			a->dir = optarg;
			break;
		case 's':
			break;
		case 'h':
			help(stdout);
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (a->host_fd >= 0 && optind == argc)
		return 0;
	if (a->shm_fd < 0 || a->pid <= 0 || !a->dir || optind != argc) {
		fprintf(stderr, "heapsnap: collect: needs --shm-fd, --pid and --dir; "
				"see 'heapsnap collect --help'\n");
		return -EINVAL;
	}
	return 0;
}

/* The traced command line, from the control block (the shim read it at start). */
static void read_command(struct session *s)
{
	const struct hs_ctl *ctl = s->c.ctl;
	uint32_t len = ctl->command_len; /* read once: the program could change it */
	size_t n = len < sizeof(ctl->command) ? len : sizeof(ctl->command);
	if (n >= sizeof(s->command))
		n = sizeof(s->command) - 1;
	memcpy(s->command, ctl->command, n);
	for (size_t i = 0; i < n; i++)
		if (s->command[i] == '\0')
			s->command[i] = ' ';
	while (n > 0 && s->command[n - 1] == ' ')
		n--;
	s->command[n] = '\0';
}

/* Writes one snapshot.  Returns 0 with the path in path_out, or -errno with what
 * failed in path_out (said to run too). */
static int write_snapshot(struct session *s, const char *name, const char *trigger,
			  uint64_t merged, char *path_out, size_t path_len)
{
	profile_t *p;
	int r = collector_profile(&s->c, trigger, merged, &p);
	if (r == 0) {
		if (s->command[0])
			p->meta.command = profile_intern(p, s->command);
		char base[128];
		snprintf(base, sizeof(base), "heapsnap.%d.%s", (int)s->a.pid, name);
		r = snapfile_write(p, s->a.dir, base, path_out, path_len);
		profile_free(p);
		if (r < 0)
			snprintf(path_out, path_len, "cannot write snapshot '%s/%s.pb.gz': %s",
				 s->a.dir, base, strerror(-r));
	} else {
		snprintf(path_out, path_len, "cannot build snapshot %s: %s", name, strerror(-r));
	}
	if (r < 0)
		runlink_say(&s->link, "%s", path_out);
	if (r == 0)
		s->snapshots++;
	return r;
}

/* Finds the next snapshot request to answer: the oldest one not yet answered, unless
 * more than MERGE_BACKLOG are waiting (a signal storm) or newest is set (the rate
 * limit), in which case all of them are merged into the newest.  Returns true with its
 * number and ring position; number 0 when a request is still being written (then the
 * position is where consuming must pause). */
static bool pending_request(struct session *s, bool newest, uint64_t *n_out, uint64_t *pos_out)
{
	struct hs_ctl *ctl = s->c.ctl;
	uint64_t count = atomic_load(&ctl->req_count);
	s->c.requests_seen = count;
	if (count <= s->handled)
		return false;
	uint64_t n = newest || count - s->handled > MERGE_BACKLOG ? count : s->handled + 1;
	struct hs_request *r = &ctl->req[n % HS_REQ_SLOTS];
	uint64_t seen = atomic_load_explicit(&r->n, memory_order_acquire);
	if (seen > n) {
		/* Overwritten by a later request: this one merges into the newest. */
		n = count;
		r = &ctl->req[n % HS_REQ_SLOTS];
		seen = atomic_load_explicit(&r->n, memory_order_acquire);
	}
	if (seen != n) {
		/* The handler is still writing it: its position is not known yet, and may
		 * be anywhere from what is consumed now on, so nothing more is consumed
		 * until it is (for at most WRITING_WAIT_NS, should the writer never finish). */
		uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
		if (!s->writing_since)
			s->writing_since = now;
		if (now - s->writing_since > WRITING_WAIT_NS)
			return false;
		*n_out = 0;
		*pos_out = s->c.pos;
		return true;
	}
	s->writing_since = 0;
	uint64_t pos = atomic_load(&r->pos);
	/* Consumed past already (the rate limit drained up to a later request): it merges
	 * into the first later one whose position is not passed yet, else the newest. */
	while (pos < s->c.pos && n < count) {
		struct hs_request *later = &ctl->req[(n + 1) % HS_REQ_SLOTS];
		if (atomic_load_explicit(&later->n, memory_order_acquire) != n + 1)
			return pending_request(s, true, n_out, pos_out);
		n++;
		pos = atomic_load(&later->pos);
	}
	*n_out = n;
	*pos_out = pos;
	return true;
}

/* Applies, in the order they came, the control operations made before snapshot request
 * `next` (control.h), each once everything below its ring position is consumed.
 * Returns true when none of them is left; else false with *wait_pos, the position
 * draining must not pass until the next one is applied. */
static bool apply_controls(struct session *s, uint64_t next, bool at_end, uint64_t *wait_pos)
{
	const struct control_op *op;
	*wait_pos = UINT64_MAX;
	while ((op = control_next_op(&s->control)) && op->after < next) {
		while (s->c.pos < op->pos) {
			uint64_t got = collector_drain(&s->c, op->pos, BATCH, at_end);
			if (!got && !at_end) {
				*wait_pos = op->pos;
				return false;
			}
			if (!got)
				break;
		}
		if (op->kind == CONTROL_START)
			collector_start(&s->c);
		else if (op->kind == CONTROL_STOP)
			collector_stop(&s->c);
		else
			collector_reset_peak(&s->c);
		control_op_done(&s->control);
	}
	return true;
}

/* Writes the snapshot for request n once everything before pos is consumed. */
static void answer_request(struct session *s, uint64_t n, uint64_t pos, bool at_end)
{
	uint64_t wait_pos;
	if (!apply_controls(s, n, at_end, &wait_pos))
		return; /* a control operation before it waits for its records */
	while (s->c.pos < pos) {
		uint64_t got = collector_drain(&s->c, pos, BATCH, at_end);
		if (!got && !at_end)
			return; /* not yet published: come back later */
		if (!got)
			break;
	}
	char name[32], trigger[48], path[PATH_MAX];
	snprintf(name, sizeof(name), "%" PRIu64, n);
	snprintf(trigger, sizeof(trigger), "%s %" PRIu64,
		 control_asked(&s->control, n) ? "request" : "signal", n);
	timeline_snap(&s->c.timeline, prim_now_ns(CLOCK_REALTIME));
	int r = write_snapshot(s, name, trigger, n - s->handled - 1, path, sizeof(path));
	control_answer(&s->control, n, r == 0 ? path : NULL, r == 0 ? NULL : path);
	s->handled = n;
}

/* Whether the rate allows another file now (SNAP_BURST, SNAP_RATE). */
static bool snapshot_allowed(struct session *s)
{
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	s->tokens += (double)(now - s->tokens_at) * 1e-9 * SNAP_RATE;
	if (s->tokens > SNAP_BURST)
		s->tokens = SNAP_BURST;
	s->tokens_at = now;
	return s->tokens >= 1;
}

/* Answers the next request when the rate allows (or heapsnap snap asked for it).
 * Returns whether one was answered; else *limit is where draining must stop. */
static bool take_request(struct session *s, uint64_t *limit)
{
	uint64_t n, pos;
	bool throttled = !snapshot_allowed(s);
	*limit = UINT64_MAX;
	if (!pending_request(s, throttled, &n, &pos))
		return false;
	if (n && (!throttled || control_asked(&s->control, n))) {
		answer_request(s, n, pos, false);
		if (s->handled == n) {
			s->tokens -= 1;
			return true;
		}
	}
	*limit = pos;
	return false;
}

/* Whether the process has ended, waiting up to wait_ms for it when there is a pidfd. */
static bool process_gone(struct session *s, int wait_ms)
{
	if (s->pidfd >= 0) {
		struct pollfd p = { .fd = s->pidfd, .events = POLLIN };
		return poll(&p, 1, wait_ms) > 0;
	}
	return kill(s->a.pid, 0) < 0 && errno == ESRCH;
}

/* True when the process no longer maps our segment but maps others: it has exec'd.
 * A process whose exit hook ran is exiting, never exec'ing.  A read of its maps that
 * its exit cut short lists some mappings and not ours (the kernel stops the listing
 * once the memory has no users left, mid-read): a second read, which then lists
 * nothing, tells the two apart. */
static bool process_execd(struct session *s)
{
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	bool pending = atomic_load(&s->c.ctl->exec_pending);
	if ((!pending && now - s->last_exec_check < EXEC_CHECK_NS) ||
	    atomic_load(&s->c.ctl->exit_pos))
		return false;
	s->last_exec_check = now;
	for (int pass = 0; pass < 2; pass++)
		if (symbolizer_maps_inode(s->c.sym, 0, s->memfd_inode) != 0)
			return false;
	return true;
}

/* Once the shim has given up, positions it reserved and abandoned will never be
 * published: after a grace period for writers still in flight, they are skipped and
 * counted as lost.  Returns whether anything was consumed. */
static bool gave_up_drain(struct session *s, uint64_t limit)
{
	if (atomic_load(&s->c.ctl->trace_state) != HS_GAVE_UP)
		return false;
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	if (!s->gave_up_seen) {
		s->gave_up_seen = now;
		return false;
	}
	if (now - s->gave_up_seen < GAVE_UP_GRACE_NS)
		return false;
	return collector_drain(&s->c, limit, BATCH, true) > 0;
}

/* The wait status of the ended process: from heapsnap run when it launched it (it
 * waits for the program and tells us), else from the zombie's /proc/PID/stat while
 * its parent has not reaped it yet.  Returns false when it cannot be known. */
static bool exit_status(struct session *s, int *status)
{
	if (runlink_status(&s->link, status, RUN_STATUS_WAIT_MS))
		return true;
	struct proc_stat st;
	if (prim_proc_stat(s->a.pid, &st) < 0 || st.state != 'Z' || st.exit_code < 0)
		return false;
	*status = st.exit_code;
	return true;
}

static void end_trigger(struct session *s, bool execd, char *out, size_t len)
{
	int st = 0;
	bool known = !execd && exit_status(s, &st);
	if (execd) {
		snprintf(out, len, "exec");
	} else if (known && WIFEXITED(st)) {
		snprintf(out, len, "exit %d", WEXITSTATUS(st));
	} else if (known && WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));
		char number[16];
		snprintf(number, sizeof(number), "%d", WTERMSIG(st));
		snprintf(out, len, "killed by %s%s%s", name ? "SIG" : "signal ", name ? name : number,
			 WCOREDUMP(st) ? " (core dumped)" : "");
	} else if (atomic_load(&s->c.ctl->exit_pos)) {
		/* The status the shim saw _exit given, when it ended that way (1..256). */
		int32_t code = atomic_load(&s->c.ctl->exit_code);
		if (code >= 1 && code <= 256)
			snprintf(out, len, "exit %d", code - 1);
		else
			snprintf(out, len, "exit");
	} else {
		snprintf(out, len, "ended without exit (killed or crashed)");
	}
}

/* Tells run, once, that the snapshot signal is the program's (the shim notes it under
 * heapsnap run, and attached): run says so, on its own stderr.  Attached, heapsnap
 * attach has said it for a signal taken at the start; one the program takes later is
 * said in the log file. */
static void tell_signal_taken(struct session *s)
{
	int v = s->signal_said ? 0 : atomic_load(&s->c.ctl->signal_taken);
	int sig = v & ~(HS_SIGNAL_AT_START | HS_SIGNAL_IGNORED);
	if (sig <= 0 || sig >= NSIG)
		return;
	s->signal_said = true;
	if (s->link.fd < 0 && (v & HS_SIGNAL_AT_START))
		return;
	const char *how = v & HS_SIGNAL_AT_START ? "start"
			  : v & HS_SIGNAL_IGNORED ? "ignored"
						  : "own";
	runlink_signal(&s->link, sig, how);
}

static int run(struct session *s)
{
	bool execd = false, detached = false;
	for (;;) {
		uint64_t limit, wait_pos;
		tell_signal_taken(s);
		if (take_request(s, &limit))
			continue;
		control_poll(&s->control);
		if (!apply_controls(s, s->handled + 1, false, &wait_pos) && wait_pos < limit)
			limit = wait_pos;
		if (collector_drain(&s->c, limit, BATCH, false))
			continue;
		if (gave_up_drain(s, limit))
			continue;
		if (process_gone(s, 0)) {
			execd = atomic_load(&s->c.ctl->exec_pending);
			break;
		}
		if (process_execd(s)) {
			execd = true;
			break;
		}
		if (atomic_load(&s->c.ctl->detached)) { /* heapsnap detach */
			detached = true;
			break;
		}
		timeline_at(&s->c.timeline, prim_now_ns(CLOCK_REALTIME), s->c.current_bytes);
		if (atomic_load(&s->c.ctl->exit_pos) && s->pidfd >= 0) {
			/* The process is on its way out: wait for its end itself, which the
			 * futex would only learn at IDLE_SLEEP_NS (its file, and heapsnap
			 * run with it, waited that long).  The next turn drains its other
			 * threads' last events, then sees it gone. */
			process_gone(s, (int)(IDLE_SLEEP_NS / 1000000));
			continue;
		}
		ring_sleep(&s->c.ring, s->c.pos, s->handled,
			   s->c.active ? IDLE_SLEEP_NS : DORMANT_SLEEP_NS);
	}
	/* Nothing writes to the segment any more: the process exec'd, or ended through
	 * its exit hook.  One killed may have been a vfork parent, whose child, alive,
	 * still shares its memory and its segment. */
	s->owner_gone = execd || (!detached && atomic_load(&s->c.ctl->exit_pos));
	tell_signal_taken(s);
	uint64_t n, pos, wait_pos;
	control_poll_now(&s->control);
	/* Every request still waiting, each at its position: more than one can be, when
	 * draining stopped for a request the loop had not seen (collector_drain) and the
	 * process was found gone next. */
	for (uint64_t before = s->handled; pending_request(s, false, &n, &pos) && n;
	     before = s->handled) {
		answer_request(s, n, pos, true);
		if (s->handled == before)
			break;
	}
	apply_controls(s, UINT64_MAX, true, &wait_pos);
	while (collector_drain(&s->c, UINT64_MAX, BATCH, true))
		;
	/* Done with the process: its control socket and pidfd go before its last file is
	 * written.  A host under a low open-files limit holds three fds for each image
	 * alive, and an image's end then needed a fourth for its file: with 32 images at
	 * once under 'ulimit -n 64', half the files were lost. */
	control_close(&s->control);
	if (s->pidfd >= 0) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	char path[PATH_MAX], trigger[96];
	if (detached)
		snprintf(trigger, sizeof(trigger), "detach");
	else
		end_trigger(s, execd, trigger, sizeof(trigger));
	bool host_turn = false;
	if (s->hosted)
		host_turn = collect_turn_take(TURN_WAIT_MS);
	else
		runlink_wait_turn(&s->link, TURN_WAIT_MS);
	int r = write_snapshot(s, execd ? "exec" : "exit", trigger, 0, path, sizeof(path));
	runlink_file(&s->link, r == 0 ? path : NULL, trigger, s->c.peak_bytes);
	runlink_close(&s->link);
	if (host_turn)
		collect_turn_give();
	/* After the file is announced: heapsnap run need not wait for this. */
	collector_store_rules(&s->c);
	return r < 0 ? 1 : 0;
}

int collect_image(int shm_fd, pid_t pid, const char *dir, int run_fd, bool hosted)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(shm_fd);
		if (run_fd >= 0)
			close(run_fd);
		return 1;
	}
	s->a = (struct collect_args){ .shm_fd = shm_fd, .pid = pid, .dir = dir, .run_fd = run_fd };
	s->pidfd = -1;
	s->hosted = hosted;
	runlink_open(&s->link, s->a.run_fd, s->a.dir, s->a.pid);
	struct stat st;
	bool stat_ok = fstat(shm_fd, &st) == 0;
	/* A host keeps an fd of the segment, for the next image (segpool.h). */
	int kept_fd = -1;
	void *mapped = hosted && stat_ok ? segpool_take(&st, &kept_fd) : NULL;
	int r = stat_ok ? collector_attach(&s->c, shm_fd, pid, mapped) : -errno;
	if (hosted && !mapped && r == 0)
		kept_fd = shm_fd;
	else
		close(shm_fd);
	if (r < 0) {
		runlink_say(&s->link, "collect: fd %d: %s", shm_fd,
			    stat_ok && r == -EINVAL ? "not a heapsnap ring" : strerror(-r));
		if (kept_fd >= 0)
			close(kept_fd);
		r = 1;
		goto out;
	}
	s->memfd_inode = st.st_ino;
	ring_liveness_hold(s->c.ctl);
	atomic_store(&s->c.ctl->collector_pid, (int32_t)getpid());
	atomic_store(&s->c.ctl->collector_state, HS_COLLECTOR_RUNNING);
	s->pidfd = (int)syscall(SYS_pidfd_open, s->a.pid, 0);
	s->last_exec_check = prim_now_ns(CLOCK_MONOTONIC);
	s->tokens = SNAP_BURST;
	s->tokens_at = s->last_exec_check;
	read_command(s);
	if (control_open(&s->control, s->c.ctl) < 0)
		runlink_say(&s->link, "pid %d: no control socket; heapsnap snap needs the signal",
			    (int)s->a.pid);
	if (hosted) {
		char name[16];
		snprintf(name, sizeof(name), "hs %d", (int)pid);
		prctl(PR_SET_NAME, name);
	}
	r = run(s);
	control_close(&s->control);
	atomic_store(&s->c.ctl->collector_state, HS_COLLECTOR_DONE);
	/* A collector that is a thread of a host outlives its hold on the lock: let go of
	 * it while the segment is still mapped (a process's exit would do it anyway). */
	ring_liveness_release(s->c.ctl);
	if (hosted) {
		void *map = s->c.ctl;
		uint64_t size = s->c.shm_size, consumed = s->c.pos;
		s->c.ctl = NULL;
		collector_detach(&s->c);
		/* Reserved since the last record was drained, with the process gone: a
		 * writer that is not the process (a child of a raw clone system call, which
		 * runs none of the shim's fork handling) still traces into the segment. */
		bool idle = atomic_load(&((struct hs_ctl *)map)->head) == consumed;
		segpool_give(map, size, kept_fd, s->owner_gone && idle);
	} else {
		collector_detach(&s->c);
	}
out:
	runlink_close(&s->link);
	if (s->pidfd >= 0)
		close(s->pidfd);
	free(s);
	return r;
}

int cmd_collect(int argc, char **argv)
{
	struct collect_args a;
	int r = parse_argv(argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 2;
	if (a.host_fd >= 0)
		collect_host(a.host_fd); /* which ignores them itself, as run forks it */
	collect_ignore_signals();
	return collect_image(a.shm_fd, a.pid, a.dir, a.run_fd, false);
}
