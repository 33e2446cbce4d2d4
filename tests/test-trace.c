/* test-trace.c - real programs under the real shim: exact bytes and counts at exact
 * file:line in signal and exit snapshots, the program's output and status unchanged. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <time.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buildid.h"
#include "cfifile.h"
#include "pprof.h"
#include "stats.h"
#include "tracetest.h"

/* Asserts the six values of site in p. */
#define ASSERT_SITE(p, file, site, aobj, aspace, iobj, ispace, pobj, pspace)               \
	do {                                                                               \
		int64_t v_[PV_COUNT];                                                      \
		int line_ = tt_site_line(file, site);                                     \
		tt_site_values(p, file, line_, v_);                                       \
		ck_assert_msg(v_[PV_ALLOC_OBJECTS] == (aobj) && v_[PV_ALLOC_SPACE] == (aspace) && \
				      v_[PV_INUSE_OBJECTS] == (iobj) &&                     \
				      v_[PV_INUSE_SPACE] == (ispace) &&                     \
				      v_[PV_PEAK_OBJECTS] == (pobj) && v_[PV_PEAK_SPACE] == (pspace), \
			      "%s:%d (%s): alloc %lld/%lld inuse %lld/%lld peak %lld/%lld, "     \
			      "expected %lld/%lld %lld/%lld %lld/%lld",                    \
			      file, line_, site, (long long)v_[0], (long long)v_[1],        \
			      (long long)v_[2], (long long)v_[3], (long long)v_[4],         \
			      (long long)v_[5], (long long)(aobj), (long long)(aspace),     \
			      (long long)(iobj), (long long)(ispace), (long long)(pobj),    \
			      (long long)(pspace));                                         \
	} while (0)

static pid_t pid_from(const char *out, const char *word)
{
	const char *at = strstr(out, word);
	ck_assert_msg(at != NULL, "no '%s' in output: %s", word, out);
	return (pid_t)atoi(at + strlen(word));
}

/* The traced program's pid: heapsnap run reports it on stderr. */
static pid_t traced_pid(const struct run_result *r)
{
	return pid_from(r->err, "(pid ");
}

/* Runs PROGS/prog without arguments, traced and natively alike, checks its output
 * (unless out is NULL) and returns its exit snapshot.  dir receives the directory of
 * its files, *pid (when pid is not NULL) the traced run's pid. */
static profile_t *exit_of(const char *prog, const char *out, char dir[256], pid_t *pid)
{
	tt_tempdir(dir, 256);
	char *argv[] = { (char *)prog, NULL };
	struct run_result r;
	tt_run_alike(dir, argv, &r);
	if (out)
		ck_assert_str_eq(r.out, out);
	if (pid)
		*pid = traced_pid(&r);
	return tt_snapshot(dir, traced_pid(&r), "exit", 10);
}

START_TEST(basic_sites_exact)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "basic", NULL };
	struct run_result traced;
	/* Untraced, its raise(SIGUSR2) would kill it: there is no plain run to compare. */
	tt_run(dir, argv, NULL, &traced);
	ck_assert_str_eq(traced.out, "basic done\n");
	ck_assert(WIFEXITED(traced.status));
	ck_assert_int_eq(WEXITSTATUS(traced.status), 7);
	pid_t pid = traced_pid(&traced);

	/* Snapshot 1: exactly the events before the first raise(). */
	profile_t *s1 = tt_snapshot(dir, pid, "1", 10);
	ck_assert_str_eq(s1->meta.trigger, "signal 1");
	ck_assert_int_eq(s1->meta.lost_events, 0);
	ASSERT_SITE(s1, "basic.c", "malloc48", 1000, 48000, 500, 24000, 1000, 48000);
	ASSERT_SITE(s1, "basic.c", "calloc300", 1, 300, 1, 300, 0, 0);
	ASSERT_SITE(s1, "basic.c", "realloc_a", 1, 100, 0, 0, 0, 0);
	ASSERT_SITE(s1, "basic.c", "realloc_b", 1, 5000, 1, 5000, 0, 0);
	ASSERT_SITE(s1, "basic.c", "posix_memalign", 1, 640, 1, 640, 0, 0);
	ASSERT_SITE(s1, "basic.c", "aligned_alloc", 1, 512, 1, 512, 0, 0);
	ASSERT_SITE(s1, "basic.c", "memalign", 1, 128, 1, 128, 0, 0);
	ASSERT_SITE(s1, "basic.c", "big", 0, 0, 0, 0, 0, 0);
	ck_assert_int_eq(s1->meta.peak_bytes, 48000);
	ck_assert_int_eq(s1->meta.current_bytes, 24000 + 300 + 5000 + 640 + 512 + 128);
	profile_free(s1);

	/* Snapshot 2: the 1 MiB block came and went; the peak is when it was live. */
	profile_t *s2 = tt_snapshot(dir, pid, "2", 10);
	ASSERT_SITE(s2, "basic.c", "malloc48", 1000, 48000, 250, 12000, 500, 24000);
	ASSERT_SITE(s2, "basic.c", "big", 1, 1 << 20, 0, 0, 1, 1 << 20);
	ASSERT_SITE(s2, "basic.c", "calloc300", 1, 300, 1, 300, 1, 300);
	ASSERT_SITE(s2, "basic.c", "realloc_b", 1, 5000, 1, 5000, 1, 5000);
	ck_assert_int_eq(s2->meta.peak_bytes, 24000 + 300 + 5000 + 640 + 512 + 128 + (1 << 20));
	profile_free(s2);

	/* Exit: realloc(z, 0) freed the calloc block; the failed malloc left no trace. */
	profile_t *e = tt_snapshot(dir, pid, "exit", 10);
	ck_assert_str_eq(e->meta.trigger, "exit 7");
	ck_assert_int_eq(e->meta.lost_events, 0);
	ck_assert_int_eq(e->meta.corrupt_records, 0);
	ck_assert_int_eq(e->meta.frame_limit, 16);
	ck_assert_int_eq(e->meta.sampling_period, 0);
	ck_assert_int_eq(e->meta.pid, pid);
	ck_assert_ptr_nonnull(strstr(e->meta.command, "basic"));
	ASSERT_SITE(e, "basic.c", "malloc48", 1000, 48000, 250, 12000, 500, 24000);
	ASSERT_SITE(e, "basic.c", "calloc300", 1, 300, 0, 0, 1, 300);
	ASSERT_SITE(e, "basic.c", "aligned_alloc", 1, 512, 0, 0, 1, 512);
	ASSERT_SITE(e, "basic.c", "memalign", 1, 128, 0, 0, 1, 128);
	ASSERT_SITE(e, "basic.c", "posix_memalign", 1, 640, 1, 640, 1, 640);
	ASSERT_SITE(e, "basic.c", "huge", 0, 0, 0, 0, 0, 0);
	profile_free(e);
}
END_TEST

/* Replays threads.c's generator: the exact bytes each thread leaks. */
static void thread_leaks(int nthreads, long per_thread, int64_t *blocks, int64_t *bytes)
{
	*blocks = *bytes = 0;
	for (int me = 0; me < nthreads; me++) {
		unsigned x = (unsigned)me * 2654435761u + 1;
		for (long i = 0; i < per_thread / 2; i++) {
			x = x * 1103515245u + 12345u;
			if (i % 1000 == 999) {
				(*blocks)++;
				*bytes += 16 + (x >> 8) % 512;
			}
		}
	}
}

static void run_threads(int nthreads, long per_thread)
{
	char dir[256], n[16], per[24];
	tt_tempdir(dir, sizeof(dir));
	snprintf(n, sizeof(n), "%d", nthreads);
	snprintf(per, sizeof(per), "%ld", per_thread);
	char *argv[] = { "threads", n, per, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d, stderr: %s",
		      r.status, r.err);
	int64_t blocks, bytes;
	thread_leaks(nthreads, per_thread, &blocks, &bytes);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 30);
	ck_assert_int_eq(e->meta.lost_events, 0);
	ck_assert_int_eq(e->meta.corrupt_records, 0);
	ck_assert_int_eq(e->meta.unmatched_frees, 0);
	int64_t v[PV_COUNT];
	tt_site_named(e, "threads.c", "leak", v);
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], blocks);
	ck_assert_int_eq(v[PV_INUSE_SPACE], bytes);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], blocks);
	tt_site_named(e, "threads.c", "handoff", v);
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 0);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], nthreads * (per_thread / 2) - blocks);
	profile_free(e);
}

START_TEST(threads_handoff_exact)
{
	run_threads(4, 200000);
}
END_TEST

START_TEST(fork_child_traced_alone)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "forker", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "stderr: %s", r.err);
	pid_t parent = pid_from(r.out, "parent "), child = pid_from(r.out, "child ");
	ck_assert_int_eq(traced_pid(&r), parent);

	profile_t *p = tt_snapshot(dir, parent, "exit", 10);
	ASSERT_SITE(p, "forker.c", "parent_before", 1, 1000, 1, 1000, 1, 1000);
	ASSERT_SITE(p, "forker.c", "parent_after", 1, 3000, 1, 3000, 1, 3000);
	ASSERT_SITE(p, "forker.c", "child", 0, 0, 0, 0, 0, 0);

	profile_t *c = tt_snapshot(dir, child, "exit", 10);
	ck_assert_int_eq(c->meta.pid, child);
	/* The command, as the parent read it (the same argv). */
	ck_assert_str_eq(c->meta.command, p->meta.command);
	ck_assert_ptr_nonnull(strstr(c->meta.command, "forker"));
	ASSERT_SITE(c, "forker.c", "child", 1, 2000, 1, 2000, 1, 2000);
	ASSERT_SITE(c, "forker.c", "parent_before", 0, 0, 0, 0, 0, 0);
	ASSERT_SITE(c, "forker.c", "parent_after", 0, 0, 0, 0, 0, 0);
	/* It freed a block inherited from before the fork: counted, not charged. */
	ck_assert_int_eq(c->meta.unmatched_frees, 1);
	profile_free(c);
	profile_free(p);
}
END_TEST

/* A forked child starts its module table from its parent's.  A library the parent
 * unloaded is not in it when another now lies at its address: the child's allocation
 * through the other is charged to the other's line. */
START_TEST(fork_child_after_dlclose_charges_the_library_now_there)
{
	char dir[256], one[512], two[512];
	tt_tempdir(dir, sizeof(dir));
	snprintf(one, sizeof(one), "%s/libplugin.so", getenv("PROGS"));
	snprintf(two, sizeof(two), "%s/libplugin2.so", getenv("PROGS"));
	char *argv[] = { "forkplug", one, two, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "stderr: %s", r.err);
	/* The case this is about: the second library where the first was. */
	ck_assert_ptr_nonnull(strstr(r.out, "same base yes\n"));
	pid_t child = pid_from(r.out, "child ");
	profile_t *c = tt_snapshot(dir, child, "exit", 10);
	ASSERT_SITE(c, "plugin2.c", "plugin2", 1, 654, 1, 654, 1, 654);
	ASSERT_SITE(c, "plugin.c", "plugin", 0, 0, 0, 0, 0, 0);
	profile_free(c);
	profile_t *p = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	tt_site_named(p, "plugin.c", "plugin", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 321);
	profile_free(p);
}
END_TEST

START_TEST(sigkill_still_writes_exit_snapshot)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "killed", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGKILL);
	ck_assert_str_eq(r.out, "about to die\n");
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_str_eq(e->meta.trigger, "killed by SIGKILL");
	ASSERT_SITE(e, "killed.c", "before_kill", 100, 6400, 100, 6400, 100, 6400);
	profile_free(e);
}
END_TEST

START_TEST(exec_traced_afresh)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "execer", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "stderr: %s", r.err);
	pid_t pid = pid_from(r.out, "first image ");
	ck_assert_int_eq(pid_from(r.out, "second image "), pid);
	/* The first image's snapshot, written when it exec'd... */
	profile_t *before = tt_snapshot(dir, pid, "exec", 10);
	ck_assert_str_eq(before->meta.trigger, "exec");
	ASSERT_SITE(before, "execer.c", "before_exec", 1, 300, 1, 300, 1, 300);
	ASSERT_SITE(before, "execer.c", "after_exec", 0, 0, 0, 0, 0, 0);
	profile_free(before);
	/* ...and the second image's, on its own. */
	profile_t *after = tt_snapshot(dir, pid, "exit", 10);
	ASSERT_SITE(after, "execer.c", "after_exec", 1, 700, 1, 700, 1, 700);
	ASSERT_SITE(after, "execer.c", "before_exec", 0, 0, 0, 0, 0, 0);
	ck_assert_int_eq(after->meta.lost_events, 0);
	profile_free(after);
}
END_TEST

START_TEST(underscore_exit_says_status)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "quick_exit", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), 5);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_str_eq(e->meta.trigger, "exit 5");
	ASSERT_SITE(e, "quick_exit.c", "before_exit", 1, 123, 1, 123, 1, 123);
	profile_free(e);
}
END_TEST

/* heapsnap snap PID: signals a running traced process and prints the new file. */
START_TEST(snap_prints_the_new_file)
{
	char dir[256], waiter[512];
	tt_tempdir(dir, sizeof(dir));
	snprintf(waiter, sizeof(waiter), "%s/waiter", getenv("PROGS"));
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t run = fork();
	if (run == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(getenv("HEAPSNAP"), "heapsnap", "run", "-q", "--dir", dir, "--", waiter,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	int pid = 0;
	ck_assert_int_eq(fscanf(f, "ready %d", &pid), 1);
	char cmd[1024], path[1024] = "";
	for (int i = 1; i <= 2; i++) {
		snprintf(cmd, sizeof(cmd), "'%s' snap %d", getenv("HEAPSNAP"), pid);
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(fgets(path, sizeof(path), p));
		ck_assert_int_eq(pclose(p), 0);
		char want[512];
		snprintf(want, sizeof(want), "%s/heapsnap.%d.%d.pb.gz\n", dir, pid, i);
		ck_assert_str_eq(path, want);
	}
	char n[8];
	snprintf(n, sizeof(n), "%d", 2);
	profile_t *s = tt_snapshot(dir, pid, n, 1);
	ASSERT_SITE(s, "waiter.c", "before_snap", 64, 64 * 32, 64, 64 * 32, 64, 64 * 32);
	profile_free(s);
	/* Not traced: a clear error and status 1. */
	snprintf(cmd, sizeof(cmd), "'%s' snap %d 2>&1", getenv("HEAPSNAP"), (int)getpid());
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), p));
	ck_assert_ptr_nonnull(strstr(path, "is not traced by heapsnap"));
	ck_assert_int_eq(WEXITSTATUS(pclose(p)), 1);
	kill(pid, SIGTERM);
	int st;
	ck_assert_int_eq(waitpid(run, &st, 0), run);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fclose(f);
}
END_TEST

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *at = hay; (at = strstr(at, needle)); at++)
		n++;
	return n;
}

