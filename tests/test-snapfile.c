/* test-snapfile.c - snapshot files appear whole, with mode 0600 unless the umask is
 * stricter, and never replace or follow what is already at their name. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pprof.h"
#include "snapfile.h"
#include "checkmain.h"

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/snapfile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Removes dir and the files the test left in it (snapshot files are never nested). */
static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[512];
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static profile_t *small_profile(int64_t bytes)
{
	profile_t *p = profile_new();
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	profile_line_t line = { "main", "/src/a.c", 7 };
	uint32_t loc;
	ck_assert_int_eq(profile_add_location(p, 0x1234, PROFILE_NONE, &line, 1, &loc), 0);
	int64_t values[PV_COUNT] = { 1, bytes, 1, bytes, 1, bytes };
	ck_assert_int_eq(profile_add_sample(p, &loc, 1, values, 0, false), 0);
	p->meta.pid = 42;
	return p;
}

static int64_t bytes_in(const char *path)
{
	profile_t *p;
	pprof_error_t err;
	ck_assert_msg(pprof_read_file(path, &p, &err) == 0, "%s: %s", path, err.why);
	int64_t b = p->samples[0].value[PV_INUSE_SPACE];
	profile_free(p);
	return b;
}

static int count_entries(void)
{
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

START_TEST(writes_whole_file_mode_0600)
{
	mode_t old = umask(022);
	profile_t *p = small_profile(100);
	char path[PATH_MAX], want[PATH_MAX];
	ck_assert_int_eq(snapfile_write(p, dir, "heapsnap.42.1", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/heapsnap.42.1.pb.gz", dir);
	ck_assert_str_eq(path, want);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(bytes_in(path), 100);
	ck_assert_int_eq(count_entries(), 1); /* no temporary left behind */
	profile_free(p);
	umask(old);
}
END_TEST

START_TEST(stricter_umask_wins)
{
	mode_t old = umask(0277);
	profile_t *p = small_profile(1);
	char path[PATH_MAX];
	ck_assert_int_eq(snapfile_write(p, dir, "x", path, sizeof(path)), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0400);
	profile_free(p);
	umask(old);
}
END_TEST

START_TEST(existing_file_is_kept)
{
	char taken[PATH_MAX], path[PATH_MAX], want[PATH_MAX];
	snprintf(taken, sizeof(taken), "%s/heapsnap.42.exit.pb.gz", dir);
	FILE *f = fopen(taken, "w");
	fputs("someone else's", f);
	fclose(f);
	profile_t *p = small_profile(7);
	ck_assert_int_eq(snapfile_write(p, dir, "heapsnap.42.exit", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/heapsnap.42.exit-2.pb.gz", dir);
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(bytes_in(path), 7);
	char buf[64] = "";
	f = fopen(taken, "r");
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "someone else's");
	/* And the next one goes to -3. */
	ck_assert_int_eq(snapfile_write(p, dir, "heapsnap.42.exit", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/heapsnap.42.exit-3.pb.gz", dir);
	ck_assert_str_eq(path, want);
	profile_free(p);
}
END_TEST

START_TEST(symlink_is_not_followed)
{
	char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
	snprintf(link, sizeof(link), "%s/heapsnap.42.1.pb.gz", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	ck_assert_int_eq(symlink(target, link), 0);
	profile_t *p = small_profile(9);
	ck_assert_int_eq(snapfile_write(p, dir, "heapsnap.42.1", path, sizeof(path)), 0);
	ck_assert_ptr_nonnull(strstr(path, "heapsnap.42.1-2.pb.gz"));
	ck_assert_int_eq(access(target, F_OK), -1); /* the link's target was not created */
	struct stat st;
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	profile_free(p);
}
END_TEST

START_TEST(missing_directory_fails_cleanly)
{
	char missing[PATH_MAX], path[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	profile_t *p = small_profile(1);
	ck_assert_int_eq(snapfile_write(p, missing, "x", path, sizeof(path)), -ENOENT);
	ck_assert_int_eq(count_entries(), 0);
	profile_free(p);
}
END_TEST

START_TEST(full_disk_leaves_nothing)
{
	/* A write that fails half-way, as on a full disk: a 10-byte RLIMIT_FSIZE makes the
	 * kernel refuse the rest (EFBIG) without needing a small file system. */
	profile_t *p = small_profile(5);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 10, 10 };
		setrlimit(RLIMIT_FSIZE, &rl);
		char path[PATH_MAX];
		_exit(snapfile_write(p, dir, "big", path, sizeof(path)) == -EFBIG ? 0 : 1);
	}
	int st;
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(count_entries(), 0);
	profile_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapfile");
	TCase *tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, writes_whole_file_mode_0600);
	tcase_add_test(tc, stricter_umask_wins);
	tcase_add_test(tc, existing_file_is_kept);
	tcase_add_test(tc, symlink_is_not_followed);
	tcase_add_test(tc, missing_directory_fails_cleanly);
	tcase_add_test(tc, full_disk_leaves_nothing);
	suite_add_tcase(s, tc);
	return check_run(s);
}
