/* test-tree.c - whole process trees under `heapsnap run`: every process's file there
 * when run returns, signals forwarded, snap through run's pid, the summary, and the
 * collector holding none of the program's fds (design.md invariant 7). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hosted.h"
#include "pprof.h"
#include "prim.h"
#include "running.h"
#include "tracetest.h"
#include "checkmain.h"

/* Names of the exit and exec files in dir; returns how many. */
static int final_files(const char *dir, char names[][300], int max)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if ((strstr(e->d_name, ".exit.pb.gz") || strstr(e->d_name, ".exec.pb.gz")) &&
		    n < max)
			snprintf(names[n++], 300, "%s", e->d_name);
	closedir(d);
	return n;
}

/* Runs argv under heapsnap run with its files into dir, and checks that it exited 0;
 * the names of its exit and exec files go to names (max of them), their count is
 * returned. */
static int run_for_files(const char *dir, char **argv, struct run_result *r,
			 char names[][300], int max)
{
	tt_run(dir, argv, NULL, r);
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s", r->err);
	return final_files(dir, names, max);
}

static profile_t *read_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	profile_t *p = NULL;
	pprof_error_t err;
	ck_assert_msg(pprof_read_file(path, &p, &err) == 0, "%s: %s", path, err.why);
	return p;
}

/* The number in "N files from this process tree" of run's summary, or 1 without one. */
static int summary_count(const char *err)
{
	const char *at = strstr(err, " files from this process tree");
	if (!at)
		return 1;
	while (at > err && at[-1] >= '0' && at[-1] <= '9')
		at--;
	return atoi(at);
}

/* After run returns, each process of a shell's tree has its file: nothing is late. */
START_TEST(every_file_is_there_when_run_returns)
{
	char dir[256], script[1024];
	tt_tempdir(dir, sizeof(dir));
	const char *b = getenv("PROGS");
	snprintf(script, sizeof(script), "%s/basic & %s/basic & wait; %s/basic | cat >/dev/null",
		 b, b, b);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	static char names[256][300];
	int n = final_files(dir, names, 256); /* listed at once: no waiting */
	ck_assert_int_eq(n, summary_count(r.err));
	ck_assert_int_ge(n, 5); /* sh, three basic, cat (and subshells) */
	int basics = 0, line = tt_site_line("basic.c", "malloc48");
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		int64_t v[PV_COUNT];
		if (p->meta.command && strstr(p->meta.command, "/basic") &&
		    tt_site_values(p, "basic.c", line, v)) {
			ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1000);
			ck_assert_int_eq(v[PV_ALLOC_SPACE], 48000);
			basics++;
		}
		/* The executable's mapping first, as profile.proto has it: pprof names
		 * the file by it (it named libc, its first frame's).  An exec file is the
		 * shell's forked child before it became the command. */
		bool exec = strstr(names[i], ".exec.") != NULL;
		const char *cmd = p->meta.command ? p->meta.command : "";
		const char *exe = exec || !strncmp(cmd, "/bin/sh ", 8) ? "/dash"
				  : !strncmp(cmd, "cat", 3)		 ? "/cat"
									 : "/basic";
		ck_assert_msg(p->nmappings > 0 && strlen(p->mappings[0].path) >= strlen(exe) &&
				      !strcmp(p->mappings[0].path + strlen(p->mappings[0].path) -
						      strlen(exe), exe),
			      "%s: first mapping %s, not %s", names[i],
			      p->nmappings ? p->mappings[0].path : "none", exe);
		profile_free(p);
	}
	ck_assert_int_eq(basics, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "heapsnap: tracing pid "));
}
END_TEST

/* Twelve processes ending at once, one symbolizer at a time: all files written, in
 * turn, none lost, nothing stuck. */
START_TEST(symbolizers_take_turns)
{
	char dir[256], script[1024];
	tt_tempdir(dir, sizeof(dir));
	const char *b = getenv("PROGS");
	snprintf(script, sizeof(script), "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do %s/basic & done; wait",
		 b);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	char *env[] = { "HEAPSNAP_SYMBOLIZERS=1", NULL };
	struct run_result r;
	tt_run(dir, argv, env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	static char names[256][300];
	int n = final_files(dir, names, 256);
	ck_assert_int_eq(n, summary_count(r.err));
	int basics = 0;
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		basics += p->meta.command && strstr(p->meta.command, "/basic") &&
			  !strstr(p->meta.command, "sh -c") && strstr(names[i], ".exit.");
		profile_free(p);
	}
	ck_assert_int_eq(basics, 12);
	ck_assert_ptr_null(strstr(r.err, "gave up waiting"));
}
END_TEST

/* make, the compiler driver, cc1 and as: a real build's tree, each file present when
 * run returns, and no collector left running.  --dir is relative and make -C starts
 * every other process elsewhere: their files still go where run was asked. */
START_TEST(a_make_build_leaves_every_file_and_no_process)
{
	char dir[256], src[256], path[PATH_MAX];
	tt_tempdir(dir, sizeof(dir));
	char *base = strrchr(dir, '/');
	*base = '\0';
	ck_assert_int_eq(chdir(dir), 0);
	*base = '/';
	tt_tempdir(src, sizeof(src));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d.c", src, i);
		FILE *f = fopen(path, "w");
		fprintf(f, "int f%d(int x) { return x * %d; }\n", i, i + 2);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/Makefile", src);
	FILE *m = fopen(path, "w");
	fprintf(m, "all: f0.o f1.o f2.o\n%%.o: %%.c\n\tcc -O2 -c $< -o $@\n");
	fclose(m);
	char *argv[] = { "/usr/bin/make", "-s", "-C", src, NULL };
	struct run_result r;
	tt_run(base + 1, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	static char names[256][300];
	int n = final_files(dir, names, 256);
	ck_assert_int_eq(n, summary_count(r.err));
	int cc1 = 0;
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		if (p->meta.command && strstr(p->meta.command, "cc1 "))
			cc1++;
		ck_assert_int_eq(tt_collector_pid((pid_t)atoi(names[i] + 9)), 0);
		profile_free(p);
	}
	ck_assert_int_eq(cc1, 3);
	ck_assert_int_ge(n, 10); /* make; cc, cc1 and as three times */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d.o", src, i);
		ck_assert_int_eq(access(path, F_OK), 0);
		unlink(path);
		snprintf(path, sizeof(path), "%s/f%d.c", src, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/Makefile", src);
	unlink(path);
	rmdir(src);
}
END_TEST

/* kill -USR2 and heapsnap snap on run's own pid reach the program; TERM is forwarded
 * and run ends the way the program did. */
START_TEST(run_forwards_signals_and_snap_by_its_pid)
{
	char dir[256], err[8192], cmd[1024], path[1024];
	tt_tempdir(dir, sizeof(dir));
	struct tt_proc p;
	tt_start(dir, "waiter", NULL, &p);
	ck_assert_int_eq(kill(p.run, SIGUSR2), 0);
	profile_t *s = tt_snapshot(dir, p.pid, "1", 10);
	ck_assert_str_eq(s->meta.trigger, "signal 1");
	profile_free(s);
	snprintf(cmd, sizeof(cmd), "'%s' snap %d", getenv("HEAPSNAP"), (int)p.run);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f));
	ck_assert_int_eq(pclose(f), 0);
	char want[512];
	snprintf(want, sizeof(want), "%s/heapsnap.%d.2.pb.gz\n", dir, (int)p.pid);
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(kill(p.run, SIGTERM), 0); /* waiter's handler: exit 0 */
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	char tracing[64];
	snprintf(tracing, sizeof(tracing), "heapsnap: tracing pid %d;", (int)p.pid);
	ck_assert_ptr_nonnull(strstr(err, tracing));

	/* A program without a handler dies of the forwarded signal, and so does run. */
	char *argv[] = { "/bin/sleep", "30", NULL };
	pid_t run = fork();
	if (run == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(getenv("HEAPSNAP"), "heapsnap", "run", "-q", "--dir", dir, "--", argv[0],
		      argv[1], (char *)NULL);
		_exit(127);
	}
	usleep(300 * 1000);
	kill(run, SIGTERM);
	ck_assert_int_eq(waitpid(run, &st, 0), run);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %d", st);
}
END_TEST

