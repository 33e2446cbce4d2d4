// cxxreal.cpp - idiomatic C++ whose every allocation happens inside the standard
// library's headers (or libstdc++): each must be charged to the marked user line.
//
// Built twice, at -O0 and -O2 (tests/meson.build).  At -O2 the library code is inlined
// into main; the debug information still names each inlined call's line, so the sites
// stay apart.  Sizes are libstdc++'s (GCC 12, x86_64) and are spelled out in
// test-trace.c.  Everything is kept live to the end and released before exit, except
// what is marked "leaked", so the exit snapshot's alloc and inuse values are both exact.
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct Node {
	long id;
	char payload[56]; // 64 bytes in all
};

// Throws when asked: the exception object, and the message copied into it, are
// allocated by libstdc++ (__cxa_allocate_exception, the runtime_error constructor).
static int checked(int i)
{
	if (i % 2)
		throw std::runtime_error("odd input rejected by checked()"); // site:throw
	return i;
}

int main(int argc, char **argv)
{
	(void)argv;
	std::vector<int> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(i + argc); // site:push_back

	std::map<int, std::string> m;
	for (int i = 0; i < 100; i++) {
		std::string &slot = m[i]; // site:map_node
		slot = "a value longer than fifteen chars"; // site:map_string
	}

	std::vector<std::shared_ptr<Node>> shared;
	shared.reserve(10); // site:reserve
	for (int i = 0; i < 10; i++)
		shared.push_back(std::make_shared<Node>()); // site:make_shared

	std::string a(20, 'a'), b(20, 'b'); // site:strings
	std::string ab = a + b; // site:concat

	int caught = 0;
	for (int i = 0; i < 4; i++) {
		try {
			caught += checked(i);
		} catch (const std::exception &e) {
			caught += e.what()[0] != '\0';
		}
	}

	std::vector<std::unique_ptr<Node>> owned;
	owned.reserve(20); // site:reserve_owned
	for (int i = 0; i < 20; i++)
		owned.push_back(std::make_unique<Node>()); // site:make_unique

	long sum = 0;
	for (int x : v)
		sum += x;
	std::printf("cxxreal %ld %zu %zu %zu %d\n", sum, m.size(), ab.size(), // site:printf
		    shared.size() + owned.size(), caught);
	return 0;
}
