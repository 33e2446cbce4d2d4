/* cxxname.c - reading demangled C++ function names: the qualified name, and a short form.
 *
 * One left-to-right scan at nesting depth 0.  Brackets that may hold anything are
 * skipped as whole groups: template arguments <...>, parentheses, brackets and braces.
 * Inside a group only brackets count, and '<' '>' only directly inside template
 * arguments, so "(a>b)" and "void (*)(int)" need no special case.  Two things look like
 * brackets but are not: operator names ("operator<<", "operator()", "operator->*",
 * "operator new[]", conversions "operator bool"), consumed whole wherever they occur,
 * and "(anonymous namespace)", a name component.
 *
 * A qualified name is a chain of components (identifiers with their template arguments
 * and ABI tags, operator names, lambdas "{lambda(int)#1}") joined by "::".  Anything
 * else at depth 0 (a space, '*', '&') ends the chain: what came before was a return
 * type.  A parenthesised group right after a component is either the parameter list of
 * an enclosing function, when "::" follows it ("f(int)::{lambda()#1}"), or the
 * parameter list itself, which ends the name.
 */
#include "cxxname.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BAD SIZE_MAX
#define MAX_DEPTH 256
/* Operators whose names hold groups that hold operators, one in the next (each a
 * recursion): real names have two or three ("std::less<void>::operator()<...>"). */
#define MAX_OPERATOR_NESTING 16
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, "…" */

static bool is_ident(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c == '.' || c >= 0x80;
}

/* Whether the word w stands at s + i, not inside a longer identifier. */
static bool word_at(const char *s, size_t i, const char *w)
{
	size_t n = strlen(w);
	return (i == 0 || !is_ident((unsigned char)s[i - 1])) && !strncmp(s + i, w, n) &&
	       !is_ident((unsigned char)s[i + n]);
}

static const char *const op_symbols[] = {
	"<=>", "<<=", ">>=", "->*", "()", "[]", "<<", ">>", "<=", ">=", "->", "==", "!=",
	"&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
	"<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "=", ",",
};

static const char *const op_words[] = { "new[]", "delete[]", "new", "delete", "co_await" };

static size_t skip_group_in(const char *s, size_t i, unsigned level);

/* s + i is the word "operator": returns the end of the operator's name, or BAD.  A
 * conversion operator's name ends with its type, before the parameter list; *conversion
 * then tells where the type starts (0 for the other operators).  level counts the
 * groups and operators this one is nested in: a name is read from a file, and each
 * "operator <" of one nested in the next was a level of recursion more, without
 * bound. */
static size_t skip_operator_in(const char *s, size_t i, size_t *conversion, unsigned level)
{
	size_t j = i + strlen("operator");
	*conversion = 0;
	for (size_t k = 0; k < sizeof(op_symbols) / sizeof(op_symbols[0]); k++)
		if (!strncmp(s + j, op_symbols[k], strlen(op_symbols[k])))
			return j + strlen(op_symbols[k]);
	if (s[j] == '"') { /* a literal operator: operator"" _km */
		j += s[j + 1] == '"' ? 2 : 1;
		while (s[j] == ' ')
			j++;
		while (is_ident((unsigned char)s[j]))
			j++;
		return j;
	}
	if (s[j] != ' ')
		return j;
	j++;
	for (size_t k = 0; k < sizeof(op_words) / sizeof(op_words[0]); k++) {
		size_t n = strlen(op_words[k]);
		if (!strncmp(s + j, op_words[k], n) && !is_ident((unsigned char)s[j + n]))
			return j + n;
	}
	*conversion = j;
	while (s[j] && s[j] != '(' && s[j] != ')' && s[j] != ',' && s[j] != '>') {
		if (s[j] == '<' || s[j] == '[') {
			if ((j = skip_group_in(s, j, level + 1)) == BAD)
				return BAD;
		} else {
			j++;
		}
	}
	while (j > *conversion && s[j - 1] == ' ')
		j--;
	return j;
}

/* s[i] opens a group ('<', '(', '[' or '{'): returns the index past its closing
 * bracket, or BAD when it is not closed or nested too deep. */
static size_t skip_group_in(const char *s, size_t i, unsigned level)
{
	char stack[MAX_DEPTH];
	size_t depth = 0;
	if (level >= MAX_OPERATOR_NESTING)
		return BAD;
	for (; s[i]; i++) {
		char c = s[i], top = depth ? stack[depth - 1] : 0;
		if (c == '(' || c == '[' || c == '{' || (c == '<' && (!depth || top == '<'))) {
			if (depth == MAX_DEPTH)
				return BAD;
			stack[depth++] = c;
		} else if (c == ')' || c == ']' || c == '}' || (c == '>' && top == '<')) {
			char want = c == ')' ? '(' : c == ']' ? '[' : c == '}' ? '{' : '<';
			if (top != want)
				return BAD;
			if (--depth == 0)
				return i + 1;
		} else if (c == 'o' && word_at(s, i, "operator")) {
			size_t conv, e = skip_operator_in(s, i, &conv, level + 1);
			if (e == BAD)
				return BAD;
			i = e - 1;
		}
	}
	return BAD;
}

static size_t skip_group(const char *s, size_t i)
{
	return skip_group_in(s, i, 0);
}

static size_t skip_operator(const char *s, size_t i, size_t *conversion)
{
	return skip_operator_in(s, i, conversion, 0);
}

/* Skips spaces and the qualifiers that may follow a parameter list. */
static size_t skip_qualifiers(const char *s, size_t i)
{
	for (;;) {
		if (s[i] == ' ' || s[i] == '&')
			i++;
		else if (word_at(s, i, "const"))
			i += strlen("const");
		else if (word_at(s, i, "volatile"))
			i += strlen("volatile");
		else
			return i;
	}
}

