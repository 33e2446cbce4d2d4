/* tracetest.c - helpers for tests that run real programs under the real shim. */
#include "tracetest.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pprof.h"
#include "running.h"

static const char *env_path(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "environment variable %s is not set (run through meson test)", name);
	return v;
}

/* Every test directory lives under one root that the test program's first process
 * makes before Check forks the tests, and removes with everything in it when it exits:
 * a test that fails, times out or is killed leaves nothing in the temporary
 * directory.  The forked tests inherit the root's name but never remove it. */
static char tt_root[PATH_MAX];
static pid_t tt_root_owner;

static int tt_root_unlink(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		fprintf(stderr, "tracetest: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void tt_root_remove(void)
{
	if (tt_root[0] && getpid() == tt_root_owner)
		nftw(tt_root, tt_root_unlink, 32, FTW_DEPTH | FTW_PHYS);
}

__attribute__((constructor)) static void tt_root_make(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(tt_root, sizeof(tt_root), "%s/heapsnap-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tt_root)) {
		tt_root[0] = '\0'; /* tt_tempdir() says why */
		return;
	}
	tt_root_owner = getpid();
	atexit(tt_root_remove);
}

void tt_tempdir(char *out, size_t len)
{
	ck_assert_msg(tt_root[0], "cannot make a heapsnap-test-* directory in TMPDIR or /tmp");
	snprintf(out, len, "%s/t-XXXXXX", tt_root);
	ck_assert_ptr_nonnull(mkdtemp(out));
}

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	for (;;) {
		char scratch[4096];
		ssize_t n = read(fd, used + 1 < len ? buf + used : scratch,
				 used + 1 < len ? len - used - 1 : sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < len)
			used += (size_t)n;
	}
	buf[used] = '\0';
}

/* Runs argv with its stdout and stderr captured (stderr to a file, so a chatty
 * program cannot block on a full pipe while we read stdout). */
static void spawn(char *const argv[], char *const env[], struct run_result *r)
{
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	FILE *errf = tmpfile();
	ck_assert_ptr_nonnull(errf);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(fileno(errf), 2);
		close(out[0]);
		close(out[1]);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	slurp(out[0], r->out, sizeof(r->out));
	close(out[0]);
	ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
	rewind(errf);
	slurp(fileno(errf), r->err, sizeof(r->err));
	fclose(errf);
	/* Under -Db_sanitize the collector is sanitized and reports on this stderr. */
	ck_assert_msg(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		      "sanitizer report: %s", r->err);
}

static char *prog_path(const char *name)
{
	static char path[PATH_MAX];
	if (name[0] == '/')
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/%s", env_path("PROGS"), name);
	return path;
}

void tt_run(const char *dir, char *const argv[], char *const env[], struct run_result *r)
{
	char *full[64];
	int n = 0;
	full[n++] = (char *)env_path("HEAPSNAP");
	full[n++] = "run";
	full[n++] = "--dir";
	full[n++] = (char *)dir;
	full[n++] = "--";
	full[n++] = prog_path(argv[0]);
	for (int i = 1; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	spawn(full, env, r);
}

void tt_run_ok(const char *dir, char *const argv[], char *const env[], const char *want_out,
	       struct run_result *r)
{
	tt_run(dir, argv, env, r);
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
		      "%s: status %d: %s%s", argv[0], r->status, r->out, r->err);
	if (want_out)
		ck_assert_str_eq(r->out, want_out);
}

void tt_heapsnap(char *const args[], struct run_result *r)
{
	char *full[64];
	int n = 0;
	full[n++] = (char *)env_path("HEAPSNAP");
	for (int i = 0; args[i] && n < 63; i++)
		full[n++] = args[i];
	full[n] = NULL;
	spawn(full, NULL, r);
}

pid_t tt_heapsnap_quietly(char *const args[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execv(env_path("HEAPSNAP"), args);
		_exit(127);
	}
	return pid;
}

void tt_run_plain(char *const argv[], struct run_result *r)
{
	char *full[64];
	int n = 0;
	full[n++] = prog_path(argv[0]);
	for (int i = 1; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	spawn(full, NULL, r);
}

void tt_run_alike(const char *dir, char *const argv[], struct run_result *r)
{
	struct run_result plain;
	tt_run(dir, argv, NULL, r);
	tt_run_plain(argv, &plain);
	ck_assert_str_eq(r->out, plain.out);
	ck_assert_int_eq(r->status, plain.status);
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s %s: status %d: %s",
		      argv[0], argv[1] ? argv[1] : "", r->status, r->err);
}

profile_t *tt_snapshot(const char *dir, pid_t pid, const char *name, double wait_s)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.%s.pb.gz", dir, (int)pid, name);
	struct timespec step = { 0, 10 * 1000 * 1000 };
	for (double waited = 0; access(path, F_OK) != 0 && waited < wait_s; waited += 0.01)
		nanosleep(&step, NULL);
	profile_t *p = NULL;
	pprof_error_t err;
	int r = pprof_read_file(path, &p, &err);
	if (r < 0) {
		char listing[2048] = "";
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && strlen(listing) + strlen(e->d_name) + 2 < sizeof(listing))
				strcat(strcat(listing, " "), e->d_name);
		if (d)
			closedir(d);
		ck_abort_msg("cannot read %s: %s (the directory holds:%s)", path, err.why, listing);
	}
	return p;
}

