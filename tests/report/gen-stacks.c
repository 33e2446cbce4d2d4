/* gen-stacks.c - writes a snapshot of N unique stacks, for report's scale test.
 *
 * usage: gen-stacks OUT.pb.gz [N]   (default 100000)
 *
 * Built with the profile builder: a program with 2,000 functions over 200 files and
 * libc.  Stack i is _start, main, then five frames picked by i's decimal digits (so
 * every stack is unique and the tree branches ten ways per level), then 0 to 6 frames
 * picked by a hash of i from the 2,000 functions, then libc's malloc.  Sizes are
 * skewed (one stack in 97 is 100 times heavier); all six values are set.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pprof.h"
#include "profile.h"

#define NFUNCS 2000

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gen-stacks OUT.pb.gz [N]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 100000;
	profile_t *p = profile_new();
	if (!p)
		return 1;
	for (int v = 0; v < PV_COUNT; v++)
		p->has_value[v] = true;
	p->meta.pid = 4242;
	p->meta.command = profile_intern(p, "./bigserver --generated");
	p->meta.trigger = profile_intern(p, "exit");
	p->meta.lost_events = 0;
	p->meta.current_bytes = p->meta.peak_bytes = 0;
	profile_mapping_t maps[2] = {
		{ 0x400000, 0x2000000, 0, "/opt/big/bin/bigserver", NULL },
		{ 0x7f0000000000, 0x7f0000200000, 0, "/lib/x86_64-linux-gnu/libc.so.6", NULL },
	};
	uint32_t m[2], start, mainl, mall, funcs[NFUNCS], digits[5][10];
	profile_add_mapping(p, &maps[0], &m[0]);
	profile_add_mapping(p, &maps[1], &m[1]);
	profile_line_t l = { "_start", NULL, 0 };
	profile_add_location(p, 0x400010, m[0], &l, 1, &start);
	l = (profile_line_t){ "main", "/src/big/main.c", 42 };
	profile_add_location(p, 0x400020, m[0], &l, 1, &mainl);
	l = (profile_line_t){ "malloc", NULL, 0 };
	profile_add_location(p, 0x7f0000001000, m[1], &l, 1, &mall);
	char fn[64], file[64];
	for (int i = 0; i < NFUNCS; i++) {
		snprintf(fn, sizeof(fn), "handler_%d", i);
		snprintf(file, sizeof(file), "/src/big/mod%03d.c", i / 10);
		l = (profile_line_t){ fn, file, 10 + i % 10 * 7 };
		profile_add_location(p, 0x401000 + i * 16, m[0], &l, 1, &funcs[i]);
	}
	for (int k = 0; k < 5; k++)
		for (int d = 0; d < 10; d++) {
			snprintf(fn, sizeof(fn), "stage%d_%d", k, d);
			snprintf(file, sizeof(file), "/src/big/stage%d.c", k);
			l = (profile_line_t){ fn, file, 100 + d };
			profile_add_location(p, 0x1000000 + k * 0x1000 + d * 16, m[0], &l, 1,
					     &digits[k][d]);
		}
	for (long i = 0; i < n; i++) {
		uint32_t locs[16];
		uint32_t len = 0;
		uint64_t h = mix((uint64_t)i + 1);
		locs[len++] = mall;
		for (uint32_t e = 0; e < h % 7; e++)
			locs[len++] = funcs[mix(h + e) % NFUNCS];
		long q = i;
		uint32_t digit_locs[5];
		for (int k = 0; k < 5; k++, q /= 10)
			digit_locs[k] = digits[k][q % 10];
		for (int k = 4; k >= 0; k--) /* innermost first: the last digit's stage first */
			locs[len++] = digit_locs[4 - k];
		locs[len++] = mainl;
		locs[len++] = start;
		int64_t size = (int64_t)(16 + h % 4096) * (i % 97 ? 1 : 100), count = 1 + h % 5;
		int64_t v[PV_COUNT] = {
			[PV_INUSE_SPACE] = size, [PV_INUSE_OBJECTS] = count,
			[PV_PEAK_SPACE] = size + size / 2, [PV_PEAK_OBJECTS] = count + 1,
			[PV_ALLOC_SPACE] = size * 4, [PV_ALLOC_OBJECTS] = count * 4,
		};
		if (profile_add_sample(p, locs, len, v, 0, false))
			return 1;
		p->meta.current_bytes += size;
		p->meta.peak_bytes += size + size / 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pprof_write_fd(p, fd) || close(fd)) {
		perror(argv[1]);
		return 1;
	}
	profile_free(p);
	return 0;
}
