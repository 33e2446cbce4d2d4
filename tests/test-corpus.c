/* test-corpus.c - real Debian programs under the real shim, on generated workloads.
 *
 * Each workload (one or more command lines run in order in a fresh working directory)
 * is run three times untraced and three times under `heapsnap run`, alternately, then
 * once under countshim.so (tests/corpus/countshim.c), an independent counter of
 * allocation calls.  Asserted, for every step of every run:
 *   - the traced stdout and stderr are the untraced bytes (heapsnap's own report lines
 *     aside), and the exit status is the same;
 *   - the main process's exit snapshot exists; every snapshot in the directory (each
 *     forked or exec'd process image writes its own) decodes with pprof_read_file, has
 *     zero lost events and zero corrupt records, and `heapsnap top` reads it; `go tool
 *     pprof -top` reads the main one alone and all of them merged;
 *   - for deterministic workloads, the main process's alloc_objects and alloc_space,
 *     summed over all samples, equal countshim's calls and bytes.
 * The median traced/untraced wall-time ratio is printed.  A missing program fails the
 * test with the Debian package to install.  CORPUS_RUNS overrides the 3 runs.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "corpus/corpusrun.h"
#include "corpus/inputs.h"
#include "pprof.h"
#include "checkmain.h"

#define MAX_STEPS 4
#define MAX_RUNS 9

struct workload {
	const char *name;
	/* Programs it runs, child processes included, and their Debian packages. */
	const char *needs[8][2];
	const char *env[8];                   /* extra "K=V" for every run, NULL-ended */
	char *steps[MAX_STEPS][12];           /* argv of each step; "@SRC/x" is a corpus file */
	int (*inputs)(const char *in_dir);    /* once, into ROOT/in */
	int (*work)(const char *work_dir);    /* before each run, into a fresh ROOT/work */
	bool exact;                           /* main-process counts must equal countshim's */
	/* Bytes the main process's total may differ by, the counts being equal: a parent
	 * that keeps its children's pids as decimal strings allocates a byte more or less
	 * as their digit counts differ between runs (pid_max is 32768 here, so pids wrap,
	 * and a traced run's collectors use pids too). */
	int64_t pid_slack;
	const char *not_exact_why;            /* why counts are not compared (!exact) */
};

