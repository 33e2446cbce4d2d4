/* symcache.h - symbolized addresses kept on disk per module build-id, shared by every
 * collector of every run.
 *
 * One file per build-id, <build-id>.v<version>.sym, in $XDG_CACHE_HOME/heapsnap (else
 * ~/.cache/heapsnap), created 0700 and owned by the user, holding the frames
 * (function, file, line; inlined ones first) of each module address symbolized so far.
 * Files are written whole under a temporary name and renamed into place, so a reader
 * sees an old entry or a new one; two writers of one entry both succeed and the last
 * rename wins.  Files are read as untrusted input: a file that is not exactly what a
 * writer makes (magic, version, sizes, offsets, checksum) is ignored and replaced on
 * the next store.  The directory is kept under a total size (SYMCACHE_LIMIT by
 * default) by removing the least recently used entries.  HEAPSNAP_CACHE=off turns it
 * all off.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 2: source file names lexically normalized when absolute too (clang's "..").
 * 3: an address outside the unit libdw gives it (scopeidx_cu()) has no line of it.
 * 4: clang's functions defined inside a namespace's entry have their inlined calls.
 * 5: GCC's out-of-line lambdas named by their symbols.
 * 6: functions without a linkage name qualified by their scopes (scopeidx_qualified()). */
#define SYMCACHE_VERSION 6
/* An entry's file name is its build-id and this suffix, which holds the version: two
 * heapsnap builds of different versions on one machine each keep their entries, where
 * sharing one name made each replace the other's at every run (a traced cc1 took
 * 7.4 times its time, not 1.9). */
#define SYMCACHE_STR_(x) #x
#define SYMCACHE_STR(x) SYMCACHE_STR_(x)
#define SYMCACHE_SUFFIX ".v" SYMCACHE_STR(SYMCACHE_VERSION) ".sym"
#define SYMCACHE_LIMIT (256ull << 20)   /* bytes of entries kept in the directory */
#define SYMCACHE_ENTRY_MAX (64u << 20)  /* largest entry read or written */

typedef struct symcache symcache_t;
typedef struct symcache_table symcache_table_t;

struct symcache_frame {
	const char *function, *file; /* NULL when unknown */
	int64_t line;
};

struct symcache_record {
	uint64_t addr;                       /* module address (ELF virtual address) */
	uint32_t nframes;
	const struct symcache_frame *frames; /* innermost first */
};

/* Opens the cache directory, creating it (0700) when missing.  Returns NULL when the
 * cache is off (HEAPSNAP_CACHE=off), when no directory can be used (no home, not
 * ours, open to others), or when out of memory. */
symcache_t *symcache_open(void);
void symcache_close(symcache_t *c);

/* Sets the total size the directory is kept under. */
void symcache_set_limit(symcache_t *c, uint64_t bytes);

/* Reads build_id's entry (build_id: lowercase hex).  Returns 0 and the table in *out,
 * -ENOENT when there is none, -EBADMSG when the file is not a valid entry, or another
 * negative errno; *out is untouched on failure. */
int symcache_load(symcache_t *c, const char *build_id, symcache_table_t **out);
void symcache_table_free(symcache_table_t *t);

/* From now on this process keeps each table it loads and hands it out again, read-only,
 * for as long as its file is the same one (device, inode, size and modification time:
 * a store renames a new file in).  For heapsnap run's host, whose collectors load the
 * same entries image after image.  Tables are then freed by their last user. */
void symcache_share_tables(void);

/* Looks addr up.  Returns the number of frames stored into out (at most max; 0 for an
 * address known to have none), or -1 when the table does not hold addr.  Strings
 * belong to the table. */
int symcache_table_find(const symcache_table_t *t, uint64_t addr, struct symcache_frame *out,
			uint32_t max);

/* Bytes the table holds. */
size_t symcache_table_memory(const symcache_table_t *t);

/* Writes build_id's entry: recs (any order; an address given twice keeps the first)
 * together with what the entry on disk holds now, which another process may have
 * added to.  Then trims the directory to its limit.  Returns 0 or a negative errno. */
int symcache_store(symcache_t *c, const char *build_id, const struct symcache_record *recs,
		   size_t n);

struct hs_cfi_entry; /* cfifile.h */

/* Adds rules (module addresses, any order; reordered here) to build_id's unwind rules
 * file (cfifile.h), which shares the directory and its limit: entries the file holds
 * already stay as they are, and an invalid rule is left out.  The file is written only
 * when something was added.  Returns 0 or a negative errno. */
int symcache_store_rules(symcache_t *c, const char *build_id, struct hs_cfi_entry *rules,
			 size_t n);
