/* mapper.c - anonymous mappings made, trimmed, split, moved and replaced by several
 * threads at once; test-trace.c checks the mmap domain line by line. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 8
#define CHURN 200
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define MOVE_KEEP (MREMAP_MAYMOVE | MREMAP_DONTUNMAP)

static long pg;

static char *must(void *p)
{
	if (p == MAP_FAILED) {
		perror("mapper");
		exit(1);
	}
	return p;
}

static void *work(void *arg)
{
	int fd = *(int *)arg;
	must(mmap(NULL, 10 * pg, RW, ANON, -1, 0)); /* site:keep */

	char *hole = must(mmap(NULL, 8 * pg, RW, ANON, -1, 0)); /* site:hole */
	munmap(hole + 3 * pg, 2 * pg);

	char *grow = must(mmap(NULL, 4 * pg, RW, ANON, -1, 0)); /* site:grow_from */
	must(mremap(grow, 4 * pg, 12 * pg, MREMAP_MAYMOVE)); /* site:grow_to */

	char *shrink = must(mmap(NULL, 6 * pg, RW, ANON, -1, 0)); /* site:shrink_from */
	must(mremap(shrink, 6 * pg, 2 * pg, 0)); /* site:shrink_to */

	/* Moved with MREMAP_DONTUNMAP: the old range stays mapped, the pages go to a new
	 * one; and a second mapping of a shared mapping's pages (old size 0): both stay. */
	char *dont = must(mmap(NULL, 3 * pg, RW, ANON, -1, 0)); /* site:dontunmap_from */
	must(mremap(dont, 3 * pg, 3 * pg, MOVE_KEEP, NULL)); /* site:dontunmap_to */
	char *shared = must(mmap(NULL, 2 * pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0)); /* site:shared */
	must(mremap(shared, 0, 2 * pg, MREMAP_MAYMOVE)); /* site:shared_again */

	/* A reservation is not memory; what is committed inside it by MAP_FIXED is. */
	char *res = must(mmap(NULL, 16 * pg, PROT_NONE, ANON, -1, 0));
	must(mmap(res + 4 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0)); /* site:commit */

	/* A file mapping placed over the middle of an anonymous one replaces that part. */
	char *fix = must(mmap(NULL, 6 * pg, RW, ANON, -1, 0)); /* site:filefix */
	must(mmap(fix + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0));

	/* File mappings are not heap, resized or not. */
	char *file = must(mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0));
	must(mremap(file, 2 * pg, pg, 0));

	for (int i = 0; i < CHURN; i++) {
		char *c = must(mmap(NULL, pg, RW, ANON, -1, 0)); /* site:churn */
		c[0] = 1;
		munmap(c, pg);
	}

	must(mmap(NULL, pg + 904, RW, ANON, -1, 0)); /* site:odd */
	if (mmap(NULL, 0, RW, ANON, -1, 0) != MAP_FAILED) /* fails: not recorded */
		exit(2);
	void *heap = malloc(100); /* site:heap */
	(void)heap;
	return NULL;
}

int main(int argc, char **argv)
{
	(void)argc;
	pg = sysconf(_SC_PAGESIZE);
	int fd = open(argv[0], O_RDONLY);
	if (fd < 0) {
		perror(argv[0]);
		return 1;
	}
	/* MREMAP_DONTUNMAP reads new_addr as a hint: say whether it was taken. */
	char *a = must(mmap(NULL, pg, RW, ANON, -1, 0)); /* site:hint_from */
	char *hint = must(mmap(NULL, 4 * pg, PROT_NONE, ANON, -1, 0));
	munmap(hint, 4 * pg);
	char *b = must(mremap(a, pg, pg, MOVE_KEEP, hint)); /* site:hint_to */
	printf("hint %s\n", b == hint ? "taken" : "not taken");
	munmap(a, pg);
	munmap(b, pg);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, work, &fd);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("mapped\n");
	return 0;
}
