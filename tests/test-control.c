/* test-control.c - leaving it on: a real program under the real shim, started dormant,
 * driven from outside through start, snap, reset-peak, stop and start again with exact
 * bytes per line at each step (the program's signal never used, its own SIGUSR2
 * handler never run), and sampled with estimates within their statistical error. */
#include <check.h>
#include <fcntl.h>
#include <time.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pprof.h"
#include "tracetest.h"
#include "checkmain.h"

/* Runs `heapsnap WORD PID`, which must succeed; its first line of output in out. */
static void cli(const char *word, pid_t pid, char *out, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' %s %d", getenv("HEAPSNAP"), word, (int)pid);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	out[0] = '\0';
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	ck_assert_msg(pclose(f) == 0, "%s failed", cmd);
	out[strcspn(out, "\n")] = '\0';
}

/* Sends one command to the stepper and waits for its "ok". */
static void step(struct tt_proc *p, const char *cmd)
{
	char line[64];
	fprintf(p->in, "%s\n", cmd);
	fflush(p->in);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p->out));
	ck_assert_str_eq(line, "ok\n");
}

/* Starts the stepper under `heapsnap run` with options opts and environment env
 * (NULL-terminated lists, or NULL), writing to a fresh directory dir. */
static void begin(char *dir, size_t len, const char *const opts[], char *const env[],
		  struct tt_proc *p)
{
	tt_tempdir(dir, len);
	tt_start_opts(dir, opts, "stepper", env, p);
}

/* Tells the stepper to exit, checks that its last line is `last` (unless NULL), that it
 * exited 0 and that stderr holds `said` (unless NULL; "" for nothing said at all);
 * returns its exit file. */
static profile_t *finish(const char *dir, struct tt_proc *p, const char *last, const char *said)
{
	char line[64], err[8192];
	fprintf(p->in, "q\n");
	fflush(p->in);
	if (last) {
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), p->out));
		ck_assert_str_eq(line, last);
	}
	int st = tt_finish(p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	if (said && !*said)
		ck_assert_str_eq(err, "");
	else if (said)
		ck_assert_msg(strstr(err, said) != NULL, "stderr: %s", err);
	return tt_snapshot(dir, p->pid, "exit", 10);
}

/* Whether `heapsnap WORD FILE` prints a line holding needle. */
static bool says(const char *word, const char *file, const char *needle)
{
	char cmd[PATH_MAX + 64], line[512];
	snprintf(cmd, sizeof(cmd), "'%s' %s '%s'", getenv("HEAPSNAP"), word, file);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	bool found = false;
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, needle) != NULL;
	ck_assert_int_eq(pclose(f), 0);
	return found;
}

static char last_snap[PATH_MAX]; /* the path of the latest snap() */

static profile_t *snap(pid_t pid)
{
	char *path = last_snap;
	cli("snap", pid, path, sizeof(last_snap));
	profile_t *s = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_read_file(path, &s, &err) == 0, "%s: %s", path, err.why);
	return s;
}

/* The six values at stepper.c's site, in the order alloc, inuse, peak (blocks, bytes). */
struct want {
	int64_t alloc_n, alloc_b, inuse_n, inuse_b, peak_n, peak_b;
};

static void expect(const profile_t *s, const char *site, struct want w)
{
	int64_t v[PV_COUNT];
	tt_site_named(s, "stepper.c", site, v);
	int64_t got[6] = { v[PV_ALLOC_OBJECTS], v[PV_ALLOC_SPACE], v[PV_INUSE_OBJECTS],
			   v[PV_INUSE_SPACE], v[PV_PEAK_OBJECTS], v[PV_PEAK_SPACE] };
	int64_t want[6] = { w.alloc_n, w.alloc_b, w.inuse_n, w.inuse_b, w.peak_n, w.peak_b };
	for (int i = 0; i < 6; i++)
		ck_assert_msg(got[i] == want[i],
			      "%s (%s), site %s: alloc %lld/%lld inuse %lld/%lld peak %lld/%lld, "
			      "want alloc %lld/%lld inuse %lld/%lld peak %lld/%lld",
			      s->meta.trigger, "blocks/bytes", site, (long long)got[0],
			      (long long)got[1], (long long)got[2], (long long)got[3],
			      (long long)got[4], (long long)got[5], (long long)want[0],
			      (long long)want[1], (long long)want[2], (long long)want[3],
			      (long long)want[4], (long long)want[5]);
}

