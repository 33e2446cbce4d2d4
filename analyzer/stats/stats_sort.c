/* stats_sort.c - tracemalloc's orders: statistics by (size, count, key) and
 * compare_to by (|size_diff|, size, |count_diff|, count, key), all descending, with
 * a total order on keys so output is deterministic.  With a limit, only the top
 * entries are selected (quickselect) and sorted. */
#include "stats.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats_internal.h"

static int null_strcmp(const char *a, const char *b)
{
	if (a == b)
		return 0;
	if (!a || !b)
		return a ? 1 : -1;
	return strcmp(a, b);
}

static int cmp_num(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

int stats_frame_cmp(const stats_frame_t *a, const stats_frame_t *b)
{
	int c;
	if ((c = null_strcmp(a->file, b->file)) || (c = cmp_num(a->line, b->line)) ||
	    (c = null_strcmp(a->function, b->function)) || (c = null_strcmp(a->module, b->module)))
		return c;
	if (a->address != b->address)
		return a->address > b->address ? 1 : -1;
	return (int)a->empty - (int)b->empty;
}

/* Total order on the keys of two entries of one kind. */
static int key_cmp(const stats_entry_t *a, const stats_entry_t *b)
{
	int c = stats_frame_cmp(&a->site, &b->site);
	for (uint32_t i = 1; !c && i < a->nframes && i < b->nframes; i++)
		c = stats_frame_cmp(stats_entry_frame(a, i), stats_entry_frame(b, i));
	return c ? c : cmp_num(a->nframes, b->nframes);
}

/* The sort key of an entry: up to four numbers compared first (descending), then the
 * entry's key.  Sorting these small records instead of the entries keeps a million-entry
 * sort in cache. */
struct sortrec {
	int64_t k[4];
	const stats_entry_t *e;
};

static int sortrec_cmp(const void *pa, const void *pb)
{
	const struct sortrec *a = pa, *b = pb;
	for (int i = 0; i < 4; i++)
		if (a->k[i] != b->k[i])
			return a->k[i] < b->k[i] ? 1 : -1;
	return key_cmp(b->e, a->e);
}

static int64_t abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/* Moves the k first records (in sortrec_cmp order) of recs[0..n) to its front, sorted;
 * the others follow in an unspecified order.  A heap of the k best seen so far keeps
 * this O(n log k), which matters when a million entries are listed as a top ten. */
static void sortrec_select(struct sortrec *recs, size_t n, size_t k)
{
	if (k * 4 >= n) {
		qsort(recs, n, sizeof(*recs), sortrec_cmp);
		return;
	}
	/* recs[0..k) is a heap whose root is the worst of the k best so far. */
	for (size_t i = 0; i < n; i++) {
		size_t at;
		if (i < k) {
			at = i;
			while (at && sortrec_cmp(&recs[(at - 1) / 2], &recs[at]) < 0) {
				struct sortrec t = recs[at];
				recs[at] = recs[(at - 1) / 2];
				recs[(at - 1) / 2] = t;
				at = (at - 1) / 2;
			}
			continue;
		}
		if (sortrec_cmp(&recs[i], &recs[0]) >= 0)
			continue;
		struct sortrec t = recs[0];
		recs[0] = recs[i];
		recs[i] = t;
		for (at = 0;;) {
			size_t c = 2 * at + 1, worst = at;
			if (c < k && sortrec_cmp(&recs[c], &recs[worst]) > 0)
				worst = c;
			if (c + 1 < k && sortrec_cmp(&recs[c + 1], &recs[worst]) > 0)
				worst = c + 1;
			if (worst == at)
				break;
			t = recs[at];
			recs[at] = recs[worst];
			recs[worst] = t;
			at = worst;
		}
	}
	qsort(recs, k, sizeof(*recs), sortrec_cmp);
}

/* Orders s->entries descending by (size, count, key), or for a comparison by
 * (|size_diff|, size, |count_diff|, count, key): all of them, or with limit > 0 only
 * the first limit ones (the others follow unordered).  Returns 0 or -ENOMEM. */
int stats_sort(stats_t *s, size_t limit)
{
	size_t n = s->nentries;
	size_t k = limit && limit < n ? limit : n;
	struct sortrec *recs = malloc((n + 1) * sizeof(*recs));
	stats_entry_t *top = malloc((k + 1) * sizeof(*top));
	bool *taken = calloc(n + 1, sizeof(*taken));
	if (!recs || !top || !taken) {
		free(recs);
		free(top);
		free(taken);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const stats_entry_t *e = &s->entries[i];
		recs[i].e = e;
		if (s->is_diff) {
			recs[i].k[0] = abs64(e->size_diff);
			recs[i].k[1] = e->size;
			recs[i].k[2] = abs64(e->count_diff);
			recs[i].k[3] = e->count;
		} else {
			recs[i].k[0] = e->size;
			recs[i].k[1] = e->count;
			recs[i].k[2] = recs[i].k[3] = 0;
		}
	}
	sortrec_select(recs, n, k);
	for (size_t i = 0; i < k; i++) {
		top[i] = *recs[i].e;
		taken[recs[i].e - s->entries] = true;
	}
	/* The others keep their order and move to the back, then the top goes in front. */
	for (size_t r = n, w = n; r-- > 0;)
		if (!taken[r])
			s->entries[--w] = s->entries[r];
	memcpy(s->entries, top, k * sizeof(*top));
	free(recs);
	free(top);
	free(taken);
	return 0;
}

