/* runlink.h - what a collector says, and to whom: heapsnap run, or a log file.
 *
 * The collector holds no fd of the traced program's (design.md invariant 7): its
 * stdin, stdout and stderr are /dev/null.  Under `heapsnap run`, the shim connected a
 * SOCK_SEQPACKET socket to run for it (fd 4); everything the collector has to say goes
 * there, one message a packet, fields separated by tabs:
 *
 *   shim -> run        hello <pid> <command>         on connecting, before the
 *                                                    collector exists
 *   collector -> run   say <text>                    a message for the user
 *                      file <pid> <peak> <trigger> <path>
 *                                                    a file written ("-" path: failed)
 *   run -> collector   main | other                  the answer to hello: whether this
 *                                                    is run's own child, whose exit
 *                                                    status only run can know
 *                      status <wait status>          for main, once run reaped it
 *   collector -> run   turn                          may I symbolize and write my file?
 *   run -> collector   go                            yes: at most as many collectors
 *                                                    as there are CPUs hold a turn; a
 *                                                    turn ends with the connection
 *
 * Without run (plain LD_PRELOAD), messages are appended to DIR/heapsnap.PID.log, made
 * on the first message only.  Both ends treat what they read as untrusted.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RUNLINK_MSG_MAX 8192

struct runlink {
	int fd;          /* connection to heapsnap run, or -1 */
	int role;        /* 0 unknown, 1 main, 2 other */
	int status;      /* the wait status run sent, when status_known */
	bool status_known;
	bool may_symbolize; /* run gave this collector its turn */
	pid_t pid;
	const char *dir; /* where the log file goes */
};

/* Starts the link over fd (heapsnap run's connection, or -1 for none). */
void runlink_open(struct runlink *l, int fd, const char *dir, pid_t pid);

/* Says one line to the user: through run, else into the log file. */
void runlink_say(struct runlink *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tells run that the snapshot signal sig is the program's: how is "start" (not at its
 * default action at start), "own" (the program installed a handler of its own) or
 * "ignored" (it set SIG_IGN).  Without run, says it into the log file. */
void runlink_signal(struct runlink *l, int sig, const char *how);

/* Reports a snapshot file (path NULL when writing it failed). */
void runlink_file(struct runlink *l, const char *path, const char *trigger, int64_t peak);

/* The traced process's wait status, when run reaped it: waits up to timeout_ms for
 * run's word.  Returns false when this process is not run's child, or run said
 * nothing in time. */
bool runlink_status(struct runlink *l, int *status, int timeout_ms);

/* Receives one packet on fd into msg (NUL-terminated: at most size - 1 bytes) and the
 * fds that came with it (close-on-exec): up to RUNLINK_FDS_MAX into fds, *nfds of them,
 * any more closed.  flags as recvmsg's.  Returns the length, 0 at the end, or -1 with
 * errno.  Run's socket (runtree.c) and the host's (hosted.c) carry fds this way. */
#define RUNLINK_FDS_MAX 4
ssize_t runlink_recv_fds(int fd, char *msg, size_t size, int fds[RUNLINK_FDS_MAX], int *nfds,
			 int flags);

/* Waits, at most timeout_ms, until run lets this collector symbolize: run bounds how
 * many collectors of a tree symbolize at once.  Returns at once without run. */
void runlink_wait_turn(struct runlink *l, int timeout_ms);

/* Ends the link, reading run's unread words first so that nothing we sent is lost. */
void runlink_close(struct runlink *l);

/* Waits until fd is readable or deadline (CLOCK_MONOTONIC ns) passes, through any
 * signal handler that interrupts the wait; true when readable. */
bool runlink_readable(int fd, uint64_t deadline);
