/* test-attach.c - `heapsnap attach` and `heapsnap detach` on programs already running.
 *
 * The programs (tests/progs/attachee.c, attachee_cxx.cpp) start untraced, allocate,
 * say "ready PID" and wait (blocked in read, nanosleep or a futex, or spinning) while
 * their threads allocate and free without a pause; the test attaches, lets them go,
 * and checks the exact bytes of every marked line from the attach on, that their
 * output, stderr and exit status are what they would have been, and that after detach
 * they run on untraced.  Refusals leave the target as it was.  One case measures how
 * long the target's thread is stopped.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "running.h"
#include "prim.h"
#include "tracetest.h"
#include "checkmain.h"

#define JQ_FILTER "{k: .id, t: (.tags | length)}"

struct scenario {
	const char *prog;
	const char *wait; /* ATTACHEE_WAIT */
	int threads;
	bool plugin;   /* dlopen libplugin.so after the attach */
	bool timer;    /* SIGALRM every millisecond throughout */
	bool children; /* forks two children after the allocations (ATTACHEE_CHILDREN) */
	bool usr2;     /* handles SIGUSR2 itself from the start (ATTACHEE_USR2) */
	bool nobody;   /* runs as user 65534 (ATTACHEE_USER; the test runs as root) */
};

struct target {
	struct tt_proc p;
	char dir[PATH_MAX];
	char go[PATH_MAX + 8];
	char env[8][PATH_MAX + 32];
	const struct scenario *sc;
};

static void start(struct target *t, const struct scenario *sc)
{
	t->sc = sc;
	tt_tempdir(t->dir, sizeof(t->dir));
	snprintf(t->go, sizeof(t->go), "%s/go", t->dir);
	snprintf(t->env[0], sizeof(t->env[0]), "ATTACHEE_THREADS=%d", sc->threads);
	snprintf(t->env[1], sizeof(t->env[1]), "ATTACHEE_WAIT=%s", sc->wait ? sc->wait : "read");
	snprintf(t->env[2], sizeof(t->env[2]), "ATTACHEE_GO=%s", t->go);
	snprintf(t->env[3], sizeof(t->env[3]), "ATTACHEE_PLUGIN=%s/libplugin.so", getenv("PROGS"));
	snprintf(t->env[4], sizeof(t->env[4]), "ATTACHEE_TIMER=1");
	snprintf(t->env[5], sizeof(t->env[5]), "ATTACHEE_CHILDREN=1");
	snprintf(t->env[6], sizeof(t->env[6]), "ATTACHEE_USR2=1");
	snprintf(t->env[7], sizeof(t->env[7]), "ATTACHEE_USER=65534");
	char *env[8] = { t->env[0], t->env[1], t->env[2] };
	int n = 3;
	if (sc->plugin)
		env[n++] = t->env[3];
	if (sc->timer)
		env[n++] = t->env[4];
	if (sc->children)
		env[n++] = t->env[5];
	if (sc->usr2)
		env[n++] = t->env[6];
	if (sc->nobody)
		env[n++] = t->env[7];
	env[n] = NULL;
	tt_start(NULL, sc->prog, env, &t->p);
}

static void run_cmd(const char *cmd, pid_t pid, const char *dir, struct run_result *r)
{
	char pid_arg[16];
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)pid);
	char *with_dir[] = { (char *)cmd, "--dir", (char *)dir, pid_arg, NULL };
	char *plain[] = { (char *)cmd, pid_arg, NULL };
	tt_heapsnap(dir ? with_dir : plain, r);
}

/* heapsnap attach: exit 0, one line on stdout; returns the stop time in ms. */
static double attach(struct target *t)
{
	static struct run_result r;
	run_cmd("attach", t->p.pid, t->dir, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "attach failed: %s",
		      r.err);
	ck_assert_str_eq(r.err, "");
	char want[64];
	int n = snprintf(want, sizeof(want), "heapsnap: attached to %d (", (int)t->p.pid);
	ck_assert_msg(!strncmp(r.out, want, (size_t)n), "attach said: %s", r.out);
	const char *s = strstr(r.out, "stopped for ");
	ck_assert_ptr_nonnull(s);
	return atof(s + 12);
}

/* A refusal: exit status 1 and one line on stderr containing `why`. */
static void refused(const char *cmd, pid_t pid, const char *dir, const char *why)
{
	static struct run_result r;
	run_cmd(cmd, pid, dir, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "%s %d: status %d: %s",
		      cmd, (int)pid, r.status, r.err);
	ck_assert_msg(strstr(r.err, why), "%s said '%s', not '%s'", cmd, r.err, why);
	ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
	ck_assert_str_eq(r.out, "");
}

static void expect_line(struct target *t, const char *want)
{
	char line[128];
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), t->p.out));
	ck_assert_str_eq(line, want);
}

