/* cmd_snap.c - `heapsnap snap`, `start`, `stop` and `reset-peak`: requests to a traced
 * process from outside.
 *
 * help() / parse_argv() / run(), like cmd_read.c, shared by the four commands: run
 * finds the process's collector (running.h), sends the command's word on its control
 * socket (collect/control.h) and waits for the answer; snap prints the path it is
 * given.  The program's signals are never used, so these work when the program owns
 * SIGUSR2 or runs with HEAPSNAP_SIGNAL=none, and never run a handler of the program's.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cliopt.h"
#include "commands.h"
#include "control.h"
#include "prim.h"
#include "running.h"

/* parse_argv() results besides a negative errno (bad usage, already reported). */
enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct snap_args {
	const char *word; /* the command: snap, start, stop or reset-peak */
	double timeout;   /* seconds */
	pid_t pid;
};

static const struct {
	const char *word, *what;
} control_help[] = {
	{ "start", "Start tracing traced process PID from now on, like tracemalloc.start(): blocks\n"
		   "allocated before are unknown, and their releases are ignored (counted as\n"
		   "unmatched frees).  For a program started with HEAPSNAP_START=off or\n"
		   "'heapsnap run --off', or one stopped with 'heapsnap stop'." },
	{ "stop", "Stop tracing traced process PID, like tracemalloc.stop(): every block and\n"
		  "counter traced so far is forgotten; later snapshots are empty until\n"
		  "'heapsnap start'.  The program keeps running; its exit file is still written." },
	{ "reset-peak", "Make the current traced total of process PID its peak, like\n"
			"tracemalloc.reset_peak(): the peak_* values of later snapshots describe only\n"
			"the time since." },
};

static void help(FILE *out, const char *word)
{
	for (size_t i = 0; i < sizeof(control_help) / sizeof(*control_help); i++)
		if (!strcmp(word, control_help[i].word)) {
			fprintf(out,
				"Usage: heapsnap %s [--timeout SECONDS] PID\n\n%s\n\n"
				"The request goes to PID's collector, never through the program's signals,\n"
				"and takes effect at an exact point of the program's event stream (see\n"
				"docs/architecture.md).  PID may be a 'heapsnap run', for the program it\n"
				"runs.  Exit status 1 if PID is not traced or does not answer in time\n"
				"(default 30 seconds).\n\n"
				"Example:\n  heapsnap %s 4242\n",
				word, control_help[i].what, word);
			return;
		}
	fprintf(out,
		"Usage: heapsnap snap [--timeout SECONDS] PID\n\n"
		"Ask traced process PID for a snapshot and print the path of the file once it\n"
		"is written.  The request goes to PID's collector, never through the program's\n"
		"signals.  PID may be a 'heapsnap run', for the program it runs.  Exit status 1\n"
		"if PID is not traced or no file is written in time (default 30 seconds).\n\n"
		"Example:\n"
		"  heapsnap snap 4242      # prints e.g. /home/me/heapsnap.4242.3.pb.gz\n");
}

/* Parses snap's options into *a.  Returns PARSE_RUN, PARSE_HELP, or -EINVAL after
 * reporting the problem. */
static int parse_argv(int argc, char **argv, const char *word, struct snap_args *a)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct snap_args){ .word = word, .timeout = 30 };
	opterr = 0;
	optind = 0; /* full reset: the parser may run more than once per process */
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			a->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(a->timeout > 0)) {
				fprintf(stderr, "heapsnap: %s: bad --timeout '%s'\n", word, optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			help(stdout, word);
			return PARSE_HELP;
		default: {
			char why[128];
			fprintf(stderr, "heapsnap: %s: %s; see 'heapsnap %s --help'\n", word,
				cliopt_error(opt, argv, why, sizeof(why)), word);
			return -EINVAL;
		}
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "heapsnap: %s: needs one PID; see 'heapsnap %s --help'\n", word,
			word);
		return -EINVAL;
	}
	long pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "heapsnap: %s: '%s' is not a pid\n", word, argv[optind]);
		return -EINVAL;
	}
	a->pid = (pid_t)pid;
	return PARSE_RUN;
}

/* Finds pid's collector into *rc, waiting up to a second for one that has just
 * started.  Returns 0, or 1 after reporting that there is none to ask. */
