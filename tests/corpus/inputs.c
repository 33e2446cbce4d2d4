/* inputs.c - deterministic generated inputs for the corpus workloads.
 *
 * One 64-bit LCG, seeded per generator, drives every choice; output goes through
 * stdio with no locale-dependent formatting, so the bytes depend only on the
 * arguments.
 */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
}

/* A number in [0, n). */
static unsigned rng(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)((rng_state >> 33) % n);
}

static const char *const words[] = {
	"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
	"iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static FILE *create(const char *path)
{
	return fopen(path, "w");
}

/* Closes f and returns 0, or -errno when anything written to it failed. */
static int finish(FILE *f)
{
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return errno ? -errno : -EIO;
	return 0;
}

int inputs_json(const char *path, long records)
{
	FILE *f = create(path);
	if (!f)
		return -errno;
	rng_seed(1);
	fputs("[", f);
	for (long i = 0; i < records; i++) {
		fprintf(f, "%s{\"id\":%ld,\"name\":\"%s%u\",\"tags\":[", i ? ",\n" : "", i,
			words[rng(NWORDS)], rng(50000));
		for (int t = 0, n = 1 + (int)rng(6); t < n; t++)
			fprintf(f, "%s\"t%u\"", t ? "," : "", rng(100));
		fprintf(f, "],\"score\":%u.%02u,\"nested\":{\"a\":[", rng(100), rng(100));
		for (int t = 0; t < 8; t++)
			fprintf(f, "%s%u", t ? "," : "", rng(1000));
		fprintf(f, "],\"b\":\"%.*s\",\"ok\":%s}}", (int)rng(30),
			"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", rng(2) ? "true" : "false");
	}
	fputs("]\n", f);
	return finish(f);
}

int inputs_lines(const char *path, long lines)
{
	FILE *f = create(path);
	if (!f)
		return -errno;
	rng_seed(2);
	for (long i = 0; i < lines; i++) {
		const char *w = words[rng(NWORDS)];
		for (unsigned r = 1 + rng(3); r; r--)
			fputs(w, f);
		fprintf(f, " %u %s,%ld\n", rng(1000000000), words[rng(NWORDS)], i);
	}
	return finish(f);
}

int inputs_sql(const char *path, long rows)
{
	FILE *f = create(path);
	if (!f)
		return -errno;
	rng_seed(3);
	fputs("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload TEXT);\n"
	      "BEGIN;\n", f);
	for (long i = 0; i < rows; i++)
		fprintf(f, "INSERT INTO t VALUES(%ld,'%s%u',%u,'%.*s');\n", i, words[rng(NWORDS)],
			rng(100000), rng(1000), (int)rng(100),
			"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
			"pppppppppppppppppppppppppp");
	fputs("COMMIT;\n"
	      "CREATE INDEX t_name ON t(name);\n"
	      "SELECT grp, count(*), sum(length(payload)) FROM t GROUP BY grp ORDER BY grp "
	      "LIMIT 20;\n"
	      "SELECT count(DISTINCT name) FROM t;\n"
	      "SELECT a.id, b.id FROM t a JOIN t b ON a.name = b.name AND a.id < b.id "
	      "ORDER BY a.id LIMIT 10;\n"
	      "SELECT group_concat(name, ',') FROM (SELECT name FROM t ORDER BY payload, id "
	      "LIMIT 500);\n"
	      "CREATE TABLE u AS SELECT name, group_concat(id) AS ids FROM t GROUP BY name;\n"
	      "SELECT count(*), max(length(ids)) FROM u;\n"
	      "DELETE FROM t WHERE grp % 3 = 0;\n"
	      "SELECT count(*) FROM t;\n", f);
	return finish(f);
}

int inputs_cxx(const char *path, long functions)
{
	FILE *f = create(path);
	if (!f)
		return -errno;
	rng_seed(4);
	fputs("#include <map>\n#include <string>\n#include <vector>\n", f);
	for (long i = 0; i < functions; i++) {
		unsigned k = rng(1000);
		fprintf(f,
			"struct S%ld {\n"
			"    std::map<std::string, int> m;\n"
			"    std::vector<int> v;\n"
			"    int get(int k) { int a[4]; if (k > 3) return a[k]; "
			"return v.size() > %u ? v[%u] : m.size(); }\n"
			"};\n"
			"int f%ld(int x) {\n"
			"    char *p = new char[10];\n"
			"    int r = 0;\n"
			"    for (int i = 0; i < x; i++) { r += i * %u; if (r > %u) break; }\n"
			"    S%ld s;\n"
			"    r += s.get(x);\n"
			"    if (x == %u) { delete[] p; return r; }\n"
			"    return r + p[0];\n"
			"}\n",
			i, k % 7, k % 5, i, k, k * 7, i, k);
	}
	return finish(f);
}

int inputs_tree(const char *dir, int dirs, int files)
{
	char path[4096];
	rng_seed(5);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (int d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%02d", dir, d);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		for (int i = 0; i < files; i++) {
			snprintf(path, sizeof(path), "%s/d%02d/f%03d.txt", dir, d, i);
			FILE *f = create(path);
			if (!f)
				return -errno;
			for (unsigned n = 10 + rng(60); n; n--)
				fprintf(f, "line %u of %d/%d: %s\n", n, d, i, words[rng(NWORDS)]);
			int r = finish(f);
			if (r < 0)
				return r;
			/* An old mtime: no entry is racily clean when git indexes it moments
			 * later, so git never re-reads a file because of the clock. */
			const struct timespec old[2] = { { 1577836800, 0 }, { 1577836800, 0 } };
			if (utimensat(AT_FDCWD, path, old, 0) < 0)
				return -errno;
		}
	}
	return 0;
}

static const char makefile[] =
	"SHELL = /bin/bash\n"
	"SRCS := $(sort $(wildcard src/*.txt))\n"
	"OUTS := $(patsubst src/%.txt,out/%.cnt,$(SRCS))\n"
	"all: summary.txt\n"
	"out/%.cnt: src/%.txt | out\n"
	"\tsort $< | uniq -c | sort -k1,1nr -k2 > $@\n"
	"\twords=$$(wc -l < $@); echo \"$* $$words\" > $@.n\n"
	"out:\n"
	"\tmkdir -p out\n"
	"summary.txt: $(OUTS)\n"
	"\tcat $(addsuffix .n,$(OUTS)) | sort > $@\n"
	"\tcat $(OUTS) | awk '{s+=$$1} END {print s}' >> $@\n"
	"\tcat $@\n"
	".PHONY: all\n";

int inputs_make(const char *dir, int sources)
{
	char path[4096];
	rng_seed(6);
	snprintf(path, sizeof(path), "%s/src", dir);
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(path, 0755) < 0 && errno != EEXIST))
		return -errno;
	snprintf(path, sizeof(path), "%s/Makefile", dir);
	FILE *f = create(path);
	if (!f)
		return -errno;
	fputs(makefile, f);
	int r = finish(f);
	for (int i = 0; r == 0 && i < sources; i++) {
		snprintf(path, sizeof(path), "%s/src/m%02d.txt", dir, i);
		if (!(f = create(path)))
			return -errno;
		for (int n = 0; n < 2000; n++)
			fprintf(f, "%s%u\n", words[rng(NWORDS)], rng(300));
		r = finish(f);
	}
	return r;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int inputs_remove(const char *path)
{
	if (access(path, F_OK) < 0)
		return 0;
	return nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}