/* Starts `heapsnap run -q --dir dir -- prog...`, its stdout to out_fd when that is
 * >= 0: as a job (in a process group of its own, as a shell with job control starts
 * it), or in the test's own group, as a script would. */
static pid_t run_started(const char *dir, char *const prog[], int out_fd, bool job)
{
	pid_t run = fork();
	ck_assert_int_ge(run, 0);
	if (run == 0) {
		if (job)
			setpgid(0, 0);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		char *argv[16] = { getenv("HEAPSNAP"), "run", "-q", "--dir", (char *)dir, "--" };
		int n = 6;
		for (int i = 0; prog[i] && n < 15; i++)
			argv[n++] = prog[i];
		argv[n] = NULL;
		execv(argv[0], argv);
		_exit(127);
	}
	if (job)
		setpgid(run, run);
	return run;
}

/* Waits up to 10 s for run to stop or end (WUNTRACED); fails the test, killing the
 * job, if it does neither. */
static int wait_job(pid_t run, const char *what)
{
	int st;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(run, &st, WNOHANG | WUNTRACED);
		if (r == run)
			return st;
		usleep(10 * 1000);
	}
	killpg(run, SIGKILL);
	kill(run, SIGKILL); /* not a job: not a group of its own */
	waitpid(run, &st, 0);
	ck_abort_msg("%s: run neither stopped nor ended", what);
	return 0;
}

/* The children of pid, at most max, into out; returns how many. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && n < max && (e = readdir(d))) {
		struct proc_stat st;
		pid_t q = (pid_t)atoi(e->d_name);
		if (q > 0 && prim_proc_stat(q, &st) == 0 && st.ppid == pid)
			out[n++] = q;
	}
	if (d)
		closedir(d);
	return n;
}

/* Run's child named comm (the program), or 0. */
static pid_t child_named(pid_t run, const char *comm)
{
	pid_t kids[8];
	int n = children_of(run, kids, 8);
	for (int i = 0; i < n; i++) {
		char path[64], name[64] = "";
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
		FILE *f = fopen(path, "r");
		bool same = f && fgets(name, sizeof(name), f) && !strncmp(name, comm, strlen(comm)) &&
			    name[strlen(comm)] == '\n';
		if (f)
			fclose(f);
		if (same)
			return kids[i];
	}
	return 0;
}

/* Waits up to 10 s for run's child comm to exist (run then forwards signals). */
static pid_t program_of(pid_t run, const char *comm)
{
	for (int i = 0; i < 1000; i++) {
		pid_t pid = child_named(run, comm);
		if (pid)
			return pid;
		usleep(10 * 1000);
	}
	ck_abort_msg("run has no child %s", comm);
	return 0;
}

/* The state letter (/proc/PID/stat: 'T' stopped) of run's child comm, or '?'. */
static char child_state(pid_t run, const char *comm)
{
	pid_t pid = child_named(run, comm);
	return pid ? prim_proc_state(pid) : '?';
}

/* Every signal a process can catch reaches the program through run, not only the
 * usual six: a SIGALRM or a real-time signal sent to run ends the program, and run
 * ends the same way.  And run started as a job stops when the program stops, so that
 * the shell sees its job stopped: when the program stops itself (run is continued
 * alone, and continues the program), when a SIGTSTP is sent to run (forwarded: the
 * program is what stops first), and again when it stops again. */
START_TEST(run_forwards_every_signal_and_stops_with_the_program)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	int sigs[] = { SIGALRM, SIGRTMIN + 1 };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char *sleeper[] = { "/bin/sleep", "30", NULL };
		pid_t run = run_started(dir, sleeper, -1, true);
		program_of(run, "sleep");
		ck_assert_int_eq(kill(run, sigs[i]), 0);
		int st = wait_job(run, "signal");
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i], "signal %d: status %#x",
			      sigs[i], st);
	}

	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	char *stopper[] = { "/bin/sh", "-c", "echo before; kill -STOP $$; echo resumed", NULL };
	pid_t run = run_started(dir, stopper, out[1], true);
	close(out[1]);
	int st = wait_job(run, "self-stop");
	ck_assert_msg(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "status %#x", st);
	ck_assert_int_eq(child_state(run, "sh"), 'T');
	ck_assert_int_eq(kill(run, SIGCONT), 0); /* run alone */
	st = wait_job(run, "continued");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	char text[64] = "";
	ck_assert_int_gt(read(out[0], text, sizeof(text) - 1), 0);
	close(out[0]);
	ck_assert_str_eq(text, "before\nresumed\n");

	char *sleeper[] = { "/bin/sleep", "2", NULL };
	run = run_started(dir, sleeper, -1, true);
	program_of(run, "sleep");
	ck_assert_int_eq(kill(run, SIGTSTP), 0);
	st = wait_job(run, "tstp");
	ck_assert_msg(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP, "status %#x", st);
	ck_assert_int_eq(child_state(run, "sleep"), 'T');
	ck_assert_int_eq(killpg(run, SIGCONT), 0); /* as a shell's fg */
	st = wait_job(run, "fg");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);

	/* A program that stops again once continued stops run again. */
	char *twice[] = { "/bin/sh", "-c", "kill -STOP $$; kill -STOP $$; echo two", NULL };
	run = run_started(dir, twice, -1, true);
	for (int i = 0; i < 2; i++) {
		st = wait_job(run, "stop");
		ck_assert_msg(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "stop %d: status %#x", i, st);
		ck_assert_int_eq(killpg(run, SIGCONT), 0);
	}
	st = wait_job(run, "end");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);

	/* Run not started as a job (by a script: its group is its parent's) does not stop:
	 * nobody would continue it.  Whoever continues the program ends the run. */
	char *once[] = { "/bin/sh", "-c", "kill -STOP $$; echo resumed", NULL };
	run = run_started(dir, once, -1, false);
	pid_t program = program_of(run, "sh");
	while (child_state(run, "sh") != 'T')
		usleep(10 * 1000);
	usleep(200 * 1000); /* run has seen the stop, and stayed */
	ck_assert_int_eq(waitpid(run, &st, WNOHANG | WUNTRACED), 0);
	ck_assert_int_eq(kill(program, SIGCONT), 0);
	st = wait_job(run, "not a job");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);

	/* Nor does a script's SIGCONT to run go to waste: the SIGTSTP it sent run stopped
	 * the program, and its SIGCONT to run continues it (the program stayed stopped,
	 * and run waited for ever). */
	char *sleeper2[] = { "/bin/sleep", "1", NULL };
	run = run_started(dir, sleeper2, -1, false);
	program_of(run, "sleep");
	ck_assert_int_eq(kill(run, SIGTSTP), 0);
	while (child_state(run, "sleep") != 'T')
		usleep(10 * 1000);
	ck_assert_int_eq(kill(run, SIGCONT), 0);
	st = wait_job(run, "script's continue");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
