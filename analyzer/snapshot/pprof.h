/* pprof.h - snapshot files: profiles as gzip-compressed pprof (profile.proto).
 *
 * The encoder writes exactly what profile_t holds: eight sample types (alloc, inuse,
 * peak and temporary, objects and space; default inuse_space), one Sample per profile sample with a
 * "domain" label when the domain is not 0 and a "truncated" label when its stack was
 * cut, Mappings, Locations with one Line per inlined frame, Functions, and the header
 * facts as "key=value" comments.  The decoder reads any pprof heap profile: it maps the
 * sample types it knows by name and ignores the rest; it trusts nothing (every length,
 * index and count is checked, and memory grows only with the input actually present).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* Why a read failed: a short lowercase phrase, e.g. "not gzip (bad magic)",
 * "truncated profile (varint at byte 1234)", "location index 7 out of range". */
typedef struct pprof_error {
	char why[256];
} pprof_error_t;

/* Encodes p as an uncompressed protobuf Profile into a malloc'd buffer.  Returns 0 and
 * sets *buf and *len, or returns -ENOMEM and leaves them untouched. */
int pprof_encode(const profile_t *p, uint8_t **buf, size_t *len);

/* Writes p gzip-compressed to fd (which stays open).  Returns 0 or a negative errno
 * (-ENOSPC, -EIO, ...); on failure the file content is unspecified. */
int pprof_write_fd(const profile_t *p, int fd);

/* Decodes an uncompressed protobuf Profile.  Returns 0 and sets *out to a new profile,
 * or returns -EINVAL (bad input, reason in err) / -EFBIG (its structures would take
 * more than 16 bytes of memory per input byte, plus 1 MiB: "profile too dense ...") /
 * -ENOMEM and leaves *out untouched. */
int pprof_decode(const uint8_t *buf, size_t len, profile_t **out, pprof_error_t *err);

/* Inflates gzip data (one or more concatenated members) into a malloc'd buffer of at
 * most limit bytes, and of at most 1 MiB plus 64 bytes per byte of input (a gzip bomb
 * stops there).  Returns 0 and sets *out and *out_len, or returns -EINVAL (reason in
 * err: "truncated gzip stream", "corrupt gzip stream (...)", "uncompressed size over
 * N GiB", "uncompressed size over 64 times the compressed size (a gzip bomb?)") /
 * -ENOMEM and leaves them untouched.  The output grows with the data actually
 * inflated, never with the size the gzip trailer claims. */
int pprof_gunzip(const uint8_t *in, size_t len, size_t limit, uint8_t **out, size_t *out_len,
		 pprof_error_t *err);

/* Reads a snapshot file: gzip-compressed (or plain) pprof.  Returns 0 and sets *out, or
 * a negative errno with the reason in err ("No such file or directory", "not a regular
 * file (a FIFO)", "not a pprof profile (...)").  It never blocks on a FIFO or device,
 * and refuses a file over 1 GiB, input over 4 GiB uncompressed or 64 times its
 * compressed size, and a profile whose decoded structures would take more than 16
 * bytes per byte of input (docs/security.md, "Reader limits"). */
int pprof_read_file(const char *path, profile_t **out, pprof_error_t *err);
