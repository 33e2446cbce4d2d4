/* plughost.c - a C program that loads the C++ plugin argv[1] (cxxplug.cpp) with
 * RTLD_LOCAL, runs it, and prints how many of its objects were not 64-byte aligned and
 * whether it caught its bad_alloc: natively "misaligned 0 caught 1". */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	void *h = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
	int (*run)(int *) = h ? (int (*)(int *))dlsym(h, "plugin_run") : NULL;
	if (!run)
		return 2;
	int caught = 0;
	int misaligned = run(&caught);
	printf("misaligned %d caught %d\n", misaligned, caught);
	return 0;
}
