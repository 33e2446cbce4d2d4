/* corpusrun.h - running a real program three ways for the corpus test: untraced, under
 * `heapsnap run`, and under countshim.so, with environments that are byte for byte
 * the same size in all three.
 *
 * tracetest's tt_run keeps 8 KiB of stdout and runs in the caller's directory; the
 * corpus programs write megabytes, need a working directory and a controlled
 * environment, and are timed, so they run here, with stdout and stderr in files.
 *
 * Why the environments matter: a program may copy its environment onto the heap
 * (python's os.environ, bash's variables), so the counted run must see what the
 * traced run sees.  `heapsnap run` adds LD_PRELOAD=<shim>, HEAPSNAP_RUN_SOCKET=<its
 * socket>, HEAPSNAP_COLLECTOR=<itself> and HEAPSNAP_DIR=<dir>.  The counted run gets
 * the same four, its LD_PRELOAD padded with extra slashes to the shim path's length
 * and a socket path of the same shape.  Paths come from the environment meson sets: HEAPSNAP,
 * HEAPSNAP_SHIM, COUNTSHIM and CORPUS_SRC.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "countshim.h"
#include "profile.h"

enum corpus_mode { CORPUS_PLAIN, CORPUS_TRACED, CORPUS_COUNTED };

struct corpus_env {
	char root[1024];               /* the test's temporary directory */
	char heapsnap[PATH_MAX];       /* the heapsnap binary, resolved */
	char preload_count[PATH_MAX];  /* countshim.so, padded to the shim path's length */
	char count_dir[PATH_MAX];      /* where countshim.so writes */
	char *vars[32];                /* the programs' environment, NULL-terminated */
	int nvars;
	char store[8192];              /* the strings vars points into */
	size_t used;
};

struct corpus_run {
	int status;      /* waitpid status */
	double seconds;  /* wall time */
	pid_t pid;       /* the program's pid; traced: as `heapsnap run` reported it */
};

/* Fails the test, naming the Debian package to install, when `program` (an absolute
 * path, or a name looked up in $PATH) is not an executable. */
void corpus_require(const char *program, const char *package);

/* Sets e up under a fresh temporary directory: the base environment (PATH, HOME,
 * LC_ALL=C, TZ, TMPDIR, COUNTSHIM_DIR), plus `extra` ("K=V" strings, NULL-terminated,
 * or NULL). */
void corpus_env_init(struct corpus_env *e, const char *const *extra);

/* "$CORPUS_SRC/name": a file of tests/corpus. */
const char *corpus_src(const char *name, char *buf, size_t len);

/* Runs argv (argv[0] absolute) in cwd with stdin from /dev/null and stdout and stderr
 * into the named files.  Traced runs write snapshots to snap_dir; counted runs get
 * HEAPSNAP_DIR=snap_dir too, so both see the same environment. */
void corpus_exec(const struct corpus_env *e, enum corpus_mode mode, char *const argv[],
		 const char *cwd, const char *snap_dir, const char *out_path,
		 const char *err_path, struct corpus_run *r);

/* Waits until no collector writing to snap_dir is left (each traced process has one,
 * and `heapsnap run` waits for the main process's only).  Fails after timeout_s. */
void corpus_wait_collectors(const char *snap_dir, double timeout_s);

/* True when the two files hold the same bytes, or with strip_heapsnap_lines, the same
 * lines once heapsnap's own ("heapsnap: ...", "heapsnap[PID]: ...") are left out.
 * When they differ, why[] says where. */
bool corpus_same_file(const char *a, const char *b, bool strip_heapsnap_lines, char *why,
		      size_t why_len);

/* Sums alloc_objects and alloc_space over the heap samples of p (domain 0: what
 * countshim counts; not the mmap domain). */
void corpus_alloc_totals(const profile_t *p, int64_t *objects, int64_t *bytes);

/* Reads count_dir/count.PID.IMAGE; fails the test when it is missing or malformed. */
void corpus_read_count(const struct corpus_env *e, pid_t pid, int image,
		       struct countshim_file *out);

/* Sums every counter file in count_dir; returns how many there were. */
int corpus_count_all(const struct corpus_env *e, uint64_t *calls, uint64_t *bytes);

/* Runs `$HEAPSNAP top FILE` and returns its exit status (-1: did not exit). */
int corpus_heapsnap_top(const struct corpus_env *e, const char *file);

/* Runs `go tool pprof -top FILES...` (pprof merges several) and returns its exit
 * status; its stderr goes to err_path. */
int corpus_pprof_top(const struct corpus_env *e, char *const files[], int nfiles,
		     const char *err_path);
