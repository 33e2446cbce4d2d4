/* gzwrite.h - writing bytes to a file as gzip (gzwrite.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Gzips the len bytes at buf to fd, a member for each GZIP_MEMBER bytes (pprof_format.h).
 * Returns 0, or a negative errno (-ENOMEM, a write's error). */
int gzip_write_fd(const uint8_t *buf, size_t len, int fd);