static int runs_wanted(void)
{
	const char *v = getenv("CORPUS_RUNS");
	int n = v ? atoi(v) : 3;
	return n < 1 ? 1 : n > MAX_RUNS ? MAX_RUNS : n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* argv of a step, with "@SRC/" expanded. */
static void step_argv(const struct workload *w, int s, char *argv[12], char buf[][PATH_MAX])
{
	int i = 0;
	for (; w->steps[s][i]; i++) {
		argv[i] = w->steps[s][i];
		if (!strncmp(argv[i], "@SRC/", 5))
			argv[i] = (char *)corpus_src(argv[i] + 5, buf[i], PATH_MAX);
	}
	argv[i] = NULL;
}

static int nsteps(const struct workload *w)
{
	int n = 0;
	while (n < MAX_STEPS && w->steps[n][0])
		n++;
	return n;
}

static void fresh_work(const struct workload *w, const struct corpus_env *e, char *work)
{
	snprintf(work, PATH_MAX, "%s/work", e->root);
	ck_assert_int_eq(inputs_remove(work), 0);
	ck_assert_int_eq(mkdir(work, 0755), 0);
	if (w->work) {
		int r = w->work(work);
		ck_assert_msg(r == 0, "%s: cannot generate the working directory: %s", w->name,
			      strerror(-r));
	}
}

static const char *mode_name(enum corpus_mode m)
{
	return m == CORPUS_PLAIN ? "plain" : m == CORPUS_TRACED ? "traced" : "counted";
}

static void out_path(const struct corpus_env *e, enum corpus_mode m, int run, int step,
		     const char *what, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%s%d.%d.%s", e->root, mode_name(m), run, step, what);
}

static void snap_dir(const struct corpus_env *e, int run, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/snap%d", e->root, run);
	mkdir(buf, 0755);
}

/* Runs every step of w once in mode; fills pids[step] and returns the wall time. */
static double run_once(const struct workload *w, const struct corpus_env *e,
		       enum corpus_mode m, int run, pid_t pids[MAX_STEPS], int status[MAX_STEPS])
{
	char work[PATH_MAX], snaps[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	char argbuf[12][PATH_MAX];
	fresh_work(w, e, work);
	snap_dir(e, m == CORPUS_COUNTED ? 0 : run, snaps);
	double total = 0;
	for (int s = 0; s < nsteps(w); s++) {
		char *argv[12];
		step_argv(w, s, argv, argbuf);
		out_path(e, m, run, s, "out", out);
		out_path(e, m, run, s, "err", err);
		struct corpus_run r;
		corpus_exec(e, m, argv, work, snaps, out, err, &r);
		total += r.seconds;
		pids[s] = r.pid;
		status[s] = r.status;
	}
	return total;
}

static void assert_same_output(const struct workload *w, const struct corpus_env *e,
			       enum corpus_mode m, int run, int step)
{
	char a[PATH_MAX], b[PATH_MAX], why[512];
	out_path(e, CORPUS_PLAIN, 0, step, "out", a);
	out_path(e, m, run, step, "out", b);
	ck_assert_msg(corpus_same_file(a, b, false, why, sizeof(why)),
		      "%s step %d: %s stdout %s is not the untraced %s: %s", w->name, step + 1,
		      mode_name(m), b, a, why);
	out_path(e, CORPUS_PLAIN, 0, step, "err", a);
	out_path(e, m, run, step, "err", b);
	ck_assert_msg(corpus_same_file(a, b, true, why, sizeof(why)),
		      "%s step %d: %s stderr %s is not the untraced %s: %s", w->name, step + 1,
		      mode_name(m), b, a, why);
}

static int is_snapshot(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return !strncmp(d->d_name, "heapsnap.", 9) && n > 6 && !strcmp(d->d_name + n - 6, ".pb.gz");
}

/* Checks every snapshot in dir; returns the summed alloc totals of all of them. */
static void check_snapshots(const struct workload *w, const struct corpus_env *e,
			    const char *dir, const pid_t mains[MAX_STEPS], int64_t *all_objects,
			    int64_t *all_bytes, int *nfiles)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_snapshot, alphasort);
	ck_assert_int_ge(n, 0);
	char **paths = calloc((size_t)n + 1, sizeof(*paths));
	ck_assert_ptr_nonnull(paths);
	*all_objects = *all_bytes = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_int_ne(asprintf(&paths[i], "%s/%s", dir, names[i]->d_name), -1);
		profile_t *p = NULL;
		pprof_error_t err;
		ck_assert_msg(pprof_read_file(paths[i], &p, &err) == 0, "%s: cannot read %s: %s",
			      w->name, paths[i], err.why);
		ck_assert_msg(p->meta.lost_events == 0 && p->meta.corrupt_records == 0,
			      "%s: %s (%s): %lld lost events, %lld corrupt records", w->name,
			      paths[i], p->meta.command ? p->meta.command : "?",
			      (long long)p->meta.lost_events, (long long)p->meta.corrupt_records);
		int64_t o, b;
		corpus_alloc_totals(p, &o, &b);
		*all_objects += o;
		*all_bytes += b;
		profile_free(p);
		ck_assert_msg(corpus_heapsnap_top(e, paths[i]) == 0, "%s: heapsnap top %s failed",
			      w->name, paths[i]);
		free(names[i]);
	}
	free(names);
	*nfiles = n;

	char errpath[PATH_MAX + 16];
	snprintf(errpath, sizeof(errpath), "%s/pprof.err", e->root);
	for (int s = 0; s < nsteps(w); s++) {
		char main_file[PATH_MAX + 64];
		snprintf(main_file, sizeof(main_file), "%s/heapsnap.%d.exit.pb.gz", dir, (int)mains[s]);
		ck_assert_msg(access(main_file, F_OK) == 0, "%s step %d: no exit snapshot %s",
			      w->name, s + 1, main_file);
		char *one[] = { main_file };
		ck_assert_msg(corpus_pprof_top(e, one, 1, errpath) == 0,
			      "%s: go tool pprof -top %s failed (see %s)", w->name, main_file, errpath);
	}
	ck_assert_msg(n == 0 || corpus_pprof_top(e, paths, n, errpath) == 0,
		      "%s: go tool pprof -top on all %d snapshots of %s failed (see %s)", w->name,
		      n, dir, errpath);
	for (int i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* Compares each step's main process with countshim's count of its first image. */
static void check_counts(const struct workload *w, const struct corpus_env *e,
			 const char *dir, const pid_t traced[MAX_STEPS],
			 const pid_t counted[MAX_STEPS])
{
	char path[PATH_MAX + 64];
	for (int s = 0; s < nsteps(w); s++) {
		/* countshim's first image of the pid is heapsnap's "exec" snapshot when the
		 * process exec'd (bash -c execs its last command), else its "exit" one. */
		snprintf(path, sizeof(path), "%s/heapsnap.%d.exec.pb.gz", dir, (int)traced[s]);
		if (access(path, F_OK) != 0)
			snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", dir,
				 (int)traced[s]);
		profile_t *p = NULL;
		pprof_error_t err;
		ck_assert_msg(pprof_read_file(path, &p, &err) == 0, "cannot read %s: %s", path,
			      err.why);
		int64_t objects, bytes;
		corpus_alloc_totals(p, &objects, &bytes);
		profile_free(p);
		struct countshim_file c;
		corpus_read_count(e, counted[s], 1, &c);
		printf("corpus: %s step %d: heapsnap alloc %lld blocks %lld bytes, countshim %llu "
		       "calls %llu bytes%s\n", w->name, s + 1, (long long)objects, (long long)bytes,
		       (unsigned long long)c.alloc_calls, (unsigned long long)c.alloc_bytes,
		       w->exact ? "" : " (not compared)");
		if (!w->exact)
			continue;
		int64_t diff = bytes - (int64_t)c.alloc_bytes;
		ck_assert_msg(objects == (int64_t)c.alloc_calls && diff <= w->pid_slack &&
				      -diff <= w->pid_slack,
			      "%s step %d (pid %d): heapsnap counted %lld allocations, %lld bytes; "
			      "countshim %llu allocations, %llu bytes", w->name, s + 1, (int)traced[s],
			      (long long)objects, (long long)bytes, (unsigned long long)c.alloc_calls,
			      (unsigned long long)c.alloc_bytes);
	}
}