/* The collector dies: the program finishes unharmed, told once on stderr. */
START_TEST(collector_killed_program_unharmed)
{
	char dir[256], err[8192], line[64];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "CHURN_FORK=1", NULL };
	struct tt_proc p;
	tt_start(dir, "churn", env, &p);
	pid_t collector = tt_collector_pid(p.pid);
	ck_assert_int_gt(collector, 0);
	ck_assert_int_eq(kill(collector, SIGKILL), 0);
	fputs("go\n", p.in);
	fflush(p.in);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p.out));
	ck_assert_str_eq(line, "churn done\n");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p.out));
	pid_t child = pid_from(line, "child ");
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	ck_assert_msg(count_of(err, "tracing stopped") == 1, "%s", err);
	ck_assert_msg(strstr(err, "the collector is gone"), "%s", err);
	/* A child forked after the give-up is a new process, traced afresh by a
	 * collector of its own, and nothing of it lands in the parent's segment. */
	profile_t *c = tt_snapshot(dir, child, "exit", 10);
	ASSERT_SITE(c, "churn.c", "child", 100, 1000, 100, 1000, 100, 1000);
	ck_assert_int_eq(c->meta.lost_events, 0);
	profile_free(c);
}
END_TEST

/* The collector is stopped: producers wait, then give up after the stall timeout; once
 * it continues, the exit snapshot counts what was lost. */
START_TEST(collector_stalled_gives_up_and_counts)
{
	char dir[256], err[8192], line[64];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_STALL_TIMEOUT=0.5", NULL };
	struct tt_proc p;
	tt_start(dir, "churn", env, &p);
	pid_t collector = tt_collector_pid(p.pid);
	ck_assert_int_gt(collector, 0);
	ck_assert_int_eq(kill(collector, SIGSTOP), 0);
	fputs("go\n", p.in);
	fflush(p.in);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p.out));
	ck_assert_str_eq(line, "churn done\n");
	ck_assert_int_eq(kill(collector, SIGCONT), 0);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	ck_assert_int_eq(count_of(err, "tracing stopped"), 1);
	ck_assert_ptr_nonnull(strstr(err, "HEAPSNAP_STALL_TIMEOUT"));
	profile_t *e = tt_snapshot(dir, p.pid, "exit", 10);
	ck_assert_str_eq(e->meta.trigger, "exit 0");
	/* Every event is either in the file or counted lost: 2,000,000 mallocs plus stdio's
	 * two buffers, and 2,000,000 frees less the 1024 of NULL (each slot's first). */
	int64_t allocs = 0, live = 0;
	for (size_t i = 0; i < e->nsamples; i++) {
		allocs += e->samples[i].value[PV_ALLOC_OBJECTS];
		live += e->samples[i].value[PV_INUSE_OBJECTS];
	}
	int64_t frees = allocs - live + e->meta.unmatched_frees;
	ck_assert_int_gt(e->meta.lost_events, 0);
	ck_assert_int_eq(allocs + frees + e->meta.lost_events, 2000002 + 1998976);
	profile_free(e);
}
END_TEST

/* The sample of the innermost frame at site: its frame count and truncation. */
static const profile_sample_t *site_sample(const profile_t *p, const char *file, const char *site)
{
	int line = tt_site_line(file, site);
	for (size_t i = 0; i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		const profile_location_t *l = s->nlocs ? &p->locations[s->locs[0]] : NULL;
		if (l && l->nlines && l->lines[0].line == line && l->lines[0].file &&
		    strstr(l->lines[0].file, file))
			return s;
	}
	ck_abort_msg("no sample at %s:%d", file, line);
	return NULL;
}

static void check_frames(const char *frames, unsigned limit)
{
	char dir[256], env[64];
	tt_tempdir(dir, sizeof(dir));
	snprintf(env, sizeof(env), "HEAPSNAP_FRAMES=%s", frames);
	char *envv[] = { env, NULL }, *argv[] = { "deep", NULL };
	struct run_result r;
	tt_run(dir, argv, frames ? envv : NULL, &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_int_eq(e->meta.frame_limit, limit);
	const profile_sample_t *deep = site_sample(e, "deep.c", "deep_malloc");
	ck_assert(deep->truncated);
	ck_assert_uint_eq(deep->nlocs, limit);
	/* reallocarray goes through realloc: one more frame of the shim's to skip. */
	const profile_sample_t *ra = site_sample(e, "deep.c", "deep_reallocarray");
	ck_assert(ra->truncated);
	ck_assert_uint_eq(ra->nlocs, limit);
	ck_assert_int_eq(ra->value[PV_ALLOC_SPACE], 20);
	const profile_sample_t *shallow = site_sample(e, "deep.c", "shallow");
	ck_assert(!shallow->truncated);
	ck_assert_uint_lt(shallow->nlocs, limit);
	profile_free(e);
}

START_TEST(frame_limit_and_truncation)
{
	check_frames(NULL, 16);
	check_frames("8", 8);
}
END_TEST

/* The program's fds are its own: the same numbers as untraced.  The only extra ones
 * (libunwind's pipe) sit at the top of the fd range, close-on-exec. */
START_TEST(program_fds_unchanged)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "fds", NULL };
	struct run_result traced, plain;
	tt_run(dir, argv, NULL, &traced);
	tt_run_plain(argv, &plain);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	long high = rl.rlim_cur > 128 ? (long)rl.rlim_cur - 64 : (long)rl.rlim_cur / 2;
	char low_traced[4096] = "", low_plain[4096] = "", *save;
	for (char *l = strtok_r(traced.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		long fd;
		unsigned flags;
		ck_assert_int_eq(sscanf(l, "%ld %o", &fd, &flags), 2);
		if (fd >= high)
			ck_assert_msg(flags & O_CLOEXEC, "fd %ld is not close-on-exec", fd);
		else if (fd > 2) /* 0-2 differ: the runs' stdout pipes */
			strcat(strcat(low_traced, l), ";");
	}
	for (char *l = strtok_r(plain.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (atol(l) > 2)
			strcat(strcat(low_plain, l), ";");
	ck_assert_str_eq(low_traced, low_plain);
}
END_TEST

/* The whole text and JSON of heapsnap top on a real snapshot with known sites. */
static void read_all_of(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	char rest[4096];
	while (fread(rest, 1, sizeof(rest), f) > 0) /* read to the end: no SIGPIPE for top */
		;
	ck_assert_int_eq(pclose(f), 0);
}

START_TEST(top_golden_text_and_json)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "basic", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	char file[512], src[512], cmd[2048], got[8192], want[8192];
	snprintf(file, sizeof(file), "%s/heapsnap.%d.exit.pb.gz", dir, (int)traced_pid(&r));
	profile_free(tt_snapshot(dir, traced_pid(&r), "exit", 10));
	ck_assert_ptr_nonnull(realpath(getenv("PROGS_SRC"), src));
	strcat(src, "/basic.c");
	int l48 = tt_site_line("basic.c", "malloc48"), lrb = tt_site_line("basic.c", "realloc_b");
	int lpf = tt_site_line("basic.c", "printf"), lpm = tt_site_line("basic.c", "posix_memalign");

	snprintf(cmd, sizeof(cmd), "'%s' top '%s'", getenv("HEAPSNAP"), file);
	read_all_of(cmd, got, sizeof(got));
	snprintf(want, sizeof(want),
		 "Top 10 statistics of '%s' by lineno, metric inuse\n"
		 "#1: %s:%d: size=11.7 KiB, count=250, average=48 B\n"
		 "#2: %s:%d: size=5000 B, count=1, average=5000 B\n"
		 "#3: %s:%d: size=4096 B, count=1, average=4096 B\n"
		 "#4: %s:%d: size=640 B, count=1, average=640 B\n"
		 "Total: size=21.2 KiB, count=253\n",
		 file, src, l48, src, lrb, src, lpf, src, lpm);
	ck_assert_str_eq(got, want);

	snprintf(cmd, sizeof(cmd), "'%s' top --json -n 2 '%s'", getenv("HEAPSNAP"), file);
	read_all_of(cmd, got, sizeof(got));
	snprintf(want, sizeof(want),
		 "{\"file\":\"%s\",\"key\":\"lineno\",\"metric\":\"inuse\",\"cumulative\":false,"
		 "\"stats\":[\n"
		 "{\"file\":\"%s\",\"line\":%d,\"function\":\"main\",\"module\":\"basic\","
		 "\"size\":12000,\"count\":250,\"max_size\":48},\n"
		 "{\"file\":\"%s\",\"line\":%d,\"function\":\"main\",\"module\":\"basic\","
		 "\"size\":5000,\"count\":1,\"max_size\":5000}\n],\n"
		 "\"other\":{\"entries\":2,\"size\":4736,\"count\":2},\n"
		 "\"total\":{\"size\":21736,\"count\":253}}\n",
		 file, src, l48, src, lrb);
	ck_assert_str_eq(got, want);
}
END_TEST

/* Sums the values at file:line over every snapshot file in dir. */
static void dir_site_values(const char *dir, const char *file, int line, int64_t v[PV_COUNT])
{
	memset(v, 0, PV_COUNT * sizeof(*v));
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "heapsnap.", 9))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		profile_t *p = NULL;
		pprof_error_t err;
		ck_assert_int_eq(pprof_read_file(path, &p, &err), 0);
		int64_t one[PV_COUNT];
		tt_site_values(p, file, line, one);
		for (int i = 0; i < PV_COUNT; i++)
			v[i] += one[i];
		profile_free(p);
	}
	closedir(d);
}

/* The number after "field": in the JSON entry of file:line, or -1 when absent. */
static long long json_entry(const char *json, const char *file, int line, const char *field)
{
	char key[128];
	snprintf(key, sizeof(key), "/%s\",\"line\":%d,", file, line);
	const char *at = strstr(json, key);
	if (!at)
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", field);
	const char *end = strchr(at, '}');
	at = strstr(at, key);
	return at && at < end ? atoll(at + strlen(key)) : -1;
}

/* Runs forker traced into dir and waits for both processes' exit files. */
static void run_forker(const char *dir, pid_t pids[2])
{
	char *argv[] = { "forker", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "stderr: %s", r.err);
	pids[0] = pid_from(r.out, "parent ");
	pids[1] = pid_from(r.out, "child ");
	profile_free(tt_snapshot(dir, pids[0], "exit", 10));
	profile_free(tt_snapshot(dir, pids[1], "exit", 10));
}

static const char *const forker_sites[] = { "parent_before", "child", "parent_after" };

/* top DIR over a process tree: each line's bytes and blocks are the sums of the
 * per-process files' at that file:line, for every metric. */
START_TEST(top_of_a_tree_directory)
{
	char dir[256], cmd[1024], got[16384];
	tt_tempdir(dir, sizeof(dir));
	pid_t pids[2];
	run_forker(dir, pids);
	const char *metrics[] = { "inuse", "peak", "alloc" };
	const enum profile_value space[] = { PV_INUSE_SPACE, PV_PEAK_SPACE, PV_ALLOC_SPACE };
	for (int m = 0; m < 3; m++) {
		snprintf(cmd, sizeof(cmd), "'%s' top --json -n 0 -m %s '%s'", getenv("HEAPSNAP"),
			 metrics[m], dir);
		read_all_of(cmd, got, sizeof(got));
		ck_assert_msg(strstr(got, "\"processes\":2,") != NULL, "%s", got);
		for (int i = 0; i < 3; i++) {
			int line = tt_site_line("forker.c", forker_sites[i]);
			int64_t v[PV_COUNT];
			dir_site_values(dir, "forker.c", line, v);
			ck_assert_int_eq(json_entry(got, "forker.c", line, "size"), v[space[m]]);
			ck_assert_int_eq(json_entry(got, "forker.c", line, "count"), v[space[m] - 1]);
		}
	}
	/* The two processes' own bytes: the parent's two blocks, the child's one. */
	ck_assert_int_eq(json_entry(got, "forker.c", tt_site_line("forker.c", "child"), "size"), 2000);
}
END_TEST

/* diff of two directories matches lines across runs and processes; ls lists every
 * file with its pid and trigger. */
START_TEST(diff_and_ls_of_directories)
{
	char d1[256], d2[256], cmd[1024], got[16384];
	tt_tempdir(d1, sizeof(d1));
	tt_tempdir(d2, sizeof(d2));
	pid_t old[2], new[2];
	run_forker(d1, old);
	run_forker(d2, new);
	char *argv[] = { "basic", NULL };
	struct run_result r;
	tt_run(d2, argv, NULL, &r);
	pid_t basic = traced_pid(&r);
	profile_free(tt_snapshot(d2, basic, "exit", 10));

	snprintf(cmd, sizeof(cmd), "'%s' diff --json -n 0 '%s' '%s'", getenv("HEAPSNAP"), d1, d2);
	read_all_of(cmd, got, sizeof(got));
	/* basic's numbered snapshots are not its final state: only its exit file counts. */
	ck_assert_msg(strstr(got, "\"old_processes\":2,") && strstr(got, "\"new_processes\":3,") &&
			      !strstr(got, ".1.pb.gz"), "%s", got);
	for (int i = 0; i < 3; i++) {
		int line = tt_site_line("forker.c", forker_sites[i]);
		int64_t v[PV_COUNT];
		dir_site_values(d1, "forker.c", line, v);
		ck_assert_int_eq(json_entry(got, "forker.c", line, "size"), v[PV_INUSE_SPACE]);
		ck_assert_int_eq(json_entry(got, "forker.c", line, "size_diff"), 0);
	}
	int l48 = tt_site_line("basic.c", "malloc48");
	ck_assert_int_eq(json_entry(got, "basic.c", l48, "size"), 12000);
	ck_assert_int_eq(json_entry(got, "basic.c", l48, "size_diff"), 12000);

	snprintf(cmd, sizeof(cmd), "'%s' ls '%s'", getenv("HEAPSNAP"), d2);
	read_all_of(cmd, got, sizeof(got));
	const struct {
		pid_t pid;
		const char *what, *trigger;
	} want[] = { { new[0], "exit", "exit 0" }, { new[1], "exit", "exit 0" },
		     { basic, "1", "signal 1" },   { basic, "2", "signal 2" },
		     { basic, "exit", "exit 7" } };
	ck_assert_int_eq(count_of(got, "\n"), 6); /* a header and five files */
	for (size_t i = 0; i < 5; i++) {
		char path[512], trigger[64];
		snprintf(path, sizeof(path), "  %s/heapsnap.%d.%s.pb.gz\n", d2, (int)want[i].pid,
			 want[i].what);
		const char *end = strstr(got, path), *line = end;
		ck_assert_msg(end != NULL, "no %s in %s", path, got);
		while (line > got && line[-1] != '\n')
			line--;
		ck_assert_int_eq(atoi(line), want[i].pid);
		snprintf(trigger, sizeof(trigger), "  %s  ", want[i].trigger);
		const char *t = strstr(line, trigger);
		ck_assert_msg(t && t < end, "no trigger '%s' in %.*s", want[i].trigger,
			      (int)(end - line), line);
	}
}
END_TEST

