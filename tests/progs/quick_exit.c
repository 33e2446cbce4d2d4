/* quick_exit.c - leaves with _exit(5): no atexit handlers, no destructors. */
#include <stdlib.h>
#include <unistd.h>

static void *keep[4];

int main(void)
{
	keep[0] = malloc(123); /* site:before_exit */
	_exit(5);
}
