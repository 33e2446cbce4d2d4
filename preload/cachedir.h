/* cachedir.h - where heapsnap's cache lives, found alike by the collector, which
 * keeps symbols and unwind rules there (analyzer/collect/symcache.c), and by the shim,
 * which reads the rules (cfistore.c).
 */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Whether HEAPSNAP_CACHE's value v (NULL: unset) turns the cache off. */
static inline bool hs_cache_off(const char *v)
{
	return v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no") ||
		     !strcmp(v, "false"));
}

/* The cache directory into out: <xdg>/heapsnap, else <home>/.cache/heapsnap, each
 * used only when absolute (xdg and home may be NULL).  Returns 0, -ENOENT when there
 * is neither, or -ENAMETOOLONG when the path does not fit len bytes. */
static inline int hs_cache_dir(char *out, size_t len, const char *xdg, const char *home)
{
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/heapsnap", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, len, "%s/.cache/heapsnap", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