END_TEST

/* A shell that lowers its address-space limit (ulimit -v) and then forks: the child's
 * segment, sized to the new limit, is mapped once its copy of the parent's (sized
 * before the limit) is gone, and the child is traced like any other.  Both at once
 * did not fit, and the child said "cannot create the shared ring". */
START_TEST(a_lowered_address_space_limit_still_traces_forked_children)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "/bin/sh", "-c", "ulimit -v 150000; echo x | tr x y", NULL };
	struct run_result r;
	tt_run_ok(dir, argv, NULL, "y\n", &r);
	ck_assert_msg(!strstr(r.err, "cannot create"), "%s", r.err);
	static char names[256][300];
	int n = final_files(dir, names, 256), forked = 0;
	for (int i = 0; i < n; i++)
		forked += strstr(names[i], ".exec.") != NULL;
	/* sh; the subshell that ran echo; tr, and its forked child before the exec */
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(forked, 1);
}
END_TEST

/* Runs heapsnap run -q on sh -c script under the shell's ulimit options limit (set for
 * run itself), into dir; requires exit 0, the output want_out, an empty stderr, and
 * want_files files. */
static void run_limited(const char *limit, const char *script, const char *want_out,
			int want_files)
{
	char dir[256], cmd[512];
	tt_tempdir(dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "ulimit %s; exec \"$0\" run -q --dir \"$1\" -- /bin/sh -c '%s'",
		 limit, script);
	char *argv[] = { "/bin/sh", "-c", cmd, getenv("HEAPSNAP"), dir, NULL };
	struct run_result r;
	tt_run_plain(argv, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	ck_assert_str_eq(r.out, want_out);
	ck_assert_str_eq(r.err, "");
	static char names[256][300];
	ck_assert_int_eq(final_files(dir, names, 256), want_files);
}

#ifndef __SANITIZE_ADDRESS__
/* Under an address-space limit (ulimit -v) the host maps the segment of every image
 * alive: twelve sleeps at once, each file written.  With threads of 8 MiB stacks
 * (RLIMIT_STACK's), half the limit went to stacks, and most runs lost files.  Not in
 * an ASan build (see main). */
START_TEST(an_address_space_limit_leaves_room_for_many_images)
{
	/* sh, and twelve forked children that exec sleep: an exec and an exit file each */
	run_limited("-v 200000", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 0.5 & done; "
				 "wait; echo done", "done\n", 25);
}
END_TEST
#endif

/* A low soft limit on open files is the program's: run and its host raise their own
 * to the hard limit, the program sees its own, and every file is written (before, a
 * soft limit of 10 traced nothing and said nothing).  Under a hard limit too low even
 * for that, run says so and runs nothing. */
START_TEST(a_low_open_files_limit_is_the_programs)
{
	/* sh; the subshell that ran echo; tr, and its forked child before the exec */
	run_limited("-Sn 10", "ulimit -Sn; echo x | tr x y", "10\ny\n", 4);

	struct run_result r;
	char *hard[] = { "/bin/sh", "-c", "ulimit -n 12; exec \"$0\" run -- /bin/echo ran",
			 getenv("HEAPSNAP"), NULL };
	tt_run_plain(hard, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "status %#x", r.status);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "heapsnap: run: the open files limit is 12; tracing needs at "
				"least 16 (ulimit -n)\n");
}
END_TEST

/* A program that returns from main has its status in its file even when its parent
 * reaps it before the collector can read the zombie, as a shell does: the shim hears
 * the status from exit (on_exit), which libc calls from inside __libc_start_main,
 * where no wrapper sees it.  Before, most of these files said "exit" alone. */
START_TEST(a_return_from_main_reaped_at_once_keeps_its_status)
{
	char dir[256], script[512];
	tt_tempdir(dir, sizeof(dir));
	snprintf(script, sizeof(script), "i=0; while [ $i -lt 10 ]; do %s/basic >/dev/null; "
		 "i=$((i + 1)); done", getenv("PROGS"));
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	static char names[64][300];
	char basic[PATH_MAX];
	snprintf(basic, sizeof(basic), "%s/basic", getenv("PROGS"));
	int n = final_files(dir, names, 64), basics = 0;
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		if (p->meta.command && !strcmp(p->meta.command, basic)) {
			ck_assert_str_eq(p->meta.trigger, "exit 7"); /* basic returns 7 */
			basics++;
		}
		profile_free(p);
	}
	ck_assert_int_eq(basics, 10);
}
END_TEST

/* The output of sh -c cmd, started with glibc's internal signals (32, 33) at their
 * default or ignored, as a program started by posix_spawn (popen, make) has them. */