static void corpus_check(const struct workload *w)
{
	for (int i = 0; i < 8 && w->needs[i][0]; i++)
		corpus_require(w->needs[i][0], w->needs[i][1]);
	corpus_require("go", "golang-go");
	struct corpus_env e;
	corpus_env_init(&e, w->env);
	char in[PATH_MAX + 8];
	snprintf(in, sizeof(in), "%s/in", e.root);
	ck_assert_int_eq(mkdir(in, 0755), 0);
	if (w->inputs) {
		int r = w->inputs(in);
		ck_assert_msg(r == 0, "%s: cannot generate the input: %s", w->name, strerror(-r));
	}

	int runs = runs_wanted(), steps = nsteps(w);
	double plain_s[MAX_RUNS], traced_s[MAX_RUNS];
	pid_t pids[MAX_STEPS], traced0[MAX_STEPS], counted[MAX_STEPS];
	int plain_status[MAX_STEPS], status[MAX_STEPS];
	for (int run = 0; run < runs; run++) {
		plain_s[run] = run_once(w, &e, CORPUS_PLAIN, run, pids,
					run ? status : plain_status);
		for (int s = 0; run && s < steps; s++) {
			ck_assert_msg(status[s] == plain_status[s],
				      "%s step %d: untraced runs exit differently (%d, %d)", w->name,
				      s + 1, plain_status[s], status[s]);
			assert_same_output(w, &e, CORPUS_PLAIN, run, s);
		}
		traced_s[run] = run_once(w, &e, CORPUS_TRACED, run, run ? pids : traced0, status);
		for (int s = 0; s < steps; s++) {
			ck_assert_msg(status[s] == plain_status[s],
				      "%s step %d: traced exit status %d, untraced %d", w->name, s + 1,
				      status[s], plain_status[s]);
			assert_same_output(w, &e, CORPUS_TRACED, run, s);
		}
	}
	double p = median(plain_s, runs), t = median(traced_s, runs);
	printf("corpus: %s: untraced %.3f s, traced %.3f s (median of %d): ratio %.2f\n", w->name,
	       p, t, runs, p > 0 ? t / p : 0.0);
	fflush(stdout);
	run_once(w, &e, CORPUS_COUNTED, 0, counted, status);
	for (int s = 0; s < steps; s++) {
		ck_assert_msg(status[s] == plain_status[s],
			      "%s step %d: exit status %d under countshim, %d untraced", w->name,
			      s + 1, status[s], plain_status[s]);
		assert_same_output(w, &e, CORPUS_COUNTED, 0, s);
	}

	char dir[PATH_MAX];
	snap_dir(&e, 0, dir);
	corpus_wait_collectors(dir, 120);
	int64_t all_objects, all_bytes;
	int nfiles;
	check_snapshots(w, &e, dir, traced0, &all_objects, &all_bytes, &nfiles);
	uint64_t count_calls, count_bytes;
	int nimages = corpus_count_all(&e, &count_calls, &count_bytes);

	printf("corpus: %s: %d snapshots, all: %lld blocks %lld bytes; countshim %d images: "
	       "%llu calls %llu bytes\n", w->name, nfiles, (long long)all_objects,
	       (long long)all_bytes, nimages, (unsigned long long)count_calls,
	       (unsigned long long)count_bytes);
	if (!w->exact)
		printf("corpus: %s: counts not compared: %s\n", w->name, w->not_exact_why);
	check_counts(w, &e, dir, traced0, counted);
	fflush(stdout);
	inputs_remove(e.root);
}