/* The state of the scan of cxxname_qualified(). */
struct scan {
	const char *s;
	size_t i;
	size_t start, end; /* the current chain */
	bool comp;         /* the last token was a name component */
	bool colons;       /* the last token was "::" */
	bool op;           /* the last component was a symbol operator: "operator< <int>" */
	bool keyword;      /* the last component was decltype or the like: '(' is an operand */
};

/* Scans the component at sc->i, if one starts there: returns true having consumed it,
 * false when none starts there; *bad is set for unbalanced brackets. */
static bool scan_component(struct scan *sc, bool *bad)
{
	const char *s = sc->s;
	size_t i = sc->i, e = i;
	unsigned char c = (unsigned char)s[i];
	bool op = false, keyword = false;
	if (c == 'o' && word_at(s, i, "operator")) {
		size_t conv;
		e = skip_operator(s, i, &conv);
		op = !conv;
	} else if (is_ident(c) || (c == '~' && is_ident((unsigned char)s[i + 1]))) {
		e = i + 1;
		while (is_ident((unsigned char)s[e]))
			e++;
		keyword = word_at(s, i, "decltype") || word_at(s, i, "sizeof") ||
			  word_at(s, i, "alignof") || word_at(s, i, "typeof");
	} else if (c == '{' || (c == '(' && !strncmp(s + i, "(anonymous namespace)", 21))) {
		e = skip_group(s, i);
	} else {
		return false;
	}
	if (e == BAD) {
		*bad = true;
		return true;
	}
	if (!sc->colons)
		sc->start = i;
	sc->i = sc->end = e;
	sc->comp = true;
	sc->colons = false;
	sc->op = op;
	sc->keyword = keyword;
	return true;
}

/* Scans what follows a component at sc->i: template arguments, an ABI tag.  Returns
 * true having consumed one; *bad as scan_component(). */
static bool scan_suffix(struct scan *sc, bool *bad)
{
	const char *s = sc->s;
	size_t i = sc->i;
	if (sc->op && s[i] == ' ' && s[i + 1] == '<')
		i++;
	if (s[i] != '<' && !(s[i] == '[' && !strncmp(s + i, "[abi:", 5)))
		return false;
	size_t e = skip_group(s, i);
	if (e == BAD) {
		*bad = true;
		return true;
	}
	sc->i = sc->end = e;
	sc->op = false;
	return true;
}

void cxxname_qualified(const char *s, size_t *off, size_t *len)
{
	struct scan sc = { .s = s };
	size_t n = strlen(s);
	bool bad = false;
	while (sc.i < n && !bad) {
		if (sc.comp && scan_suffix(&sc, &bad))
			continue;
		if (s[sc.i] == ':' && s[sc.i + 1] == ':') {
			if (!sc.comp && !sc.colons)
				sc.start = sc.i + 2;
			sc.i += 2;
			sc.colons = true;
			sc.comp = false;
			continue;
		}
		if (scan_component(&sc, &bad))
			continue;
		if (s[sc.i] == '(' && !sc.comp && (s[sc.i + 1] == '*' || s[sc.i + 1] == '&')) {
			/* A declarator group, "void (*f(int))(char)": the name is inside. */
			sc.i++;
			sc.colons = false;
			continue;
		}
		size_t e = sc.i + 1;
		if (strchr("<([{", s[sc.i]) && (e = skip_group(s, sc.i)) == BAD)
			break;
		if (s[sc.i] == '(' && sc.comp && !sc.keyword) {
			size_t q = skip_qualifiers(s, e);
			if (s[q] == ':' && s[q + 1] == ':') { /* a local entity's scope */
				sc.i = q + 2;
				sc.colons = true;
				sc.comp = false;
				continue;
			}
			*off = sc.start;
			*len = sc.i - sc.start;
			return;
		}
		sc.i = e;
		sc.comp = sc.colons = false;
	}
	if (bad || sc.i < n || sc.end < sc.start) { /* the last: "::" alone */
		*off = 0;
		*len = n;
		return;
	}
	*off = sc.start;
	*len = sc.end - sc.start;
}

char *cxxname_short(const char *s)
{
	size_t off, len;
	cxxname_qualified(s, &off, &len);
	char *q = strndup(s + off, len);
	/* "<>" stays, so "<x>" (3 bytes) is the shortest list replaced: "<…>" is 5. */
	char *out = q ? malloc(len * 5 / 3 + 8) : NULL;
	if (!out) {
		free(q);
		return NULL;
	}
	size_t o = 0;
	bool comp = false, op = false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)q[i];
		size_t e = BAD, conv = 0;
		if (comp && ((c == '<' && q[i + 1] != '>') || (op && c == ' ' && q[i + 1] == '<') ||
			     (c == '[' && !strncmp(q + i, "[abi:", 5)))) {
			size_t at = c == ' ' ? i + 1 : i;
			e = skip_group(q, at);
			if (e != BAD) {
				if (c == ' ')
					out[o++] = ' ';
				if (c != '[') {
					memcpy(out + o, "<" ELLIPSIS ">", strlen("<" ELLIPSIS ">"));
					o += strlen("<" ELLIPSIS ">");
				}
				i = e;
				comp = true;
				op = false;
				continue;
			}
		}
		if (c == 'o' && word_at(q, i, "operator") && (e = skip_operator(q, i, &conv)) != BAD) {
			size_t stop = conv ? conv : e;
			memcpy(out + o, q + i, stop - i);
			o += stop - i;
			i = stop;
			comp = !conv;
			op = !conv;
			continue;
		}
		comp = is_ident(c) || c == '>' || c == ']';
		op = false;
		out[o++] = (char)c;
		i++;
	}
	out[o] = '\0';
	free(q);
	return out;
}
