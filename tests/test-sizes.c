/* test-sizes.c - tests/progs/sizes.c under the real shim: exact temporary allocations,
 * largest block and size classes per line, and what top and hist print of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "checkmain.h"
#include "tracetest.h"

#define NTHREADS 4 /* as in sizes.c */
#define ROUNDS 50
#define HANDOFFS 30
#define N (NTHREADS * ROUNDS)

/* The exit snapshot of one traced run of sizes; its path in file. */
static profile_t *run_sizes(char *file, size_t len)
{
	char dir[256];
	tt_tempdir(dir, sizeof(dir));
	char *argv[] = { "sizes", NULL };
	struct run_result r;
	tt_run(dir, argv, NULL, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d: %s",
		      r.status, r.err);
	ck_assert_str_eq(r.out, "sizes done 1\n");
	const char *at = strstr(r.err, "(pid ");
	ck_assert_ptr_nonnull(at);
	pid_t pid = (pid_t)atoi(at + 5);
	snprintf(file, len, "%s/heapsnap.%d.exit.pb.gz", dir, (int)pid);
	profile_t *p = tt_snapshot(dir, pid, "exit", 20);
	ck_assert_int_eq(p->meta.lost_events, 0);
	ck_assert_int_eq(p->meta.corrupt_records, 0);
	ck_assert_int_eq(p->meta.unmatched_frees, 0);
	ck_assert(p->has_value[PV_TEMPORARY_OBJECTS] && p->has_value[PV_TEMPORARY_SPACE]);
	return p;
}

/* Asserts blocks allocated and temporary blocks and bytes at site. */
static void assert_temporary(const profile_t *p, const char *site, int64_t blocks,
			     int64_t tblocks, int64_t tbytes)
{
	int64_t v[PV_COUNT];
	int line = tt_site_line("sizes.c", site);
	tt_site_values(p, "sizes.c", line, v);
	ck_assert_msg(v[PV_ALLOC_OBJECTS] == blocks && v[PV_TEMPORARY_OBJECTS] == tblocks &&
			      v[PV_TEMPORARY_SPACE] == tbytes,
		      "sizes.c:%d (%s): %lld blocks, %lld temporary (%lld B); expected %lld, "
		      "%lld (%lld B)",
		      line, site, (long long)v[PV_ALLOC_OBJECTS], (long long)v[PV_TEMPORARY_OBJECTS],
		      (long long)v[PV_TEMPORARY_SPACE], (long long)blocks, (long long)tblocks,
		      (long long)tbytes);
}

START_TEST(temporary_exact_per_line)
{
	char file[512];
	profile_t *p = run_sizes(file, sizeof(file));
	assert_temporary(p, "tmp_loop", 2 * N, 2 * N, 2 * N * 24);
	assert_temporary(p, "outer", N, 0, 0);
	assert_temporary(p, "inner", N, N, N * 56);
	assert_temporary(p, "keep", N, 0, 0);
	/* Each worker's varsize blocks: 1000 + me * 100 + i bytes. */
	int64_t var = 0;
	for (int me = 0; me < NTHREADS; me++)
		for (int i = 0; i < ROUNDS; i++)
			var += 1000 + me * 100 + i;
	assert_temporary(p, "varsize", N, N, var);
	assert_temporary(p, "realloc_first", N, N, N * 100);
	assert_temporary(p, "realloc_second", N, N, N * 200);
	assert_temporary(p, "r_keep", N, 0, 0);
	assert_temporary(p, "r_other", N, 0, 0);
	assert_temporary(p, "r_grow", N, N, N * 600);
	/* The main thread's last block, freed by another thread: not temporary. */
	assert_temporary(p, "handoff", HANDOFFS, 0, 0);
	assert_temporary(p, "leak", NTHREADS, 0, 0);
	profile_free(p);
}
END_TEST

/* The output (stdout and stderr) of shell command cmd, malloc'd; fails the test when it
 * does not exit 0. */
static char *command_out(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t cap = 1 << 16, len = 0, got;
	char *out = malloc(cap);
	while ((got = fread(out + len, 1, cap - len - 1, f)) > 0)
		len += got;
	out[len] = '\0';
	int st = pclose(f);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", cmd, out);
	return out;
}

/* The output of heapsnap with args (NULL-terminated), as command_out(). */
static char *heapsnap_out(const char *const *args)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "'%s'", getenv("HEAPSNAP"));
	for (size_t i = 0; args[i]; i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " '%s'", args[i]);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 2>&1");
	return command_out(cmd);
}

START_TEST(top_metric_temporary)
{
	char file[512];
	profile_free(run_sizes(file, sizeof(file)));
	char line[64];
	snprintf(line, sizeof(line), "sizes.c:%d: ", tt_site_line("sizes.c", "r_grow"));
	const char *args[] = { "top", file, "-m", "temporary", "-n", "3", "-i", "*sizes.c", NULL };
	char *out = heapsnap_out(args);
	/* r_grow is in the top 3 of temporary bytes: 200 blocks of 600. */
	ck_assert_msg(strstr(out, "#1: ") && strstr(out, line) &&
			      strstr(out, "size=117 KiB, count=200, average=600 B"),
		      "%s", out);
	free(out);
}
END_TEST

/* go tool pprof opens the file and reads the new sample types. */
START_TEST(go_pprof_reads_it)
{
	char file[512], cmd[1024];
	profile_free(run_sizes(file, sizeof(file)));
	snprintf(cmd, sizeof(cmd),
		 "HOME=${HOME:-/tmp} go tool pprof -top -symbolize=none "
		 "-sample_index=temporary_space '%s' 2>&1", file);
	char *out = command_out(cmd);
	/* All the temporary bytes: 2N*24 + N*56 + varsize + N*(100+200+600). */
	ck_assert_msg(strstr(out, "Type: temporary_space") && strstr(out, "of 425.49kB total"),
		      "%s", out);
	free(out);
}
END_TEST

