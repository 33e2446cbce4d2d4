/* idxtab.h - the analyzer's one open-addressing hash table.
 *
 * An idxtab maps keys to indices 0..n-1 of an array its user keeps (frames, groups,
 * ids, ...): the table never sees a key.  Slots hold index + 1 (0 is empty); their
 * number is a power of two, at least twice the indices held, and collisions probe
 * linearly.  The user hashes a key itself and, to look one up, passes a test "does
 * index i hold this key"; to grow, a function giving the hash of index i.  Indices
 * are never removed.  addrtab.h, which removes, is the one table that is not this.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"

typedef struct idxtab {
	uint32_t *slots; /* index + 1, or 0 when empty */
	size_t mask;     /* number of slots - 1 */
} idxtab_t;

static inline void idxtab_free(idxtab_t *t)
{
	free(t->slots);
	*t = (idxtab_t){ 0 };
}

/* Returns the slot of the key hashed h: the one holding it (its index is *slot - 1),
 * or the empty one where it would go (*slot == 0; store index + 1 there to add it).
 * eq(ctx, i) tells whether index i holds the key.  The table must have slots. */
static inline uint32_t *idxtab_probe(const idxtab_t *t, uint64_t h,
				     bool (*eq)(const void *ctx, uint32_t i), const void *ctx)
{
	size_t i = h & t->mask;
	while (t->slots[i] && !eq(ctx, t->slots[i] - 1))
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

/* Makes room for indices 0..need-1 while at most half full; the table holds 0..n-1
 * now, and hash(ctx, i) gives the hash of index i for moving them.  Returns 0, or
 * -ENOMEM with the table untouched. */
static inline int idxtab_reserve(idxtab_t *t, size_t need, size_t n,
				 uint64_t (*hash)(const void *ctx, uint32_t i), const void *ctx)
{
	size_t nslots = t->slots ? t->mask + 1 : 16;
	if (t->slots && need <= nslots / 2)
		return 0;
	while (nslots / 2 < need) {
		if (nslots > SIZE_MAX / 2 / sizeof(uint32_t))
			return -ENOMEM;
		nslots *= 2;
	}
	uint32_t *slots = mem_calloc(nslots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t id = 0; id < n; id++) {
		size_t i = hash(ctx, (uint32_t)id) & (nslots - 1);
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)id + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = nslots - 1;
	return 0;
}
