/* test-format.c - format_size, statistic lines, frames, JSON escaping and the printers,
 * on hand-built stats structs (no grouping involved). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "checkmain.h"

/* Captures what fn prints into a malloc'd string. */
#define CAPTURE(var, stmt)                                   \
	do {                                                 \
		size_t len_;                                 \
		FILE *out = open_memstream(&(var), &len_);   \
		ck_assert_ptr_nonnull(out);                  \
		stmt;                                        \
		fclose(out);                                 \
	} while (0)

static const char *fs(int64_t size, bool sign)
{
	static char buf[8][FORMAT_SIZE_MAX];
	static int i;
	i = (i + 1) % 8;
	return format_size(buf[i], size, sign);
}

START_TEST(size_bytes)
{
	ck_assert_str_eq(fs(0, false), "0 B");
	ck_assert_str_eq(fs(1, false), "1 B");
	ck_assert_str_eq(fs(4096, false), "4096 B");
	ck_assert_str_eq(fs(10239, false), "10239 B");
	ck_assert_str_eq(fs(-10239, false), "-10239 B");
}
END_TEST

START_TEST(size_units)
{
	ck_assert_str_eq(fs(10240, false), "10.0 KiB");
	ck_assert_str_eq(fs(12345, false), "12.1 KiB");
	ck_assert_str_eq(fs(102400, false), "100 KiB");
	ck_assert_str_eq(fs(512 * 1024, false), "512 KiB");
	/* CPython prints 1536 KiB as "1536 KiB": below 10240 of a unit, no decimals. */
	ck_assert_str_eq(fs(1536 * 1024, false), "1536 KiB");
	ck_assert_str_eq(fs(10239 * 1024, false), "10239 KiB");
	ck_assert_str_eq(fs(10240 * 1024, false), "10.0 MiB");
	ck_assert_str_eq(fs(15 * 1024 * 1024, false), "15.0 MiB");
	ck_assert_str_eq(fs(3LL << 30, false), "3072 MiB");
	ck_assert_str_eq(fs(20LL << 30, false), "20.0 GiB");
	ck_assert_str_eq(fs(1023LL << 30, false), "1023 GiB");
	ck_assert_str_eq(fs((10LL << 40) - 1, false), "10240 GiB");
	ck_assert_str_eq(fs(10LL << 40, false), "10.0 TiB");
	ck_assert_str_eq(fs(200000LL << 40, false), "200000 TiB");
}
END_TEST

START_TEST(size_rounding)
{
	/* 102348 B = 99.949 KiB; 102349 B = 99.950 KiB rounds up to "100.0". */
	ck_assert_str_eq(fs(102348, false), "99.9 KiB");
	ck_assert_str_eq(fs(102349, false), "100.0 KiB");
	char b[FORMAT_SIZE_MAX];
	ck_assert_str_eq(format_size_f(b, 10.5, false), "10 B");
	ck_assert_str_eq(format_size_f(b, 11.5, false), "12 B");
	ck_assert_str_eq(format_size_f(b, 2.5, false), "2 B");
	ck_assert_str_eq(format_size_f(b, 99.5, false), "100 B");
}
END_TEST

START_TEST(size_signed)
{
	ck_assert_str_eq(fs(0, true), "+0 B");
	ck_assert_str_eq(fs(100, true), "+100 B");
	ck_assert_str_eq(fs(-100, true), "-100 B");
	ck_assert_str_eq(fs(-512 * 1024, true), "-512 KiB");
	ck_assert_str_eq(fs(12345, true), "+12.1 KiB");
	ck_assert_str_eq(fs(-10240, true), "-10.0 KiB");
	ck_assert_str_eq(fs(104806, true), "+102 KiB");
}
END_TEST

static stats_frame_t known = { .function = "main", .file = "prog.c", .line = 12,
			       .module = "prog" };

START_TEST(statistic_line)
{
	stats_t s = { .key = STATS_KEY_LINENO };
	stats_entry_t e = { .site = known, .size = 3072, .count = 2 };
	char *text;
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text, "prog.c:12: size=3072 B, count=2, average=1536 B");
	free(text);

	e.count = 0;
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text, "prog.c:12: size=3072 B, count=0");
	free(text);

	s.key = STATS_KEY_FILENAME;
	e.count = 3;
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text, "prog.c: size=3072 B, count=3, average=1024 B");
	free(text);

	s.key = STATS_KEY_FUNCTION;
	e.site.line = 0;
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text, "main at prog.c (prog): size=3072 B, count=3, average=1024 B");
	free(text);
}
END_TEST