static void shell_output(const char *cmd, bool libc_ignored, char *out, size_t len)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct {
			void *handler;
			unsigned long flags;
			void *restorer;
			unsigned long mask;
		} sa = { .handler = libc_ignored ? (void *)SIG_IGN : (void *)SIG_DFL };
		for (int sig = 32; sig < SIGRTMIN; sig++)
			syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
		dup2(fds[1], 1);
		close(fds[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t got;
	while (n + 1 < len && (got = read(fds[0], out + n, len - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(fds[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The program starts with the signal dispositions and mask it would have without
 * run: signals ignored by whoever started run stay ignored (run does not forward
 * them); glibc's internal signals, which its posix_spawn ignores in the child, are
 * as run found them. */
START_TEST(the_program_starts_with_its_signals_as_without_run)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	const char *show = "grep -E 'Sig(Ign|Blk)' /proc/self/status";
	for (int i = 0; i < 4; i++) {
		const char *trap = i & 1 ? "trap '' INT USR1;" : "";
		char cmd[2048], native[256], traced[256];
		snprintf(cmd, sizeof(cmd), "%s exec %s", trap, show);
		shell_output(cmd, i & 2, native, sizeof(native));
		snprintf(cmd, sizeof(cmd), "%s exec '%s' run -q --dir '%s' -- %s", trap,
			 getenv("HEAPSNAP"), dir, show);
		shell_output(cmd, i & 2, traced, sizeof(traced));
		ck_assert_ptr_nonnull(strstr(native, "SigIgn"));
		ck_assert_str_eq(traced, native);
	}
}
END_TEST

/* Run waits for its host's "ready" with its signal-forwarding handlers installed: a
 * signal then (a snapshot signal sent to run right after the program's first image)
 * must not end the wait, or run gave the host up and refused the image, whose files
 * never came.  A SIGALRM every 10 ms, with no SA_RESTART, while the "host" answers
 * after 200 ms. */
static void on_tick(int sig)
{
	(void)sig;
}

START_TEST(host_ready_waits_through_signals)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid_t host = fork();
	if (host == 0) {
		usleep(200 * 1000);
		_exit(send(sv[1], "ready\t4242", 10, 0) == 10 ? 0 : 1);
	}
	struct sigaction tick = { .sa_handler = on_tick }, old;
	sigemptyset(&tick.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &tick, &old), 0);
	struct itimerval every = { { 0, 10000 }, { 0, 10000 } }, off = { { 0, 0 }, { 0, 0 } };
	ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
	pid_t said = collect_host_ready(sv[0], 5000);
	pid_t silent = collect_host_ready(sv[0], 100); /* nothing more comes */
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	int st;
	ck_assert_int_eq(waitpid(host, &st, 0), host);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(said, 4242);
	ck_assert_int_eq(silent, -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The fds of pid that name pipes, sockets or files, as readlink shows them. */
static int fd_targets(pid_t pid, char t[][128], int max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		char link[300];
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)pid, e->d_name);
		ssize_t len = readlink(link, t[n], 127);
		if (len > 0)
			t[n++][len] = '\0';
	}
	closedir(d);
	return n;
}

/* The collector holds none of the program's fds: with it stopped, a reader of the
 * program's stdout and stderr still sees end-of-file when the program ends. */
START_TEST(collector_holds_no_program_fd)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char env[PATH_MAX], dirv[300];
		snprintf(env, sizeof(env), "LD_PRELOAD=%s", getenv("HEAPSNAP_SHIM"));
		snprintf(dirv, sizeof(dirv), "HEAPSNAP_DIR=%s", dir);
		putenv(env);
		putenv(dirv);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		char prog[PATH_MAX];
		snprintf(prog, sizeof(prog), "%s/waiter", getenv("PROGS"));
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char line[64];
	FILE *f = fdopen(out[0], "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	pid_t collector = tt_collector_pid(pid);
	ck_assert_int_gt(collector, 0);
	static char mine[64][128], theirs[64][128];
	int nm = fd_targets(pid, mine, 64), nt = fd_targets(collector, theirs, 64);
	for (int i = 0; i < nm; i++)
		for (int j = 0; j < nt; j++)
			ck_assert_msg(strcmp(mine[i], theirs[j]) || !strcmp(mine[i], "/dev/null"),
				      "the collector holds the program's %s", mine[i]);
	ck_assert_int_eq(kill(collector, SIGSTOP), 0);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	struct pollfd pf = { .fd = out[0], .events = POLLIN };
	ck_assert_int_eq(poll(&pf, 1, 5000), 1);
	ck_assert_ptr_null(fgets(line, sizeof(line), f)); /* end-of-file, not a hang */
	fclose(f);
	kill(collector, SIGCONT);
	profile_t *s = tt_snapshot(dir, pid, "exit", 10);
	profile_free(s);
}
END_TEST

/* Whether pid holds the file of fd (by inode); its target in *what when it does. */
static bool holds_same(pid_t pid, const struct stat *file)
{
	for (int fd = 0; fd < 1024; fd++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (stat(path, &st) == 0 && st.st_ino == file->st_ino && st.st_dev == file->st_dev)
			return true;
	}
	return false;
}

/* An fd of the collector that run or the program also holds, as its target; "" when
 * there is none.  Run and the collector both have a pidfd of the program, and the
 * memfd passes through run: those are not compared. */
static const char *shared_fd(pid_t collector, const struct tt_proc *p)
{
	static char target[256];
	for (int fd = 3; fd < 1024; fd++) {
		char path[64];
		struct stat mine;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)collector, fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0 || stat(path, &mine) < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "anon_inode:", 11) && !strstr(target, "/memfd:") &&
		    (holds_same(p->run, &mine) || holds_same(p->pid, &mine)))
			return target;
	}
	return "";
}

/* Whether pid has ended: gone, or a zombie its reaper has not reaped yet. */
static bool ended(pid_t pid)
{
	struct proc_stat st;
	return prim_proc_stat(pid, &st) < 0 || st.state == 'Z';
}

/* Whether pid maps a file whose path contains name. */
static bool maps_file(pid_t pid, const char *name)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "re");
	ck_assert_ptr_nonnull(maps);
	bool found = false;
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, name) != NULL;
	fclose(maps);
	return found;
}

/* A library preloaded into run itself stays out of the host of its collectors, which
 * is then exec'd without LD_PRELOAD: a forked host kept it, and with tcmalloc, whose
 * libunwind read a pipe the host had closed, it hung until run gave up on it. */
START_TEST(a_library_preloaded_into_run_stays_out_of_its_host)
{
	char dir[256], preload[PATH_MAX + 16], asan[1024], err[8192];
	tt_tempdir(dir, sizeof(dir));
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s/libplugin.so", getenv("PROGS"));
	/* A sanitized run has its runtime loaded after the preloaded library: allowed. */
	const char *opts = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0", opts ? opts : "",
		 opts && *opts ? ":" : "");
	char *env[] = { preload, asan, NULL };
	struct tt_proc p;
	tt_start(dir, "waiter", env, &p);
	pid_t host = tt_tgid_of(tt_collector_pid(p.pid));
	ck_assert_int_gt(host, 0);
	ck_assert(maps_file(p.run, "/libplugin.so") && maps_file(p.pid, "/libplugin.so"));
	ck_assert(!maps_file(host, "/libplugin.so"));
	ck_assert_int_eq(kill(p.run, SIGTERM), 0);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	profile_free(tt_snapshot(dir, p.pid, "exit", 10));
}
END_TEST

/* A stray snapshot signal sent to the host (kill -USR2 on the wrong pid, or on run's
 * whole process group) is ignored: the host lived on, and the program's files came. */
