/* test-stats.c - stats_group(), stats_merge() and stats_compare() on profiles built in
 * memory. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "path.h"
#include "stats.h"
#include "checkmain.h"

enum { EXE, LIBC, LIBFOO, SHIM };

/* A profile with every value present and four mappings (see the enum above). */
static profile_t *mkprofile(void)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	const profile_mapping_t maps[] = {
		{ 0x400000, 0x500000, 0, "/usr/bin/prog", NULL },
		{ 0x7f0000000000, 0x7f0000200000, 0, "/lib/x86_64-linux-gnu/libc.so.6", NULL },
		{ 0x7f1000000000, 0x7f1000100000, 0x1000, "/usr/lib/libfoo.so.1", NULL },
		{ 0x7f2000000000, 0x7f2000100000, 0, "/usr/lib/heapsnap/libheapsnap.so", NULL },
	};
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t idx;
		ck_assert_int_eq(profile_add_mapping(p, &maps[i], &idx), 0);
		ck_assert_uint_eq(idx, i);
	}
	return p;
}

/* A location with one line (fn and file may be NULL), or none when both are NULL. */
static uint32_t loc(profile_t *p, uint32_t map, uint64_t addr, const char *fn,
		    const char *file, int64_t line)
{
	profile_line_t l = { fn, file, line };
	uint32_t idx;
	uint64_t base = map == PROFILE_NONE ? 0 : p->mappings[map].start;
	ck_assert_int_eq(profile_add_location(p, base + addr, map, &l, fn || file ? 1 : 0, &idx), 0);
	return idx;
}

/* A location with an inlined function: inner (in inner_file) inlined into outer. */
static uint32_t loc_inlined(profile_t *p, uint64_t addr, const char *inner,
			    const char *inner_file, int64_t inner_line, const char *outer,
			    const char *outer_file, int64_t outer_line)
{
	profile_line_t l[2] = { { inner, inner_file, inner_line }, { outer, outer_file, outer_line } };
	uint32_t idx;
	ck_assert_int_eq(profile_add_location(p, p->mappings[EXE].start + addr, EXE, l, 2, &idx), 0);
	return idx;
}

/* A sample of domain with inuse (size, count), peak twice that, alloc ten times that;
 * then nlocs location indices, innermost first. */
static void sample_d(profile_t *p, int64_t domain, bool truncated, int64_t size,
		     int64_t count, uint32_t nlocs, ...)
{
	uint32_t locs[64];
	va_list ap;
	va_start(ap, nlocs);
	for (uint32_t i = 0; i < nlocs; i++)
		locs[i] = va_arg(ap, uint32_t);
	va_end(ap);
	int64_t v[PV_COUNT] = {
		[PV_INUSE_SPACE] = size, [PV_INUSE_OBJECTS] = count,
		[PV_PEAK_SPACE] = size * 2, [PV_PEAK_OBJECTS] = count * 2,
		[PV_ALLOC_SPACE] = size * 10, [PV_ALLOC_OBJECTS] = count * 10,
	};
	ck_assert_int_eq(profile_add_sample(p, locs, nlocs, v, domain, truncated), 0);
}

#define sample(p, size, count, ...) sample_d(p, 0, false, size, count, __VA_ARGS__)