static int find_collector(const char *word, pid_t pid, struct running_collector *rc)
{
	if (kill(pid, 0) < 0) {
		if (errno == ESRCH)
			fprintf(stderr, "heapsnap: %s: no process %ld\n", word, (long)pid);
		else
			fprintf(stderr, "heapsnap: %s: process %ld: permission denied (it belongs "
					"to another user)\n", word, (long)pid);
		return 1;
	}
	/* A process that has just started may not have exec'd its collector yet. */
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	for (int tries = 0; tries < 50 && kill(pid, 0) == 0; tries++) {
		if (running_collector_find(pid, rc))
			return 0;
		nanosleep(&pause, NULL);
	}
	if (running_traced_without_collector(pid))
		fprintf(stderr, "heapsnap: %s: process %ld is traced, but its collector is gone "
				"(killed?): it cannot be asked\n", word, (long)pid);
	else
		fprintf(stderr, "heapsnap: %s: process %ld is not traced by heapsnap (no "
				"collector found)\n", word, (long)pid);
	return 1;
}

/* Sends the request to the collector and waits for its answer, at most timeout seconds
 * of elapsed time.  Returns 0 (after printing the path, for snap), or 1 after saying
 * why not. */
static int ask_collector(const struct snap_args *a, const struct running_collector *rc,
			 pid_t pid)
{
	/* A collector that has just exec'd may not listen yet: its command line shows
	 * before its socket does. */
	uint64_t deadline = prim_now_ns(CLOCK_MONOTONIC) + prim_seconds_to_ns(a->timeout);
	int fd;
	while ((fd = control_connect(rc->control)) == -ECONNREFUSED && kill(rc->pid, 0) == 0 &&
	       prim_now_ns(CLOCK_MONOTONIC) < deadline)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (fd < 0) {
		fprintf(stderr, "heapsnap: %s: cannot reach the collector of %ld: %s\n", a->word,
			(long)pid, strerror(-fd));
		return 1;
	}
	char msg[4200];
	ssize_t n = -1;
	size_t len = strlen(a->word);
	if (send(fd, a->word, len, MSG_NOSIGNAL) == (ssize_t)len) {
		for (uint64_t now; (now = prim_now_ns(CLOCK_MONOTONIC)) < deadline;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			/* At most INT_MAX ms a round: a longer --timeout (4294967.296 s) made the
			 * int wrap to 0, and snap gave up at once on a request it had sent. */
			uint64_t ms = (deadline - now) / 1000000u + 1;
			int r = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				n = recv(fd, msg, sizeof(msg) - 1, 0);
			break;
		}
	}
	close(fd);
	if (n >= 0)
		msg[n] = '\0';
	if (n > 5 && !strncmp(msg, "file ", 5)) {
		printf("%s\n", msg + 5);
		return 0;
	}
	if (n == 2 && !strcmp(msg, "ok"))
		return 0;
	if (n > 6 && !strncmp(msg, "error ", 6))
		fprintf(stderr, "heapsnap: %s: %ld: %s\n", a->word, (long)pid, msg + 6);
	else if (n < 0)
		fprintf(stderr, "heapsnap: %s: the collector of %ld did not answer within %g s\n",
			a->word, (long)pid, a->timeout);
	else
		fprintf(stderr, "heapsnap: %s: the collector of %ld ended without answering\n",
			a->word, (long)pid);
	return 1;
}

static int run(const struct snap_args *a)
{
	static struct running_collector rc;
	pid_t pid = a->pid;
	/* `heapsnap run`'s own pid stands for the program it runs. */
	pid_t child = running_run_child(pid);
	if (child > 0)
		pid = child;
	if (find_collector(a->word, pid, &rc))
		return 1;
	return ask_collector(a, &rc, pid);
}

static int control_main(const char *word, int argc, char **argv)
{
	struct snap_args a;
	int r = parse_argv(argc, argv, word, &a);
	if (r)
		return r == PARSE_HELP ? 0 : 2;
	return run(&a);
}

int cmd_snap(int argc, char **argv)
{
	return control_main("snap", argc, argv);
}

int cmd_start(int argc, char **argv)
{
	return control_main("start", argc, argv);
}

int cmd_stop(int argc, char **argv)
{
	return control_main("stop", argc, argv);
}

int cmd_reset_peak(int argc, char **argv)
{
	return control_main("reset-peak", argc, argv);
}
