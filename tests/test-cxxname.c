/* test-cxxname.c - cxxname_qualified() and cxxname_short() on real demangled names
 * (c++filt's output for symbols of libstdc++ and of small programs). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "checkmain.h"

struct name_case {
	const char *demangled, *qualified, *shortened;
};

static const struct name_case cases[] = {
	/* C names and plain C++ functions. */
	{ "xmalloc", "xmalloc", "xmalloc" },
	{ "main", "main", "main" },
	{ "g_malloc0_n", "g_malloc0_n", "g_malloc0_n" },
	{ "foo(int)", "foo", "foo" },
	{ "ns::Cls::method(char const*, unsigned long) const", "ns::Cls::method",
	  "ns::Cls::method" },
	{ "A::~A()", "A::~A", "A::~A" },
	{ "A::A()", "A::A", "A::A" },
	{ "bar(int (*)())", "bar", "bar" },
	/* Return types, nested template arguments. */
	{ "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>("
	  "__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, "
	  "int const&)",
	  "std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>",
	  "std::vector<\xe2\x80\xa6>::_M_realloc_insert<\xe2\x80\xa6>" },
	{ "std::vector<int, std::allocator<int> >::push_back(int const&)",
	  "std::vector<int, std::allocator<int> >::push_back", "std::vector<\xe2\x80\xa6>::push_back" },
	{ "void Foo<int>::bar<char>(char)", "Foo<int>::bar<char>",
	  "Foo<\xe2\x80\xa6>::bar<\xe2\x80\xa6>" },
	{ "void foo<3>()", "foo<3>", "foo<\xe2\x80\xa6>" },
	{ "void foo<>()", "foo<>", "foo<>" },
	{ "std::_Sp_counted_base<(__gnu_cxx::_Lock_policy)2>::_M_release()",
	  "std::_Sp_counted_base<(__gnu_cxx::_Lock_policy)2>::_M_release",
	  "std::_Sp_counted_base<\xe2\x80\xa6>::_M_release" },
	{ "std::_Rb_tree_iterator<std::pair<int const, std::__cxx11::basic_string<char, "
	  "std::char_traits<char>, std::allocator<char> > > > std::_Rb_tree<int, std::pair<int "
	  "const, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> "
	  "> >, std::less<int> >::_M_emplace_hint_unique<std::piecewise_construct_t const&, "
	  "std::tuple<int const&>, std::tuple<> >(std::_Rb_tree_const_iterator<std::pair<int "
	  "const, int> >, std::piecewise_construct_t const&, std::tuple<int const&>&&, "
	  "std::tuple<>&&)",
	  "std::_Rb_tree<int, std::pair<int const, std::__cxx11::basic_string<char, "
	  "std::char_traits<char>, std::allocator<char> > >, std::less<int> "
	  ">::_M_emplace_hint_unique<std::piecewise_construct_t const&, std::tuple<int const&>, "
	  "std::tuple<> >",
	  "std::_Rb_tree<\xe2\x80\xa6>::_M_emplace_hint_unique<\xe2\x80\xa6>" },
	{ "__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)",
	  "__gnu_cxx::new_allocator<int>::allocate", "__gnu_cxx::new_allocator<\xe2\x80\xa6>::allocate" },
	/* Function pointers and function types in template arguments. */
	{ "void std::__invoke_impl<void, void (*)(int), int>(std::__invoke_other, "
	  "void (*&&)(int), int&&)",
	  "std::__invoke_impl<void, void (*)(int), int>", "std::__invoke_impl<\xe2\x80\xa6>" },
	{ "std::function<void (int)>::operator()(int) const", "std::function<void (int)>::operator()",
	  "std::function<\xe2\x80\xa6>::operator()" },
	/* Operators. */
	{ "operator new(unsigned long)", "operator new", "operator new" },
	{ "operator new[](unsigned long, std::nothrow_t const&)", "operator new[]",
	  "operator new[]" },
	{ "operator delete[](void*)", "operator delete[]", "operator delete[]" },
	{ "std::basic_ostream<char, std::char_traits<char> >& std::operator<< "
	  "<std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, "
	  "char const*)",
	  "std::operator<< <std::char_traits<char> >", "std::operator<< <\xe2\x80\xa6>" },
	{ "std::ostream::operator<<(int)", "std::ostream::operator<<", "std::ostream::operator<<" },
	{ "Foo::operator()()", "Foo::operator()", "Foo::operator()" },
	{ "Foo::operator[](int)", "Foo::operator[]", "Foo::operator[]" },
	{ "Foo::operator<(Foo const&)", "Foo::operator<", "Foo::operator<" },
	{ "Foo::operator>(Foo const&)", "Foo::operator>", "Foo::operator>" },
	{ "Foo::operator<=>(Foo const&)", "Foo::operator<=>", "Foo::operator<=>" },
	{ "Foo::operator>>=(int)", "Foo::operator>>=", "Foo::operator>>=" },
	{ "Foo::operator->()", "Foo::operator->", "Foo::operator->" },
	{ "Foo::operator->*()", "Foo::operator->*", "Foo::operator->*" },
	{ "Foo::operator=(Foo&&)", "Foo::operator=", "Foo::operator=" },
	{ "Foo::operator,(Foo const&)", "Foo::operator,", "Foo::operator," },
	{ "std::less<int>::operator()(int const&, int const&) const",
	  "std::less<int>::operator()", "std::less<\xe2\x80\xa6>::operator()" },
	{ "operator\"\" _km(unsigned long long)", "operator\"\" _km", "operator\"\" _km" },
	/* Conversion operators. */
	{ "Foo::operator bool() const", "Foo::operator bool", "Foo::operator bool" },
	{ "Foo::operator std::vector<int, std::allocator<int> >() const",
	  "Foo::operator std::vector<int, std::allocator<int> >",
	  "Foo::operator std::vector<\xe2\x80\xa6>" },
	{ "Foo::operator char const*() const", "Foo::operator char const*",
	  "Foo::operator char const*" },
	/* Lambdas, local entities, anonymous namespaces. */
	{ "main::{lambda(int)#1}::operator()(int) const", "main::{lambda(int)#1}::operator()",
	  "main::{lambda(int)#1}::operator()" },
	{ "foo(int)::{lambda()#1}::operator()() const", "foo(int)::{lambda()#1}::operator()",
	  "foo(int)::{lambda()#1}::operator()" },
	{ "main::{lambda()#1}::operator()() const::{lambda(int)#1}::operator()(int) const",
	  "main::{lambda()#1}::operator()() const::{lambda(int)#1}::operator()",
	  "main::{lambda()#1}::operator()() const::{lambda(int)#1}::operator()" },
	{ "use(std::vector<int, std::allocator<int> >&)::{lambda(std::pair<int, int>)#2}::"
	  "operator()(std::pair<int, int>) const",
	  "use(std::vector<int, std::allocator<int> >&)::{lambda(std::pair<int, int>)#2}::"
	  "operator()",
	  "use(std::vector<\xe2\x80\xa6>&)::{lambda(std::pair<\xe2\x80\xa6>)#2}::operator()" },
	{ "(anonymous namespace)::helper(int)", "(anonymous namespace)::helper",
	  "(anonymous namespace)::helper" },
	{ "void (anonymous namespace)::Pool<int>::grow<4>(unsigned long)",
	  "(anonymous namespace)::Pool<int>::grow<4>",
	  "(anonymous namespace)::Pool<\xe2\x80\xa6>::grow<\xe2\x80\xa6>" },
	{ "{unnamed type#1}::get() const", "{unnamed type#1}::get", "{unnamed type#1}::get" },
	/* ABI tags, qualifiers, clones, decltype return types. */
	{ "std::__cxx11::to_string[abi:cxx11](int)", "std::__cxx11::to_string[abi:cxx11]",
	  "std::__cxx11::to_string" },
	{ "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> "
	  ">::_M_create(unsigned long&, unsigned long)",
	  "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> "
	  ">::_M_create",
	  "std::__cxx11::basic_string<\xe2\x80\xa6>::_M_create" },
	{ "Widget::name[abi:cxx11]() const &&", "Widget::name[abi:cxx11]", "Widget::name" },
	{ "Widget::run() volatile noexcept", "Widget::run", "Widget::run" },
	{ "func() [clone .cold]", "func", "func" },
	{ "Foo::bar(int) [clone .isra.0] [clone .cold]", "Foo::bar", "Foo::bar" },
	{ "main.cold", "main.cold", "main.cold" },
	{ "decltype (bar({parm#1})) foo<int>(int)", "foo<int>", "foo<\xe2\x80\xa6>" },
	{ "decltype(bar({parm#1})) foo<int>(int)", "foo<int>", "foo<\xe2\x80\xa6>" },
	{ "void (*signal_of(int))(int)", "signal_of", "signal_of" },
	/* Unbalanced: returned whole. */
	{ "broken<int(", "broken<int(", "broken<int(" },
	/* No name after "::" (from a file: anything goes), whole. */
	{ "::", "::", "::" },
	{ "::>", "::>", "::>" },
	{ "()()#1}::", "()()#1}::", "()()#1}::" },
	{ "", "", "" },
};

