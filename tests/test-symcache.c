/* test-symcache.c - the on-disk symbol cache (analyzer/collect/symcache.c) and its use by the
 * symbolizer: private files, reuse across symbolizers, bad entries ignored and
 * rebuilt, concurrent writers, HEAPSNAP_CACHE=off, XDG_CACHE_HOME and HOME, eviction.
 * Each test gets its own temporary XDG_CACHE_HOME, removed afterwards.
 */
#include <check.h>
#include <elf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "buildid.h"
#include "cfifile.h"
#include "profile.h"
#include "symbolize.h"
#include "symcache.h"
#include "checkmain.h"

#define NADDRS 300

static char tmp[64];
static char cache_dir[128];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/test-symcache.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(cache_dir, sizeof(cache_dir), "%s/xdg/heapsnap", tmp);
	char xdg[96];
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmp);
	setenv("XDG_CACHE_HOME", xdg, 1);
	unsetenv("HEAPSNAP_CACHE");
	umask(0); /* the modes below must not depend on the umask */
}

static void teardown(void)
{
	nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* This test program's executable segment, as the shim would register it. */
struct segment {
	uint64_t lo, hi, bias, offset;
};

static int find_exec(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct segment *seg = arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			seg->bias = info->dlpi_addr;
			seg->lo = info->dlpi_addr + ph->p_vaddr;
			seg->hi = seg->lo + ph->p_memsz;
			seg->offset = ph->p_offset;
			return 1; /* the first object is the program */
		}
	}
	return 1;
}

/* Symbolizes NADDRS addresses spread over this program's code; returns all their
 * lines as one malloc'd string, and the symbolizer's counters in *st. */
static char *symbolize_self(struct symbolizer_stats *st)
{
	struct segment seg = { 0 };
	dl_iterate_phdr(find_exec, &seg);
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	ck_assert_int_gt(n, 0);
	path[n] = '\0';
	symbolizer_t *s = symbolizer_new(getpid());
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(p);
	uint32_t m = symbolizer_add_module(s, path, seg.lo, seg.hi, seg.bias, seg.offset);
	ck_assert_uint_ne(m, SYM_NO_MODULE);
	uint32_t mapping = PROFILE_NONE;
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	for (uint64_t i = 0; i < NADDRS; i++) {
		uint32_t loc;
		uint64_t ip = seg.lo + 1 + (seg.hi - seg.lo - 2) / NADDRS * i;
		ck_assert_int_eq(symbolizer_add_location(s, p, m, ip, &mapping, &loc), 0);
		const profile_location_t *l = &p->locations[loc];
		for (uint32_t k = 0; k < l->nlines && len + 600 < cap; k++)
			len += (size_t)snprintf(out + len, cap - len, "%s %s:%ld;",
						l->lines[k].function ? l->lines[k].function : "?",
						l->lines[k].file ? l->lines[k].file : "?",
						(long)l->lines[k].line);
		len += (size_t)snprintf(out + len, cap - len, "\n");
	}
	symbolizer_stats(s, st);
	symbolizer_free(s);
	profile_free(p);
	return out;
}

/* What the symbolizer says with no cache at all. */
static char *reference(void)
{
	struct symbolizer_stats st;
	setenv("HEAPSNAP_CACHE", "off", 1);
	char *ref = symbolize_self(&st);
	unsetenv("HEAPSNAP_CACHE");
	ck_assert_uint_eq(st.lookups, NADDRS);
	return ref;
}

static void assert_mode(const char *path, unsigned mode)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, mode);
}

/* The path of the one entry in the cache directory. */
static void entry_path(char *out, size_t len)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls %s/*.sym", cache_dir);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, (int)len, f));
	out[strcspn(out, "\n")] = '\0';
	pclose(f);
}

START_TEST(cache_created_private)
{
	struct symbolizer_stats st;
	free(symbolize_self(&st));
	char path[512];
	entry_path(path, sizeof(path));
	assert_mode(cache_dir, 0700);
	assert_mode(path, 0600);
	ck_assert_uint_eq(st.cache_stores, 0); /* counted before free, which stores */
}
END_TEST

START_TEST(entry_reused)
{
	char *ref = reference();
	struct symbolizer_stats st;
	char *cold = symbolize_self(&st);
	ck_assert_uint_eq(st.lookups, NADDRS);
	ck_assert_uint_eq(st.cache_hits, 0);
	char *warm = symbolize_self(&st);
	ck_assert_uint_eq(st.lookups, 0);
	ck_assert_uint_eq(st.cache_hits, NADDRS);
	ck_assert_str_eq(cold, ref);
	ck_assert_str_eq(warm, ref);
	free(ref);
	free(cold);
	free(warm);
}
END_TEST

