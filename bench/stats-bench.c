/* stats-bench.c - heapsnap top and diff on a snapshot of 1,000,000 unique stacks.
 *
 * usage: stats-bench HEAPSNAP [RUNS [STACKS]]   (defaults: 3 runs, 1000000)
 *
 * Builds a profile in memory with the profile builder API, shaped like a large
 * server's exit snapshot: five modules (the program, three of its libraries with
 * file:line information, and libc.so.6 with function names only), about 20,000
 * locations spread over 2,500 functions in about 310 files, one in five with inlined
 * lines, and STACKS unique stacks.  Every stack is libc's malloc followed by 12 to 20
 * frames (16 on average): the innermost ones mostly in the libraries, the outer ones in the
 * program, ending in main (or a thread's start routine) and libc's start code; a few
 * are cut at the frame limit and marked truncated.  Locations are picked with a skew,
 * so some lines are hot, as in a real program.  All six values are set.  The profile
 * is written with pprof_write_fd to a temporary file and freed, then each command
 * below runs RUNS times as a child of this process:
 *
 *   heapsnap top FILE -n 10 -k lineno | -k traceback | --cumulative
 *   heapsnap diff FILE FILE -n 10
 *
 * measuring wall time (fork to reap) and the child's peak RSS (wait4's ru_maxrss).
 * Prints the medians, the last line each command printed, and a PASS or MISS line
 * against the targets: 2 s and 1 GiB per command.  Exit status: 0 after measuring
 * (a missed target is reported, not failed on, as wall time on a shared machine is
 * noisy), 1 when the snapshot cannot be built or written or a command fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pprof.h"
#include "profile.h"

#define MAX_RUNS 15
#define TARGET_WALL_S 2.0
#define TARGET_RSS_MIB 1024.0
#define FRAMES_MIN 12   /* frames after malloc */
#define FRAMES_SPAN 9   /* ... up to FRAMES_MIN + FRAMES_SPAN - 1 */
#define FRAME_LIMIT 21  /* malloc plus the deepest stack */

/* The modules with source information; libc is added apart. */
enum { M_SERVER, M_CORE, M_NET, M_PROTO, NMODS };

static const struct module_spec {
	const char *path;
	const char *build_id;
	const char *src;    /* source directory */
	const char *prefix; /* function name prefix */
	uint32_t nlocs;
	uint64_t start;
} mods[NMODS] = {
	{ "/opt/shop/bin/shopd", "5f0c6e3a9b1d2e4f60718293a4b5c6d7e8f90a1b",
	  "/src/shop/server", "srv", 8000, 0x55d4c3a00000 },
	{ "/opt/shop/lib/libshopcore.so.3", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4",
	  "/src/shop/core", "core", 6000, 0x7f61a2000000 },
	{ "/opt/shop/lib/libshopnet.so.3", "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d",
	  "/src/shop/net", "net", 3500, 0x7f61a4000000 },
	{ "/opt/shop/lib/libshopproto.so.3", "9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6",
	  "/src/shop/proto", "proto", 2500, 0x7f61a6000000 },
};

#define LOCS_PER_FUNCTION 8
#define FUNCTIONS_PER_FILE 8

static const char *const verbs[] = {
	"parse", "build", "insert", "lookup", "encode", "decode", "handle", "dispatch",
	"flush", "load", "merge", "split", "copy", "resize", "read", "write",
};
static const char *const nouns[] = {
	"request", "header", "buffer", "table", "node", "entry", "session", "record",
	"string", "vector", "map", "chunk", "message", "frame", "token", "index",
};

/* libc's frames: function names from the symbol table, no source lines. */
enum { LIBC_MALLOC, LIBC_START_CALL_MAIN, LIBC_START_MAIN, LIBC_START_THREAD, LIBC_CLONE3,
       NLIBC };
static const struct {
	const char *function;
	uint64_t offset;
} libc_frames[NLIBC] = {
	{ "malloc", 0x9a0f0 }, { "__libc_start_call_main", 0x271ca },
	{ "__libc_start_main_impl", 0x27285 }, { "start_thread", 0x88fd4 },
	{ "clone3", 0x1095bc },
};
#define LIBC_PATH "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBC_START 0x7f61a8026000