START_TEST(qualified_names)
{
	const struct name_case *c = &cases[_i];
	size_t off, len;
	cxxname_qualified(c->demangled, &off, &len);
	char *q = strndup(c->demangled + off, len);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(q, c->qualified);
	free(q);
}
END_TEST

START_TEST(short_names)
{
	const struct name_case *c = &cases[_i];
	char *s = cxxname_short(c->demangled);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, c->shortened);
	free(s);
}
END_TEST

/* Deep nesting and long names neither crash nor read past the end. */
START_TEST(deep_and_long)
{
	size_t n = 100000;
	char *s = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "f");
	for (size_t i = 0; i < n; i++)
		strcat(s + i, "<");
	size_t len = strlen(s);
	for (size_t i = 0; i < n; i++)
		s[len + i] = '>';
	strcpy(s + len + n, "()");
	size_t off, qlen;
	cxxname_qualified(s, &off, &qlen);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(qlen, strlen(s)); /* too deep: whole */
	char *sh = cxxname_short(s);
	ck_assert_ptr_nonnull(sh);
	ck_assert_str_eq(sh, s);
	free(sh);
	free(s);

	/* Each "operator <" nested in the one before: the conversion operator's type is
	 * read as a group, the group's operator as an operator, one level each. */
	n = 30000;
	s = malloc(n * strlen("operator <") + 1);
	ck_assert_ptr_nonnull(s);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcpy(s + i * strlen("operator <"), "operator <");
	cxxname_qualified(s, &off, &qlen);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(qlen, strlen(s));
	sh = cxxname_short(s);
	ck_assert_ptr_nonnull(sh);
	ck_assert_str_eq(sh, s);
	free(sh);
	free(s);
}
END_TEST

/* Every prefix of every case: no read past the terminator (ASan checks), a span
 * inside the string. */
START_TEST(prefixes)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t n = strlen(cases[k].demangled);
		for (size_t cut = 0; cut <= n; cut++) {
			char *p = strndup(cases[k].demangled, cut);
			size_t off, len;
			cxxname_qualified(p, &off, &len);
			ck_assert_uint_le(off + len, cut);
			free(cxxname_short(p));
			free(p);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cxxname");
	TCase *tc = tcase_create("cxxname");
	int n = (int)(sizeof(cases) / sizeof(cases[0]));
	tcase_add_loop_test(tc, qualified_names, 0, n);
	tcase_add_loop_test(tc, short_names, 0, n);
	tcase_add_test(tc, deep_and_long);
	tcase_add_test(tc, prefixes);
	suite_add_tcase(s, tc);
	return check_run(s);
}
