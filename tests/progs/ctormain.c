/* ctormain.c - linked with libctorlib.so, whose constructor allocates before main
 * runs (see ctorlib.c).  Prints whether that block is there, then allocates 55 bytes
 * of its own. */
#include <stdio.h>
#include <stdlib.h>

extern void *ctorlib_block;

int main(void)
{
	void *volatile mine = malloc(55); /* site:in_main */
	printf("constructor's block %s\n", ctorlib_block ? "there" : "missing");
	free(mine);
	return 0;
}