static void go(struct target *t)
{
	const char *w = t->sc->wait;
	if (!w || !strcmp(w, "read") || !strcmp(w, "futex") || !strcmp(w, "poll")) {
		fputs("go\n", t->p.in);
		fflush(t->p.in);
	} else {
		int fd = open(t->go, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	expect_line(t, "allocated 100\n");
}

/* "again", "done", end of output, exit 0, nothing on stderr. */
static void finish(struct target *t)
{
	fputs("again\n", t->p.in);
	fflush(t->p.in);
	expect_line(t, "done\n");
	char rest[64];
	ck_assert_ptr_null(fgets(rest, sizeof(rest), t->p.out));
	char err[4096];
	int st = tt_finish(&t->p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_str_eq(err, "");
}

static void site_is(const profile_t *p, const char *file, const char *site, int64_t alloc_n,
		    int64_t alloc_b, int64_t inuse_n, int64_t inuse_b)
{
	int64_t v[PV_COUNT] = { 0 };
	tt_site_named(p, file, site, v);
	ck_assert_msg(v[PV_ALLOC_OBJECTS] == alloc_n && v[PV_ALLOC_SPACE] == alloc_b &&
			      v[PV_INUSE_OBJECTS] == inuse_n && v[PV_INUSE_SPACE] == inuse_b,
		      "%s: allocated %lld/%lld B, in use %lld/%lld B", site,
		      (long long)v[PV_ALLOC_OBJECTS], (long long)v[PV_ALLOC_SPACE],
		      (long long)v[PV_INUSE_OBJECTS], (long long)v[PV_INUSE_SPACE]);
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "heapsnap.", 9);
	closedir(d);
	return n;
}

static bool maps_shim(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	bool found = false;
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, "libheapsnap") != NULL;
	fclose(f);
	return found;
}

/* Starts sc, attaches while it waits, lets it go and end; returns its exit file. */
static profile_t *attach_run(const struct scenario *sc)
{
	static struct target t;
	start(&t, sc);
	attach(&t);
	go(&t);
	finish(&t);
	return tt_snapshot(t.dir, t.p.pid, "exit", 30);
}

/* Attach while waiting as sc says, go, and check the exit file line by line. */
static void attach_and_check(const struct scenario *sc)
{
	profile_t *p = attach_run(sc);
	/* It returns 0 from main, and the test reaps it at once: the shim hears it. */
	ck_assert_str_eq(p->meta.trigger, "exit 0");
	const char *f = "attachee.c";
	site_is(p, f, "after", 100, 100000, 100, 100000);
	site_is(p, f, "after_freed", 50, 15000, 0, 0);
	site_is(p, f, "after_pointer", 10, 7000, 10, 7000);
	site_is(p, f, "after_detach", 10, 5000, 10, 5000);
	/* Allocated before the attach: unknown, and the 32 frees of them unmatched. */
	site_is(p, f, "before", 0, 0, 0, 0);
	ck_assert_int_ge(p->meta.unmatched_frees, 32);
	profile_free(p);
}

static const struct scenario single_read = { .prog = "attachee", .wait = "read", .threads = 0 };
static const struct scenario threads_read = { .prog = "attachee", .wait = "read", .threads = 4 };

START_TEST(single_thread_blocked_in_read)
{
	attach_and_check(&single_read);
}
END_TEST

START_TEST(threads_allocating_during_the_attach)
{
	attach_and_check(&threads_read);
}
END_TEST

START_TEST(blocked_in_nanosleep)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "nanosleep", .threads = 2 };
	attach_and_check(&sc);
}
END_TEST

START_TEST(blocked_in_a_futex)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "futex", .threads = 0 };
	attach_and_check(&sc);
}
END_TEST

START_TEST(in_a_busy_loop)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "busy", .threads = 0 };
	attach_and_check(&sc);
}
END_TEST

START_TEST(busy_with_threads)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "busy", .threads = 3 };
	attach_and_check(&sc);
}
END_TEST

START_TEST(a_non_pie_program_whose_plt_entry_is_mallocs_address)
{
	/* Threads first entering the shim then allocate their dynamic TLS through the
	 * loader's malloc, which is that PLT entry too. */
	static const struct scenario sc = { .prog = "attachee-nopie", .wait = "read", .threads = 4 };
	attach_and_check(&sc);
}
END_TEST

START_TEST(signals_arriving_during_the_attach)
{
	static const struct scenario read_ticking = {
		.prog = "attachee", .wait = "read", .threads = 0, .timer = true,
	};
	static const struct scenario busy_ticking = {
		.prog = "attachee", .wait = "busy", .threads = 2, .timer = true,
	};
	attach_and_check(&read_ticking);
	attach_and_check(&busy_ticking);
}
END_TEST

START_TEST(cxx_threads_with_new_and_delete)
{
	static const struct scenario sc = { .prog = "attachee_cxx", .wait = "read", .threads = 4 };
	profile_t *p = attach_run(&sc);
	const char *f = "attachee_cxx.cpp";
	site_is(p, f, "after_new", 100, 100000, 100, 100000);
	site_is(p, f, "after_node", 20, 20 * 128, 20, 20 * 128);
	site_is(p, f, "after_freed", 50, 15000, 0, 0);
	profile_free(p);
}
END_TEST

START_TEST(a_library_loaded_after_the_attach)
{
	static const struct scenario sc = {
		.prog = "attachee", .wait = "read", .threads = 2, .plugin = true,
	};
	profile_t *p = attach_run(&sc);
	site_is(p, "plugin.c", "plugin", 1, 321, 1, 321);
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
}
END_TEST

/* The fds below 64 the process has open, as a bit set. */
static uint64_t low_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	uint64_t set = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) < 64)
			set |= 1ull << atoi(e->d_name);
	closedir(d);
	return set;
}

/* Whether the process has a handler for sig. */
static bool catches(pid_t pid, int sig)
{
	char v[64];
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	bool found = false, on = false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "SigCgt: %63s", v) == 1) {
			found = true;
			on = strtoull(v, NULL, 16) >> (sig - 1) & 1;
		}
	fclose(f);
	ck_assert(found);
	return on;
}

START_TEST(detach_leaves_the_program_running_untraced)
{
	static struct target t;
	start(&t, &threads_read);
	uint64_t fds = low_fds(t.p.pid);
	ck_assert(!catches(t.p.pid, SIGUSR2));
	attach(&t);
	/* No fd of ours where the program would find it; the snapshot signal set. */
	ck_assert_uint_eq(low_fds(t.p.pid), fds);
	ck_assert(catches(t.p.pid, SIGUSR2));
	go(&t);
	static struct run_result r;
	run_cmd("detach", t.p.pid, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "detach: %s", r.err);
	ck_assert_str_eq(r.err, "");
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s/heapsnap.%d.exit.pb.gz\n", t.dir, (int)t.p.pid);
	ck_assert_str_eq(r.out, want);
	ck_assert_int_eq(tt_collector_pid(t.p.pid), 0);
	ck_assert(!catches(t.p.pid, SIGUSR2));
	refused("detach", t.p.pid, NULL, "is not attached");
	refused("attach", t.p.pid, t.dir, "was attached and detached before");
	finish(&t);
	/* The last file is detach's: the program's end after it wrote nothing. */
	ck_assert_int_eq(files_in(t.dir), 1);
	profile_t *p = tt_snapshot(t.dir, t.p.pid, "exit", 30);
	ck_assert_str_eq(p->meta.trigger, "detach");
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	site_is(p, "attachee.c", "after_detach", 0, 0, 0, 0);
	profile_free(p);
}
END_TEST