struct world {
	uint32_t mapping[NMODS];
	uint32_t *locs[NMODS];      /* profile location of each module location */
	uint32_t libc[NLIBC];
	uint32_t srv_main, srv_start, srv_worker;
	uint32_t nlocations;
	int64_t inuse_blocks;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* splitmix64: deterministic, so every run builds the same profile. */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(((rng() >> 32) * n) >> 32);
}

/* Skewed towards 0: index floor(n * u^3), so the first locations are hot. */
static uint32_t rng_skewed(uint32_t n)
{
	double u = (double)(rng() >> 11) * 0x1.0p-53;
	uint32_t i = (uint32_t)((double)n * u * u * u);
	return i < n ? i : n - 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int add_mapping(profile_t *p, const char *path, const char *build_id, uint64_t start,
		       uint32_t *index_out)
{
	profile_mapping_t m = {
		.start = start, .limit = start + 0x400000, .offset = 0x1000,
		.path = path, .build_id = build_id,
	};
	return profile_add_mapping(p, &m, index_out);
}

/* Adds module m's locations: location j is in function j / 8, in file function / 8;
 * one in five also has one or two inlined lines from a header of the module. */
static int add_module(profile_t *p, struct world *w, int m)
{
	const struct module_spec *s = &mods[m];
	uint32_t mapping;
	if (add_mapping(p, s->path, s->build_id, s->start, &mapping) < 0)
		return -ENOMEM;
	w->mapping[m] = mapping;
	w->locs[m] = malloc(s->nlocs * sizeof(*w->locs[m]));
	if (!w->locs[m])
		return -ENOMEM;
	char fn[3][96], file[3][160];
	for (uint32_t j = 0; j < s->nlocs; j++) {
		uint32_t f = j / LOCS_PER_FUNCTION, file_no = f / FUNCTIONS_PER_FILE;
		const char *noun = nouns[file_no % 16];
		profile_line_t lines[3];
		uint32_t n = 0, roll = rng_below(100);
		/* Inlined lines come first (innermost), the real frame last. */
		for (uint32_t k = 0; k < (roll < 5 ? 2u : roll < 20 ? 1u : 0u); k++, n++) {
			uint32_t h = rng_below(64);
			snprintf(fn[n], sizeof(fn[n]), "%s_%s_%s", s->prefix, nouns[h % 16],
				 k ? "len" : "at");
			snprintf(file[n], sizeof(file[n]), "%s/include/%s.h", s->src, nouns[h % 16]);
			lines[n] = (profile_line_t){ fn[n], file[n], 40 + 12 * (int64_t)(h / 16) + k };
		}
		snprintf(fn[n], sizeof(fn[n]), "%s_%s_%s_%u", s->prefix, noun,
			 verbs[f % 16], f);
		snprintf(file[n], sizeof(file[n]), "%s/%s_%u.c", s->src, noun, file_no);
		lines[n] = (profile_line_t){
			fn[n], file[n],
			30 + 90 * (int64_t)(f % FUNCTIONS_PER_FILE) + 9 * (int64_t)(j % LOCS_PER_FUNCTION),
		};
		n++;
		uint64_t address = s->start + 0x1000 + (uint64_t)j * 0x38 + rng_below(0x30);
		if (profile_add_location(p, address, mapping, lines, n, &w->locs[m][j]) < 0)
			return -ENOMEM;
	}
	w->nlocations += s->nlocs;
	return 0;
}

/* The program's root frames (main, _start, the worker's start routine) and libc's. */
static int add_fixed_locations(profile_t *p, struct world *w)
{
	uint32_t libc_mapping;
	if (add_mapping(p, LIBC_PATH, "58254ca972028402bc40624f81388d85ec95f70d", LIBC_START,
			&libc_mapping) < 0)
		return -ENOMEM;
	for (int i = 0; i < NLIBC; i++) {
		profile_line_t l = { libc_frames[i].function, NULL, 0 };
		if (profile_add_location(p, LIBC_START + libc_frames[i].offset, libc_mapping, &l, 1,
					 &w->libc[i]) < 0)
			return -ENOMEM;
	}
	const uint64_t srv = mods[M_SERVER].start;
	profile_line_t main_l = { "main", "/src/shop/server/main.c", 212 };
	profile_line_t start_l = { "_start", NULL, 0 };
	profile_line_t worker_l = { "srv_worker_main", "/src/shop/server/worker.c", 88 };
	const uint32_t m = w->mapping[M_SERVER];
	if (profile_add_location(p, srv + 0x2f3a1, m, &main_l, 1, &w->srv_main) < 0 ||
	    profile_add_location(p, srv + 0x2f5e5, m, &start_l, 1, &w->srv_start) < 0 ||
	    profile_add_location(p, srv + 0x31c07, m, &worker_l, 1, &w->srv_worker) < 0)
		return -ENOMEM;
	w->nlocations += NLIBC + 3;
	return 0;
}

/* The module of the frame at depth k (0 is malloc's caller): libraries inside,
 * the program outside. */
static int pick_module(uint32_t k)
{
	static const int inner[10] = { M_CORE, M_CORE, M_CORE, M_CORE, M_PROTO, M_PROTO,
				       M_PROTO, M_NET, M_NET, M_SERVER };
	static const int outer[10] = { M_SERVER, M_SERVER, M_SERVER, M_SERVER, M_SERVER,
				       M_CORE, M_CORE, M_NET, M_NET, M_PROTO };
	return (k < 3 ? inner : outer)[rng_below(10)];
}

static uint64_t stack_hash(const uint32_t *locs, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (uint32_t i = 0; i < n; i++) {
		h = (h ^ locs[i]) * 0x100000001b3u;
		h ^= h >> 29;
	}
	return h | 1; /* 0 marks an empty slot */
}

/* Inserts h into the open-addressing set; false when it was there already. */
static bool set_insert(uint64_t *set, uint64_t mask, uint64_t h)
{
	for (uint64_t i = h & mask;; i = (i + 1) & mask) {
		if (set[i] == h)
			return false;
		if (!set[i]) {
			set[i] = h;
			return true;
		}
	}
}

/* Fills locs with one stack; returns its length and sets *truncated. */
static uint32_t make_stack(const struct world *w, uint32_t *locs, bool *truncated)
{
	uint32_t n = 0;
	locs[n++] = w->libc[LIBC_MALLOC];
	uint32_t depth = FRAMES_MIN + rng_below(FRAMES_SPAN);
	*truncated = rng_below(100) < 3;
	bool worker = rng_below(10) < 3;
	uint32_t roots = *truncated ? 0 : worker ? 3 : 4;
	if (*truncated)
		depth = FRAMES_MIN + FRAMES_SPAN - 1;
	for (uint32_t k = 0; k < depth - roots; k++) {
		int m = pick_module(k);
		locs[n++] = w->locs[m][rng_skewed(mods[m].nlocs)];
	}
	if (roots == 4) {
		locs[n++] = w->srv_main;
		locs[n++] = w->libc[LIBC_START_CALL_MAIN];
		locs[n++] = w->libc[LIBC_START_MAIN];
		locs[n++] = w->srv_start;
	} else if (roots == 3) {
		locs[n++] = w->srv_worker;
		locs[n++] = w->libc[LIBC_START_THREAD];
		locs[n++] = w->libc[LIBC_CLONE3];
	}
	return n;
}

/* Values of one stack: a quarter freed everything, the others hold a few blocks of
 * one size between 16 B and 8 KiB. */
static void make_values(int64_t v[PV_COUNT])
{
	int64_t size = ((int64_t)1 << (4 + rng_below(10))) + 8 * (int64_t)rng_below(4);
	int64_t inuse = rng_below(4) == 0 ? 0 : 1 + (int64_t)(rng_skewed(64));
	int64_t alloc = inuse + (inuse ? 0 : 1) + (int64_t)rng_below(32);
	int64_t peak = inuse + (int64_t)rng_below((uint32_t)(alloc - inuse + 1));
	v[PV_ALLOC_OBJECTS] = alloc;
	v[PV_ALLOC_SPACE] = alloc * size;
	v[PV_INUSE_OBJECTS] = inuse;
	v[PV_INUSE_SPACE] = inuse * size;
	v[PV_PEAK_OBJECTS] = peak;
	v[PV_PEAK_SPACE] = peak * size;
}

/* Builds the benchmark profile.  Returns 0 and sets *out, or -ENOMEM. */
static int build_profile(size_t nstacks, struct world *w, profile_t **out)
{
	profile_t *p = profile_new();
	uint64_t mask = 1;
	while (mask < nstacks * 2)
		mask <<= 1;
	uint64_t *set = calloc(mask--, sizeof(*set));
	int r = p && set ? 0 : -ENOMEM;
	for (int m = 0; r == 0 && m < NMODS; m++)
		r = add_module(p, w, m);
	if (r == 0)
		r = add_fixed_locations(p, w);
	int64_t current = 0, peak = 0;
	for (size_t i = 0; r == 0 && i < nstacks; i++) {
		uint32_t locs[FRAME_LIMIT];
		bool truncated;
		uint32_t n;
		do
			n = make_stack(w, locs, &truncated);
		while (!set_insert(set, mask, stack_hash(locs, n)));
		int64_t v[PV_COUNT];
		make_values(v);
		current += v[PV_INUSE_SPACE];
		peak += v[PV_PEAK_SPACE];
		w->inuse_blocks += v[PV_INUSE_OBJECTS];
		r = profile_add_sample(p, locs, n, v, 0, truncated);
	}
	free(set);
	if (r < 0) {
		profile_free(p);
		return r;
	}
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	p->meta.pid = 4242;
	p->meta.command = profile_intern(p, "/opt/shop/bin/shopd --config /etc/shop/shopd.conf");
	p->meta.trigger = profile_intern(p, "exit 0");
	p->meta.time_nanos = INT64_C(1700000000) * 1000000000;
	p->meta.duration_nanos = INT64_C(3600) * 1000000000;
	p->meta.frame_limit = FRAME_LIMIT;
	p->meta.sampling_period = 0;
	p->meta.current_bytes = current;
	p->meta.peak_bytes = peak;
	p->meta.lost_events = 0;
	p->meta.untracked_events = 0;
	p->meta.corrupt_records = 0;
	p->meta.unmatched_frees = 0;
	p->meta.dropped_stacks = 0;
	p->meta.merged_requests = 0;
	p->meta.overhead_bytes = INT64_C(180) << 20;
	*out = p;
	return 0;
}

struct command {
	const char *label;
	const char *args[8]; /* after the heapsnap path; "FILE" is the snapshot */
	double wall[MAX_RUNS];
	double rss_mib[MAX_RUNS];
	char last_line[256];
};

/* Runs heapsnap with c's arguments once, its output going to out_path.  Returns 0
 * and the wall time and peak RSS, or -1 (reported) when it could not run or failed. */
static int command_run(const char *heapsnap, const char *file, struct command *c,
		       const char *out_path, double *wall, double *rss_mib)
{
	const char *argv[10] = { heapsnap };
	int argc = 1;
	for (int i = 0; c->args[i]; i++)
		argv[argc++] = !strcmp(c->args[i], "FILE") ? file : c->args[i];
	argv[argc] = NULL;
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		fprintf(stderr, "stats-bench: cannot create '%s': %s\n", out_path, strerror(errno));
		return -1;
	}
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out, 1);
		execv(heapsnap, (char **)argv);
		fprintf(stderr, "stats-bench: cannot run '%s': %s\n", heapsnap, strerror(errno));
		_exit(127);
	}
	close(out);
	if (pid < 0) {
		perror("stats-bench: fork");
		return -1;
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("stats-bench: wait4");
			return -1;
		}
	*wall = now_s() - t0;
	*rss_mib = (double)ru.ru_maxrss / 1024.0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "stats-bench: heapsnap %s failed (status 0x%x)\n", c->label, st);
		return -1;
	}
	return 0;
}

