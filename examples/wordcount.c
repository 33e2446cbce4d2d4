/* wordcount.c - the bundled example: counts words of generated text in a hash table,
 * keeps a history of lines it has seen (a slow leak), and grows a report buffer with
 * realloc.  Run it under heapsnap to see which lines hold the memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct word {
	char *text;
	unsigned count;
	struct word *next;
};

#define BUCKETS 4096
static struct word *table[BUCKETS];
static char **history;
static size_t nhistory;

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void count_word(const char *w)
{
	unsigned b = hash(w) % BUCKETS;
	for (struct word *e = table[b]; e; e = e->next)
		if (!strcmp(e->text, w)) {
			e->count++;
			return;
		}
	struct word *e = malloc(sizeof(*e));
	e->text = strdup(w);
	e->count = 1;
	e->next = table[b];
	table[b] = e;
}

static void remember(const char *line)
{
	history = realloc(history, (nhistory + 1) * sizeof(*history));
	history[nhistory++] = strdup(line);
}

int main(int argc, char **argv)
{
	int lines = argc > 1 ? atoi(argv[1]) : 20000;
	static const char *const syllables[] = { "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi" };
	unsigned x = 42;
	char line[256];
	for (int i = 0; i < lines; i++) {
		size_t len = 0;
		for (int w = 0; w < 8; w++) {
			for (int s = 0; s < 3; s++) {
				x = x * 1103515245u + 12345u;
				const char *syl = syllables[(x >> 16) % 8];
				memcpy(line + len, syl, 2);
				len += 2;
			}
			line[len++] = w == 7 ? '\0' : ' ';
		}
		remember(line);
		char *copy = strdup(line);
		for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " "))
			count_word(tok);
		free(copy);
	}
	size_t distinct = 0;
	for (int b = 0; b < BUCKETS; b++)
		for (struct word *e = table[b]; e; e = e->next)
			distinct++;
	printf("%d lines, %zu distinct words\n", lines, distinct);
	return 0;
}