/* Damages the entry with f, then checks it is ignored, rebuilt and then used. */
static void check_rebuilt(void (*damage)(const char *path))
{
	char *ref = reference();
	struct symbolizer_stats st;
	free(symbolize_self(&st));
	char path[512];
	entry_path(path, sizeof(path));
	damage(path);
	char *again = symbolize_self(&st);
	ck_assert_uint_eq(st.cache_rejected, 1);
	ck_assert_uint_eq(st.lookups, NADDRS);
	ck_assert_str_eq(again, ref);
	char *warm = symbolize_self(&st);
	ck_assert_uint_eq(st.cache_rejected, 0);
	ck_assert_uint_eq(st.cache_hits, NADDRS);
	ck_assert_str_eq(warm, ref);
	free(ref);
	free(again);
	free(warm);
}

static void flip_byte(const char *path)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char b;
	ck_assert_int_eq(pread(fd, &b, 1, size / 2), 1);
	b ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &b, 1, size / 2), 1);
	close(fd);
}

static void cut_half(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(truncate(path, sb.st_size / 2), 0);
}

static void cut_header(const char *path)
{
	ck_assert_int_eq(truncate(path, 10), 0);
}

/* A string offset out of range, with the checksum made to match. */
static void bad_offset(const char *path)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *b = malloc((size_t)size);
	ck_assert_int_eq(pread(fd, b, (size_t)size, 0), size);
	uint32_t idlen, nrecords, nframes;
	memcpy(&idlen, b + 12, 4);
	memcpy(&nrecords, b + 16, 4);
	memcpy(&nframes, b + 20, 4);
	ck_assert_uint_gt(nframes, 0);
	size_t frames = 32 + ((idlen + 7) & ~7u) + (size_t)nrecords * 16;
	uint32_t huge = 0x7fffffff;
	memcpy(b + frames, &huge, 4);
	uint32_t crc = (uint32_t)crc32(0, b + 32, (uInt)(size - 32));
	memcpy(b + 28, &crc, 4);
	ck_assert_int_eq(pwrite(fd, b, (size_t)size, 0), size);
	close(fd);
	free(b);
}

START_TEST(corrupt_entry_rebuilt)
{
	check_rebuilt(flip_byte);
}
END_TEST

START_TEST(truncated_entry_rebuilt)
{
	check_rebuilt(cut_half);
}
END_TEST

START_TEST(truncated_header_rebuilt)
{
	check_rebuilt(cut_header);
}
END_TEST

START_TEST(bad_offset_rebuilt)
{
	check_rebuilt(bad_offset);
}
END_TEST

/* Every address of tables of 1 to 40 records and of 1,000 is found at its record, and
 * every address between, before and after them is not. */
START_TEST(find_every_record)
{
	const uint32_t counts[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 1000 };
	for (size_t k = 0; k < sizeof(counts) / sizeof(*counts); k++) {
		uint32_t n = counts[k];
		/* An entry of its own for each count: the writer merges what a table had. */
		char id[41];
		snprintf(id, sizeof(id), "ffeeddccbbaa99887766554433221100ffee%04x", (unsigned)k);
		struct symcache_frame *fr = calloc(n, sizeof(*fr));
		struct symcache_record *r = calloc(n, sizeof(*r));
		ck_assert(fr && r);
		for (uint32_t i = 0; i < n; i++) {
			fr[i] = (struct symcache_frame){ "f", "/src/f.c", (int64_t)i + 1 };
			r[i] = (struct symcache_record){ 0x1000 + 0x10 * (uint64_t)i, 1, &fr[i] };
		}
		symcache_t *c = symcache_open();
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(symcache_store(c, id, r, n), 0);
		symcache_table_t *t = NULL;
		ck_assert_int_eq(symcache_load(c, id, &t), 0);
		struct symcache_frame f[2];
		for (uint32_t i = 0; i < n; i++) {
			uint64_t a = 0x1000 + 0x10 * (uint64_t)i;
			ck_assert_int_eq(symcache_table_find(t, a, f, 2), 1);
			ck_assert_int_eq(f[0].line, (int64_t)i + 1);
			ck_assert_int_eq(symcache_table_find(t, a + 8, f, 2), -1);
		}
		ck_assert_int_eq(symcache_table_find(t, 0xff8, f, 2), -1);
		ck_assert_int_eq(symcache_table_find(t, 0, f, 2), -1);
		ck_assert_int_eq(symcache_table_find(t, UINT64_MAX, f, 2), -1);
		symcache_table_free(t);
		symcache_close(c);
		free(fr);
		free(r);
	}
}
END_TEST