/* The tracemalloc cycle from outside, on a program started dormant: once with a program
 * that owns SIGUSR2 (and `heapsnap run --off`), once with no snapshot signal at all
 * (and HEAPSNAP_START=off).  Every number is exact. */
START_TEST(start_snap_reset_peak_stop_start)
{
	static char *const envs[][3] = { { "STEPPER_OWN_USR2=1", NULL, NULL },
					 { "HEAPSNAP_SIGNAL=none", "HEAPSNAP_START=off", NULL } };
	static const char *const off[] = { "--off", NULL };
	char dir[256], out[64];
	for (int k = 0; k < 2; k++) {
		struct tt_proc p;
		begin(dir, sizeof(dir), k == 0 ? off : NULL, envs[k], &p);
		step(&p, "a 10"); /* dormant: never seen */
		profile_t *s = snap(p.pid);
		ck_assert_uint_eq(s->nsamples, 0);
		ck_assert_int_eq(s->meta.current_bytes, 0);
		ck_assert_int_eq(s->meta.tracing_off, 1); /* the file says so */
		profile_free(s);

		cli("start", p.pid, out, sizeof(out));
		ck_assert_str_eq(out, "");
		step(&p, "a 3");
		step(&p, "b 5");
		s = snap(p.pid);
		expect(s, "step_a", (struct want){ 3, 300, 3, 300, 3, 300 });
		expect(s, "step_b", (struct want){ 5, 5000, 5, 5000, 5, 5000 });
		ck_assert_int_eq(s->meta.current_bytes, 5300);
		ck_assert_int_eq(s->meta.unmatched_frees, 0);
		ck_assert_int_eq(s->meta.tracing_off, -1); /* on: the fact is not written */
		profile_free(s);

		/* Frees the 3 blocks it knows and the 10 from before the start. */
		step(&p, "fa");
		cli("reset-peak", p.pid, out, sizeof(out));
		step(&p, "fb");
		step(&p, "a 4");
		s = snap(p.pid);
		/* The peak since the reset was at the reset itself: 5000 bytes, all of b. */
		expect(s, "step_a", (struct want){ 7, 700, 4, 400, 0, 0 });
		expect(s, "step_b", (struct want){ 5, 5000, 0, 0, 5, 5000 });
		ck_assert_int_eq(s->meta.current_bytes, 400);
		ck_assert_int_eq(s->meta.peak_bytes, 5000);
		ck_assert_int_eq(s->meta.unmatched_frees, 10);
		profile_free(s);

		cli("stop", p.pid, out, sizeof(out));
		step(&p, "a 2");
		s = snap(p.pid);
		ck_assert_uint_eq(s->nsamples, 0); /* every trace forgotten */
		ck_assert_int_eq(s->meta.current_bytes, 0);
		ck_assert_int_eq(s->meta.peak_bytes, 0);
		ck_assert_int_eq(s->meta.tracing_off, 1);
		profile_free(s);
		step(&p, "fa"); /* while stopped: nothing recorded, nothing counted */

		cli("start", p.pid, out, sizeof(out));
		step(&p, "b 1");
		step(&p, "a 1");
		s = snap(p.pid);
		expect(s, "step_a", (struct want){ 1, 100, 1, 100, 1, 100 });
		expect(s, "step_b", (struct want){ 1, 1000, 1, 1000, 1, 1000 });
		ck_assert_int_eq(s->meta.peak_bytes, 1100);
		ck_assert_int_eq(s->meta.unmatched_frees, 10);
		profile_free(s);

		/* The program's own handler never ran. */
		char said[64];
		snprintf(said, sizeof(said), "heapsnap: pid %d is dormant; 'heapsnap start %d'",
			 (int)p.pid, (int)p.pid);
		s = finish(dir, &p, k == 0 ? "usr2 0\n" : NULL, k == 0 ? said : NULL);
		expect(s, "step_a", (struct want){ 1, 100, 1, 100, 1, 100 });
		expect(s, "step_b", (struct want){ 1, 1000, 1, 1000, 1, 1000 });
		ck_assert_int_eq(s->meta.lost_events, 0);
		ck_assert_int_eq(s->meta.corrupt_records, 0);
		profile_free(s);
	}
}
END_TEST