/* heapsnap snap PID, once gone: the first snapshot, "request 1", has the lines after go. */
static void snap_request(struct target *t)
{
	static struct run_result r;
	char pid_arg[16];
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)t->p.pid);
	char *args[] = { "snap", pid_arg, NULL };
	tt_heapsnap(args, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "snap: %s", r.err);
	profile_t *p = tt_snapshot(t->dir, t->p.pid, "1", 30);
	ck_assert_str_eq(p->meta.trigger, "request 1");
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
}

/* Attach's own stop interrupts a poll with a timeout, which the kernel resumes as
 * restart_syscall: detach must find the thread there all the same.  It said that no
 * thread stopped where it holds none of libc's locks, for as long as the poll lasted
 * (a sleep 30, a python select.poll). */
START_TEST(detach_during_a_poll_that_attach_interrupted)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "poll" };
	static struct target t;
	start(&t, &sc);
	/* In its poll before the attach, so that the attach interrupts it. */
	char path[64], line[64];
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)t.p.pid);
	long nr = -1;
	for (int tries = 0; tries < 500 && nr != SYS_poll && nr != SYS_ppoll; tries++) {
		usleep(2000);
		FILE *f = fopen(path, "re");
		ck_assert_ptr_nonnull(f);
		nr = fgets(line, sizeof(line), f) ? atol(line) : -1;
		fclose(f);
	}
	ck_assert_msg(nr == SYS_poll || nr == SYS_ppoll, "not in poll: %ld", nr);
	attach(&t);
	static struct run_result r;
	run_cmd("detach", t.p.pid, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "detach: %s", r.err);
	go(&t);
	finish(&t);
	profile_t *p = tt_snapshot(t.dir, t.p.pid, "exit", 30);
	ck_assert_str_eq(p->meta.trigger, "detach");
	profile_free(p);
}
END_TEST

START_TEST(snap_and_the_signal_work_once_attach_returns)
{
	static struct target t;
	start(&t, &single_read);
	attach(&t);
	go(&t);
	snap_request(&t);
	/* The snapshot signal too: the program had no handler for it. */
	ck_assert_int_eq(kill(t.p.pid, SIGUSR2), 0);
	profile_t *p = tt_snapshot(t.dir, t.p.pid, "2", 30);
	ck_assert_str_eq(p->meta.trigger, "signal 2");
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
	finish(&t);
}
END_TEST

/* The attached program's forked children end as the preloaded shim's do: one that execs
 * writes an exec file, one that calls _exit an exit file with its status; and the
 * program, asking what SIGUSR2's action is, is told the default, not the shim's
 * handler.  Before the exec family, the exits and sigaction were redirected at attach,
 * both files said "ended without exit (killed or crashed)". */
START_TEST(forked_children_exec_and_exit_as_under_the_shim)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "read", .children = true };
	static struct target t;
	start(&t, &sc);
	attach(&t);
	go(&t);
	char line[128];
	int a = 0, b = 0;
	char usr2[32] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), t.p.out));
	ck_assert_msg(sscanf(line, "children %d %d %31s", &a, &b, usr2) == 3, "said %s", line);
	ck_assert_str_eq(usr2, "usr2-default");
	profile_t *p = tt_snapshot(t.dir, a, "exec", 30);
	ck_assert_str_eq(p->meta.trigger, "exec");
	site_is(p, "attachee.c", "child_exec", 1, 400, 1, 400);
	profile_free(p);
	p = tt_snapshot(t.dir, b, "exit", 30);
	ck_assert_str_eq(p->meta.trigger, "exit 3");
	site_is(p, "attachee.c", "child_exit", 1, 600, 1, 600);
	profile_free(p);
	finish(&t);
	p = tt_snapshot(t.dir, t.p.pid, "exit", 30);
	ck_assert_str_eq(p->meta.trigger, "exit 0");
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
}
END_TEST

/* A program that handles SIGUSR2 itself keeps it: attach says so on its own output,
 * nothing is written on the program's stderr (the shim wrote a line about
 * HEAPSNAP_SIGNAL there), the signal reaches the program's handler, and snap works. */
START_TEST(a_program_that_handles_the_snapshot_signal_keeps_it)
{
	static const struct scenario sc = { .prog = "attachee", .wait = "read", .usr2 = true };
	static struct target t;
	start(&t, &sc);
	static struct run_result r;
	run_cmd("attach", t.p.pid, t.dir, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "attach: %s", r.err);
	ck_assert_str_eq(r.err, "");
	const char *second = strchr(r.out, '\n');
	ck_assert_ptr_nonnull(second);
	char want[256];
	snprintf(want, sizeof(want),
		 "heapsnap: SIGUSR2 is process %d's own, not a snapshot signal; 'heapsnap snap "
		 "%d' takes snapshots\n", (int)t.p.pid, (int)t.p.pid);
	ck_assert_str_eq(second + 1, want);
	go(&t);
	ck_assert_int_eq(kill(t.p.pid, SIGUSR2), 0);
	snap_request(&t);
	fputs("again\n", t.p.in);
	fflush(t.p.in);
	expect_line(&t, "usr2 1\n");
	expect_line(&t, "done\n");
	char err[4096];
	int st = tt_finish(&t.p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_str_eq(err, "");
}
END_TEST

/* ---- refusals: one line, status 1, the target untouched ---- */

static void untouched(struct target *t)
{
	ck_assert(!maps_shim(t->p.pid));
	go(t);
	finish(t);
	ck_assert_int_eq(files_in(t->dir), 0);
}

/* Starts attachee as user nobody, when the test runs as root; else says it skips. */
static bool start_as_nobody(struct target *t)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root to start a process as another user\n");
		return false;
	}
	static const struct scenario sc = { .prog = "attachee", .wait = "read", .nobody = true };
	start(t, &sc);
	return true;
}