/* Writers in two processes storing one entry over and over leave a valid entry that
 * holds one of their record sets, and no temporary file. */
START_TEST(concurrent_writers)
{
	static const char id[] = "00112233445566778899aabbccddeeff00112233";
	pid_t pids[2];
	for (int w = 0; w < 2; w++) {
		if ((pids[w] = fork()) == 0) {
			symcache_t *c = symcache_open();
			if (!c)
				_exit(1);
			for (int round = 0; round < 200; round++) {
				struct symcache_frame f = { w ? "writer_b" : "writer_a", "/src/x.c", round };
				struct symcache_record r[8];
				for (int i = 0; i < 8; i++)
					r[i] = (struct symcache_record){ 0x1000u * (uint64_t)(w * 8 + i + 1),
									 1, &f };
				if (symcache_store(c, id, r, 8) < 0)
					_exit(2);
			}
			symcache_close(c);
			_exit(0);
		}
		ck_assert_int_gt(pids[w], 0);
	}
	for (int w = 0; w < 2; w++) {
		int status;
		ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	symcache_table_t *t = NULL;
	ck_assert_int_eq(symcache_load(c, id, &t), 0);
	struct symcache_frame f[4];
	/* The last writer merged: the first address of each writer is there. */
	ck_assert_int_eq(symcache_table_find(t, 0x1000, f, 4), 1);
	ck_assert_str_eq(f[0].function, "writer_a");
	ck_assert_int_eq(symcache_table_find(t, 0x9000, f, 4), 1);
	ck_assert_str_eq(f[0].function, "writer_b");
	ck_assert_int_eq(symcache_table_find(t, 0x500, f, 4), -1);
	symcache_table_free(t);
	symcache_close(c);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp", cache_dir);
	FILE *p = popen(cmd, "r");
	char line[32] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	ck_assert_str_eq(line, "0\n");
}
END_TEST

START_TEST(cache_off_writes_nothing)
{
	setenv("HEAPSNAP_CACHE", "off", 1);
	struct symbolizer_stats st;
	free(symbolize_self(&st));
	ck_assert_uint_eq(st.lookups, NADDRS);
	char xdg[96];
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmp);
	struct stat sb;
	ck_assert_int_eq(stat(xdg, &sb), -1);
	ck_assert_ptr_null(symcache_open());
}
END_TEST

START_TEST(xdg_cache_home_honoured)
{
	char xdg[96];
	snprintf(xdg, sizeof(xdg), "%s/deep/er/cache", tmp);
	setenv("XDG_CACHE_HOME", xdg, 1);
	struct symbolizer_stats st;
	free(symbolize_self(&st));
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/heapsnap", xdg);
	assert_mode(dir, 0700);
}
END_TEST

START_TEST(home_fallback)
{
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", tmp, 1);
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	symcache_close(c);
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/.cache/heapsnap", tmp);
	assert_mode(dir, 0700);
}
END_TEST

START_TEST(directory_of_others_refused)
{
	char xdg[96];
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmp);
	ck_assert_int_eq(mkdir(xdg, 0700), 0);
	/* A symbolic link where the directory should be is not followed. */
	ck_assert_int_eq(symlink(tmp, cache_dir), 0);
	ck_assert_ptr_null(symcache_open());
}
END_TEST

/* Entries of another format version (an older heapsnap on the same machine) keep
 * their own names: this version neither reads nor replaces them, so two versions used
 * in turn each keep a warm cache. */
START_TEST(other_versions_left_alone)
{
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	char old1[256], old2[256], mine[256];
	snprintf(old1, sizeof(old1), "%s/abcd.sym", cache_dir); /* version 1's name */
	snprintf(old2, sizeof(old2), "%s/abcd.v9.sym", cache_dir);
	snprintf(mine, sizeof(mine), "%s/abcd" SYMCACHE_SUFFIX, cache_dir);
	FILE *f = fopen(old1, "w");
	ck_assert_ptr_nonnull(f);
	fputs("an entry of version 1", f);
	fclose(f);
	ck_assert_int_eq(link(old1, old2), 0);
	struct symcache_frame fr = { "fn", "/src/a.c", 7 };
	struct symcache_record r = { 0x1234, 1, &fr };
	ck_assert_int_eq(symcache_store(c, "abcd", &r, 1), 0);
	struct stat sb;
	ck_assert_int_eq(stat(mine, &sb), 0);
	ck_assert_int_eq(stat(old1, &sb), 0);
	ck_assert_int_eq(sb.st_nlink, 2); /* neither replaced: still the one planted file */
	ck_assert_int_eq(sb.st_size, 21);
	symcache_table_t *t = NULL;
	ck_assert_int_eq(symcache_load(c, "abcd", &t), 0);
	ck_assert_ptr_nonnull(t);
	symcache_table_free(t);
	symcache_close(c);
}
END_TEST

