/* symbolize-bench.c - symbolization throughput over fixed addresses of real modules.
 *
 *   symbolize-bench [-p] MODULE ADDRS|-n N     symbolize, print the time (and -p: the
 *                                               results, for comparing two builds)
 *   symbolize-bench extract SNAPSHOT SUBSTR    the return addresses of a snapshot's
 *                                               frames in modules whose path has SUBSTR
 *   symbolize-bench suite MODULE ADDRS ...      per module: no cache, cold cache and warm
 *                                               cache, each in a new process, with a
 *                                               private cache directory
 *
 * Addresses are ELF virtual addresses of return addresses (one hex number a line), as
 * a traced program's frames hold them; the module is registered at a fixed base like
 * the collector registers it from the shim's table.  Only symbolize.h's API is used,
 * so the same file measures an older tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pprof.h"
#include "profile.h"
#include "symbolize.h"

#define BASE 0x7f0000000000ull

struct segment {
	uint64_t vaddr, memsz, offset;
};

/* The first executable PT_LOAD of path, and whether the file is position-independent. */
static int exec_segment(const char *path, struct segment *seg, int *pie)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t n = 0;
	int r = -ENOEXEC;
	GElf_Ehdr eh;
	if (elf && gelf_getehdr(elf, &eh) && elf_getphdrnum(elf, &n) == 0) {
		*pie = eh.e_type == ET_DYN;
		for (size_t i = 0; i < n && r < 0; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
				*seg = (struct segment){ ph.p_vaddr, ph.p_memsz, ph.p_offset };
				r = 0;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return r;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t *read_addrs(const char *file, size_t *n)
{
	FILE *f = fopen(file, "re");
	if (!f)
		return NULL;
	size_t cap = 1024;
	uint64_t *v = malloc(cap * sizeof(*v));
	*n = 0;
	unsigned long long a;
	while (v && fscanf(f, "%llx", &a) == 1) {
		if (*n == cap && !(v = realloc(v, (cap *= 2) * sizeof(*v))))
			break;
		v[(*n)++] = a;
	}
	fclose(f);
	return v;
}

/* n addresses spread evenly over the segment. */
static uint64_t *spread_addrs(const struct segment *seg, size_t n)
{
	uint64_t *v = malloc(n * sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = seg->vaddr + 1 + (seg->memsz - 2) / n * i;
	return v;
}

static void print_location(const profile_t *p, uint32_t loc, uint64_t vaddr)
{
	const profile_location_t *l = &p->locations[loc];
	printf("%" PRIx64, vaddr);
	for (uint32_t i = 0; i < l->nlines; i++)
		printf(" | %s %s:%" PRId64, l->lines[i].function ? l->lines[i].function : "?",
		       l->lines[i].file ? l->lines[i].file : "?", l->lines[i].line);
	printf("\n");
}

/* Symbolizes every address with a new symbolizer; returns 0 or 1. */
static int run(const char *module, const char *addrs, size_t spread, int print, const char *label)
{
	struct segment seg;
	int pie;
	if (exec_segment(module, &seg, &pie) < 0) {
		fprintf(stderr, "symbolize-bench: %s: not an ELF file with code\n", module);
		return 1;
	}
	size_t n = spread;
	uint64_t *v = addrs ? read_addrs(addrs, &n) : spread_addrs(&seg, n);
	if (!v) {
		fprintf(stderr, "symbolize-bench: %s: cannot read addresses\n", addrs ? addrs : "-n");
		return 1;
	}
	uint64_t bias = pie ? BASE : 0;
	double t0 = now();
	symbolizer_t *s = symbolizer_new(getpid());
	profile_t *p = profile_new();
	uint32_t m = symbolizer_add_module(s, module, seg.vaddr + bias, seg.vaddr + seg.memsz + bias,
					   bias, seg.offset);
	uint32_t mapping_cache[1] = { PROFILE_NONE };
	uint32_t *locs = malloc(n * sizeof(*locs));
	for (size_t i = 0; i < n; i++)
		if (symbolizer_add_location(s, p, m, v[i] + bias, mapping_cache, &locs[i]) < 0) {
			fprintf(stderr, "symbolize-bench: out of memory\n");
			return 1;
		}
	double t1 = now();
	symbolizer_free(s);
	double t2 = now();
	if (print)
		for (size_t i = 0; i < n; i++)
			print_location(p, locs[i], v[i]);
	fprintf(print ? stderr : stdout,
		"%-10s %-60s %5zu addresses: %8.4f s (%9.0f/s), %8.4f s with free\n", label,
		module, n, t1 - t0, (double)n / (t1 - t0), t2 - t0);
	profile_free(p);
	free(locs);
	free(v);
	return 0;
}

static int extract(const char *snapshot, const char *substr)
{
	profile_t *p;
	pprof_error_t err;
	if (pprof_read_file(snapshot, &p, &err) < 0) {
		fprintf(stderr, "symbolize-bench: cannot read %s\n", snapshot);
		return 1;
	}
	for (uint32_t i = 0; i < p->nlocations; i++) {
		const profile_location_t *l = &p->locations[i];
		if (l->mapping == PROFILE_NONE)
			continue;
		const profile_mapping_t *pm = &p->mappings[l->mapping];
		struct segment seg;
		int pie;
		if (!pm->path || !strstr(pm->path, substr) || exec_segment(pm->path, &seg, &pie) < 0)
			continue;
		printf("%" PRIx64 "\n", l->address - pm->start + seg.vaddr + (pm->offset - seg.offset));
	}
	profile_free(p);
	return 0;
}

/* Runs one measurement in a new process. */
static void in_child(const char *module, const char *addrs, const char *label)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int r = run(module, addrs, 2000, 0, label);
		fflush(stdout);
		_exit(r);
	}
	int status;
	waitpid(pid, &status, 0);
}

static int suite(int argc, char **argv)
{
	char dir[] = "/tmp/symbolize-bench.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("XDG_CACHE_HOME", dir, 1);
	for (int i = 0; i + 1 < argc; i += 2) {
		if (access(argv[i], R_OK) != 0) {
			printf("%s: not on this machine, skipped\n", argv[i]);
			continue;
		}
		const char *addrs = access(argv[i + 1], R_OK) == 0 ? argv[i + 1] : NULL;
		setenv("HEAPSNAP_CACHE", "off", 1);
		in_child(argv[i], addrs, "no-cache");
		unsetenv("HEAPSNAP_CACHE");
		in_child(argv[i], addrs, "cold");
		in_child(argv[i], addrs, "warm");
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "extract"))
		return extract(argv[2], argv[3]);
	if (argc >= 2 && !strcmp(argv[1], "suite"))
		return suite(argc - 2, argv + 2);
	int print = argc > 1 && !strcmp(argv[1], "-p");
	argv += print;
	argc -= print;
	if (argc == 4 && !strcmp(argv[2], "-n"))
		return run(argv[1], NULL, strtoul(argv[3], NULL, 10), print, "run");
	if (argc == 3)
		return run(argv[1], argv[2], 0, print, "run");
	fprintf(stderr, "usage: symbolize-bench [-p] MODULE ADDRS|-n N\n"
			"       symbolize-bench extract SNAPSHOT SUBSTR\n"
			"       symbolize-bench suite MODULE ADDRS [MODULE ADDRS...]\n");
	return 2;
}