/* Makes dir (a mkdtemp template) a directory nobody may write; the test removes it. */
static void nobody_dir(char *dir)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
}

/* The collector, the process's own child, writes as the process's user: attach checks
 * the directory as that user, not as itself.  Root attaching to a process of nobody's
 * with root's 0700 directory is refused, the process left able to be attached again;
 * with a directory nobody may write, the attach goes on.  Before, attach checked as
 * itself, said the snapshots went to the first, and every one of them then failed. */
START_TEST(checks_the_directory_as_the_process_user)
{
	static struct target t;
	if (!start_as_nobody(&t))
		return;
	static struct run_result r;
	run_cmd("attach", t.p.pid, t.dir, &r);
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1 && strstr(r.err, "could not load")) {
		/* The build tree is not reachable by nobody (under a 0700 home, say). */
		fprintf(stderr, "skipped: nobody cannot load the shim: %s", r.err);
		go(&t);
		finish(&t);
		return;
	}
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "heapsnap: attach: process %d cannot write snapshots to '%s' "
		 "as its own user: Permission denied\n", (int)t.p.pid, t.dir);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "attach: %d", r.status);
	ck_assert_str_eq(r.err, want);
	ck_assert_str_eq(r.out, "");
	/* Where nobody may write (removed at the end; left by a failure before it). */
	char open_dir[] = "/tmp/heapsnap-nobody-XXXXXX";
	nobody_dir(open_dir);
	run_cmd("attach", t.p.pid, open_dir, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "attach: %s", r.err);
	go(&t);
	finish(&t);
	profile_t *p = tt_snapshot(open_dir, t.p.pid, "exit", 30);
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", open_dir, (int)t.p.pid);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(open_dir), 0);
	ck_assert_int_eq(files_in(t.dir), 0);
}
END_TEST

START_TEST(refuses_a_missing_process)
{
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	char want[64];
	snprintf(want, sizeof(want), "heapsnap: attach: no process %d\n", (int)child);
	refused("attach", child, "/tmp", want);
	snprintf(want, sizeof(want), "heapsnap: detach: no process %d\n", (int)child);
	refused("detach", child, NULL, want);
}
END_TEST

START_TEST(refuses_an_attached_process)
{
	static struct target t;
	start(&t, &single_read);
	attach(&t);
	refused("attach", t.p.pid, t.dir, "is already attached");
	go(&t);
	finish(&t);
	profile_t *p = tt_snapshot(t.dir, t.p.pid, "exit", 30);
	site_is(p, "attachee.c", "after", 100, 100000, 100, 100000);
	profile_free(p);
}
END_TEST

START_TEST(refuses_a_process_started_under_the_shim)
{
	static struct target t;
	t.sc = &single_read;
	tt_tempdir(t.dir, sizeof(t.dir));
	tt_start(t.dir, "attachee", NULL, &t.p);
	refused("attach", t.p.pid, t.dir, "started under the shim");
	refused("detach", t.p.pid, NULL, "started under the shim (heapsnap run or LD_PRELOAD), "
		"not attached: it is traced until it ends");
	/* heapsnap run's pid stands for its program, as for snap: before, attach traced
	 * heapsnap run itself. */
	char want[160];
	snprintf(want, sizeof(want), "process %d (the program of heapsnap run %d) is already "
		 "traced", (int)t.p.pid, (int)t.p.run);
	refused("attach", t.p.run, t.dir, want);
	ck_assert(!maps_shim(t.p.run));
	snprintf(want, sizeof(want), "process %d (the program of heapsnap run %d) was started",
		 (int)t.p.pid, (int)t.p.run);
	refused("detach", t.p.run, NULL, want);
	go(&t);
	fputs("again\n", t.p.in);
	fflush(t.p.in);
	expect_line(&t, "done\n");
	char err[4096];
	int st = tt_finish(&t.p, err, sizeof(err));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	profile_t *p = tt_snapshot(t.dir, t.p.pid, "exit", 30);
	site_is(p, "attachee.c", "before", 64, 64 * 200, 32, 32 * 200);
	profile_free(p);
}
END_TEST

/* A heapsnap run whose program has ended, waiting for its collectors, is refused:
 * its pid stands for no program, and run itself is never traced (attach did). */
START_TEST(refuses_a_run_whose_program_has_ended)
{
	char dir[PATH_MAX];
	tt_tempdir(dir, sizeof(dir));
	char *args[] = { "heapsnap", "run", "-q", "--wait", "30", "--dir", dir, "--",
			 "/bin/sleep", "3", NULL };
	pid_t run = tt_heapsnap_quietly(args);
	/* Its host stopped before the program ends (long enough for a loaded machine to
	 * find it and its host): run then waits, with no program. */
	pid_t program = 0;
	for (int tries = 0; tries < 300 && program <= 0; tries++) {
		usleep(2000);
		program = running_run_child(run);
	}
	ck_assert_int_gt(program, 0);
	pid_t host = tt_tgid_of(tt_collector_pid(program));
	ck_assert_int_gt(host, 0);
	ck_assert_int_eq(kill(host, SIGSTOP), 0);
	for (int tries = 0; tries < 500 && running_run_child(run) > 0; tries++)
		usleep(10 * 1000);
	ck_assert_int_eq(running_run_child(run), 0);
	static struct run_result at, de;
	run_cmd("attach", run, dir, &at);
	run_cmd("detach", run, NULL, &de);
	bool shim = maps_shim(run);
	/* Let run finish before anything is asserted: a stopped host would stay. */
	ck_assert_int_eq(kill(host, SIGCONT), 0);
	int st;
	ck_assert_int_eq(waitpid(run, &st, 0), run);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(!shim);
	char want[128];
	snprintf(want, sizeof(want), "heapsnap: attach: process %d is heapsnap run, whose "
		 "program has ended\n", (int)run);
	ck_assert_msg(WIFEXITED(at.status) && WEXITSTATUS(at.status) == 1, "attach: %s", at.out);
	ck_assert_str_eq(at.err, want);
	memcpy(want + 10, "detach", 6);
	ck_assert_msg(WIFEXITED(de.status) && WEXITSTATUS(de.status) == 1, "detach: %s", de.out);
	ck_assert_str_eq(de.err, want);
}
END_TEST

