/* test-control.c - leaving it on: a real program under the real shim, started dormant,
 * driven from outside through start, snap, reset-peak, stop and start again with exact
 * bytes per line at each step (the program's signal never used, its own SIGUSR2
 * handler never run). */
#include <check.h>
#include <limits.h>
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
 * exited 0 and, with quiet, that nothing was said on stderr; returns its exit file. */
static profile_t *finish(const char *dir, struct tt_proc *p, const char *last, bool quiet)
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
	if (quiet)
		ck_assert_str_eq(err, "");
	return tt_snapshot(dir, p->pid, "exit", 10);
}

static profile_t *snap(pid_t pid)
{
	char path[PATH_MAX];
	cli("snap", pid, path, sizeof(path));
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
	tt_site_values(s, "stepper.c", tt_site_line("stepper.c", site), v);
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
		s = finish(dir, &p, k == 0 ? "usr2 0\n" : NULL, false);
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
	profile_t *s = finish(dir, &p, NULL, true);
	ck_assert_uint_eq(s->nsamples, 0);
	ck_assert_int_eq(s->meta.unmatched_frees, 0);
	ck_assert_int_eq(s->meta.lost_events, 0);
	profile_free(s);
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

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, start_snap_reset_peak_stop_start);
	tcase_add_test(tc, dormant_to_the_end);
	tcase_add_test(tc, control_of_an_untraced_process_fails);
	suite_add_tcase(s, tc);
	return check_run(s);
}