START_TEST(statistic_diff_line)
{
	stats_t s = { .key = STATS_KEY_LINENO, .is_diff = true };
	stats_entry_t e = { .site = known, .size = 20480, .count = 4, .size_diff = 10240,
			    .count_diff = 2 };
	char *text;
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text,
			 "prog.c:12: size=20.0 KiB (+10.0 KiB), count=4 (+2), average=5120 B");
	free(text);

	e = (stats_entry_t){ .site = known, .size = 0, .count = 0, .size_diff = -512 * 1024,
			     .count_diff = -7 };
	CAPTURE(text, format_statistic(out, &s, &e, false));
	ck_assert_str_eq(text, "prog.c:12: size=0 B (-512 KiB), count=0 (-7)");
	free(text);

	e = (stats_entry_t){ .site = known, .size = 10, .count = 1 };
	CAPTURE(text, format_statistic(out, &s, &e, true));
	ck_assert_str_eq(text, "prog.c:12: size=10 B (+0 B), count=1 (+0), average=10 B");
	free(text);

	e.size_diff = 10;
	CAPTURE(text, format_statistic(out, &s, &e, true));
	ck_assert_str_eq(text,
			 "prog.c:12: size=10 B (\033[31m+10 B\033[0m), count=1 (+0), average=10 B");
	free(text);
}
END_TEST

START_TEST(frames)
{
	char *text;
	CAPTURE(text, format_frame(out, &known, true));
	ck_assert_str_eq(text, "main at prog.c:12 (prog)");
	free(text);

	stats_frame_t f = { .function = "memcpy", .module = "libc.so.6" };
	CAPTURE(text, format_frame(out, &f, true));
	ck_assert_str_eq(text, "memcpy (libc.so.6)");
	free(text);
	CAPTURE(text, format_site(out, STATS_KEY_LINENO, &f));
	ck_assert_str_eq(text, "memcpy (libc.so.6)");
	free(text);

	f = (stats_frame_t){ .module = "libfoo.so", .address = 0x1a2b };
	CAPTURE(text, format_frame(out, &f, true));
	ck_assert_str_eq(text, "0x1a2b (libfoo.so)");
	free(text);
	CAPTURE(text, format_site(out, STATS_KEY_FILENAME, &f));
	ck_assert_str_eq(text, "0x1a2b (libfoo.so)");
	free(text);

	f = (stats_frame_t){ .empty = true };
	CAPTURE(text, format_site(out, STATS_KEY_LINENO, &f));
	ck_assert_str_eq(text, "[no frames]");
	free(text);
}
END_TEST

static char *json(const char *s)
{
	char *text;
	CAPTURE(text, format_json_string(out, s));
	return text;
}

struct escape_case {
	const char *in, *out;
};

/* Checks that fn prints each case's in as its out. */
static void assert_escapes(void (*fn)(FILE *, const char *), const struct escape_case *cases,
			   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *t;
		CAPTURE(t, fn(out, cases[i].in));
		ck_assert_str_eq(t, cases[i].out);
		free(t);
	}
}

START_TEST(json_escaping)
{
	static const struct escape_case cases[] = {
		{ "plain", "\"plain\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "l1\nl2\tx\r\b\f", "\"l1\\nl2\\tx\\r\\b\\f\"" },
		{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "bad\xff\xfe", "\"bad\\u00ff\\u00fe\"" },
		{ "trunc\xc3", "\"trunc\\u00c3\"" },
		{ "overlong\xc0\xaf", "\"overlong\\u00c0\\u00af\"" },
		{ "surrogate\xed\xa0\x80", "\"surrogate\\u00ed\\u00a0\\u0080\"" },
		{ "", "\"\"" },
	};
	assert_escapes(format_json_string, cases, sizeof(cases) / sizeof(cases[0]));
	char *t = json(NULL);
	ck_assert_str_eq(t, "null");
	free(t);
}
END_TEST

/* Three entries, by hand, sorted as stats_group() would. */
static stats_entry_t entries[] = {
	{ .site = { .function = "main", .file = "prog.c", .line = 12, .module = "prog" },
	  .size = 20480, .count = 2 },
	{ .site = { .function = "f", .file = "lib.c", .line = 3, .module = "prog" },
	  .size = 100, .count = 1 },
	{ .site = { .function = "g", .file = "lib.c", .line = 4, .module = "prog" },
	  .size = 50, .count = 1 },
};

