/* rangetab.c - ordered disjoint ranges in a treap (see rangetab.h).
 *
 * split() and merge() are the only two tree operations: unmapping [a, b) splits the
 * tree into the ranges starting below a, those starting in [a, b) and those starting
 * at b or above; the middle part goes (but for the tail of its last range beyond b),
 * the highest range below a is trimmed (or split, when it spans all of [a, b)), and
 * the rest is merged back.  Expected depth is O(log n) whatever the order of inserts.
 */
#include "rangetab.h"

#include <errno.h>
#include <stdlib.h>

struct rnode {
	uint64_t start, len;
	uint32_t stack;
	uint32_t prio;
	struct rnode *left, *right;
};

void rangetab_init(rangetab_t *t)
{
	t->root = NULL;
	t->count = 0;
	t->bytes = 0;
	t->seed = 0x9e3779b97f4a7c15ull;
}

static void free_tree(struct rnode *n)
{
	while (n) {
		free_tree(n->left);
		struct rnode *right = n->right;
		free(n);
		n = right;
	}
}

void rangetab_free(rangetab_t *t)
{
	free_tree(t->root);
	rangetab_init(t);
}

static uint32_t next_prio(rangetab_t *t)
{
	uint64_t x = t->seed; /* xorshift64 */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->seed = x;
	return (uint32_t)(x >> 32);
}

/* Splits n into *lo (starts below key) and *hi (starts at key or above). */
static void split(struct rnode *n, uint64_t key, struct rnode **lo, struct rnode **hi)
{
	if (!n) {
		*lo = *hi = NULL;
	} else if (n->start < key) {
		split(n->right, key, &n->right, hi);
		*lo = n;
	} else {
		split(n->left, key, lo, &n->left);
		*hi = n;
	}
}

/* Joins two trees, every start in lo below every start in hi. */
static struct rnode *merge(struct rnode *lo, struct rnode *hi)
{
	if (!lo)
		return hi;
	if (!hi)
		return lo;
	if (lo->prio > hi->prio) {
		lo->right = merge(lo->right, hi);
		return lo;
	}
	hi->left = merge(lo, hi->left);
	return hi;
}

static struct rnode *new_node(rangetab_t *t, uint64_t start, uint64_t len, uint32_t stack)
{
	struct rnode *n = calloc(1, sizeof(*n));
	if (n) {
		n->start = start;
		n->len = len;
		n->stack = stack;
		n->prio = next_prio(t);
	}
	return n;
}

struct removal {
	rangetab_t *t;
	rangetab_change_fn fn;
	void *arg;
	uint64_t removed;
};

static void take(struct removal *r, uint32_t stack, uint64_t bytes, int64_t pieces)
{
	r->removed += bytes;
	r->t->bytes -= bytes;
	r->t->count += pieces;
	r->fn(r->arg, stack, -(int64_t)bytes, pieces);
}

/* Removes every range of the tree n, all starting in [a, b); returns the one extending
 * past b, moved to start at b, or NULL. */
static struct rnode *remove_all(struct removal *r, struct rnode *n, uint64_t b)
{
	struct rnode *tail = NULL;
	while (n) {
		struct rnode *t = remove_all(r, n->left, b);
		if (t)
			tail = t;
		struct rnode *right = n->right;
		uint64_t end = n->start + n->len;
		if (end > b) {
			take(r, n->stack, b - n->start, 0);
			n->start = b;
			n->len = end - b;
			n->left = n->right = NULL;
			tail = n;
		} else {
			take(r, n->stack, n->len, -1);
			free(n);
		}
		n = right;
	}
	return tail;
}

uint64_t rangetab_unmap(rangetab_t *t, uint64_t start, uint64_t len, rangetab_change_fn fn,
			void *arg, uint64_t *lost_bytes)
{
	if (lost_bytes)
		*lost_bytes = 0;
	if (!len || !t->root)
		return 0;
	uint64_t a = start, b = start + len < start ? UINT64_MAX : start + len;
	struct removal r = { .t = t, .fn = fn, .arg = arg };
	struct rnode *lo, *mid, *hi;
	split(t->root, a, &lo, &mid);
	split(mid, b, &mid, &hi);
	/* The highest range below a may reach into [a, b). */
	struct rnode *below = lo;
	while (below && below->right)
		below = below->right;
	if (below && below->start + below->len > a) {
		uint64_t end = below->start + below->len;
		if (end > b) {
			struct rnode *rest = new_node(t, b, end - b, below->stack);
			below->len = a - below->start;
			if (rest) {
				take(&r, below->stack, b - a, 1);
				hi = merge(rest, hi);
			} else {
				take(&r, below->stack, end - a, 0);
				if (lost_bytes)
					*lost_bytes = end - b;
			}
		} else {
			below->len = a - below->start;
			take(&r, below->stack, end - a, 0);
		}
	}
	struct rnode *tail = remove_all(&r, mid, b);
	if (tail)
		hi = merge(tail, hi);
	t->root = merge(lo, hi);
	return r.removed;
}

int rangetab_map(rangetab_t *t, uint64_t start, uint64_t len, uint32_t stack,
		 rangetab_change_fn fn, void *arg)
{
	rangetab_unmap(t, start, len, fn, arg, NULL);
	if (!len)
		return 0;
	struct rnode *n = new_node(t, start, len, stack);
	if (!n)
		return -ENOMEM;
	struct rnode *lo, *hi;
	split(t->root, start, &lo, &hi);
	t->root = merge(merge(lo, n), hi);
	t->count++;
	t->bytes += len;
	return 0;
}

int rangetab_find(const rangetab_t *t, uint64_t addr, uint64_t *start, uint64_t *len,
		  uint32_t *stack)
{
	const struct rnode *n = t->root, *best = NULL;
	while (n) {
		if (n->start <= addr) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	if (!best || addr - best->start >= best->len)
		return 0;
	*start = best->start;
	*len = best->len;
	*stack = best->stack;
	return 1;
}

size_t rangetab_memory(const rangetab_t *t)
{
	return t->count * (sizeof(struct rnode) + 16);
}