START_TEST(crash_says_signal)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "crash", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert(WIFSIGNALED(r.status));
	ck_assert_int_eq(WTERMSIG(r.status), SIGSEGV);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_str_eq(e->meta.trigger, "killed by SIGSEGV");
	ASSERT_SITE(e, "crash.c", "before_crash", 1, 4242, 1, 4242, 1, 4242);
	profile_free(e);
}
END_TEST

/* run ends by the program's signal without dumping a core of its own, which would take
 * the place of the program's where core files are named "core".  crash dumps none (it
 * sets its own limit to 0), so any core is run's; a machine whose hard limit or
 * core_pattern dumps no core at all cannot tell. */
START_TEST(a_crash_leaves_the_core_to_the_program)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	struct rlimit core;
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &core), 0);
	core.rlim_cur = core.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_CORE, &core), 0);
	ck_assert_int_eq(chdir(dir), 0); /* where a core named "core" goes */
	char *argv[] = { "crash", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV, "status %#x",
		      r.status);
	ck_assert_msg(!WCOREDUMP(r.status), "run dumped a core of its own: status %#x", r.status);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_msg(strncmp(e->meta.trigger, "killed by SIGSEGV", 17) == 0, "%s",
		      e->meta.trigger);
	profile_free(e);
}
END_TEST

/* HEAPSNAP_SIGNAL by name: a real-time signal takes snapshots, USR2 is left alone. */
START_TEST(snapshot_signal_by_name)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_SIGNAL=RTMIN+3", NULL };
	struct tt_proc p;
	tt_start(dir, "waiter", env, &p);
	ck_assert_int_eq(kill(p.pid, SIGRTMIN + 3), 0);
	profile_t *s = tt_snapshot(dir, p.pid, "1", 10);
	ck_assert_str_eq(s->meta.trigger, "signal 1");
	profile_free(s);
	kill(p.pid, SIGTERM);
	char err[4096];
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
}
END_TEST

START_TEST(cxx_operators_at_their_lines)
{
	char dir[256];
	profile_t *e = exit_of("cxx", NULL, dir, NULL);
	/* The traced peak comes after the deletes (the string, stdout's buffer).  The
	 * bad_alloc unwinds through the wrapper, whose guard the shim's personality
	 * routine resets: were it left set, the later deletes would go untraced. */
	ASSERT_SITE(e, "cxx.cpp", "new_int", 10, 40, 5, 20, 5, 20);
	ASSERT_SITE(e, "cxx.cpp", "new_array", 1, 400, 0, 0, 0, 0);
	ASSERT_SITE(e, "cxx.cpp", "new_aligned", 1, 128, 0, 0, 1, 128);
	ASSERT_SITE(e, "cxx.cpp", "new_nothrow", 1, 77, 0, 0, 1, 77);
	ASSERT_SITE(e, "cxx.cpp", "new_huge", 0, 0, 0, 0, 0, 0);
	ck_assert_int_eq(e->meta.lost_events, 0);
	profile_free(e);
}
END_TEST

/* A new_handler whose own new throws and is caught inside it, during a traced
 * operator new: the exception unwinds through a nested wrapper whose guard is the outer
 * one's, and must leave it taken, or the retried malloc is recorded twice. */
START_TEST(new_handler_throwing_inside_a_traced_new)
{
	char dir[256];
	profile_t *e = exit_of("newhandler", "handled 1, caught 1\n", dir, NULL);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "newhandler.cpp", "retried", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 48 << 20);
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 0);
	ck_assert_int_eq(e->meta.lost_events, 0);
	profile_free(e);
}
END_TEST

/* A program with its own operator new and delete: libstdc++'s sized delete and new[],
 * which the shim wraps and which call the program's operators, pass through, and the
 * malloc and free inside those are what is recorded, each once.  Before, the sized
 * delete recorded a free of a block never seen (100 unmatched, 100 blocks left in use
 * at the malloc) and new[] a block of the program's own allocator as the operator's. */
START_TEST(a_program_with_its_own_operator_new)
{
	char dir[256];
	profile_t *e = exit_of("ownnew", "ok\n", dir, NULL);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "ownnew.cpp", "own_malloc", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 110);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 100 * (40 + 16) + 10 * (40 + 16));
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 10);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 10 * (40 + 16));
	ck_assert_int_eq(e->meta.unmatched_frees, 0);
	profile_free(e);
}
END_TEST

static int files_in(const char *dir);

/* A child forked while another thread of its parent held the loader's lock (inside
 * dl_iterate_phdr, which glibc does not reset at fork) allocates through a library its
 * parent never allocated through: the shim registers that library without the lock
 * (_dl_find_object).  Before, the child waited on it for good. */
START_TEST(fork_while_another_thread_holds_the_loader_lock)
{
	char dir[256], plugin[PATH_MAX];
	tt_tempdir(dir, sizeof(dir));
	snprintf(plugin, sizeof(plugin), "%s/libplugin.so", getenv("PROGS"));
	char *argv[] = { "forklocked", plugin, NULL };
	struct run_result r;
	tt_run_alike(dir, argv, &r);
	ck_assert_str_eq(r.out, "child 0\n");
	ck_assert_int_eq(files_in(dir), 2); /* the parent's exit file and the child's */
	profile_free(tt_snapshot(dir, traced_pid(&r), "exit", 10));
}
END_TEST

/* A C program loads a C++ plugin with RTLD_LOCAL: libstdc++ is outside the global
 * scope, where the shim's operator new looked for the next definition; it stood in
 * with malloc, which neither aligns nor throws (6 of 8 objects misaligned, and a new
 * that could not succeed returned NULL).  Now it finds libstdc++'s, among the loaded
 * objects, without holding the loader's list lock across dlopen: the later runs have a
 * thread loading and unloading libplugin.so meanwhile (holding it hung 3 runs in 10). */
START_TEST(a_cxx_plugin_of_a_c_program)
{
	char dir[256], plugin[PATH_MAX], churned[PATH_MAX];
	snprintf(plugin, sizeof(plugin), "%s/libcxxplug.so", getenv("PROGS"));
	snprintf(churned, sizeof(churned), "%s/libplugin.so", getenv("PROGS"));
	for (int i = 0; i < 6; i++) {
		tt_tempdir(dir, sizeof(dir));
		char *argv[] = { "plughost", plugin, i ? churned : NULL, NULL };
		struct run_result r;
		tt_run_alike(dir, argv, &r);
		ck_assert_str_eq(r.out, "misaligned 0 caught 1\n");
		profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
		int64_t v[PV_COUNT];
		ck_assert(tt_site_named(e, "cxxplug.cpp", "kept", v));
		ck_assert_int_eq(v[PV_INUSE_OBJECTS], 8);
		ck_assert_int_eq(v[PV_INUSE_SPACE], 8 * 64);
		profile_free(e);
	}
}
END_TEST

/* The alloc values `heapsnap top` (stats_group(), default options) charges to
 * file:line of site: blocks in v[0], bytes in v[1]. */
static void top_site(const stats_t *s, const char *file, const char *site, int64_t v[2])
{
	int line = tt_site_line(file, site);
	v[0] = v[1] = 0;
	for (size_t i = 0; i < s->nentries; i++) {
		const stats_frame_t *f = &s->entries[i].site;
		const char *base = f->file ? strrchr(f->file, '/') : NULL;
		if (base && !strcmp(base + 1, file) && f->line == line) {
			v[0] += s->entries[i].count;
			v[1] += s->entries[i].size;
		}
	}
}

struct site_want {
	const char *site;
	int64_t blocks, bytes;
};

/* The exit snapshot e grouped by line, metric alloc; each site of want in file has
 * exactly its blocks and bytes there.  Adds them up into sum[0] and sum[1]. */
static stats_t *assert_sites(const profile_t *e, const char *prog, const char *file,
			     const struct site_want *want, size_t n, int64_t sum[2])
{
	stats_t *s = NULL;
	stats_options_t opt = { .metric = STATS_METRIC_ALLOC };
	ck_assert_int_eq(stats_group(e, &opt, &s), 0);
	sum[0] = sum[1] = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v[2];
		top_site(s, file, want[i].site, v);
		ck_assert_msg(v[0] == want[i].blocks && v[1] == want[i].bytes,
			      "%s: site %s: %lld blocks, %lld bytes; expected %lld, %lld", prog,
			      want[i].site, (long long)v[0], (long long)v[1],
			      (long long)want[i].blocks, (long long)want[i].bytes);
		sum[0] += v[0];
		sum[1] += v[1];
	}
	return s;
}

/* The output of `heapsnap top -m alloc -n 0 ARGS FILE`. */
static void top_text(const char *file, const char *args, char *out, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' top -m alloc -n 0 %s '%s'", getenv("HEAPSNAP"), args,
		 file);
	read_all_of(cmd, out, len);
}

/* cxxreal.cpp (built -O0 and -O2): every byte that `heapsnap top` charges is charged
 * to a marked line of the program, never to a standard library header; the only
 * exception is libstdc++'s own emergency exception pool, allocated before main.  The
 * sizes are libstdc++'s (GCC 12, x86_64):
 *   push_back     vector<int> grown to 1000: capacities 1, 2, 4 ... 1024 -> 11 blocks,
 *                 4 * 2047 bytes
 *   map_node      100 tree nodes of pair<const int, std::string>: 32 + 8 + 32 bytes
 *   map_string    100 assignments of a 33-character literal: 34 bytes each
 *   reserve       10 shared_ptr (16 bytes); make_shared: 10 control blocks holding a
 *                 64-byte Node (16 + 64)
 *   strings       two 20-character strings (21 bytes); concat: operator+ copies the
 *                 left one (21) and grows it for the right one (41)
 *   throw         two runtime_errors thrown: the exception object (16 + a 128-byte
 *                 header) and the message's reference-counted copy (24 + 32), charged
 *                 to the throw line inside checked() (inlined into main at -O2)
 *   reserve_owned 20 unique_ptr (8 bytes); make_unique: 20 Nodes of 64 bytes
 *   printf        stdout's buffer (libc): one block, its size the pipe's. */
static void check_cxxreal(const char *prog)
{
	char dir[256];
	pid_t pid;
	profile_t *e = exit_of(prog, "cxxreal 500500 100 40 30 4\n", dir, &pid);
	ck_assert_int_eq(e->meta.lost_events, 0);
	static const struct site_want want[] = {
		{ "push_back", 11, 4 * 2047 }, { "map_node", 100, 100 * 72 },
		{ "map_string", 100, 100 * 34 }, { "reserve", 1, 10 * 16 },
		{ "make_shared", 10, 10 * 80 }, { "strings", 2, 2 * 21 },
		{ "concat", 2, 21 + 41 }, { "throw", 4, 2 * (144 + 56) },
		{ "reserve_owned", 1, 20 * 8 }, { "make_unique", 20, 20 * 64 },
	};
	int64_t sum[2], v[2];
	stats_t *s = assert_sites(e, prog, "cxxreal.cpp", want, sizeof(want) / sizeof(want[0]), sum);
	int64_t sum_blocks = sum[0], sum_bytes = sum[1];
	top_site(s, "cxxreal.cpp", "printf", v);
	ck_assert_int_eq(v[0], 1);
	ck_assert_int_gt(v[1], 0);
	sum_blocks += v[0];
	sum_bytes += v[1];

	/* The rest: libstdc++'s emergency exception pool, and nothing else. */
	int64_t rest_blocks = 0, rest_bytes = 0;
	for (size_t i = 0; i < s->nentries; i++) {
		const stats_frame_t *f = &s->entries[i].site;
		if (f->file && strstr(f->file, "cxxreal.cpp"))
			continue;
		ck_assert_msg(!f->file && f->module && (!strncmp(f->module, "libstdc++", 9) ||
							!strcmp(f->module, prog)),
			      "%s: bytes charged to %s:%lld (%s)", prog, f->file ? f->file : "?",
			      (long long)f->line, f->module ? f->module : "?");
		rest_blocks += s->entries[i].count;
		rest_bytes += s->entries[i].size;
	}
	ck_assert_int_eq(rest_blocks, 1);
	ck_assert_int_eq(s->total_count, sum_blocks + rest_blocks);
	ck_assert_int_eq(s->total_size, sum_bytes + rest_bytes);
	stats_free(s);

	/* The command line agrees, and shows no header; --keep-runtime shows them again
	 * (some sites are charged to libstdc++ itself then, none to cxxreal.cpp alone), or,
	 * with libstdc++ linked in, its operator new, the innermost frame. */
	char path[512];
	static char text[65536];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", dir, (int)pid);
	top_text(path, "", text, sizeof(text));
	ck_assert_msg(!strstr(text, "/usr/include") && !strstr(text, ": operator new("), "%s",
		      text);
	ck_assert_msg(strstr(text, "cxxreal.cpp"), "%s", text);
	top_text(path, "--keep-runtime", text, sizeof(text));
	ck_assert_msg(strstr(text, strstr(prog, "static") ? ": operator new(unsigned long) ("
							  : "/usr/include/"),
		      "%s", text);
	/* Tracebacks shorten template arguments, unless --full-names. */
	top_text(path, "-k traceback", text, sizeof(text));
	ck_assert_msg(!strstr(text, "std::allocator<int>"), "%s", text);
	top_text(path, "-k traceback --keep-runtime", text, sizeof(text));
	ck_assert_msg(strstr(text, "std::vector<\xe2\x80\xa6>::"), "%s", text);
	top_text(path, "-k traceback --keep-runtime --full-names", text, sizeof(text));
	ck_assert_msg(strstr(text, "std::vector<int, std::allocator<int> >::"), "%s", text);
	profile_free(e);
}

START_TEST(cxx_real_sites_O0)
{
	check_cxxreal("cxxreal");
}
END_TEST

START_TEST(cxx_real_sites_O2)
{
	check_cxxreal("cxxreal-O2");
}
END_TEST

