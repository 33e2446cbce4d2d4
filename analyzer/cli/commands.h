/* commands.h - the heapsnap subcommands.
 *
 * Each takes the arguments after the subcommand name (argv[0] is the subcommand) and
 * returns the process exit status: 0 ok, 1 the operation failed, 2 bad usage.  Each
 * prints its own errors as one line "heapsnap: ..." on stderr.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

int cmd_run(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_snap(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_reset_peak(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_flame(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);

/* cmd_run.c: the shim `name` next to this binary, resolved; false when absent. */
bool cli_find_shim(const char *name, char *out, size_t len);

/* cmd_attach.c: whether Yama's ptrace_scope (0..3) forbids heapsnap CMD, for a caller
 * with CAP_SYS_PTRACE or not, on a descendant or not; then why says so and the fix. */
bool attach_yama_refusal(int scope, bool cap, bool descendant, const char *cmd, char *why,
			 size_t len);