static stats_t *group(const profile_t *p, stats_options_t o)
{
	stats_t *s = NULL;
	ck_assert_int_eq(stats_group(p, &o, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* The label of entry i, as the text output prints it. */
static const char *label(const stats_t *s, size_t i)
{
	static char buf[4][256];
	static int n;
	n = (n + 1) % 4;
	ck_assert_uint_lt(i, s->nentries);
	FILE *out = fmemopen(buf[n], sizeof(buf[n]), "w");
	format_site(out, s->key, &s->entries[i].site);
	fclose(out);
	return buf[n];
}

/* The frames of traceback entry i, one "; "-separated string. */
static const char *frames(const stats_t *s, size_t i)
{
	static char buf[512];
	const stats_entry_t *e = &s->entries[i];
	FILE *out = fmemopen(buf, sizeof(buf), "w");
	for (uint32_t f = 0; f < e->nframes; f++) {
		if (f)
			fputs("; ", out);
		format_frame(out, stats_entry_frame(e, f), true);
	}
	fclose(out);
	return buf;
}

#define assert_entry(s, i, lbl, sz, cnt)                         \
	do {                                                     \
		ck_assert_str_eq(label(s, i), lbl);              \
		ck_assert_int_eq((s)->entries[i].size, sz);      \
		ck_assert_int_eq((s)->entries[i].count, cnt);    \
	} while (0)

START_TEST(group_lineno)
{
	profile_t *p = mkprofile();
	uint32_t a1 = loc(p, EXE, 0x10, "main", "prog.c", 12);
	uint32_t a2 = loc(p, EXE, 0x20, "main", "prog.c", 12); /* same line, other call */
	uint32_t b = loc(p, EXE, 0x30, "main", "prog.c", 14);
	uint32_t c = loc(p, EXE, 0x40, "f", "lib.c", 3);
	sample(p, 100, 1, 1, a1);
	sample(p, 200, 2, 2, a2, c);
	sample(p, 1000, 1, 1, b);
	sample(p, 50, 5, 2, c, a1);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "prog.c:14", 1000, 1);
	assert_entry(s, 1, "prog.c:12", 300, 3);
	assert_entry(s, 2, "lib.c:3", 50, 5);
	ck_assert_str_eq(s->entries[1].site.function, "main");
	ck_assert_str_eq(s->entries[1].site.module, "prog");
	ck_assert_int_eq(s->total_size, 1350);
	ck_assert_int_eq(s->total_count, 9);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(group_filename_function)
{
	profile_t *p = mkprofile();
	uint32_t a = loc(p, EXE, 0x10, "main", "prog.c", 12);
	uint32_t b = loc(p, EXE, 0x20, "helper", "prog.c", 40);
	uint32_t c = loc(p, EXE, 0x30, "helper", "other.c", 7); /* static helper elsewhere */
	sample(p, 10, 1, 1, a);
	sample(p, 20, 1, 2, b, a);
	sample(p, 40, 1, 2, c, a);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_FILENAME });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "other.c", 40, 1);
	assert_entry(s, 1, "prog.c", 30, 2);
	ck_assert_int_eq(s->entries[1].site.line, 0);
	stats_free(s);

	s = group(p, (stats_options_t){ .key = STATS_KEY_FUNCTION });
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "helper at other.c (prog)", 40, 1);
	assert_entry(s, 1, "helper at prog.c (prog)", 20, 1);
	assert_entry(s, 2, "main at prog.c (prog)", 10, 1);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(group_traceback)
{
	profile_t *p = mkprofile();
	uint32_t m1 = loc(p, LIBC, 0x100, "malloc", "malloc.c", 3000);
	uint32_t f1 = loc(p, EXE, 0x10, "f", "prog.c", 5);
	uint32_t f2 = loc(p, EXE, 0x18, "f", "prog.c", 5); /* same line, other address */
	uint32_t g = loc(p, EXE, 0x20, "g", "prog.c", 20);
	uint32_t h = loc(p, EXE, 0x30, "h", "prog.c", 30);
	sample_d(p, 0, false, 100, 1, 3, m1, f1, g);
	sample_d(p, 0, true, 100, 1, 3, m1, f2, g); /* merges with the first */
	sample(p, 150, 1, 2, f1, h);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "prog.c:5", 200, 2);
	ck_assert_str_eq(frames(s, 0), "f at prog.c:5 (prog); g at prog.c:20 (prog)");
	ck_assert(s->entries[0].truncated);
	assert_entry(s, 1, "prog.c:5", 150, 1);
	ck_assert_str_eq(frames(s, 1), "f at prog.c:5 (prog); h at prog.c:30 (prog)");
	ck_assert(!s->entries[1].truncated);
	stats_free(s);

	/* With the runtime kept, the stack starts at malloc. */
	s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK, .keep_runtime = true });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "malloc.c:3000", 200, 2);
	ck_assert_uint_eq(s->entries[0].nframes, 3);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(group_cumulative)
{
	profile_t *p = mkprofile();
	uint32_t m = loc(p, LIBC, 0x100, "malloc", "malloc.c", 3000);
	uint32_t f = loc(p, EXE, 0x10, "f", "prog.c", 5);
	uint32_t g = loc(p, EXE, 0x20, "g", "prog.c", 20);
	uint32_t x = loc(p, EXE, 0x30, "main", "main.c", 9);
	uint32_t start = loc(p, LIBC, 0x200, "__libc_start_main", NULL, 0);
	sample(p, 100, 1, 5, m, f, g, x, start);
	sample(p, 10, 1, 2, g, x);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .cumulative = true });
	/* Every frame from the charged one outward except runtime ones. */
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "prog.c:20", 110, 2);
	assert_entry(s, 1, "main.c:9", 110, 2);
	assert_entry(s, 2, "prog.c:5", 100, 1);
	ck_assert_int_eq(s->total_size, 110);
	ck_assert_int_eq(s->total_count, 2);
	stats_free(s);

	/* Two frames in one file count twice (tracemalloc's rule). */
	s = group(p, (stats_options_t){ .key = STATS_KEY_FILENAME, .cumulative = true });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "prog.c", 210, 3);
	assert_entry(s, 1, "main.c", 110, 2);
	stats_free(s);

	stats_options_t o = { .key = STATS_KEY_TRACEBACK, .cumulative = true };
	ck_assert_int_eq(stats_group(p, &o, &s), -EINVAL);
	profile_free(p);
}
END_TEST

START_TEST(recursion_cumulative)
{
	profile_t *p = mkprofile();
	uint32_t r = loc(p, EXE, 0x10, "rec", "prog.c", 5);
	uint32_t x = loc(p, EXE, 0x30, "main", "prog.c", 9);
	sample(p, 8, 1, 4, r, r, r, x);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .cumulative = true });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "prog.c:5", 24, 3);
	assert_entry(s, 1, "prog.c:9", 8, 1);
	stats_free(s);
	profile_free(p);
}
END_TEST

/* Cumulative grouping charges a sample once per frame: sums past int64 (or too near it
 * for a diff) are refused, not wrapped. */
START_TEST(overflow_cumulative)
{
	for (uint32_t depth = 3; depth <= 5; depth += 2) {
		profile_t *p = mkprofile();
		uint32_t r = loc(p, EXE, 0x10, "rec", "prog.c", 5), locs[5] = { r, r, r, r, r };
		const int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = (int64_t)1 << 61,
					      [PV_INUSE_OBJECTS] = 1 };
		ck_assert_int_eq(profile_add_sample(p, locs, depth, v, 0, false), 0);
		stats_options_t o = { .key = STATS_KEY_LINENO, .cumulative = true };
		stats_t *s = (stats_t *)&s;
		ck_assert_int_eq(stats_group(p, &o, &s), -EOVERFLOW);
		ck_assert_ptr_eq(s, (stats_t *)&s);
		ck_assert_int_eq(stats_compare(p, p, &o, &s), -EOVERFLOW);
		o.cumulative = false;
		ck_assert_int_eq(stats_group(p, &o, &s), 0);
		stats_free(s);
		profile_free(p);
	}
}
END_TEST