/* libstdc++ linked in (-static-libstdc++, as GCC's compilers are): operator new and
 * the library's functions are the executable's, known by their names, and each
 * allocation is still at its line; the emergency pool is the program's. */
START_TEST(cxx_real_sites_static_libstdcxx)
{
	check_cxxreal("cxxreal-static");
}
END_TEST

/* nsclang.cpp, built by clang at -O2: its function in a namespace has its inlined
 * standard library calls found, so the strings are charged to their line in it, not
 * to main's call of it. */
START_TEST(clang_functions_in_a_namespace)
{
	char dir[256];
	pid_t pid;
	profile_t *e = exit_of("nsclang", "nsclang 10\n", dir, &pid);
	static const struct site_want want[] = { { "ns_string", 10, 5 * 41 + 5 * 42 },
						 { "ns_vector", 1, 24 },
						 { "ns_reserve", 1, 16 * 32 },
						 { "ns_call", 0, 0 } };
	int64_t sum[2];
	stats_free(assert_sites(e, "nsclang", "nsclang.cpp", want, sizeof(want) / sizeof(want[0]), sum));
	/* The inlined frames between the line and the allocator are there, named. */
	char path[512];
	static char text[65536];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", dir, (int)pid);
	top_text(path, "-k traceback --keep-runtime", text, sizeof(text));
	ck_assert_msg(strstr(text, "app::fill at ") &&
			      strstr(text, "basic_string<\xe2\x80\xa6>::basic_string at /usr/include/"),
		      "%s", text);
	profile_free(e);
}
END_TEST

/* lambdas.cpp, built by g++ at -O2: its two out-of-line lambdas are two functions,
 * named as their symbols name them, and --skip takes either by that name; inlined
 * functions are named with their scopes (GCC gives them no linkage name). */
START_TEST(gcc_lambdas_are_told_apart)
{
	char dir[256], path[512];
	pid_t pid;
	profile_free(exit_of("lambdas", "lambdas 6\n", dir, &pid));
	snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", dir, (int)pid);
	static char text[65536];
	char want[256];
	top_text(path, "-k function", text, sizeof(text));
	ck_assert_msg(strstr(text, ": two_lambdas(int)::{lambda(int)#1}::operator()(int) const") &&
			      strstr(text, ": two_lambdas(int)::{lambda(int)#2}::operator()(int) const"),
		      "%s", text);
	ck_assert_msg(strstr(text, "size=35 B, count=2") && strstr(text, "size=39 B, count=2"),
		      "%s", text);
	/* Inlined: a namespace's function, and a lambda of main, by their scopes. */
	ck_assert_msg(strstr(text, ": app::helper(int) at ") && strstr(text, "size=33 B, count=1"),
		      "%s", text);
	ck_assert_msg(strstr(text, ": main::{lambda}::operator() at ") &&
			      strstr(text, "size=51 B, count=1"),
		      "%s", text);
	top_text(path, "--skip 'two_lambdas(int)::{lambda(int)#1}::*'", text,
		 sizeof(text));
	snprintf(want, sizeof(want), "lambdas.cpp:%d: size=35 B, count=2",
		 tt_site_line("lambdas.cpp", "call_a"));
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "lambdas.cpp:%d: size=39 B, count=2",
		 tt_site_line("lambdas.cpp", "lambda_b"));
	ck_assert_msg(strstr(text, want), "%s", text);
}
END_TEST

/* A function without line information, linked inside the span of an optimised C++
 * unit (holey.cpp), has no line: libdw names that unit for its address, whose line
 * table then gave it a libstdc++ header's line, and as runtime code it was passed
 * over and its block charged to main. */
START_TEST(a_function_without_lines_inside_a_units_span)
{
	char dir[256], file[512], cmd[1024], got[4096], site[600];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "holey", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, NULL, &r);
	profile_free(tt_snapshot(dir, traced_pid(&r), "exit", 10));
	snprintf(file, sizeof(file), "%s/heapsnap.%d.exit.pb.gz", dir, (int)traced_pid(&r));
	snprintf(cmd, sizeof(cmd), "'%s' top -n 0 '%s'", getenv("HEAPSNAP"), file);
	read_all_of(cmd, got, sizeof(got));
	ck_assert_msg(strstr(got, ": nodebug_alloc (holey): size=3333 B, count=1, average=3333 B\n"),
		      "%s", got);
	snprintf(site, sizeof(site), "holey.cpp:%d: size=3333 B",
		 tt_site_line("holey.cpp", "nodebug"));
	ck_assert_msg(!strstr(got, site), "%s", got);
}
END_TEST

/* Load: 10^7 events in all, over 2, 8 and 64 threads that free each other's blocks;
 * the ring fills and producers wait for the collector.  Exact leaks, zero lost. */
START_TEST(load_2_threads)
{
	run_threads(2, 5000000);
}
END_TEST

START_TEST(load_8_threads)
{
	run_threads(8, 1250000);
}
END_TEST

START_TEST(load_64_threads)
{
	run_threads(64, 156250);
}
END_TEST

/* The collector's memory per live block at a million live blocks (issue target:
 * at most 40 bytes), measured above its RSS before the blocks existed. */
/* 65,536 different stacks: the stack table's levels (preload/stacktab.c) hand every one
 * an id of its own, none is dropped, and each is one sample at the leaf's line. */
START_TEST(many_stacks_through_every_level)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "stacks", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_str_eq(r.out, "65536 stacks\n");
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_int_eq(e->meta.dropped_stacks, 0);
	int line = tt_site_line("stacks.c", "leaf");
	int64_t v[PV_COUNT];
	ck_assert_int_eq(tt_site_values(e, "stacks.c", line, v), 65536);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 65536);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 65536 * 16);
	profile_free(e);
}
END_TEST

START_TEST(stress_collector_memory_per_live_block)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "million", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	long live = 0, rss = 0, base = 0;
	ck_assert_int_eq(sscanf(r.out, "live=%ld collector_rss=%ld collector_base_rss=%ld", &live,
				&rss, &base), 3);
	ck_assert_int_eq(live, 1000000);
	ck_assert_int_gt(base, 0);
	double per_block = (double)(rss - base) / (double)live;
	fprintf(stderr, "collector RSS: %.1f bytes per live block (total %ld, base %ld)\n",
		per_block, rss, base);
	ck_assert_msg(per_block <= 40.0, "collector uses %.1f bytes per live block", per_block);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 30);
	ASSERT_SITE(e, "million.c", "blocks", 1000000, 1000000 * 40, 1000000, 1000000 * 40,
		    1000000, 1000000 * 40);
	profile_free(e);
}
END_TEST

/* ---- go tool pprof reads our files and charges the same bytes to each line ---- */

#define MAX_LINES 64

struct line_bytes {
	char key[160]; /* basename:line */
	long long bytes;
};

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void add_line(struct line_bytes *t, int *n, const char *file, long line, long long b)
{
	char key[160];
	snprintf(key, sizeof(key), "%s:%ld", base_of(file), line);
	for (int i = 0; i < *n; i++)
		if (!strcmp(t[i].key, key)) {
			t[i].bytes += b;
			return;
		}
	ck_assert_int_lt(*n, MAX_LINES);
	snprintf(t[*n].key, sizeof(t[*n].key), "%s", key);
	t[(*n)++].bytes = b;
}

/* Flat bytes per line from `go tool pprof -top -lines`. */
static int pprof_lines(const char *file, const char *index, struct line_bytes *t)
{
	char cmd[1024], line[1024];
	snprintf(cmd, sizeof(cmd),
		 "go tool pprof -top -lines -sample_index=%s -unit=B -nodecount=1000 "
		 "-nodefraction=0 '%s' 2>&1",
		 index, file);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	int n = 0;
	bool table = false;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "flat%")) {
			table = true;
			continue;
		}
		long long flat;
		char *colon = strrchr(line, ':'), *end;
		/* Only FILE:LINE entries; frames without line information have none. */
		if (!table || sscanf(line, " %lldB", &flat) != 1 || flat == 0 || !colon ||
		    strtol(colon + 1, &end, 10) <= 0 || (*end != '\n' && *end != '\0'))
			continue;
		*colon = '\0';
		char *file_start = strrchr(line, ' ');
		ck_assert_ptr_nonnull(file_start);
		add_line(t, &n, file_start + 1, atol(colon + 1), flat);
	}
	ck_assert_int_eq(pclose(f), 0);
	return n;
}

/* Bytes per line from `heapsnap top --keep-runtime --json` (the innermost frame, as
 * pprof's flat column counts). */
static int heapsnap_lines(const char *file, const char *metric, struct line_bytes *t)
{
	char cmd[1024], line[4096];
	snprintf(cmd, sizeof(cmd), "'%s' top --keep-runtime -n 0 --json -m %s '%s'",
		 getenv("HEAPSNAP"), metric, file);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *fp = strstr(line, "{\"file\":\""), *lp = strstr(line, "\"line\":"),
		     *sp = strstr(line, "\"size\":");
		if (!fp || !lp || !sp || strstr(line, "\"key\""))
			continue;
		fp += 9;
		*strchr(fp, '"') = '\0';
		long long size = atoll(sp + 7);
		if (size)
			add_line(t, &n, fp, atol(lp + 7), size);
	}
	ck_assert_int_eq(pclose(f), 0);
	return n;
}

static void assert_pprof_agrees(const char *file)
{
	static const char *const metrics[][2] = {
		{ "inuse", "inuse_space" }, { "alloc", "alloc_space" }, { "peak", "peak_space" },
	};
	for (size_t m = 0; m < 3; m++) {
		struct line_bytes ours[MAX_LINES], theirs[MAX_LINES];
		int n = heapsnap_lines(file, metrics[m][0], ours);
		int k = pprof_lines(file, metrics[m][1], theirs);
		ck_assert_int_gt(n, 0);
		ck_assert_msg(n == k, "%s: heapsnap has %d lines, pprof %d", metrics[m][0], n, k);
		for (int i = 0; i < n; i++) {
			int j = 0;
			while (j < k && strcmp(ours[i].key, theirs[j].key))
				j++;
			ck_assert_msg(j < k, "%s: pprof has no %s", metrics[m][0], ours[i].key);
			ck_assert_msg(ours[i].bytes == theirs[j].bytes, "%s %s: heapsnap %lld, pprof %lld",
				      metrics[m][0], ours[i].key, ours[i].bytes, theirs[j].bytes);
		}
	}
}

START_TEST(pprof_agrees_per_line)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	const char *progs[] = { "basic", "cxx" };
	for (int i = 0; i < 2; i++) {
		char *argv[] = { (char *)progs[i], NULL };
		struct run_result r;
		tt_run(dir, argv, NULL, &r);
		char path[512];
		snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", dir, (int)traced_pid(&r));
		profile_free(tt_snapshot(dir, traced_pid(&r), "exit", 10));
		assert_pprof_agrees(path);
	}
}
END_TEST

/* ---- soak: five minutes at full speed, a snapshot every second ---- */


static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return files_in(path);
}

/* The lines of pid's memory map that name what. */
static int count_maps(pid_t pid, const char *what)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return n;
}

START_TEST(soak_stays_flat)
{
	const char *env_s = getenv("SOAK_SECONDS");
	int seconds = env_s ? atoi(env_s) : 300;
	ck_assert_int_ge(seconds, 20);
	char dir[256], err[8192], line[64], secs[48];
	tt_tempdir(dir, sizeof(dir));
	snprintf(secs, sizeof(secs), "SOAKER_SECONDS=%d", seconds);
	char *env[] = { secs, NULL };
	struct tt_proc p;
	tt_start(dir, "soaker", env, &p);
	pid_t c = tt_collector_pid(p.pid);
	ck_assert_int_gt(c, 0);
	int warm = seconds / 6;
	long rss_warm = 0, rss_end = 0, rss_max = 0;
	int fds_warm = 0, cfds_warm = 0, maps_warm = 0;
	for (int t = 1; t < seconds - 2; t++) {
		sleep(1);
		ck_assert_int_eq(kill(p.pid, SIGUSR2), 0);
		long rss = tt_proc_status(c, "VmRSS:");
		if (rss > rss_max)
			rss_max = rss;
		if (t == warm) {
			rss_warm = rss;
			fds_warm = count_fds(p.pid);
			cfds_warm = count_fds(c);
			maps_warm = count_maps(p.pid, "memfd:heapsnap") + count_maps(c, "memfd:heapsnap");
		}
		rss_end = rss;
	}
	int fds_end = count_fds(p.pid), cfds_end = count_fds(c);
	int maps_end = count_maps(p.pid, "memfd:heapsnap") + count_maps(c, "memfd:heapsnap");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p.out));
	ck_assert_ptr_nonnull(strstr(line, "soaked"));
	line[strcspn(line, "\n")] = '\0';
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	fprintf(stderr, "soak: %d s, %s; collector RSS %ld KiB at %d s, %ld KiB at the end "
			"(max %ld); fds %d/%d, collector fds %d/%d, segment maps %d/%d\n",
		seconds, line, rss_warm, warm, rss_end, rss_max, fds_warm, fds_end, cfds_warm,
		cfds_end, maps_warm, maps_end);
	ck_assert_int_le(rss_end, rss_warm + rss_warm / 10 + 1024);
	ck_assert_int_eq(fds_end, fds_warm);
	ck_assert_int_eq(cfds_end, cfds_warm);
	ck_assert_int_eq(maps_end, maps_warm);
	/* A snapshot a second, all written, none losing anything. */
	int files = files_in(dir);
	ck_assert_int_ge(files, seconds - 10);
	profile_t *e = tt_snapshot(dir, p.pid, "exit", 30);
	ck_assert_int_eq(e->meta.lost_events, 0);
	ck_assert_int_eq(e->meta.corrupt_records, 0);
	profile_free(e);
}
END_TEST

static Suite *soak_suite(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("soak");
	tcase_set_timeout(tc, 1100);
	tcase_add_test(tc, soak_stays_flat);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- security: another uid cannot reach the shared segment ---- */

/* Tries, as uid/gid nobody in a child, to open each path; true when every open fails. */
static bool nobody_cannot_open(char *const paths[], int n)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		for (int i = 0; i < n; i++) {
			int fd = open(paths[i], O_RDONLY);
			if (fd >= 0) {
				fprintf(stderr, "nobody could open %s\n", paths[i]);
				_exit(1);
			}
		}
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 2, "cannot switch to uid nobody");
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* /proc/PID/map_files/RANGE of the heapsnap segment's mapping in pid. */
static void segment_map_file(pid_t pid, char *out, size_t len)
{
	char path[64], line[512], range[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	/* A collector that has just exec'd maps the segment a moment later. */
	for (int tries = 0; !range[0] && tries < 200; tries++) {
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "memfd:heapsnap") && sscanf(line, "%63s", range) == 1)
				break;
		if (f)
			fclose(f);
		if (!range[0])
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	ck_assert_msg(range[0], "no heapsnap segment in %s", path);
	snprintf(out, len, "/proc/%d/map_files/%s", (int)pid, range);
}

