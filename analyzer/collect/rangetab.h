/* rangetab.h - the collector's live table of the mmap domain: address ranges.
 *
 * A mapping can be unmapped in part (a hole punched in its middle leaves two pieces),
 * replaced in part by a MAP_FIXED mapping, or moved by mremap, so the live table of
 * the mmap domain is an ordered set of disjoint ranges [start, start + len), each with
 * the stack that mapped it: a treap keyed by start, O(log n) per operation.  Every
 * change to a range is reported to a callback as (stack, bytes, pieces): bytes taken
 * away (negative), and the change in the number of live pieces (-1 when a range goes
 * entirely, +1 when one is split in two, 0 when one is trimmed).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct rnode;

typedef struct rangetab {
	struct rnode *root;
	uint64_t count;  /* live pieces */
	uint64_t bytes;  /* bytes they cover */
	uint64_t seed;   /* the treap's priorities */
} rangetab_t;

typedef void (*rangetab_change_fn)(void *arg, uint32_t stack, int64_t bytes, int64_t pieces);

void rangetab_init(rangetab_t *t);
void rangetab_free(rangetab_t *t);

/* Removes [start, start + len) from every range it overlaps, reporting each change.
 * Returns the bytes removed.  A piece that would be split in two when memory runs out
 * is trimmed to its lower part instead, and *lost_bytes (if not NULL) says how much of
 * it was dropped that way. */
uint64_t rangetab_unmap(rangetab_t *t, uint64_t start, uint64_t len, rangetab_change_fn fn,
			void *arg, uint64_t *lost_bytes);

/* Adds [start, start + len) for stack, after removing whatever it overlaps (reported
 * as by rangetab_unmap).  Returns 0, or -ENOMEM with the overlap removed but the new
 * range not added. */
int rangetab_map(rangetab_t *t, uint64_t start, uint64_t len, uint32_t stack,
		 rangetab_change_fn fn, void *arg);

/* The range holding addr: its start, length and stack; 0 when none does. */
int rangetab_find(const rangetab_t *t, uint64_t addr, uint64_t *start, uint64_t *len,
		  uint32_t *stack);

/* Bytes of memory the table holds. */
size_t rangetab_memory(const rangetab_t *t);