START_TEST(runtime_skipping)
{
	profile_t *p = mkprofile();
	uint32_t shim = loc(p, SHIM, 0x10, "malloc", "shim.c", 50);
	uint32_t m = loc(p, LIBC, 0x100, "malloc", "malloc.c", 3000);
	uint32_t sd = loc(p, LIBC, 0x200, "strdup", "strdup.c", 40);
	uint32_t xm = loc(p, EXE, 0x10, "xmalloc", "util.c", 8);
	uint32_t u = loc(p, EXE, 0x20, "user", "prog.c", 12);
	uint32_t w = loc(p, EXE, 0x30, "main", "prog.c", 30);
	sample(p, 100, 1, 4, shim, sd, u, w);
	sample(p, 30, 1, 4, shim, m, xm, w);
	sample(p, 7, 1, 2, shim, m); /* all runtime */

	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "prog.c:12", 100, 1);
	assert_entry(s, 1, "util.c:8", 30, 1);
	assert_entry(s, 2, "shim.c:50", 7, 1); /* the innermost frame: nothing disappears */
	stats_free(s);

	const char *skip[] = { "x*alloc" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .skip = skip, .nskip = 1 });
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "prog.c:12", 100, 1);
	assert_entry(s, 1, "prog.c:30", 30, 1);
	stats_free(s);

	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true });
	ck_assert_uint_eq(s->nentries, 1);
	assert_entry(s, 0, "shim.c:50", 137, 3);
	stats_free(s);

	/* --skip still applies with --keep-runtime. */
	const char *skip2[] = { "malloc" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true,
					.skip = skip2, .nskip = 1 });
	ck_assert_uint_eq(s->nentries, 3);
	assert_entry(s, 0, "strdup.c:40", 100, 1);
	assert_entry(s, 1, "util.c:8", 30, 1);
	assert_entry(s, 2, "shim.c:50", 7, 1);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(runtime_headers)
{
	static const struct {
		const char *file;
		bool runtime;
	} cases[] = {
		{ "/usr/include/c++/12/bits/new_allocator.h", true },
		{ "/usr/include/x86_64-linux-gnu/c++/12/bits/c++config.h", true },
		{ "/usr/include/stdlib.h", true },
		{ "/usr/local/include/absl/container/flat_hash_map.h", true },
		{ "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", true },
		{ "/usr/lib/gcc/x86_64-linux-gnu/12/include-fixed/limits.h", true },
		{ "/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/basic_string.h",
		  true },
		{ "/usr/lib/llvm-15/include/c++/v1/vector", true },
		{ "/usr/lib/llvm-15/lib/clang/15/include/stddef.h", true },
		{ "/usr//include/./c++/12/vector", true },
		{ "/usr/include", false },
		{ "/usr/includes/x.h", false },
		{ "/usr/include/../src/prog.c", false },
		{ "/home/me/usr/include/x.h", false },
		{ "/usr/lib/gcc/x86_64-linux-gnu/12/plugin/x.h", false },
		{ "/home/me/prog/include/vector.h", false },
		{ "include/c++/12/vector", false },
		{ "prog.cpp", false },
		{ "", false },
		{ NULL, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(stats_file_is_runtime(cases[i].file) == cases[i].runtime, "%s",
			      cases[i].file ? cases[i].file : "NULL");
}
END_TEST

/* Source paths are normalized lexically: clang writes absolute names with ".." for
 * libstdc++'s headers and for files built out of their tree (util/path.h, used by the
 * symbolizer and by the runtime-header check). */
START_TEST(paths_normalized)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/tmp/build/../../work/src/tests/basic.c", "/work/src/tests/basic.c" },
		{ "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/"
		  "new_allocator.h",
		  "/usr/include/c++/12/bits/new_allocator.h" },
		{ "//a//b/./c/", "/a/b/c" },
		{ "/../a", "/a" },
		{ "/a/..", "/" },
		{ "/", "/" },
		{ "/a/b", "/a/b" },
	};
	char buf[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(path_normalize(cases[i].in, buf, sizeof(buf)), "%s", cases[i].in);
		ck_assert_str_eq(buf, cases[i].out);
	}
	ck_assert(!path_normalize("a/b", buf, sizeof(buf)));
	ck_assert(!path_normalize("", buf, sizeof(buf)));
	ck_assert(!path_normalize("/abc/def", buf, 5)); /* "/abc" and its NUL fit, no more */
	ck_assert(path_normalize("/abc/..", buf, 5));
	ck_assert_str_eq(buf, "/");
}
END_TEST

/* A C++ program's frames: library code inlined from /usr/include, and a template
 * instance of the executable defined in a header, are charged to the user's line. */
START_TEST(header_frames_skipped)
{
	const char *alloc_h = "/usr/include/c++/12/bits/new_allocator.h";
	const char *vec_h = "/usr/include/c++/12/bits/vector.tcc";
	const char *realloc = "void std::vector<int, std::allocator<int> >::_M_realloc_insert"
			      "<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, "
			      "std::allocator<int> > >, int const&)";
	profile_t *p = mkprofile();
	uint32_t nw = loc(p, LIBFOO, 0x10, "operator new(unsigned long)", NULL, 0);
	p->mappings[LIBFOO].path = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
	uint32_t in = loc_inlined(p, 0x10, "__gnu_cxx::new_allocator<int>::allocate(unsigned "
				  "long, void const*)", alloc_h, 137, realloc, vec_h, 440);
	uint32_t u = loc(p, EXE, 0x20, "fill(std::vector<int, std::allocator<int> >&)",
			 "/src/prog.cpp", 12);
	uint32_t m = loc(p, EXE, 0x30, "main", "/src/prog.cpp", 30);
	uint32_t lib = loc(p, EXE, 0x40, "vendor_alloc", "/src/third_party/vendor.c", 5);
	sample(p, 64, 2, 4, nw, in, u, m);
	sample(p, 10, 1, 3, lib, u, m);

	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "/src/prog.cpp:12", 64, 2);
	assert_entry(s, 1, "/src/third_party/vendor.c:5", 10, 1);
	stats_free(s);

	/* --keep-runtime: the header frame is charged again. */
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true });
	assert_entry(s, 0, "operator new(unsigned long) (libstdc++.so.6)", 64, 2);
	stats_free(s);
	const char *skip_new[] = { "operator new" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true,
					.skip = skip_new, .nskip = 1 });
	assert_entry(s, 0, "/usr/include/c++/12/bits/new_allocator.h:137", 64, 2);
	stats_free(s);

	/* --skip on the qualified name: 'std::*' and '__gnu_cxx::*' skip the library
	 * frames; '*std::*' does not eat fill(std::vector<...>&). */
	const char *skip_std[] = { "std::*", "__gnu_cxx::*", "operator new" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true,
					.skip = skip_std, .nskip = 3 });
	assert_entry(s, 0, "/src/prog.cpp:12", 64, 2);
	stats_free(s);
	const char *skip_any[] = { "*std::*", "*gnu_cxx*", "operator new" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .keep_runtime = true,
					.skip = skip_any, .nskip = 3 });
	assert_entry(s, 0, "/src/prog.cpp:12", 64, 2);
	stats_free(s);
	/* A glob with '(' matches the whole name. */
	const char *skip_params[] = { "fill(*)" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .skip = skip_params,
					.nskip = 1 });
	assert_entry(s, 0, "/src/prog.cpp:30", 64, 2);
	stats_free(s);

	/* --skip-file: a vendored library's directory. */
	const char *skip_file[] = { "*/third_party/*" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .skip_files = skip_file,
					.nskip_files = 1 });
	ck_assert_uint_eq(s->nentries, 1);
	assert_entry(s, 0, "/src/prog.cpp:12", 74, 3);
	stats_free(s);

	/* Tracebacks start at the charged frame; cumulative keys skip header frames. */
	s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK });
	ck_assert_str_eq(frames(s, 0), "fill(std::vector<int, std::allocator<int> >&) at "
			 "/src/prog.cpp:12 (prog); main at /src/prog.cpp:30 (prog)");
	stats_free(s);
	s = group(p, (stats_options_t){ .key = STATS_KEY_FILENAME, .cumulative = true });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "/src/prog.cpp", 148, 6);
	assert_entry(s, 1, "/src/third_party/vendor.c", 10, 1);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(runtime_modules)
{
	ck_assert(stats_module_is_runtime("libc.so.6"));
	ck_assert(stats_module_is_runtime("libc-2.31.so"));
	ck_assert(stats_module_is_runtime("libstdc++.so.6"));
	ck_assert(stats_module_is_runtime("libgcc_s.so.1"));
	ck_assert(stats_module_is_runtime("ld-linux-x86-64.so.2"));
	ck_assert(stats_module_is_runtime("ld-2.31.so"));
	ck_assert(stats_module_is_runtime("libheapsnap.so"));
	ck_assert(stats_module_is_runtime("libjemalloc.so.2"));
	ck_assert(stats_module_is_runtime("libtcmalloc_minimal.so.4"));
	ck_assert(!stats_module_is_runtime("libm.so.6"));
	ck_assert(!stats_module_is_runtime("libcrypto.so.3"));
	ck_assert(!stats_module_is_runtime("prog"));
	ck_assert(!stats_module_is_runtime(NULL));
}
END_TEST

