// lambdas.cpp - two lambdas of one function, kept out of line, built by g++ at -O2
// (tests/meson.build).  GCC's debug information names each operator() only
// "operator()"; the symbol at its entry says which lambda it is.  And an inlined
// function of a namespace and an inlined lambda, named from their scopes.
#include <cstdio>
#include <cstdlib>

void *kept[16]; // global: the compiler may not drop the allocations
int nkept;

__attribute__((noinline)) void two_lambdas(int n)
{
	auto a = [](int k) __attribute__((noinline)) { kept[nkept++] = malloc(17 + k); }; // site:lambda_a
	auto b = [](int k) __attribute__((noinline)) { kept[nkept++] = malloc(19 + k); }; // site:lambda_b
	for (int i = 0; i < n; i++) {
		a(i); // site:call_a
		b(i);
	}
}

// Inlined, these have only their plain names in GCC's debug information; their scopes
// come from where they are declared.
namespace app {
__attribute__((always_inline)) inline void *helper(int n)
{
	return malloc(n); // site:inlined_helper
}
} // namespace app

int main()
{
	kept[nkept++] = app::helper(33);
	auto inlined = [](int k) { kept[nkept++] = malloc(50 + k); }; // site:inlined_lambda
	inlined(1);
	two_lambdas(2);
	std::printf("lambdas %d\n", nkept);
	return 0;
}
