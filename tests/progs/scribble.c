/* scribble.c - a hostile program: while it allocates, it overwrites the ring, the
 * stack table and the learnt unwind rules of its own heapsnap segment with random
 * bytes.  Neither it nor the
 * collector may crash or hang; the collector counts what it rejects.
 *
 * `scribble claimed`: marks every slot of the stack table's first level claimed, as a
 * writer that died before filling its slot leaves one (a _Fork child killed at that
 * moment), then allocates from three new call sites, whose stacks must be interned
 * without waiting for those slots for ever. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmlayout.h"

/* The heapsnap segment's mapping in this process, from /proc/self/maps. */
static struct hs_ctl *find_segment(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:heapsnap") && sscanf(line, "%lx-", &lo) == 1)
			break;
	if (f)
		fclose(f);
	return (struct hs_ctl *)lo;
}

/* Writes 64 random runs of 64 random bytes over a table of the segment, both parts
 * taken as one. */
static void scribble(char *base, const struct hs_table *t, uint64_t size, unsigned *x)
{
	uint64_t len = t->cap * size, head = t->head_cap * size;
	for (int i = 0; i < 64 && len > 64; i++) {
		*x = *x * 1103515245u + 12345u;
		uint64_t at = ((uint64_t)*x << 16 ^ *x) % (len - 64);
		for (uint64_t k = at; k < at + 64; k++) {
			*x = *x * 1103515245u + 12345u;
			base[k < head ? t->head_off + k : t->tail_off + (k - head)] = (char)(*x >> 16);
		}
	}
}

static void *__attribute__((noinline)) one(void)
{
	return malloc(101); /* site:claimed_one */
}

static void *__attribute__((noinline)) two(void)
{
	return malloc(202); /* site:claimed_two */
}

static int claimed(struct hs_ctl *c)
{
	struct hs_slot *slots = (struct hs_slot *)((char *)c + c->layout.slots.head_off);
	uint64_t n = c->layout.slots.head_cap < HS_SLOTS_LEVEL0 ? c->layout.slots.head_cap
								: HS_SLOTS_LEVEL0;
	for (uint64_t i = 0; i < n; i++)
		atomic_store(&slots[i].hash, HS_SLOT_BUSY);
	void *a = one(), *b = two(), *d = malloc(303); /* site:claimed_three */
	printf("passed %lu claimed slots\n", (unsigned long)n);
	free(a);
	free(b);
	free(d);
	return 0;
}

int main(int argc, char **argv)
{
	static void *keep[4096];
	for (int i = 0; i < 4096; i++)
		keep[i] = malloc(32); /* site:before */
	struct hs_ctl *c = find_segment();
	if (!c || c->magic != HS_SHM_MAGIC) {
		printf("no heapsnap segment\n");
		return 0;
	}
	/* Let the collector consume everything so far: the allocations above are exact. */
	for (int i = 0; i < 2000 && atomic_load(&c->tail) < atomic_load(&c->head); i++)
		usleep(1000);
	if (argc > 1 && !strcmp(argv[1], "claimed"))
		return claimed(c);
	/* Read the layout once, before any scribbling. */
	char *base = (char *)c;
	const struct hs_layout *l = &c->layout;
	/* The ring as a table of one part. */
	const struct hs_table ring = { .head_off = l->ring_off, .head_cap = l->ring_cap,
				       .cap = l->ring_cap };
	const struct hs_table t[] = { ring, l->slots, l->stacks, l->frames, l->learnt };
	const uint64_t size[] = { sizeof(struct hs_rec), sizeof(struct hs_slot),
				  sizeof(struct hs_stack), sizeof(uint64_t),
				  sizeof(struct hs_learnt) };
	unsigned x = 12345;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 5; i++)
			scribble(base, &t[i], size[i], &x);
		for (int i = 0; i < 1000; i++) {
			unsigned k = (unsigned)(round * 1000 + i) % 4096;
			free(keep[k]);
			keep[k] = malloc(16 + (size_t)(i % 300)); /* site:during */
		}
	}
	printf("scribbled 200 rounds\n");
	return 0;
}
