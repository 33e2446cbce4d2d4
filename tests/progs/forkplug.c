/* forkplug.c - forkplug LIB1 LIB2: a library that allocated is unloaded, a second is
 * loaded at the same address and not called, and a forked child allocates through the
 * second.  A child starts its module table from its parent's: the first library's
 * entry must not cover the second's frames.  Prints "same base yes|no", then the two
 * pids. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *base_of(void *fn)
{
	Dl_info info;
	return dladdr(fn, &info) ? info.dli_fbase : NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: forkplug LIB1 LIB2\n");
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW);
	void *(*one)(void) = h ? (void *(*)(void))dlsym(h, "plugin_alloc") : NULL;
	if (!one) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	void *first = base_of((void *)one);
	free(one());
	dlclose(h);
	void *h2 = dlopen(argv[2], RTLD_NOW);
	void *(*two)(void) = h2 ? (void *(*)(void))dlsym(h2, "plugin2_alloc") : NULL;
	if (!two) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	printf("same base %s\n", base_of((void *)two) == first ? "yes" : "no");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		void *p = two();
		printf("child %d\n", (int)getpid());
		(void)p;
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("parent %d\n", (int)getpid());
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