/* The max_size of the entry of site in top's JSON out. */
static long long json_max_size(const char *out, const char *site)
{
	char key[64];
	snprintf(key, sizeof(key), "\"line\":%d,", tt_site_line("sizes.c", site));
	const char *at = strstr(out, key);
	ck_assert_msg(at != NULL, "no %s (%s) in %s", key, site, out);
	const char *end = strchr(at, '}');
	const char *m = strstr(at, "\"max_size\":");
	ck_assert_msg(m && m < end, "no max_size for %s in %s", site, out);
	return atoll(m + strlen("\"max_size\":"));
}

START_TEST(max_size_per_line)
{
	char file[512];
	profile_free(run_sizes(file, sizeof(file)));
	const char *args[] = { "top", file, "-m", "alloc", "-n", "0", "--json", NULL };
	char *out = heapsnap_out(args);
	const struct {
		const char *site;
		long long max;
	} want[] = {
		{ "tmp_loop", 24 }, { "outer", 40 }, { "inner", 56 }, { "keep", 72 },
		{ "varsize", 1000 + (NTHREADS - 1) * 100 + ROUNDS - 1 },
		{ "realloc_first", 100 }, { "realloc_second", 200 }, { "r_keep", 300 },
		{ "r_other", 8 }, { "r_grow", 600 }, { "handoff", 88 }, { "leak", 5000 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(json_max_size(out, want[i].site) == want[i].max, "%s: max %lld, not %lld",
			      want[i].site, json_max_size(out, want[i].site), want[i].max);
	free(out);

	/* Text: tracemalloc's line unless --max is asked for. */
	char varsize[64];
	snprintf(varsize, sizeof(varsize), "sizes.c:%d: ", tt_site_line("sizes.c", "varsize"));
	const char *plain[] = { "top", file, "-m", "alloc", "-n", "0", NULL };
	out = heapsnap_out(plain);
	ck_assert_msg(strstr(out, varsize) && !strstr(out, "max="), "%s", out);
	free(out);
	const char *with_max[] = { "top", file, "-m", "alloc", "-n", "0", "--max", NULL };
	out = heapsnap_out(with_max);
	const char *line = strstr(out, varsize);
	ck_assert_msg(line && !strncmp(strchr(line, '\n') - strlen(", max=1349 B"), ", max=1349 B",
				       strlen(", max=1349 B")),
		      "%s", out);
	free(out);
}
END_TEST

/* hist of the work() lines and the handoff line: every class exact. */
START_TEST(hist_classes_exact)
{
	char file[512];
	profile_free(run_sizes(file, sizeof(file)));
	static const char *const sites[] = { "tmp_loop", "outer", "inner", "keep", "varsize",
					     "realloc_first", "realloc_second", "r_keep",
					     "r_other", "r_grow", "handoff", "leak" };
	const char *args[4 + 2 * 12 + 1] = { "hist", file, "--json" };
	char filters[12][48];
	size_t n = 3;
	for (size_t i = 0; i < 12; i++) {
		snprintf(filters[i], sizeof(filters[i]), "*/sizes.c:%d",
			 tt_site_line("sizes.c", sites[i]));
		args[n++] = "-i";
		args[n++] = filters[i];
	}
	args[n] = NULL;
	char *out = heapsnap_out(args);
	/* varsize: 1000 + me * 100 + i bytes; 1000..1023 are below 1 KiB. */
	int64_t var_small = 0, var_big = 0;
	for (int me = 0; me < NTHREADS; me++)
		for (int i = 0; i < ROUNDS; i++) {
			int64_t v = 1000 + me * 100 + i;
			*(v < 1024 ? &var_small : &var_big) += v;
		}
	char want[2048];
	snprintf(want, sizeof(want),
		 "\"classes\":[\n"
		 "{\"min\":8,\"max\":15,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":16,\"max\":31,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":32,\"max\":63,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":64,\"max\":127,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":128,\"max\":255,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":256,\"max\":511,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":512,\"max\":1023,\"alloc_blocks\":%d,\"alloc_bytes\":%lld,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":1024,\"max\":2047,\"alloc_blocks\":%d,\"alloc_bytes\":%lld,"
		 "\"inuse_blocks\":0,\"inuse_bytes\":0},\n"
		 "{\"min\":4096,\"max\":8191,\"alloc_blocks\":%d,\"alloc_bytes\":%d,"
		 "\"inuse_blocks\":%d,\"inuse_bytes\":%d}],\n",
		 N, N * 8, 2 * N, 2 * N * 24, 2 * N, N * (40 + 56), 2 * N + HANDOFFS,
		 N * (72 + 100) + HANDOFFS * 88, N, N * 200, N, N * 300, N + 24,
		 (long long)(N * 600 + var_small), N - 24, (long long)var_big, NTHREADS,
		 NTHREADS * 5000, NTHREADS, NTHREADS * 5000);
	ck_assert_msg(strstr(out, want), "%s\nwant:\n%s", out, want);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sizes");
	TCase *tc = tcase_create("sizes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, temporary_exact_per_line);
	tcase_add_test(tc, top_metric_temporary);
	tcase_add_test(tc, go_pprof_reads_it);
	tcase_add_test(tc, max_size_per_line);
	tcase_add_test(tc, hist_classes_exact);
	suite_add_tcase(s, tc);
	return check_run(s);
}