START_TEST(refuses_a_process_under_a_debugger)
{
	static struct target t;
	start(&t, &single_read);
	ck_assert_int_eq(ptrace(PTRACE_SEIZE, t.p.pid, 0, 0), 0);
	char want[64];
	snprintf(want, sizeof(want), "is being traced by process %d", (int)getpid());
	refused("attach", t.p.pid, t.dir, want);
	ck_assert_int_eq(ptrace(PTRACE_INTERRUPT, t.p.pid, 0, 0), 0);
	int st;
	ck_assert_int_eq(waitpid(t.p.pid, &st, __WALL), t.p.pid);
	ck_assert_int_eq(ptrace(PTRACE_DETACH, t.p.pid, 0, 0), 0);
	untouched(&t);
}
END_TEST

/* heapsnap attach --dir dir pid, run as user nobody (no supplementary groups); returns
 * its wait status (exit 127: nobody cannot run it) with its stderr in msg. */
static int attach_as_nobody(pid_t pid, const char *dir, char *msg, size_t len)
{
	int err[2];
	ck_assert_int_eq(pipe(err), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		dup2(err[1], 2);
		char pid_arg[16];
		snprintf(pid_arg, sizeof(pid_arg), "%d", (int)pid);
		if (setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0)
			execl(getenv("HEAPSNAP"), "heapsnap", "attach", "--dir", dir, pid_arg,
			      (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	ssize_t n = read(err[0], msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(err[0]);
	int st;
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	return st;
}

/* heapsnap attach run as nobody is refused with want on its stderr, and the process
 * is left untouched. */
static void refused_as_nobody(struct target *t, const char *dir, const char *want)
{
	char msg[512];
	int st = attach_as_nobody(t->p.pid, dir, msg, sizeof(msg));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		/* The build tree is not reachable by nobody (under a 0700 home, say). */
		fprintf(stderr, "skipped: nobody cannot run %s\n", getenv("HEAPSNAP"));
	} else {
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, msg);
		ck_assert_str_eq(msg, want);
	}
	untouched(t);
}

/* Run by the process's own user, attach checks the directory itself and leaves the
 * process untouched: no library loaded for a check whose answer it knows. */
START_TEST(refuses_an_unwritable_directory_without_touching_the_process)
{
	static struct target t;
	if (!start_as_nobody(&t))
		return;
	char want[160];
	snprintf(want, sizeof(want), "heapsnap: attach: process %d cannot write snapshots to '/' "
		 "as its own user: Permission denied\n", (int)t.p.pid);
	refused_as_nobody(&t, "/", want);
}
END_TEST

START_TEST(refuses_another_users_process)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root to run heapsnap attach as another user\n");
		return;
	}
	static struct target t;
	start(&t, &single_read);
	char want[160];
	snprintf(want, sizeof(want), "heapsnap: attach: process %d belongs to user 0: run heapsnap "
		 "attach as that user or as root\n", (int)t.p.pid);
	refused_as_nobody(&t, "/tmp", want);
}
END_TEST

START_TEST(refuses_a_setuid_program)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root to make a setuid program\n");
		return;
	}
	/* A copy of attachee, setuid to nobody: run by root, it is in secure execution. */
	static struct target t;
	static char copy[PATH_MAX + 32], src[PATH_MAX];
	tt_tempdir(copy, sizeof(copy) - 32);
	strcat(copy, "/attachee-setuid");
	snprintf(src, sizeof(src), "%s/attachee", getenv("PROGS"));
	int in = open(src, O_RDONLY), out = open(copy, O_CREAT | O_WRONLY, 0755);
	ck_assert(in >= 0 && out >= 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	ck_assert_int_eq(chown(copy, 65534, 65534), 0);
	ck_assert_int_eq(chmod(copy, 04755), 0);
	static const struct scenario sc = { .prog = copy, .wait = "read", .threads = 0 };
	start(&t, &sc);
	refused("attach", t.p.pid, t.dir, "runs setuid or setgid (secure execution)");
	untouched(&t);
}
END_TEST

START_TEST(refuses_a_static_program)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/attachee-static", getenv("PROGS"));
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "skipped: no static libc to build %s\n", path);
		return;
	}
	static const struct scenario sc = { .prog = "attachee-static", .wait = "read", .threads = 0 };
	static struct target t;
	start(&t, &sc);
	refused("attach", t.p.pid, t.dir, "is statically linked");
	untouched(&t);
}
END_TEST

/* A zombie, and a live process whose main thread has exited, show no memory map;
 * both were said to be statically linked. */
START_TEST(refuses_a_zombie_and_a_process_without_its_main_thread)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	pid_t z = fork();
	ck_assert_int_ge(z, 0);
	if (z == 0)
		_exit(0);
	while (prim_proc_state(z) != 'Z')
		usleep(1000);
	refused("attach", z, dir, "has ended: it is a zombie, not yet reaped by its parent");
	refused("detach", z, dir, "has ended: it is a zombie, not yet reaped by its parent");
	int st;
	ck_assert_int_eq(waitpid(z, &st, 0), z);

	char prog[PATH_MAX];
	snprintf(prog, sizeof(prog), "%s/leaderless", getenv("PROGS"));
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0) {
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	while (prim_proc_state(p) != 'Z') /* the leader is a zombie; its other thread lives */
		usleep(1000);
	refused("attach", p, dir, "shows no memory map: its main thread has exited");
	kill(p, SIGKILL);
	ck_assert_int_eq(waitpid(p, &st, 0), p);
}
END_TEST

