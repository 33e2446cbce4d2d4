/* scopeidx.c - per-unit index of scope DIEs (see scopeidx.h).
 *
 * A unit's index is a node per DIE with address ranges (its DIE, tag and parent node,
 * numbered in walk order) and, per parent, its children's ranges as sorted intervals.
 * The lookup starts at the unit and repeatedly takes the child holding pc that came
 * first in the walk: that is the DIE dwarf_getscopes() reaches, which prunes every DIE
 * not holding pc and stops at the first innermost match.
 */
#include "scopeidx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "dwlib.h"
#include "intervals.h"
#include "vec.h"

#define MAX_DEPTH 128

struct snode {
	Dwarf_Die die;
	int32_t parent; /* -1: the unit */
	int tag;
};

/* A declaration scope of a unit (namespace, class, function...), for qualifying the
 * names of functions that have no linkage name. */
struct decl {
	Dwarf_Die die;
	int32_t parent; /* index in decls, -1: the unit */
};

struct unit {
	Dwarf_Off key;          /* the unit DIE's offset */
	struct decl *decls;     /* in offset order; built on first need */
	uint32_t ndecls;
	size_t decls_cap;
	bool decls_built;
	struct snode *nodes;
	uint32_t nnodes;
	size_t nodes_cap;
	struct interval *iv;    /* grouped by parent, each group sorted */
	uint32_t *group;        /* while building: iv[i]'s parent + 1 */
	size_t niv, iv_cap;
	uint32_t *group_start;  /* nnodes + 2 entries: group g is iv[start[g]..start[g+1]) */
	UT_hash_handle hh;
};

struct scopeidx {
	Dwfl_Module *mod;
	struct unit *units;
	size_t bytes;
	/* Every unit's ranges, for modules without .debug_aranges. */
	bool cus_built;
	Dwarf_Die **cus;
	struct interval *cu_iv;
	size_t ncus;
	Dwarf_Addr cu_bias;
};

scopeidx_t *scopeidx_new(Dwfl_Module *mod)
{
	scopeidx_t *x = calloc(1, sizeof(*x));
	if (x)
		x->mod = mod;
	return x;
}

static void unit_free(struct unit *u)
{
	free(u->decls);
	free(u->nodes);
	free(u->iv);
	free(u->group);
	free(u->group_start);
	free(u);
}

void scopeidx_free(scopeidx_t *x)
{
	if (!x)
		return;
	struct unit *u, *tmp;
	HASH_ITER(hh, x->units, u, tmp) {
		HASH_DEL(x->units, u);
		unit_free(u);
	}
	free(x->cus);
	free(x->cu_iv);
	free(x);
}

size_t scopeidx_memory(const scopeidx_t *x)
{
	return sizeof(*x) + x->bytes + x->ncus * (sizeof(*x->cus) + sizeof(*x->cu_iv));
}

/* ---- units ---- */

static int cus_build(scopeidx_t *x)
{
	x->cus_built = true;
	size_t cap = 0;
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias = 0;
	while ((cu = dwfl_module_nextcu(x->mod, cu, &bias))) {
		x->cu_bias = bias;
		ptrdiff_t off = 0;
		Dwarf_Addr base, start, end;
		while ((off = dwarf_ranges(cu, off, &base, &start, &end)) > 0) {
			if (x->ncus == cap) {
				cap = cap ? cap * 2 : 256;
				struct interval *iv = realloc(x->cu_iv, cap * sizeof(*iv));
				Dwarf_Die **c = iv ? realloc(x->cus, cap * sizeof(*c)) : NULL;
				if (iv)
					x->cu_iv = iv;
				if (!c)
					return -ENOMEM;
				x->cus = c;
			}
			/* One entry per range; id orders units as dwfl_module_nextcu() does. */
			x->cus[x->ncus] = cu;
			x->cu_iv[x->ncus] = (struct interval){ .lo = start, .hi = end,
							       .id = (uint32_t)x->ncus };
			x->ncus++;
		}
	}
	intervals_sort(x->cu_iv, x->ncus);
	return 0;
}

