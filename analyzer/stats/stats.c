/* stats.c - grouping heap profile samples into tracemalloc-style statistics.
 *
 * Everything that depends only on a frame is computed once per distinct frame, never
 * per sample.  A first pass expands every location into its frames (inlined lines
 * innermost first) and interns each frame's identity (function, file, line, module and,
 * for frames with neither function nor file, the module offset) into a frame table
 * keyed by the profile's interned pointers.  Per distinct frame it then records whether
 * charging skips it (allocator runtime module, --skip glob), which filters match it (a
 * bit mask) and its group key id.  The sample pass only walks uint32 ids: it finds the
 * charged frame, tests the filter masks and adds the values to a group found by key id
 * (an array index) or, for tracebacks, by the sequence of frame ids (an open-addressing
 * table).  Comparing two profiles matches groups by string content, since interned
 * pointers are private to each profile.
 */
#include "stats.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "path.h"
#include "stats_internal.h"

/* The key of frame f for key k (see enum stats_key). */
stats_frame_t stats_frame_project(enum stats_key k, const stats_frame_t *f)
{
	stats_frame_t r = { .empty = f->empty };
	if (f->empty)
		return r;
	if (k == STATS_KEY_TRACEBACK)
		return *f;
	if (k == STATS_KEY_FUNCTION && f->function) {
		r.function = f->function;
		r.file = f->file;
		r.module = f->module;
	} else if (f->file) {
		r.file = f->file;
		if (k != STATS_KEY_FILENAME)
			r.line = f->line;
		if (k == STATS_KEY_FUNCTION)
			r.module = f->module;
	} else {
		r.function = f->function;
		r.module = f->module;
		r.address = f->address;
	}
	return r;
}

static uint64_t frame_hash_ptr(const stats_frame_t *f)
{
	uint64_t h = hash_mix(0, (uintptr_t)f->function);
	h = hash_mix(h, (uintptr_t)f->file);
	h = hash_mix(h, (uint64_t)f->line);
	h = hash_mix(h, (uintptr_t)f->module);
	h = hash_mix(h, f->address);
	return hash_finish(hash_mix(h, f->empty));
}

static bool frame_eq_ptr(const stats_frame_t *a, const stats_frame_t *b)
{
	return a->function == b->function && a->file == b->file && a->line == b->line &&
	       a->module == b->module && a->address == b->address && a->empty == b->empty;
}

static void frametab_free(frametab_t *t)
{
	free(t->frames);
	idxtab_free(&t->table);
}

/* A frame looked up in a frametab. */
struct frame_probe {
	const frametab_t *t;
	const stats_frame_t *f;
};

static bool frame_probe_eq(const void *ctx, uint32_t id)
{
	const struct frame_probe *p = ctx;
	return frame_eq_ptr(&p->t->frames[id], p->f);
}

static uint64_t frametab_hash(const void *ctx, uint32_t id)
{
	return frame_hash_ptr(&((const frametab_t *)ctx)->frames[id]);
}

/* Stores the id of f in *id, adding f when new (*added tells).  Returns 0 or -ENOMEM. */
static int frametab_intern(frametab_t *t, const stats_frame_t *f, uint32_t *id, bool *added)
{
	if (idxtab_reserve(&t->table, (size_t)t->n + 1, t->n, frametab_hash, t))
		return -ENOMEM;
	uint32_t *slot = idxtab_probe(&t->table, frame_hash_ptr(f), frame_probe_eq,
				      &(struct frame_probe){ t, f });
	if (*slot) {
		*id = *slot - 1;
		*added = false;
		return 0;
	}
	if (vec_reserve((void **)&t->frames, &t->cap, (size_t)t->n + 1, sizeof(*t->frames)))
		return -ENOMEM;
	t->frames[t->n] = *f;
	*slot = t->n + 1;
	*id = t->n++;
	*added = true;
	return 0;
}

bool stats_module_is_runtime(const char *module)
{
	static const char *const globs[] = {
		"libheapsnap.so*", "libc.so*", "libc-2.*.so", "libstdc++.so*", "libgcc_s.so*",
		"ld-linux*.so*", "ld-*.so*", "libjemalloc.so*", "libtcmalloc*.so*",
	};
	if (!module)
		return false;
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		if (!fnmatch(globs[i], module, 0))
			return true;
	return false;
}

