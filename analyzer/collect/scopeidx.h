/* scopeidx.h - a module's compilation units and function scopes, indexed once, for
 * finding the inlined-function chain of an address by binary search.
 *
 * dwarf_getscopes() walks a whole compilation unit for every address.  Here each unit
 * is walked once, the first time an address falls in it, the same way (scope DIEs
 * only, pruned where a DIE has no address ranges, imported units walked in place),
 * and every DIE with ranges is kept with its parent; an address then descends from
 * the unit through the first child holding it, as the walk would.  Units are found
 * through .debug_aranges, or, for binaries without it (clang emits none), through a
 * table of every unit's ranges built on first need.
 */
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stddef.h>

typedef struct scopeidx scopeidx_t;

/* Returns an empty index over mod's DWARF, or NULL when out of memory.  DIEs point
 * into mod's data: the index must be freed before the Dwfl session ends. */
scopeidx_t *scopeidx_new(Dwfl_Module *mod);
void scopeidx_free(scopeidx_t *x);

/* The compilation unit holding addr (a Dwfl address), with its bias in *bias; NULL
 * when none does. */
Dwarf_Die *scopeidx_cu(scopeidx_t *x, Dwarf_Addr addr, Dwarf_Addr *bias);

/* Stores in out[0..max) the function DIEs whose scope holds pc (an address of cudie's
 * DWARF): DW_TAG_inlined_subroutine entries from the innermost out, and last the
 * DW_TAG_subprogram holding them, as dwarf_getscopes() followed by
 * dwarf_getscopes_die() would list them.  Returns the count, or -ENOMEM. */
int scopeidx_functions(scopeidx_t *x, Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die *out,
		       int max);

/* Writes to out the qualified name of function DIE fn (a subprogram or an inlined
 * call, of cudie) that has no linkage name: its namespaces, classes and enclosing
 * functions from its declaration's place in the unit, "::"-joined, GCC's
 * "<lambda(int)>" written as the demangler's "{lambda(int)}" (without its number).
 * Returns 1, 0 when there is nothing to add (not C++, no enclosing scope, declared
 * in another unit, longer than len), or -ENOMEM. */
int scopeidx_qualified(scopeidx_t *x, Dwarf_Die *cudie, Dwarf_Die *fn, char *out, size_t len);

/* Bytes the index holds. */
size_t scopeidx_memory(const scopeidx_t *x);