Dwarf_Die *scopeidx_cu(scopeidx_t *x, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	/* libdw's answer can be a unit whose ranges do not hold addr: an -O2 C++ unit
	 * with main in .text.startup, for a function of another, built without -g,
	 * linked between main and the unit's .text.  Its line table then named a
	 * libstdc++ header for that function, which hid it as runtime code. */
	Dwarf_Die *cu = dwfl_module_addrdie(x->mod, addr, bias);
	if (cu && dwarf_haspc(cu, addr - *bias) == 1)
		return cu;
	if (!x->cus_built && cus_build(x) < 0)
		return NULL;
	uint32_t id = intervals_first(x->cu_iv, x->ncus, addr - x->cu_bias);
	if (id == INTERVAL_NONE)
		return NULL;
	*bias = x->cu_bias;
	return x->cus[id];
}

/* ---- scopes of a unit ---- */

static bool may_have_scopes(int tag)
{
	switch (tag) {
	case DW_TAG_compile_unit:
	case DW_TAG_module:
	case DW_TAG_lexical_block:
	case DW_TAG_with_stmt:
	case DW_TAG_catch_block:
	case DW_TAG_try_block:
	case DW_TAG_entry_point:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_subprogram:
	case DW_TAG_namespace:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
		return true;
	default:
		return false;
	}
}

static int add_range(struct unit *u, int32_t parent, uint64_t lo, uint64_t hi)
{
	if (u->niv == u->iv_cap) {
		size_t cap = u->iv_cap ? u->iv_cap * 2 : 64;
		struct interval *iv = realloc(u->iv, cap * sizeof(*iv));
		uint32_t *g = iv ? realloc(u->group, cap * sizeof(*g)) : NULL;
		if (iv)
			u->iv = iv;
		if (!g)
			return -ENOMEM;
		u->group = g;
		u->iv_cap = cap;
	}
	u->iv[u->niv] = (struct interval){ .lo = lo, .hi = hi, .id = u->nnodes };
	u->group[u->niv++] = (uint32_t)(parent + 1);
	return 0;
}

static int walk_children(struct unit *u, Dwarf_Die *die, int32_t parent, int depth);

/* Adds die when it has address ranges, and its subtree when it may hold scopes. */
static int visit(struct unit *u, Dwarf_Die *die, int32_t parent, int depth)
{
	ptrdiff_t off = 0;
	Dwarf_Addr base, start, end;
	size_t before = u->niv;
	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0)
		if (start < end && add_range(u, parent, start, end) < 0)
			return -ENOMEM;
	if (u->niv == before) {
		/* A namespace has no addresses, but clang writes the functions defined in it
		 * inside it (GCC at the unit's level): its children are the unit's. */
		if (dwarf_tag(die) == DW_TAG_namespace && dwarf_haschildren(die) > 0)
			return walk_children(u, die, parent, depth + 1);
		return 0;
	}
	if (vec_reserve((void **)&u->nodes, &u->nodes_cap, (size_t)u->nnodes + 1,
			sizeof(*u->nodes)))
		return -ENOMEM;
	int32_t self = (int32_t)u->nnodes++;
	int tag = dwarf_tag(die);
	u->nodes[self] = (struct snode){ .die = *die, .parent = parent, .tag = tag };
	if (may_have_scopes(tag) && dwarf_haschildren(die) > 0)
		return walk_children(u, die, self, depth + 1);
	return 0;
}

/* Visits the children of die; an imported unit's children count as children here. */
static int walk_children(struct unit *u, Dwarf_Die *die, int32_t parent, int depth)
{
	Dwarf_Die child;
	if (depth > MAX_DEPTH || dwarf_child(die, &child) != 0)
		return 0;
	do {
		int r;
		if (dwarf_tag(&child) == DW_TAG_imported_unit) {
			Dwarf_Attribute attr;
			Dwarf_Die imported;
			if (!dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attr), &imported))
				continue;
			r = walk_children(u, &imported, parent, depth + 1);
		} else {
			r = visit(u, &child, parent, depth);
		}
		if (r < 0)
			return r;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