/* With sharing on (heapsnap run's host), a table is handed out again while its file is
 * the same one, and read anew once a store has renamed a new file in; a table handed out
 * before still answers its users. */
START_TEST(shared_tables_follow_the_file)
{
	symcache_share_tables(); /* for good, in this test's own process (Check forks) */
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	const char *id = "abcdef01";
	struct symcache_frame f = { "first", "a.c", 1 }, g = { "second", "b.c", 2 };
	struct symcache_record r = { 0x1000, 1, &f }, r2 = { 0x2000, 1, &g };
	ck_assert_int_eq(symcache_store(c, id, &r, 1), 0);
	symcache_table_t *t1 = NULL, *t2 = NULL, *t3 = NULL;
	ck_assert_int_eq(symcache_load(c, id, &t1), 0);
	ck_assert_int_eq(symcache_load(c, id, &t2), 0);
	ck_assert_ptr_eq(t1, t2);
	ck_assert_int_eq(symcache_store(c, id, &r2, 1), 0);
	ck_assert_int_eq(symcache_load(c, id, &t3), 0);
	ck_assert_ptr_ne(t3, t1);
	struct symcache_frame out[2];
	ck_assert_int_eq(symcache_table_find(t3, 0x2000, out, 2), 1);
	ck_assert_str_eq(out[0].function, "second");
	ck_assert_int_eq(symcache_table_find(t3, 0x1000, out, 2), 1);
	ck_assert_int_eq(symcache_table_find(t1, 0x2000, out, 2), -1);
	ck_assert_int_eq(symcache_table_find(t1, 0x1000, out, 2), 1);
	ck_assert_str_eq(out[0].function, "first");
	symcache_table_free(t1);
	symcache_table_free(t2);
	symcache_table_free(t3);
	symcache_close(c);
}
END_TEST

/* The path of build-id id's file with suffix in this test's cache directory. */
static const char *named_entry(const char *id, const char *suffix)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s%s", cache_dir, id, suffix);
	return path;
}

static bool entry_exists(const char *id, const char *suffix)
{
	struct stat sb;
	return stat(named_entry(id, suffix), &sb) == 0;
}

/* Dates id's file age seconds after 1,000,000 (1970): the lower, the sooner evicted. */
static void entry_age(const char *id, const char *suffix, int age)
{
	struct timespec t[2] = { { 1000000 + age, 0 }, { 1000000 + age, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, named_entry(id, suffix), t, 0), 0);
}

/* Sets c's limit to room for two and a half entries the size of id's file. */
static void limit_to_two(symcache_t *c, const char *id, const char *suffix)
{
	struct stat sb;
	ck_assert_int_eq(stat(named_entry(id, suffix), &sb), 0);
	symcache_set_limit(c, (uint64_t)sb.st_size * 2 + sb.st_size / 2);
}

/* An entry of 64 records, all of one frame. */
static const struct symcache_frame big_frame = { "fn", "/src/big.c", 1 };
static void big_entry(struct symcache_record r[64])
{
	for (int i = 0; i < 64; i++)
		r[i] = (struct symcache_record){ (uint64_t)i, 1, &big_frame };
}

START_TEST(oldest_evicted)
{
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	static const char *ids[] = { "aaaa", "bbbb", "cccc" };
	struct symcache_record r[64];
	big_entry(r);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(symcache_store(c, ids[i], r, 64), 0);
		entry_age(ids[i], SYMCACHE_SUFFIX, i);
	}
	/* Room for two entries: storing one more drops the least recently used. */
	limit_to_two(c, "aaaa", SYMCACHE_SUFFIX);
	ck_assert_int_eq(symcache_store(c, "dddd", r, 64), 0);
	ck_assert(!entry_exists("aaaa", SYMCACHE_SUFFIX));
	ck_assert(!entry_exists("bbbb", SYMCACHE_SUFFIX));
	ck_assert(entry_exists("cccc", SYMCACHE_SUFFIX));
	ck_assert(entry_exists("dddd", SYMCACHE_SUFFIX));
	symcache_close(c);
}
END_TEST

