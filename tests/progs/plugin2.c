/* plugin2.c - a library forkplug loads where libplugin was. */
#include <stdlib.h>

void *plugin2_alloc(void)
{
	return malloc(654); /* site:plugin2 */
}