START_TEST(inlined_frames)
{
	profile_t *p = mkprofile();
	uint32_t m = loc(p, LIBC, 0x100, "malloc", "malloc.c", 3000);
	uint32_t il = loc_inlined(p, 0x10, "vec_push", "vec.h", 22, "parse", "parse.c", 80);
	uint32_t x = loc(p, EXE, 0x30, "main", "prog.c", 9);
	sample(p, 64, 2, 3, m, il, x);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_uint_eq(s->nentries, 1);
	assert_entry(s, 0, "vec.h:22", 64, 2);
	stats_free(s);

	s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK });
	ck_assert_str_eq(frames(s, 0),
			 "vec_push at vec.h:22 (prog); parse at parse.c:80 (prog); "
			 "main at prog.c:9 (prog)");
	stats_free(s);

	const char *skip[] = { "vec_*" };
	s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK, .skip = skip, .nskip = 1 });
	ck_assert_str_eq(frames(s, 0), "parse at parse.c:80 (prog); main at prog.c:9 (prog)");
	stats_free(s);

	s = group(p, (stats_options_t){ .key = STATS_KEY_FILENAME, .cumulative = true });
	ck_assert_uint_eq(s->nentries, 3);
	stats_free(s);
	profile_free(p);
}
END_TEST

/* Filters over: a.c:1 <- main.c:5, b.c:2 <- main.c:6, a.c:3 <- lib/x.c:4. */
static profile_t *filter_profile(void)
{
	profile_t *p = mkprofile();
	uint32_t a1 = loc(p, EXE, 0x10, "a1", "src/a.c", 1);
	uint32_t b2 = loc(p, EXE, 0x20, "b2", "src/b.c", 2);
	uint32_t a3 = loc(p, EXE, 0x30, "a3", "src/a.c", 3);
	uint32_t m5 = loc(p, EXE, 0x40, "main", "src/main.c", 5);
	uint32_t m6 = loc(p, EXE, 0x50, "main", "src/main.c", 6);
	uint32_t x4 = loc(p, EXE, 0x60, "x", "lib/x.c", 4);
	sample(p, 1000, 1, 2, a1, m5);
	sample(p, 200, 1, 2, b2, m6);
	sample(p, 30, 1, 2, a3, x4);
	return p;
}

static size_t filtered(const profile_t *p, size_t n, const stats_filter_t *f, int64_t *total)
{
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO, .filters = f,
						 .nfilters = n });
	size_t r = s->nentries;
	*total = s->total_size;
	stats_free(s);
	return r;
}

START_TEST(filters)
{
	profile_t *p = filter_profile();
	int64_t total;
	stats_filter_t f[3];

	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*a.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 2);
	ck_assert_int_eq(total, 1030);

	/* '*' matches '/'; the match is case-sensitive and on the whole name. */
	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*/a.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 2);
	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*/A.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 0);
	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "a.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 0);

	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*a.c", .lineno = 3 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 1);
	ck_assert_int_eq(total, 30);

	f[0] = (stats_filter_t){ .inclusive = false, .pattern = "*a.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 1);
	ck_assert_int_eq(total, 200);

	/* Only the charged frame, unless all_frames. */
	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*main.c", .lineno = -1 };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 0);
	f[0].all_frames = true;
	ck_assert_uint_eq(filtered(p, 1, f, &total), 2);
	ck_assert_int_eq(total, 1200);
	f[0] = (stats_filter_t){ .inclusive = false, .pattern = "lib/*", .lineno = -1,
				 .all_frames = true };
	ck_assert_uint_eq(filtered(p, 1, f, &total), 2);
	ck_assert_int_eq(total, 1200);
	f[0].lineno = 5; /* lib/x.c has line 4 only */
	ck_assert_uint_eq(filtered(p, 1, f, &total), 3);

	/* Kept iff some include matches and no exclude matches. */
	f[0] = (stats_filter_t){ .inclusive = true, .pattern = "*a.c", .lineno = -1 };
	f[1] = (stats_filter_t){ .inclusive = true, .pattern = "*b.c", .lineno = -1 };
	f[2] = (stats_filter_t){ .inclusive = false, .pattern = "*", .lineno = 1 };
	ck_assert_uint_eq(filtered(p, 3, f, &total), 2);
	ck_assert_int_eq(total, 230);
	profile_free(p);
}
END_TEST