/* heapsnap's own processes are never attached: a collector (here, a traced waiter's). */
START_TEST(refuses_heapsnap_itself)
{
	char dir[256], err[4096];
	struct tt_proc p;
	pid_t c = tt_start_collected(dir, sizeof(dir), "waiter", &p);
	ck_assert_int_gt(c, 0);
	refused("attach", c, dir, "is heapsnap itself (a collector, or heapsnap run's host of "
				  "collectors), which is never traced");
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* A process stopped by a signal is left stopped: a shell stopped in its own kill() was
 * continued while attach looked for a thread outside libc, and ran on to its end. */
START_TEST(refuses_a_stopped_process_and_leaves_it_stopped)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0) {
		execl("/bin/sh", "sh", "-c", "kill -STOP $$; exit 3", (char *)NULL);
		_exit(127);
	}
	while (prim_proc_state(p) != 'T')
		usleep(1000);
	refused("attach", p, dir, "is stopped (SIGSTOP or SIGTSTP), and stays so: continue it "
				  "first (kill -CONT");
	usleep(100 * 1000);
	ck_assert_int_eq(prim_proc_state(p), 'T');
	kill(p, SIGCONT);
	int st;
	ck_assert_int_eq(waitpid(p, &st, 0), p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %#x", st);
}
END_TEST

/* The host pid of the only child of pid, waiting up to 5 s for it; 0 when none. */
static pid_t only_child_of(pid_t pid)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (int tries = 0; tries < 500; tries++) {
		FILE *f = fopen(path, "r");
		long child = 0;
		if (f && fgets(buf, sizeof(buf), f))
			child = strtol(buf, NULL, 10);
		if (f)
			fclose(f);
		if (child > 0)
			return (pid_t)child;
		usleep(10 * 1000);
	}
	return 0;
}

/* A process in a PID namespace of its own (a container), attached from outside by the
 * pid seen here: its collector, started inside, knows it by its pid there.  snap found
 * no collector, and detach waited for a pid of the namespace as if it were one of
 * here (a minute), then looked for a file named by the outside pid. */
START_TEST(attach_into_a_pid_namespace)
{
	char dir[256], prog[PATH_MAX], script[PATH_MAX + 16];
	tt_tempdir(dir, sizeof(dir));
	snprintf(prog, sizeof(prog), "%s/waiter", getenv("PROGS"));
	snprintf(script, sizeof(script), "'%s'; :", prog); /* sh is pid 1, waiter pid 2 */
	char *as_root[] = { "/usr/bin/unshare", "--pid", "--fork", "/bin/sh", "-c", script, NULL };
	char *as_user[] = { "/usr/bin/unshare", "--user", "--map-root-user", "--pid", "--fork",
			    "/bin/sh", "-c", script, NULL };
	char **argv = geteuid() == 0 ? as_root : as_user;
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t u = fork();
	ck_assert_int_ge(u, 0);
	if (u == 0) {
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	char line[64] = "";
	ck_assert_int_gt(read(out[0], line, sizeof(line) - 1), 0);
	ck_assert_str_eq(line, "ready 2\n");
	pid_t sh = only_child_of(u), w = sh ? only_child_of(sh) : 0;
	ck_assert_int_gt(w, 0);

	static struct run_result r;
	run_cmd("attach", w, dir, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	char pid_arg[16], want[PATH_MAX + 64];
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)w);
	char *snap[] = { "snap", pid_arg, NULL };
	tt_heapsnap(snap, &r);
	snprintf(want, sizeof(want), "%s/heapsnap.2.1.pb.gz\n", dir);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && !strcmp(r.out, want),
		      "snap: %s%s", r.out, r.err);
	uint64_t t0 = prim_now_ns(CLOCK_MONOTONIC);
	run_cmd("detach", w, NULL, &r);
	double s = (double)(prim_now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	snprintf(want, sizeof(want), "%s/heapsnap.2.exit.pb.gz\n", dir);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && !strcmp(r.out, want),
		      "detach: %s%s", r.out, r.err);
	ck_assert_msg(s < 10, "detach took %.1f s", s);
	kill(w, SIGTERM);
	int st;
	ck_assert_int_eq(waitpid(u, &st, 0), u);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	close(out[0]);
}
END_TEST

/* A snapshot directory that is a file (an executable one passes an access check) is
 * refused before the process is touched; before, attach said the snapshots went
 * there, and each then failed with "Not a directory". */