START_TEST(the_host_ignores_stray_signals)
{
	char dir[256], err[8192];
	struct tt_proc p;
	pid_t host = tt_tgid_of(tt_start_collected(dir, sizeof(dir), "waiter", &p));
	ck_assert_int_gt(host, 0);
	int sigs[] = { SIGUSR1, SIGUSR2, SIGRTMIN + 2, SIGPIPE };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		ck_assert_int_eq(kill(host, sigs[i]), 0);
	usleep(100 * 1000);
	ck_assert(!ended(host));
	ck_assert_int_eq(kill(p.run, SIGTERM), 0);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	ck_assert_msg(!strstr(err, "without writing"), "%s", err);
	profile_free(tt_snapshot(dir, p.pid, "exit", 10));
}
END_TEST

/* Under run, the collectors are threads of one host process that run forks from itself
 * once (never exec'd; run's child, which run reaps), and which looks like a collector
 * the shim would start: its own session, /dev/null for stdin, stdout and stderr, its
 * connection to run on fd 3, nothing of run's or the program's (run lets go of the fds
 * it passed on), the command line heapsnap snap looks for, and the thread named after
 * the process. */
START_TEST(run_hosts_collectors_as_if_execd)
{
	char dir[256], err[8192];
	struct tt_proc p;
	pid_t collector = tt_start_collected(dir, sizeof(dir), "waiter", &p);
	pid_t host = tt_tgid_of(collector);
	ck_assert_int_gt(host, 0);
	char path[64], target[256], want[32];
	struct proc_stat st;
	ck_assert_int_eq(prim_proc_stat(host, &st), 0);
	ck_assert_int_eq(st.ppid, p.run);
	ck_assert_int_eq(running_run_child(p.run), p.pid); /* never the host */
	/* run reads no ELF file: libdw and libelf are loaded where a module is read. */
	ck_assert(!maps_file(p.run, "/libdw") && !maps_file(p.run, "/libelf"));
	ck_assert_int_eq(getsid(host), host);
	for (int fd = 0; fd <= 3; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)host, fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		ck_assert_int_gt(n, 0);
		target[n] = '\0';
		if (fd <= 2)
			ck_assert_str_eq(target, "/dev/null");
		else
			ck_assert_msg(!strncmp(target, "socket:", 7), "fd 3: %s", target);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)host);
	FILE *f = fopen(path, "re");
	size_t n = fread(target, 1, sizeof(target) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!target[i])
			target[i] = ' ';
	target[n] = '\0';
	ck_assert_msg(strstr(target, "heapsnap collect --host-fd 3 "), "%s", target);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)host, (int)collector);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(fgets(target, sizeof(target), f));
	fclose(f);
	snprintf(want, sizeof(want), "hs %d\n", (int)p.pid);
	ck_assert_str_eq(target, want);
	const char *shared = "?";
	for (int tries = 0; tries < 50 && *(shared = shared_fd(host, &p)); tries++)
		usleep(100 * 1000);
	ck_assert_msg(!*shared, "the collector holds run's or the program's %s", shared);
	ck_assert_int_eq(kill(p.run, SIGTERM), 0);
	int status = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%d: %s", status, err);
	profile_free(tt_snapshot(dir, p.pid, "exit", 10));
	/* Once run has returned, with every file written, the host has ended too. */
	ck_assert(ended(host));
}
END_TEST

/* A tree's images are collected by one host: four processes alive at once under run,
 * four threads of one process that is neither run nor any of them; it ends with run. */
START_TEST(one_host_collects_the_whole_tree)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *args[] = { "heapsnap", "run", "-q", "--dir", dir, "--", "/bin/sh", "-c",
			 "sleep 2 & sleep 2 & sleep 2 & wait", NULL };
	pid_t run = tt_heapsnap_quietly(args);
	pid_t sh = 0, kids[8], hosts[4] = { 0 };
	int nkids = 0;
	for (int tries = 0; tries < 150 && (nkids < 3 || !hosts[3]); tries++) {
		usleep(10 * 1000);
		if (!sh)
			sh = running_run_child(run);
		nkids = sh ? children_of(sh, kids, 8) : 0;
		if (nkids < 3)
			continue;
		pid_t images[4] = { sh, kids[0], kids[1], kids[2] };
		for (int i = 0; i < 4; i++) {
			struct running_collector rc;
			hosts[i] = running_collector_find(images[i], &rc) ? tt_tgid_of(rc.pid) : 0;
			if (!hosts[i])
				break;
		}
	}
	ck_assert_int_eq(nkids, 3);
	ck_assert_int_gt(hosts[0], 0);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(hosts[i], hosts[0]);
	ck_assert_int_ne(hosts[0], run);
	int st;
	ck_assert_int_eq(waitpid(run, &st, 0), run);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(ended(hosts[0]));
	static char names[16][300];
	/* sh's exit file; each child's exec file (dash allocates before it execs) and
	 * sleep's exit file. */
	ck_assert_int_eq(final_files(dir, names, 16), 7);
}
END_TEST

/* A program that is pid 1 of a PID namespace of its own: the kernel ends every process
 * of the namespace with it, but run's collectors live outside, so its exit file is
 * written, named by its pid as run sees it, with every byte. */
START_TEST(pid_one_of_a_namespace_gets_its_exit_file)
{
	char dir[256], prog[PATH_MAX];
	tt_tempdir(dir, sizeof(dir));
	snprintf(prog, sizeof(prog), "%s/basic", getenv("PROGS"));
	/* Root may make a PID namespace; anyone may inside a user namespace of their own. */
	char *as_root[] = { "/usr/bin/unshare", "--pid", "--fork", prog, NULL };
	char *as_user[] = { "/usr/bin/unshare", "--user", "--map-root-user", "--pid", "--fork",
			    prog, NULL };
	char **argv = geteuid() == 0 ? as_root : as_user;
	struct run_result r, plain;
	tt_run(dir, argv, NULL, &r);
	tt_run_plain(argv, &plain);
	ck_assert_msg(r.status == plain.status && !strcmp(r.out, plain.out), "%s", r.err);
	ck_assert_msg(!strstr(r.err, "pid 1 of its PID namespace"), "%s", r.err);
	static char names[16][300];
	int n = final_files(dir, names, 16);
	ck_assert_int_eq(n, 2); /* unshare, and basic as pid 1 */
	int basics = 0, line = tt_site_line("basic.c", "malloc48");
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		int64_t v[PV_COUNT];
		if (tt_site_values(p, "basic.c", line, v)) {
			ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1000);
			ck_assert_int_eq(v[PV_ALLOC_SPACE], 48000);
			/* basic returns 7 (the shim hears it, whoever reaps pid 1 first). */
			ck_assert_str_eq(p->meta.trigger, "exit 7");
			ck_assert_int_ne(p->meta.pid, 1);
			basics++;
		}
		profile_free(p);
	}
	ck_assert_int_eq(basics, 1);
}
END_TEST