START_TEST(top_text)
{
	stats_t s = { .key = STATS_KEY_LINENO, .entries = entries, .nentries = 3,
		      .total_size = 20630, .total_count = 4 };
	format_opts_t o = { .file = "snap.pb.gz", .limit = 1 };
	char *text;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "Top 1 statistics of 'snap.pb.gz' by lineno, metric inuse\n"
			 "#1: prog.c:12: size=20.0 KiB, count=2, average=10.0 KiB\n"
			 "2 other: size=150 B, count=2\n"
			 "Total: size=20.1 KiB, count=4\n");
	free(text);

	o.limit = 0;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "All statistics of 'snap.pb.gz' by lineno, metric inuse\n"
			 "#1: prog.c:12: size=20.0 KiB, count=2, average=10.0 KiB\n"
			 "#2: lib.c:3: size=100 B, count=1, average=100 B\n"
			 "#3: lib.c:4: size=50 B, count=1, average=50 B\n"
			 "Total: size=20.1 KiB, count=4\n");
	free(text);

	/* The other domains under the total: the first eight, then how many more. */
	stats_domain_sum_t others[10];
	for (int i = 0; i < 10; i++)
		others[i] = (stats_domain_sum_t){ .domain = i + 1, .size = 100 - i, .count = 1 };
	others[0].domain = 65536;
	o.others = others;
	o.nothers = 10;
	o.limit = 1;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "Top 1 statistics of 'snap.pb.gz' by lineno, metric inuse\n"
			 "#1: prog.c:12: size=20.0 KiB, count=2, average=10.0 KiB\n"
			 "2 other: size=150 B, count=2\n"
			 "Total: size=20.1 KiB, count=4\n"
			 "Other domains: mmap size=100 B, count=1; 2 size=99 B, count=1; "
			 "3 size=98 B, count=1; 4 size=97 B, count=1; 5 size=96 B, count=1; "
			 "6 size=95 B, count=1; 7 size=94 B, count=1; 8 size=93 B, count=1; "
			 "and 2 more (see --domain)\n");
	free(text);

	/* A diff's other domains say how each changed. */
	s.is_diff = true;
	o.old_file = "a.pb.gz";
	o.new_file = "b.pb.gz";
	o.nothers = 1;
	o.limit = 0;
	o.domain = "7";
	others[0] = (stats_domain_sum_t){ .domain = 65536, .size = 3072, .count = 3,
					  .size_diff = 2048, .count_diff = 2 };
	stats_t one = s;
	one.nentries = 0;
	one.total_size = one.total_count = 0;
	CAPTURE(text, print_diff_text(out, &one, &o));
	ck_assert_str_eq(text,
			 "All differences from 'a.pb.gz' to 'b.pb.gz' by lineno, metric inuse, "
			 "domain 7\n"
			 "Total: size=0 B (+0 B), count=0 (+0)\n"
			 "Other domains: mmap size=3072 B (+2048 B), count=3 (+2) (see --domain)\n");
	free(text);
}
END_TEST

START_TEST(top_json)
{
	stats_t s = { .key = STATS_KEY_LINENO, .metric = STATS_METRIC_PEAK, .entries = entries,
		      .nentries = 3, .total_size = 20630, .total_count = 4 };
	format_opts_t o = { .file = "a\"b.pb.gz", .limit = 2 };
	char *text;
	CAPTURE(text, print_top_json(out, &s, &o));
	ck_assert_str_eq(text,
			 "{\"file\":\"a\\\"b.pb.gz\",\"key\":\"lineno\",\"metric\":\"peak\","
			 "\"cumulative\":false,\"stats\":[\n"
			 "{\"file\":\"prog.c\",\"line\":12,\"function\":\"main\",\"module\":\"prog\","
			 "\"size\":20480,\"count\":2},\n"
			 "{\"file\":\"lib.c\",\"line\":3,\"function\":\"f\",\"module\":\"prog\","
			 "\"size\":100,\"count\":1}\n],\n"
			 "\"other\":{\"entries\":1,\"size\":50,\"count\":1},\n"
			 "\"total\":{\"size\":20630,\"count\":4}}\n");
	free(text);
}
END_TEST