START_TEST(sort_ties)
{
	profile_t *p = mkprofile();
	uint32_t a = loc(p, EXE, 0x10, "f", "a.c", 1);
	uint32_t b = loc(p, EXE, 0x20, "f", "b.c", 1);
	uint32_t b2 = loc(p, EXE, 0x30, "f", "b.c", 2);
	uint32_t c = loc(p, EXE, 0x40, "f", "c.c", 1);
	uint32_t d = loc(p, EXE, 0x50, "f", "d.c", 1);
	sample(p, 100, 1, 1, a);
	sample(p, 100, 1, 1, b);
	sample(p, 100, 1, 1, b2);
	sample(p, 100, 2, 1, c);
	sample(p, 200, 1, 1, d);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	/* size, then count, then key, all descending. */
	ck_assert_str_eq(label(s, 0), "d.c:1");
	ck_assert_str_eq(label(s, 1), "c.c:1");
	ck_assert_str_eq(label(s, 2), "b.c:2");
	ck_assert_str_eq(label(s, 3), "b.c:1");
	ck_assert_str_eq(label(s, 4), "a.c:1");
	stats_free(s);
	profile_free(p);
}
END_TEST

static stats_t *compare(const profile_t *o, const profile_t *n, stats_options_t opt)
{
	stats_t *s = NULL;
	ck_assert_int_eq(stats_compare(o, n, &opt, &s), 0);
	return s;
}

START_TEST(sort_limit)
{
	profile_t *o = mkprofile(), *p = mkprofile();
	uint64_t x = 12345;
	for (int i = 0; i < 300; i++) {
		char file[32];
		snprintf(file, sizeof(file), "f%d.c", i % 150);
		uint32_t lp = loc(p, EXE, 0x10 + i, "f", file, i % 7);
		uint32_t lo = loc(o, EXE, 0x10 + i, "f", file, i % 7);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		sample(p, (int64_t)(x >> 60), (int64_t)(x >> 62) + 1, 1, lp);
		sample(o, (int64_t)(x >> 58) % 9, 1, 1, lo);
	}
	for (int diff = 0; diff < 2; diff++) {
		stats_t *all = NULL, *top = NULL;
		stats_options_t opt = { .key = STATS_KEY_LINENO };
		ck_assert_int_eq(diff ? stats_compare(o, p, &opt, &all) : stats_group(p, &opt, &all), 0);
		opt.sort_limit = 7;
		ck_assert_int_eq(diff ? stats_compare(o, p, &opt, &top) : stats_group(p, &opt, &top), 0);
		ck_assert_uint_eq(all->nentries, top->nentries);
		ck_assert_uint_gt(all->nentries, 50);
		for (size_t i = 0; i < 7; i++) {
			ck_assert_str_eq(label(all, i), label(top, i));
			ck_assert_int_eq(all->entries[i].size, top->entries[i].size);
			ck_assert_int_eq(all->entries[i].size_diff, top->entries[i].size_diff);
		}
		stats_entry_t ra, rt;
		ck_assert_uint_eq(stats_rest(all, 7, &ra), stats_rest(top, 7, &rt));
		ck_assert_int_eq(ra.size, rt.size);
		ck_assert_int_eq(ra.count, rt.count);
		ck_assert_int_eq(ra.size_diff, rt.size_diff);
		stats_free(all);
		stats_free(top);
	}
	profile_free(o);
	profile_free(p);
}
END_TEST

