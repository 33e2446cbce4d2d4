// newhandler.cpp - a new_handler whose own operator new throws and is caught inside it.
//
// The address space is limited so that one 48 MiB operator new fails; libstdc++ then
// calls the new_handler, which first tries a new of its own that throws bad_alloc
// (caught there), then frees an 80 MiB reserve, so the retried allocation succeeds.
// The handler's new runs inside the outer new's traced call: the exception through it
// must leave the shim's guard taken, or the retried malloc would be recorded twice.
// Prints what happened.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <sys/resource.h>

static void *reserve;
static int handled, caught;

static void handler()
{
	handled++;
	std::set_new_handler(nullptr); // so that its own new throws at once
	try {
		volatile size_t too_much = (size_t)1 << 62;
		char *p = new char[too_much];
		std::printf("unexpected %p\n", (void *)p);
	} catch (const std::bad_alloc &) {
		caught++;
	}
	std::free(reserve);
	reserve = nullptr;
}

// The address space in use now, from /proc/self/statm (pages).
static size_t vm_bytes()
{
	unsigned long pages = 0;
	FILE *f = std::fopen("/proc/self/statm", "r");
	if (f) {
		if (std::fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		std::fclose(f);
	}
	return pages * 4096;
}

int main()
{
	reserve = std::malloc(80u << 20);
	struct rlimit r = { vm_bytes() + (32u << 20), RLIM_INFINITY };
	r.rlim_max = r.rlim_cur;
	if (!reserve || setrlimit(RLIMIT_AS, &r) != 0)
		return 1;
	std::set_new_handler(handler);
	char *big = new char[48u << 20]; // site:retried
	big[0] = 1;
	std::printf("handled %d, caught %d\n", handled, caught);
	delete[] big;
	return 0;
}