START_TEST(diff_text_and_json)
{
	stats_entry_t d[] = {
		{ .site = entries[0].site, .size = 20480, .count = 2, .size_diff = 20480,
		  .count_diff = 2 },
		{ .site = entries[1].site, .size = 0, .count = 0, .size_diff = -100,
		  .count_diff = -1 },
	};
	stats_t s = { .key = STATS_KEY_LINENO, .is_diff = true, .entries = d, .nentries = 2,
		      .total_size = 20480, .total_count = 2, .total_size_diff = 20380,
		      .total_count_diff = 1 };
	format_opts_t o = { .old_file = "1.pb.gz", .new_file = "2.pb.gz", .limit = 1 };
	char *text;
	CAPTURE(text, print_diff_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "Top 1 differences from '1.pb.gz' to '2.pb.gz' by lineno, metric inuse\n"
			 "#1: prog.c:12: size=20.0 KiB (+20.0 KiB), count=2 (+2), average=10.0 KiB\n"
			 "1 other: size=0 B (-100 B), count=0 (-1)\n"
			 "Total: size=20.0 KiB (+19.9 KiB), count=2 (+1)\n");
	free(text);

	CAPTURE(text, print_diff_json(out, &s, &o));
	ck_assert_str_eq(text,
			 "{\"old\":\"1.pb.gz\",\"new\":\"2.pb.gz\",\"key\":\"lineno\",\"metric\":"
			 "\"inuse\",\"cumulative\":false,\"stats\":[\n"
			 "{\"file\":\"prog.c\",\"line\":12,\"function\":\"main\",\"module\":\"prog\","
			 "\"size\":20480,\"count\":2,\"size_diff\":20480,\"count_diff\":2}\n],\n"
			 "\"other\":{\"entries\":1,\"size\":0,\"count\":0,\"size_diff\":-100,"
			 "\"count_diff\":-1},\n"
			 "\"total\":{\"size\":20480,\"count\":2,\"size_diff\":20380,"
			 "\"count_diff\":1}}\n");
	free(text);
}
END_TEST

/* A traceback statistic: one entry of 64 bytes in one block, whose stack is the n
 * frames of table, in order (ids holds 0..n-1). */
static stats_t one_traceback(stats_entry_t *e, const stats_frame_t *table, uint32_t *ids,
			     uint32_t n, bool truncated)
{
	for (uint32_t i = 0; i < n; i++)
		ids[i] = i;
	*e = (stats_entry_t){ .site = table[0], .size = 64, .count = 1, .frame_table = table,
			      .frame_ids = ids, .nframes = n, .truncated = truncated };
	return (stats_t){ .key = STATS_KEY_TRACEBACK, .entries = e, .nentries = 1,
			  .total_size = 64, .total_count = 1 };
}

START_TEST(traceback_text)
{
	stats_frame_t table[] = {
		{ .function = "inner", .file = "a.h", .line = 5, .module = "prog" },
		{ .function = "main", .file = "prog.c", .line = 12, .module = "prog" },
		{ .function = "__libc_start_main", .module = "libc.so.6" },
		{ .module = "prog", .address = 0x1040 },
	};
	uint32_t ids[4];
	stats_entry_t e;
	stats_t s = one_traceback(&e, table, ids, 4, true);
	format_opts_t o = { .file = "f", .limit = 10 };
	char *text;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "Top 10 statistics of 'f' by traceback, metric inuse\n"
			 "#1: a.h:5: size=64 B, count=1, average=64 B\n"
			 "    inner at a.h:5 (prog)\n"
			 "    main at prog.c:12 (prog)\n"
			 "    __libc_start_main (libc.so.6)\n"
			 "    0x1040 (prog)\n"
			 "    [truncated: the stack had more frames than were kept; "
			 "heapsnap run --frames N keeps more]\n"
			 "Total: size=64 B, count=1\n");
	free(text);

	CAPTURE(text, print_top_json(out, &s, &o));
	ck_assert_ptr_nonnull(strstr(text,
		"\"truncated\":true,\"frames\":[{\"file\":\"a.h\",\"line\":5,\"function\":\"inner\","
		"\"module\":\"prog\"},{\"file\":\"prog.c\",\"line\":12,\"function\":\"main\","
		"\"module\":\"prog\"},{\"file\":null,\"line\":0,\"function\":\"__libc_start_main\","
		"\"module\":\"libc.so.6\"},{\"file\":null,\"line\":0,\"function\":null,"
		"\"module\":\"prog\",\"address\":\"0x1040\"}]}"));
	free(text);
}
END_TEST