int tt_site_line(const char *file, const char *site)
{
	char path[PATH_MAX], line[1024];
	snprintf(path, sizeof(path), "%s/%s", env_path("PROGS_SRC"), file);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t len = strlen(site);
	for (int n = 1; fgets(line, sizeof(line), f); n++) {
		for (const char *at = line; (at = strstr(at, "site:")); ) {
			at += 5;
			if (!strncmp(at, site, len) && !isalnum((unsigned char)at[len]) &&
			    at[len] != '_') {
				fclose(f);
				return n;
			}
		}
	}
	fclose(f);
	ck_abort_msg("no marker site:%s in %s", site, path);
	return -1;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int tt_site_values(const profile_t *p, const char *file, int line, int64_t v[PV_COUNT])
{
	int matched = 0;
	memset(v, 0, PV_COUNT * sizeof(*v));
	for (size_t i = 0; i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		if (!s->nlocs)
			continue;
		const profile_location_t *loc = &p->locations[s->locs[0]];
		if (!loc->nlines || !loc->lines[0].file || loc->lines[0].line != line ||
		    strcmp(basename_of(loc->lines[0].file), file))
			continue;
		for (int k = 0; k < PV_COUNT; k++)
			v[k] += s->value[k];
		matched++;
	}
	return matched;
}

int tt_site_named(const profile_t *p, const char *file, const char *site, int64_t v[PV_COUNT])
{
	return tt_site_values(p, file, tt_site_line(file, site), v);
}

void tt_start(const char *dir, const char *prog, char *const env[], struct tt_proc *p)
{
	tt_start_opts(dir, NULL, prog, env, p);
}

void tt_start_opts(const char *dir, const char *const opts[], const char *prog,
		   char *const env[], struct tt_proc *p)
{
	int in[2], out[2];
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	FILE *errf = tmpfile();
	ck_assert_ptr_nonnull(errf);
	p->err_fd = dup(fileno(errf));
	fclose(errf);
	p->run = fork();
	ck_assert_int_ge(p->run, 0);
	if (p->run == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(p->err_fd, 2);
		close(in[1]);
		close(out[0]);
		for (int i = 0; env && env[i]; i++)
			putenv(env[i]);
		if (!dir) {
			execl(prog_path(prog), prog, (char *)NULL);
			_exit(127);
		}
		const char *argv[32] = { "heapsnap", "run", "--dir", dir };
		int n = 4;
		for (int i = 0; opts && opts[i] && n < 29; i++)
			argv[n++] = opts[i];
		argv[n++] = "--";
		argv[n++] = prog_path(prog);
		argv[n] = NULL;
		execv(env_path("HEAPSNAP"), (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = fdopen(in[1], "w");
	p->out = fdopen(out[0], "r");
	int pid = 0;
	char line[64];
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p->out));
	ck_assert_int_eq(sscanf(line, "ready %d", &pid), 1);
	p->pid = (pid_t)pid;
}

int tt_finish(struct tt_proc *p, char *err, size_t len)
{
	if (p->in)
		fclose(p->in);
	fclose(p->out);
	int st;
	ck_assert_int_eq(waitpid(p->run, &st, 0), p->run);
	lseek(p->err_fd, 0, SEEK_SET);
	slurp(p->err_fd, err, len);
	close(p->err_fd);
	return st;
}

pid_t tt_start_collected(char *dir, size_t dirlen, const char *prog, struct tt_proc *p)
{
	tt_tempdir(dir, dirlen);
	tt_start(dir, prog, NULL, p);
	pid_t collector = tt_collector_pid(p->pid);
	ck_assert_int_gt(collector, 0);
	return collector;
}

long tt_proc_status(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	size_t n = strlen(field);
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n))
			v = atol(line + n);
	if (f)
		fclose(f);
	return v;
}

pid_t tt_tgid_of(pid_t tid)
{
	long tgid = tt_proc_status(tid, "Tgid:");
	return tgid > 0 ? (pid_t)tgid : 0;
}

pid_t tt_collector_pid(pid_t pid)
{
	/* The collector's command line exists once it has exec'd: give it a moment. */
	static struct running_collector rc;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	for (int tries = 0; tries < 100; tries++) {
		if (running_collector_find(pid, &rc))
			return rc.pid;
		nanosleep(&pause, NULL);
	}
	return 0;
}
