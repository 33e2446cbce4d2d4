/* buildid.h - an ELF file's GNU build-id, without libelf or libdwfl.
 *
 * The symbolizer keys its on-disk cache by build-id (symcache.h).  Finding it through
 * libdwfl maps the whole file and reads its section headers; with a warm cache most
 * modules need nothing else, so the id is read here instead, from the file's PT_NOTE
 * segments with pread: a few hundred bytes.  The file is untrusted: every size and
 * offset is checked, and a malformed note segment is skipped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Writes the build-id of the 64-bit little-endian ELF file open on fd into hex, as
 * lowercase hex digits, NUL-terminated.  Returns 0, -ENOENT (no well-formed build-id
 * note that fits in hexlen), -EINVAL (not such an ELF file) or -ENOMEM. */
int buildid_read(int fd, char *hex, size_t hexlen);
