/* cliopt.c - wording getopt's complaints (see cliopt.h). */
#include "cliopt.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char *cliopt_error(int c, char *const argv[], char *buf, size_t len)
{
	char opt[3] = { '-', (char)optopt, 0 };
	/* A long option is named by the argument itself; a short one by optopt (the
	 * argument may hold several, as in -qx). */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	const char *name = !strncmp(arg, "--", 2) || !optopt ? arg : opt;
	if (c == ':')
		snprintf(buf, len, "option '%s' needs an argument", name);
	else
		snprintf(buf, len, "unknown option '%s'", name);
	return buf;
}