/* A collector killed under run: the program goes on, the shim says so at exit, and run
 * says which process lost its file. */
START_TEST(a_lost_exit_file_is_said_aloud)
{
	char dir[256], err[8192];
	struct tt_proc p;
	pid_t collector = tt_start_collected(dir, sizeof(dir), "waiter", &p);
	ck_assert_int_eq(kill(collector, SIGKILL), 0);
	/* Dead (reaped, or a zombie) before the program ends. */
	char stat[64], buf[512];
	snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)collector);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(stat, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *paren = strrchr(buf, ')');
		if (!f || (paren && paren[2] == 'Z'))
			break;
		usleep(10000);
	}
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	int st = tt_finish(&p, err, sizeof(err));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	ck_assert_ptr_nonnull(strstr(err, "the collector is gone: no exit snapshot"));
	char want[128];
	snprintf(want, sizeof(want), "heapsnap: pid %d (", (int)p.pid);
	const char *at = strstr(err, want);
	ck_assert_msg(at && strstr(at, "its collector ended without writing a file"), "%s", err);
}
END_TEST

/* snap goes through the collector: a program that owns SIGUSR2, or runs without a
 * snapshot signal, gets its snapshot and never sees a signal of ours. */
START_TEST(snap_never_uses_the_program_signal)
{
	char dir[256], err[8192], cmd[1024], path[1024], want[512], line[64];
	static char *const envs[][2] = { { "WAITER_OWN_USR2=1", NULL },
					 { "HEAPSNAP_SIGNAL=none", NULL } };
	for (int k = 0; k < 2; k++) {
		tt_tempdir(dir, sizeof(dir));
		struct tt_proc p;
		tt_start(dir, "waiter", envs[k], &p);
		snprintf(cmd, sizeof(cmd), "'%s' snap %d", getenv("HEAPSNAP"), (int)p.pid);
		FILE *f = popen(cmd, "r");
		ck_assert_ptr_nonnull(fgets(path, sizeof(path), f));
		ck_assert_int_eq(pclose(f), 0);
		snprintf(want, sizeof(want), "%s/heapsnap.%d.1.pb.gz\n", dir, (int)p.pid);
		ck_assert_str_eq(path, want);
		profile_t *s = tt_snapshot(dir, p.pid, "1", 1);
		ck_assert_str_eq(s->meta.trigger, "request 1");
		int64_t v[PV_COUNT];
		tt_site_named(s, "waiter.c", "before_snap", v);
		ck_assert_int_eq(v[PV_INUSE_OBJECTS], 64);
		ck_assert_int_eq(v[PV_INUSE_SPACE], 64 * 32);
		profile_free(s);
		ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
		if (k == 0) {
			ck_assert_ptr_nonnull(fgets(line, sizeof(line), p.out));
			ck_assert_str_eq(line, "usr2 0\n"); /* its handler never ran */
		}
		int st = tt_finish(&p, err, sizeof(err));
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, err);
	}
}
END_TEST

/* Every file carries memory over time: its highest point is the traced peak, and the
 * two snapshot requests of basic are marked. */
START_TEST(exit_file_carries_a_timeline)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "basic", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	pid_t pid = (pid_t)atoi(strstr(r.err, "(pid ") + 5);
	profile_t *p = tt_snapshot(dir, pid, "exit", 10);
	const profile_timeline_t *t = &p->timeline;
	ck_assert_uint_gt(t->n, 0);
	int64_t hi = 0;
	for (uint32_t i = 0; i < t->n; i++)
		hi = t->max_bytes[i] > hi ? t->max_bytes[i] : hi;
	ck_assert_int_eq(hi, p->meta.peak_bytes);
	ck_assert_int_ge(t->peak_nanos, 0);
	ck_assert_int_le(t->peak_nanos, p->meta.duration_nanos);
	ck_assert_uint_eq(t->nsnaps, 2);
	ck_assert_int_le(t->snap_nanos[0], t->snap_nanos[1]);
	profile_free(p);
}
END_TEST

/* A FIFO planted at a library's path does not hang the collector: it is not a regular
 * file, so its frames stay unsymbolized and the exit file is written. */
START_TEST(a_fifo_at_a_module_path_hangs_nothing)
{
	char dir[256], lib[512], copy[600], cmd[1400];
	tt_tempdir(dir, sizeof(dir));
	snprintf(lib, sizeof(lib), "%s/libplugin.so", getenv("PROGS"));
	snprintf(copy, sizeof(copy), "%s/libplugin.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", lib, copy);
	ck_assert_int_eq(system(cmd), 0);
	char *argv[] = { "awkward", "plugin", copy, NULL };
	char *env[] = { "PLUGIN_FIFO=1", NULL };
	struct run_result r;
	time_t t0 = time(NULL);
	tt_run(dir, argv, env, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	ck_assert_int_lt(time(NULL) - t0, 30);
	struct stat st;
	ck_assert_int_eq(stat(copy, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_ptr_null(strstr(r.err, "gave up waiting"));
	pid_t pid = (pid_t)atoi(strstr(r.err, "(pid ") + 5);
	profile_t *p = tt_snapshot(dir, pid, "exit", 1);
	int64_t v[PV_COUNT];
	tt_site_named(p, "awkward.c", "after_dlclose", v);
	ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 1);
	ck_assert_int_eq(v[PV_ALLOC_SPACE], 9);
	profile_free(p);
	unlink(copy);
}
END_TEST

/* A background process outlives the program: run waits for its collector at most
 * --wait seconds, or until a signal sent to run after the program ended, and says
 * whose file is missing; it exits the way the program did. */
START_TEST(waiting_for_the_tree_is_bounded)
{
	char dir[256], err[8192];
	tt_tempdir(dir, sizeof(dir));
	for (int k = 0; k < 2; k++) {
		FILE *errf = tmpfile();
		pid_t run = fork();
		if (run == 0) {
			dup2(fileno(errf), 2);
			execl(getenv("HEAPSNAP"), "heapsnap", "run", "--dir", dir, "--wait",
			      k ? "1" : "60", "--", "/bin/sh", "-c", "sleep 20 & exit 3", (char *)NULL);
			_exit(127);
		}
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!k) {
			/* Once the shell's file is there, the shell has ended; a moment later
			 * run has heard of it and of the exec file of the shell's child, and
			 * waits for sleep's collector alone: the signal then ends the wait,
			 * where before it would go to the shell. */
			bool ended = false;
			for (int tries = 0; tries < 3000 && !ended; tries++) {
				char names[4][300];
				int n = final_files(dir, names, 4);
				for (int i = 0; i < n; i++)
					ended |= strstr(names[i], ".exit.pb.gz") != NULL;
				if (!ended)
					usleep(10 * 1000);
			}
			ck_assert(ended);
			usleep(500 * 1000);
			kill(run, SIGTERM);
		}
		int st;
		ck_assert_int_eq(waitpid(run, &st, 0), run);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status %d", st);
		ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
		rewind(errf);
		size_t n = fread(err, 1, sizeof(err) - 1, errf);
		err[n] = '\0';
		fclose(errf);
		const char *at = strstr(err, "heapsnap: gave up waiting for 1 collector; its file may "
					     "appear later: pid ");
		ck_assert_msg(at && strstr(at, "(sleep 20)"), "%s", err);
		kill((pid_t)atoi(at + strlen("heapsnap: gave up waiting for 1 collector; its file may "
					     "appear later: pid ")), SIGKILL);
	}
}
END_TEST

/* The program ends before the child it forked has allocated anything, so nothing of
 * the tree is connected when run sees the end: run, the tree's subreaper, waits for the
 * child and its file.  A process that never connects (untraced) holds run a short
 * while at most. */
START_TEST(run_waits_for_a_child_that_outlives_the_program)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "forker", "orphan", "300", NULL };
	struct run_result r;
	static char names[256][300];
	int n = run_for_files(dir, argv, &r, names, 256);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(summary_count(r.err), 2);
	int line = tt_site_line("forker.c", "orphan"), late = 0;
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		int64_t v[PV_COUNT];
		if (tt_site_values(p, "forker.c", line, v)) {
			ck_assert_int_eq(v[PV_INUSE_SPACE], 4000);
			late++;
		}
		profile_free(p);
	}
	ck_assert_int_eq(late, 1);

	char *untraced[] = { "/bin/sh", "-c", "env -u LD_PRELOAD sleep 9 >/dev/null & exit 4",
			     NULL };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tt_run(dir, untraced, NULL, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 4, "%s", r.err);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 7); /* not the sleep's 9 s */
	ck_assert_ptr_null(strstr(r.err, "gave up"));
}
END_TEST

