/* plughost.c - a C program that loads the C++ plugin argv[1] (cxxplug.cpp) with
 * RTLD_LOCAL, runs it, and prints how many of its objects were not 64-byte aligned and
 * whether it caught its bad_alloc: natively "misaligned 0 caught 1".  With argv[2], a
 * thread loads and unloads that library without a pause meanwhile. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static const char *churned;
static atomic_int stop;

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *h = dlopen(churned, RTLD_NOW | RTLD_LOCAL);
		if (h)
			dlclose(h);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	churned = argc > 2 ? argv[2] : NULL;
	if (churned && pthread_create(&t, NULL, churn, NULL))
		return 2;
	void *h = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
	int (*run)(int *) = h ? (int (*)(int *))dlsym(h, "plugin_run") : NULL;
	if (!run)
		return 2;
	int caught = 0;
	int misaligned = run(&caught);
	atomic_store(&stop, 1);
	if (churned)
		pthread_join(t, NULL);
	printf("misaligned %d caught %d\n", misaligned, caught);
	return 0;
}
