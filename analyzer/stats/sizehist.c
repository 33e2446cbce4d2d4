/* sizehist.c - a power-of-two histogram of block sizes (see sizehist.h). */
#include "sizehist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* Adds row r's counters to *to; returns false on overflow. */
static bool size_row_add(profile_size_t *to, const profile_size_t *r)
{
	return !__builtin_add_overflow(to->alloc_blocks, r->alloc_blocks, &to->alloc_blocks) &&
	       !__builtin_add_overflow(to->alloc_bytes, r->alloc_bytes, &to->alloc_bytes) &&
	       !__builtin_add_overflow(to->inuse_blocks, r->inuse_blocks, &to->inuse_blocks) &&
	       !__builtin_add_overflow(to->inuse_bytes, r->inuse_bytes, &to->inuse_bytes);
}

int sizehist_add(sizehist_t *h, const profile_t *p, const stats_options_t *opt)
{
	if (!p->has_sizes)
		return -ENODATA;
	bool *kept = malloc((p->nsamples ? p->nsamples : 1) * sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	int r = stats_filter_samples(p, opt, kept);
	for (size_t i = 0; !r && i < p->nsamples; i++) {
		const profile_sample_t *s = &p->samples[i];
		if (!kept[i])
			continue;
		h->samples++;
		if (s->domain == PROFILE_DOMAIN_MMAP) {
			h->mappings++;
			h->mapped_bytes += s->value[PV_INUSE_SPACE];
		}
		for (uint32_t j = 0; !r && j < s->nsizes; j++)
			if (!size_row_add(&h->cls[s->sizes[j].cls], &s->sizes[j]) ||
			    !size_row_add(&h->total, &s->sizes[j]))
				r = -EOVERFLOW;
	}
	free(kept);
	return r;
}

uint64_t sizehist_class_min(uint32_t c)
{
	return c ? (uint64_t)1 << (c - 1) : 0;
}

uint64_t sizehist_class_max(uint32_t c)
{
	return c ? ((uint64_t)1 << (c - 1)) * 2 - 1 : 0;
}

/* A power of two (or 0) in the largest unit that divides it: "512 B", "4 KiB". */
static const char *pow2_size(char *buf, size_t len, uint64_t v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", v, units[u]);
	return buf;
}

/* "0 B", "1 B", or "[2 B, 4 B)". */
static void class_label(char *buf, size_t len, uint32_t c)
{
	char lo[24], hi[24];
	if (c <= 1)
		snprintf(buf, len, "%s", c ? "1 B" : "0 B");
	else
		snprintf(buf, len, "[%s, %s)", pow2_size(lo, sizeof(lo), sizehist_class_min(c)),
			 pow2_size(hi, sizeof(hi), sizehist_class_max(c) + 1));
}

static void row_text(FILE *out, const char *label, const profile_size_t *r)
{
	char a[FORMAT_SIZE_MAX], l[FORMAT_SIZE_MAX];
	fprintf(out, "%-20s %12" PRId64 " %10s %12" PRId64 " %10s\n", label, r->alloc_blocks,
		format_size(a, r->alloc_bytes, false), r->inuse_blocks,
		format_size(l, r->inuse_bytes, false));
}

void print_hist_text(FILE *out, const sizehist_t *h, const char *file)
{
	fputs("Block sizes of '", out);
	format_text_string(out, file);
	fputs("': allocated since the start, and live\n", out);
	fprintf(out, "%-20s %12s %10s %12s %10s\n", "size", "allocated", "bytes", "live", "bytes");
	int first = -1, last = -1;
	for (int c = 0; c < PROFILE_SIZE_CLASSES; c++) {
		if (h->cls[c].alloc_blocks || h->cls[c].inuse_blocks) {
			first = first < 0 ? c : first;
			last = c;
		}
	}
	for (int c = first; first >= 0 && c <= last; c++) {
		char label[64];
		class_label(label, sizeof(label), (uint32_t)c);
		row_text(out, label, &h->cls[c]);
	}
	row_text(out, "Total", &h->total);
}

static void row_json(FILE *out, const profile_size_t *r)
{
	fprintf(out, "\"alloc_blocks\":%" PRId64 ",\"alloc_bytes\":%" PRId64
		     ",\"inuse_blocks\":%" PRId64 ",\"inuse_bytes\":%" PRId64,
		r->alloc_blocks, r->alloc_bytes, r->inuse_blocks, r->inuse_bytes);
}

void print_hist_json(FILE *out, const sizehist_t *h, const char *file)
{
	fputs("{\"file\":", out);
	format_json_string(out, file);
	fputs(",\"classes\":[", out);
	bool first = true;
	for (uint32_t c = 0; c < PROFILE_SIZE_CLASSES; c++) {
		const profile_size_t *r = &h->cls[c];
		if (!r->alloc_blocks && !r->inuse_blocks)
			continue;
		fprintf(out, "%s\n{\"min\":%" PRIu64 ",\"max\":%" PRIu64 ",", first ? "" : ",",
			sizehist_class_min(c), sizehist_class_max(c));
		row_json(out, r);
		fputc('}', out);
		first = false;
	}
	fputs("],\n\"total\":{", out);
	row_json(out, &h->total);
	fputs("}}\n", out);
}
