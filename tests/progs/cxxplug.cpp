// cxxplug.cpp - a C++ plugin that a C program (plughost.c) loads with RTLD_LOCAL, so
// that libstdc++ is outside the global scope: 8 over-aligned objects kept, then a
// new that cannot succeed, whose bad_alloc the plugin catches.
#include <cstddef>
#include <cstdint>
#include <new>

struct alignas(64) Line {
	char c[64];
};

static Line *kept[8];

extern "C" int plugin_run(int *caught)
{
	int misaligned = 0;
	for (int i = 0; i < 8; i++) {
		kept[i] = new Line; /* site:kept */
		misaligned += reinterpret_cast<std::uintptr_t>(kept[i]) % 64 != 0;
	}
	*caught = 0;
	try {
		volatile std::size_t huge = std::size_t(1) << 50;
		char *p = new char[huge];
		p[0] = 1;
	} catch (const std::bad_alloc &) {
		*caught = 1;
	}
	return misaligned;
}
