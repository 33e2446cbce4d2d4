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

int main(void)
{
	Suite *s = suite_create("sizes");
	TCase *tc = tcase_create("sizes");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, temporary_exact_per_line);
	tcase_add_test(tc, top_metric_temporary);
	tcase_add_test(tc, go_pprof_reads_it);
	suite_add_tcase(s, tc);
	return check_run(s);
}
