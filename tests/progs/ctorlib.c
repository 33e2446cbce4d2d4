/* ctorlib.c - a library whose constructor allocates, as libselinux's does in most of
 * coreutils: ld.so calls it from _dl_start_user, code that Debian 12's ld.so gives no
 * CFI, before the program's main.  Its block is kept; ctormain prints its size. */
#include <stdlib.h>

void *ctorlib_block;

__attribute__((constructor)) static void ctorlib_start(void)
{
	ctorlib_block = malloc(777); /* site:in_constructor */
}
