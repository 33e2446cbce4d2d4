/* elfsyms.h - a module's symbol table, sorted once, answering "which function holds
 * this address" by binary search.
 *
 * The answer is the one dwfl_module_addrname() gives, which scans the whole table for
 * every address: the symbols come from the same place (dwfl_module_getsym_info(): the
 * .symtab, else .dynsym, plus a MiniDebugInfo table) and the choice follows the same
 * rules (globals before locals; among sized symbols holding the address the closest
 * start, then the stronger binding, then the smaller size; failing those, a sizeless
 * label at the end of everything below the address, in the address's section).
 */
#pragma once

#include <elfutils/libdwfl.h>
#include <stddef.h>

typedef struct elfsyms elfsyms_t;

/* Reads and sorts mod's symbols.  Returns NULL when out of memory; a module without
 * symbols gives a table that finds nothing.  Names point into mod's ELF data: the
 * table must be freed before the Dwfl session ends. */
elfsyms_t *elfsyms_new(Dwfl_Module *mod);
void elfsyms_free(elfsyms_t *t);

/* The name of the symbol for addr (a Dwfl address of mod), or NULL. */
const char *elfsyms_lookup(const elfsyms_t *t, Dwarf_Addr addr);

/* The name of the symbol for addr when that symbol starts at start, else NULL. */
const char *elfsyms_named_at(const elfsyms_t *t, Dwarf_Addr addr, Dwarf_Addr start);

/* Bytes the table holds. */
size_t elfsyms_memory(const elfsyms_t *t);
