/* pprof_file.c - snapshot files: gunzip with a size cap, then decode.
 *
 * Output grows from the input actually inflated, never from sizes the gzip trailer
 * claims; concatenated members are accepted, trailing garbage is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pbwire.h"
#include "pprof.h"
#include "pprof_format.h"

static int set_why(pprof_error_t *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records why a read failed and returns rc. */
static int set_why(pprof_error_t *err, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return rc;
}

static int over_limit(pprof_error_t *err, size_t limit)
{
	if (limit >= (1u << 30) && limit % (1u << 30) == 0)
		return set_why(err, -EINVAL, "uncompressed size over %zu GiB", limit >> 30);
	return set_why(err, -EINVAL, "uncompressed size over %zu bytes", limit);
}

int pprof_gunzip(const uint8_t *in, size_t len, size_t limit, uint8_t **out, size_t *out_len,
		 pprof_error_t *err)
{
	pprof_error_t dummy;
	if (!err)
		err = &dummy;
	z_stream zs = { 0 };
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
	/* Start from the compressed size, never from the gzip trailer's claim. */
	size_t cap = len < limit / 4 ? len * 4 : limit;
	cap = cap < 4096 ? 4096 : cap;
	size_t n = 0, in_left = len;
	uint8_t *buf = NULL;
	int rc = 0;
	zs.next_in = (Bytef *)in;
	for (;;) {
		if (!buf || n == cap) {
			if (n > limit) {
				rc = over_limit(err, limit);
				break;
			}
			size_t ncap = buf ? (cap > limit / 2 ? limit + 1 : cap * 2) : cap;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				rc = set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
				break;
			}
			buf = nb;
			cap = ncap;
		}
		if (zs.avail_in == 0 && in_left) {
			zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
			in_left -= zs.avail_in;
		}
		size_t room = cap - n > (1u << 30) ? (1u << 30) : cap - n;
		zs.next_out = buf + n;
		zs.avail_out = (uInt)room;
		int zr = inflate(&zs, Z_NO_FLUSH);
		n += room - zs.avail_out;
		if (zr == Z_STREAM_END) {
			if (n > limit) {
				rc = over_limit(err, limit);
				break;
			}
			size_t pos = len - in_left - zs.avail_in;
			if (pos == len)
				break;
			/* Another member follows (gzip allows concatenation). */
			if (len - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b) {
				rc = set_why(err, -EINVAL, "corrupt gzip stream (trailing garbage)");
				break;
			}
			inflateReset(&zs);
		} else if (zr == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
			rc = set_why(err, -EINVAL, "truncated gzip stream");
			break;
		} else if (zr == Z_MEM_ERROR) {
			rc = set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
			break;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = set_why(err, -EINVAL, "corrupt gzip stream (%s)",
				     zs.msg ? zs.msg : "bad data");
			break;
		}
	}
	inflateEnd(&zs);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* Reads all of fd into a malloc'd buffer; returns 0 or a negative errno. */
static int read_all(int fd, uint8_t **out, size_t *out_len)
{
	struct stat st;
	size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	size_t n = 0;
	uint8_t *buf = NULL;
	for (;;) {
		if (!buf || n == cap) {
			size_t ncap = buf ? cap * 2 : cap;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int pprof_read_file(const char *path, profile_t **out, pprof_error_t *err)
{
	pprof_error_t dummy;
	if (!err)
		err = &dummy;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return set_why(err, -errno, "%s", strerror(errno));
	uint8_t *data = NULL, *raw;
	size_t len = 0, raw_len;
	int rc = read_all(fd, &data, &len);
	close(fd);
	if (rc < 0)
		return set_why(err, rc, "%s", strerror(-rc));
	if (len == 0) {
		free(data);
		return set_why(err, -EINVAL, "empty file");
	}
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		rc = pprof_gunzip(data, len, UNCOMPRESSED_LIMIT, &raw, &raw_len, err);
		free(data);
		if (rc < 0)
			return rc;
		rc = pprof_decode(raw, raw_len, out, err);
		free(raw);
		return rc;
	}
	if (len > UNCOMPRESSED_LIMIT) {
		free(data);
		return over_limit(err, UNCOMPRESSED_LIMIT);
	}
	rc = pprof_decode(data, len, out, err);
	/* Plain pprof starts with its sample types; anything else that fails is junk. */
	if (rc == -EINVAL && data[0] != ((PROFILE_SAMPLE_TYPE << 3) | PB_LEN))
		set_why(err, rc, "not gzip or pprof (bad header)");
	free(data);
	return rc;
}