/* A program that stays dormant leaves an empty exit file, and no complaint. */
START_TEST(dormant_to_the_end)
{
	char dir[256];
	static const char *const off[] = { "--off", "-q", NULL };
	struct tt_proc p;
	begin(dir, sizeof(dir), off, NULL, &p);
	step(&p, "a 50");
	step(&p, "r 20");
	step(&p, "fa");
	profile_t *s = finish(dir, &p, NULL, "");
	ck_assert_uint_eq(s->nsamples, 0);
	ck_assert_int_eq(s->meta.unmatched_frees, 0);
	ck_assert_int_eq(s->meta.lost_events, 0);
	profile_free(s);
}
END_TEST

/* A --timeout of more than INT_MAX milliseconds still waits for the answer: the
 * poll's int timeout wrapped to 0 at 4294967.296 s, and snap gave up at once. */
START_TEST(a_long_timeout_waits)
{
	char dir[256], cmd[1024], path[512];
	struct tt_proc p;
	begin(dir, sizeof(dir), NULL, NULL, &p);
	step(&p, "a 50");
	const char *timeouts[] = { "4294967.296", "8589934.592", "1e9" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "'%s' snap -t %s %d", getenv("HEAPSNAP"), timeouts[i],
			 (int)p.pid);
		FILE *f = popen(cmd, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_msg(fgets(path, sizeof(path), f) && strstr(path, ".pb.gz"), "-t %s",
			      timeouts[i]);
		ck_assert_int_eq(pclose(f), 0);
	}
	profile_free(finish(dir, &p, NULL, NULL));
}
END_TEST

/* Asking a process that is not traced fails with one line and status 1. */
START_TEST(control_of_an_untraced_process_fails)
{
	static const char *const words[] = { "start", "stop", "reset-peak" };
	for (size_t i = 0; i < 3; i++) {
		char cmd[1024], msg[256] = "";
		snprintf(cmd, sizeof(cmd), "'%s' %s %d 2>&1", getenv("HEAPSNAP"), words[i],
			 (int)getpid());
		FILE *f = popen(cmd, "r");
		ck_assert_ptr_nonnull(fgets(msg, sizeof(msg), f));
		ck_assert_int_eq(WEXITSTATUS(pclose(f)), 1);
		char want[128];
		snprintf(want, sizeof(want), "heapsnap: %s: process %d is not traced by heapsnap",
			 words[i], (int)getpid());
		ck_assert_msg(!strncmp(msg, want, strlen(want)), "%s", msg);
	}
}
END_TEST

/* Sampling at 4 KiB: each line's bytes and blocks are estimated within five standard
 * deviations (relative standard deviation about sqrt(period / bytes)); frees of
 * unsampled blocks write nothing (no unmatched free), every sampled block's free is
 * seen (nothing left in use), realloc included; the file says it is sampled. */
