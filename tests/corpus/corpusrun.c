/* corpusrun.c - running a real program untraced, traced and counted (corpusrun.h).
 *
 * Each run is a fork and an execve with a constructed environment, stdin from
 * /dev/null and stdout/stderr in files, timed with CLOCK_MONOTONIC.  A traced run is
 * `$HEAPSNAP run --dir DIR -- argv`; its program's pid comes from run's report line.
 */
#include "corpusrun.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracetest.h"

extern char **environ;

static const char *env_path(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "environment variable %s is not set (run through meson test)", name);
	return v;
}

static bool find_in_path(const char *name, char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	for (path = path ? path : "/usr/bin:/bin"; *path;) {
		size_t n = strcspn(path, ":");
		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
		if (access(out, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

void corpus_require(const char *program, const char *package)
{
	char path[PATH_MAX];
	ck_assert_msg(find_in_path(program, path, sizeof(path)),
		      "%s is not installed: install the Debian package '%s' "
		      "(apt-get install %s)", program, package, package);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Adds "name=value" to e's environment. */
static void env_add(struct corpus_env *e, const char *name, const char *value)
{
	int n = snprintf(e->store + e->used, sizeof(e->store) - e->used, "%s=%s", name, value);
	ck_assert_msg(n > 0 && e->used + (size_t)n < sizeof(e->store) && e->nvars + 1 < 32,
		      "corpus environment too large");
	e->vars[e->nvars++] = e->store + e->used;
	e->vars[e->nvars] = NULL;
	e->used += (size_t)n + 1;
}

/* Gives countshim.so a path as long as the shim's: extra slashes after the first one
 * (through a short symlink in root when its own path is the longer). */
static void pad_preload(struct corpus_env *e)
{
	char shim[PATH_MAX], count[PATH_MAX];
	ck_assert_ptr_nonnull(realpath(env_path("HEAPSNAP_SHIM"), shim));
	ck_assert_ptr_nonnull(realpath(env_path("COUNTSHIM"), count));
	if (strlen(count) > strlen(shim)) {
		snprintf(count, sizeof(count), "%s/c.so", e->root);
		ck_assert_int_eq(symlink(env_path("COUNTSHIM"), count), 0);
	}
	size_t pad = strlen(shim) - strlen(count);
	ck_assert_msg(strlen(count) <= strlen(shim),
		      "cannot give countshim.so a path as short as %s", shim);
	memset(e->preload_count, '/', pad);
	snprintf(e->preload_count + pad, sizeof(e->preload_count) - pad, "%s", count);
}

void corpus_env_init(struct corpus_env *e, const char *const *extra)
{
	memset(e, 0, sizeof(*e));
	tt_tempdir(e->root, sizeof(e->root));
	ck_assert_ptr_nonnull(realpath(env_path("HEAPSNAP"), e->heapsnap));
	pad_preload(e);
	char path[PATH_MAX + 16];
	snprintf(e->count_dir, sizeof(e->count_dir), "%s/count", e->root);
	ck_assert_int_eq(mkdir(e->count_dir, 0755), 0);
	env_add(e, "PATH", "/usr/bin:/bin");
	snprintf(path, sizeof(path), "%s/home", e->root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	env_add(e, "HOME", path);
	snprintf(path, sizeof(path), "%s/tmp", e->root);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	env_add(e, "TMPDIR", path);
	env_add(e, "LC_ALL", "C");
	env_add(e, "TZ", "UTC");
	env_add(e, COUNTSHIM_ENV_DIR, e->count_dir);
	for (int i = 0; extra && extra[i]; i++) {
		const char *eq = strchr(extra[i], '=');
		ck_assert_ptr_nonnull(eq);
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - extra[i]), extra[i]);
		env_add(e, name, eq + 1);
	}
}

const char *corpus_src(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", env_path("CORPUS_SRC"), name);
	return buf;
}

/* Forks, redirects, chdirs and execs; returns the child's pid. */
static pid_t start(char *const argv[], char *const envp[], const char *cwd, const char *out,
		   const char *err)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		if (cwd && chdir(cwd) < 0) {
			dprintf(2, "cannot enter %s: %s\n", cwd, strerror(errno));
			_exit(126);
		}
		execve(argv[0], argv, envp);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* The pid in `heapsnap run`'s report line "heapsnap: FILE (pid N, ...)". */
static pid_t reported_pid(const char *err_path)
{
	FILE *f = fopen(err_path, "r");
	ck_assert_ptr_nonnull(f);
	char line[PATH_MAX + 128];
	pid_t pid = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *at = strstr(line, " (pid ");
		if (!strncmp(line, "heapsnap: ", 10) && at)
			pid = (pid_t)atoi(at + 6);
	}
	fclose(f);
	return pid;
}

void corpus_exec(const struct corpus_env *e, enum corpus_mode mode, char *const argv[],
		 const char *cwd, const char *snap_dir, const char *out_path,
		 const char *err_path, struct corpus_run *r)
{
	char *full[64], *envp[40];
	char preload[PATH_MAX + 16], collector[PATH_MAX + 32], dir[PATH_MAX + 16];
	char sock[PATH_MAX + 32];
	int n = 0, m = 0;
	for (int i = 0; i < e->nvars; i++)
		envp[m++] = e->vars[i];
	if (mode == CORPUS_TRACED) {
		full[n++] = (char *)e->heapsnap;
		full[n++] = "run";
		full[n++] = "--dir";
		full[n++] = (char *)snap_dir;
		full[n++] = "--";
	} else if (mode == CORPUS_COUNTED) {
		/* What `heapsnap run` sets, in its order, with countshim.so preloaded. */
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", e->preload_count);
		snprintf(collector, sizeof(collector), "HEAPSNAP_COLLECTOR=%s", e->heapsnap);
		snprintf(dir, sizeof(dir), "HEAPSNAP_DIR=%s", snap_dir);
		/* run's socket path has this shape and length (runtree_mkdir() in
		 * analyzer/cli/runtree.c); the environment here has no XDG_RUNTIME_DIR. */
		const char *tmp = access("/dev/shm", W_OK | X_OK) ? "/tmp" : "/dev/shm";
		for (int i = 0; i < e->nvars; i++)
			if (!strncmp(e->vars[i], "TMPDIR=/", 8) && strlen(e->vars[i] + 7) <= 40)
				tmp = e->vars[i] + 7;
		snprintf(sock, sizeof(sock), "HEAPSNAP_RUN_SOCKET=%s/heapsnap-run.XXXXXX/run.sock",
			 tmp);
		envp[m++] = preload;
		envp[m++] = sock;
		envp[m++] = collector;
		envp[m++] = dir;
	}
	envp[m] = NULL;
	for (int i = 0; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	double t0 = now_seconds();
	pid_t pid = start(full, envp, cwd, out_path, err_path);
	ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
	r->seconds = now_seconds() - t0;
	r->pid = mode == CORPUS_TRACED ? reported_pid(err_path) : pid;
	ck_assert_msg(mode != CORPUS_TRACED || r->pid > 0,
		      "heapsnap run reported no exit snapshot for %s (see %s)", argv[0], err_path);
}

/* True when /proc/PID/cmdline is a `heapsnap collect ... --dir snap_dir ...`. */
static bool collects_into(const char *pid, const char *snap_dir)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	bool collect = false, dir_next = false;
	for (char *arg = buf; arg < buf + len; arg += strlen(arg) + 1) {
		if (!strcmp(arg, "collect"))
			collect = true;
		else if (dir_next && collect && !strcmp(arg, snap_dir))
			return true;
		dir_next = !strcmp(arg, "--dir");
	}
	return false;
}

void corpus_wait_collectors(const char *snap_dir, double timeout_s)
{
	double until = now_seconds() + timeout_s;
	for (;;) {
		bool busy = false;
		DIR *d = opendir("/proc");
		ck_assert_ptr_nonnull(d);
		for (struct dirent *de; !busy && (de = readdir(d));)
			busy = de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
			       collects_into(de->d_name, snap_dir);
		closedir(d);
		if (!busy)
			return;
		ck_assert_msg(now_seconds() < until, "collectors for %s still running after %.0f s",
			      snap_dir, timeout_s);
		struct timespec step = { 0, 20 * 1000 * 1000 };
		nanosleep(&step, NULL);
	}
}

/* Reads the next line, or returns false at the end; lines past buf's size are split. */
static bool next_line(FILE *f, char *buf, size_t len, bool strip)
{
	while (fgets(buf, (int)len, f))
		if (!strip || (strncmp(buf, "heapsnap: ", 10) && strncmp(buf, "heapsnap[", 9)))
			return true;
	return false;
}

bool corpus_same_file(const char *a, const char *b, bool strip_heapsnap_lines, char *why,
		      size_t why_len)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	ck_assert_msg(fa && fb, "cannot open %s or %s", a, b);
	bool same = true;
	if (!strip_heapsnap_lines) {
		long off = 0;
		for (int ca, cb;; off++) {
			ca = getc(fa);
			cb = getc(fb);
			if (ca != cb) {
				snprintf(why, why_len, "they differ at byte %ld", off);
				same = false;
				break;
			}
			if (ca == EOF)
				break;
		}
	} else {
		static char la[65536], lb[65536];
		for (long line = 1;; line++) {
			bool ha = next_line(fa, la, sizeof(la), true);
			bool hb = next_line(fb, lb, sizeof(lb), true);
			if (ha != hb || (ha && strcmp(la, lb))) {
				snprintf(why, why_len, "they differ at line %ld: '%.200s' vs '%.200s'",
					 line, ha ? la : "(end)", hb ? lb : "(end)");
				same = false;
				break;
			}
			if (!ha)
				break;
		}
	}
	fclose(fa);
	fclose(fb);
	return same;
}

void corpus_alloc_totals(const profile_t *p, int64_t *objects, int64_t *bytes)
{
	*objects = *bytes = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		if (p->samples[i].domain != 0)
			continue; /* countshim counts the heap's calls: not mmap's */
		*objects += p->samples[i].value[PV_ALLOC_OBJECTS];
		*bytes += p->samples[i].value[PV_ALLOC_SPACE];
	}
}

static bool read_count_file(const char *path, struct countshim_file *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, out, sizeof(*out));
	close(fd);
	return n == (ssize_t)sizeof(*out) && out->magic == COUNTSHIM_MAGIC;
}