/* Groups the ranges by parent (a counting sort) and sorts each group. */
static int unit_group(struct unit *u)
{
	size_t ngroups = (size_t)u->nnodes + 1;
	u->group_start = calloc(ngroups + 1, sizeof(uint32_t));
	struct interval *sorted = malloc((u->niv + 1) * sizeof(*sorted));
	if (!u->group_start || !sorted) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < u->niv; i++)
		u->group_start[u->group[i] + 1]++;
	for (size_t g = 0; g < ngroups; g++)
		u->group_start[g + 1] += u->group_start[g];
	for (size_t i = 0; i < u->niv; i++)
		sorted[u->group_start[u->group[i]]++] = u->iv[i];
	/* The scatter moved each start to its group's end: shift back. */
	for (size_t g = ngroups; g > 0; g--)
		u->group_start[g] = u->group_start[g - 1];
	u->group_start[0] = 0;
	for (size_t g = 0; g < ngroups; g++)
		intervals_sort(sorted + u->group_start[g], u->group_start[g + 1] - u->group_start[g]);
	free(u->iv);
	free(u->group);
	u->group = NULL;
	u->iv = sorted;
	return 0;
}

static struct unit *unit_get(scopeidx_t *x, Dwarf_Die *cudie)
{
	Dwarf_Off key = dwarf_dieoffset(cudie);
	struct unit *u;
	HASH_FIND(hh, x->units, &key, sizeof(key), u);
	if (u)
		return u;
	if (!(u = calloc(1, sizeof(*u))))
		return NULL;
	u->key = key;
	if (walk_children(u, cudie, -1, 0) < 0 || unit_group(u) < 0) {
		unit_free(u);
		return NULL;
	}
	x->bytes += sizeof(*u) + u->nodes_cap * sizeof(*u->nodes) +
		    u->niv * sizeof(*u->iv) + (u->nnodes + 2) * sizeof(uint32_t);
	HASH_ADD(hh, x->units, key, sizeof(u->key), u);
	return u;
}

int scopeidx_functions(scopeidx_t *x, Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die *out,
		       int max)
{
	struct unit *u = unit_get(x, cudie);
	if (!u)
		return -ENOMEM;
	int32_t cur = -1;
	for (;;) {
		uint32_t g = (uint32_t)(cur + 1), b = u->group_start[g];
		uint32_t id = intervals_first(u->iv + b, u->group_start[g + 1] - b, pc);
		if (id == INTERVAL_NONE)
			break;
		cur = (int32_t)id;
	}
	int n = 0;
	for (; cur >= 0 && n < max; cur = u->nodes[cur].parent) {
		int tag = u->nodes[cur].tag;
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		out[n++] = u->nodes[cur].die;
		if (tag == DW_TAG_subprogram)
			break;
	}
	return n;
}

/* ---- qualified names ---- */

static bool is_decl_scope(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
	       tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
	       tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block;
}

