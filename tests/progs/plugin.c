/* plugin.c - a library the awkward test dlopens, calls, and dlcloses. */
#include <stdlib.h>

void *plugin_alloc(void)
{
	return malloc(321); /* site:plugin */
}