START_TEST(refuses_a_directory_that_is_a_file)
{
	static struct target t;
	start(&t, &single_read);
	char file[PATH_MAX + 16], want[PATH_MAX + 96];
	snprintf(file, sizeof(file), "%s/file", t.dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(want, sizeof(want), "cannot write snapshots to '%s': Not a directory", file);
	refused("attach", t.p.pid, file, want);
	ck_assert_int_eq(unlink(file), 0);
	untouched(&t);
}
END_TEST

/* Copies src to dst with mode. */
static void copy_file(const char *src, const char *dst, mode_t mode)
{
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod %o '%s'", src, dst, (unsigned)mode, dst);
	ck_assert_int_eq(system(cmd), 0);
}

/* The collector is the process's child: its user must be able to run heapsnap.  With
 * an installation only root may run (bin/heapsnap 0700), attaching to nobody's process
 * is refused, naming the binary, and leaves it able to be attached once that is
 * fixed.  Before, the shim said on the program's stderr to set HEAPSNAP_COLLECTOR,
 * and every later attach failed. */
START_TEST(refuses_a_collector_the_process_cannot_run)
{
	static struct target t;
	if (!start_as_nobody(&t))
		return;
	char top[] = "/tmp/heapsnap-install-XXXXXX", path[PATH_MAX], bin[PATH_MAX], shim[PATH_MAX];
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(chmod(top, 0755), 0);
	snprintf(path, sizeof(path), "%s/bin", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/lib", top);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(bin, sizeof(bin), "%s/bin/heapsnap", top);
	copy_file(getenv("HEAPSNAP"), bin, 0700);
	snprintf(shim, sizeof(shim), "%s", getenv("HEAPSNAP_SHIM"));
	strcpy(strrchr(shim, '/') + 1, "libheapsnap-attach.so");
	snprintf(path, sizeof(path), "%s/lib/libheapsnap-attach.so", top);
	copy_file(shim, path, 0755);
	char open_dir[] = "/tmp/heapsnap-nobody-XXXXXX", pid_arg[16];
	nobody_dir(open_dir);
	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)t.p.pid);
	static struct run_result r;
	char *args[] = { "attach", "--dir", open_dir, pid_arg, NULL };
	char heapsnap[PATH_MAX];
	snprintf(heapsnap, sizeof(heapsnap), "%s", getenv("HEAPSNAP"));
	ck_assert_int_eq(setenv("HEAPSNAP", bin, 1), 0);
	tt_heapsnap(args, &r);
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127) {
		fprintf(stderr, "skipped: /tmp does not let root run a copy: %s", r.err);
	} else if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1 &&
		   strstr(r.err, "could not load")) {
		fprintf(stderr, "skipped: nobody cannot load the shim: %s", r.err);
	} else {
		char want[2 * PATH_MAX];
		snprintf(want, sizeof(want), "heapsnap: attach: process %d cannot run '%s' (its "
			 "collector) as its own user: Permission denied\n", (int)t.p.pid, bin);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "%s", r.out);
		ck_assert_str_eq(r.err, want);
		ck_assert_int_eq(chmod(bin, 0755), 0);
		tt_heapsnap(args, &r);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	}
	ck_assert_int_eq(setenv("HEAPSNAP", heapsnap, 1), 0); /* as it was, without fork mode */
	go(&t);
	finish(&t);
	snprintf(path, sizeof(path), "rm -rf '%s' '%s'", top, open_dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(refuses_bad_usage)
{
	static struct run_result r;
	char *none[] = { "attach", NULL };
	tt_heapsnap(none, &r);
	ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2);
	ck_assert_str_eq(r.err, "heapsnap: attach: needs one PID; see 'heapsnap attach --help'\n");
	char *bad[] = { "detach", "12x", NULL };
	tt_heapsnap(bad, &r);
	ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2);
	ck_assert_str_eq(r.err, "heapsnap: detach: '12x' is not a pid\n");
	char *frames[] = { "attach", "--frames", "0", "1", NULL };
	tt_heapsnap(frames, &r);
	ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2);
	ck_assert_str_eq(r.err, "heapsnap: attach: --frames takes 1..256, not '0'\n");
}
END_TEST

/* ---- a real program: jq mid-run ---- */

/* Allocations summed by the function that called the allocator. */
struct fsum {
	char name[128];
	int64_t n, bytes;
};

static int fsums(const profile_t *p, struct fsum *out, int max)
{
	int k = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		const char *name = "?";
		if (s->nlocs) {
			const profile_location_t *loc = &p->locations[s->locs[0]];
			if (loc->nlines && loc->lines[loc->nlines - 1].function)
				name = loc->lines[loc->nlines - 1].function;
		}
		int j = 0;
		while (j < k && strcmp(out[j].name, name))
			j++;
		if (j == k) {
			ck_assert_int_lt(k, max);
			snprintf(out[k++].name, sizeof(out[0].name), "%s", name);
		}
		out[j].n += s->value[PV_ALLOC_OBJECTS];
		out[j].bytes += s->value[PV_ALLOC_SPACE];
	}
	return k;
}

static const struct fsum *fsum_of(const struct fsum *f, int n, const char *name)
{
	static const struct fsum none;
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return &f[i];
	return &none;
}

/* n values of the same shape, numbered from first. */
static void write_values(FILE *f, int first, int n)
{
	for (int i = first; i < first + n; i++)
		fprintf(f, "{\"id\":%d,\"name\":\"n%d\",\"tags\":[\"x\",\"y\",%d],\"v\":%d.5}\n", i, i,
			i % 7, i);
}

static profile_t *jq_exit_file(const char *jq, const char *input, struct fsum *f, int *n)
{
	char dir[PATH_MAX];
	tt_tempdir(dir, sizeof(dir));
	static struct run_result r;
	char *argv[] = { (char *)jq, "--unbuffered", "-c", JQ_FILTER, (char *)input, NULL };
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "jq: %s", r.err);
	char *end = strstr(r.err, "heapsnap.");
	ck_assert_ptr_nonnull(end);
	int pid = atoi(end + 9);
	profile_t *p = tt_snapshot(dir, pid, "exit", 30);
	*n = fsums(p, f, 64);
	return p;
}

