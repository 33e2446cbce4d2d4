/* snapfile.h - writing snapshot files so they appear whole or not at all. */
#pragma once

#include <stddef.h>

#include "profile.h"

/* Writes p gzip-compressed as DIR/BASE.pb.gz.  The file appears atomically (written
 * unnamed or under a temporary name, then linked in), with mode 0600 unless the umask
 * is stricter.  An existing file or symlink of that name is never followed or
 * replaced: BASE-2.pb.gz, BASE-3.pb.gz ... are tried instead.  Returns 0 with the final
 * path in path_out, or a negative errno, leaving no file behind. */
int snapfile_write(const profile_t *p, const char *dir, const char *base, char *path_out,
		   size_t path_len);
