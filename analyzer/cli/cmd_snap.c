/* cmd_snap.c - `heapsnap snap`: ask a traced process for a snapshot.
 *
 * help() / parse_argv() / run(), like cmd_read.c.  run finds the process's collector
 * (running.h), lists the signal snapshots already in its directory, sends the snapshot
 * signal, and prints the path of the first new file that appears within the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
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
		"is written.  Exit status 1 if PID is not traced or no file appears in time\n"
		"(default 30 seconds).\n\n"
		"Example:\n"
		"  heapsnap snap 4242      # prints e.g. ./heapsnap.4242.3.pb.gz\n");
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
	optind = 0; /* full reset: the parser may run more than once per process */
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
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
		default:
			fprintf(stderr, "heapsnap: snap: see 'heapsnap snap --help'\n");
			return -EINVAL;
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

/* The signal snapshots of pid in dir: DIR/heapsnap.PID.N.pb.gz and their -K
 * variants (exit and exec snapshots are not answers to a request). */
static int list_snapshots(const char *dir, pid_t pid, glob_t *g)
{
	char pattern[PATH_MAX + 64];
	snprintf(pattern, sizeof(pattern), "%s/heapsnap.%d.[0-9]*.pb.gz", dir, (int)pid);
	int r = glob(pattern, 0, NULL, g);
	if (r == GLOB_NOMATCH) {
		g->gl_pathc = 0;
		g->gl_pathv = NULL;
		return 0;
	}
	return r == 0 ? 0 : -EIO;
}

/* A file in now that is not in before, or NULL. */
static const char *new_snapshot(const glob_t *before, const glob_t *now)
{
	for (size_t i = 0; i < now->gl_pathc; i++) {
		bool seen = false;
		for (size_t j = 0; !seen && j < before->gl_pathc; j++)
			seen = !strcmp(now->gl_pathv[i], before->gl_pathv[j]);
		if (!seen)
			return now->gl_pathv[i];
	}
	return NULL;
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
	bool found = false;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	for (int tries = 0; !found && tries < 50 && kill(pid, 0) == 0; tries++) {
		found = running_collector_find(pid, rc);
		if (!found)
			nanosleep(&pause, NULL);
	}
	if (!found) {
		fprintf(stderr, "heapsnap: snap: process %ld is not traced by heapsnap (no collector "
				"found)\n", (long)pid);
		return 1;
	}
	if (!rc->signal) {
		fprintf(stderr, "heapsnap: snap: process %ld was started with HEAPSNAP_SIGNAL=none\n",
			(long)pid);
		return 1;
	}
	return 0;
}

/* Polls dir until a snapshot of pid that is not in before appears, and prints its
 * path.  Returns true then, false when none came within timeout seconds. */
static bool await_snapshot(const char *dir, pid_t pid, const glob_t *before, double timeout)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	for (double waited = 0; waited < timeout; waited += 0.01) {
		glob_t now;
		if (list_snapshots(dir, pid, &now) == 0) {
			const char *found = new_snapshot(before, &now);
			if (found)
				printf("%s\n", found);
			if (now.gl_pathc)
				globfree(&now);
			if (found)
				return true;
		}
		nanosleep(&step, NULL);
	}
	return false;
}

static int run(const struct snap_args *in)
{
	static struct running_collector rc;
	struct snap_args args = *in;
	const struct snap_args *a = &args;
	/* `heapsnap run`'s own pid stands for the program it runs. */
	pid_t child = running_run_child(a->pid);
	if (child > 0)
		args.pid = child;
	if (find_collector(a->pid, &rc))
		return 1;
	glob_t before;
	if (list_snapshots(rc.dir, a->pid, &before) < 0) {
		fprintf(stderr, "heapsnap: snap: cannot list '%s'\n", rc.dir);
		return 1;
	}
	int r = 0;
	if (kill(a->pid, rc.signal) < 0) {
		fprintf(stderr, "heapsnap: snap: cannot signal %ld: %s\n", (long)a->pid,
			strerror(errno));
		r = 1;
	} else if (!await_snapshot(rc.dir, a->pid, &before, a->timeout)) {
		fprintf(stderr, "heapsnap: snap: no snapshot of %ld appeared in %s within %g s\n",
			(long)a->pid, rc.dir, a->timeout);
		r = 1;
	}
	if (before.gl_pathc)
		globfree(&before);
	return r;
}

int cmd_snap(int argc, char **argv)
{
	struct snap_args a;
	int r = parse_argv(argc, argv, &a);
	if (r)
		return r == PARSE_HELP ? 0 : 2;
	return run(&a);
}
