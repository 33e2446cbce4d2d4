/* cmd_snap.c - `heapsnap snap`: ask a traced process for a snapshot.
 *
 * help() / parse_argv() / run(), like cmd_read.c.  run finds the process's collector
 * (running.h), asks it on its control socket (collect/control.h) and prints the path
 * it answers with.  The program's signals are never used, so snap works when the
 * program owns SIGUSR2 or runs with HEAPSNAP_SIGNAL=none, and never runs a handler.
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
	double timeout; /* seconds */
	pid_t pid;
};

static void help(FILE *out)
{
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
static int parse_argv(int argc, char **argv, struct snap_args *a)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct snap_args){ .timeout = 30 };
	opterr = 0;
	optind = 0; /* full reset: the parser may run more than once per process */
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			a->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(a->timeout > 0)) {
				fprintf(stderr, "heapsnap: snap: bad --timeout '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			help(stdout);
			return PARSE_HELP;
		default: {
			char why[128];
			fprintf(stderr, "heapsnap: snap: %s; see 'heapsnap snap --help'\n",
				cliopt_error(opt, argv, why, sizeof(why)));
			return -EINVAL;
		}
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "heapsnap: snap: needs one PID; see 'heapsnap snap --help'\n");
		return -EINVAL;
	}
	long pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "heapsnap: snap: '%s' is not a pid\n", argv[optind]);
		return -EINVAL;
	}
	a->pid = (pid_t)pid;
	return PARSE_RUN;
}

/* Finds pid's collector into *rc, waiting up to a second for one that has just
 * started.  Returns 0, or 1 after reporting that there is none to ask. */
static int find_collector(pid_t pid, struct running_collector *rc)
{
	if (kill(pid, 0) < 0) {
		fprintf(stderr, errno == ESRCH ? "heapsnap: snap: no process %ld\n"
					       : "heapsnap: snap: process %ld: permission denied "
						 "(it belongs to another user)\n",
			(long)pid);
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
		fprintf(stderr, "heapsnap: snap: process %ld is traced, but its collector is gone "
				"(killed?): no snapshot can be written\n", (long)pid);
	else
		fprintf(stderr, "heapsnap: snap: process %ld is not traced by heapsnap (no "
				"collector found)\n", (long)pid);
	return 1;
}

/* Asks the collector for a snapshot and waits for its answer, at most timeout seconds
 * of elapsed time.  Returns 0 after printing the path, or 1 after saying why not. */
static int ask_collector(const struct running_collector *rc, pid_t pid, double timeout)
{
	/* A collector that has just exec'd may not listen yet: its command line shows
	 * before its socket does. */
	uint64_t deadline = prim_now_ns(CLOCK_MONOTONIC) + prim_seconds_to_ns(timeout);
	int fd;
	while ((fd = control_connect(rc->pid)) == -ECONNREFUSED && kill(rc->pid, 0) == 0 &&
	       prim_now_ns(CLOCK_MONOTONIC) < deadline)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (fd < 0) {
		fprintf(stderr, "heapsnap: snap: cannot reach the collector of %ld: %s\n", (long)pid,
			strerror(-fd));
		return 1;
	}
	char msg[4200];
	ssize_t n = -1;
	if (send(fd, "snap", 4, MSG_NOSIGNAL) == 4) {
		for (uint64_t now; (now = prim_now_ns(CLOCK_MONOTONIC)) < deadline;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				n = recv(fd, msg, sizeof(msg) - 1, 0);
			break;
		}
	}
	close(fd);
	if (n > 5 && !strncmp(msg, "file ", 5)) {
		msg[n] = '\0';
		printf("%s\n", msg + 5);
		return 0;
	}
	if (n > 6 && !strncmp(msg, "error ", 6)) {
		msg[n] = '\0';
		fprintf(stderr, "heapsnap: snap: %ld: %s\n", (long)pid, msg + 6);
	} else if (n < 0) {
		fprintf(stderr, "heapsnap: snap: no snapshot of %ld was written within %g s\n",
			(long)pid, timeout);
	} else {
		fprintf(stderr, "heapsnap: snap: the collector of %ld ended without a snapshot\n",
			(long)pid);
	}
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
	if (find_collector(pid, &rc))
		return 1;
	return ask_collector(&rc, pid, a->timeout);
}

int cmd_snap(int argc, char **argv)
{
	struct snap_args a;
	int r = parse_argv(argc, argv, &a);
	if (r)
		return r == PARSE_HELP ? 0 : 2;
	return run(&a);
}
