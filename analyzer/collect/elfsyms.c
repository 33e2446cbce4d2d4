/* elfsyms.c - sorted symbol table of a module (see elfsyms.h).
 *
 * Two arrays over the eligible symbols (named, defined, not a section, file or TLS
 * symbol): every symbol sorted by value with the largest end below each one, for the
 * sizeless fallback, and the sized symbols as intervals, for the symbols holding an
 * address.  libdwfl scans globals, then locals only when no global is found; its
 * choice depends on that scan order, so each symbol keeps its rank in it and the few
 * candidates for an address are replayed in that order.
 */
#include "elfsyms.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "dwlib.h"
#include "intervals.h"

struct esym {
	uint64_t value, size;
	const char *name;
	uint32_t rank;      /* position in libdwfl's scan: globals first, then locals */
	uint32_t shndx;
	uint8_t bind;
	bool local;         /* in the locals' part of the scan */
};

struct section {
	uint64_t start, end;
	uint32_t ndx;
};

struct elfsyms {
	Dwfl_Module *mod;           /* asked directly in the rare case of too many candidates */
	struct esym *syms;          /* sorted by value */
	uint64_t *maxend_global;    /* per syms[i]: largest value + size of globals <= i */
	uint64_t *maxend_all;
	size_t nsyms;
	struct interval *sized;     /* id: index into syms */
	size_t nsized;
	struct section *sections;   /* SHF_ALLOC sections by start */
	size_t nsections;
	bool have_locals;           /* libdwfl would scan a locals part */
};

#define MAX_CANDIDATES 64

static int esym_cmp(const void *a, const void *b)
{
	const struct esym *x = a, *y = b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int section_cmp(const void *a, const void *b)
{
	const struct section *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static bool eligible(const char *name, const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);
	return name && name[0] && sym->st_shndx != SHN_UNDEF && type != STT_SECTION &&
	       type != STT_FILE && type != STT_TLS;
}

/* Reads the allocated sections of mod's main file, as libdwfl's section lookup sees
 * them.  Returns 0 or -1 when out of memory. */
static int read_sections(elfsyms_t *t, Dwfl_Module *mod)
{
	Dwarf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	if (!elf)
		return 0;
	size_t cap = 0;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		if (!sh || !(sh->sh_flags & SHF_ALLOC))
			continue;
		if (t->nsections == cap) {
			cap = cap ? cap * 2 : 32;
			struct section *n = realloc(t->sections, cap * sizeof(*n));
			if (!n)
				return -1;
			t->sections = n;
		}
		t->sections[t->nsections++] = (struct section){
			sh->sh_addr + bias, sh->sh_addr + bias + sh->sh_size, (uint32_t)elf_ndxscn(scn),
		};
	}
	if (t->nsections > 1)
		qsort(t->sections, t->nsections, sizeof(*t->sections), section_cmp);
	return 0;
}

/* The index of the section holding addr (its end counts as inside unless the next
 * section starts there), or SHN_UNDEF. */
static uint32_t section_of(const elfsyms_t *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nsections;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct section *s = &t->sections[mid];
		if (addr < s->start)
			hi = mid;
		else if (addr > s->end)
			lo = mid + 1;
		else {
			if (addr == s->end && mid + 1 < t->nsections &&
			    t->sections[mid + 1].start == addr)
				mid++;
			return t->sections[mid].ndx;
		}
	}
	return SHN_UNDEF;
}

static int read_symbols(elfsyms_t *t, Dwfl_Module *mod)
{
	int n = dwfl_module_getsymtab(mod);
	int first_global = dwfl_module_getsymtab_first_global(mod);
	if (n <= 0 || first_global < 0)
		return 0;
	t->syms = calloc((size_t)n, sizeof(*t->syms));
	if (!t->syms)
		return -1;
	int gstart = first_global == 0 ? 1 : first_global;
	t->have_locals = first_global > 1;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr value;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &value, &shndx, NULL, NULL);
		bool local = i < gstart;
		if (!eligible(name, &sym) || (local && !t->have_locals))
			continue;
		t->syms[t->nsyms++] = (struct esym){
			.value = value, .size = sym.st_size, .name = name, .shndx = shndx,
			.bind = GELF_ST_BIND(sym.st_info), .local = local,
			.rank = local ? (uint32_t)(n - gstart + i) : (uint32_t)(i - gstart),
		};
		if (sym.st_size)
			t->nsized++;
	}
	return 0;
}

static int build_index(elfsyms_t *t)
{
	if (t->nsyms > 1)
		qsort(t->syms, t->nsyms, sizeof(*t->syms), esym_cmp);
	t->maxend_global = malloc((t->nsyms + 1) * sizeof(uint64_t));
	t->maxend_all = malloc((t->nsyms + 1) * sizeof(uint64_t));
	t->sized = malloc((t->nsized + 1) * sizeof(*t->sized));
	if (!t->maxend_global || !t->maxend_all || !t->sized)
		return -1;
	uint64_t mg = 0, ma = 0;
	size_t k = 0;
	for (size_t i = 0; i < t->nsyms; i++) {
		const struct esym *s = &t->syms[i];
		uint64_t end = s->value + s->size;
		if (end > ma)
			ma = end;
		if (!s->local && end > mg)
			mg = end;
		t->maxend_global[i] = mg;
		t->maxend_all[i] = ma;
		if (s->size)
			t->sized[k++] = (struct interval){ .lo = s->value, .hi = end, .id = (uint32_t)i };
	}
	intervals_sort(t->sized, t->nsized);
	return 0;
}

