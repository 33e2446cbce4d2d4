/* running.h - finding the collector of a running traced process. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct running_collector {
	pid_t pid;          /* the collector's tid: its pid, or its thread's in run's host */
	char dir[PATH_MAX]; /* where it writes snapshots; empty for a thread of the host */
	int signal;         /* the traced process's snapshot signal, 0 for none or unknown */
	/* Inside a PID namespace (a container, attached from outside), the collector and
	 * its process know their pids there: the collector's, which names its control
	 * socket, and the process's, which names its files.  Else pid and the process's. */
	pid_t control;
	pid_t traced;
};

/* Looks through /proc for `heapsnap collect ... --pid PID`, the collector of traced
 * process pid (or, with pid in a PID namespace of its own, `--pid` its pid there, in
 * that namespace), owned by pid's own user and naming a signal the shim could use, or for
 * a thread named "hs PID" of a `heapsnap collect --host-fd` of that user (hosted.h).
 * Returns true and fills *out, or false when there is none (the process is not
 * traced, or its collector has not started yet). */
bool running_collector_find(pid_t pid, struct running_collector *out);

/* When pid is a `heapsnap run`, the program it runs (its child); else 0. */
pid_t running_run_child(pid_t pid);

/* Whether pid is a `heapsnap run`. */
bool running_is_run(pid_t pid);

/* Whether pid has the shim loaded (its collector, if it is missing, was lost). */
bool running_traced_without_collector(pid_t pid);
