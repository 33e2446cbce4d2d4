/* pprof_file.c - snapshot files: gunzip with a size cap, then decode.
 *
 * Only regular files are read, opened without blocking and never larger than
 * FILE_SIZE_LIMIT; output grows from the input actually inflated, never from sizes
 * the gzip trailer claims, and stops at a hard maximum and at INFLATE_RATIO times the
 * compressed size (pprof_format.h has the limits, docs/security.md why).
 * Concatenated members are accepted, trailing garbage is not.
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

static int over_limit(pprof_error_t *err, size_t limit, bool ratio)
{
	if (ratio)
		return set_why(err, -EINVAL, "uncompressed size over %d times the compressed size "
			       "(a gzip bomb?)", INFLATE_RATIO);
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
	/* A bomb stops at INFLATE_RATIO times its size, whatever limit the caller gave. */
	bool by_ratio = false;
	if (limit > INFLATE_FLOOR && len < (limit - INFLATE_FLOOR) / INFLATE_RATIO) {
		limit = INFLATE_FLOOR + len * INFLATE_RATIO;
		by_ratio = true;
	}
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
				rc = over_limit(err, limit, by_ratio);
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
				rc = over_limit(err, limit, by_ratio);
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

/* Describes what st is, for "not a regular file (...)". */
static const char *file_kind(const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a file";
	}
}

/* Opens path for reading if it is a regular file of at most FILE_SIZE_LIMIT bytes.
 * O_NONBLOCK keeps a FIFO from blocking the open.  Returns the fd and sets *size, or
 * returns a negative errno with the reason in err. */
static int open_snapshot(const char *path, size_t *size, pprof_error_t *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return set_why(err, -errno, "%s", strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = set_why(err, -errno, "%s", strerror(errno));
	else if (S_ISDIR(st.st_mode))
		rc = set_why(err, -EISDIR, "%s", strerror(EISDIR));
	else if (!S_ISREG(st.st_mode))
		rc = set_why(err, -EINVAL, "not a regular file (%s)", file_kind(&st));
	else if ((uint64_t)st.st_size > FILE_SIZE_LIMIT)
		rc = set_why(err, -EFBIG, "file too large (%jd bytes, the limit is %zu GiB)",
			     (intmax_t)st.st_size, FILE_SIZE_LIMIT >> 30);
	if (rc) {
		close(fd);
		return rc;
	}
	*size = (size_t)st.st_size;
	return fd;
}

/* Reads fd, whose size was size, into a malloc'd buffer; a file that grows past
 * FILE_SIZE_LIMIT meanwhile is refused.  Returns 0 or a negative errno (reason in
 * err). */
static int read_all(int fd, size_t size, uint8_t **out, size_t *out_len, pprof_error_t *err)
{
	size_t cap = size ? size + 1 : 65536, n = 0;
	uint8_t *buf = NULL;
	for (;;) {
		if (!buf || n == cap) {
			if (buf && cap > FILE_SIZE_LIMIT) {
				free(buf);
				return set_why(err, -EFBIG, "file too large (the limit is %zu GiB)",
					       FILE_SIZE_LIMIT >> 30);
			}
			size_t ncap = buf ? cap * 2 : cap;
			ncap = ncap > FILE_SIZE_LIMIT + 1 ? FILE_SIZE_LIMIT + 1 : ncap;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return set_why(err, -ENOMEM, "%s", strerror(ENOMEM));
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			return set_why(err, -e, "%s", strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* Checks that the magnitudes of each kind of value of p, summed over its samples, stay
 * below VALUE_SUM_LIMIT: then no sum of them, nor the difference of two such sums (a
 * diff), can overflow an int64.  Returns 0 or -EOVERFLOW with the reason in err. */
static int check_value_sums(const profile_t *p, pprof_error_t *err)
{
	for (int v = 0; v < PV_COUNT; v++) {
		uint64_t sum = 0;
		for (size_t i = 0; i < p->nsamples; i++) {
			int64_t x = p->samples[i].value[v];
			uint64_t mag = x < 0 ? -(uint64_t)x : (uint64_t)x;
			if (__builtin_add_overflow(sum, mag, &sum) || sum >= VALUE_SUM_LIMIT)
				return set_why(err, -EOVERFLOW, "values overflow (sample %zu: the %s "
					       "values add up to 2^62 or more)", i,
					       profile_value_type(v));
		}
	}
	return 0;
}

/* Decodes raw and checks its value sums. */
static int decode_checked(const uint8_t *raw, size_t len, profile_t **out, pprof_error_t *err)
{
	profile_t *p;
	int rc = pprof_decode(raw, len, &p, err);
	if (rc)
		return rc;
	if ((rc = check_value_sums(p, err))) {
		profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int pprof_read_file(const char *path, profile_t **out, pprof_error_t *err)
{
	pprof_error_t dummy;
	if (!err)
		err = &dummy;
	size_t size = 0;
	int fd = open_snapshot(path, &size, err);
	if (fd < 0)
		return fd;
	uint8_t *data = NULL, *raw;
	size_t len = 0, raw_len;
	int rc = read_all(fd, size, &data, &len, err);
	close(fd);
	if (rc < 0)
		return rc;
	if (len == 0) {
		free(data);
		return set_why(err, -EINVAL, "empty file");
	}
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		rc = pprof_gunzip(data, len, UNCOMPRESSED_LIMIT, &raw, &raw_len, err);
		free(data);
		if (rc < 0)
			return rc;
		rc = decode_checked(raw, raw_len, out, err);
		free(raw);
		return rc;
	}
	rc = decode_checked(data, len, out, err);
	/* Plain pprof starts with its sample types; anything else that fails is junk. */
	if (rc == -EINVAL && data[0] != ((PROFILE_SAMPLE_TYPE << 3) | PB_LEN))
		set_why(err, rc, "not gzip or pprof (bad header)");
	free(data);
	return rc;
}