bool stats_file_is_runtime(const char *file)
{
	static const char *const dirs[] = {
		"/usr/include/*", "/usr/local/include/*", "/usr/lib/gcc/*/*/include/*",
		"/usr/lib/gcc/*/*/include-fixed/*", "/usr/lib/gcc/*/include/*",
		"/usr/lib/llvm-*/include/*", "/usr/lib/llvm-*/lib/clang/*/include/*",
		"/usr/local/lib/gcc/*/*/include/*",
	};
	char buf[4096];
	if (!file || file[0] != '/')
		return false;
	if (strstr(file, "/.") || strstr(file, "//")) {
		if (!path_normalize(file, buf, sizeof(buf)))
			return false;
		file = buf;
	}
	if (strncmp(file, "/usr/", 5)) /* every directory is there: the common case */
		return false;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!fnmatch(dirs[i], file, FNM_PATHNAME | FNM_LEADING_DIR))
			return true;
	return false;
}

bool stats_function_is_runtime(const char *function, const char *file)
{
	static const char *const operators[] = { "operator new", "operator new[]",
						 "operator delete", "operator delete[]" };
	static const char *const mangled[] = { "_Znw", "_Zna", "_Zdl", "_Zda" };
	static const char *const prefixes[] = { "std::", "__gnu_cxx::", "__cxxabiv1::", "__cxa_" };
	if (!function)
		return false;
	for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
		size_t n = strlen(operators[i]);
		if (!strncmp(function, operators[i], n) && function[n] == '(')
			return true;
	}
	for (size_t i = 0; i < sizeof(mangled) / sizeof(mangled[0]); i++)
		if (!strncmp(function, mangled[i], strlen(mangled[i])))
			return true;
	if (file)
		return false;
	/* A return type may come first: "void std::vector<int>::_M_realloc_insert(...)". */
	size_t off, len;
	cxxname_qualified(function, &off, &len);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (len >= strlen(prefixes[i]) &&
		    !strncmp(function + off, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Whether a --skip glob matches function name fn (see stats_options_t). */
static bool skip_matches(const char *glob, const char *fn, const char *qualified)
{
	return !fnmatch(glob, strchr(glob, '(') ? fn : qualified, 0);
}

bool stats_frame_skipped(const stats_options_t *opt, const stats_frame_t *f,
			 bool module_runtime)
{
	if (!opt->keep_runtime && (module_runtime || stats_file_is_runtime(f->file) ||
				   stats_function_is_runtime(f->function, f->file)))
		return true;
	for (size_t i = 0; f->file && i < opt->nskip_files; i++)
		if (!fnmatch(opt->skip_files[i], f->file, 0))
			return true;
	if (!f->function || !opt->nskip)
		return false;
	size_t off, len;
	cxxname_qualified(f->function, &off, &len);
	bool whole = off == 0 && !f->function[len];
	char *q = whole ? NULL : strndup(f->function + off, len);
	if (!whole && !q)
		return false;
	bool skip = false;
	for (size_t i = 0; !skip && i < opt->nskip; i++)
		skip = skip_matches(opt->skip[i], f->function, q ? q : f->function);
	free(q);
	return skip;
}

/* Per-grouping state: the expanded frames and the per-frame facts. */
struct grouper {
	const profile_t *p;
	const stats_options_t *opt;
	stats_t *s;
	uint32_t *loc_first;  /* per location: its first expanded frame */
	uint32_t *frame_id;   /* per expanded frame: its id in full */
	size_t nexpanded;
	uint32_t empty_id;    /* the frame of samples without a stack */
	/* Per id in full, grown as ids are added. */
	uint8_t *skip;
	uint64_t *fmask;
	uint32_t *key_id;
	uint32_t *key_rep;    /* per key id: first full id seen with it */
	size_t info_cap, rep_cap;
	uint64_t include_mask, all_frames_mask;
	/* Groups. */
	struct group *groups;
	size_t ngroups, groups_cap;
	uint32_t *key_group;  /* non-traceback: key id -> group */
	idxtab_t table;       /* traceback: groups by their frame id sequence */
	size_t seq_n, seq_cap;
	uint32_t *scratch;
	size_t scratch_cap;
	int64_t sample_max;   /* max_size of the sample being charged */
	bool *kept;           /* stats_filter_samples(): samples the filters keep */
};

static bool filter_matches(const stats_filter_t *flt, const stats_frame_t *f)
{
	if (fnmatch(flt->pattern, f->file ? f->file : "", 0))
		return false;
	return flt->lineno < 0 || flt->lineno == f->line;
}

/* Records the per-frame facts of new full id. */
static int grouper_describe(struct grouper *g, uint32_t id, bool runtime)
{
	const stats_options_t *opt = g->opt;
	if (id >= g->info_cap) {
		size_t cap = g->info_cap ? g->info_cap * 2 : 1024;
		uint8_t *sk = realloc(g->skip, cap * sizeof(*sk));
		if (sk)
			g->skip = sk;
		uint64_t *fm = sk ? realloc(g->fmask, cap * sizeof(*fm)) : NULL;
		if (fm)
			g->fmask = fm;
		uint32_t *ki = fm ? realloc(g->key_id, cap * sizeof(*ki)) : NULL;
		if (!ki)
			return -ENOMEM;
		g->key_id = ki;
		g->info_cap = cap;
	}

	const stats_frame_t *f = &g->s->store->full.frames[id];
	g->skip[id] = stats_frame_skipped(opt, f, runtime);

	uint64_t m = 0;
	for (size_t i = 0; i < opt->nfilters; i++)
		if (filter_matches(&opt->filters[i], f))
			m |= 1ull << i;
	g->fmask[id] = m;

	if (opt->key == STATS_KEY_TRACEBACK) {
		g->key_id[id] = id;
		return 0;
	}
	stats_frame_t k = stats_frame_project(opt->key, f);
	uint32_t kid;
	bool added;
	if (frametab_intern(&g->s->store->keys, &k, &kid, &added))
		return -ENOMEM;
	if (added) {
		if (vec_reserve((void **)&g->key_rep, &g->rep_cap, (size_t)kid + 1,
				sizeof(*g->key_rep)))
			return -ENOMEM;
		g->key_rep[kid] = id;
	}
	g->key_id[id] = kid;
	return 0;
}

static int grouper_intern(struct grouper *g, const stats_frame_t *f, bool runtime, uint32_t *id)
{
	bool added;
	if (frametab_intern(&g->s->store->full, f, id, &added))
		return -ENOMEM;
	return added ? grouper_describe(g, *id, runtime) : 0;
}

/* Expands every location into frames and describes each distinct frame. */
static int grouper_expand(struct grouper *g)
{
	const profile_t *p = g->p;
	const char **module = calloc(p->nmappings + 1, sizeof(*module));
	bool *runtime = calloc(p->nmappings + 1, sizeof(*runtime));
	g->loc_first = malloc((p->nlocations + 1) * sizeof(*g->loc_first));
	size_t n = 0;
	for (uint32_t l = 0; l < p->nlocations; l++)
		n += p->locations[l].nlines ? p->locations[l].nlines : 1;
	g->frame_id = malloc((n + 1) * sizeof(*g->frame_id));
	int r = -ENOMEM;
	if (!module || !runtime || !g->loc_first || !g->frame_id)
		goto out;
	for (uint32_t m = 0; m < p->nmappings; m++) {
		const char *path = p->mappings[m].path;
		const char *slash = path ? strrchr(path, '/') : NULL;
		module[m] = slash ? slash + 1 : path;
		runtime[m] = stats_module_is_runtime(module[m]);
	}
	n = 0;
	for (uint32_t l = 0; l < p->nlocations; l++) {
		const profile_location_t *loc = &p->locations[l];
		uint32_t m = loc->mapping < p->nmappings ? loc->mapping : p->nmappings;
		uint64_t addr = loc->address;
		if (m < p->nmappings)
			addr = addr - p->mappings[m].start + p->mappings[m].offset;
		g->loc_first[l] = n;
		for (uint32_t i = 0; i < (loc->nlines ? loc->nlines : 1); i++) {
			stats_frame_t f = { .module = module[m] };
			if (loc->nlines) {
				f.function = loc->lines[i].function;
				f.file = loc->lines[i].file;
				f.line = f.file ? loc->lines[i].line : 0;
			}
			if (!f.function && !f.file)
				f.address = addr;
			if (grouper_intern(g, &f, runtime[m], &g->frame_id[n++]))
				goto out;
		}
	}
	g->loc_first[p->nlocations] = n;
	g->nexpanded = n;
	stats_frame_t empty = { .empty = true };
	r = grouper_intern(g, &empty, false, &g->empty_id);
out:
	free(module);
	free(runtime);
	return r;
}

static uint32_t loc_nframes(const struct grouper *g, uint32_t l)
{
	return g->loc_first[l + 1] - g->loc_first[l];
}

/* Whether the filters keep a sample charged to frame id c. */
static bool grouper_keeps(const struct grouper *g, const profile_sample_t *smp, uint32_t c)
{
	const stats_options_t *opt = g->opt;
	if (!opt->nfilters)
		return true;
	uint64_t any = 0;
	if (g->all_frames_mask) {
		for (uint32_t li = 0; li < smp->nlocs; li++) {
			uint32_t l = smp->locs[li];
			if (l >= g->p->nlocations)
				continue;
			for (uint32_t k = g->loc_first[l]; k < g->loc_first[l + 1]; k++)
				any |= g->fmask[g->frame_id[k]];
		}
	}
	uint64_t match = (g->fmask[c] & ~g->all_frames_mask) | (any & g->all_frames_mask);
	if (g->include_mask && !(match & g->include_mask))
		return false;
	return !(match & ~g->include_mask);
}

static struct group *grouper_new_group(struct grouper *g)
{
	if (vec_reserve((void **)&g->groups, &g->groups_cap, g->ngroups + 1, sizeof(*g->groups)))
		return NULL;
	struct group *gr = &g->groups[g->ngroups++];
	memset(gr, 0, sizeof(*gr));
	return gr;
}

static int grouper_add_key(struct grouper *g, uint32_t kid, int64_t size, int64_t count)
{
	if (g->key_group[kid] == NO_ID) {
		struct group *gr = grouper_new_group(g);
		if (!gr)
			return -ENOMEM;
		gr->key = kid;
		g->key_group[kid] = g->ngroups - 1;
	}
	struct group *gr = &g->groups[g->key_group[kid]];
	if (g->sample_max > gr->max_size)
		gr->max_size = g->sample_max;
	if (__builtin_add_overflow(gr->size, size, &gr->size) ||
	    __builtin_add_overflow(gr->count, count, &gr->count))
		return -EOVERFLOW;
	return 0;
}

static uint64_t group_hash(const void *ctx, uint32_t gi)
{
	return ((const struct grouper *)ctx)->groups[gi].hash;
}

/* A traceback (frame id sequence) looked up among a grouper's groups. */
struct seq_probe {
	const struct grouper *g;
	const uint32_t *seq;
	uint32_t len;
	uint64_t hash;
};

static bool seq_probe_eq(const void *ctx, uint32_t gi)
{
	const struct seq_probe *p = ctx;
	const struct group *gr = &p->g->groups[gi];
	return gr->hash == p->hash && gr->len == p->len &&
	       !memcmp(p->g->s->store->seqbuf + gr->off, p->seq, p->len * sizeof(*p->seq));
}

static int grouper_add_seq(struct grouper *g, const uint32_t *seq, uint32_t len, int64_t size,
			   int64_t count, bool truncated)
{
	uint64_t h = len;
	for (uint32_t i = 0; i < len; i++)
		h = hash_mix(h, seq[i]);
	h = hash_finish(h);
	if (idxtab_reserve(&g->table, g->ngroups + 1, g->ngroups, group_hash, g))
		return -ENOMEM;
	struct seq_probe probe = { g, seq, len, h };
	uint32_t *slot = idxtab_probe(&g->table, h, seq_probe_eq, &probe);
	if (*slot) {
		struct group *gr = &g->groups[*slot - 1];
		if (g->sample_max > gr->max_size)
			gr->max_size = g->sample_max;
		if (__builtin_add_overflow(gr->size, size, &gr->size) ||
		    __builtin_add_overflow(gr->count, count, &gr->count))
			return -EOVERFLOW;
		gr->truncated |= truncated;
		return 0;
	}
	if (vec_reserve((void **)&g->s->store->seqbuf, &g->seq_cap, g->seq_n + len,
			sizeof(*seq)))
		return -ENOMEM;
	struct group *gr = grouper_new_group(g);
	if (!gr)
		return -ENOMEM;
	memcpy(g->s->store->seqbuf + g->seq_n, seq, len * sizeof(*seq));
	*gr = (struct group){ .hash = h, .off = g->seq_n, .len = len, .size = size,
			      .count = count, .max_size = g->sample_max, .truncated = truncated };
	g->seq_n += len;
	*slot = g->ngroups;
	return 0;
}

/* Adds one sample, charged at expanded-frame position (li, k), to its group(s). */
static int grouper_charge(struct grouper *g, const profile_sample_t *smp, uint32_t li,
			  uint32_t k, int64_t size, int64_t count)
{
	const stats_options_t *opt = g->opt;
	if (li == smp->nlocs) /* no frames */
		return opt->key == STATS_KEY_TRACEBACK
			       ? grouper_add_seq(g, &g->empty_id, 1, size, count, smp->truncated)
			       : grouper_add_key(g, g->key_id[g->empty_id], size, count);
	if (!opt->cumulative && opt->key != STATS_KEY_TRACEBACK)
		return grouper_add_key(g, g->key_id[g->frame_id[k]], size, count);

	uint32_t len = 0;
	bool first = true;
	for (; li < smp->nlocs; li++) {
		uint32_t l = smp->locs[li];
		if (l >= g->p->nlocations)
			continue;
		if (!first)
			k = g->loc_first[l];
		for (; k < g->loc_first[l + 1]; k++, first = false) {
			uint32_t id = g->frame_id[k];
			if (opt->cumulative) {
				int r = first || !g->skip[id] ? grouper_add_key(g, g->key_id[id], size, count)
							       : 0;
				if (r)
					return r;
				continue;
			}
			if (len == g->scratch_cap) {
				size_t ncap = g->scratch_cap ? g->scratch_cap * 2 : 64;
				uint32_t *n = realloc(g->scratch, ncap * sizeof(*n));
				if (!n)
					return -ENOMEM;
				g->scratch = n;
				g->scratch_cap = ncap;
			}
			g->scratch[len++] = id;
		}
	}
	if (opt->cumulative)
		return 0;
	return grouper_add_seq(g, g->scratch, len, size, count, smp->truncated);
}

static int grouper_run(struct grouper *g)
{
	const profile_t *p = g->p;
	const stats_options_t *opt = g->opt;
	enum profile_value vs = stats_metric_space(opt->metric);
	enum profile_value vo = stats_metric_objects(opt->metric);
	for (size_t i = 0; i < opt->nfilters; i++) {
		if (opt->filters[i].inclusive)
			g->include_mask |= 1ull << i;
		if (opt->filters[i].all_frames)
			g->all_frames_mask |= 1ull << i;
	}
	int r = grouper_expand(g);
	if (r)
		return r;
	if (opt->key != STATS_KEY_TRACEBACK) {
		g->key_group = malloc((g->s->store->keys.n + 1) * sizeof(*g->key_group));
		if (!g->key_group)
			return -ENOMEM;
		memset(g->key_group, 0xff, (g->s->store->keys.n + 1) * sizeof(*g->key_group));
	}
	for (size_t si = 0; si < p->nsamples; si++) {
		const profile_sample_t *smp = &p->samples[si];
		if (opt->has_domain && smp->domain != opt->domain)
			continue;
		int64_t size = smp->value[vs], count = smp->value[vo];
		if (!size && !count)
			continue;
		/* The charged frame: the innermost one not skipped, else the innermost one. */
		uint32_t cli = smp->nlocs, ck = 0;
		for (uint32_t li = 0; li < smp->nlocs && cli == smp->nlocs; li++) {
			uint32_t l = smp->locs[li];
			if (l >= p->nlocations)
				continue;
			for (uint32_t k = g->loc_first[l]; k < g->loc_first[l + 1]; k++) {
				if (!g->skip[g->frame_id[k]]) {
					cli = li;
					ck = k;
					break;
				}
			}
		}
		for (uint32_t li = 0; li < smp->nlocs && cli == smp->nlocs; li++) {
			if (smp->locs[li] < p->nlocations && loc_nframes(g, smp->locs[li])) {
				cli = li;
				ck = g->loc_first[smp->locs[li]];
			}
		}
		uint32_t cid = cli == smp->nlocs ? g->empty_id : g->frame_id[ck];
		if (!grouper_keeps(g, smp, cid))
			continue;
		if (g->kept)
			g->kept[si] = true;
		g->sample_max = smp->max_size;
		int r = grouper_charge(g, smp, cli, ck, size, count);
		if (r)
			return r;
		if (__builtin_add_overflow(g->s->total_size, size, &g->s->total_size) ||
		    __builtin_add_overflow(g->s->total_count, count, &g->s->total_count))
			return -EOVERFLOW;
	}
	return 0;
}

/* Turns the groups into s->entries. */
static int grouper_finish(struct grouper *g)
{
	stats_t *s = g->s;
	struct stats_store *st = s->store;
	s->entries = malloc((g->ngroups + 1) * sizeof(*s->entries));
	if (!s->entries)
		return -ENOMEM;
	for (size_t i = 0; i < g->ngroups; i++) {
		const struct group *gr = &g->groups[i];
		stats_entry_t *e = &s->entries[i];
		*e = (stats_entry_t){ .size = gr->size, .count = gr->count,
				      .max_size = gr->max_size, .truncated = gr->truncated };
		if (g->opt->key == STATS_KEY_TRACEBACK) {
			e->frame_table = st->full.frames;
			e->frame_ids = st->seqbuf + gr->off;
			e->nframes = gr->len;
			e->site = st->full.frames[e->frame_ids[0]];
		} else {
			e->site = st->keys.frames[gr->key];
			if (g->opt->key == STATS_KEY_LINENO && e->site.file) {
				const stats_frame_t *rep = &st->full.frames[g->key_rep[gr->key]];
				e->site.function = rep->function;
				e->site.module = rep->module;
			}
		}
	}
	s->nentries = g->ngroups;
	return g->opt->sort_limit == SIZE_MAX ? 0 : stats_sort(s, g->opt->sort_limit);
}

static void grouper_free(struct grouper *g)
{
	free(g->loc_first);
	free(g->frame_id);
	free(g->skip);
	free(g->fmask);
	free(g->key_id);
	free(g->key_rep);
	free(g->groups);
	free(g->key_group);
	idxtab_free(&g->table);
	free(g->scratch);
}

void stats_free(stats_t *s)
{
	if (!s)
		return;
	if (s->store) {
		frametab_free(&s->store->full);
		frametab_free(&s->store->keys);
		free(s->store->seqbuf);
		stats_free(s->store->parts[0]);
		stats_free(s->store->parts[1]);
		free(s->store);
	}
	free(s->entries);
	free(s);
}

int stats_check_options(const profile_t *p, const stats_options_t *opt)
{
	if ((opt->cumulative && opt->key == STATS_KEY_TRACEBACK) ||
	    opt->nfilters > STATS_MAX_FILTERS || opt->key > STATS_KEY_TRACEBACK ||
	    opt->metric >= STATS_METRIC_COUNT)
		return -EINVAL;
	if (!p->has_value[stats_metric_space(opt->metric)])
		return -ENODATA;
	return 0;
}

stats_t *stats_alloc(const stats_options_t *opt)
{
	stats_t *s = calloc(1, sizeof(*s));
	if (!s || !(s->store = calloc(1, sizeof(*s->store)))) {
		free(s);
		return NULL;
	}
	s->key = opt->key;
	s->metric = opt->metric;
	s->cumulative = opt->cumulative;
	return s;
}

int stats_group(const profile_t *p, const stats_options_t *opt, stats_t **out)
{
	int r = stats_check_options(p, opt);
	if (r)
		return r;
	stats_t *s = stats_alloc(opt);
	if (!s)
		return -ENOMEM;
	s->has_max_size = p->has_max_size;
	struct grouper g = { .p = p, .opt = opt, .s = s };
	r = grouper_run(&g);
	if (!r)
		r = grouper_finish(&g);
	if (!r)
		r = stats_check_sums(s);
	grouper_free(&g);
	/* The key table is needed only for grouping; the sites were copied out. */
	frametab_free(&s->store->keys);
	memset(&s->store->keys, 0, sizeof(s->store->keys));
	if (r) {
		stats_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int stats_filter_samples(const profile_t *p, const stats_options_t *opt, bool *kept)
{
	stats_options_t o = *opt;
	o.key = STATS_KEY_LINENO;
	o.metric = STATS_METRIC_ALLOC;
	o.cumulative = false;
	o.sort_limit = SIZE_MAX;
	int r = stats_check_options(p, &o);
	if (r)
		return r;
	stats_t *s = stats_alloc(&o);
	if (!s)
		return -ENOMEM;
	memset(kept, 0, p->nsamples * sizeof(*kept));
	struct grouper g = { .p = p, .opt = &o, .s = s, .kept = kept };
	r = grouper_run(&g);
	grouper_free(&g);
	stats_free(s);
	return r;
}

/* Adds |v| to *sum; returns false once the sum reaches STATS_SUM_LIMIT. */
static bool sum_add(uint64_t *sum, int64_t v)
{
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
	return !__builtin_add_overflow(*sum, mag, sum) && *sum < STATS_SUM_LIMIT;
}

int stats_check_sums(const stats_t *s)
{
	uint64_t sum[4] = { 0 };
	bool ok = sum_add(&sum[0], s->total_size) && sum_add(&sum[1], s->total_count) &&
		  sum_add(&sum[2], s->total_size_diff) && sum_add(&sum[3], s->total_count_diff);
	memset(sum, 0, sizeof(sum));
	for (size_t i = 0; ok && i < s->nentries; i++) {
		const stats_entry_t *e = &s->entries[i];
		ok = sum_add(&sum[0], e->size) && sum_add(&sum[1], e->count) &&
		     sum_add(&sum[2], e->size_diff) && sum_add(&sum[3], e->count_diff);
	}
	return ok ? 0 : -EOVERFLOW;
}

size_t stats_rest(const stats_t *s, size_t limit, stats_entry_t *rest)
{
	memset(rest, 0, sizeof(*rest));
	if (!limit || limit >= s->nentries)
		return 0;
	for (size_t i = limit; i < s->nentries; i++) {
		rest->size += s->entries[i].size;
		rest->count += s->entries[i].count;
		rest->size_diff += s->entries[i].size_diff;
		rest->count_diff += s->entries[i].count_diff;
	}
	return s->nentries - limit;
}

void stats_totals(const profile_t *p, int64_t totals[PV_COUNT])
{
	memset(totals, 0, PV_COUNT * sizeof(*totals));
	for (size_t i = 0; i < p->nsamples; i++)
		for (int v = 0; v < PV_COUNT; v++)
			totals[v] += p->samples[i].value[v];
}

static const enum profile_value metric_space[STATS_METRIC_COUNT] = {
	PV_INUSE_SPACE, PV_PEAK_SPACE, PV_ALLOC_SPACE, PV_TEMPORARY_SPACE,
};
static const enum profile_value metric_objects[STATS_METRIC_COUNT] = {
	PV_INUSE_OBJECTS, PV_PEAK_OBJECTS, PV_ALLOC_OBJECTS, PV_TEMPORARY_OBJECTS,
};

enum profile_value stats_metric_space(enum stats_metric m)
{
	return m < STATS_METRIC_COUNT ? metric_space[m] : PV_INUSE_SPACE;
}

enum profile_value stats_metric_objects(enum stats_metric m)
{
	return m < STATS_METRIC_COUNT ? metric_objects[m] : PV_INUSE_OBJECTS;
}

static const char *const key_names[] = { "lineno", "filename", "function", "traceback" };
static const char *const metric_names[] = { "inuse", "peak", "alloc", "temporary" };

const char *stats_key_name(enum stats_key k)
{
	return k <= STATS_KEY_TRACEBACK ? key_names[k] : "?";
}

const char *stats_metric_name(enum stats_metric m)
{
	return m < STATS_METRIC_COUNT ? metric_names[m] : "?";
}

void stats_metric_missing(enum stats_metric m, char *out, size_t len)
{
	snprintf(out, len, "no %s values (%s)", stats_metric_name(m),
		 m == STATS_METRIC_TEMPORARY ? "written before heapsnap counted temporary allocations"
					     : "not a heapsnap snapshot?");
}

int stats_key_parse(const char *name, enum stats_key *out)
{
	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (!strcmp(name, key_names[i])) {
			*out = (enum stats_key)i;
			return 0;
		}
	}
	return -EINVAL;
}

int stats_metric_parse(const char *name, enum stats_metric *out)
{
	for (size_t i = 0; i < sizeof(metric_names) / sizeof(metric_names[0]); i++) {
		if (!strcmp(name, metric_names[i])) {
			*out = (enum stats_metric)i;
			return 0;
		}
	}
	return -EINVAL;
}

int stats_domain_parse(const char *name, bool *all, int64_t *out)
{
	int64_t d;
	if (!strcmp(name, "all")) {
		*all = true;
		return 0;
	}
	if (!strcmp(name, "heap"))
		d = 0;
	else if (!strcmp(name, "mmap"))
		d = PROFILE_DOMAIN_MMAP;
	else if (name[0] && strspn(name, "0123456789") == strlen(name) && strlen(name) <= 5 &&
		 (d = strtoll(name, NULL, 10)) <= 65535)
		;
	else
		return -EINVAL;
	*all = false;
	*out = d;
	return 0;
}

const char *stats_domain_name(int64_t domain, char buf[24])
{
	if (domain == 0)
		return "heap";
	if (domain == PROFILE_DOMAIN_MMAP)
		return "mmap";
	snprintf(buf, 24, "%" PRId64, domain);
	return buf;
}

static int domain_sum_cmp(const void *a, const void *b)
{
	const stats_domain_sum_t *x = a, *y = b;
	return (x->domain > y->domain) - (x->domain < y->domain);
}

int stats_other_domains(const profile_t *const *ps, size_t n, const stats_options_t *opt,
			stats_domain_sum_t **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (!opt->has_domain)
		return 0;
	enum profile_value vs = stats_metric_space(opt->metric);
	enum profile_value vo = stats_metric_objects(opt->metric);
	/* A file can hold every domain (the reader checks each is one, 0..65536): each
	 * domain's sum is found by its number, not searched for. */
	uint32_t *slot = calloc(PROFILE_DOMAIN_MMAP + 1, sizeof(*slot)); /* index + 1 */
	stats_domain_sum_t *sums = NULL;
	size_t nsums = 0, cap = 0;
	if (!slot)
		return -ENOMEM;
	for (size_t f = 0; f < n; f++) {
		for (size_t i = 0; i < ps[f]->nsamples; i++) {
			const profile_sample_t *smp = &ps[f]->samples[i];
			if (smp->domain == opt->domain || smp->domain < 0 ||
			    smp->domain > PROFILE_DOMAIN_MMAP)
				continue;
			size_t k = slot[smp->domain];
			if (k-- == 0) {
				if (vec_reserve((void **)&sums, &cap, nsums + 1, sizeof(*sums))) {
					free(sums);
					free(slot);
					return -ENOMEM;
				}
				k = nsums;
				sums[nsums++] = (stats_domain_sum_t){ .domain = smp->domain };
				slot[smp->domain] = (uint32_t)nsums;
			}
			/* Each file's sums fit (see stats_totals()); saturate across files. */
			if (__builtin_add_overflow(sums[k].size, smp->value[vs], &sums[k].size))
				sums[k].size = INT64_MAX;
			if (__builtin_add_overflow(sums[k].count, smp->value[vo], &sums[k].count))
				sums[k].count = INT64_MAX;
		}
	}
	free(slot);
	size_t kept = 0;
	for (size_t k = 0; k < nsums; k++)
		if (sums[k].size || sums[k].count)
			sums[kept++] = sums[k];
	if (kept > 1)
		qsort(sums, kept, sizeof(*sums), domain_sum_cmp);
	if (!kept) {
		free(sums);
		sums = NULL;
	}
	*out = sums;
	*n_out = kept;
	return 0;
}

int stats_other_domains_diff(const profile_t *const *old_ps, size_t nold,
			     const profile_t *const *new_ps, size_t nnew,
			     const stats_options_t *opt, stats_domain_sum_t **out, size_t *n_out)
{
	stats_domain_sum_t *olds, *news;
	size_t no, nn;
	*out = NULL;
	*n_out = 0;
	if (stats_other_domains(old_ps, nold, opt, &olds, &no))
		return -ENOMEM;
	if (stats_other_domains(new_ps, nnew, opt, &news, &nn)) {
		free(olds);
		return -ENOMEM;
	}
	/* Both in increasing domain order: merged in one pass. */
	stats_domain_sum_t *m = malloc((no + nn + 1) * sizeof(*m));
	if (!m) {
		free(olds);
		free(news);
		return -ENOMEM;
	}
	size_t k = 0, a = 0, b = 0;
	while (a < no || b < nn) {
		const stats_domain_sum_t *o = a < no ? &olds[a] : NULL, *w = b < nn ? &news[b] : NULL;
		if (o && (!w || o->domain < w->domain))
			m[k] = (stats_domain_sum_t){ .domain = o->domain };
		else
			m[k] = *w;
		if (o && (!w || o->domain <= w->domain)) {
			m[k].size_diff = m[k].size - o->size;
			m[k].count_diff = m[k].count - o->count;
			a++;
		} else {
			m[k].size_diff = m[k].size;
			m[k].count_diff = m[k].count;
		}
		if (w && (!o || w->domain <= o->domain))
			b++;
		k++;
	}
	free(olds);
	free(news);
	if (!k) {
		free(m);
		m = NULL;
	}
	*out = m;
	*n_out = k;
	return 0;
}
