/* path.h - lexical normalization of absolute paths, for source file names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Copies the absolute path file into buf (n bytes) with "//", "." and ".." resolved
 * lexically (a ".." at the root stays there).  The result is never longer than file,
 * or "/" for it.  Returns false when it does not fit or file is not absolute. */
static inline bool path_normalize(const char *file, char *buf, size_t n)
{
	size_t o = 0;
	if (file[0] != '/' || n < 2)
		return false;
	for (const char *p = file; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && buf[--o] != '/')
				;
			p += len;
			continue;
		}
		if (o + 1 + len + 1 > n)
			return false;
		buf[o++] = '/';
		memcpy(buf + o, p, len);
		o += len;
		p += len;
	}
	if (o == 0)
		buf[o++] = '/';
	buf[o] = '\0';
	return true;
}
