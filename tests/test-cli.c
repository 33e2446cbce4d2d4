/* test-cli.c - heapsnap top, diff, info and ls run in-process on small snapshot files, and
 * every subcommand's option parser (bad options, missing values, numbers out of
 * range: exit status 2).
 *
 * Each test works in a fresh temporary directory (Check's fork mode keeps the chdir and
 * the stdout redirection inside the test), writes profiles built in memory with
 * pprof_write_fd(), runs cmd_top()/cmd_diff()/cmd_info() with stdout and stderr sent to
 * files, and compares exit status and output.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "pprof.h"
#include "profile.h"
#include "snapset.h"
#include "checkmain.h"

struct result {
	int status;
	char *out;
	char *err;
};

static char tmpdir[64];

static void enter_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/heapsnap-cli-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chdir(tmpdir), 0);
}

static void leave_tmpdir(void)
{
	const char *files[] = { "snap.pb.gz", "old.pb.gz", "new.pb.gz", "junk.pb.gz",
				"nopeak.pb.gz", "out", "err" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	ck_assert_int_eq(chdir("/"), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir); /* and the tests' subdirectories */
	ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 > cap) {
			cap = (cap + 4096) * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs cmd on the NULL-terminated arguments with stdout/stderr captured. */
static struct result run(int (*cmd)(int, char **), const char *arg0, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	int out = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = open("err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(out, 0);
	ck_assert_int_ge(err, 0);
	dup2(out, 1);
	dup2(err, 2);
	struct result r = { .status = cmd(argc, argv) };
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(out);
	close(err);
	close(saved_out);
	close(saved_err);
	r.out = slurp("out");
	r.err = slurp("err");
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static void write_profile(const profile_t *p, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pprof_write_fd(p, fd), 0);
	close(fd);
}

static uint32_t loc(profile_t *p, uint32_t map, uint64_t addr, const char *fn,
		    const char *file, int64_t line)
{
	profile_line_t l = { fn, file, line };
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, p->mappings[map].start + addr, map, &l,
					      fn || file ? 1 : 0, &idx), 0);
	return idx;
}

static void sample(profile_t *p, int64_t size, int64_t count, uint32_t nlocs,
		   const uint32_t *locs)
{
	int64_t v[PV_COUNT] = {
		[PV_INUSE_SPACE] = size, [PV_INUSE_OBJECTS] = count,
		[PV_PEAK_SPACE] = size * 2, [PV_PEAK_OBJECTS] = count * 2,
		[PV_ALLOC_SPACE] = size * 10, [PV_ALLOC_OBJECTS] = count * 10,
		[PV_TEMPORARY_SPACE] = size * 3, [PV_TEMPORARY_OBJECTS] = count * 3,
	};
	ck_assert_int_eq(profile_add_sample(p, locs, nlocs, v, 0, false), 0);
}

/* The known small profile: scale multiplies the first site's values (for diffs). */
static profile_t *known_profile(int64_t scale)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	p->meta.pid = 4242;
	p->meta.command = profile_intern(p, "./prog --fast");
	p->meta.trigger = profile_intern(p, "exit");
	p->meta.time_nanos = 1700000000123000000;
	p->meta.frame_limit = 64;
	p->meta.sampling_period = 0;
	p->meta.current_bytes = 24686;
	p->meta.peak_bytes = 50000;
	p->meta.lost_events = 0;
	p->meta.untracked_events = 0;
	p->meta.corrupt_records = 0;
	p->meta.dropped_stacks = 0;
	const profile_mapping_t maps[] = {
		{ 0x400000, 0x500000, 0, "/usr/bin/prog", NULL },
		{ 0x7f0000000000, 0x7f0000200000, 0, "/lib/x86_64-linux-gnu/libc.so.6", NULL },
		{ 0x7f1000000000, 0x7f1000100000, 0, "/usr/lib/libfoo.so.1", NULL },
	};
	uint32_t idx;
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(profile_add_mapping(p, &maps[i], &idx), 0);
	uint32_t malloc_ = loc(p, 1, 0x100, "malloc", NULL, 0);
	uint32_t main_ = loc(p, 0, 0x10, "main", "prog.c", 30);
	uint32_t load = loc(p, 0, 0x20, "load", "prog.c", 12);
	profile_line_t il[2] = { { "vec_push", "vec.h", 22 }, { "parse", "parse.c", 80 } };
	uint32_t parse;
	ck_assert_int_eq(profile_add_location(p, 0x400030, 0, il, 2, &parse), 0);
	uint32_t foo = loc(p, 2, 0x1234, NULL, NULL, 0);

	sample(p, 20480 * scale, 10 * scale, 3, (uint32_t[]){ malloc_, parse, main_ });
	sample(p, 4096, 2, 3, (uint32_t[]){ malloc_, load, main_ });
	sample(p, 100, 1, 2, (uint32_t[]){ malloc_, main_ });
	sample(p, 10, 1, 2, (uint32_t[]){ foo, main_ });
	return p;
}

static void write_known(const char *path, int64_t scale)
{
	profile_t *p = known_profile(scale);
	write_profile(p, path);
	profile_free(p);
}

