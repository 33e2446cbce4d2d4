/* runtree.h - heapsnap run's view of the traced process tree.
 *
 * run listens on a SOCK_SEQPACKET socket in a private directory (0700) and exports
 * its path as HEAPSNAP_RUN_SOCKET; every traced process image of the tree, the
 * program's descendants included, connects to it at setup and hands the connection to
 * its collector (protocol in analyzer/collect/runlink.h).  run so knows every
 * collector before its process can end, hears each one's files and messages, tells
 * the program's own collectors how the program ended, and returns only when every
 * collector is done, or after a timeout that names what is missing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct runtree_proc {
	pid_t pid;
	char *command;   /* from hello; may be empty */
	char *path;      /* its last file, or NULL */
	char *trigger;   /* that file's trigger */
	int64_t peak;
	bool failed;     /* it said its file could not be written */
	bool connected;  /* the collector is still running */
	uint64_t execd;  /* when its image exec'd (CLOCK_MONOTONIC), until the next image
			  * of the pid connects; 0 otherwise */
	int signal;      /* the snapshot signal, when the image took it for its own */
	char signal_how; /* 's' not at its default at start, 'o' own handler, 'i' ignored */
	bool signal_said;
};

struct runtree_conn {
	int fd;
	size_t proc;     /* index into procs */
	uint64_t asked;  /* when it asked for a turn to symbolize (0: it did not) */
	bool has_turn;   /* it symbolizes now */
};

struct runtree {
	int listen_fd;
	char dir[64];            /* the private directory */
	char sock[96];           /* dir + "/run.sock" */
	pid_t child;             /* the program */
	volatile pid_t *forward_to; /* set to 0 once the program has ended, or NULL */
	volatile int *stopped;   /* set when the program stopped (SIGCHLD), or NULL */
	int child_status;
	bool child_done;
	struct runtree_conn *conns;
	size_t nconns, conns_cap;
	struct runtree_proc *procs;
	size_t nprocs, procs_cap;
	unsigned turns, max_turns; /* collectors symbolizing now, and at most */
	int host_fd;             /* to the host of the tree's collectors, or -1 */
	pid_t host_pid;          /* the host, once it said it is ready; else 0 */
	pid_t host_child;        /* the host run forked, until reaped; else 0 */
	uint64_t orphans_reaped; /* when runtree_serve() last reaped orphans */
	FILE *out;               /* where collectors' messages go (stderr) */
	bool quiet;              /* run -q: no notes on the snapshot signal, no summary */
};

/* Makes the private directory and the listening socket.  Returns 0 or -errno. */
int runtree_listen(struct runtree *t);

/* Starts the host of the tree's collectors now, without waiting for it: its start then
 * overlaps the program's, and the first image finds it ready.  A host that fails to
 * start is started again when the first image comes.  Returns 0 or -1. */
int runtree_start_host(struct runtree *t);

/* Serves collectors until the program (t->child) has ended and every collector is
 * done, or until timeout_s seconds after the program ended (0: no limit), or until
 * *stop becomes true after the program ended.  While the program is stopped, so is
 * run (see *t->stopped).  Returns 0 when everything finished, 1 on the timeout or
 * stop. */
int runtree_serve(struct runtree *t, unsigned timeout_s, volatile const int *stop);

/* The program's own file: its last image's (the one that did not exec), or NULL. */
const struct runtree_proc *runtree_main(const struct runtree *t);

/* Prints the summary (the program's file, then the largest peaks of a tree) and the
 * images that keep the snapshot signal, unless t->quiet; then lost files and, after a
 * timeout, which collectors had not finished. */
void runtree_report(const struct runtree *t, FILE *out);

/* Closes every socket and removes the directory. */
void runtree_close(struct runtree *t);
