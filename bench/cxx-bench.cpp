/* cxx-bench.cpp - a container-heavy C++ workload.
 *
 * usage: cxx-bench [ROUNDS]   (default 6)
 *
 * Each round builds a std::map<std::string, std::vector<int>> of 50,000 keys made by
 * std::string concatenation, grows the vectors one push_back at a time, joins keys into
 * a long string, then drops it all: node allocations, reallocating growth and short
 * strings past the small-string buffer, the allocation mix of ordinary C++ code.
 */
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

static std::string make_key(unsigned i)
{
	std::string k = "customer/";
	k += std::to_string(i % 997);
	k += "/order/";
	k += std::to_string(i);
	return k;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? std::atoi(argv[1]) : 6;
	unsigned long total = 0;
	for (int r = 0; r < rounds; r++) {
		std::map<std::string, std::vector<int>> m;
		for (unsigned i = 0; i < 50000; i++) {
			std::vector<int> &v = m[make_key(i * 2654435761u % 1000003u)];
			for (unsigned j = 0; j < 3 + i % 29; j++)
				v.push_back((int)(i ^ j));
		}
		std::string joined;
		for (const auto &kv : m) {
			if (kv.second.size() % 7 == 0) {
				joined += kv.first;
				joined += ';';
			}
			total += kv.second.size();
		}
		std::vector<std::string> words;
		for (size_t pos = 0; pos < joined.size(); pos += 40)
			words.push_back(joined.substr(pos, 40));
		total += words.size() + joined.size();
	}
	std::printf("%lu\n", total);
	return 0;
}
