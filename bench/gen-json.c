/* gen-json.c - writes a JSON array of N objects (default 200000, about 23 MB).
 *
 * usage: gen-json FILE [N]
 * Deterministic: the same N gives the same file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gen-json FILE [N]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 200000;
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	static const char *words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
				       "golf", "hotel", "india", "juliet", "kilo", "lima" };
	uint64_t x = 0x2545f4914f6cdd1dull;
	fputs("[\n", f);
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		fprintf(f,
			"{\"id\":%ld,\"name\":\"%s-%s-%ld\",\"value\":%u,"
			"\"tags\":[\"%s\",\"%s\"],\"owner\":{\"uid\":%u,\"active\":%s}}%s\n",
			i, words[x % 12], words[(x >> 8) % 12], i, (unsigned)(x >> 20) % 1000,
			words[(x >> 40) % 12],
			words[(x >> 44) % 12], (unsigned)(x >> 48) % 5000,
			(x >> 60) & 1 ? "true" : "false", i + 1 < n ? "," : "");
	}
	fputs("]\n", f);
	return fclose(f) == 0 ? 0 : 1;
}