void corpus_read_count(const struct corpus_env *e, pid_t pid, int image,
		       struct countshim_file *out)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/count.%d.%d", e->count_dir, (int)pid, image);
	ck_assert_msg(read_count_file(path, out), "countshim wrote no valid %s", path);
}

int corpus_count_all(const struct corpus_env *e, uint64_t *calls, uint64_t *bytes)
{
	*calls = *bytes = 0;
	int n = 0;
	DIR *d = opendir(e->count_dir);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *de; (de = readdir(d));) {
		char path[PATH_MAX + 300];
		struct countshim_file c;
		snprintf(path, sizeof(path), "%s/%s", e->count_dir, de->d_name);
		if (de->d_name[0] == '.' || !read_count_file(path, &c))
			continue;
		*calls += c.alloc_calls;
		*bytes += c.alloc_bytes;
		n++;
	}
	closedir(d);
	return n;
}

/* Runs argv with the test's own environment, output to /dev/null (stderr to err). */
static int run_tool(char *const argv[], const char *err)
{
	pid_t pid = start(argv, environ, NULL, "/dev/null", err ? err : "/dev/null");
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int corpus_heapsnap_top(const struct corpus_env *e, const char *file)
{
	char *argv[] = { (char *)e->heapsnap, "top", (char *)file, NULL };
	return run_tool(argv, NULL);
}

int corpus_pprof_top(const struct corpus_env *e, char *const files[], int nfiles,
		     const char *err_path)
{
	(void)e;
	char go[PATH_MAX];
	ck_assert_msg(find_in_path("go", go, sizeof(go)),
		      "go is not installed: install the Debian package 'golang-go'");
	char **argv = calloc((size_t)nfiles + 5, sizeof(*argv));
	ck_assert_ptr_nonnull(argv);
	int n = 0;
	argv[n++] = go;
	argv[n++] = "tool";
	argv[n++] = "pprof";
	argv[n++] = "-top";
	for (int i = 0; i < nfiles; i++)
		argv[n++] = files[i];
	int r = run_tool(argv, err_path);
	free(argv);
	return r;
}