elfsyms_t *elfsyms_new(Dwfl_Module *mod)
{
	elfsyms_t *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->mod = mod;
	if (read_sections(t, mod) < 0 || read_symbols(t, mod) < 0 || build_index(t) < 0) {
		elfsyms_free(t);
		return NULL;
	}
	return t;
}

void elfsyms_free(elfsyms_t *t)
{
	if (!t)
		return;
	free(t->syms);
	free(t->maxend_global);
	free(t->maxend_all);
	free(t->sized);
	free(t->sections);
	free(t);
}

size_t elfsyms_memory(const elfsyms_t *t)
{
	return sizeof(*t) + t->nsyms * (sizeof(*t->syms) + 2 * sizeof(uint64_t)) +
	       t->nsized * sizeof(*t->sized) + t->nsections * sizeof(*t->sections);
}

static int binding_value(uint8_t bind)
{
	return bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : bind == STB_LOCAL ? 1 : 0;
}

/* Whether s replaces best (NULL: none yet) in libdwfl's scan of sized symbols. */
static bool sized_better(const struct esym *best, const struct esym *s)
{
	if (!best || best->value < s->value || binding_value(best->bind) < binding_value(s->bind))
		return true;
	return best->value == s->value && best->size > s->size &&
	       binding_value(best->bind) <= binding_value(s->bind);
}

/* The sized symbol of one part of the scan (locals or globals) holding addr: the
 * candidates replayed in scan order.  Returns NULL when there is none; sets
 * *overflow when there were too many candidates to replay. */
static const struct esym *sized_pick(const elfsyms_t *t, uint64_t addr, bool local,
				     bool *overflow)
{
	const struct esym *cand[MAX_CANDIDATES];
	size_t n = 0;
	for (size_t i = intervals_upper(t->sized, t->nsized, addr);
	     i-- > 0 && t->sized[i].maxhi > addr;) {
		const struct esym *s = &t->syms[t->sized[i].id];
		if (t->sized[i].hi <= addr || s->local != local)
			continue;
		if (n == MAX_CANDIDATES) {
			*overflow = true;
			return NULL;
		}
		/* Insertion by rank: the candidates are few. */
		size_t j = n++;
		for (; j > 0 && cand[j - 1]->rank > s->rank; j--)
			cand[j] = cand[j - 1];
		cand[j] = s;
	}
	const struct esym *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (sized_better(best, cand[i]))
			best = cand[i];
	return best;
}

/* The number of symbols with a value below (or, inclusive, up to) value. */
static size_t syms_below(const elfsyms_t *t, uint64_t value, bool inclusive)
{
	size_t lo = 0, hi = t->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].value < value || (inclusive && t->syms[mid].value == value))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool same_section(const elfsyms_t *t, const struct esym *s, uint64_t addr)
{
	if (s->shndx >= SHN_LORESERVE)
		return s->value == addr;
	return section_of(t, s->value) == section_of(t, addr);
}

/* The last-scanned sizeless symbol at value in addr's section, among the globals or
 * everything; NULL when none. */
static const struct esym *sizeless_at(const elfsyms_t *t, uint64_t value, uint64_t addr,
				      bool globals_only)
{
	const struct esym *best = NULL;
	for (size_t i = syms_below(t, value, false); i < t->nsyms && t->syms[i].value == value;
	     i++) {
		const struct esym *s = &t->syms[i];
		if (s->size || (globals_only && s->local) || !same_section(t, s, addr))
			continue;
		if (!best || s->rank > best->rank)
			best = s;
	}
	return best;
}

/* The symbol for addr, or NULL with *fallback when only libdwfl's own scan can tell. */
static const struct esym *lookup(const elfsyms_t *t, Dwarf_Addr addr, bool *fallback)
{
	bool overflow = false;
	*fallback = false;
	const struct esym *s = sized_pick(t, addr, false, &overflow);
	if (s)
		return s;
	/* libdwfl skips the locals when a global label sits exactly at addr. */
	bool globals_only = !t->have_locals || sizeless_at(t, addr, addr, true);
	if (!globals_only && (s = sized_pick(t, addr, true, &overflow)))
		return s;
	if (overflow) {
		*fallback = true;
		return NULL;
	}
	/* No sized symbol: a label counts only at the end of everything below addr. */
	size_t upper = syms_below(t, addr, true);
	if (upper == 0)
		return NULL;
	uint64_t min_label = globals_only ? t->maxend_global[upper - 1] : t->maxend_all[upper - 1];
	return sizeless_at(t, min_label, addr, globals_only);
}

const char *elfsyms_lookup(const elfsyms_t *t, Dwarf_Addr addr)
{
	bool fallback;
	const struct esym *s = lookup(t, addr, &fallback);
	if (fallback)
		return dwfl_module_addrname(t->mod, addr);
	return s ? s->name : NULL;
}

const char *elfsyms_named_at(const elfsyms_t *t, Dwarf_Addr addr, Dwarf_Addr start)
{
	bool fallback;
	const struct esym *s = lookup(t, addr, &fallback);
	return s && s->value == start ? s->name : NULL;
}
