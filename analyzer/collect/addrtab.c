/* addrtab.c - the collector's live table (see addrtab.h). */
#include "addrtab.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <uthash.h>

#include "mem.h"

#define INITIAL_BITS 8

struct big_size {
	uint64_t addr;
	uint64_t size;
	UT_hash_handle hh;
};

static inline uint64_t slot_of(const addrtab_t *t, uint64_t addr)
{
	/* Blocks are at least 16-byte aligned: the low bits carry nothing. */
	return ((addr >> 4) * 0x9e3779b97f4a7c15ull >> 20) & t->mask;
}

/* Tables below this come from malloc, where a host of collectors (hosted.h) reuses
 * them from one image to the next; larger ones are mapped, and their pages given back
 * the moment they are freed. */
#define MAPPED_TABLE (1u << 20)

static struct addrtab_slot *slots_new(uint64_t n)
{
	size_t bytes = n * sizeof(struct addrtab_slot);
	if (bytes < MAPPED_TABLE)
		return mem_calloc(n, sizeof(struct addrtab_slot));
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void slots_free(struct addrtab_slot *slots, uint64_t n)
{
	size_t bytes = n * sizeof(struct addrtab_slot);
	if (bytes < MAPPED_TABLE)
		free(slots);
	else
		munmap(slots, bytes);
}

int addrtab_init(addrtab_t *t)
{
	*t = (addrtab_t){ 0 };
	t->slots = slots_new(1u << INITIAL_BITS);
	if (!t->slots)
		return -ENOMEM;
	t->mask = (1u << INITIAL_BITS) - 1;
	return 0;
}

void addrtab_free(addrtab_t *t)
{
	struct big_size *b, *tmp;
	HASH_ITER(hh, t->big, b, tmp) {
		HASH_DEL(t->big, b);
		free(b);
	}
	if (t->slots)
		slots_free(t->slots, t->mask + 1);
	*t = (addrtab_t){ 0 };
}

static void place(addrtab_t *t, struct addrtab_slot s)
{
	uint64_t i = slot_of(t, s.addr);
	while (t->slots[i].addr)
		i = (i + 1) & t->mask;
	t->slots[i] = s;
}

static int grow(addrtab_t *t)
{
	uint64_t old_cap = t->mask + 1;
	struct addrtab_slot *old = t->slots, *n = slots_new(old_cap * 2);
	if (!n)
		return -ENOMEM;
	t->slots = n;
	t->mask = old_cap * 2 - 1;
	for (uint64_t i = 0; i < old_cap; i++)
		if (old[i].addr)
			place(t, old[i]);
	slots_free(old, old_cap);
	return 0;
}

static uint64_t big_take(addrtab_t *t, uint64_t addr)
{
	struct big_size *b;
	HASH_FIND(hh, t->big, &addr, sizeof(addr), b);
	if (!b)
		return 0;
	uint64_t size = b->size;
	HASH_DEL(t->big, b);
	free(b);
	return size;
}

bool addrtab_put(addrtab_t *t, uint64_t addr, uint64_t size, uint32_t stack,
		 uint64_t *old_size, uint32_t *old_stack, int *err)
{
	*err = 0;
	if ((t->count + 1) * 4 > (t->mask + 1) * 3 && (*err = grow(t)) < 0)
		return false;
	struct big_size *b = NULL;
	if (size >= ADDRTAB_BIG) {
		b = malloc(sizeof(*b));
		if (!b) {
			*err = -ENOMEM;
			return false;
		}
		b->addr = addr;
		b->size = size;
	}
	uint64_t i = slot_of(t, addr);
	while (t->slots[i].addr && t->slots[i].addr != addr)
		i = (i + 1) & t->mask;
	struct addrtab_slot *s = &t->slots[i];
	bool replaced = s->addr == addr;
	if (replaced) {
		*old_size = s->size == ADDRTAB_BIG ? big_take(t, addr) : s->size;
		*old_stack = s->stack;
	} else {
		t->count++;
	}
	*s = (struct addrtab_slot){
		.addr = addr, .size = b ? ADDRTAB_BIG : (uint32_t)size, .stack = stack,
	};
	if (b)
		HASH_ADD(hh, t->big, addr, sizeof(b->addr), b);
	return replaced;
}

bool addrtab_take(addrtab_t *t, uint64_t addr, uint64_t *size, uint32_t *stack)
{
	if (!addr)
		return false;
	uint64_t i = slot_of(t, addr);
	while (t->slots[i].addr != addr) {
		if (!t->slots[i].addr)
			return false;
		i = (i + 1) & t->mask;
	}
	*size = t->slots[i].size == ADDRTAB_BIG ? big_take(t, addr) : t->slots[i].size;
	*stack = t->slots[i].stack;
	/* Backward-shift: pull later entries of the probe run into the hole. */
	uint64_t hole = i;
	for (uint64_t j = (i + 1) & t->mask; t->slots[j].addr; j = (j + 1) & t->mask) {
		uint64_t home = slot_of(t, t->slots[j].addr);
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	t->slots[hole] = (struct addrtab_slot){ 0 };
	t->count--;
	return true;
}

size_t addrtab_memory(const addrtab_t *t)
{
	return (t->mask + 1) * sizeof(struct addrtab_slot) +
	       HASH_COUNT(t->big) * (sizeof(struct big_size) + 32);
}