START_TEST(other_uid_cannot_map_the_segment)
{
	ck_assert_msg(geteuid() == 0, "the security suite runs as root: it switches to another "
				      "uid (CI runs it as root)");
	char dir[256], err[4096];
	struct tt_proc p;
	pid_t c = tt_start_collected(dir, sizeof(dir), "waiter", &p);
	/* The segment has no name anywhere (a memfd, closed once mapped): it is reachable
	 * only through the two mappings, and the two processes' memory. */
	char pmap[128], cmap[128], pmem[64], cmem[64];
	segment_map_file(p.pid, pmap, sizeof(pmap));
	segment_map_file(c, cmap, sizeof(cmap));
	snprintf(pmem, sizeof(pmem), "/proc/%d/mem", (int)p.pid);
	snprintf(cmem, sizeof(cmem), "/proc/%d/mem", (int)c);
	char *paths[] = { pmap, cmap, pmem, cmem };
	/* As root the paths are right: they open. */
	for (int i = 0; i < 4; i++) {
		int fd = open(paths[i], O_RDONLY);
		ck_assert_msg(fd >= 0, "root cannot open %s", paths[i]);
		close(fd);
	}
	ck_assert(nobody_cannot_open(paths, 4));
	/* grep found none (heapsnap run's socket directories may be there) */
	ck_assert_int_eq(system("ls /dev/shm | grep heapsnap | grep -qv '^heapsnap-run\\.'"), 256);
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char exitf[512];
	snprintf(exitf, sizeof(exitf), "%s/heapsnap.%d.exit.pb.gz", dir, (int)p.pid);
	profile_free(tt_snapshot(dir, p.pid, "exit", 10));
	struct stat sb;
	ck_assert_int_eq(stat(exitf, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

static Suite *security_suite(void)
{
	Suite *s = suite_create("security");
	TCase *tc = tcase_create("segment");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, other_uid_cannot_map_the_segment);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *stress_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("load");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, load_2_threads);
	tcase_add_test(tc, load_8_threads);
	tcase_add_test(tc, load_64_threads);
	tcase_add_test(tc, stress_collector_memory_per_live_block);
	tcase_add_test(tc, many_stacks_through_every_level);
	suite_add_tcase(s, tc);
	return s;
}

/* ---- the awkward cases (tests/progs/awkward.c, one mode each) ---- */

/* Runs awkward MODE [ARG] traced and untraced: same stdout and status.  Returns the
 * traced run's exit snapshot. */
static profile_t *awkward(const char *mode, const char *arg, char *dir, size_t dirlen,
			  struct run_result *traced)
{
	tt_tempdir(dir, dirlen);
	char *argv[] = { "awkward", (char *)mode, (char *)arg, NULL };
	tt_run_alike(dir, argv, traced);
	profile_t *e = tt_snapshot(dir, traced_pid(traced), "exit", 10);
	ck_assert_int_eq(e->meta.lost_events, 0);
	ck_assert_int_eq(e->meta.corrupt_records, 0);
	return e;
}

START_TEST(edge_cases_same_results)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("edge", NULL, dir, sizeof(dir), &r);
	ck_assert_ptr_nonnull(strstr(r.out, "malloc(huge) NULL errno=ENOMEM"));
	ck_assert_ptr_nonnull(strstr(r.out, "posix_memalign(3) = EINVAL"));
	ASSERT_SITE(e, "awkward.c", "malloc0", 1, 0, 1, 0, 1, 0);
	/* realloc(p, 0) freed the realloc(NULL, 24) block, before the traced peak. */
	ASSERT_SITE(e, "awkward.c", "realloc_null", 1, 24, 0, 0, 0, 0);
	ASSERT_SITE(e, "awkward.c", "pm64", 1, 100, 0, 0, 0, 0);
	ASSERT_SITE(e, "awkward.c", "aligned4096", 1, 12288, 1, 12288, 1, 12288);
	const int64_t pg = sysconf(_SC_PAGESIZE); /* pvalloc(10) holds a whole page */
	ASSERT_SITE(e, "awkward.c", "pvalloc", 1, pg, 1, pg, 1, pg);
	/* The failed realloc left its block live, where it was. */
	ASSERT_SITE(e, "awkward.c", "kept", 1, 100, 1, 100, 1, 100);
	ck_assert_int_eq(e->meta.unmatched_frees, 0);
	profile_free(e);
}
END_TEST

START_TEST(threads_in_a_loop_with_tls_destructors)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("threads", NULL, dir, sizeof(dir), &r);
	/* Each freed at its thread's exit; the traced peak is stdout's buffer, later. */
	ASSERT_SITE(e, "awkward.c", "tls", 200, 8000, 0, 0, 0, 0);
	ck_assert_int_eq(e->meta.unmatched_frees, 0);
	profile_free(e);
}
END_TEST

START_TEST(allocation_in_a_signal_handler)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("handler", NULL, dir, sizeof(dir), &r);
	ASSERT_SITE(e, "awkward.c", "in_handler", 1, 555, 1, 555, 1, 555);
	profile_free(e);
}
END_TEST

START_TEST(program_keeps_its_own_handler)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("own-signal", NULL, dir, sizeof(dir), &r);
	ck_assert_ptr_nonnull(strstr(r.out, "before: default"));
	ck_assert_ptr_nonnull(strstr(r.out, "own handler ran 2 times"));
	ck_assert_int_eq(count_of(r.err, "installed its own handler for SIGUSR2"), 1);
	char path[512];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.1.pb.gz", dir, (int)traced_pid(&r));
	ck_assert_int_eq(access(path, F_OK), -1); /* the signals were the program's */
	profile_free(e);
}
END_TEST

/* Under heapsnap run, that line goes to run's stderr, from the collector, and never into
 * the program's own (a script capturing its stderr would find it in its data): at once
 * for the program, in one list at the end for the rest of the tree; with -q, not at
 * all.  Under plain LD_PRELOAD, stderr is the only place to say it. */
START_TEST(own_handler_said_on_runs_stderr)
{
	char dir[256], script[1024], path[512], err[1024] = "";
	tt_tempdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/program.err", dir);
	const char *progs = getenv("PROGS");
	snprintf(script, sizeof(script), "%s/awkward own-signal 2>%s; trap '' USR2; %s/basic; exit 0",
		 progs, path, progs);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, NULL, &r);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = '\0';
	fclose(f);
	ck_assert_msg(!strstr(err, "heapsnap"), "in the program's stderr: %s", err);
	/* The shell, run's program, ignores the signal from its trap on: said at once. */
	ck_assert_msg(strstr(r.err, "(sh -c ") &&
			      strstr(r.err, "): the program ignores SIGUSR2: kill -USR2 does not "
					    "snapshot it, 'heapsnap snap "),
		      "%s", r.err);
	/* awkward and basic, in the list. */
	ck_assert_msg(strstr(r.err, "heapsnap: 2 other processes of the tree keep the snapshot "
				    "signal; 'heapsnap snap PID' snapshots them:\n"),
		      "%s", r.err);
	ck_assert_msg(strstr(r.err, " (awkward own-signal): the program installed its own "
				    "handler for SIGUSR2\n"),
		      "%s", r.err);
	ck_assert_msg(strstr(r.err, " (basic): SIGUSR2 was not at its default action at start\n"),
		      "%s", r.err);
	ck_assert_int_eq(count_of(r.err, "SIGUSR2"), 3);

	/* run -q says none of it: stderr holds the program's alone, as natively (a bash
	 * script with an EXIT trap, common, handles the signal too). */
	char *quiet[] = { "run", "-q", "--dir", dir, "--", "/bin/sh", "-c", script, NULL };
	tt_heapsnap(quiet, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	ck_assert_str_eq(r.err, "");

	snprintf(script, sizeof(script), "LD_PRELOAD=%s HEAPSNAP_DIR=%s %s/awkward own-signal",
		 getenv("HEAPSNAP_SHIM"), dir, progs);
	tt_run_plain(argv, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	const char *said = strstr(r.err, "heapsnap[");
	ck_assert_msg(said && strstr(said, "]: the program installed its own handler for SIGUSR2; "
				    "set HEAPSNAP_SIGNAL"),
		      "%s", r.err);
}
END_TEST

/* A forked child that takes the signal before its first allocation (no segment of its
 * own yet) is listed by run too, not said on its stderr; a vfork child that sets the
 * signal back to the default changes nothing of its parent's, which still snapshots
 * on it and is not said to have taken it. */
START_TEST(signal_taken_by_forked_and_vforked_children)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "forker", "signals", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, NULL, &r);
	ck_assert_msg(!strstr(r.err, "heapsnap["), "the shim wrote: %s", r.err);
	ck_assert_msg(strstr(r.err, "heapsnap: 1 other process of the tree keeps the snapshot "
				    "signal; 'heapsnap snap PID' snapshots it:\n") &&
			      strstr(r.err, " (forker signals): the program installed its own "
					    "handler for SIGUSR2\n"),
		      "%s", r.err);
	ck_assert_int_eq(count_of(r.err, "SIGUSR2"), 1);
	profile_t *s = tt_snapshot(dir, traced_pid(&r), "1", 10);
	profile_free(s);
}
END_TEST

START_TEST(closes_all_fds_and_clears_env)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("closefds", NULL, dir, sizeof(dir), &r);
	ASSERT_SITE(e, "awkward.c", "after_close", 50, 50 * 77, 50, 50 * 77, 50, 50 * 77);
	profile_free(e);
}
END_TEST

START_TEST(dlclosed_library_still_symbolizes)
{
	char dir[256], lib[512];
	snprintf(lib, sizeof(lib), "%s/libplugin.so", getenv("PROGS"));
	struct run_result r;
	profile_t *e = awkward("plugin", lib, dir, sizeof(dir), &r);
	ASSERT_SITE(e, "plugin.c", "plugin", 1, 321, 1, 321, 1, 321);
	ASSERT_SITE(e, "awkward.c", "after_dlclose", 1, 9, 1, 9, 1, 9);
	profile_free(e);
}
END_TEST

START_TEST(vfork_and_posix_spawn_children)
{
	char dir[256];
	struct run_result r;
	profile_t *e = awkward("spawn", NULL, dir, sizeof(dir), &r);
	ASSERT_SITE(e, "awkward.c", "spawner", 1, 111, 1, 111, 1, 111);
	profile_free(e);
}
END_TEST

START_TEST(daemon_traced_on_its_own)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "awkward", "daemon", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	profile_t *d = tt_snapshot(dir, pid_from(r.out, "daemon "), "exit", 10);
	ASSERT_SITE(d, "awkward.c", "daemon", 1, 888, 1, 888, 1, 888);
	profile_free(d);
}
END_TEST

START_TEST(exec_of_a_static_binary)
{
	char dir[256];
	struct run_result r;
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "awkward", "exec-static", "/sbin/ldconfig", NULL };
	tt_run_alike(dir, argv, &r);
	pid_t pid = traced_pid(&r);
	profile_t *e = tt_snapshot(dir, pid, "exec", 10);
	ASSERT_SITE(e, "awkward.c", "before_static", 1, 222, 1, 222, 1, 222);
	profile_free(e);
}
END_TEST

/* heapsnap wraps whatever malloc comes next: jemalloc or tcmalloc preloaded after the
 * shim.  The preload is set by env(1) for the program alone, not for heapsnap run
 * (which may be built with ASan, and ASan must come first in its own process). */
static void under_allocator(const char *lib, const char *name, const char *package)
{
	char path[256], preload[1024], prog[512], want[64];
	snprintf(path, sizeof(path), "/usr/lib/x86_64-linux-gnu/%s", lib);
	ck_assert_msg(access(path, R_OK) == 0, "%s is missing: apt-get install %s", path, package);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", getenv("HEAPSNAP_SHIM"), path);
	snprintf(prog, sizeof(prog), "%s/awkward", getenv("PROGS"));
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "/usr/bin/env", preload, prog, "allocator", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	snprintf(want, sizeof(want), "allocator %s\n", name);
	ck_assert_str_eq(r.out, want);
	/* env's image ends in an exec; the program's is the exit snapshot. */
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_int_eq(e->meta.lost_events, 0);
	ck_assert_ptr_nonnull(strstr(e->meta.command, "allocator"));
	/* 1000..1009 bytes; the even ones freed; all ten live at the peak. */
	ASSERT_SITE(e, "awkward.c", "under_allocator", 10, 10045, 5, 5025, 10, 10045);
	profile_free(e);
}

START_TEST(traced_over_jemalloc)
{
	under_allocator("libjemalloc.so.2", "jemalloc", "libjemalloc2");
}
END_TEST

START_TEST(traced_over_tcmalloc)
{
	under_allocator("libtcmalloc_minimal.so.4", "tcmalloc", "libtcmalloc-minimal4");
}
END_TEST

/* heapsnap --help and --version, like every command's --help, fail when their output
 * cannot be written (a full disk: /dev/full), and say so. */
