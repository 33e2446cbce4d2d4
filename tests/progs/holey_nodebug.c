/* holey_nodebug.c - built without -g, linked between holey.cpp's main and its other
 * functions (see holey.cpp). */
#include <stdlib.h>

void *nodebug_alloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	return p;
}
