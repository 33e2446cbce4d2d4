/* pool.c - a pool allocator that reports its objects with heapsnap_track(). */
#include <heapsnap.h>
#include <stdio.h>
#include <stdlib.h>

#define OBJECTS 64
#define SIZE 48

struct pool {
	char *arena;
	void *free_list[OBJECTS];
	int nfree;
};

static void pool_init(struct pool *p)
{
	p->arena = malloc(OBJECTS * SIZE); /* site:arena */
	for (int i = 0; i < OBJECTS; i++)
		p->free_list[i] = p->arena + (OBJECTS - 1 - i) * SIZE;
	p->nfree = OBJECTS;
}

__attribute__((noinline)) static void *pool_get(struct pool *p)
{
	void *obj = p->free_list[--p->nfree];
	heapsnap_track(7, obj, SIZE); /* site:track */
	return obj;
}

__attribute__((noinline)) static void pool_put(struct pool *p, void *obj)
{
	heapsnap_untrack(7, obj);
	p->free_list[p->nfree++] = obj;
}

int main(void)
{
	static struct pool pool;
	void *a[6], *b[4];
	pool_init(&pool);
	for (int i = 0; i < 6; i++)
		a[i] = pool_get(&pool); /* site:caller_a */
	for (int i = 0; i < 4; i++)
		b[i] = pool_get(&pool); /* site:caller_b */
	for (int i = 0; i < 3; i++)
		pool_put(&pool, a[i]);
	printf("domain 0 refused: %d\n", heapsnap_track(0, a[3], 1));
	printf("pool done\n");
	(void)b;
	return 0;
}