START_TEST(sampled_estimates_are_within_their_error)
{
	char dir[256];
	static const char *const opts[] = { "--sample", "4096", "-q", NULL };
	struct tt_proc p;
	begin(dir, sizeof(dir), opts, NULL, &p);
	step(&p, "s 100 200000"); /* 20 MB in 100-byte blocks, freed at once */
	step(&p, "b 20000");      /* 20 MB in 1000-byte blocks, kept */
	step(&p, "a 40000");      /* 4 MB in 100-byte blocks... */
	step(&p, "r 40000");      /* ...each moved to a 200-byte block: 8 MB */
	profile_t *s = snap(p.pid);
	ck_assert_int_eq(s->meta.sampling_period, 4096);
	ck_assert(says("info", last_snap, "sampling period:  4096 B (4096 B): sizes and counts are "
					  "estimates"));
	ck_assert(says("top", last_snap, "Estimates: sampled, one sample per 4096 B allocated"));
	ck_assert_int_eq(s->meta.unmatched_frees, 0);
	/* Each stack's size classes add up to its estimates, in blocks and bytes: heapsnap
	 * hist's totals are top's. */
	for (size_t i = 0; i < s->nsamples; i++) {
		const profile_sample_t *x = &s->samples[i];
		int64_t an = 0, ab = 0, in = 0, ib = 0;
		for (uint32_t j = 0; j < x->nsizes; j++) {
			an += x->sizes[j].alloc_blocks;
			ab += x->sizes[j].alloc_bytes;
			in += x->sizes[j].inuse_blocks;
			ib += x->sizes[j].inuse_bytes;
		}
		ck_assert_uint_gt(x->nsizes, 0);
		ck_assert_int_eq(an, x->value[PV_ALLOC_OBJECTS]);
		ck_assert_int_eq(ab, x->value[PV_ALLOC_SPACE]);
		ck_assert_int_eq(in, x->value[PV_INUSE_OBJECTS]);
		ck_assert_int_eq(ib, x->value[PV_INUSE_SPACE]);
	}
	struct {
		const char *site;
		double alloc_b, inuse_b, alloc_n;
	} lines[] = {
		{ "step_s", 20e6, 0, 200000 },
		{ "step_b", 20e6, 20e6, 20000 },
		{ "step_a", 4e6, 0, 40000 },
		{ "step_r", 8e6, 8e6, 40000 },
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		int64_t v[PV_COUNT];
		tt_site_named(s, "stepper.c", lines[i].site, v);
		double tol = 5 * sqrt(4096 / lines[i].alloc_b);
		ck_assert_msg(fabs((double)v[PV_ALLOC_SPACE] / lines[i].alloc_b - 1) < tol,
			      "%s: %lld bytes estimated, %.0f allocated", lines[i].site,
			      (long long)v[PV_ALLOC_SPACE], lines[i].alloc_b);
		ck_assert_msg(fabs((double)v[PV_ALLOC_OBJECTS] / lines[i].alloc_n - 1) < tol,
			      "%s: %lld blocks estimated, %.0f allocated", lines[i].site,
			      (long long)v[PV_ALLOC_OBJECTS], lines[i].alloc_n);
		if (lines[i].inuse_b == 0)
			ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
		else
			ck_assert_msg(fabs((double)v[PV_INUSE_SPACE] / lines[i].inuse_b - 1) < tol,
				      "%s: %lld bytes in use estimated, %.0f", lines[i].site,
				      (long long)v[PV_INUSE_SPACE], lines[i].inuse_b);
	}
	profile_free(s);
	step(&p, "fb");
	step(&p, "fa");
	s = finish(dir, &p, NULL, "");
	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		int64_t v[PV_COUNT];
		tt_site_named(s, "stepper.c", lines[i].site, v);
		ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
		ck_assert_int_eq(v[PV_INUSE_OBJECTS], 0);
	}
	ck_assert_int_eq(s->meta.unmatched_frees, 0);
	ck_assert_int_eq(s->meta.lost_events, 0);
	profile_free(s);
}
END_TEST

/* Sampled blocks handed to other threads and freed there: every free of a sampled
 * block is found in the shim's set from the other thread (nothing left in use, no
 * unmatched free), and the estimate of the bytes is within its error.  threads.c's
 * sizes are replayed here, as test-trace.c does. */
START_TEST(sampled_handoff_between_threads)
{
	const int nthreads = 4;
	const long per_thread = 200000;
	double handoff = 0, leaked = 0;
	for (int me = 0; me < nthreads; me++) {
		unsigned x = (unsigned)me * 2654435761u + 1;
		for (long i = 0; i < per_thread / 2; i++) {
			x = x * 1103515245u + 12345u;
			double size = 16 + (x >> 8) % 512;
			*(i % 1000 == 999 ? &leaked : &handoff) += size;
		}
	}
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "threads", "4", "200000", NULL };
	char *env[] = { "HEAPSNAP_SAMPLE=2048", NULL };
	struct run_result r;
	tt_run(dir, argv, env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	pid_t pid = 0;
	const char *at = strstr(r.err, "heapsnap: tracing pid ");
	ck_assert_ptr_nonnull(at);
	pid = (pid_t)atoi(at + strlen("heapsnap: tracing pid "));
	profile_t *e = tt_snapshot(dir, pid, "exit", 30);
	ck_assert_int_eq(e->meta.unmatched_frees, 0);
	ck_assert_int_eq(e->meta.lost_events, 0);
	int64_t v[PV_COUNT];
	tt_site_named(e, "threads.c", "handoff", v);
	ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
	ck_assert_int_eq(v[PV_INUSE_OBJECTS], 0);
	ck_assert_msg(fabs(v[PV_ALLOC_SPACE] / handoff - 1) < 5 * sqrt(2048 / handoff),
		      "%lld bytes estimated, %.0f allocated", (long long)v[PV_ALLOC_SPACE], handoff);
	tt_site_named(e, "threads.c", "leak", v);
	ck_assert_msg(fabs(v[PV_INUSE_SPACE] / leaked - 1) < 5 * sqrt(2048 / leaked),
		      "%lld bytes estimated, %.0f leaked", (long long)v[PV_INUSE_SPACE], leaked);
	profile_free(e);
}
END_TEST

/* Starts `heapsnap run --off --dir dir -- threads 4 0 seconds` with extra environment
 * entry env (or NULL); returns run's pid, the program's in *pid. */