/* In a host its images' caches share the directory's fd (symcache_open()): closing
 * one leaves the others working, and each eviction reads the whole directory. */
START_TEST(host_images_share_the_directory)
{
	symcache_share_tables(); /* for good, in this test's own process (Check forks) */
	symcache_t *a = symcache_open(), *b = symcache_open();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	static const char *ids[] = { "aaaa", "bbbb", "cccc", "dddd" };
	struct symcache_record r[64];
	big_entry(r);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(symcache_store(a, ids[i], r, 64), 0);
		entry_age(ids[i], SYMCACHE_SUFFIX, i);
	}
	symcache_close(a);
	/* Room for two entries: each store drops the least recently used. */
	limit_to_two(b, ids[1], SYMCACHE_SUFFIX);
	ck_assert_int_eq(symcache_store(b, ids[2], r, 64), 0);
	ck_assert_int_eq(symcache_store(b, ids[3], r, 64), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(entry_exists(ids[i], SYMCACHE_SUFFIX), i >= 2);
	symcache_close(b);
}
END_TEST

/* A cache directory removed while a host runs (rm -rf ~/.cache/heapsnap) is made anew
 * for the next image, whose entries are stored in it. */
START_TEST(host_directory_removed_is_made_again)
{
	symcache_share_tables(); /* for good, in this test's own process (Check forks) */
	symcache_t *a = symcache_open();
	ck_assert_ptr_nonnull(a);
	nftw(cache_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	struct stat sb;
	ck_assert_int_eq(stat(cache_dir, &sb), -1);
	symcache_t *b = symcache_open();
	ck_assert_ptr_nonnull(b);
	struct symcache_frame f = { "fn", "/src/a.c", 1 };
	struct symcache_record r = { 0x10, 1, &f };
	ck_assert_int_eq(symcache_store(b, "abcd", &r, 1), 0);
	ck_assert(entry_exists("abcd", SYMCACHE_SUFFIX));
	ck_assert_int_eq(stat(cache_dir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	symcache_close(b);
	symcache_close(a);
}
END_TEST

/* A module loaded over the ranges of several unloaded ones (dlclose, then a bigger
 * dlopen) replaces all of them: every address in it is its own, whatever frame came
 * before (symbolizer_module_of() starts where it last found one). */
START_TEST(a_module_over_several_replaces_them)
{
	symbolizer_t *s = symbolizer_new(getpid());
	ck_assert_ptr_nonnull(s);
	uint32_t a = symbolizer_add_module(s, "/nonexistent/a.so", 0x1000, 0x2000, 0, 0);
	uint32_t b = symbolizer_add_module(s, "/nonexistent/b.so", 0x3000, 0x4000, 0, 0);
	uint32_t c = symbolizer_add_module(s, "/nonexistent/c.so", 0x5000, 0x6000, 0, 0);
	ck_assert_uint_eq(symbolizer_module_of(s, 0x5800), c);
	uint32_t n = symbolizer_add_module(s, "/nonexistent/n.so", 0x1000, 0x6000, 0, 0);
	ck_assert_uint_ne(n, a);
	ck_assert_uint_ne(n, b);
	ck_assert_uint_ne(n, c);
	const uint64_t ips[] = { 0x5800, 0x1800, 0x5800, 0x3800, 0x2800, 0x5fff, 0x1000 };
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
		ck_assert_uint_eq(symbolizer_module_of(s, ips[i]), n);
	ck_assert_uint_eq(symbolizer_module_of(s, 0x6000), SYM_NO_MODULE);
	symbolizer_free(s);
}
END_TEST

/* The entries of build-id id's rules file, checked as the shim checks them, into buf:
 * their count, or -1 when the file is missing or invalid. */
static long rules_file(const char *id, uint8_t *buf, size_t cap, const struct hs_cfi_entry **e)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s" HS_CFI_SUFFIX, cache_dir, id);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	uint64_t count;
	*e = n > 0 ? hs_cfi_check(buf, (size_t)n, id, strlen(id), &count) : NULL;
	return *e ? (long)count : -1;
}

static ino_t inode_of(const char *id)
{
	char path[256];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s" HS_CFI_SUFFIX, cache_dir, id);
	return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

/* Unwind rules files (preload/cfifile.h): rules stored in any order come out sorted,
 * once each, an invalid one left out, the file private; a second store adds to what
 * the file holds and keeps the file's rule where both have an address; a store that
 * adds nothing leaves the file alone; a corrupt file is replaced. */
START_TEST(rules_files_merged_and_checked)
{
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	static uint8_t buf[4096];
	const struct hs_cfi_entry *e;
	struct hs_cfi_entry r[] = {
		{ .addr = 0x300, .kind = HS_CFI_SP, .off = 24 },
		{ .addr = 0x100, .kind = HS_CFI_BP, .off = 16, .rbp_off = -16 },
		{ .addr = 0x300, .kind = HS_CFI_SP, .off = 24 },
		{ .addr = 0x200, .kind = HS_CFI_SP, .off = 0 }, /* a CFA at the SP: invalid */
		{ .addr = 0x250, .kind = HS_CFI_NONE },
	};
	ck_assert_int_eq(symcache_store_rules(c, "abcd", r, 5), 0);
	ck_assert_int_eq(rules_file("abcd", buf, sizeof(buf), &e), 3);
	ck_assert(e[0].addr == 0x100 && e[0].kind == HS_CFI_BP && e[0].rbp_off == -16);
	ck_assert(e[1].addr == 0x250 && e[1].kind == HS_CFI_NONE);
	ck_assert(e[2].addr == 0x300 && e[2].off == 24);
	char path[256];
	snprintf(path, sizeof(path), "%s/abcd" HS_CFI_SUFFIX, cache_dir);
	assert_mode(path, 0600);

	struct hs_cfi_entry more[] = {
		{ .addr = 0x300, .kind = HS_CFI_SP, .off = 40 }, /* the file's 24 stays */
		{ .addr = 0x180, .kind = HS_CFI_END },
	};
	ck_assert_int_eq(symcache_store_rules(c, "abcd", more, 2), 0);
	ck_assert_int_eq(rules_file("abcd", buf, sizeof(buf), &e), 4);
	ck_assert(e[1].addr == 0x180 && e[1].kind == HS_CFI_END && e[3].off == 24);
	ino_t ino = inode_of("abcd");
	ck_assert_int_eq(symcache_store_rules(c, "abcd", more, 2), 0);
	ck_assert_uint_eq(inode_of("abcd"), ino); /* not rewritten */

	/* One byte of a rule changed: refused, and replaced by the next store. */
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	struct stat sb;
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_int_eq(pwrite(fd, "\x7f", 1, sb.st_size - 8), 1);
	close(fd);
	ck_assert_int_eq(rules_file("abcd", buf, sizeof(buf), &e), -1);
	struct hs_cfi_entry one = { .addr = 0x300, .kind = HS_CFI_SP, .off = 40 };
	ck_assert_int_eq(symcache_store_rules(c, "abcd", &one, 1), 0);
	ck_assert_int_eq(rules_file("abcd", buf, sizeof(buf), &e), 1);
	ck_assert(e[0].addr == 0x300 && e[0].off == 40);
	/* Neither a build-id that is not hex nor one too long names a file. */
	ck_assert_int_eq(symcache_store_rules(c, "../x", &one, 1), -EINVAL);
	symcache_close(c);
}
END_TEST

/* The rules files count toward the directory's limit like the symbol entries. */
START_TEST(rules_files_evicted_too)
{
	symcache_t *c = symcache_open();
	ck_assert_ptr_nonnull(c);
	struct hs_cfi_entry r[64];
	for (int i = 0; i < 64; i++)
		r[i] = (struct hs_cfi_entry){ .addr = (uint64_t)i, .kind = HS_CFI_SP, .off = 8 };
	static const char *ids[] = { "aaaa", "bbbb", "cccc" };
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(symcache_store_rules(c, ids[i], r, 64), 0);
		entry_age(ids[i], HS_CFI_SUFFIX, i);
	}
	limit_to_two(c, "cccc", HS_CFI_SUFFIX);
	ck_assert_int_eq(symcache_store_rules(c, "dddd", r, 64), 0);
	const char *gone[] = { "aaaa", "bbbb" }, *kept[] = { "cccc", "dddd" };
	for (int i = 0; i < 2; i++) {
		ck_assert(!entry_exists(gone[i], HS_CFI_SUFFIX));
		ck_assert(entry_exists(kept[i], HS_CFI_SUFFIX));
	}
	symcache_close(c);
}
END_TEST

/* libdwfl's build-id of the file at path, in hex; false when it has none. */
static bool dwfl_build_id(const char *path, char *hex, size_t len)
{
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
	};
	Dwfl *d = dwfl_begin(&cb);
	Dwfl_Module *m = d ? dwfl_report_offline(d, path, path, -1) : NULL;
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = m ? dwfl_module_build_id(m, &bits, &vaddr) : -1;
	for (int i = 0; i < n && (size_t)(2 * i + 3) <= len; i++)
		snprintf(hex + 2 * i, 3, "%02x", bits[i]);
	if (d)
		dwfl_end(d);
	return n > 0;
}

/* The notes reader finds the very id libdwfl finds, in libraries and executables. */
START_TEST(build_id_as_libdwfl_reads_it)
{
	const char *paths[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/ls",
				"/lib/x86_64-linux-gnu/libz.so.1", getenv("HEAPSNAP") };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!paths[i])
			continue;
		char want[160] = "", got[160] = "";
		ck_assert_msg(dwfl_build_id(paths[i], want, sizeof(want)), "%s", paths[i]);
		int fd = open(paths[i], O_RDONLY);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(buildid_read(fd, got, sizeof(got)), 0);
		close(fd);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* Not ELF, truncated, or with a note segment that lies: an error, never a crash or an
 * id made up of garbage. */
START_TEST(build_id_of_bad_files)
{
	char path[] = "/tmp/heapsnap-buildid-XXXXXX", hex[160];
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(buildid_read(fd, hex, sizeof(hex)), -EINVAL); /* empty */
	ck_assert_int_eq(write(fd, "not an ELF file at all, just text........", 40), 40);
	ck_assert_int_eq(buildid_read(fd, hex, sizeof(hex)), -EINVAL);
	/* A real header whose program headers are cut off. */
	int src = open("/lib/x86_64-linux-gnu/libz.so.1", O_RDONLY);
	ck_assert_int_ge(src, 0);
	unsigned char buf[4096];
	ck_assert_int_eq(read(src, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(src);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, buf, 100, 0), 100);
	ck_assert_int_eq(buildid_read(fd, hex, sizeof(hex)), -EINVAL);
	/* Every note size made huge, one byte at a time: the reader must never read past
	 * the segment (ASan would say), and finds either the real id or none. */
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset + ph.p_filesz > sizeof(buf))
			continue;
		for (uint64_t off = ph.p_offset; off < ph.p_offset + ph.p_filesz; off += 4) {
			unsigned char bad[4096];
			memcpy(bad, buf, sizeof(bad));
			memset(bad + off, 0xff, 4);
			ck_assert_int_eq(pwrite(fd, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
			int r = buildid_read(fd, hex, sizeof(hex));
			ck_assert_msg(r == 0 || r == -ENOENT, "offset %llu: %d",
				      (unsigned long long)off, r);
		}
	}
	/* Too small a buffer for the id. */
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(buildid_read(fd, hex, 8), -ENOENT);
	close(fd);
}
END_TEST

/* Writes file from's bytes to path, opened with flags (O_CREAT: mode 0755). */
static void write_copy(const char *from, const char *path, int flags)
{
	int in = open(from, O_RDONLY), out = open(path, O_WRONLY | flags, 0755);
	ck_assert_int_ge(in, 0);
	ck_assert_int_ge(out, 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* Copies file from to a new file at path, replacing what is there by a rename. */
static void copy_file(const char *from, const char *path)
{
	char tmpname[256];
	snprintf(tmpname, sizeof(tmpname), "%s.new", path);
	write_copy(from, tmpname, O_CREAT | O_TRUNC);
	ck_assert_int_eq(rename(tmpname, path), 0);
}

/* The build-id of the module at path as a new symbolizer's profile names it. */
static char *profile_build_id(const char *path)
{
	symbolizer_t *s = symbolizer_new(getpid());
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(p);
	uint32_t m = symbolizer_add_module(s, path, 0x400000, 0x500000, 0, 0);
	ck_assert_uint_ne(m, SYM_NO_MODULE);
	uint32_t mapping = PROFILE_NONE, loc;
	ck_assert_int_eq(symbolizer_add_location(s, p, m, 0x400100, &mapping, &loc), 0);
	ck_assert_uint_lt(mapping, p->nmappings);
	const char *id = p->mappings[mapping].build_id;
	char *out = strdup(id ? id : "(none)");
	symbolizer_free(s);
	profile_free(p);
	return out;
}

static char *file_build_id(const char *path)
{
	char hex[160];
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(buildid_read(fd, hex, sizeof(hex)), 0);
	close(fd);
	return strdup(hex);
}

/* Flips the first byte of the GNU build-id note's id in the file at path, in place,
 * and sets its access and modification times back: the same inode, size and mtime. */
static void flip_build_id_in_place(const char *path, const char *id)
{
	struct stat before;
	ck_assert_int_eq(stat(path, &before), 0);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	static unsigned char buf[1 << 20];
	ssize_t n = read(fd, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	unsigned first;
	ck_assert_int_eq(sscanf(id, "%2x", &first), 1);
	/* The note: name size 4, id size 20, type NT_GNU_BUILD_ID, "GNU\0", then the id. */
	static const unsigned char head[16] = { 4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0,
						'G', 'N', 'U', 0 };
	ssize_t at = -1;
	for (ssize_t i = 0; at < 0 && i + 16 < n; i++)
		if (!memcmp(buf + i, head, sizeof(head)) && buf[i + 16] == first)
			at = i + 16;
	ck_assert_int_ge(at, 0);
	unsigned char flipped = buf[at] ^ 0xff;
	ck_assert_int_eq(pwrite(fd, &flipped, 1, at), 1);
	const struct timespec times[2] = { before.st_atim, before.st_mtim };
	ck_assert_int_eq(futimens(fd, times), 0);
	close(fd);
	struct stat after;
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(after.st_size, before.st_size);
	ck_assert_int_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

/* A module's build-id is kept by path for the next symbolizer (a host's next image),
 * but only while the file is the same one: a file replaced at that path, rewritten in
 * place, or rewritten with its size and modification time kept, is read again. */
START_TEST(build_id_follows_the_file)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/module", tmp);
	const char *a = "/usr/bin/ls", *b = "/usr/bin/cat";
	char *want_a = file_build_id(a), *want_b = file_build_id(b);
	ck_assert_str_ne(want_a, want_b);
	copy_file(a, path);
	for (int i = 0; i < 2; i++) {
		char *got = profile_build_id(path);
		ck_assert_str_eq(got, want_a);
		free(got);
	}
	copy_file(b, path);
	char *got = profile_build_id(path);
	ck_assert_str_eq(got, want_b);
	free(got);
	/* Rewritten in place, the same inode: its size and time differ. */
	struct stat before, after;
	ck_assert_int_eq(stat(path, &before), 0);
	write_copy(a, path, O_TRUNC);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	got = profile_build_id(path);
	ck_assert_str_eq(got, want_a);
	free(got);
	/* One byte of the id changed, size and modification time as they were. */
	flip_build_id_in_place(path, want_a);
	char *want_flipped = file_build_id(path);
	ck_assert_str_ne(want_flipped, want_a);
	got = profile_build_id(path);
	ck_assert_str_eq(got, want_flipped);
	free(got);
	free(want_flipped);
	free(want_a);
	free(want_b);
}
END_TEST

static Suite *symcache_suite(void)
{
	Suite *s = suite_create("symcache");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cache_created_private);
	tcase_add_test(tc, entry_reused);
	tcase_add_test(tc, find_every_record);
	tcase_add_test(tc, corrupt_entry_rebuilt);
	tcase_add_test(tc, truncated_entry_rebuilt);
	tcase_add_test(tc, truncated_header_rebuilt);
	tcase_add_test(tc, bad_offset_rebuilt);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, cache_off_writes_nothing);
	tcase_add_test(tc, xdg_cache_home_honoured);
	tcase_add_test(tc, home_fallback);
	tcase_add_test(tc, directory_of_others_refused);
	tcase_add_test(tc, oldest_evicted);
	tcase_add_test(tc, other_versions_left_alone);
	tcase_add_test(tc, rules_files_merged_and_checked);
	tcase_add_test(tc, rules_files_evicted_too);
	tcase_add_test(tc, shared_tables_follow_the_file);
	tcase_add_test(tc, host_images_share_the_directory);
	tcase_add_test(tc, host_directory_removed_is_made_again);
	tcase_add_test(tc, a_module_over_several_replaces_them);
	tcase_add_test(tc, build_id_follows_the_file);
	suite_add_tcase(s, tc);
	TCase *ids = tcase_create("buildid");
	tcase_add_test(ids, build_id_as_libdwfl_reads_it);
	tcase_add_test(ids, build_id_of_bad_files);
	suite_add_tcase(s, ids);
	return s;
}

int main(void)
{
	return check_run(symcache_suite());
}
