// nsclang.cpp - C++ in a namespace, built by clang++ at -O2 (tests/meson.build).
//
// clang writes the debug information of a function defined in a namespace inside
// that namespace's entry, where GCC writes it at the unit's level; the inlined calls
// of the standard library's code are then found only by looking inside namespaces.
// Without them, the bytes that push_back and the string constructor allocate, from
// inside inlined header code, were charged to main's call of app::fill.
#include <cstdio>
#include <string>
#include <vector>

namespace app {
namespace detail {
std::vector<std::string> *kept;
}

__attribute__((noinline)) void fill(int n)
{
	for (int i = 0; i < n; i++)
		detail::kept->push_back(std::string(40 + i % 2, 'x')); // site:ns_string
}
} // namespace app

int main()
{
	app::detail::kept = new std::vector<std::string>; // site:ns_vector
	app::detail::kept->reserve(16); // site:ns_reserve
	app::fill(10); // site:ns_call
	std::printf("nsclang %zu\n", app::detail::kept->size());
	return 0;
}