/* Keeps the last line of the file at path in c->last_line. */
static void command_keep_last_line(struct command *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[sizeof(c->last_line)];
	c->last_line[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			memcpy(c->last_line, line, sizeof(line));
	if (f)
		fclose(f);
	c->last_line[strcspn(c->last_line, "\n")] = '\0';
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_RUNS];
	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: stats-bench HEAPSNAP [RUNS [STACKS]]\n");
		return 2;
	}
	const char *heapsnap = argv[1];
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	long nstacks = argc > 3 ? atol(argv[3]) : 1000000;
	if (runs < 1 || runs > MAX_RUNS || nstacks < 1 || nstacks > 100000000) {
		fprintf(stderr, "stats-bench: RUNS must be 1..%d and STACKS 1..100000000\n",
			MAX_RUNS);
		return 2;
	}
	if (access(heapsnap, X_OK) < 0) {
		fprintf(stderr, "stats-bench: cannot run '%s': %s\n", heapsnap, strerror(errno));
		return 1;
	}

	const char *tmp = getenv("TMPDIR");
	char file[4096], out_path[4096 + 8];
	snprintf(file, sizeof(file), "%s/stats-bench.XXXXXX.pb.gz", tmp ? tmp : "/tmp");
	int fd = mkstemps(file, 6);
	if (fd < 0) {
		perror("stats-bench: mkstemps");
		return 1;
	}
	snprintf(out_path, sizeof(out_path), "%s.out", file);

	struct world w = { 0 };
	profile_t *p = NULL;
	double t0 = now_s();
	int r = build_profile((size_t)nstacks, &w, &p);
	double t1 = now_s();
	if (r == 0)
		r = pprof_write_fd(p, fd);
	double t2 = now_s();
	struct stat st = { 0 };
	fstat(fd, &st);
	close(fd);
	uint32_t nlocations = p ? p->nlocations : 0;
	profile_free(p);
	for (int m = 0; m < NMODS; m++)
		free(w.locs[m]);
	if (r < 0) {
		fprintf(stderr, "stats-bench: cannot build or write '%s': %s\n", file, strerror(-r));
		unlink(file);
		return 1;
	}

	struct command cmds[] = {
		{ .label = "top -k lineno", .args = { "top", "FILE", "-n", "10", "-k", "lineno" } },
		{ .label = "top -k traceback", .args = { "top", "FILE", "-n", "10", "-k", "traceback" } },
		{ .label = "top --cumulative", .args = { "top", "FILE", "-n", "10", "--cumulative" } },
		{ .label = "diff FILE FILE", .args = { "diff", "FILE", "FILE", "-n", "10" } },
	};
	const int ncmds = (int)(sizeof(cmds) / sizeof(cmds[0]));
	int rc = 0;
	/* Rounds alternate the commands, so a slow moment spreads over all of them. */
	for (int run = 0; run < runs && rc == 0; run++)
		for (int i = 0; i < ncmds && rc == 0; i++) {
			if (command_run(heapsnap, file, &cmds[i], out_path, &cmds[i].wall[run],
					&cmds[i].rss_mib[run]) < 0)
				rc = 1;
			else if (run == 0)
				command_keep_last_line(&cmds[i], out_path);
		}
	unlink(out_path);
	unlink(file);
	if (rc)
		return rc;

	printf("\n== heapsnap top/diff on %ld unique stacks: median of %d runs ==\n", nstacks,
	       runs);
	printf("snapshot: %.1f MiB gzip, %u locations in %d modules, %" PRId64
	       " live blocks; built in %.2f s, written in %.2f s\n",
	       (double)st.st_size / (1 << 20), nlocations, NMODS + 1, w.inuse_blocks, t1 - t0,
	       t2 - t1);
	printf("%-18s %8s %8s %10s %10s  %s\n", "command", "wall s", "max s", "peak RSS",
	       "max RSS", "target");
	bool pass = true;
	char missed[512] = "";
	for (int i = 0; i < ncmds; i++) {
		struct command *c = &cmds[i];
		double wall = median(c->wall, runs), rss = median(c->rss_mib, runs);
		double wall_max = c->wall[0], rss_max = c->rss_mib[0];
		for (int k = 1; k < runs; k++) {
			wall_max = c->wall[k] > wall_max ? c->wall[k] : wall_max;
			rss_max = c->rss_mib[k] > rss_max ? c->rss_mib[k] : rss_max;
		}
		bool met = wall < TARGET_WALL_S && rss < TARGET_RSS_MIB;
		printf("%-18s %8.3f %8.3f %8.1f M %8.1f M  %s\n", c->label, wall, wall_max, rss,
		       rss_max, met ? "met" : "MISSED");
		if (!met) {
			size_t len = strlen(missed);
			snprintf(missed + len, sizeof(missed) - len, "%s%s (%.2f s, %.0f MiB)",
				 pass ? "" : ", ", c->label, wall, rss);
			pass = false;
		}
	}
	printf("last lines printed:\n");
	for (int i = 0; i < ncmds; i++)
		printf("  %-18s %s\n", cmds[i].label, cmds[i].last_line);
	if (pass)
		printf("PASS: every command under %.0f s and %.0f MiB on %ld unique stacks\n",
		       TARGET_WALL_S, TARGET_RSS_MIB, nstacks);
	else
		printf("MISS: over %.0f s or %.0f MiB on %ld unique stacks: %s\n", TARGET_WALL_S,
		       TARGET_RSS_MIB, nstacks, missed);
	return 0;
}