START_TEST(top_level_output_errors_fail)
{
	const char *words[] = { "--help", "--version" };
	for (size_t i = 0; i < 2; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "'%s' %s > /dev/full 2>/dev/null", getenv("HEAPSNAP"),
			 words[i]);
		int st = system(cmd);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status %#x", words[i], st);
		snprintf(cmd, sizeof(cmd), "'%s' %s > /dev/null", getenv("HEAPSNAP"), words[i]);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* heapsnap run says plainly why it cannot trace a static or a setuid program. */
START_TEST(run_refuses_what_it_cannot_trace)
{
	char cmd[1024], line[512];
	snprintf(cmd, sizeof(cmd), "'%s' run -- /sbin/ldconfig --version 2>&1", getenv("HEAPSNAP"));
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_int_eq(WEXITSTATUS(pclose(f)), 1);
	ck_assert_str_eq(line, "heapsnap: /sbin/ldconfig is statically linked; LD_PRELOAD cannot "
			       "trace it\n");

	/* A setuid program owned by someone else: a copy owned by nobody when we are
	 * root, else the system's own su. */
	char dir[256], prog[300];
	tt_tempdir(dir, sizeof(dir));
	if (geteuid() == 0) {
		snprintf(prog, sizeof(prog), "%s/suid-true", dir);
		snprintf(cmd, sizeof(cmd), "cp /bin/true '%s' && chown nobody '%s' && chmod 4755 '%s'",
			 prog, prog, prog);
		ck_assert_int_eq(system(cmd), 0);
	} else {
		snprintf(prog, sizeof(prog), "/bin/su");
	}
	snprintf(cmd, sizeof(cmd), "'%s' run -- '%s' 2>&1", getenv("HEAPSNAP"), prog);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_int_eq(WEXITSTATUS(pclose(f)), 1);
	ck_assert_ptr_nonnull(strstr(line, "is setuid or setgid; the loader ignores LD_PRELOAD"));
}
END_TEST

/* Sums the values of domain's samples whose innermost frame is site. */
static void domain_site(const profile_t *p, int64_t domain, const char *file, const char *site,
			int64_t v[PV_COUNT])
{
	int line = tt_site_line(file, site);
	memset(v, 0, PV_COUNT * sizeof(*v));
	for (size_t i = 0; i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		const profile_location_t *l = s->nlocs ? &p->locations[s->locs[0]] : NULL;
		if (s->domain == domain && l && l->nlines && l->lines[0].line == line)
			for (int k = 0; k < PV_COUNT; k++)
				v[k] += s->value[k];
	}
}

/* The mmap domain: anonymous mappings made, split, trimmed, moved and replaced by eight
 * threads at once, exact per line; file mappings, reservations and glibc's own
 * mappings (thread stacks) are not counted. */
START_TEST(mmap_domain_exact_under_threads)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "mapper", NULL };
	struct run_result r;
	tt_run_alike(dir, argv, &r); /* the hint of MREMAP_DONTUNMAP taken as natively */
	ck_assert_msg(!strcmp(r.out, "hint taken\nmapped\n") ||
			      !strcmp(r.out, "hint not taken\nmapped\n"), "%s", r.out);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	const int64_t pg = sysconf(_SC_PAGESIZE), T = 8;
	static const struct {
		const char *site;
		int64_t inuse_pages, inuse_pieces, alloc_pages, allocs; /* per thread */
	} want[] = {
		{ "keep", 10, 1, 10, 1 },
		{ "hole", 6, 2, 8, 1 },        /* a hole punched in the middle: two pieces */
		{ "grow_from", 0, 0, 4, 1 },   /* moved by mremap: charged to mremap's line */
		{ "grow_to", 12, 1, 12, 1 },
		{ "shrink_from", 0, 0, 6, 1 },
		{ "shrink_to", 2, 1, 2, 1 },
		{ "dontunmap_from", 3, 1, 3, 1 }, /* MREMAP_DONTUNMAP leaves it mapped */
		{ "dontunmap_to", 3, 1, 3, 1 },
		{ "shared", 2, 1, 2, 1 },      /* mremap of old size 0 maps it again */
		{ "shared_again", 2, 1, 2, 1 },
		{ "commit", 4, 1, 4, 1 },      /* MAP_FIXED inside a PROT_NONE reservation */
		{ "filefix", 4, 2, 6, 1 },     /* a file mapping replaced its middle */
		{ "churn", 0, 0, 200, 200 },
		{ "odd", 2, 1, 2, 1 },         /* a page and a bit: whole pages */
	};
	int64_t v[PV_COUNT], inuse = 0, alloc = 0, pieces = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		pieces += want[i].inuse_pieces * T;
		domain_site(e, PROFILE_DOMAIN_MMAP, "mapper.c", want[i].site, v);
		ck_assert_msg(v[PV_INUSE_SPACE] == want[i].inuse_pages * pg * T &&
				      v[PV_INUSE_OBJECTS] == want[i].inuse_pieces * T &&
				      v[PV_ALLOC_SPACE] == want[i].alloc_pages * pg * T &&
				      v[PV_ALLOC_OBJECTS] == want[i].allocs * T,
			      "%s: inuse %lld B in %lld, alloc %lld B in %lld", want[i].site,
			      (long long)v[PV_INUSE_SPACE], (long long)v[PV_INUSE_OBJECTS],
			      (long long)v[PV_ALLOC_SPACE], (long long)v[PV_ALLOC_OBJECTS]);
		inuse += v[PV_INUSE_SPACE];
		alloc += v[PV_ALLOC_SPACE];
	}
	/* Nothing else in the domain: not the file mappings, not the thread stacks. */
	int64_t all_inuse = 0, all_alloc = 0;
	for (size_t i = 0; i < e->nsamples; i++) {
		if (e->samples[i].domain != PROFILE_DOMAIN_MMAP)
			continue;
		all_inuse += e->samples[i].value[PV_INUSE_SPACE];
		all_alloc += e->samples[i].value[PV_ALLOC_SPACE];
	}
	/* and main's page moved to the hint, unmapped, with the page it left. */
	domain_site(e, PROFILE_DOMAIN_MMAP, "mapper.c", "hint_from", v);
	ck_assert(v[PV_ALLOC_SPACE] == pg && v[PV_INUSE_SPACE] == 0);
	domain_site(e, PROFILE_DOMAIN_MMAP, "mapper.c", "hint_to", v);
	ck_assert(v[PV_ALLOC_SPACE] == pg && v[PV_INUSE_SPACE] == 0);
	ck_assert_int_eq(all_inuse, inuse);
	ck_assert_int_eq(all_alloc, alloc + 2 * pg);
	domain_site(e, 0, "mapper.c", "heap", v);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 100 * T);
	ck_assert_int_eq(e->meta.corrupt_records, 0);
	profile_free(e);

	/* top shows the heap, and says on its last line what the mmap domain holds. */
	char cmd[1024], got[4096], want_line[128];
	snprintf(cmd, sizeof(cmd), "'%s' top '%s/heapsnap.%d.exit.pb.gz' | tail -n 1",
		 getenv("HEAPSNAP"), dir, (int)traced_pid(&r));
	read_all_of(cmd, got, sizeof(got));
	snprintf(want_line, sizeof(want_line),
		 "Other domains: mmap size=%lld KiB, count=%lld (see --domain)\n",
		 (long long)(inuse / 1024), (long long)pieces);
	ck_assert_str_eq(got, want_line);
	snprintf(cmd, sizeof(cmd), "'%s' top --domain mmap -n 1 '%s/heapsnap.%d.exit.pb.gz'",
		 getenv("HEAPSNAP"), dir, (int)traced_pid(&r));
	read_all_of(cmd, got, sizeof(got));
	snprintf(want_line, sizeof(want_line), "mapper.c:%d: size=384 KiB, count=8, average=48.0 KiB",
		 tt_site_line("mapper.c", "grow_to"));
	ck_assert_msg(strstr(got, want_line) && strstr(got, ", domain mmap\n"), "%s", got);

	/* hist --domain all says the mappings are left out of its classes, and how much
	 * they hold; the heap's hist has nothing to say. */
	for (int all = 0; all < 2; all++) {
		snprintf(cmd, sizeof(cmd), "'%s' hist %s '%s/heapsnap.%d.exit.pb.gz' 2>&1 >/dev/null",
			 getenv("HEAPSNAP"), all ? "--domain all" : "", dir, (int)traced_pid(&r));
		read_all_of(cmd, got, sizeof(got));
		snprintf(want_line, sizeof(want_line),
			 "heapsnap: hist: anonymous mappings (%lld KiB in use) have no size classes "
			 "and are left out\n", (long long)(inuse / 1024));
		ck_assert_str_eq(got, all ? want_line : "");
	}

	/* report: the heap by default, the mappings with --domain mmap. */
	for (int mmap_page = 0; mmap_page < 2; mmap_page++) {
		snprintf(cmd, sizeof(cmd),
			 "'%s' report %s -o '%s/page.html' '%s/heapsnap.%d.exit.pb.gz' >/dev/null && "
			 "grep -c 'mapper.c\",\"line\":%d,' '%s/page.html'; true",
			 getenv("HEAPSNAP"), mmap_page ? "--domain mmap" : "", dir, dir,
			 (int)traced_pid(&r), tt_site_line("mapper.c", "grow_to"), dir);
		read_all_of(cmd, got, sizeof(got));
		ck_assert_msg(mmap_page ? strcmp(got, "0\n") : !strcmp(got, "0\n"), "%d: %s",
			      mmap_page, got);
	}
}
END_TEST

/* heapsnap.h: a pool's objects in domain 7, apart from the heap's blocks. */
START_TEST(track_api_domains)
{
	char dir[256]; /* untraced, the calls do nothing */
	pid_t pid;
	profile_t *e = exit_of("pool", "domain 0 refused: -1\npool done\n", dir, &pid);
	int64_t v[PV_COUNT];
	domain_site(e, 7, "pool.c", "track", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 10);
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 7);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 7 * 48);
	/* The arena is a heap block (domain 0) at the same address as the first object. */
	domain_site(e, 0, "pool.c", "arena", v);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 64 * 48);
	domain_site(e, 0, "pool.c", "track", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 0);
	profile_free(e);

	/* top --domain 7 --skip pool_get charges the objects to pool_get's callers. */
	char cmd[1024], got[4096];
	snprintf(cmd, sizeof(cmd), "'%s' top --domain 7 --skip pool_get --json '%s/heapsnap.%d.exit.pb.gz'",
		 getenv("HEAPSNAP"), dir, (int)pid);
	read_all_of(cmd, got, sizeof(got));
	char want_a[128], want_b[128];
	snprintf(want_a, sizeof(want_a), "\"line\":%d,\"function\":\"main\",\"module\":\"pool\","
		 "\"size\":144,\"count\":3,\"max_size\":48}", tt_site_line("pool.c", "caller_a"));
	snprintf(want_b, sizeof(want_b), "\"line\":%d,\"function\":\"main\",\"module\":\"pool\","
		 "\"size\":192,\"count\":4,\"max_size\":48}", tt_site_line("pool.c", "caller_b"));
	ck_assert_msg(strstr(got, want_a) && strstr(got, want_b), "%s", got);
	ck_assert_ptr_nonnull(strstr(got, "\"total\":{\"size\":336,\"count\":7}"));
}
END_TEST

static long rules_in(const char *path, const char *hex);
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);

/* A program scribbling random bytes over its ring, stack table and learnt rules:
 * neither it nor the collector crashes or hangs, what was rejected or lost is
 * counted, and every unwind rules file the collector wrote is a valid one. */
START_TEST(scribbled_shared_memory)
{
	char dir[256], cache[] = "/tmp/test-trace-scribble.XXXXXX", xdg_env[128];
	tt_tempdir(dir, sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(cache));
	snprintf(xdg_env, sizeof(xdg_env), "XDG_CACHE_HOME=%s", cache);
	char *env[] = { "HEAPSNAP_STALL_TIMEOUT=1", xdg_env, NULL }, *argv[] = { "scribble", NULL };
	struct run_result r;
	tt_run(dir, argv, env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d: %s",
		      r.status, r.err);
	ck_assert_str_eq(r.out, "scribbled 200 rounds\n");
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 30);
	ck_assert_str_eq(e->meta.trigger, "exit 0");
	ck_assert_int_gt(e->meta.corrupt_records + e->meta.lost_events, 0);
	/* Before the scribbling, everything was exact. */
	int64_t v[PV_COUNT];
	tt_site_named(e, "scribble.c", "before", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 4096);
	profile_free(e);
	char heapsnap_dir[256];
	snprintf(heapsnap_dir, sizeof(heapsnap_dir), "%s/heapsnap", cache);
	DIR *d = opendir(heapsnap_dir);
	int files = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		char *suffix = strstr(de->d_name, HS_CFI_SUFFIX);
		if (!suffix || suffix[strlen(HS_CFI_SUFFIX)])
			continue;
		char path[600], hex[HS_CFI_BUILD_ID_MAX + 1];
		snprintf(path, sizeof(path), "%s/%s", heapsnap_dir, de->d_name);
		snprintf(hex, sizeof(hex), "%.*s", (int)(suffix - de->d_name), de->d_name);
		ck_assert_msg(rules_in(path, hex) >= 1, "%s", path);
		files++;
	}
	if (d)
		closedir(d);
	ck_assert_int_ge(files, 1); /* libc's at least: its rules were learnt first */
	nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* A stack-table slot claimed and never filled (its writer died in between: a _Fork
 * child killed at that moment, or scribbling): a probe waits for it a while, then
 * passes it, instead of spinning for ever.  With every slot of the first level so
 * claimed, three new stacks are interned further on, each block at its line. */
START_TEST(claimed_stack_slots_are_passed)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "scribble", "claimed", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "passed 1024 claimed slots\n", &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 30);
	static const struct { const char *site; int64_t bytes; } sites[] = {
		{ "claimed_one", 101 }, { "claimed_two", 202 }, { "claimed_three", 303 },
	};
	for (size_t i = 0; i < 3; i++) {
		int64_t v[PV_COUNT];
		ck_assert_msg(tt_site_named(e, "scribble.c", sites[i].site, v), "%s", sites[i].site);
		ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
		ck_assert_int_eq(v[PV_ALLOC_SPACE], sites[i].bytes);
	}
	int64_t v[PV_COUNT];
	tt_site_named(e, "scribble.c", "before", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 4096);
	profile_free(e);
}
END_TEST

/* Runs heapsnap snap PID with a timeout; returns its exit status, its stdout in out. */
static int snap(pid_t pid, const char *timeout, char *out, size_t len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "'%s' snap --timeout %s %d 2>&1", getenv("HEAPSNAP"), timeout,
		 (int)pid);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

static int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* The program's own file on the fd numbers of libunwind's pipe (fdpipe.c): libunwind,
 * unwinding a signal handler's allocation, read a byte from it and wrote one into it. */
START_TEST(the_unwinders_pipe_never_touches_the_programs_fds)
{
	char dir[256];
	profile_free(exit_of("fdpipe", "read 10 '0123456789', offset 0\n", dir, NULL));
}
END_TEST

/* The segment is left out of the program's core dumps (VM_DONTDUMP, "dd" in smaps):
 * a crash of a small program dumped its 146 MB with the program's 300 KB. */
START_TEST(the_segment_stays_out_of_core_dumps)
{
	char dir[256], err[4096], path[64], line[512];
	tt_tempdir(dir, sizeof(dir));
	struct tt_proc p;
	tt_start(dir, "waiter", NULL, &p);
	ck_assert_int_gt(tt_collector_pid(p.pid), 0);
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)p.pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	int segments = 0, undumped = 0;
	bool in_segment = false;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') && isxdigit((unsigned char)line[0]) &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in_segment = strstr(line, "memfd:heapsnap") != NULL;
			segments += in_segment;
		} else if (in_segment && !strncmp(line, "VmFlags:", 8)) {
			undumped += strstr(line, " dd") != NULL;
		}
	}
	fclose(f);
	ck_assert_int_eq(segments, 1);
	ck_assert_int_eq(undumped, 1);
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

