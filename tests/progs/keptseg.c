/* keptseg.c - the segments heapsnap run's host keeps for the next image (segpool.h).
 *
 *   keptseg            allocates known blocks, then prints the inode of its own segment
 *   keptseg fake CMD.. fills run's pool slots with links to a forged segment: the size
 *                      and seals of a real one, but not the kept magic.  Runs CMD,
 *                      then prints "intact" or "changed" (the forged segment's bytes)
 *                      and how many of the links were claimed.
 * The test finds each site marker's line in this file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[100];

/* The inode and size of this process's heapsnap segment, from its memory map. */
static int own_segment(unsigned long *inode, unsigned long *size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:heapsnap")) {
			unsigned long lo, hi;
			if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, inode) == 3) {
				*size = hi - lo;
				found = 1;
			}
			break;
		}
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

#define PATTERN 0x5a5a5a5a12345678ull
#define SLOTS 8

static int fake(char **cmd)
{
	unsigned long inode, size;
	const char *sock = getenv("HEAPSNAP_RUN_SOCKET");
	const char *slash = sock ? strrchr(sock, '/') : NULL;
	if (!slash || own_segment(&inode, &size) < 0)
		return 2;
	int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		return 2;
	uint64_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 2;
	p[0] = PATTERN;
	p[1] = PATTERN;
	char target[64], link[512];
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), fd);
	for (int i = 0; i < SLOTS; i++) {
		snprintf(link, sizeof(link), "%.*s/pool.%d", (int)(slash - sock), sock, i);
		if (symlink(target, link) < 0)
			return 2;
	}
	pid_t child = fork();
	if (child == 0) {
		execv(cmd[0], cmd);
		_exit(127);
	}
	int st;
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		return 2;
	/* A link claimed is gone, or is the host's by now: it keeps ended images'
	 * segments in the slots that are free. */
	int claimed = 0;
	for (int i = 0; i < SLOTS; i++) {
		char now[64];
		snprintf(link, sizeof(link), "%.*s/pool.%d", (int)(slash - sock), sock, i);
		ssize_t n = readlink(link, now, sizeof(now) - 1);
		if (n >= 0)
			now[n] = '\0';
		if (n < 0 || strcmp(now, target))
			claimed++;
		else
			unlink(link);
	}
	int intact = p[0] == PATTERN && p[1] == PATTERN;
	for (size_t i = 2; intact && i < 4096 / sizeof(*p); i++)
		intact = p[i] == 0;
	printf("%s %d\n", intact ? "intact" : "changed", claimed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "fake"))
		return fake(argv + 2);
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(300); /* site:kept300 */
	for (int i = 0; i < 100; i += 2)
		free(keep[i]);
	unsigned long inode, size;
	if (own_segment(&inode, &size) < 0)
		return 2;
	printf("%lu\n", inode);
	return 0;
}