/* Records die's declaration scopes under parent, in offset order (a preorder walk). */
static int decls_walk(struct unit *u, Dwarf_Die *die, int32_t parent, int depth)
{
	Dwarf_Die child;
	if (depth > MAX_DEPTH || dwarf_child(die, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);
		if (!is_decl_scope(tag))
			continue;
		if (vec_reserve((void **)&u->decls, &u->decls_cap, (size_t)u->ndecls + 1,
				sizeof(*u->decls)))
			return -ENOMEM;
		int32_t self = (int32_t)u->ndecls++;
		u->decls[self] = (struct decl){ .die = child, .parent = parent };
		if (dwarf_haschildren(&child) > 0 && decls_walk(u, &child, self, depth + 1) < 0)
			return -ENOMEM;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int32_t decl_find(const struct unit *u, Dwarf_Off off)
{
	uint32_t lo = 0, hi = u->ndecls;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		Dwarf_Off at = dwarf_dieoffset((Dwarf_Die *)&u->decls[mid].die);
		if (at == off)
			return (int32_t)mid;
		if (at < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	return dwarf_formstring(dwarf_attr(die, DW_AT_name, &attr));
}

/* Whether class die, which has no name, is a lambda's closure type: GCC names it
 * neither, but its call operator is its member. */
static bool is_closure(Dwarf_Die *die)
{
	Dwarf_Die child;
	if (dwarf_child(die, &child) != 0)
		return false;
	do {
		const char *name = dwarf_tag(&child) == DW_TAG_subprogram ? die_name(&child) : NULL;
		if (name && !strncmp(name, "operator()", 10))
			return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

/* Appends the name of scope d (with its own scopes first) to out[*at..len); false when
 * it does not fit. */
static bool put_scope(const struct unit *u, int32_t d, char *out, size_t len, size_t *at,
		      int depth)
{
	if (d < 0)
		return true;
	if (depth > MAX_DEPTH || !put_scope(u, u->decls[d].parent, out, len, at, depth + 1))
		return false;
	Dwarf_Die *die = (Dwarf_Die *)&u->decls[d].die;
	int tag = dwarf_tag(die);
	if (tag == DW_TAG_lexical_block)
		return true;
	const char *name = die_name(die);
	int n;
	if (tag == DW_TAG_namespace && !name)
		n = snprintf(out + *at, len - *at, "(anonymous namespace)::");
	else if (!name)
		n = snprintf(out + *at, len - *at, "%s::",
			     is_closure(die) ? "{lambda}" : "{unnamed type}");
	else if (!strncmp(name, "<lambda", 7) && name[strlen(name) - 1] == '>')
		n = snprintf(out + *at, len - *at, "{%.*s}::", (int)strlen(name) - 2, name + 1);
	else
		n = snprintf(out + *at, len - *at, "%s::", name);
	if (n < 0 || (size_t)n >= len - *at)
		return false;
	*at += (size_t)n;
	return true;
}

/* The DIE that names fn's scope: through its abstract origin, then its declaration. */
static void declaration_of(Dwarf_Die *fn, Dwarf_Die *out)
{
	*out = *fn;
	for (int i = 0; i < 4; i++) {
		Dwarf_Attribute attr;
		Dwarf_Die next;
		if ((dwarf_attr(out, DW_AT_abstract_origin, &attr) ||
		     dwarf_attr(out, DW_AT_specification, &attr)) &&
		    dwarf_formref_die(&attr, &next))
			*out = next;
		else
			return;
	}
}

int scopeidx_qualified(scopeidx_t *x, Dwarf_Die *cudie, Dwarf_Die *fn, char *out, size_t len)
{
	Dwarf_Attribute attr;
	Dwarf_Word lang;
	if (dwarf_formudata(dwarf_attr(cudie, DW_AT_language, &attr), &lang) != 0 ||
	    (lang != DW_LANG_C_plus_plus && lang != DW_LANG_C_plus_plus_03 &&
	     lang != DW_LANG_C_plus_plus_11 && lang != DW_LANG_C_plus_plus_14))
		return 0;
	struct unit *u = unit_get(x, cudie);
	if (!u)
		return -ENOMEM;
	if (!u->decls_built) {
		u->decls_built = true;
		if (decls_walk(u, cudie, -1, 0) < 0)
			return -ENOMEM;
		x->bytes += u->decls_cap * sizeof(*u->decls);
	}
	Dwarf_Die decl;
	declaration_of(fn, &decl);
	const char *name = die_name(&decl);
	int32_t d = name ? decl_find(u, dwarf_dieoffset(&decl)) : -1;
	/* Only a declaration of this unit, inside some scope (a unit-level name needs
	 * nothing more). */
	if (d < 0 || u->decls[d].parent < 0)
		return 0;
	size_t at = 0;
	if (!put_scope(u, u->decls[d].parent, out, len, &at, 0))
		return 0;
	int n = snprintf(out + at, len - at, "%s", name);
	return n >= 0 && (size_t)n < len - at ? 1 : 0;
}
