/* forklocked.c - fork while another thread holds the loader's lock.
 *
 * A thread stays inside dl_iterate_phdr (whose lock glibc does not reset in a forked
 * child) while the main thread forks; the child then allocates through a library the
 * parent loaded but never allocated through (argv[1], libplugin.so): natively that
 * takes no lock.  The parent waits up to 10 s for the child, then lets the thread go.
 * Prints "child 0" when the child ended with status 0, "child hung" otherwise.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int holding[2], release_it[2];

static int hold(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)info, (void)size, (void)data;
	char c = 1;
	if (write(holding[1], &c, 1) != 1 || read(release_it[0], &c, 1) != 1)
		exit(3);
	return 1; /* once is enough */
}

static void *holder(void *arg)
{
	(void)arg;
	dl_iterate_phdr(hold, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	void *h = argc > 1 ? dlopen(argv[1], RTLD_NOW) : NULL;
	void *(*plugin_alloc)(void) = h ? (void *(*)(void))dlsym(h, "plugin_alloc") : NULL;
	if (!plugin_alloc || pipe(holding) || pipe(release_it))
		return 2;
	pthread_t t;
	char c;
	if (pthread_create(&t, NULL, holder, NULL) || read(holding[0], &c, 1) != 1)
		return 2;
	pid_t child = fork();
	if (child == 0) {
		free(plugin_alloc());
		_exit(0);
	}
	int st = -1;
	for (int i = 0; i < 1000 && waitpid(child, &st, WNOHANG) == 0; i++) {
		struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ten_ms, NULL);
		st = -1;
	}
	if (st == -1) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		printf("child hung\n");
	} else {
		printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	c = 1;
	if (write(release_it[1], &c, 1) != 1)
		return 2;
	pthread_join(t, NULL);
	return 0;
}