START_TEST(top_text)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	struct result r = run(cmd_top, "top", "snap.pb.gz", "-n", "2", NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 2 statistics of 'snap.pb.gz' by lineno, metric inuse\n"
			 "#1: vec.h:22: size=20.0 KiB, count=10, average=2048 B\n"
			 "#2: prog.c:12: size=4096 B, count=2, average=2048 B\n"
			 "2 other: size=110 B, count=2\n"
			 "Total: size=24.1 KiB, count=14\n");
	result_free(&r);

	r = run(cmd_top, "top", "--metric=alloc", "-k", "function", "snap.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 10 statistics of 'snap.pb.gz' by function, metric alloc\n"
			 "#1: vec_push at vec.h (prog): size=200 KiB, count=100, average=2048 B\n"
			 "#2: load at prog.c (prog): size=40.0 KiB, count=20, average=2048 B\n"
			 "#3: main at prog.c (prog): size=1000 B, count=10, average=100 B\n"
			 "#4: 0x1234 (libfoo.so.1): size=100 B, count=10, average=10 B\n"
			 "Total: size=241 KiB, count=140\n");
	result_free(&r);

	/* prog.c:12 and prog.c:30 in one stack count twice. */
	r = run(cmd_top, "top", "snap.pb.gz", "--cumulative", "-k", "filename", "-x", "vec.h",
		"--color=never", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 10 statistics of 'snap.pb.gz' by filename (cumulative), metric inuse\n"
			 "#1: prog.c: size=8302 B, count=6, average=1384 B\n"
			 "#2: 0x1234 (libfoo.so.1): size=10 B, count=1, average=10 B\n"
			 "Total: size=4206 B, count=4\n");
	result_free(&r);

	r = run(cmd_top, "top", "snap.pb.gz", "--keep-runtime", "-n", "1", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 1 statistics of 'snap.pb.gz' by lineno, metric inuse\n"
			 "#1: malloc (libc.so.6): size=24.1 KiB, count=13, average=1898 B\n"
			 "1 other: size=10 B, count=1\n"
			 "Total: size=24.1 KiB, count=14\n");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(top_traceback)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	struct result r = run(cmd_top, "top", "snap.pb.gz", "-k", "traceback", "-n", "1",
			      "-i", "*.h:22", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 1 statistics of 'snap.pb.gz' by traceback, metric inuse\n"
			 "#1: vec.h:22: size=20.0 KiB, count=10, average=2048 B\n"
			 "    vec_push at vec.h:22 (prog)\n"
			 "    parse at parse.c:80 (prog)\n"
			 "    main at prog.c:30 (prog)\n"
			 "Total: size=20.0 KiB, count=10\n");
	result_free(&r);

	/* --skip-file and --skip (on repeat) charge past vec.h and parse(). */
	r = run(cmd_top, "top", "snap.pb.gz", "-k", "traceback", "-n", "1", "--skip-file",
		"*/nothing/*", "--skip-file", "vec.h", "--skip", "pars?", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 1 statistics of 'snap.pb.gz' by traceback, metric inuse\n"
			 "#1: prog.c:30: size=20.1 KiB, count=11, average=1871 B\n"
			 "    main at prog.c:30 (prog)\n"
			 "2 other: size=4106 B, count=3\n"
			 "Total: size=24.1 KiB, count=14\n");
	result_free(&r);

	r = run(cmd_top, "top", "snap.pb.gz", "-k", "traceback", "-n", "1", "--all-frames",
		"-i", "parse.c", "-i", "*parse.c", "--json", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "{\"file\":\"snap.pb.gz\",\"key\":\"traceback\",\"metric\":\"inuse\","
			 "\"cumulative\":false,\"stats\":[\n"
			 "{\"file\":\"vec.h\",\"line\":22,\"function\":\"vec_push\",\"module\":\"prog\","
			 "\"size\":20480,\"count\":10,\"truncated\":false,\"frames\":["
			 "{\"file\":\"vec.h\",\"line\":22,\"function\":\"vec_push\",\"module\":\"prog\"},"
			 "{\"file\":\"parse.c\",\"line\":80,\"function\":\"parse\",\"module\":\"prog\"},"
			 "{\"file\":\"prog.c\",\"line\":30,\"function\":\"main\",\"module\":\"prog\"}]}\n"
			 "],\n\"other\":{\"entries\":0,\"size\":0,\"count\":0},\n"
			 "\"total\":{\"size\":20480,\"count\":10}}\n");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(top_json)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	struct result r = run(cmd_top, "top", "snap.pb.gz", "--json", "-n", "3", "-m", "peak",
			      NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "{\"file\":\"snap.pb.gz\",\"key\":\"lineno\",\"metric\":\"peak\","
			 "\"cumulative\":false,\"stats\":[\n"
			 "{\"file\":\"vec.h\",\"line\":22,\"function\":\"vec_push\",\"module\":\"prog\","
			 "\"size\":40960,\"count\":20},\n"
			 "{\"file\":\"prog.c\",\"line\":12,\"function\":\"load\",\"module\":\"prog\","
			 "\"size\":8192,\"count\":4},\n"
			 "{\"file\":\"prog.c\",\"line\":30,\"function\":\"main\",\"module\":\"prog\","
			 "\"size\":200,\"count\":2}\n],\n"
			 "\"other\":{\"entries\":1,\"size\":20,\"count\":2},\n"
			 "\"total\":{\"size\":49372,\"count\":28}}\n");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(top_temporary)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	struct result r = run(cmd_top, "top", "snap.pb.gz", "-n", "2", "-m", "temporary", NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 2 statistics of 'snap.pb.gz' by lineno, metric temporary\n"
			 "#1: vec.h:22: size=60.0 KiB, count=30, average=2048 B\n"
			 "#2: prog.c:12: size=12.0 KiB, count=6, average=2048 B\n"
			 "2 other: size=330 B, count=6\n"
			 "Total: size=72.3 KiB, count=42\n");
	result_free(&r);
	r = run(cmd_diff, "diff", "snap.pb.gz", "snap.pb.gz", "-n", "1", "-m", "temporary",
		"--json", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\"metric\":\"temporary\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"total\":{\"size\":74058,\"count\":42,"
					    "\"size_diff\":0,\"count_diff\":0}"));
	result_free(&r);
	/* flame folds the temporary bytes too: vec.h:22's frame holds 60 KiB of them. */
	r = run(cmd_flame, "flame", "snap.pb.gz", "-m", "temporary", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "vec_push (vec.h:22) 61440\n"), "%s", r.out);
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(diff_text_json)
{
	enter_tmpdir();
	write_known("old.pb.gz", 1);
	write_known("new.pb.gz", 3);
	struct result r = run(cmd_diff, "diff", "old.pb.gz", "new.pb.gz", "-n", "2", NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 2 differences from 'old.pb.gz' to 'new.pb.gz' by lineno, metric inuse\n"
			 "#1: vec.h:22: size=60.0 KiB (+40.0 KiB), count=30 (+20), average=2048 B\n"
			 "#2: prog.c:12: size=4096 B (+0 B), count=2 (+0), average=2048 B\n"
			 "2 other: size=110 B (+0 B), count=2 (+0)\n"
			 "Total: size=64.1 KiB (+40.0 KiB), count=34 (+20)\n");
	result_free(&r);

	r = run(cmd_diff, "diff", "--json", "-n", "1", "new.pb.gz", "old.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "{\"old\":\"new.pb.gz\",\"new\":\"old.pb.gz\",\"key\":\"lineno\",\"metric\":"
			 "\"inuse\",\"cumulative\":false,\"stats\":[\n"
			 "{\"file\":\"vec.h\",\"line\":22,\"function\":\"vec_push\",\"module\":\"prog\","
			 "\"size\":20480,\"count\":10,\"size_diff\":-40960,\"count_diff\":-20}\n],\n"
			 "\"other\":{\"entries\":3,\"size\":4206,\"count\":4,\"size_diff\":0,"
			 "\"count_diff\":0},\n"
			 "\"total\":{\"size\":24686,\"count\":14,\"size_diff\":-40960,"
			 "\"count_diff\":-20}}\n");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(info_text_json)
{
	enter_tmpdir();
	profile_t *p = known_profile(1);
	p->meta.lost_events = 7;
	write_profile(p, "snap.pb.gz");
	profile_free(p);
	struct result r = run(cmd_info, "info", "snap.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "file:             snap.pb.gz\n"
			 "pid:              4242\n"
			 "command:          ./prog --fast\n"
			 "trigger:          exit\n"
			 "time:             2023-11-14 22:13:20.123 UTC\n"
			 "frame limit:      64\n"
			 "sampling period:  0 (every allocation is traced)\n"
			 "traced current:   24.1 KiB (24686 B)\n"
			 "traced peak:      48.8 KiB (50000 B)\n"
			 "lost events:      7\n"
			 "untracked events: 0\n"
			 "corrupt records:  0\n"
			 "dropped stacks:   0\n"
			 "sample types:     alloc_objects alloc_space inuse_objects inuse_space "
			 "peak_objects peak_space temporary_objects temporary_space\n"
			 "samples:          4\n"
			 "locations:        5\n"
			 "mappings:         3\n"
			 "total inuse:      size=24.1 KiB, count=14\n"
			 "total peak:       size=48.2 KiB, count=28\n"
			 "total alloc:      size=241 KiB, count=140\n"
			 "total temporary:  size=72.3 KiB, count=42\n"
			 "WARNING: 7 events were lost (not recorded): totals are incomplete\n");
	result_free(&r);

	r = run(cmd_info, "info", "--json", "snap.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "{\"file\":\"snap.pb.gz\",\"pid\":4242,\"command\":\"./prog --fast\","
			 "\"trigger\":\"exit\",\"time_nanos\":1700000000123000000,\"frame_limit\":64,"
			 "\"sampling_period\":0,\"current_bytes\":24686,\"peak_bytes\":50000,"
			 "\"lost_events\":7,\"untracked_events\":0,\"corrupt_records\":0,"
			 "\"dropped_stacks\":0,\"sample_types\":[\"alloc_objects\",\"alloc_space\","
			 "\"inuse_objects\",\"inuse_space\",\"peak_objects\",\"peak_space\","
			 "\"temporary_objects\",\"temporary_space\"],"
			 "\"samples\":4,\"locations\":5,\"mappings\":3,\"totals\":{\"inuse\":{\"size\":"
			 "24686,\"count\":14},\"peak\":{\"size\":49372,\"count\":28},\"alloc\":{\"size\":"
			 "246860,\"count\":140},\"temporary\":{\"size\":74058,\"count\":42}},\"comments\":[],\"warnings\":[\"7 events were lost "
			 "(not recorded): totals are incomplete\"]}\n");
	result_free(&r);

	/* top says so on stderr too. */
	r = run(cmd_top, "top", "snap.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.err, "heapsnap: warning: 'snap.pb.gz': 7 events are missing"));
	result_free(&r);
	leave_tmpdir();
}
END_TEST

/* One line on stderr starting with prefix, nothing on stdout, exit status. */
static void assert_fails(struct result r, int status, const char *prefix)
{
	ck_assert_int_eq(r.status, status);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(!strncmp(r.err, prefix, strlen(prefix)), "stderr '%s' lacks '%s'", r.err,
		      prefix);
	ck_assert_ptr_nonnull(strchr(r.err, '\n'));
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	result_free(&r);
}

START_TEST(yama_refusals)
{
	char why[256];
	for (int scope = 0; scope <= 3; scope++)
		for (int cap = 0; cap <= 1; cap++)
			for (int desc = 0; desc <= 1; desc++) {
				bool refused = attach_yama_refusal(scope, cap, desc, "attach", why,
								   sizeof(why));
				bool want = scope == 3 || (scope == 2 && !cap) ||
					    (scope == 1 && !cap && !desc);
				ck_assert_msg(refused == want, "scope %d cap %d descendant %d", scope,
					      cap, desc);
			}
	ck_assert(attach_yama_refusal(1, false, false, "attach", why, sizeof(why)));
	ck_assert_str_eq(why, "kernel.yama.ptrace_scope = 1 lets a process trace only its own "
			      "descendants: run heapsnap attach as root, or set it to 0 with "
			      "'sysctl kernel.yama.ptrace_scope=0'");
	ck_assert(attach_yama_refusal(2, false, true, "detach", why, sizeof(why)));
	ck_assert_str_eq(why, "kernel.yama.ptrace_scope = 2 lets only root (CAP_SYS_PTRACE) "
			      "trace processes: run heapsnap detach as root");
	ck_assert(attach_yama_refusal(3, true, true, "attach", why, sizeof(why)));
	ck_assert_str_eq(why, "ptrace is disabled on this system (kernel.yama.ptrace_scope = 3, "
			      "which only a reboot resets)");
}
END_TEST

START_TEST(usage_errors)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	assert_fails(run(cmd_top, "top", NULL), 2, "heapsnap: top: missing FILE or DIR");
	assert_fails(run(cmd_info, "info", "a", "b", NULL), 2,
		     "heapsnap: info: unexpected argument 'b'");
	assert_fails(run(cmd_diff, "diff", "a", "b", "c", NULL), 2,
		     "heapsnap: diff: unexpected argument 'c'");
	assert_fails(run(cmd_diff, "diff", "--old", "a", NULL), 2,
		     "heapsnap: diff: --old needs --new");
	assert_fails(run(cmd_diff, "diff", "--new", "a", "--all", NULL), 2,
		     "heapsnap: diff: --new needs --old");
	assert_fails(run(cmd_diff, "diff", "--old", "a", "--new", "b", "c", NULL), 2,
		     "heapsnap: diff: unexpected argument 'c' (with --old and --new)");
	assert_fails(run(cmd_diff, "diff", "--old", NULL), 2,
		     "heapsnap: diff: option '--old' needs an argument");
	assert_fails(run(cmd_top, "top", "--old", "a", "b", NULL), 2,
		     "heapsnap: top: --old is an option of diff");
	assert_fails(run(cmd_info, "info", "--all", "a", NULL), 2,
		     "heapsnap: info: unknown option '--all'");
	assert_fails(run(cmd_ls, "ls", "--bogus", NULL), 2, "heapsnap: ls: unknown option '--bogus'");
	assert_fails(run(cmd_diff, "diff", "snap.pb.gz", NULL), 2,
		     "heapsnap: diff: needs OLD and NEW, got only 'snap.pb.gz'");
	assert_fails(run(cmd_diff, "diff", NULL), 2, "heapsnap: diff: missing OLD and NEW");
	assert_fails(run(cmd_top, "top", "--bogus", "snap.pb.gz", NULL), 2,
		     "heapsnap: top: unknown option '--bogus'");
	assert_fails(run(cmd_top, "top", "-q", "snap.pb.gz", NULL), 2,
		     "heapsnap: top: unknown option '-q'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-n", NULL), 2,
		     "heapsnap: top: option '-n' needs an argument");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-n", "ten", NULL), 2,
		     "heapsnap: top: bad --limit 'ten'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-n", "-1", NULL), 2,
		     "heapsnap: top: bad --limit '-1'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-k", "line", NULL), 2,
		     "heapsnap: top: bad --key 'line'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-m", "max", NULL), 2,
		     "heapsnap: top: bad --metric 'max'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "--domain", "1x", NULL), 2,
		     "heapsnap: top: bad --domain '1x'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "--color=sometimes", NULL), 2,
		     "heapsnap: top: bad --color 'sometimes'");
	assert_fails(run(cmd_diff, "diff", "a", "b", "-k", "traceback", "--cumulative", NULL), 2,
		     "heapsnap: diff: --cumulative does not apply to -k traceback");
	assert_fails(run(cmd_info, "info", "-n", "3", "snap.pb.gz", NULL), 2,
		     "heapsnap: info: unknown option '-n'");
	leave_tmpdir();
}
END_TEST

