/* million.c - holds N live blocks (default 10^6), then reports its collector's RSS.
 * usage: million [N]; prints "live=N collector_rss=BYTES collector_base_rss=BYTES".
 * The base figure is read before the blocks are allocated. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether process name is heapsnap run's host of collectors with a thread "hs PID". */
static int hosts(const char *name, const char *pid)
{
	char path[600], comm[64], want[48];
	snprintf(path, sizeof(path), "/proc/%s/task", name);
	snprintf(want, sizeof(want), "hs %s\n", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;
	while (d && !found && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", name, e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		comm[n > 0 ? n : 0] = '\0';
		found = !strcmp(comm, want);
	}
	if (d)
		closedir(d);
	return found;
}

/* VmRSS in bytes of the heapsnap collector tracing this process (under heapsnap run,
 * of the host whose thread collects it), or -1. */
static long collector_rss(void)
{
	char want[32];
	snprintf(want, sizeof(want), "%d", (int)getpid());
	DIR *d = opendir("/proc");
	struct dirent *e;
	long rss = -1;
	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		const char *sub = buf + strlen(buf) + 1;
		if (sub >= buf + n || strcmp(sub, "collect"))
			continue;
		const char *arg = sub + strlen(sub) + 1;
		int found = arg < buf + n && !strcmp(arg, "--host-fd") && hosts(e->d_name, want);
		for (const char *p = buf; p < buf + n; p += strlen(p) + 1)
			if (!strcmp(p, "--pid") && p + strlen(p) + 1 < buf + n &&
			    !strcmp(p + strlen(p) + 1, want))
				found = 1;
		if (!found)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
		FILE *f = fopen(path, "r");
		char line[256];
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "VmRSS:", 6))
				rss = atol(line + 6) * 1024;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return rss;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	void **keep = malloc((size_t)n * sizeof(*keep)); /* site:array */
	sleep(1);
	long base = collector_rss();
	for (long i = 0; i < n; i++)
		keep[i] = malloc(16 + (size_t)(i % 4) * 16); /* site:blocks */
	/* Give the collector time to drain the ring. */
	sleep(2);
	printf("live=%ld collector_rss=%ld collector_base_rss=%ld\n", n, collector_rss(), base);
	return 0;
}
