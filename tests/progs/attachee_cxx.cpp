// attachee_cxx.cpp - attachee.c's protocol in C++: threads churning with new and
// delete while heapsnap attach works, then a known pattern after "go" on stdin.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/prctl.h>
#include <thread>
#include <unistd.h>
#include <vector>

struct Node {
	char payload[120];
	Node *next;
};

static std::atomic<bool> stop;
static char *after[100];
static Node *nodes[20];

static void churn(unsigned seed)
{
	Node *held[16] = {};
	while (!stop.load()) {
		unsigned i = (seed = seed * 1103515245 + 12345) >> 16;
		delete held[i % 16];
		held[i % 16] = new Node(); // site:churn
	}
	for (Node *n : held)
		delete n;
}

static void read_line(const char *want)
{
	char line[64];
	if (!fgets(line, sizeof(line), stdin) || strncmp(line, want, strlen(want)))
		exit(3);
}

int main()
{
#ifdef PR_SET_PTRACER
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
	const char *t = getenv("ATTACHEE_THREADS");
	std::vector<std::thread> threads;
	for (int i = 0; i < (t ? atoi(t) : 0); i++)
		threads.emplace_back(churn, i + 1);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	read_line("go");
	for (auto &a : after)
		a = new char[1000]; // site:after_new
	for (auto &n : nodes)
		n = new Node(); // site:after_node
	for (int i = 0; i < 50; i++)
		delete[] new char[300]; // site:after_freed
	stop = true;
	for (auto &th : threads)
		th.join();
	printf("allocated %d\n", 100);
	fflush(stdout);
	read_line("again");
	printf("done\n");
	return 0;
}
