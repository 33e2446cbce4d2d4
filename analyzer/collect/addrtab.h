/* addrtab.h - the collector's live table: block address -> (size, stack).
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones), 16
 * bytes a slot, grown at 3/4 load: about 32 bytes per live block at a million blocks,
 * where a uthash entry would take 70 or more.  Sizes of 4 GiB and over live in a small
 * side table.  Address 0 is never a key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct addrtab_slot {
	uint64_t addr;  /* 0: empty */
	uint32_t size;  /* ADDRTAB_BIG: the real size is in the side table */
	uint32_t stack;
};

typedef struct addrtab {
	struct addrtab_slot *slots;
	uint64_t mask;   /* capacity - 1 */
	uint64_t count;
	struct big_size *big;
} addrtab_t;

#define ADDRTAB_BIG UINT32_MAX

/* Returns 0 or -ENOMEM. */
int addrtab_init(addrtab_t *t);
void addrtab_free(addrtab_t *t);

/* Inserts addr.  When addr is already live, its old entry is replaced and returned in
 * *old_size and *old_stack with true; otherwise returns false.  On -ENOMEM (as *err)
 * nothing changes. */
bool addrtab_put(addrtab_t *t, uint64_t addr, uint64_t size, uint32_t stack,
		 uint64_t *old_size, uint32_t *old_stack, int *err);

/* Removes addr, returning its size and stack; false when it is not live. */
bool addrtab_take(addrtab_t *t, uint64_t addr, uint64_t *size, uint32_t *stack);

/* Bytes of memory the table holds. */
size_t addrtab_memory(const addrtab_t *t);