/* ---- workloads ---- */

static int jq_inputs(const char *in)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/in.json", in);
	return inputs_json(path, 110000);
}

static int lines_inputs(const char *in)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/lines.txt", in);
	int r = inputs_lines(path, 500000);
	snprintf(path, sizeof(path), "%s/small.txt", in);
	return r ? r : inputs_lines(path, 150000);
}

/* The lines, and an .xz of them to decompress. */
static int xz_inputs(const char *in)
{
	int r = lines_inputs(in);
	if (r)
		return r;
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "/usr/bin/xz -3 -T1 -k '%s/small.txt'", in);
	return system(cmd) == 0 ? 0 : -EIO;
}

static int sql_inputs(const char *in)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/in.sql", in);
	return inputs_sql(path, 150000);
}

static int cxx_inputs(const char *in)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/gen.cpp", in);
	return inputs_cxx(path, 400);
}

static int git_work(const char *work)
{
	return inputs_tree(work, 20, 80);
}

static int make_work(const char *work)
{
	return inputs_make(work, 12);
}

#define GIT_ENV                                                                          \
	"GIT_AUTHOR_NAME=Corpus", "GIT_AUTHOR_EMAIL=corpus@example.org",                 \
		"GIT_COMMITTER_NAME=Corpus", "GIT_COMMITTER_EMAIL=corpus@example.org",   \
		"GIT_AUTHOR_DATE=2020-01-01T00:00:00Z",                                  \
		"GIT_COMMITTER_DATE=2020-01-01T00:00:00Z"

static const struct workload jq_work = {
	.name = "jq",
	.needs = { { "/usr/bin/jq", "jq" } },
	.steps = { { "/usr/bin/jq", "-c",
		     "group_by(.tags[0]) | map({k: .[0].tags[0], n: length, "
		     "s: (map(.score) | add), names: (map(.name) | unique | length)})",
		     "../in/in.json", NULL } },
	.inputs = jq_inputs,
	.exact = true,
};