static pid_t start_threads_dormant(const char *dir, const char *seconds, char *env,
				   pid_t *pid)
{
	int err[2];
	ck_assert_int_eq(pipe(err), 0);
	pid_t run = fork();
	ck_assert_int_ge(run, 0);
	if (run == 0) {
		char prog[PATH_MAX];
		snprintf(prog, sizeof(prog), "%s/threads", getenv("PROGS"));
		if (env)
			putenv(env);
		dup2(err[1], 2);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execl(getenv("HEAPSNAP"), "heapsnap", "run", "--off", "--dir", dir, "--", prog,
		      "4", "0", seconds, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	FILE *f = fdopen(err[0], "r");
	char line[256];
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	int n = 0;
	ck_assert_msg(sscanf(line, "heapsnap: pid %d is dormant", &n) == 1, "%s", line);
	fclose(f);
	*pid = (pid_t)n;
	return run;
}

/* Four threads allocate and free, handing blocks to each other, while tracing is
 * started and stopped under them again and again, ending started: every block a
 * thread allocated after the last start is freed by the end, so none may be left in
 * use (a free that a thread failed to record because it still saw tracing stopped
 * would leave one), exactly and sampled. */
START_TEST(start_stop_under_running_threads)
{
	static char sampled[] = "HEAPSNAP_SAMPLE=4096";
	for (int k = 0; k < 2; k++) {
		char dir[256], out[64];
		tt_tempdir(dir, sizeof(dir));
		/* Long enough for the toggles below, however slow the machine. */
		pid_t pid, run = start_threads_dormant(dir, "6", k ? sampled : NULL, &pid);
		struct timespec pause = { 0, 30 * 1000 * 1000 };
		for (int i = 0; i < 6; i++) {
			cli("start", pid, out, sizeof(out));
			nanosleep(&pause, NULL);
			cli(i % 2 ? "stop" : "reset-peak", pid, out, sizeof(out));
			nanosleep(&pause, NULL);
		}
		cli("start", pid, out, sizeof(out));
		int st;
		ck_assert_int_eq(waitpid(run, &st, 0), run);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
		profile_t *e = tt_snapshot(dir, pid, "exit", 30);
		ck_assert_int_eq(e->meta.lost_events, 0);
		ck_assert_int_eq(e->meta.corrupt_records, 0);
		int64_t v[PV_COUNT];
		tt_site_named(e, "threads.c", "handoff", v);
		ck_assert_msg(v[PV_ALLOC_OBJECTS] > 0, "nothing traced after the last start");
		ck_assert_int_eq(v[PV_INUSE_OBJECTS], 0);
		ck_assert_int_eq(v[PV_INUSE_SPACE], 0);
		profile_free(e);
	}
}
END_TEST

/* --sample 0 is exact tracing: every block, exact numbers, period 0. */
START_TEST(sample_zero_is_exact)
{
	char dir[256];
	static const char *const opts[] = { "--sample", "0", "-q", NULL };
	struct tt_proc p;
	begin(dir, sizeof(dir), opts, NULL, &p);
	step(&p, "a 7");
	step(&p, "r 2");
	step(&p, "b 3");
	step(&p, "s 10 5");
	profile_t *s = snap(p.pid);
	ck_assert_int_eq(s->meta.sampling_period, 0);
	ck_assert(!says("top", last_snap, "Estimates"));
	expect(s, "step_a", (struct want){ 7, 700, 5, 500, 5, 500 });
	expect(s, "step_r", (struct want){ 2, 400, 2, 400, 2, 400 });
	expect(s, "step_b", (struct want){ 3, 3000, 3, 3000, 3, 3000 });
	/* The peak was reached when the first of these was live. */
	expect(s, "step_s", (struct want){ 5, 50, 0, 0, 1, 10 });
	profile_free(s);
	profile_free(finish(dir, &p, NULL, ""));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, start_snap_reset_peak_stop_start);
	tcase_add_test(tc, dormant_to_the_end);
	tcase_add_test(tc, a_long_timeout_waits);
	tcase_add_test(tc, control_of_an_untraced_process_fails);
	tcase_add_test(tc, sampled_estimates_are_within_their_error);
	tcase_add_test(tc, sampled_handoff_between_threads);
	tcase_add_test(tc, start_stop_under_running_threads);
	tcase_add_test(tc, sample_zero_is_exact);
	suite_add_tcase(s, tc);
	return check_run(s);
}
