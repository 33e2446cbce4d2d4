/* symbolize.h - turning frame addresses of the traced process into modules and lines.
 *
 * Frame addresses are resolved to modules (path, load bias, executable range) that the
 * caller registers from the shim's module table.  Modules are never forgotten, so
 * frames of a library that has since been dlclose'd, or of a process that has since
 * exited, still symbolize: lines come
 * from the module's file with elfutils libdw (DWARF lines and inlined frames, C++ names
 * demangled), or from its symbol table when it has no debug information.
 *
 * Each module's lookup structures (sorted symbols; per compilation unit, its line
 * table and scopes) are built once, on first need, and every address is answered by
 * binary search.  What a module with a build-id resolved is also kept on disk
 * (symcache.h) and reused by every later symbolizer, in this process or another.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "profile.h"

#define SYM_NO_MODULE UINT32_MAX

typedef struct symbolizer symbolizer_t;

/* Returns a symbolizer for process pid, or NULL when out of memory. */
symbolizer_t *symbolizer_new(pid_t pid);
void symbolizer_free(symbolizer_t *s);

/* Registers an executable segment [lo, hi) of the file at path, loaded with bias,
 * lo being at file offset `offset`.  Returns the module's index (one per path and
 * bias), or SYM_NO_MODULE when out of memory or the range is empty. */
uint32_t symbolizer_add_module(symbolizer_t *s, const char *path, uint64_t lo, uint64_t hi,
			       uint64_t bias, uint64_t offset);

/* The module holding ip, or SYM_NO_MODULE (anonymous memory, or not registered). */
uint32_t symbolizer_module_of(symbolizer_t *s, uint64_t ip);

/* Whether the process still maps the file with this inode (a memfd, say): 1 yes,
 * 0 no (it has other mappings: it has exec'd), or a negative errno when it has no
 * mappings left or none can be read (it is exiting, or gone). */
int symbolizer_maps_inode(symbolizer_t *s, uint64_t dev, uint64_t inode);

/* Adds the location of frame ip (a return address) in module m to p, with one line
 * per inlined function, and stores its index.  The module's mapping is added to p
 * once per profile through *mapping_cache (an array sized by symbolizer_modules(),
 * initialised to PROFILE_NONE).  Returns 0 or -ENOMEM. */
int symbolizer_add_location(symbolizer_t *s, profile_t *p, uint32_t m, uint64_t ip,
			    uint32_t *mapping_cache, uint32_t *index_out);

/* Adds the mapping of the process's executable to p before any other, as
 * profile.proto has the main binary first (pprof names the profile's file by it).
 * Nothing when no module is the executable.  Returns 0 or -ENOMEM. */
int symbolizer_add_main_mapping(symbolizer_t *s, profile_t *p, uint32_t *mapping_cache);

uint32_t symbolizer_modules(const symbolizer_t *s);

/* Bytes of memory the symbolizer holds (caches, module list). */
size_t symbolizer_memory(const symbolizer_t *s);

/* Writes the addresses symbolized since the last flush to the on-disk cache (see
 * symcache.h; symbolizer_free() does it too).  Returns 0, or the first negative errno
 * of a module that could not be stored; the cache is only ever an optimisation. */
int symbolizer_flush(symbolizer_t *s);

struct hs_cfi_entry; /* cfifile.h */

/* Keeps unwind rules the process learnt in its modules' rules files (cfifile.h,
 * symcache.h): rules[i] (its addr ignored) is the rule at return address ips[i] of the
 * process.  Rules of a module without a build-id, or of no module, are left out.
 * Returns 0, or the first negative errno of a file that could not be written. */
int symbolizer_store_rules(symbolizer_t *s, const uint64_t *ips,
			   const struct hs_cfi_entry *rules, size_t n);

struct symbolizer_stats {
	uint64_t cache_hits;     /* lookups answered from the on-disk cache (each time) */
	uint64_t lookups;        /* addresses symbolized from the module's files */
	uint64_t cache_rejected; /* on-disk entries found invalid and ignored */
	uint64_t cache_stores;   /* on-disk entries written */
};

void symbolizer_stats(const symbolizer_t *s, struct symbolizer_stats *out);