/* A filter that matches nothing says how patterns match, on stderr. */
START_TEST(top_filter_matching_nothing_hints)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	struct result r = run(cmd_top, "top", "snap.pb.gz", "-i", "app.c", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Total: size=0 B"));
	ck_assert_ptr_nonnull(strstr(r.err, "no allocation matched the filters; patterns match "
					    "the whole path of the file (try '*/name.c')"));
	result_free(&r);
	r = run(cmd_top, "top", "snap.pb.gz", NULL);
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(top_numbers_out_of_range)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "-n", "99999999999999999999", NULL), 2,
		     "heapsnap: top: bad --limit '99999999999999999999'");
	assert_fails(run(cmd_top, "top", "snap.pb.gz", "--domain", "99999999999999999999", NULL),
		     2, "heapsnap: top: bad --domain '99999999999999999999'");
	assert_fails(run(cmd_top, "top", "--domain", NULL), 2,
		     "heapsnap: top: option '--domain' needs an argument");
	leave_tmpdir();
}
END_TEST

START_TEST(run_usage)
{
	assert_fails(run(cmd_run, "run", NULL), 2, "heapsnap: run: no program given");
	assert_fails(run(cmd_run, "run", "-q", NULL), 2, "heapsnap: run: no program given");
	assert_fails(run(cmd_run, "run", "--frames", "0", "true", NULL), 2,
		     "heapsnap: run: --frames takes 1..256, not '0'");
	assert_fails(run(cmd_run, "run", "-f", "257", "true", NULL), 2,
		     "heapsnap: run: --frames takes 1..256, not '257'");
	assert_fails(run(cmd_run, "run", "--frames", "16x", "true", NULL), 2,
		     "heapsnap: run: --frames takes 1..256, not '16x'");
	assert_fails(run(cmd_run, "run", "--frames", "", "true", NULL), 2,
		     "heapsnap: run: --frames takes 1..256, not ''");
	assert_fails(run(cmd_run, "run", "--bogus", "true", NULL), 2,
		     "heapsnap: run: unknown option '--bogus'; see 'heapsnap run --help'");
	assert_fails(run(cmd_run, "run", "--dir", NULL), 2,
		     "heapsnap: run: option '--dir' needs an argument; see 'heapsnap run --help'");
	assert_fails(run(cmd_run, "run", "-qx", "true", NULL), 2,
		     "heapsnap: run: unknown option '-x'; see 'heapsnap run --help'");
	assert_fails(run(cmd_run, "run", "--wait", "-1", "true", NULL), 2,
		     "heapsnap: run: --wait takes 0..86400 seconds, not '-1'");
	assert_fails(run(cmd_run, "run", "--sample", "-1", "true", NULL), 2,
		     "heapsnap: run: --sample takes 0..1099511627776 bytes, not '-1'");
	assert_fails(run(cmd_run, "run", "--sample", "1099511627777", "true", NULL), 2,
		     "heapsnap: run: --sample takes 0..1099511627776 bytes, not '1099511627777'");
	assert_fails(run(cmd_run, "run", "--sample", "512k", "true", NULL), 2,
		     "heapsnap: run: --sample takes 0..1099511627776 bytes, not '512k'");
	assert_fails(run(cmd_run, "run", "--sample", "", "true", NULL), 2,
		     "heapsnap: run: --sample takes 0..1099511627776 bytes, not ''");
	/* Options stop at the program: its own options are not run's.  A program that
	 * cannot be run ends run as a shell's or env's command would: 127 when there is no
	 * such program, 126 when it may not be executed. */
	assert_fails(run(cmd_run, "run", "/nonexistent/prog", "--bogus", NULL), 127,
		     "heapsnap: run: '/nonexistent/prog': no such program");
	assert_fails(run(cmd_run, "run", "-q", "/", NULL), 126,
		     "heapsnap: run: cannot execute '/': Permission denied");
	struct result r = run(cmd_run, "run", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap run [OPTIONS] [--] PROGRAM"));
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	/* Found and executable, but the kernel cannot run it: 127, as a shell says. */
	enter_tmpdir();
	FILE *f = fopen("badinterp", "w");
	ck_assert_ptr_nonnull(f);
	fputs("#!/nonexistent/interpreter\n", f);
	fclose(f);
	ck_assert_int_eq(chmod("badinterp", 0755), 0);
	assert_fails(run(cmd_run, "run", "-q", "./badinterp", NULL), 127,
		     "heapsnap: run: cannot execute './badinterp': No such file or directory");
	unlink("badinterp");
	f = fopen("notexec", "w");
	fputs("echo no\n", f);
	fclose(f);
	assert_fails(run(cmd_run, "run", "-q", "./notexec", NULL), 126,
		     "heapsnap: run: './notexec': permission denied (not executable)");
	/* An executable text file without "#!" runs under /bin/sh, as execvp runs it. */
	ck_assert_int_eq(chmod("notexec", 0755), 0);
	f = fopen("notexec", "w");
	fputs("echo \"script $# $1\"\n", f);
	fclose(f);
	r = run(cmd_run, "run", "-q", "./notexec", "a b", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "script 1 a b\n");
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	/* An empty entry of PATH is the current directory, as for execvp: first, last,
	 * between two colons, or PATH empty. */
	char *path = strdup(getenv("PATH"));
	static const char *const paths[] = { ":/usr/bin", "/usr/bin:", "/usr/bin::/bin", "" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		setenv("PATH", paths[i], 1);
		r = run(cmd_run, "run", "-q", "notexec", "x", NULL);
		ck_assert_msg(r.status == 0 && !strcmp(r.out, "script 1 x\n"), "PATH '%s': %d %s%s",
			      paths[i], r.status, r.out, r.err);
		result_free(&r);
	}
	setenv("PATH", "/usr/bin:/bin", 1);
	assert_fails(run(cmd_run, "run", "-q", "notexec", NULL), 127,
		     "heapsnap: run: 'notexec': no such program");
	setenv("PATH", path, 1);
	free(path);
	unlink("notexec");
	system("rm -f heapsnap.*.pb.gz");
	leave_tmpdir();
}
END_TEST

START_TEST(snap_usage)
{
	assert_fails(run(cmd_snap, "snap", NULL), 2, "heapsnap: snap: needs one PID");
	assert_fails(run(cmd_snap, "snap", "1", "2", NULL), 2, "heapsnap: snap: needs one PID");
	assert_fails(run(cmd_snap, "snap", "0", NULL), 2, "heapsnap: snap: '0' is not a pid");
	assert_fails(run(cmd_snap, "snap", "--", "-5", NULL), 2, "heapsnap: snap: '-5' is not a pid");
	assert_fails(run(cmd_snap, "snap", "12ab", NULL), 2, "heapsnap: snap: '12ab' is not a pid");
	assert_fails(run(cmd_snap, "snap", "2147483648", NULL), 2,
		     "heapsnap: snap: '2147483648' is not a pid");
	assert_fails(run(cmd_snap, "snap", "--timeout", "0", "1", NULL), 2,
		     "heapsnap: snap: bad --timeout '0'");
	assert_fails(run(cmd_snap, "snap", "-t", "-1", "1", NULL), 2,
		     "heapsnap: snap: bad --timeout '-1'");
	assert_fails(run(cmd_snap, "snap", "-t", "nan", "1", NULL), 2,
		     "heapsnap: snap: bad --timeout 'nan'");
	assert_fails(run(cmd_snap, "snap", "-t", "3s", "1", NULL), 2,
		     "heapsnap: snap: bad --timeout '3s'");
	assert_fails(run(cmd_snap, "snap", "--timeout", NULL), 2,
		     "heapsnap: snap: option '--timeout' needs an argument; see 'heapsnap snap --help'");
	assert_fails(run(cmd_snap, "snap", "--bogus", "1", NULL), 2,
		     "heapsnap: snap: unknown option '--bogus'; see 'heapsnap snap --help'");
	struct result r = run(cmd_snap, "snap", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap snap [--timeout SECONDS] PID"));
	result_free(&r);
}
END_TEST

/* start, stop and reset-peak share snap's parser and say their own names. */
START_TEST(control_usage)
{
	static int (*const cmds[])(int, char **) = { cmd_start, cmd_stop, cmd_reset_peak };
	static const char *const words[] = { "start", "stop", "reset-peak" };
	for (int i = 0; i < 3; i++) {
		char want[128];
		snprintf(want, sizeof(want), "heapsnap: %s: needs one PID", words[i]);
		assert_fails(run(cmds[i], words[i], NULL), 2, want);
		snprintf(want, sizeof(want), "heapsnap: %s: '12ab' is not a pid", words[i]);
		assert_fails(run(cmds[i], words[i], "12ab", NULL), 2, want);
		snprintf(want, sizeof(want), "heapsnap: %s: bad --timeout '0'", words[i]);
		assert_fails(run(cmds[i], words[i], "-t", "0", "1", NULL), 2, want);
		struct result r = run(cmds[i], words[i], "--help", NULL);
		ck_assert_int_eq(r.status, 0);
		snprintf(want, sizeof(want), "Usage: heapsnap %s [--timeout SECONDS] PID", words[i]);
		ck_assert_ptr_nonnull(strstr(r.out, want));
		result_free(&r);
	}
}
END_TEST

START_TEST(collect_usage)
{
	const char *needs = "heapsnap: collect: needs --shm-fd, --pid and --dir";
	assert_fails(run(cmd_collect, "collect", NULL), 2, needs);
	assert_fails(run(cmd_collect, "collect", "--shm-fd", "3", "--pid", "7", NULL), 2, needs);
	assert_fails(run(cmd_collect, "collect", "--shm-fd", "3", "--pid", "7", "--dir", ".",
			 "extra", NULL), 2, needs);
	assert_fails(run(cmd_collect, "collect", "--shm-fd", "-1", NULL), 2,
		     "heapsnap: collect: bad fd '-1'");
	assert_fails(run(cmd_collect, "collect", "--run-fd", "2147483648", NULL), 2,
		     "heapsnap: collect: bad fd '2147483648'");
	assert_fails(run(cmd_collect, "collect", "--pid", "0", NULL), 2,
		     "heapsnap: collect: bad pid '0'");
	assert_fails(run(cmd_collect, "collect", "--pid", "2147483648", NULL), 2,
		     "heapsnap: collect: bad pid '2147483648'");
	assert_fails(run(cmd_collect, "collect", "--pid", "", NULL), 2,
		     "heapsnap: collect: bad pid ''");
	struct result r = run(cmd_collect, "collect", "--pid", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = run(cmd_collect, "collect", "--bogus", NULL);
	ck_assert_int_eq(r.status, 2);
	result_free(&r);
	r = run(cmd_collect, "collect", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap collect --shm-fd FD"));
	result_free(&r);
}
END_TEST

START_TEST(flame_usage)
{
	enter_tmpdir();
	write_known("snap.pb.gz", 1);
	assert_fails(run(cmd_flame, "flame", NULL), 2, "heapsnap: flame: missing FILE");
	assert_fails(run(cmd_flame, "flame", "snap.pb.gz", "b", NULL), 1,
		     "heapsnap: cannot read 'b'");
	assert_fails(run(cmd_flame, "flame", ".", NULL), 1,
		     "heapsnap: flame: no snapshots (heapsnap.*.pb.gz) in '.'");
	/* hist reads one file: a directory is said to be one. */
	assert_fails(run(cmd_hist, "hist", ".", NULL), 1,
		     "heapsnap: cannot read '.': a directory; this command reads one file (top, "
		     "diff, flame and ls read directories)");
	assert_fails(run(cmd_flame, "flame", "-m", "max", "snap.pb.gz", NULL), 2,
		     "heapsnap: flame: bad --metric 'max'");
	assert_fails(run(cmd_flame, "flame", "--domain", "x", "snap.pb.gz", NULL), 2,
		     "heapsnap: flame: bad --domain 'x'");
	assert_fails(run(cmd_flame, "flame", "--bogus", "snap.pb.gz", NULL), 2,
		     "heapsnap: flame: unknown option '--bogus'");
	assert_fails(run(cmd_flame, "flame", "nope.pb.gz", NULL), 1,
		     "heapsnap: cannot read 'nope.pb.gz'");
	struct result r = run(cmd_flame, "flame", "snap.pb.gz", "-x", "prog.c", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22) 20480\n"
				"main (prog.c:30);0x1234 (libfoo.so.1) 10\n");
	result_free(&r);
	/* --skip-file: the vec.h frame is left out of its stack. */
	r = run(cmd_flame, "flame", "snap.pb.gz", "-x", "prog.c", "--skip-file", "*.h", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "main (prog.c:30);parse (parse.c:80) 20480\n"
				"main (prog.c:30);0x1234 (libfoo.so.1) 10\n");
	result_free(&r);
	/* Several files, or a directory of them, are merged: each stack's values add up
	 * (two processes' files here, the same stacks). */
	ck_assert_int_eq(system("mkdir tree && cp snap.pb.gz tree/heapsnap.1.exit.pb.gz && "
				"cp snap.pb.gz tree/heapsnap.2.exit.pb.gz"), 0);
	const char *const merged = "main (prog.c:30);parse (parse.c:80);vec_push (vec.h:22) 40960\n"
				   "main (prog.c:30);0x1234 (libfoo.so.1) 20\n";
	r = run(cmd_flame, "flame", "tree", "-x", "prog.c", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, merged);
	result_free(&r);
	r = run(cmd_flame, "flame", "tree/heapsnap.1.exit.pb.gz", "tree/heapsnap.2.exit.pb.gz",
		"-x", "prog.c", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, merged);
	result_free(&r);
	ck_assert_int_eq(system("rm -r tree"), 0);
	r = run(cmd_flame, "flame", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap flame FILE|DIR..."));
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(help)
{
	struct result r = run(cmd_top, "top", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap top FILE|DIR..."));
	ck_assert_ptr_nonnull(strstr(r.out, "Example:"));
	ck_assert_str_eq(r.err, "");
	result_free(&r);
	r = run(cmd_diff, "diff", "-h", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap diff OLD NEW"));
	ck_assert_ptr_nonnull(strstr(r.out, "heapsnap diff --old FILE|DIR... --new FILE|DIR..."));
	ck_assert_ptr_nonnull(strstr(r.out, "Example:"));
	result_free(&r);
	r = run(cmd_ls, "ls", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap ls [OPTIONS...] [DIR|FILE...]"));
	ck_assert_ptr_nonnull(strstr(r.out, "Example:"));
	result_free(&r);
	r = run(cmd_info, "info", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Usage: heapsnap info FILE"));
	ck_assert_ptr_nonnull(strstr(r.out, "Example:"));
	result_free(&r);
}
END_TEST

START_TEST(read_errors)
{
	enter_tmpdir();
	assert_fails(run(cmd_top, "top", "nope.pb.gz", NULL), 1,
		     "heapsnap: cannot read 'nope.pb.gz': No such file or directory");
	FILE *f = fopen("junk.pb.gz", "w");
	fputs("this is not a profile", f);
	fclose(f);
	assert_fails(run(cmd_info, "info", "junk.pb.gz", NULL), 1,
		     "heapsnap: cannot read 'junk.pb.gz': ");
	write_known("snap.pb.gz", 1);
	assert_fails(run(cmd_diff, "diff", "snap.pb.gz", "junk.pb.gz", NULL), 1,
		     "heapsnap: cannot read 'junk.pb.gz': ");

	profile_t *p = known_profile(1);
	p->has_value[PV_PEAK_SPACE] = p->has_value[PV_PEAK_OBJECTS] = false;
	write_profile(p, "nopeak.pb.gz");
	profile_free(p);
	assert_fails(run(cmd_top, "top", "-m", "peak", "nopeak.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'nopeak.pb.gz': no peak values (not a heapsnap snapshot?)");
	assert_fails(run(cmd_diff, "diff", "-m", "peak", "snap.pb.gz", "nopeak.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'nopeak.pb.gz': no peak values");
	assert_fails(run(cmd_flame, "flame", "-m", "peak", "nopeak.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'nopeak.pb.gz': no peak values (not a heapsnap snapshot?)");
	struct result r = run(cmd_top, "top", "nopeak.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	result_free(&r);

	/* A file written before temporary allocations were counted. */
	p = known_profile(1);
	p->has_value[PV_TEMPORARY_SPACE] = p->has_value[PV_TEMPORARY_OBJECTS] = false;
	write_profile(p, "old.pb.gz");
	profile_free(p);
	assert_fails(run(cmd_top, "top", "-m", "temporary", "old.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'old.pb.gz': no temporary values (written before "
		     "heapsnap counted temporary allocations)");
	assert_fails(run(cmd_flame, "flame", "-m", "temporary", "old.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'old.pb.gz': no temporary values (written before heapsnap "
		     "counted temporary allocations)");
	assert_fails(run(cmd_top, "top", "-m", "tmp", "old.pb.gz", NULL), 2,
		     "heapsnap: top: bad --metric 'tmp' (inuse, peak, alloc or temporary)");
	r = run(cmd_top, "top", "old.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	result_free(&r);

	/* Files written before max_size and size classes were kept. */
	assert_fails(run(cmd_top, "top", "--max", "snap.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'snap.pb.gz': no max_size (written before heapsnap "
		     "kept the largest block per stack)");
	assert_fails(run(cmd_diff, "diff", "--max", "old.pb.gz", "snap.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'snap.pb.gz': no max_size");
	assert_fails(run(cmd_hist, "hist", "snap.pb.gz", NULL), 1,
		     "heapsnap: cannot use 'snap.pb.gz': no block sizes (written before "
		     "heapsnap kept them)");
	/* A process that allocated nothing, or only mappings, has nothing to class: its
	 * file is not an old one (hist and --max refused it, and top DIR --max with it). */
	for (int mapped = 0; mapped < 2; mapped++) {
		p = profile_new();
		for (int v = 0; v < PV_COUNT; v++)
			p->has_value[v] = true;
		if (mapped) {
			const profile_mapping_t m = { 0x400000, 0x500000, 0, "/usr/bin/prog", NULL };
			uint32_t idx;
			ck_assert_int_eq(profile_add_mapping(p, &m, &idx), 0);
			int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = 8192, [PV_INUSE_OBJECTS] = 1,
						[PV_ALLOC_SPACE] = 8192, [PV_ALLOC_OBJECTS] = 1 };
			uint32_t l = loc(p, 0, 0x10, "map_it", "m.c", 3);
			ck_assert_int_eq(profile_add_sample(p, &l, 1, v, PROFILE_DOMAIN_MMAP, false), 0);
			p->samples[0].max_size = 8192;
			p->has_max_size = true;
		}
		write_profile(p, "empty.pb.gz");
		profile_free(p);
		r = run(cmd_hist, "hist", "empty.pb.gz", NULL);
		ck_assert_msg(r.status == 0 && strstr(r.out, "\nTotal                           0"),
			      "%d: %s%s", mapped, r.out, r.err);
		result_free(&r);
		r = run(cmd_top, "top", "--max", "empty.pb.gz", NULL);
		ck_assert_msg(r.status == 0 && strstr(r.out, "Total: size=0 B, count=0\n"), "%s%s",
			      r.out, r.err);
		result_free(&r);
	}
	assert_fails(run(cmd_hist, "hist", "junk.pb.gz", NULL), 1,
		     "heapsnap: cannot read 'junk.pb.gz': ");
	assert_fails(run(cmd_hist, "hist", NULL), 2,
		     "heapsnap: hist: missing FILE; see 'heapsnap hist --help'");
	assert_fails(run(cmd_hist, "hist", "a", "b", NULL), 2,
		     "heapsnap: hist: unexpected argument 'b'");
	assert_fails(run(cmd_hist, "hist", "--domain", "x", "snap.pb.gz", NULL), 2,
		     "heapsnap: hist: bad --domain 'x' (heap, mmap, all or 1..65535)");
	leave_tmpdir();
}
END_TEST

/* Writes the known profile (first site scaled) with pid and time as path. */
static void write_known_as(const char *path, int64_t scale, int64_t pid, int64_t time_s)
{
	profile_t *p = known_profile(scale);
	p->meta.pid = pid;
	p->meta.time_nanos = time_s * 1000000000;
	write_profile(p, path);
	profile_free(p);
}

START_TEST(snapname_parsing)
{
	snapname_t n;
	ck_assert_int_eq(snapname_parse("heapsnap.123.4.pb.gz", &n), 0);
	ck_assert_int_eq(n.pid, 123);
	ck_assert_int_eq(n.kind, SNAPNAME_NUMBERED);
	ck_assert_int_eq(n.n, 4);
	ck_assert_int_eq(n.dup, 1);
	ck_assert_int_eq(snapname_parse("heapsnap.7.exit-3.pb.gz", &n), 0);
	ck_assert_int_eq(n.pid, 7);
	ck_assert_int_eq(n.kind, SNAPNAME_EXIT);
	ck_assert_int_eq(n.dup, 3);
	ck_assert_int_eq(snapname_parse("heapsnap.7.exec.pb.gz", &n), 0);
	ck_assert_int_eq(n.kind, SNAPNAME_EXEC);
	const char *bad[] = { "heapsnap.7.exit.pb", "heapsnap..exit.pb.gz", "heapsnap.7.pb.gz",
			      "heapsnap.7.exits.pb.gz", "heapsnap.7.1-.pb.gz", "x.7.1.pb.gz",
			      "heapsnap.12345678901.1.pb.gz", ".heapsnap.7.1.pb.gz.tmp" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(snapname_parse(bad[i], &n) == -EINVAL, "%s parsed", bad[i]);
}
END_TEST

/* A directory stands for each pid's final files; --all for every file. */
START_TEST(directory_selection)
{
	enter_tmpdir();
	ck_assert_int_eq(mkdir("d", 0700), 0);
	const char *names[] = { "heapsnap.10.1.pb.gz", "heapsnap.10.2.pb.gz",
				"heapsnap.10.exit.pb.gz", "heapsnap.11.3.pb.gz",
				"heapsnap.11.12.pb.gz", "heapsnap.12.exec.pb.gz",
				"heapsnap.12.exit.pb.gz", "heapsnap.12.exit-2.pb.gz" };
	char path[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "d/%s", names[i]);
		write_known_as(path, 1, 10 + (names[i][10] - '0'), 1700000000 + (int64_t)i);
	}
	FILE *f = fopen("d/notes.txt", "w");
	fclose(f);
	struct result r = run(cmd_top, "top", "--json", "-n", "1", "d/", NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	const char *head = "{\"files\":[\"d/heapsnap.10.exit.pb.gz\",\"d/heapsnap.11.12.pb.gz\","
			   "\"d/heapsnap.12.exec.pb.gz\",\"d/heapsnap.12.exit.pb.gz\","
			   "\"d/heapsnap.12.exit-2.pb.gz\"],\"processes\":3,\"key\":\"lineno\"";
	ck_assert_msg(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	/* Five files of the known profile: five times its totals. */
	ck_assert_ptr_nonnull(strstr(r.out, "\"total\":{\"size\":123430,\"count\":70}}"));
	result_free(&r);

	/* A file named twice (its directory, and itself) counts once. */
	r = run(cmd_top, "top", "--json", "-n", "1", "d", "d/heapsnap.10.exit.pb.gz",
		"./d/heapsnap.10.exit.pb.gz", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	result_free(&r);

	r = run(cmd_top, "top", "--all", "-n", "1", "d", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 1 statistics of 8 files (3 processes) by lineno, metric inuse\n"
			 "#1: vec.h:22: size=160 KiB, count=80, average=2048 B\n"
			 "3 other: size=32.9 KiB, count=32\n"
			 "Total: size=193 KiB, count=112\n");
	result_free(&r);

	/* By the time each was written: pid 13's numbered snapshot came after its exec
	 * file (the image after the exec, still running) and is kept; pid 14's came before
	 * its exit file and is not; of pid 15's two, the newer (after an exec, numbering
	 * from 1 again) is kept. */
	ck_assert_int_eq(mkdir("e", 0700), 0);
	const struct {
		const char *name;
		time_t at;
	} timed[] = { { "heapsnap.13.exec.pb.gz", 100 }, { "heapsnap.13.1.pb.gz", 200 },
		      { "heapsnap.14.5.pb.gz", 100 },    { "heapsnap.14.exit.pb.gz", 200 },
		      { "heapsnap.15.2.pb.gz", 100 },    { "heapsnap.15.1-2.pb.gz", 200 } };
	for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
		snprintf(path, sizeof(path), "e/%s", timed[i].name);
		write_known_as(path, 1, 13 + (timed[i].name[10] - '3'), 1700000000);
		struct timespec ts[2] = { { 1700000000 + timed[i].at, 0 },
					  { 1700000000 + timed[i].at, 0 } };
		ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	r = run(cmd_top, "top", "--json", "-n", "1", "e", NULL);
	ck_assert_int_eq(r.status, 0);
	head = "{\"files\":[\"e/heapsnap.13.1.pb.gz\",\"e/heapsnap.13.exec.pb.gz\","
	       "\"e/heapsnap.14.exit.pb.gz\",\"e/heapsnap.15.1-2.pb.gz\"],\"processes\":3,";
	ck_assert_msg(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	result_free(&r);

	ck_assert_int_eq(mkdir("empty", 0700), 0);
	assert_fails(run(cmd_top, "top", "empty", NULL), 1,
		     "heapsnap: top: no snapshots (heapsnap.*.pb.gz) in 'empty'");
	leave_tmpdir();
}
END_TEST

/* top of several files: sums per key, the merge named in the title, the peak note. */
START_TEST(top_merged)
{
	enter_tmpdir();
	write_known("old.pb.gz", 1);
	write_known("new.pb.gz", 3);
	struct result r = run(cmd_top, "top", "old.pb.gz", "new.pb.gz", "-n", "2", "-m", "peak",
			      NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 2 statistics of 2 files (1 process) by lineno, metric peak\n"
			 "Peaks are each file's own peak added up: an upper bound of the peak of "
			 "the processes together\n"
			 "#1: vec.h:22: size=160 KiB, count=80, average=2048 B\n"
			 "#2: prog.c:12: size=16.0 KiB, count=8, average=2048 B\n"
			 "2 other: size=440 B, count=8\n"
			 "Total: size=176 KiB, count=96\n");
	result_free(&r);

	/* One file on each side of a diff is the plain diff; a merge on one side names it. */
	r = run(cmd_diff, "diff", "--old", "old.pb.gz", "--new", "new.pb.gz", "--new", "old.pb.gz",
		"-n", "1", "-k", "traceback", NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "Top 1 differences from 'old.pb.gz' to 2 files (1 process) by traceback, "
			 "metric inuse\n"
			 "#1: vec.h:22: size=80.0 KiB (+60.0 KiB), count=40 (+30), average=2048 B\n"
			 "    vec_push at vec.h:22 (prog)\n"
			 "    parse at parse.c:80 (prog)\n"
			 "    main at prog.c:30 (prog)\n"
			 "3 other: size=8412 B (+4206 B), count=8 (+4)\n"
			 "Total: size=88.2 KiB (+64.1 KiB), count=48 (+34)\n");
	result_free(&r);
	leave_tmpdir();
}
END_TEST

START_TEST(ls_lists_and_reports)
{
	enter_tmpdir();
	ck_assert_int_eq(mkdir("d", 0700), 0);
	write_known_as("d/heapsnap.20.exit.pb.gz", 1, 20, 1700000300);
	write_known_as("d/heapsnap.9.1.pb.gz", 1, 9, 1700000100);
	FILE *f = fopen("d/heapsnap.21.exit.pb.gz", "w");
	fputs("junk", f);
	fclose(f);
	struct result r = run(cmd_ls, "ls", "d", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out,
			 "PID  COMMAND        TRIGGER  TIME                             PEAK  PATH\n"
			 "  9  ./prog --fast  exit     2023-11-14 22:15:00.000 UTC  48.8 KiB  "
			 "d/heapsnap.9.1.pb.gz\n"
			 " 20  ./prog --fast  exit     2023-11-14 22:18:20.000 UTC  48.8 KiB  "
			 "d/heapsnap.20.exit.pb.gz\n"
			 " 21  -              -        -                                   -  "
			 "d/heapsnap.21.exit.pb.gz: not gzip or pprof (bad header)\n");
	ck_assert_str_eq(r.err, "heapsnap: ls: 1 of the files could not be read or listed\n");
	result_free(&r);

	ck_assert_int_eq(chdir("d"), 0);
	unlink("heapsnap.21.exit.pb.gz");
	r = run(cmd_ls, "ls", "--json", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "{\"snapshots\":[\n"
			 "{\"path\":\"heapsnap.9.1.pb.gz\",\"pid\":9,\"command\":\"./prog --fast\","
			 "\"trigger\":\"exit\",\"time_nanos\":1700000100000000000,\"peak_bytes\":50000},\n"
			 "{\"path\":\"heapsnap.20.exit.pb.gz\",\"pid\":20,\"command\":\"./prog --fast\","
			 "\"trigger\":\"exit\",\"time_nanos\":1700000300000000000,\"peak_bytes\":50000}\n"
			 "]}\n");
	result_free(&r);

	/* A command with a newline and a tab in an argument stays on its row, and so does
	 * a trigger with them (a damaged or forged file's). */
	profile_t *p = known_profile(1);
	p->meta.pid = 30;
	p->meta.time_nanos = 1700000400ll * 1000000000;
	p->meta.command = profile_intern(p, "sh -c echo a\necho\tb");
	p->meta.trigger = profile_intern(p, "exit\n\x1b[2J");
	write_profile(p, "heapsnap.30.exit.pb.gz");
	profile_free(p);
	unlink("heapsnap.9.1.pb.gz");
	unlink("heapsnap.20.exit.pb.gz");
	r = run(cmd_ls, "ls", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "PID  COMMAND                TRIGGER        TIME                     "
			 "        PEAK  PATH\n"
			 " 30  sh -c echo a\\necho\\tb  exit\\n\\x1b[2J  2023-11-14 22:20:00.000 UTC  "
			 "48.8 KiB  heapsnap.30.exit.pb.gz\n");
	result_free(&r);
	unlink("heapsnap.30.exit.pb.gz");
	unlink("out");
	unlink("err");
	ck_assert_int_eq(chdir(".."), 0);
	/* A directory with a newline in its name: the path is escaped, one line a row. */
	ck_assert_int_eq(mkdir("n\nl", 0700), 0);
	write_known_as("n\nl/heapsnap.40.exit.pb.gz", 1, 40, 1700000500);
	r = run(cmd_ls, "ls", "n\nl", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "PID  COMMAND        TRIGGER  TIME                             PEAK  PATH\n"
			 " 40  ./prog --fast  exit     2023-11-14 22:21:40.000 UTC  48.8 KiB  "
			 "n\\nl/heapsnap.40.exit.pb.gz\n");
	result_free(&r);
	unlink("n\nl/heapsnap.40.exit.pb.gz");
	rmdir("n\nl");
	leave_tmpdir();
}
END_TEST

/* report's output: never over an input file nor over what is not a file, through a
 * symbolic link to a file, and a write that fails (a file size limit: EFBIG, not
 * SIGXFSZ) leaves neither the page nor its temporary file. */
/* The page's data says what the domains it does not show hold: the header names them
 * (a pymalloc Python's page said 31.7 MiB current and showed 2.7 MiB, the rest unsaid). */
START_TEST(report_names_the_other_domains)
{
	enter_tmpdir();
	profile_t *p = known_profile(1);
	int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = 8192, [PV_INUSE_OBJECTS] = 2,
				[PV_ALLOC_SPACE] = 8192, [PV_ALLOC_OBJECTS] = 2 };
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, v, PROFILE_DOMAIN_MMAP, false), 0);
	write_profile(p, "in.pb.gz");
	profile_free(p);
	struct result r = run(cmd_report, "report", "in.pb.gz", "-o", "in.html", NULL);
	ck_assert_int_eq(r.status, 0);
	result_free(&r);
	char *page = slurp("in.html");
	ck_assert_ptr_nonnull(page);
	ck_assert_msg(strstr(page, "\"other_domains\":[[{\"domain\":\"mmap\",\"size\":8192,"
				   "\"count\":2}]]"),
		      "no other_domains in the page's data");
	free(page);
	/* The page of the mmap domain names the heap as the other. */
	r = run(cmd_report, "report", "in.pb.gz", "--domain", "mmap", "-o", "mmap.html", NULL);
	ck_assert_int_eq(r.status, 0);
	result_free(&r);
	page = slurp("mmap.html");
	ck_assert_ptr_nonnull(page);
	ck_assert_ptr_nonnull(strstr(page, "\"other_domains\":[[{\"domain\":\"heap\",\"size\":24686,"));
	free(page);
	unlink("in.pb.gz");
	unlink("in.html");
	unlink("mmap.html");
	leave_tmpdir();
}
END_TEST

START_TEST(report_output_errors)
{
	enter_tmpdir();
	write_known_as("in.pb.gz", 1, 7, 1700000000);
	assert_fails(run(cmd_report, "report", "in.pb.gz", "-o", "in.pb.gz", NULL), 1,
		     "heapsnap: report: 'in.pb.gz' is an input file; the page needs a name of its "
		     "own");
	struct stat st;
	ck_assert_int_eq(stat("in.pb.gz", &st), 0);
	/* Not over a FIFO (nor a device): it stays what it was. */
	ck_assert_int_eq(mkfifo("fifo", 0600), 0);
	assert_fails(run(cmd_report, "report", "in.pb.gz", "-o", "fifo", NULL), 1,
		     "heapsnap: report: 'fifo' is not a regular file; the page is written to a "
		     "file of its own");
	ck_assert_int_eq(lstat("fifo", &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	unlink("fifo");
	/* Through a symbolic link to a file: the link stays, the file is the page. */
	FILE *f = fopen("old.html", "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(symlink("old.html", "link.html"), 0);
	struct result lr = run(cmd_report, "report", "in.pb.gz", "-o", "link.html", NULL);
	ck_assert_msg(lr.status == 0, "%s", lr.err);
	result_free(&lr);
	ck_assert_int_eq(lstat("link.html", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(stat("old.html", &st), 0);
	ck_assert_int_gt(st.st_size, 1000);
	unlink("link.html");
	unlink("old.html");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		setrlimit(RLIMIT_FSIZE, &rl);
		struct result r = run(cmd_report, "report", "in.pb.gz", "-o", "page.html", NULL);
		_exit(r.status == 1 && !strcmp(r.err, "heapsnap: cannot write 'page.html': File "
							  "too large\n") ? 0 : 3);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	DIR *d = opendir(".");
	struct dirent *e;
	while ((e = readdir(d)))
		ck_assert_msg(strncmp(e->d_name, "page.html", 9), "%s left behind", e->d_name);
	closedir(d);
	unlink("in.pb.gz");
	unlink("out");
	unlink("err");
	leave_tmpdir();
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, top_text);
	tcase_add_test(tc, top_traceback);
	tcase_add_test(tc, top_json);
	tcase_add_test(tc, diff_text_json);
	tcase_add_test(tc, top_temporary);
	tcase_add_test(tc, info_text_json);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, yama_refusals);
	tcase_add_test(tc, help);
	tcase_add_test(tc, flame_usage);
	tcase_add_test(tc, read_errors);
	tcase_add_test(tc, top_numbers_out_of_range);
	tcase_add_test(tc, top_filter_matching_nothing_hints);
	tcase_add_test(tc, run_usage);
	tcase_add_test(tc, snap_usage);
	tcase_add_test(tc, control_usage);
	tcase_add_test(tc, collect_usage);
	tcase_add_test(tc, snapname_parsing);
	tcase_add_test(tc, directory_selection);
	tcase_add_test(tc, top_merged);
	tcase_add_test(tc, ls_lists_and_reports);
	tcase_add_test(tc, report_output_errors);
	tcase_add_test(tc, report_names_the_other_domains);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(cli_suite());
}