START_TEST(diff_rules)
{
	profile_t *o = mkprofile(), *n = mkprofile();
	/* Both profiles intern their own strings and place the code elsewhere (ASLR). */
	uint32_t oa = loc(o, EXE, 0x10, "f", "a.c", 1);
	uint32_t ob = loc(o, EXE, 0x20, "f", "b.c", 1);
	uint32_t oc = loc(o, EXE, 0x30, "f", "c.c", 1);
	uint32_t na = loc(n, EXE, 0x910, "f", "a.c", 1);
	uint32_t nc = loc(n, EXE, 0x930, "f", "c.c", 1);
	uint32_t nd = loc(n, EXE, 0x940, "f", "d.c", 1);
	sample(o, 100, 1, 1, oa);
	sample(o, 500, 5, 1, ob);
	sample(o, 70, 1, 1, oc);
	sample(n, 300, 3, 1, na);
	sample(n, 70, 1, 1, nc);
	sample(n, 200, 1, 1, nd);
	stats_t *s = compare(o, n, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert(s->is_diff);
	ck_assert_uint_eq(s->nentries, 4);
	/* |size_diff| first: b (-500), then a (+200) and d (+200) by size, then c (0). */
	assert_entry(s, 0, "b.c:1", 0, 0);
	ck_assert_int_eq(s->entries[0].size_diff, -500);
	ck_assert_int_eq(s->entries[0].count_diff, -5);
	assert_entry(s, 1, "a.c:1", 300, 3);
	ck_assert_int_eq(s->entries[1].size_diff, 200);
	ck_assert_int_eq(s->entries[1].count_diff, 2);
	assert_entry(s, 2, "d.c:1", 200, 1);
	ck_assert_int_eq(s->entries[2].size_diff, 200);
	ck_assert_int_eq(s->entries[2].count_diff, 1);
	assert_entry(s, 3, "c.c:1", 70, 1);
	ck_assert_int_eq(s->entries[3].size_diff, 0);
	ck_assert_int_eq(s->entries[3].count_diff, 0);
	ck_assert_int_eq(s->total_size, 570);
	ck_assert_int_eq(s->total_size_diff, -100);
	ck_assert_int_eq(s->total_count_diff, -2);
	stats_free(s);
	profile_free(o);
	profile_free(n);
}
END_TEST

START_TEST(diff_sort_ties)
{
	profile_t *o = mkprofile(), *n = mkprofile();
	uint32_t na = loc(n, EXE, 0x10, "f", "a.c", 1);
	uint32_t nb = loc(n, EXE, 0x20, "f", "b.c", 1);
	uint32_t nc = loc(n, EXE, 0x30, "f", "c.c", 1);
	uint32_t oa = loc(o, EXE, 0x10, "f", "a.c", 1);
	uint32_t ob = loc(o, EXE, 0x20, "f", "b.c", 1);
	uint32_t oc = loc(o, EXE, 0x30, "f", "c.c", 1);
	/* Equal |size_diff| and size; a: |count_diff| 3, b and c: 1, c has a larger count. */
	sample(o, 100, 1, 1, oa);
	sample(n, 200, 4, 1, na);
	sample(o, 100, 1, 1, ob);
	sample(n, 200, 2, 1, nb);
	sample(o, 100, 2, 1, oc);
	sample(n, 200, 3, 1, nc);
	stats_t *s = compare(o, n, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_str_eq(label(s, 0), "a.c:1");
	ck_assert_str_eq(label(s, 1), "c.c:1");
	ck_assert_str_eq(label(s, 2), "b.c:1");
	stats_free(s);
	profile_free(o);
	profile_free(n);
}
END_TEST

START_TEST(diff_traceback)
{
	profile_t *o = mkprofile(), *n = mkprofile();
	uint32_t of = loc(o, EXE, 0x10, "f", "a.c", 1), og = loc(o, EXE, 0x20, "g", "a.c", 9);
	uint32_t nf = loc(n, EXE, 0x80, "f", "a.c", 1), ng = loc(n, EXE, 0x90, "g", "a.c", 9);
	uint32_t nh = loc(n, EXE, 0xa0, "h", "a.c", 20);
	sample(o, 10, 1, 2, of, og);
	sample(n, 15, 2, 2, nf, ng);
	sample(n, 5, 1, 2, nf, nh);
	stats_t *s = compare(o, n, (stats_options_t){ .key = STATS_KEY_TRACEBACK });
	ck_assert_uint_eq(s->nentries, 2);
	ck_assert_str_eq(frames(s, 0), "f at a.c:1 (prog); g at a.c:9 (prog)");
	ck_assert_int_eq(s->entries[0].size_diff, 5);
	ck_assert_str_eq(frames(s, 1), "f at a.c:1 (prog); h at a.c:20 (prog)");
	ck_assert_int_eq(s->entries[1].size_diff, 5);
	stats_free(s);
	profile_free(o);
	profile_free(n);
}
END_TEST

static stats_t *merge(const profile_t *const *ps, size_t n, stats_options_t o)
{
	stats_t *s = NULL;
	ck_assert_int_eq(stats_merge(ps, n, &o, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Three profiles with the same lines at other addresses: groups add up by key. */
START_TEST(merge_by_key)
{
	profile_t *p[3];
	for (int i = 0; i < 3; i++) {
		p[i] = mkprofile();
		uint32_t f = loc(p[i], EXE, 0x10 + 0x100 * i, "f", "a.c", 1);
		uint32_t g = loc(p[i], EXE, 0x20 + 0x100 * i, "g", "a.c", 9);
		sample(p[i], 10 * (i + 1), 1, 2, f, g);
		if (i == 2) {
			uint32_t h = loc(p[i], EXE, 0x90, "h", "b.c", 4);
			sample_d(p[i], 0, true, 7, 1, 2, h, g);
		}
	}
	const profile_t *const ps[] = { p[0], p[1], p[2] };
	stats_t *s = merge(ps, 3, (stats_options_t){ 0 });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "a.c:1", 60, 3);
	assert_entry(s, 1, "b.c:4", 7, 1);
	ck_assert_int_eq(s->total_size, 67);
	ck_assert_int_eq(s->total_count, 4);
	stats_free(s);

	/* Peak: the sum of each profile's peak breakdown. */
	s = merge(ps, 3, (stats_options_t){ .metric = STATS_METRIC_PEAK });
	assert_entry(s, 0, "a.c:1", 120, 6);
	stats_free(s);

	s = merge(ps, 3, (stats_options_t){ .key = STATS_KEY_TRACEBACK, .sort_limit = 1 });
	ck_assert_uint_eq(s->nentries, 2);
	assert_entry(s, 0, "a.c:1", 60, 3);
	ck_assert_str_eq(frames(s, 0), "f at a.c:1 (prog); g at a.c:9 (prog)");
	ck_assert(!s->entries[0].truncated);
	ck_assert_str_eq(frames(s, 1), "h at b.c:4 (prog); g at a.c:9 (prog)");
	ck_assert(s->entries[1].truncated);
	stats_free(s);

	/* One profile is stats_group(); none is an error. */
	s = merge(ps, 1, (stats_options_t){ 0 });
	assert_entry(s, 0, "a.c:1", 10, 1);
	stats_free(s);
	stats_options_t o = { 0 };
	ck_assert_int_eq(stats_merge(ps, 0, &o, &s), -EINVAL);
	for (int i = 0; i < 3; i++)
		profile_free(p[i]);

	/* Sums each file keeps below the limit can pass it together: refused, not
	 * wrapped (four of 2^62 - 1 printed size=-4 B). */
	for (int i = 0; i < 3; i++) {
		p[i] = mkprofile();
		uint32_t f = loc(p[i], EXE, 0x10, "f", "a.c", 1);
		int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = ((int64_t)1 << 61) - 1,
					[PV_INUSE_OBJECTS] = 1 };
		ck_assert_int_eq(profile_add_sample(p[i], &f, 1, v, 0, false), 0);
	}
	const profile_t *const big[] = { p[0], p[1], p[2] };
	ck_assert_int_eq(stats_merge(big, 3, &o, &s), -EOVERFLOW);
	for (int i = 0; i < 3; i++)
		profile_free(p[i]);
}
END_TEST

/* A diff of merges matches tracebacks across all of them. */
START_TEST(compare_many_traceback)
{
	profile_t *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = mkprofile();
		uint32_t f = loc(p[i], EXE, 0x10 + 0x40 * i, "f", "a.c", 1);
		uint32_t g = loc(p[i], EXE, 0x20 + 0x40 * i, i == 3 ? "h" : "g", "a.c", 9 + (i == 3));
		sample(p[i], 10, 1, 2, f, g);
	}
	const profile_t *const old[] = { p[0], p[1] }, *const new[] = { p[2], p[3] };
	stats_options_t o = { .key = STATS_KEY_TRACEBACK };
	stats_t *s = NULL;
	ck_assert_int_eq(stats_compare_many(old, 2, new, 2, &o, &s), 0);
	ck_assert_uint_eq(s->nentries, 2);
	/* Ties on every number: the greater key first. */
	ck_assert_str_eq(frames(s, 0), "f at a.c:1 (prog); h at a.c:10 (prog)");
	ck_assert_int_eq(s->entries[0].size_diff, 10);
	ck_assert_str_eq(frames(s, 1), "f at a.c:1 (prog); g at a.c:9 (prog)");
	ck_assert_int_eq(s->entries[1].size, 10);
	ck_assert_int_eq(s->entries[1].size_diff, -10);
	ck_assert_int_eq(s->total_size_diff, 0);
	stats_free(s);
	for (int i = 0; i < 4; i++)
		profile_free(p[i]);
}
END_TEST

START_TEST(domain_and_metric)
{
	profile_t *p = mkprofile();
	uint32_t a = loc(p, EXE, 0x10, "f", "a.c", 1);
	uint32_t b = loc(p, EXE, 0x20, "f", "b.c", 1);
	sample_d(p, 0, false, 100, 1, 1, a);
	sample_d(p, 7, false, 40, 4, 1, b);
	stats_t *s = group(p, (stats_options_t){ .has_domain = true, .domain = 7 });
	ck_assert_uint_eq(s->nentries, 1);
	assert_entry(s, 0, "b.c:1", 40, 4);
	stats_free(s);
	s = group(p, (stats_options_t){ .has_domain = true, .domain = 0 });
	ck_assert_uint_eq(s->nentries, 1);
	assert_entry(s, 0, "a.c:1", 100, 1);
	stats_free(s);
	s = group(p, (stats_options_t){ 0 });
	ck_assert_uint_eq(s->nentries, 2);
	stats_free(s);

	s = group(p, (stats_options_t){ .metric = STATS_METRIC_PEAK });
	assert_entry(s, 0, "a.c:1", 200, 2);
	stats_free(s);
	s = group(p, (stats_options_t){ .metric = STATS_METRIC_ALLOC });
	assert_entry(s, 0, "a.c:1", 1000, 10);
	assert_entry(s, 1, "b.c:1", 400, 40);
	stats_free(s);

	p->has_value[PV_PEAK_SPACE] = false;
	stats_options_t o = { .metric = STATS_METRIC_PEAK };
	ck_assert_int_eq(stats_group(p, &o, &s), -ENODATA);
	profile_t *q = mkprofile();
	ck_assert_int_eq(stats_compare(q, p, &o, &s), -ENODATA);
	profile_free(q);
	profile_free(p);
}
END_TEST

START_TEST(zero_samples_skipped)
{
	profile_t *p = mkprofile();
	uint32_t a = loc(p, EXE, 0x10, "f", "a.c", 1);
	int64_t v[PV_COUNT] = { [PV_ALLOC_SPACE] = 10, [PV_ALLOC_OBJECTS] = 1 };
	ck_assert_int_eq(profile_add_sample(p, &a, 1, v, 0, false), 0);
	stats_t *s = group(p, (stats_options_t){ 0 });
	ck_assert_uint_eq(s->nentries, 0);
	ck_assert_int_eq(s->total_size, 0);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(unknown_frames)
{
	profile_t *p = mkprofile();
	uint32_t u1 = loc(p, LIBFOO, 0x10, NULL, NULL, 0);
	uint32_t u2 = loc(p, LIBFOO, 0x20, NULL, NULL, 0);
	uint32_t f1 = loc(p, LIBFOO, 0x30, "foo_alloc", NULL, 0);
	uint32_t f2 = loc(p, LIBFOO, 0x40, "foo_alloc", NULL, 0); /* same function */
	uint32_t f3 = loc(p, EXE, 0x40, "foo_alloc", NULL, 0);    /* other module */
	uint32_t nm = loc(p, PROFILE_NONE, 0x1234, NULL, NULL, 0);
	sample(p, 60, 1, 1, u1);
	sample(p, 50, 1, 1, u2);
	sample(p, 10, 1, 1, f1);
	sample(p, 20, 1, 1, f2);
	sample(p, 5, 1, 1, f3);
	sample(p, 1, 1, 1, nm);
	sample(p, 2, 1, 0);
	stats_t *s = group(p, (stats_options_t){ .key = STATS_KEY_LINENO });
	ck_assert_uint_eq(s->nentries, 6);
	/* Offsets in the module: address - start + mapping offset 0x1000. */
	assert_entry(s, 0, "0x1010 (libfoo.so.1)", 60, 1);
	assert_entry(s, 1, "0x1020 (libfoo.so.1)", 50, 1);
	assert_entry(s, 2, "foo_alloc (libfoo.so.1)", 30, 2);
	assert_entry(s, 3, "foo_alloc (prog)", 5, 1);
	assert_entry(s, 4, "[no frames]", 2, 1);
	assert_entry(s, 5, "0x1234", 1, 1);
	stats_free(s);

	s = group(p, (stats_options_t){ .key = STATS_KEY_FILENAME });
	ck_assert_uint_eq(s->nentries, 6);
	stats_free(s);
	s = group(p, (stats_options_t){ .key = STATS_KEY_FUNCTION });
	ck_assert_uint_eq(s->nentries, 6);
	assert_entry(s, 2, "foo_alloc (libfoo.so.1)", 30, 2);
	stats_free(s);
	/* foo_alloc at two addresses of one module is one frame. */
	s = group(p, (stats_options_t){ .key = STATS_KEY_TRACEBACK });
	ck_assert_uint_eq(s->nentries, 6);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(rest_sums)
{
	profile_t *p = filter_profile();
	stats_t *s = group(p, (stats_options_t){ 0 });
	stats_entry_t rest;
	ck_assert_uint_eq(stats_rest(s, 1, &rest), 2);
	ck_assert_int_eq(rest.size, 230);
	ck_assert_int_eq(rest.count, 2);
	ck_assert_uint_eq(stats_rest(s, 0, &rest), 0);
	ck_assert_uint_eq(stats_rest(s, 3, &rest), 0);
	int64_t t[PV_COUNT];
	stats_totals(p, t);
	ck_assert_int_eq(t[PV_INUSE_SPACE], 1230);
	ck_assert_int_eq(t[PV_ALLOC_OBJECTS], 30);
	stats_free(s);
	profile_free(p);
}
END_TEST

START_TEST(names)
{
	enum stats_key k;
	enum stats_metric m;
	ck_assert_int_eq(stats_key_parse("traceback", &k), 0);
	ck_assert_int_eq(k, STATS_KEY_TRACEBACK);
	ck_assert_int_eq(stats_key_parse("line", &k), -EINVAL);
	ck_assert_int_eq(stats_metric_parse("alloc", &m), 0);
	ck_assert_int_eq(m, STATS_METRIC_ALLOC);
	ck_assert_int_eq(stats_metric_parse("", &m), -EINVAL);
	ck_assert_str_eq(stats_key_name(STATS_KEY_FUNCTION), "function");
	ck_assert_str_eq(stats_metric_name(STATS_METRIC_PEAK), "peak");
}
END_TEST

/* A profile with one heap sample and one sample in each domain of doms, each with
 * sizes[i] bytes in counts[i] blocks (inuse). */
static profile_t *domain_profile(const int64_t *doms, const int64_t *sizes,
				 const int64_t *counts, size_t n)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	p->has_value[PV_INUSE_SPACE] = p->has_value[PV_INUSE_OBJECTS] = true;
	int64_t heap[PV_COUNT] = { [PV_INUSE_SPACE] = 1000, [PV_INUSE_OBJECTS] = 1 };
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, heap, 0, false), 0);
	for (size_t i = 0; i < n; i++) {
		int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = sizes[i], [PV_INUSE_OBJECTS] = counts[i] };
		ck_assert_int_eq(profile_add_sample(p, NULL, 0, v, doms[i], false), 0);
	}
	return p;
}