static const struct workload python_work = {
	.name = "python3",
	.needs = { { "/usr/bin/python3", "python3" } },
	.env = { "PYTHONHASHSEED=0", "PYTHONMALLOC=malloc", "PYTHONDONTWRITEBYTECODE=1" },
	.steps = { { "/usr/bin/python3", "-s", "@SRC/dicts.py", NULL } },
	.exact = true,
	/* The same python3 run, untraced under countshim alone, requested 274,658,110 bytes
	 * in one test and 274,659,230 in another, with equal calls (seen on a loaded
	 * machine; heapsnap agreed with each run it traced): the counts must still be
	 * equal, the bytes within this much. */
	.pid_slack = 2048,
};

static const struct workload sqlite_work = {
	.name = "sqlite3",
	.needs = { { "/usr/bin/sqlite3", "sqlite3" } },
	.steps = { { "/usr/bin/sqlite3", "corpus.db", ".read ../in/in.sql", NULL } },
	.inputs = sql_inputs,
	.exact = true,
};

static const struct workload cppcheck_work = {
	.name = "cppcheck",
	.needs = { { "/usr/bin/cppcheck", "cppcheck" } },
	.steps = { { "/usr/bin/cppcheck", "--enable=all", "--inconclusive", "-q", "-j1",
		     "../in/gen.cpp", NULL } },
	.inputs = cxx_inputs,
	.exact = true,
};

static const struct workload sort_work = {
	.name = "sort",
	.needs = { { "/usr/bin/sort", "coreutils" } },
	.steps = { { "/usr/bin/sort", "-k2,2n", "-k1,1", "../in/lines.txt", NULL } },
	.inputs = lines_inputs,
	.exact = true,
};

static const struct workload gzip_work = {
	.name = "gzip",
	.needs = { { "/usr/bin/gzip", "gzip" } },
	.steps = { { "/usr/bin/gzip", "-6", "-c", "../in/lines.txt", NULL },
		   { "/usr/bin/gzip", "-9", "-c", "-n", "../in/small.txt", NULL } },
	.inputs = lines_inputs,
	.exact = true,
};

static const struct workload xz_work = {
	.name = "xz",
	.needs = { { "/usr/bin/xz", "xz-utils" } },
	.steps = { { "/usr/bin/xz", "-3", "-T1", "-c", "../in/small.txt", NULL },
		   { "/usr/bin/xz", "-d", "-T1", "-c", "../in/small.txt.xz", NULL } },
	.inputs = xz_inputs,
	.exact = true,
};

static const struct workload xz_threads_work = {
	.name = "xz-threads",
	.needs = { { "/usr/bin/xz", "xz-utils" } },
	.steps = { { "/usr/bin/xz", "-3", "-T2", "--block-size=1MiB", "-c", "../in/small.txt",
		     NULL } },
	.inputs = lines_inputs,
	.not_exact_why = "with two threads xz allocates one output buffer more or less "
			 "depending on which thread finishes a block first (36 or 37 blocks "
			 "over 8 untraced runs)",
};

static const struct workload make_work_ = {
	.name = "make",
	.needs = { { "/usr/bin/make", "make" }, { "/bin/bash", "bash" },
		   { "/usr/bin/sort", "coreutils" }, { "/usr/bin/awk", "mawk" } },
	.steps = { { "/usr/bin/make", "-s", "-j1", NULL } },
	.work = make_work,
	.exact = true,
	.pid_slack = 64,
};

static const struct workload bash_work = {
	.name = "bash",
	.needs = { { "/bin/bash", "bash" }, { "/usr/bin/sort", "coreutils" } },
	.steps = { { "/bin/bash", "@SRC/work.sh", NULL } },
	.exact = true,
	.pid_slack = 64,
};