/* C++ names: tracebacks print short names unless full_names; JSON carries both. */
START_TEST(traceback_short_names)
{
	stats_frame_t table[] = {
		{ .function = "void std::vector<int, std::allocator<int> >::_M_realloc_insert"
			      "<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, "
			      "std::allocator<int> > >, int const&)",
		  .file = "/usr/include/c++/12/bits/vector.tcc", .line = 440, .module = "prog" },
		{ .function = "main", .file = "prog.cpp", .line = 12, .module = "prog" },
	};
	uint32_t ids[2];
	stats_entry_t e;
	stats_t s = one_traceback(&e, table, ids, 2, false);
	format_opts_t o = { .file = "f", .limit = 10 };
	char *text;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_str_eq(text,
			 "Top 10 statistics of 'f' by traceback, metric inuse\n"
			 "#1: /usr/include/c++/12/bits/vector.tcc:440: size=64 B, count=1, average=64 B\n"
			 "    std::vector<\xe2\x80\xa6>::_M_realloc_insert<\xe2\x80\xa6> at "
			 "/usr/include/c++/12/bits/vector.tcc:440 (prog)\n"
			 "    main at prog.cpp:12 (prog)\n"
			 "Total: size=64 B, count=1\n");
	free(text);
	o.full_names = true;
	CAPTURE(text, print_top_text(out, &s, &o));
	ck_assert_ptr_nonnull(strstr(text, "    void std::vector<int, std::allocator<int> >::"));
	free(text);

	CAPTURE(text, print_top_json(out, &s, &o));
	ck_assert_ptr_nonnull(strstr(text,
		"\"function\":\"void std::vector<int, std::allocator<int> >::_M_realloc_insert"
		"<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, "
		"std::allocator<int> > >, int const&)\",\"short_function\":\"std::vector<\xe2\x80\xa6>"
		"::_M_realloc_insert<\xe2\x80\xa6>\",\"module\":\"prog\""));
	/* A C name has no short_function. */
	ck_assert_ptr_nonnull(strstr(text, "\"function\":\"main\",\"module\":\"prog\""));
	free(text);
}
END_TEST

START_TEST(info_text_warnings)
{
	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	p->meta.pid = 42;
	p->meta.command = profile_intern(p, "./prog a");
	p->meta.trigger = profile_intern(p, "exit");
	p->meta.lost_events = 0;
	p->meta.corrupt_records = 3;
	p->has_value[PV_INUSE_SPACE] = p->has_value[PV_INUSE_OBJECTS] = true;
	int64_t v[PV_COUNT] = { [PV_INUSE_SPACE] = 2048, [PV_INUSE_OBJECTS] = 2 };
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, v, 0, false), 0);
	ck_assert_int_eq(profile_add_comment(p, "hello"), 0);
	format_opts_t o = { .file = "s.pb.gz" };
	char *text;
	CAPTURE(text, print_info_text(out, p, &o));
	ck_assert_str_eq(text,
			 "file:             s.pb.gz\n"
			 "pid:              42\n"
			 "command:          ./prog a\n"
			 "trigger:          exit\n"
			 "lost events:      0\n"
			 "corrupt records:  3\n"
			 "sample types:     inuse_objects inuse_space\n"
			 "samples:          1\n"
			 "locations:        0\n"
			 "mappings:         0\n"
			 "total inuse:      size=2048 B, count=2\n"
			 "comment:          hello\n"
			 "WARNING: 3 corrupt records were rejected by the collector\n");
	free(text);

	o.color = true;
	CAPTURE(text, print_info_text(out, p, &o));
	ck_assert_ptr_nonnull(strstr(text, "\033[1;31mWARNING: 3 corrupt"));
	free(text);

	o.color = false;
	CAPTURE(text, print_info_json(out, p, &o));
	ck_assert_str_eq(text,
			 "{\"file\":\"s.pb.gz\",\"pid\":42,\"command\":\"./prog a\",\"trigger\":"
			 "\"exit\",\"lost_events\":0,\"corrupt_records\":3,\"sample_types\":["
			 "\"inuse_objects\",\"inuse_space\"],\"samples\":1,\"locations\":0,"
			 "\"mappings\":0,\"totals\":{\"inuse\":{\"size\":2048,\"count\":2}},"
			 "\"comments\":[\"hello\"],\"warnings\":[\"3 corrupt records were rejected "
			 "by the collector\"]}\n");
	free(text);

	/* With a sample in another domain, the totals say they add every domain up. */
	int64_t mv[PV_COUNT] = { [PV_INUSE_SPACE] = 4096, [PV_INUSE_OBJECTS] = 1 };
	ck_assert_int_eq(profile_add_sample(p, NULL, 0, mv, PROFILE_DOMAIN_MMAP, false), 0);
	CAPTURE(text, print_info_text(out, p, &o));
	ck_assert_msg(strstr(text, "total inuse:      size=6144 B, count=3 (every domain: heap, "
				   "mmap...)\n"),
		      "%s", text);
	free(text);

	/* A snapshot taken while tracing was stopped says so: its zeros are not a heap. */
	p->meta.tracing_off = 1;
	CAPTURE(text, print_info_text(out, p, &o));
	ck_assert_msg(strstr(text, "corrupt records:  3\n"
				   "tracing:          off at this snapshot (heapsnap stop, or --off "
				   "before heapsnap start): it counts nothing\n"),
		      "%s", text);
	free(text);
	CAPTURE(text, print_info_json(out, p, &o));
	ck_assert_msg(strstr(text, ",\"corrupt_records\":3,\"tracing_off\":1,"), "%s", text);
	free(text);
	profile_free(p);
}
END_TEST