/* The program's file replaced while it runs (a new version installed): its frames
 * are read from its own file through /proc/PID/exe, not from the new one at its path,
 * which gave bare addresses (or another build's names). */
START_TEST(a_replaced_executable_keeps_its_lines)
{
	char dir[256], exe[300], cmd[1024], out[512], err[4096];
	tt_tempdir(dir, sizeof(dir));
	snprintf(exe, sizeof(exe), "%s/w", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s/waiter' '%s'", getenv("PROGS"), exe);
	ck_assert_int_eq(system(cmd), 0);
	struct tt_proc p;
	tt_start(dir, exe, NULL, &p);
	ck_assert_int_eq(unlink(exe), 0);
	snprintf(cmd, sizeof(cmd), "cp /bin/true '%s'", exe);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(snap(p.pid, "10", out, sizeof(out)), 0);
	profile_t *s = tt_snapshot(dir, p.pid, "1", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(s, "waiter.c", "before_snap", v));
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 64);
	profile_free(s);
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(exe);
}
END_TEST

/* The snapshot directory vanishes, then the disk is "full" (a file size limit on the
 * collector): each failed snapshot says so on stderr and leaves no file; the program
 * goes on; the next snapshot is written. */
START_TEST(unwritable_dir_and_full_disk)
{
	char dir[256], out[512], err[8192];
	tt_tempdir(dir, sizeof(dir));
	struct tt_proc p;
	tt_start(dir, "waiter", NULL, &p);
	pid_t collector = tt_collector_pid(p.pid);
	ck_assert_int_gt(collector, 0);

	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(snap(p.pid, "1", out, sizeof(out)), 1);
	/* snap names the file it could not write (it said only the error). */
	char want[512];
	snprintf(want, sizeof(want), "heapsnap: snap: %d: cannot write snapshot "
		 "'%s/heapsnap.%d.1.pb.gz': No such file or directory\n", (int)p.pid, dir,
		 (int)p.pid);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(snap(p.pid, "10", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, ".2.pb.gz"));

	/* Above the size of the messages in the (file) stderr, below a snapshot's. */
	struct rlimit small = { 400, RLIM_INFINITY }, none = { RLIM_INFINITY, RLIM_INFINITY };
	ck_assert_int_eq(prlimit(collector, RLIMIT_FSIZE, &small, NULL), 0);
	ck_assert_int_eq(snap(p.pid, "1", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, ".3.pb.gz': File too large\n"));
	ck_assert_int_eq(files_in(dir), 1); /* request 3 left nothing behind */
	ck_assert_int_eq(prlimit(collector, RLIMIT_FSIZE, &none, NULL), 0);
	ck_assert_int_eq(snap(p.pid, "10", out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, ".4.pb.gz"));

	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	ck_assert_int_eq(count_of(err, "cannot write snapshot"), 2);
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	ck_assert_ptr_nonnull(strstr(err, "File too large"));
	profile_t *e = tt_snapshot(dir, p.pid, "exit", 10);
	ASSERT_SITE(e, "waiter.c", "before_snap", 64, 64 * 32, 64, 64 * 32, 64, 64 * 32);
	profile_free(e);
}
END_TEST

/* 1000 snapshot requests in about a second, on a real-time signal (which the kernel
 * queues): no crash, no deadlock, and every request is written or merged into a file
 * that counts it. */
START_TEST(signal_storm)
{
	char dir[256], err[8192];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_SIGNAL=RTMIN+1", NULL };
	struct tt_proc p;
	tt_start(dir, "waiter", env, &p);
	ck_assert_int_gt(tt_collector_pid(p.pid), 0);
	struct timespec ms = { 0, 1000 * 1000 }, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(kill(p.pid, SIGRTMIN + 1), 0);
		nanosleep(&ms, NULL);
	}
	/* Wait until the requests are all accounted for, then end the program. */
	int64_t counted = 0, files = 0;
	for (int tries = 0; tries < 300 && counted < 1000; tries++) {
		counted = files = 0;
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			/* heapsnap.PID.N.pb.gz: the signal snapshots */
			char *end, *dot = strncmp(e->d_name, "heapsnap.", 9) ? NULL
								       : strchr(e->d_name + 9, '.');
			long n = dot ? strtol(dot + 1, &end, 10) : 0;
			if (n <= 0 || strcmp(end, ".pb.gz"))
				continue;
			char path[600];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			profile_t *s;
			pprof_error_t perr;
			if (pprof_read_file(path, &s, &perr) == 0) {
				counted += 1 + s->meta.merged_requests;
				files++;
				profile_free(s);
			}
		}
		if (d)
			closedir(d);
		if (counted < 1000)
			nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	ck_assert_int_eq(counted, 1000);
	/* Files beyond a burst of 8 come at 10 a second; the rest are merged. */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	ck_assert_msg(files <= 8 + 10 * took + 1, "%lld files in %.2f s", (long long)files, took);
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
}
END_TEST

/* A bad HEAPSNAP_* value: one warning naming the variable and the default used. */
START_TEST(bad_settings_warn_and_use_defaults)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_FRAMES=0", "HEAPSNAP_RING=1000", "HEAPSNAP_SIGNAL=KILL",
			"HEAPSNAP_STALL_TIMEOUT=soon", NULL };
	char *argv[] = { "basic", NULL };
	struct run_result r;
	tt_run(dir, argv, env, &r);
	ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 7);
	ck_assert_ptr_nonnull(strstr(r.err, "ignoring HEAPSNAP_FRAMES='0': invalid; using 16"));
	ck_assert_ptr_nonnull(strstr(r.err, "ignoring HEAPSNAP_RING='1000': invalid; using 65536"));
	ck_assert_ptr_nonnull(strstr(r.err, "ignoring HEAPSNAP_SIGNAL='KILL': invalid; using USR2"));
	ck_assert_ptr_nonnull(
		strstr(r.err, "ignoring HEAPSNAP_STALL_TIMEOUT='soon': invalid; using 10"));
	ck_assert_int_eq(count_of(r.err, "ignoring HEAPSNAP_"), 4);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	ck_assert_int_eq(e->meta.frame_limit, 16);
	ASSERT_SITE(e, "basic.c", "malloc48", 1000, 48000, 250, 12000, 500, 24000);
	profile_free(e);
	/* The defaults were really used: USR2 still takes snapshots. */
	profile_free(tt_snapshot(dir, traced_pid(&r), "1", 10));
}
END_TEST

/* A child that ends with _exit skips the exit hook: the shim marks the exit in _exit
 * itself, so its file says "exit 3" though its parent reaps it at once.  A vfork
 * child's _exit marks nothing: it shares its parent's memory and segment, which
 * still goes on to exec (an exit marked there would have made it an exit file). */
START_TEST(fork_child_ending_with__exit_says_its_status)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "forker", "_exit", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "stderr: %s", r.err);
	pid_t parent = pid_from(r.out, "parent "), child = pid_from(r.out, "child ");
	profile_t *c = tt_snapshot(dir, child, "exit", 10);
	ck_assert_str_eq(c->meta.trigger, "exit 3");
	ASSERT_SITE(c, "forker.c", "child", 1, 2000, 1, 2000, 1, 2000);
	profile_free(c);
	profile_t *p = tt_snapshot(dir, parent, "exec", 10);
	ck_assert_str_eq(p->meta.trigger, "exec");
	ASSERT_SITE(p, "forker.c", "parent_after", 1, 3000, 1, 3000, 1, 3000);
	profile_free(p);
	profile_t *sh = tt_snapshot(dir, parent, "exit", 10);
	ck_assert_str_eq(sh->meta.trigger, "exit 3");
	ck_assert_ptr_nonnull(strstr(sh->meta.command, "exit 3"));
	profile_free(sh);
	ck_assert_int_eq(files_in(dir), 3); /* none for the vfork child */
}
END_TEST

/* The fast unwinder agrees with libunwind on every stack these programs make: with
 * HEAPSNAP_VERIFY_UNWIND=1 the shim walks each stack both ways and aborts on a
 * difference.  Its rules come from the CFI (preload/cfi.c): the -O2 builds without
 * frame pointers give it RSP-based frames and RBP as a general register, stacks-O2
 * 65,536 call paths, more than a thread's rule cache holds.  (The corpus programs
 * were checked the same way by hand.) */
START_TEST(fast_unwinder_agrees_with_libunwind)
{
	static const char *const progs[][3] = {
		{ "basic" }, { "cxx" }, { "deep" }, { "threads", "8", "100000" },
		{ "awkward", "handler" }, { "awkward", "threads" }, { "awkward", "edge" },
		{ "forker" }, { "pool" }, { "stacks-O2" }, { "cxxreal-O2-nofp" }, { "stackattr" },
		{ "stackattr", "coroutine" },
	};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char dir[256];
		tt_tempdir(dir, sizeof(dir));
		/* Without the rules files: every rule comes from the CFI (those files
		 * are tested below). */
		char *env[] = { "HEAPSNAP_VERIFY_UNWIND=1", "HEAPSNAP_CACHE=off", NULL };
		char *argv[] = { (char *)progs[i][0], (char *)progs[i][1], (char *)progs[i][2], NULL };
		struct run_result r;
		tt_run(dir, argv, env, &r);
		ck_assert_msg(!strstr(r.err, "unwind mismatch") && !WIFSIGNALED(r.status),
			      "%s: %s", progs[i][0], r.err);
		/* The fast walk answered, with its rules read from the CFI; libunwind took
		 * a few stacks at most (through a signal handler's frame). */
		unsigned long fast = 0, slow = ~0ul, cfi = 0;
		const char *said = strstr(r.err, "unwind: ");
		ck_assert_msg(said && sscanf(said, "unwind: %lu stacks by the fast walk, %lu by "
						   "libunwind, %lu rules from the CFI",
					     &fast, &slow, &cfi) == 3, "%s", r.err);
		ck_assert_msg(slow <= 2 && fast >= 1 && cfi >= 3, "%s: %s", progs[i][0], said);
		if (!strcmp(progs[i][0], "stacks-O2")) {
			ck_assert_str_eq(r.out, "65536 stacks\n");
			ck_assert_uint_ge(fast, 65536);
		}
	}
}
END_TEST

/* libunwind is loaded the first time a stack needs it, and waiter's never do: their
 * rules all come from the CFI.  Its maps hold the shim, not libunwind (nor liblzma,
 * which only libunwind pulls in), and its 64 allocations are at their line. */
START_TEST(libunwind_is_loaded_only_when_a_stack_needs_it)
{
	char dir[256], err[8192];
	tt_tempdir(dir, sizeof(dir));
	struct tt_proc p;
	tt_start(dir, "waiter", NULL, &p);
	ck_assert_int_gt(count_maps(p.pid, "libheapsnap"), 0);
	ck_assert_int_eq(count_maps(p.pid, "libunwind"), 0);
	ck_assert_int_eq(count_maps(p.pid, "liblzma"), 0);
	/* Nor libgcc_s: the shim has its own C personality routine (preload/shim.c). */
	ck_assert_int_eq(count_maps(p.pid, "libgcc_s"), 0);
	kill(p.pid, SIGTERM);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	profile_t *e = tt_snapshot(dir, p.pid, "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "waiter.c", "before_snap", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 64);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 64 * 32);
	profile_free(e);
}
END_TEST

/* A library's constructor allocating before main (libselinux's does in most of
 * coreutils): ld.so calls it from _dl_start_user, for which Debian 12's ld.so has no
 * CFI.  RBP is 0 there, the ABI's mark of the outermost frame, so the fast walk ends
 * its stack there as libunwind does, with no stack left to libunwind (loading it
 * cost each such process about 0.3 ms).  Both blocks are at their line. */
START_TEST(constructor_stacks_end_in_the_loaders_start_code)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_VERIFY_UNWIND=1", NULL };
	char *argv[] = { "ctormain", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, env, "constructor's block there\n", &r);
	unsigned long fast = 0, slow = ~0ul, cfi = 0;
	const char *said = strstr(r.err, "unwind: ");
	ck_assert_msg(said && sscanf(said, "unwind: %lu stacks by the fast walk, %lu by "
					   "libunwind, %lu rules from the CFI",
				     &fast, &slow, &cfi) == 3, "%s", r.err);
	ck_assert_msg(slow == 0 && fast >= 2, "%s", said);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "ctorlib.c", "in_constructor", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 777);
	ck_assert(tt_site_named(e, "ctormain.c", "in_main", v));
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 55);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
	profile_free(e);
}
END_TEST

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);

/* One run of cxxreal-O2-nofp with the fast walk checked against libunwind, caching
 * under xdg_env: its exit snapshot still charges push_back and make_unique exactly,
 * and *cfi and *files say where its unwind rules came from. */
static void run_checked_cxxreal(char *xdg_env, unsigned long *cfi, unsigned long *files)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_VERIFY_UNWIND=1", xdg_env, NULL };
	char *argv[] = { "cxxreal-O2-nofp", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, env, "cxxreal 500500 100 40 30 4\n", &r);
	unsigned long fast = 0, slow = ~0ul;
	const char *said = strstr(r.err, "unwind: ");
	ck_assert_msg(said && sscanf(said, "unwind: %lu stacks by the fast walk, %lu by "
					   "libunwind, %lu rules from the CFI, %lu from the "
					   "rules files",
				     &fast, &slow, cfi, files) == 4, "%s", r.err);
	ck_assert_msg(!strstr(r.err, "unwind mismatch") && slow == 0 && fast > 100, "%s", said);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	stats_t *st = NULL;
	stats_options_t opt = { .metric = STATS_METRIC_ALLOC };
	ck_assert_int_eq(stats_group(e, &opt, &st), 0);
	int64_t v[2];
	top_site(st, "cxxreal.cpp", "push_back", v);
	ck_assert(v[0] == 11 && v[1] == 4 * 2047);
	top_site(st, "cxxreal.cpp", "make_unique", v);
	ck_assert(v[0] == 20 && v[1] == 20 * 64);
	stats_free(st);
	profile_free(e);
}

/* The entries of the rules file at path for build-id hex, when it is a valid one:
 * *count of them, read into buf (a static buffer); else -1. */
static long rules_in(const char *path, const char *hex)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	uint64_t count;
	if (n <= 0 || !hs_cfi_check(buf, (size_t)n, hex, strlen(hex), &count))
		return -1;
	return (long)count;
}

