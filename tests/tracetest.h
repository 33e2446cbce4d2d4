/* tracetest.h - helpers for tests that run real programs under the real shim.
 *
 * A test program marks its allocation sites with "site:NAME" comments; site_line()
 * finds the line, and site_values() sums a snapshot's samples whose innermost frame is
 * that file:line, so assertions name sites, never hard-coded line numbers.  Paths come
 * from the environment meson sets: HEAPSNAP (the binary), HEAPSNAP_SHIM (the shim),
 * PROGS (built test programs) and PROGS_SRC (their sources).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "profile.h"

struct run_result {
	int status;        /* waitpid status of the traced program */
	char out[8192];    /* its stdout */
	char err[8192];    /* its stderr, and heapsnap run's */
};

/* A fresh empty directory under $TMPDIR for one test's snapshots. */
void tt_tempdir(char *out, size_t len);

/* Runs argv (argv[0] a program name in $PROGS, or an absolute path) traced with
 * `heapsnap run --dir dir`, extra environment entries env (NULL-terminated "K=V"
 * list, or NULL).  Fails the test if it cannot be started. */
void tt_run(const char *dir, char *const argv[], char *const env[], struct run_result *r);

/* tt_run, then fails the test unless the program exited 0 and, when want_out is not
 * NULL, printed exactly want_out. */
void tt_run_ok(const char *dir, char *const argv[], char *const env[], const char *want_out,
	       struct run_result *r);

/* Same, but untraced: the baseline for output and status comparisons. */
void tt_run_plain(char *const argv[], struct run_result *r);

/* Starts $HEAPSNAP with args (args[0] "heapsnap") in the background, its stdout and
 * stderr on /dev/null; returns its pid, for the test to wait for. */
pid_t tt_heapsnap_quietly(char *const args[]);

/* Runs argv traced (no extra environment) and untraced; fails the test unless both
 * print the same and exit 0.  *r is the traced run. */
void tt_run_alike(const char *dir, char *const argv[], struct run_result *r);

/* Runs `heapsnap ARGS...` (args NULL-terminated) to its end. */
void tt_heapsnap(char *const args[], struct run_result *r);

/* Reads dir/heapsnap.PID.NAME.pb.gz, waiting up to `wait_s` seconds for it to appear.
 * Fails the test when it does not appear or cannot be read. */
profile_t *tt_snapshot(const char *dir, pid_t pid, const char *name, double wait_s);

/* The line of "site:NAME" in $PROGS_SRC/file; fails the test when absent. */
int tt_site_line(const char *file, const char *site);

/* Sums values of samples whose innermost frame is file:line (file matched by its
 * basename) into v.  Returns the number of samples that matched. */
int tt_site_values(const profile_t *p, const char *file, int line, int64_t v[PV_COUNT]);

/* tt_site_values() at the line of "site:NAME" in file. */
int tt_site_named(const profile_t *p, const char *file, const char *site, int64_t v[PV_COUNT]);

/* The pid of the collector tracing pid, or 0 when there is none. */
pid_t tt_collector_pid(pid_t pid);

/* The number after field ("VmRSS:", "Tgid:") in /proc/pid/status, or -1. */
long tt_proc_status(pid_t pid, const char *field);
/* The process that thread tid belongs to (a hosted collector's: run's host), or 0. */
pid_t tt_tgid_of(pid_t tid);

/* A traced program started in the background with pipes to its stdin and stdout. */
struct tt_proc {
	pid_t run;     /* the heapsnap run process */
	pid_t pid;     /* the traced program, from its "ready PID" line */
	FILE *in, *out;
	int err_fd;    /* a temporary file holding the run's stderr */
};

/* Starts `heapsnap run --dir dir -- PROGS/prog` (with dir NULL, PROGS/prog untraced:
 * then run is the program too) with extra environment env, and reads its "ready PID"
 * line. */
void tt_start(const char *dir, const char *prog, char *const env[], struct tt_proc *p);

/* In a fresh dir, starts prog as tt_start does and returns its collector's pid (the
 * test fails when there is none). */
pid_t tt_start_collected(char *dir, size_t dirlen, const char *prog, struct tt_proc *p);

/* Same, with heapsnap run options opts (a NULL-terminated list, or NULL) before "--". */
void tt_start_opts(const char *dir, const char *const opts[], const char *prog,
		   char *const env[], struct tt_proc *p);

/* Waits for the run to end; returns its wait status, and its stderr in err. */
int tt_finish(struct tt_proc *p, char *err, size_t len);
