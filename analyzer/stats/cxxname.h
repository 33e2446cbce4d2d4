/* cxxname.h - reading demangled C++ function names: the qualified name, and a short form.
 *
 * A demangled name reads [RETURN-TYPE ] QUALIFIED-NAME[(PARAMETERS)][ QUALIFIERS][ [clone
 * .x]], as in
 *   void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(...)
 * whose qualified name is "std::vector<int, std::allocator<int> >::_M_realloc_insert<int
 * const&>" and whose short form is "std::vector<…>::_M_realloc_insert<…>".  A C name
 * ("xmalloc") is its own qualified name and short form.
 */
#pragma once

#include <stddef.h>

/* Finds the qualified name in the demangled name s: without the return type, the
 * parameter list and what follows it, but with the parameters of enclosing functions
 * of local entities ("f(int)::{lambda()#1}::operator()"), template arguments, ABI tags
 * and operator names.  Sets *off and *len to its place in s.  A name it cannot read
 * (unbalanced brackets) is returned whole. */
void cxxname_qualified(const char *s, size_t *off, size_t *len);

/* The qualified name of s with every template argument list shortened to "<…>" (an
 * empty "<>" stays) and ABI tags ("[abi:cxx11]") left out, as a malloc'd string; NULL
 * when out of memory. */
char *cxxname_short(const char *s);
