// holey.cpp - an -O2 -g unit whose main goes to .text.startup and its other functions
// to .text, with a function of a unit built without -g (holey_nodebug.c) linked in the
// hole between them: that function has no line, and no unit of this one.
#include <string>
#include <thread>
#include <vector>

extern "C" void *nodebug_alloc(unsigned long n);

__attribute__((noinline)) static std::vector<std::string> *names(int n)
{
	auto *v = new std::vector<std::string>;
	for (int i = 0; i < n; i++)
		v->push_back("a name long enough for the heap, number " + std::to_string(i));
	return v;
}

int main()
{
	void *volatile p = nodebug_alloc(3333); // site:nodebug
	(void)p;
	auto *v = names(10);
	std::thread t([v] { v->push_back("from a thread, long enough for the heap"); });
	t.join();
	return v->size() == 11 ? 0 : 1;
}
