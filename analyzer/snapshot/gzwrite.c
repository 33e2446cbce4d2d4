/* gzwrite.c - gzip members written to a file: the snapshot writer's container.
 *
 * Each GZIP_MEMBER bytes of input become a gzip member of their own (pprof_format.h);
 * an input of at most GZIP_STORED_MAX bytes is stored, the rest compressed with ISA-L's
 * igzip at GZIP_LEVEL.  docs/format.md says what readers get.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include "gzwrite.h"
#include "mem.h"
#include "pprof_format.h"

/* Writes all of buf to fd; returns 0 or a negative errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Compressors kept for the next file, each with its output buffer.  A collector host
 * writes a file an image, and a new compressor's state (82 KB for ISA-L's level 1) is
 * fresh pages every time, at 5-10 us a page on the machines we measure on; a kept
 * one's are warm. */
#define DEFLATERS_KEPT 4
struct deflater {
	struct isal_zstream *z;
	uint8_t *out;
	size_t cap;
};
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct deflater kept[DEFLATERS_KEPT];
static unsigned nkept;

/* A kept deflater, or a new one (z NULL when out of memory). */
static struct deflater deflater_take(void)
{
	struct deflater d = { 0 };
	pthread_mutex_lock(&kept_lock);
	if (nkept)
		d = kept[--nkept];
	pthread_mutex_unlock(&kept_lock);
	if (!d.z) {
		d.z = malloc(sizeof(*d.z));
		if (d.z)
			mem_populate(d.z, sizeof(*d.z)); /* its hash table is cleared at each call */
	}
	return d;
}

/* A buffer above this is not kept: a big profile's would stay for good. */
#define DEFLATE_OUT_KEPT (1u << 20)

static void deflater_give(struct deflater d)
{
	if (d.cap > DEFLATE_OUT_KEPT) {
		free(d.out);
		d.out = NULL;
		d.cap = 0;
	}
	pthread_mutex_lock(&kept_lock);
	bool keep = d.z && nkept < DEFLATERS_KEPT;
	if (keep)
		kept[nkept++] = d;
	pthread_mutex_unlock(&kept_lock);
	if (!keep) {
		free(d.out);
		free(d.z);
	}
}

/* Writes buf as one stored (uncompressed) gzip member: see GZIP_STORED_MAX.  Returns 0,
 * a negative errno, or -ENOTSUP when libdeflate has no level 0 (before 1.7). */
static int gzip_write_stored(const uint8_t *buf, size_t len, int fd)
{
	struct libdeflate_compressor *z = libdeflate_alloc_compressor(0);
	if (!z)
		return -ENOTSUP;
	uint8_t out[GZIP_STORED_MAX + 64];
	size_t got = libdeflate_gzip_compress(z, buf, len, out, sizeof(out));
	libdeflate_free_compressor(z);
	return got ? write_all(fd, out, got) : -EIO;
}

/* The most a gzip member of n bytes of input takes: ISA-L's level 1 falls back to
 * stored blocks (5 bytes of header each 65,535 bytes) where compressing would take
 * more, after at most one block header of its own and gzip's 18 bytes. */
static size_t gzip_bound(size_t n)
{
	return n + (n / 65535 + 1) * 5 + ISAL_DEF_MAX_HDR_SIZE + 18;
}

/* Gzips buf to fd, a member for each GZIP_MEMBER bytes; returns 0 or a negative errno.
 * ISA-L's igzip, level 1, with no level buffer: on a compiler's 284 KB exit profile
 * 0.30 ms to libdeflate's 0.78 ms at its level 1 (and zlib's 2.3 ms), for a file 6%
 * bigger (72 KB, not 68 KB). */
int gzip_write_fd(const uint8_t *buf, size_t len, int fd)
{
	if (len <= GZIP_STORED_MAX) {
		int r = gzip_write_stored(buf, len, fd);
		if (r != -ENOTSUP)
			return r;
	}
	struct deflater d = deflater_take();
	if (!d.z)
		return -ENOMEM;
	size_t piece = len < GZIP_MEMBER ? len : GZIP_MEMBER;
	size_t cap = gzip_bound(piece);
	int r = 0;
	if (d.cap < cap) {
		free(d.out);
		d.out = malloc(cap);
		d.cap = d.out ? cap : 0;
		r = d.out ? 0 : -ENOMEM;
	}
	size_t at = 0;
	do {
		size_t n = len - at < piece ? len - at : piece;
		if (!r) {
			struct isal_zstream *z = d.z;
			isal_deflate_stateless_init(z);
			z->next_in = (uint8_t *)buf + at;
			z->avail_in = (uint32_t)n;
			z->next_out = d.out;
			z->avail_out = (uint32_t)cap;
			z->end_of_stream = 1;
			z->flush = NO_FLUSH;
			z->gzip_flag = IGZIP_GZIP;
			z->level = GZIP_LEVEL;
			/* Cannot fail: the level and flush are valid, and the room is the bound. */
			if (isal_deflate_stateless(z) != COMP_OK)
				r = -EIO;
			else
				r = write_all(fd, d.out, z->total_out);
		}
		at += n;
	} while (!r && at < len);
	deflater_give(d);
	return r;
}