/* run's socket directory is in $TMPDIR when that is set, else on a tmpfs (/dev/shm
 * here, with no XDG_RUNTIME_DIR), and gone when run returns. */
/* The exact counts of keptseg's site in the files of dir: how many files have it. */
static int keptseg_files_exact(const char *dir)
{
	static char names[64][300];
	int n = final_files(dir, names, 64), exact = 0, line = tt_site_line("keptseg.c", "kept300");
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		int64_t v[PV_COUNT];
		if (tt_site_values(p, "keptseg.c", line, v)) {
			ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 100);
			ck_assert_int_eq(v[PV_ALLOC_SPACE], 30000);
			ck_assert_int_eq(v[PV_INUSE_OBJECTS], 50);
			ck_assert_int_eq(v[PV_INUSE_SPACE], 15000);
			exact++;
		}
		profile_free(p);
	}
	return exact;
}

/* The host keeps an ended image's segment for the next one (segpool.h): the third
 * keptseg gets the first one's, zeroed, and counts as exactly.  The second, with a
 * smaller stack table, wants another size: it leaves the first's where it was, and
 * makes its own.  Run's directory goes with the kept segments' links. */
START_TEST(a_kept_segment_serves_the_next_image)
{
	char dir[256], script[2048];
	tt_tempdir(dir, sizeof(dir));
	const char *b = getenv("PROGS");
	/* Shell builtins only between the two: no other image ends, to be kept. */
	snprintf(script, sizeof(script),
		 "D=${HEAPSNAP_RUN_SOCKET%%/*}; %s/keptseg; i=0; "
		 "while [ ! -L \"$D/pool.0\" ] && [ $i -lt 3000000 ]; do i=$((i + 1)); done; "
		 "HEAPSNAP_STACKS=4096 %s/keptseg; %s/keptseg; echo \"$D\"",
		 b, b, b);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	unsigned long first, other, third;
	char rundir[256];
	ck_assert_msg(sscanf(r.out, "%lu %lu %lu %255s", &first, &other, &third, rundir) == 4,
		      "%s", r.out);
	ck_assert_msg(other != first, "a segment of another size was taken");
	ck_assert_msg(third == first, "the third image's segment is %lu, not the first's %lu",
		      third, first);
	ck_assert_int_eq(keptseg_files_exact(dir), 3);
	struct stat st;
	ck_assert_msg(stat(rundir, &st) < 0 && errno == ENOENT, "%s is left", rundir);
}
END_TEST

/* A link in run's pool to a segment that was not kept (the right size and seals, not
 * the kept magic) is claimed, and refused without a write: the image makes its own. */
START_TEST(a_forged_kept_segment_is_refused)
{
	char dir[256], script[1024];
	tt_tempdir(dir, sizeof(dir));
	const char *b = getenv("PROGS");
	snprintf(script, sizeof(script), "%s/keptseg fake %s/keptseg", b, b);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	unsigned long inode;
	int claimed = 0;
	char state[16];
	ck_assert_msg(sscanf(r.out, "%lu %15s %d", &inode, state, &claimed) == 3, "%s", r.out);
	ck_assert_msg(!strcmp(state, "intact") && claimed >= 1, "%s%s", r.out, r.err);
	ck_assert_int_eq(keptseg_files_exact(dir), 1);
}
END_TEST

/* A child made by _Fork, or by clone without CLONE_VM, runs no atfork handler: its
 * blocks are its own, in a file of its own, and none is its parent's. */
START_TEST(a_fork_without_atfork_handlers_is_traced_apart)
{
	for (int k = 0; k < 2; k++) {
		char dir[256];
		tt_tempdir(dir, sizeof(dir));
		char *argv[] = { "rawfork", k ? "clone" : NULL, NULL };
		struct run_result r;
		static char names[8][300];
		int n = run_for_files(dir, argv, &r, names, 8);
		ck_assert_int_eq(n, 2);
		int parent = tt_site_line("rawfork.c", "parent100");
		int child = tt_site_line("rawfork.c", "child700");
		int parents = 0, children = 0;
		for (int i = 0; i < n; i++) {
			profile_t *p = read_file(dir, names[i]);
			int64_t v[PV_COUNT];
			bool has_parent = tt_site_values(p, "rawfork.c", parent, v);
			if (has_parent) {
				ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 10);
				ck_assert_int_eq(v[PV_ALLOC_SPACE], 1000);
				parents++;
			}
			if (tt_site_values(p, "rawfork.c", child, v)) {
				ck_assert_msg(!has_parent, "%s: the child's blocks with the parent's",
					      names[i]);
				ck_assert_int_eq(v[PV_ALLOC_OBJECTS], 64);
				ck_assert_int_eq(v[PV_ALLOC_SPACE], 44800);
				children++;
			}
			profile_free(p);
		}
		ck_assert_int_eq(parents, 1);
		ck_assert_int_eq(children, 1);
	}
}
END_TEST

