/* main.c - the heapsnap command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cliopt.h"
#include "commands.h"
#include "config.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
	{ "run", cmd_run, "run a program traced, then report where its snapshots went" },
	{ "attach", cmd_attach, "trace a running process from now on (ptrace)" },
	{ "detach", cmd_detach, "stop tracing an attached process, write its last file" },
	{ "snap", cmd_snap, "ask a traced process for a snapshot and print its path" },
	{ "start", cmd_start, "start tracing a traced process (after --off or stop)" },
	{ "stop", cmd_stop, "stop tracing a traced process, forgetting every trace" },
	{ "reset-peak", cmd_reset_peak, "make a traced process's current total its peak" },
	{ "top", cmd_top, "top allocation sites of snapshots, tracemalloc style" },
	{ "diff", cmd_diff, "compare two snapshots (or two merges), tracemalloc style" },
	{ "flame", cmd_flame, "a snapshot's stacks folded, for flame graph tools" },
	{ "hist", cmd_hist, "a snapshot's blocks by power-of-two size, allocated and live" },
	{ "report", cmd_report, "one offline HTML page: flame graph, top tables, diff" },
	{ "info", cmd_info, "show a snapshot's header: process, trigger, totals, losses" },
	{ "ls", cmd_ls, "list snapshots: pid, command, trigger, time, peak, path" },
	{ "collect", cmd_collect, "the collector process (started by the shim; internal)" },
};

static void help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap COMMAND [OPTIONS...]\n\n"
		"Trace every heap allocation of a program with its call stack, and read the\n"
		"snapshots tracemalloc style.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out,
		"\nExample:\n"
		"  heapsnap run -- ./prog args      # writes heapsnap.<pid>.exit.pb.gz\n"
		"  heapsnap top heapsnap.1234.exit.pb.gz\n\n"
		"'heapsnap COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		help(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		help(stdout);
		return cliopt_finish_output(); /* as each command's --help */
	}
	if (!strcmp(argv[1], "--version")) {
		printf("heapsnap %s\n", HEAPSNAP_VERSION);
		return cliopt_finish_output();
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "heapsnap: unknown command '%s'; see 'heapsnap --help'\n", argv[1]);
	return 2;
}