/* Control characters from the program's argv and paths are escaped in text; C1
 * controls and bytes that are not UTF-8 too; JSON keeps its own escapes. */
START_TEST(text_escaping)
{
	static const struct escape_case cases[] = {
		{ "plain/path.c", "plain/path.c" },
		{ "evil\x1b[31mred", "evil\\x1b[31mred" },
		{ "l1\nl2\tx\r", "l1\\nl2\\tx\\r" },
		{ "\x01\x7f", "\\x01\\x7f" },
		{ "csi\xc2\x9b" "2J", "csi\\xc2\\x9b2J" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "latin1\xe9", "latin1\\xe9" },
		{ "back\\slash", "back\\slash" },
	};
	assert_escapes(format_text_string, cases, sizeof(cases) / sizeof(cases[0]));
	char *text;

	stats_frame_t f = { .function = "f\x1b]0;owned\x07", .file = "a\nb.c", .line = 3,
			    .module = "m\r" };
	CAPTURE(text, format_frame(out, &f, true));
	ck_assert_str_eq(text, "f\\x1b]0;owned\\x07 at a\\nb.c:3 (m\\r)");
	free(text);
	CAPTURE(text, format_site(out, STATS_KEY_FILENAME, &f));
	ck_assert_str_eq(text, "a\\nb.c");
	free(text);

	profile_t *p = profile_new();
	ck_assert_ptr_nonnull(p);
	p->meta.command = profile_intern(p, "./prog \x1b[2J\n");
	ck_assert_int_eq(profile_add_comment(p, "c\x1b"), 0);
	format_opts_t o = { .file = "s\n.pb.gz" };
	CAPTURE(text, print_info_text(out, p, &o));
	ck_assert_str_eq(text,
			 "file:             s\\n.pb.gz\n"
			 "command:          ./prog \\x1b[2J\\n\n"
			 "sample types:    \n"
			 "samples:          0\n"
			 "locations:        0\n"
			 "mappings:         0\n"
			 "comment:          c\\x1b\n");
	free(text);
	CAPTURE(text, print_info_json(out, p, &o));
	ck_assert_ptr_nonnull(strstr(text, "\"command\":\"./prog \\u001b[2J\\n\""));
	ck_assert_ptr_nonnull(strstr(text, "{\"file\":\"s\\n.pb.gz\""));
	free(text);
	profile_free(p);
}
END_TEST

static Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, size_bytes);
	tcase_add_test(tc, size_units);
	tcase_add_test(tc, size_rounding);
	tcase_add_test(tc, size_signed);
	tcase_add_test(tc, statistic_line);
	tcase_add_test(tc, statistic_diff_line);
	tcase_add_test(tc, frames);
	tcase_add_test(tc, json_escaping);
	tcase_add_test(tc, top_text);
	tcase_add_test(tc, top_json);
	tcase_add_test(tc, diff_text_and_json);
	tcase_add_test(tc, traceback_text);
	tcase_add_test(tc, traceback_short_names);
	tcase_add_test(tc, info_text_warnings);
	tcase_add_test(tc, text_escaping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(format_suite());
}