/* Children that write to fds their shell opened for them: the fds are the program's,
 * whatever number `heapsnap run`'s own pipe had. */
static const struct workload bash_fd_work = {
	.name = "bash-fd",
	.needs = { { "/bin/bash", "bash" }, { "/usr/bin/cat", "coreutils" } },
	.steps = { { "/bin/bash", "-c",
		     "for n in {3..19}; do eval \"exec $n>fd$n.txt\"; done; "
		     "/bin/bash -c 'for n in {3..19}; do echo \"child $n\" >&$n; done'; "
		     "echo \"status $?\"; "
		     "for n in {3..19}; do eval \"exec $n>&-\"; done; "
		     "/usr/bin/cat fd*.txt", NULL } },
	.exact = true,
	.pid_slack = 64,
};

static const struct workload git_work_ = {
	.name = "git",
	.needs = { { "/usr/bin/git", "git" } },
	.env = { GIT_ENV },
	.steps = { { "/usr/bin/git", "init", "-q", "-b", "main", ".", NULL },
		   { "/usr/bin/git", "add", ".", NULL },
		   { "/usr/bin/git", "commit", "-q", "-m", "generated tree", NULL },
		   { "/usr/bin/git", "gc", "-q", NULL } },
	.work = git_work,
	.exact = true,
	.pid_slack = 64,
};

/* A JavaScript engine: V8 (C++, its own heap mapped, not malloc'd) and node's threads,
 * some started on small stacks (under a shim whose thread-locals took 36 KiB of each
 * thread's stack, node said "pthread_create: Invalid argument" on stderr). */
static const struct workload node_work = {
	.name = "node",
	.needs = { { "/usr/bin/node", "nodejs" } },
	.steps = { { "/usr/bin/node", "-e",
		     "const m = new Map();"
		     "for (let i = 0; i < 20000; i++) m.set('k' + i, { i, s: 'v'.repeat(i % 50) });"
		     "let t = 0; for (const [k, v] of m) t += v.s.length + k.length;"
		     "console.log(m.size, t, JSON.stringify([...m.values()].slice(0, 3)));",
		     NULL } },
	.not_exact_why = "node's platform threads allocate as they are scheduled (its "
			 "untraced runs differ from each other)",
};

#define WORKLOAD_TEST(id, w)        \
	START_TEST(corpus_##id)     \
	{                           \
		corpus_check(&(w)); \
	}                           \
	END_TEST

WORKLOAD_TEST(jq, jq_work)
WORKLOAD_TEST(python3, python_work)
WORKLOAD_TEST(sqlite3, sqlite_work)
WORKLOAD_TEST(cppcheck, cppcheck_work)
WORKLOAD_TEST(sort, sort_work)
WORKLOAD_TEST(gzip, gzip_work)
WORKLOAD_TEST(xz, xz_work)
WORKLOAD_TEST(xz_threads, xz_threads_work)
WORKLOAD_TEST(make, make_work_)
WORKLOAD_TEST(bash, bash_work)
WORKLOAD_TEST(bash_fd, bash_fd_work)
WORKLOAD_TEST(git, git_work_)
WORKLOAD_TEST(node, node_work)

/* One test case per program, so CK_RUN_CASE=jq runs one. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *corpus_suite(void)
{
	Suite *s = suite_create("corpus");
	add_case(s, "jq", corpus_jq);
	add_case(s, "python3", corpus_python3);
	add_case(s, "sqlite3", corpus_sqlite3);
	add_case(s, "cppcheck", corpus_cppcheck);
	add_case(s, "sort", corpus_sort);
	add_case(s, "gzip", corpus_gzip);
	add_case(s, "xz", corpus_xz);
	add_case(s, "xz-threads", corpus_xz_threads);
	add_case(s, "make", corpus_make);
	add_case(s, "bash", corpus_bash);
	add_case(s, "bash-fd", corpus_bash_fd);
	add_case(s, "git", corpus_git);
	add_case(s, "node", corpus_node);
	return s;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return check_run(corpus_suite());
}
