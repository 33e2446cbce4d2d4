/* cliopt.c - wording getopt's complaints; the output check (see cliopt.h). */
#include "cliopt.h"
#include "pprof_format.h"
#include "shmlayout.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

_Static_assert(FRAMES_LIMIT == HS_FRAMES_MAX, "the reader takes the deepest stacks the shim keeps");

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

bool cliopt_frames(const char *cmd, const char *arg)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*end || end == arg || v < 1 || v > HS_FRAMES_MAX) {
		fprintf(stderr, "heapsnap: %s: --frames takes 1..%d, not '%s'\n", cmd, HS_FRAMES_MAX,
			arg);
		return false;
	}
	return true;
}

int cliopt_finish_output(void)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "heapsnap: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