/* A bash subshell that execs: its exec file names bash's functions.  The collector
 * begins as the process may be exec'ing; it read the executable's name before the
 * exec and its file after, took the old program for one replaced while it ran, and
 * read it through /proc/PID/exe, the new program's: every bash frame was unnamed in
 * about one exec file in 200. */
START_TEST(an_exec_file_names_the_program_it_was)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "/bin/bash", "-c", "for i in $(seq 400); do x=$(/bin/true); done", NULL };
	struct run_result r;
	static char names[512][300];
	int n = run_for_files(dir, argv, &r, names, 512), checked = 0;
	ck_assert_int_ge(n, 400);
	for (int i = 0; i < n; i++) {
		profile_t *p = read_file(dir, names[i]);
		uint32_t in_bash = 0, named = 0;
		for (uint32_t l = 0; l < p->nlocations; l++) {
			const profile_location_t *loc = &p->locations[l];
			const char *path = loc->mapping < p->nmappings ? p->mappings[loc->mapping].path
								       : NULL;
			if (!path || strlen(path) < 5 || strcmp(path + strlen(path) - 5, "/bash"))
				continue;
			in_bash++;
			named += loc->nlines && loc->lines[loc->nlines - 1].function;
		}
		ck_assert_msg(!in_bash || named, "%s: none of %u bash frames named", names[i],
			      in_bash);
		checked += in_bash > 0;
		profile_free(p);
	}
	ck_assert_int_ge(checked, 100); /* the subshells that allocated before the exec */
}
END_TEST

/* A program whose exit falls inside the collector's read of its maps (which takes
 * about 20 ms here): the kernel ends the listing short once the memory has no users
 * left, and the collector, not finding its segment in what it read, took the exit for
 * an exec.  About one run in six ended in an exec file that said so. */
START_TEST(an_exit_during_the_exec_check_is_an_exit)
{
	char dir[256], prog[PATH_MAX], delay[16];
	tt_tempdir(dir, sizeof(dir));
	snprintf(prog, sizeof(prog), "%s/manymaps", getenv("PROGS"));
	static char names[64][300];
	const int runs = 30, keep = tt_site_line("manymaps.c", "keep");
	for (int i = 0; i < runs; i++) {
		/* Spread over two of the collector's 250 ms checks. */
		snprintf(delay, sizeof(delay), "%d", i * 499 / runs);
		char *argv[] = { prog, "20000", delay, NULL };
		struct run_result r;
		ck_assert_int_eq(run_for_files(dir, argv, &r, names, 64), i + 1);
	}
	for (int i = 0; i < runs; i++) {
		ck_assert_msg(strstr(names[i], ".exit.pb.gz"), "%s", names[i]);
		profile_t *p = read_file(dir, names[i]);
		ck_assert_str_eq(p->meta.trigger, "exit 0");
		int64_t v[PV_COUNT];
		ck_assert(tt_site_values(p, "manymaps.c", keep, v));
		ck_assert_int_eq(v[PV_INUSE_SPACE], 100);
		profile_free(p);
	}
}
END_TEST

START_TEST(run_socket_goes_to_tmpdir_else_a_tmpfs)
{
	char dir[256], tmp[] = "/tmp/hs-tmpdir.XXXXXX", want[320];
	tt_tempdir(dir, sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(tmp)); /* short: run passes over a TMPDIR of 40+ */
	char tmpdir[320];
	snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", tmp);
	for (int k = 0; k < 2; k++) {
		char *argv[] = { "/bin/sh", "-c", "echo \"$HEAPSNAP_RUN_SOCKET\"", NULL };
		char *env_tmp[] = { tmpdir, "XDG_RUNTIME_DIR=", NULL };
		char *env_none[] = { "TMPDIR=", "XDG_RUNTIME_DIR=", NULL };
		struct run_result r;
		tt_run_ok(dir, argv, k ? env_none : env_tmp, NULL, &r);
		snprintf(want, sizeof(want), "%s/heapsnap-run.",
			 !k ? tmp : access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp");
		ck_assert_msg(!strncmp(r.out, want, strlen(want)), "%s: %s", want, r.out);
		char *slash = strrchr(r.out, '/');
		ck_assert_ptr_nonnull(slash);
		*slash = '\0';
		struct stat st;
		ck_assert_msg(stat(r.out, &st) < 0 && errno == ENOENT, "%s is left", r.out);
	}
	rmdir(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("tree");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_file_is_there_when_run_returns);
	tcase_add_test(tc, a_make_build_leaves_every_file_and_no_process);
	tcase_add_test(tc, symbolizers_take_turns);
	tcase_add_test(tc, run_forwards_signals_and_snap_by_its_pid);
	tcase_add_test(tc, run_forwards_every_signal_and_stops_with_the_program);
	tcase_add_test(tc, a_lowered_address_space_limit_still_traces_forked_children);
	tcase_add_test(tc, a_low_open_files_limit_is_the_programs);
#ifndef __SANITIZE_ADDRESS__
	/* Not where heapsnap is built with ASan, whose shadow memory alone needs more
	 * address space than the limit leaves. */
	tcase_add_test(tc, an_address_space_limit_leaves_room_for_many_images);
#endif
	tcase_add_test(tc, a_return_from_main_reaped_at_once_keeps_its_status);
	tcase_add_test(tc, the_program_starts_with_its_signals_as_without_run);
	tcase_add_test(tc, host_ready_waits_through_signals);
	tcase_add_test(tc, collector_holds_no_program_fd);
	tcase_add_test(tc, run_hosts_collectors_as_if_execd);
	tcase_add_test(tc, the_host_ignores_stray_signals);
	tcase_add_test(tc, a_library_preloaded_into_run_stays_out_of_its_host);
	tcase_add_test(tc, one_host_collects_the_whole_tree);
	tcase_add_test(tc, pid_one_of_a_namespace_gets_its_exit_file);
	tcase_add_test(tc, a_lost_exit_file_is_said_aloud);
	tcase_add_test(tc, snap_never_uses_the_program_signal);
	tcase_add_test(tc, exit_file_carries_a_timeline);
	tcase_add_test(tc, a_fifo_at_a_module_path_hangs_nothing);
	tcase_add_test(tc, waiting_for_the_tree_is_bounded);
	tcase_add_test(tc, a_kept_segment_serves_the_next_image);
	tcase_add_test(tc, a_forged_kept_segment_is_refused);
	tcase_add_test(tc, a_fork_without_atfork_handlers_is_traced_apart);
	tcase_add_test(tc, an_exec_file_names_the_program_it_was);
	tcase_add_test(tc, an_exit_during_the_exec_check_is_an_exit);
	tcase_add_test(tc, run_waits_for_a_child_that_outlives_the_program);
	tcase_add_test(tc, run_socket_goes_to_tmpdir_else_a_tmpfs);
	suite_add_tcase(s, tc);
	return check_run(s);
}