/* Rules files (preload/cfifile.h): the unwind rules a process read from its modules'
 * CFI are kept per build-id, private to the user, and the next process of the same
 * binary takes them from there, not from the CFI, with the very same stacks (each fast
 * walk is checked against libunwind's).  A corrupt file is not used, and is written
 * anew from what the CFI said.  With HEAPSNAP_CACHE=off there are none. */
START_TEST(rules_files_teach_the_next_process)
{
	char cache[] = "/tmp/test-trace-rules.XXXXXX", xdg_env[128], path[512], hex[129];
	ck_assert_ptr_nonnull(mkdtemp(cache));
	snprintf(xdg_env, sizeof(xdg_env), "XDG_CACHE_HOME=%s", cache);
	char prog[PATH_MAX];
	snprintf(prog, sizeof(prog), "%s/cxxreal-O2-nofp", getenv("PROGS"));
	int fd = open(prog, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(buildid_read(fd, hex, sizeof(hex)), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/heapsnap/%s" HS_CFI_SUFFIX, cache, hex);

	unsigned long cfi, files;
	run_checked_cxxreal(xdg_env, &cfi, &files);
	ck_assert_msg(cfi >= 10 && files == 0, "%lu from the CFI, %lu from files", cfi, files);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
	long kept = rules_in(path, hex);
	ck_assert_int_ge(kept, 5);

	run_checked_cxxreal(xdg_env, &cfi, &files);
	ck_assert_msg(cfi == 0 && files >= 10, "%lu from the CFI, %lu from files", cfi, files);

	/* One bit of one rule changed: the checksum refuses the file. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint8_t b;
	off_t at = st.st_size - 8; /* the last entry's CFA offset */
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 8;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
	ck_assert_int_eq(rules_in(path, hex), -1);
	run_checked_cxxreal(xdg_env, &cfi, &files);
	ck_assert_msg(cfi >= 5, "%lu from the CFI, %lu from files", cfi, files);
	ck_assert_int_eq(rules_in(path, hex), kept);
	run_checked_cxxreal(xdg_env, &cfi, &files);
	ck_assert_msg(cfi == 0, "%lu from the CFI, %lu from files", cfi, files);

	/* Cut short: not used either, and written anew. */
	ck_assert_int_eq(truncate(path, st.st_size - 16), 0);
	run_checked_cxxreal(xdg_env, &cfi, &files);
	ck_assert_msg(cfi >= 5, "%lu from the CFI, %lu from files", cfi, files);
	ck_assert_int_eq(rules_in(path, hex), kept);

	/* Off: no file is written, and none is read. */
	char off_cache[] = "/tmp/test-trace-rules.XXXXXX", off_env[128];
	ck_assert_ptr_nonnull(mkdtemp(off_cache));
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	snprintf(off_env, sizeof(off_env), "XDG_CACHE_HOME=%s", off_cache);
	char *env[] = { off_env, "HEAPSNAP_CACHE=off", NULL };
	char *argv[] = { "cxxreal-O2-nofp", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, env, "cxxreal 500500 100 40 30 4\n", &r);
	char off_dir[256];
	snprintf(off_dir, sizeof(off_dir), "%s/heapsnap", off_cache);
	ck_assert_int_eq(access(off_dir, F_OK), -1);
	nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(off_cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* Threads on the smallest stacks glibc allows start under the shim as without it:
 * its per-thread tables are not in the static TLS block, which glibc takes from each
 * thread's stack (36 KiB of them made pthread_create fail with EINVAL on 16 and
 * 32 KiB stacks, as node's).  Each thread's block is at its line. */
START_TEST(threads_on_small_stacks)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "smallstack", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "16 KiB: started\n32 KiB: started\n", &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "smallstack.c", "small_stack", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 2);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 154);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
	profile_free(e);
}
END_TEST

/* A program that sets its process title (chromium, nginx, postgres) overwrites its
 * environment's strings, and a child it forks later sets up from the options its
 * parent read: the shim keeps copies.  It pointed into the environment, and a
 * chromium renderer said "cannot find the heapsnap binary" and went untraced. */
START_TEST(options_outlive_an_overwritten_environment)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "retitle", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "child exited 0\n", &r);
	ck_assert_msg(!strstr(r.err, "cannot"), "%s", r.err);
	/* The child: the one file whose pid is not the parent's. */
	pid_t parent = traced_pid(&r), child = 0;
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		int p;
		if (sscanf(de->d_name, "heapsnap.%d.exit.pb.gz", &p) == 1 && p != parent)
			child = p;
	}
	closedir(d);
	ck_assert_msg(child > 0, "no exit file of the child in %s: %s", dir, r.err);
	profile_t *e = tt_snapshot(dir, child, "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "retitle.c", "child_after_title", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 64);
	profile_free(e);
}
END_TEST

/* A program that closes fd 2 and creates a file of its own, which gets fd 2: the
 * shim's messages (here: the program took the snapshot signal) go only to the stderr
 * the program started with, never into the program's file. */
START_TEST(messages_stay_out_of_a_reused_fd_2)
{
	char dir[256], file[300];
	tt_tempdir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/data.txt", dir);
	char *argv[] = { "fd2reuse", file, NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "the program's data\n", &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "fd2reuse.c", "before_reuse", v));
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 40);
	profile_free(e);
}
END_TEST

/* A program under an address-space limit it fits in natively fits under the shim
 * too: with RLIMIT_AS set (and HEAPSNAP_STACKS not), the segment takes at most 1/32 of
 * it.  With the default stack table (139 MiB of address space) its 150 MiB block did
 * not fit under 200 MiB.  The block is at its line. */
START_TEST(an_address_space_limit_leaves_the_program_its_room)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "aslimit", NULL };
	struct run_result plain, r;
	tt_run_plain(argv, &plain);
	ck_assert_str_eq(plain.out, "allocated 150 MiB under a 200 MiB limit\n");
	tt_run_ok(dir, argv, NULL, "allocated 150 MiB under a 200 MiB limit\n", &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "aslimit.c", "under_the_limit", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 150 << 20);
	profile_free(e);
}
END_TEST

/* A thread whose first allocation is inside its own pthread_getattr_np, which holds
 * the thread's lock while it allocates: the shim finds the stack's top without that
 * call, so neither the main thread nor a new one deadlocks, and both blocks are at
 * their line. */
START_TEST(stack_attributes_as_a_first_allocation)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "stackattr", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "main has its stack, thread has its stack\n", &r);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t v[PV_COUNT];
	ck_assert(tt_site_named(e, "stackattr.c", "after_attributes", v));
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 2);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 200);
	profile_free(e);
}
END_TEST

/* The program's own signal masks hold while the shim unwinds, though libunwind's
 * sigprocmask calls from inside the shim are skipped (preload/unwind.c): sigmask's
 * SIGALRM handler, every 50 us, interrupts allocations that each go through libunwind
 * (HEAPSNAP_VERIFY_UNWIND=1), blocks SIGUSR1, raises it, and finds it pending, not
 * delivered; and every block is at its line. */
START_TEST(program_signal_masks_hold_while_the_shim_unwinds)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *env[] = { "HEAPSNAP_VERIFY_UNWIND=1", NULL };
	char *argv[] = { "sigmask", NULL };
	struct run_result r, plain;
	tt_run(dir, argv, env, &r);
	tt_run_plain(argv, &plain);
	ck_assert_str_eq(r.out, "violations 0\nblocks 4000\n");
	ck_assert_str_eq(plain.out, r.out);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	ck_assert_msg(strstr(r.err, "alarms ") && atoi(strstr(r.err, "alarms ") + 7) > 0, "%s",
		      r.err);
	profile_t *e = tt_snapshot(dir, traced_pid(&r), "exit", 10);
	int64_t a[PV_COUNT], b[PV_COUNT];
	int na = tt_site_named(e, "sigmask.c", "leaf_a", a);
	int nb = tt_site_named(e, "sigmask.c", "leaf_b", b);
	ck_assert_int_gt(na, 0);
	ck_assert_int_gt(nb, 0);
	ck_assert_int_eq(a[PV_ALLOC_OBJECTS] + b[PV_ALLOC_OBJECTS], 4000);
	ck_assert_int_eq(a[PV_ALLOC_SPACE] + b[PV_ALLOC_SPACE], 4000 * 32);
	profile_free(e);
}
END_TEST

/* A program that takes SIGUSR2 for its own through sysv_signal() (what signal() is
 * under strict ISO C) or sigset() is told its own handler by sigaction(), as without
 * us, and its handler runs; run says the signal is the program's.  Before, sigaction()
 * said SIG_DFL: the shim still took the signal for its own. */
START_TEST(signal_taken_without_sigaction)
{
	static const char *const modes[] = { "sysv", "sigset" };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char dir[256];
		tt_tempdir(dir, sizeof(dir));
		char *argv[] = { "sigown", (char *)modes[i], NULL };
		struct run_result r, plain;
		tt_run(dir, argv, NULL, &r);
		tt_run_plain(argv, &plain);
		ck_assert_str_eq(plain.out, "own 1\n");
		ck_assert_str_eq(r.out, plain.out);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
		ck_assert_msg(strstr(r.err, "the program installed its own handler for SIGUSR2"),
			      "%s: %s", modes[i], r.err);
	}
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("programs");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, basic_sites_exact);
	tcase_add_test(tc, threads_handoff_exact);
	tcase_add_test(tc, fork_child_traced_alone);
	tcase_add_test(tc, fork_child_after_dlclose_charges_the_library_now_there);
	tcase_add_test(tc, sigkill_still_writes_exit_snapshot);
	tcase_add_test(tc, cxx_operators_at_their_lines);
	tcase_add_test(tc, new_handler_throwing_inside_a_traced_new);
	tcase_add_test(tc, a_program_with_its_own_operator_new);
	tcase_add_test(tc, a_cxx_plugin_of_a_c_program);
	tcase_add_test(tc, fork_while_another_thread_holds_the_loader_lock);
	tcase_add_test(tc, cxx_real_sites_O0);
	tcase_add_test(tc, cxx_real_sites_O2);
	tcase_add_test(tc, cxx_real_sites_static_libstdcxx);
	tcase_add_test(tc, clang_functions_in_a_namespace);
	tcase_add_test(tc, gcc_lambdas_are_told_apart);
	tcase_add_test(tc, the_segment_stays_out_of_core_dumps);
	tcase_add_test(tc, the_unwinders_pipe_never_touches_the_programs_fds);
	tcase_add_test(tc, a_replaced_executable_keeps_its_lines);
	tcase_add_test(tc, exec_traced_afresh);
	tcase_add_test(tc, snap_prints_the_new_file);
	tcase_add_test(tc, collector_killed_program_unharmed);
	tcase_add_test(tc, frame_limit_and_truncation);
	tcase_add_test(tc, fast_unwinder_agrees_with_libunwind);
	tcase_add_test(tc, fork_child_ending_with__exit_says_its_status);
	tcase_add_test(tc, libunwind_is_loaded_only_when_a_stack_needs_it);
	tcase_add_test(tc, constructor_stacks_end_in_the_loaders_start_code);
	tcase_add_test(tc, rules_files_teach_the_next_process);
	tcase_add_test(tc, threads_on_small_stacks);
	tcase_add_test(tc, options_outlive_an_overwritten_environment);
	tcase_add_test(tc, messages_stay_out_of_a_reused_fd_2);
	tcase_add_test(tc, an_address_space_limit_leaves_the_program_its_room);
	tcase_add_test(tc, stack_attributes_as_a_first_allocation);
	tcase_add_test(tc, program_signal_masks_hold_while_the_shim_unwinds);
	tcase_add_test(tc, signal_taken_without_sigaction);
	tcase_add_test(tc, program_fds_unchanged);
	tcase_add_test(tc, top_golden_text_and_json);
	tcase_add_test(tc, crash_says_signal);
	tcase_add_test(tc, a_crash_leaves_the_core_to_the_program);
	tcase_add_test(tc, a_function_without_lines_inside_a_units_span);
	tcase_add_test(tc, snapshot_signal_by_name);
	tcase_add_test(tc, collector_stalled_gives_up_and_counts);
	tcase_add_test(tc, underscore_exit_says_status);
	tcase_add_test(tc, pprof_agrees_per_line);
	tcase_add_test(tc, top_of_a_tree_directory);
	tcase_add_test(tc, diff_and_ls_of_directories);
	suite_add_tcase(s, tc);
	TCase *aw = tcase_create("awkward");
	tcase_set_timeout(aw, 120);
	tcase_add_test(aw, edge_cases_same_results);
	tcase_add_test(aw, threads_in_a_loop_with_tls_destructors);
	tcase_add_test(aw, allocation_in_a_signal_handler);
	tcase_add_test(aw, program_keeps_its_own_handler);
	tcase_add_test(aw, own_handler_said_on_runs_stderr);
	tcase_add_test(aw, signal_taken_by_forked_and_vforked_children);
	tcase_add_test(aw, closes_all_fds_and_clears_env);
	tcase_add_test(aw, dlclosed_library_still_symbolizes);
	tcase_add_test(aw, vfork_and_posix_spawn_children);
	tcase_add_test(aw, daemon_traced_on_its_own);
	tcase_add_test(aw, exec_of_a_static_binary);
	tcase_add_test(aw, traced_over_jemalloc);
	tcase_add_test(aw, traced_over_tcmalloc);
	tcase_add_test(aw, run_refuses_what_it_cannot_trace);
	tcase_add_test(aw, top_level_output_errors_fail);
	tcase_add_test(aw, track_api_domains);
	tcase_add_test(aw, mmap_domain_exact_under_threads);
	tcase_add_test(aw, scribbled_shared_memory);
	tcase_add_test(aw, claimed_stack_slots_are_passed);
	tcase_add_test(aw, unwritable_dir_and_full_disk);
	tcase_add_test(aw, signal_storm);
	tcase_add_test(aw, bad_settings_warn_and_use_defaults);
	suite_add_tcase(s, aw);
	return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	/* Collectors cache symbols under XDG_CACHE_HOME: a private one, never the
	 * user's, removed at the end. */
	char cache[] = "/tmp/test-trace-cache.XXXXXX";
	if (!mkdtemp(cache) || setenv("XDG_CACHE_HOME", cache, 1) < 0) {
		perror("test-trace: cache directory");
		return EXIT_FAILURE;
	}
	const char *which = argc > 1 ? argv[1] : "";
	Suite *suite = !strcmp(which, "stress")	    ? stress_suite()
		       : !strcmp(which, "soak")	    ? soak_suite()
		       : !strcmp(which, "security") ? security_suite()
						    : trace_suite();
	SRunner *sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
