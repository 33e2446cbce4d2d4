/* cliopt.h - what getopt found wrong, worded once for every subcommand, and the one
 * check that a subcommand's output was written.
 *
 * Subcommands set opterr = 0 and start their option string with ':' (after a '+'
 * where options stop at the first operand), so getopt_long returns ':' for a missing
 * value and '?' for an unknown option without printing; cliopt_error() words either. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Writes "option '--dir' needs an argument" or "unknown option '-x'" into buf, for
 * getopt_long's result c (':' or '?') on argv; returns buf. */
const char *cliopt_error(int c, char *const argv[], char *buf, size_t len);

/* Whether arg is a valid --frames value (1..HS_FRAMES_MAX); when not, says so on
 * stderr as "heapsnap: CMD: --frames takes ...". */
bool cliopt_frames(const char *cmd, const char *arg);

/* Flushes stdout; when that or an earlier write failed (a full disk, a closed pipe),
 * says "heapsnap: cannot write output: WHY" on stderr and returns 1, else 0. */
int cliopt_finish_output(void);
