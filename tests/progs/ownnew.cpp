// ownnew.cpp - a program with its own operator new and delete (a 16-byte header on
// malloc's block), which libstdc++'s other forms build on: 100 objects made and
// deleted (C++14 sized delete, libstdc++'s, calls this delete) and 10 arrays kept
// (libstdc++'s new[] calls this new).  Only the malloc and free below hold memory.
#include <cstdio>
#include <cstdlib>
#include <new>

// Like many programs, it leaves the sized delete to libstdc++ (which calls its delete).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wsized-deallocation"
#endif

void *operator new(std::size_t n)
{
	char *p = static_cast<char *>(std::malloc(n + 16)); /* site:own_malloc */
	if (!p)
		throw std::bad_alloc();
	return p + 16;
}

void operator delete(void *q) noexcept
{
	if (q)
		std::free(static_cast<char *>(q) - 16);
}

struct Five {
	long x[5];
};

static Five *objects[100];
static int *arrays[10];

int main()
{
	for (int i = 0; i < 100; i++)
		objects[i] = new Five;
	for (int i = 0; i < 100; i++)
		delete objects[i];
	for (int i = 0; i < 10; i++)
		arrays[i] = new int[10];
	std::printf("ok\n");
	return 0;
}
