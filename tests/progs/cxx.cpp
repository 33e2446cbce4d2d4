// cxx.cpp - C++ allocations: every operator new form is charged to its own line.
#include <cstdio>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Wide {
	char b[128];
};

int main()
{
	std::vector<int *> ints;
	for (int i = 0; i < 10; i++)
		ints.push_back(new int(i)); // site:new_int
	int *arr = new int[100]; // site:new_array
	Wide *w = new Wide; // site:new_aligned
	char *nt = new (std::nothrow) char[77]; // site:new_nothrow
	for (int i = 0; i < 5; i++)
		delete ints[i];
	delete[] arr;
	try {
		volatile size_t too_much = (size_t)1 << 62;
		char *huge = new char[too_much]; // site:new_huge
		std::printf("unexpected %p\n", (void *)huge);
	} catch (const std::bad_alloc &) {
		std::printf("bad_alloc caught\n");
	}
	std::string s(1000, 'x'); // site:string
	std::printf("cxx done %zu\n", s.size());
	delete w;
	delete[] nt;
	return 0;
}