/* diff's other domains: each domain on either side, in domain order, its new sums and
 * what they grew by; one only in the old file has nothing now and shrank by all. */
START_TEST(other_domains_of_a_diff)
{
	profile_t *o = domain_profile((const int64_t[]){ 7, PROFILE_DOMAIN_MMAP },
				      (const int64_t[]){ 50, 100 }, (const int64_t[]){ 1, 1 }, 2);
	profile_t *n = domain_profile((const int64_t[]){ 9, PROFILE_DOMAIN_MMAP },
				      (const int64_t[]){ 20, 300 }, (const int64_t[]){ 2, 3 }, 2);
	stats_options_t opt = { .has_domain = true, .domain = 0 };
	stats_domain_sum_t *d = NULL;
	size_t nd = 0;
	ck_assert_int_eq(stats_other_domains_diff((const profile_t *const[]){ o }, 1,
						  (const profile_t *const[]){ n }, 1, &opt, &d, &nd),
			 0);
	ck_assert_uint_eq(nd, 3);
	const stats_domain_sum_t want[] = {
		{ .domain = 7, .size = 0, .count = 0, .size_diff = -50, .count_diff = -1 },
		{ .domain = 9, .size = 20, .count = 2, .size_diff = 20, .count_diff = 2 },
		{ .domain = PROFILE_DOMAIN_MMAP, .size = 300, .count = 3, .size_diff = 200,
		  .count_diff = 2 },
	};
	for (size_t i = 0; i < 3; i++)
		ck_assert_msg(d[i].domain == want[i].domain && d[i].size == want[i].size &&
				      d[i].count == want[i].count &&
				      d[i].size_diff == want[i].size_diff &&
				      d[i].count_diff == want[i].count_diff,
			      "%zu: domain %lld size %lld (%+lld) count %lld (%+lld)", i,
			      (long long)d[i].domain, (long long)d[i].size, (long long)d[i].size_diff,
			      (long long)d[i].count, (long long)d[i].count_diff);
	free(d);
	/* Every domain shown: nothing is other. */
	opt.has_domain = false;
	ck_assert_int_eq(stats_other_domains_diff((const profile_t *const[]){ o }, 1,
						  (const profile_t *const[]){ n }, 1, &opt, &d, &nd),
			 0);
	ck_assert_uint_eq(nd, 0);
	ck_assert_ptr_null(d);
	profile_free(o);
	profile_free(n);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, group_lineno);
	tcase_add_test(tc, group_filename_function);
	tcase_add_test(tc, group_traceback);
	tcase_add_test(tc, group_cumulative);
	tcase_add_test(tc, recursion_cumulative);
	tcase_add_test(tc, overflow_cumulative);
	tcase_add_test(tc, runtime_skipping);
	tcase_add_test(tc, runtime_modules);
	tcase_add_test(tc, runtime_headers);
	tcase_add_test(tc, paths_normalized);
	tcase_add_test(tc, header_frames_skipped);
	tcase_add_test(tc, inlined_frames);
	tcase_add_test(tc, filters);
	tcase_add_test(tc, sort_ties);
	tcase_add_test(tc, sort_limit);
	tcase_add_test(tc, diff_rules);
	tcase_add_test(tc, diff_sort_ties);
	tcase_add_test(tc, diff_traceback);
	tcase_add_test(tc, merge_by_key);
	tcase_add_test(tc, compare_many_traceback);
	tcase_add_test(tc, domain_and_metric);
	tcase_add_test(tc, zero_samples_skipped);
	tcase_add_test(tc, unknown_frames);
	tcase_add_test(tc, rest_sums);
	tcase_add_test(tc, names);
	tcase_add_test(tc, other_domains_of_a_diff);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(stats_suite());
}
