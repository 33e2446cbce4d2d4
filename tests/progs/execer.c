/* execer.c - allocates, then execs itself: the new image is traced afresh.
 * usage: execer [again] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[8];

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "again")) {
		keep[0] = malloc(700); /* site:after_exec */
		printf("second image %d\n", (int)getpid());
		return 0;
	}
	keep[0] = malloc(300); /* site:before_exec */
	printf("first image %d\n", (int)getpid());
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "again", (char *)NULL);
	perror("execl");
	return 1;
}
