/* dwlib.h - libdw and libelf, loaded the first time a module is read with them.
 *
 * Linked in, they and what they need (liblzma, libbz2) were four of the eight
 * libraries every heapsnap command loaded: about 1 ms of each start, and of each
 * `heapsnap run` before its program could start.  Most commands never read an ELF
 * file, and with a warm symbol cache (symcache.h) neither does a collector.
 *
 * A file that calls them includes this header (before any use): each name below then
 * calls through dwlib, which dwlib_load() fills.  Only a file that has called
 * dwlib_load() successfully, or works on objects made after it, may call them.
 */
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>

#define DWLIB_SONAME "libdw.so.1"

#define DWLIB_FUNCTIONS(X) \
	X(dwarf_attr) \
	X(dwarf_attr_integrate) \
	X(dwarf_child) \
	X(dwarf_dieoffset) \
	X(dwarf_entrypc) \
	X(dwarf_filesrc) \
	X(dwarf_formref_die) \
	X(dwarf_formstring) \
	X(dwarf_formudata) \
	X(dwarf_getscopes) \
	X(dwarf_getsrc_die) \
	X(dwarf_getsrcfiles) \
	X(dwarf_haschildren) \
	X(dwarf_haspc) \
	X(dwarf_lineno) \
	X(dwarf_linesrc) \
	X(dwarf_ranges) \
	X(dwarf_siblingof) \
	X(dwarf_tag) \
	X(dwfl_begin) \
	X(dwfl_build_id_find_elf) \
	X(dwfl_end) \
	X(dwfl_module_addrdie) \
	X(dwfl_module_addrname) \
	X(dwfl_module_build_id) \
	X(dwfl_module_getelf) \
	X(dwfl_module_getsym_info) \
	X(dwfl_module_getsymtab) \
	X(dwfl_module_getsymtab_first_global) \
	X(dwfl_module_nextcu) \
	X(dwfl_offline_section_address) \
	X(dwfl_report_end) \
	X(dwfl_report_offline) \
	X(dwfl_standard_find_debuginfo) \
	X(elf_ndxscn) \
	X(elf_nextscn) \
	X(elf_version) \
	X(gelf_getshdr)

struct dwlib {
#define DWLIB_POINTER(f) __typeof__(f) *f;
	DWLIB_FUNCTIONS(DWLIB_POINTER)
#undef DWLIB_POINTER
	/* libdwfl's callbacks for files read offline (it keeps a pointer to them). */
	Dwfl_Callbacks offline;
};
extern struct dwlib dwlib;

/* Loads libdw (and with it libelf) once, in any thread.  Returns false, every time,
 * when it cannot be loaded or lacks a function: then nothing is read with them. */
bool dwlib_load(void);

#ifndef DWLIB_NO_NAMES
#define dwarf_attr (*dwlib.dwarf_attr)
#define dwarf_attr_integrate (*dwlib.dwarf_attr_integrate)
#define dwarf_child (*dwlib.dwarf_child)
#define dwarf_dieoffset (*dwlib.dwarf_dieoffset)
#define dwarf_entrypc (*dwlib.dwarf_entrypc)
#define dwarf_filesrc (*dwlib.dwarf_filesrc)
#define dwarf_formref_die (*dwlib.dwarf_formref_die)
#define dwarf_formstring (*dwlib.dwarf_formstring)
#define dwarf_formudata (*dwlib.dwarf_formudata)
#define dwarf_getscopes (*dwlib.dwarf_getscopes)
#define dwarf_getsrc_die (*dwlib.dwarf_getsrc_die)
#define dwarf_getsrcfiles (*dwlib.dwarf_getsrcfiles)
#define dwarf_haschildren (*dwlib.dwarf_haschildren)
#define dwarf_haspc (*dwlib.dwarf_haspc)
#define dwarf_lineno (*dwlib.dwarf_lineno)
#define dwarf_linesrc (*dwlib.dwarf_linesrc)
#define dwarf_ranges (*dwlib.dwarf_ranges)
#define dwarf_siblingof (*dwlib.dwarf_siblingof)
#define dwarf_tag (*dwlib.dwarf_tag)
#define dwfl_begin (*dwlib.dwfl_begin)
#define dwfl_build_id_find_elf (*dwlib.dwfl_build_id_find_elf)
#define dwfl_end (*dwlib.dwfl_end)
#define dwfl_module_addrdie (*dwlib.dwfl_module_addrdie)
#define dwfl_module_addrname (*dwlib.dwfl_module_addrname)
#define dwfl_module_build_id (*dwlib.dwfl_module_build_id)
#define dwfl_module_getelf (*dwlib.dwfl_module_getelf)
#define dwfl_module_getsym_info (*dwlib.dwfl_module_getsym_info)
#define dwfl_module_getsymtab (*dwlib.dwfl_module_getsymtab)
#define dwfl_module_getsymtab_first_global (*dwlib.dwfl_module_getsymtab_first_global)
#define dwfl_module_nextcu (*dwlib.dwfl_module_nextcu)
#define dwfl_offline_section_address (*dwlib.dwfl_offline_section_address)
#define dwfl_report_end (*dwlib.dwfl_report_end)
#define dwfl_report_offline (*dwlib.dwfl_report_offline)
#define dwfl_standard_find_debuginfo (*dwlib.dwfl_standard_find_debuginfo)
#define elf_ndxscn (*dwlib.elf_ndxscn)
#define elf_nextscn (*dwlib.elf_nextscn)
#define elf_version (*dwlib.elf_version)
#define gelf_getshdr (*dwlib.gelf_getshdr)
#endif
