/* fds.c - allocates, then lists its open fds as "FD FLAGS" (octal, from fdinfo). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	for (int i = 0; i < 1000; i++)
		free(malloc(16 + (size_t)i)); /* site:fds */
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		char path[64], line[128];
		unsigned flags = 0;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			sscanf(line, "flags: %o", &flags);
		if (f)
			fclose(f);
		printf("%d %o\n", fd, flags);
	}
	if (d)
		closedir(d);
	return 0;
}