START_TEST(jq_mid_run)
{
	const char *jq = "/usr/bin/jq";
	ck_assert_msg(access(jq, X_OK) == 0, "%s is missing: install Debian's jq", jq);
	enum { BEFORE = 5000, AFTER = 15000 };
	static char dir[PATH_MAX], a[PATH_MAX + 16], ab[PATH_MAX + 16], out[PATH_MAX + 16];
	tt_tempdir(dir, sizeof(dir));
	/* Names of one length: jq keeps a copy of its argument. */
	snprintf(a, sizeof(a), "%s/part.json", dir);
	snprintf(ab, sizeof(ab), "%s/full.json", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	FILE *fa = fopen(a, "w"), *fab = fopen(ab, "w");
	write_values(fa, 0, BEFORE);
	write_values(fab, 0, BEFORE + AFTER);
	fclose(fa);
	fclose(fab);

	/* What jq allocates for the values after the attach, and only for them: a run on
	 * all values less a run on the first ones (the same start, the same end). */
	static struct fsum fa_[64], fb_[64], fc_[64];
	int na, nb, nc;
	profile_t *pa = jq_exit_file(jq, a, fa_, &na);
	profile_t *pb = jq_exit_file(jq, ab, fb_, &nb);

	/* jq reading a pipe, its output to a file; attached once it has answered every
	 * value of the first part, then fed the rest. */
	int in[2];
	ck_assert_int_eq(pipe(in), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open(out, O_CREAT | O_WRONLY | O_TRUNC, 0600);
		dup2(in[0], 0);
		dup2(o, 1);
		close(in[1]);
		char prog[PATH_MAX];
		snprintf(prog, sizeof(prog), "%s/attachee", getenv("PROGS"));
		execl(prog, "attachee", jq, "--unbuffered", "-c", JQ_FILTER, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	FILE *w = fdopen(in[1], "w");
	write_values(w, 0, BEFORE);
	fflush(w);
	off_t answered = 0; /* the size of its output for the first part */
	for (int i = 0; i < BEFORE; i++)
		answered += snprintf(NULL, 0, "{\"k\":%d,\"t\":3}\n", i);
	for (int tries = 0; tries < 3000; tries++) {
		struct stat st;
		if (stat(out, &st) == 0 && st.st_size >= answered)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	static struct target t;
	t.p.pid = pid;
	snprintf(t.dir, sizeof(t.dir), "%s", dir);
	printf("jq: attach stopped it for %.2f ms\n", attach(&t));
	write_values(w, BEFORE, AFTER);
	fclose(w);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "jq status %d", st);

	/* Its output, every line. */
	FILE *o = fopen(out, "r");
	char line[128], want[128];
	for (int i = 0; i < BEFORE + AFTER; i++) {
		snprintf(want, sizeof(want), "{\"k\":%d,\"t\":3}\n", i);
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), o));
		ck_assert_str_eq(line, want);
	}
	ck_assert_ptr_null(fgets(line, sizeof(line), o));
	fclose(o);

	profile_t *pc = tt_snapshot(dir, pid, "exit", 30);
	nc = fsums(pc, fc_, 64);
	ck_assert_int_gt(nc, 0);
	for (int i = 0; i < nb; i++) {
		const struct fsum *x = fsum_of(fa_, na, fb_[i].name), *c = fsum_of(fc_, nc, fb_[i].name);
		ck_assert_msg(c->n == fb_[i].n - x->n && c->bytes == fb_[i].bytes - x->bytes,
			      "%s: %lld calls, %lld B after the attach, not %lld, %lld B",
			      fb_[i].name, (long long)c->n, (long long)c->bytes,
			      (long long)(fb_[i].n - x->n), (long long)(fb_[i].bytes - x->bytes));
	}
	for (int i = 0; i < nc; i++)
		ck_assert_msg(fsum_of(fb_, nb, fc_[i].name)->n, "%s only under attach", fc_[i].name);
	/* It frees what it allocated before: unknown blocks. */
	ck_assert_int_gt(pc->meta.unmatched_frees, 0);
	profile_free(pa);
	profile_free(pb);
	profile_free(pc);
}
END_TEST

/* ---- the cost ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

START_TEST(stop_time)
{
	enum { RUNS = 7 };
	double ms[2][RUNS];
	const struct scenario *sc[2] = { &single_read, &threads_read };
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < RUNS; i++) {
			static struct target t;
			start(&t, sc[k]);
			ms[k][i] = attach(&t);
			go(&t);
			finish(&t);
		}
	for (int k = 0; k < 2; k++) {
		qsort(ms[k], RUNS, sizeof(double), cmp_double);
		printf("attach stop time, %d threads: median %.2f ms (min %.2f, max %.2f, %d runs)\n",
		       sc[k]->threads + 1, ms[k][RUNS / 2], ms[k][0], ms[k][RUNS - 1], RUNS);
		ck_assert_msg(ms[k][RUNS / 2] < 2000, "median stop %.1f ms", ms[k][RUNS / 2]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("attach");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, single_thread_blocked_in_read);
	tcase_add_test(tc, threads_allocating_during_the_attach);
	tcase_add_test(tc, blocked_in_nanosleep);
	tcase_add_test(tc, blocked_in_a_futex);
	tcase_add_test(tc, in_a_busy_loop);
	tcase_add_test(tc, busy_with_threads);
	tcase_add_test(tc, a_non_pie_program_whose_plt_entry_is_mallocs_address);
	tcase_add_test(tc, signals_arriving_during_the_attach);
	tcase_add_test(tc, cxx_threads_with_new_and_delete);
	tcase_add_test(tc, a_library_loaded_after_the_attach);
	tcase_add_test(tc, detach_leaves_the_program_running_untraced);
	tcase_add_test(tc, snap_and_the_signal_work_once_attach_returns);
	tcase_add_test(tc, detach_during_a_poll_that_attach_interrupted);
	tcase_add_test(tc, forked_children_exec_and_exit_as_under_the_shim);
	tcase_add_test(tc, a_program_that_handles_the_snapshot_signal_keeps_it);
	tcase_add_test(tc, checks_the_directory_as_the_process_user);
	tcase_add_test(tc, refuses_a_missing_process);
	tcase_add_test(tc, refuses_an_attached_process);
	tcase_add_test(tc, refuses_a_process_started_under_the_shim);
	tcase_add_test(tc, refuses_a_run_whose_program_has_ended);
	tcase_add_test(tc, refuses_a_process_under_a_debugger);
	tcase_add_test(tc, refuses_another_users_process);
	tcase_add_test(tc, refuses_an_unwritable_directory_without_touching_the_process);
	tcase_add_test(tc, refuses_a_setuid_program);
	tcase_add_test(tc, refuses_a_static_program);
	tcase_add_test(tc, refuses_a_zombie_and_a_process_without_its_main_thread);
	tcase_add_test(tc, attach_into_a_pid_namespace);
	tcase_add_test(tc, refuses_a_stopped_process_and_leaves_it_stopped);
	tcase_add_test(tc, refuses_heapsnap_itself);
	tcase_add_test(tc, refuses_a_directory_that_is_a_file);
	tcase_add_test(tc, refuses_a_collector_the_process_cannot_run);
	tcase_add_test(tc, refuses_bad_usage);
	tcase_add_test(tc, jq_mid_run);
	tcase_add_test(tc, stop_time);
	suite_add_tcase(s, tc);
	return check_run(s);
}
