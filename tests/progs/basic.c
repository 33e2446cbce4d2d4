/* basic.c - known allocations at marked lines, with snapshots requested by raise().
 * The test finds each site marker's line in this file. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[1000];

int main(void)
{
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc(48); /* site:malloc48 */
	for (int i = 0; i < 1000; i += 2)
		free(keep[i]);
	void *z = calloc(10, 30); /* site:calloc300 */
	void *r = realloc(NULL, 100); /* site:realloc_a */
	r = realloc(r, 5000); /* site:realloc_b */
	void *al = NULL;
	if (posix_memalign(&al, 64, 640)) /* site:posix_memalign */
		return 1;
	void *aa = aligned_alloc(256, 512); /* site:aligned_alloc */
	void *ma = memalign(128, 128); /* site:memalign */
	raise(SIGUSR2); /* snapshot 1 */
	void *big = malloc(1 << 20); /* site:big */
	free(big);
	for (int i = 1; i < 1000; i += 4)
		free(keep[i]);
	raise(SIGUSR2); /* snapshot 2 */
	void *failed = malloc((size_t)1 << 62); /* site:huge */
	if (failed)
		return 1;
	free(realloc(z, 0));
	free(aa);
	free(ma);
	printf("basic done\n"); /* site:printf */
	(void)al;
	return 7;
}
