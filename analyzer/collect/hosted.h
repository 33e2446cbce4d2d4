/* hosted.h - heapsnap run's host of collectors.
 *
 * Under `heapsnap run` the shim sends its memfd and its run connection to run, and run
 * passes both on to one process that collects for the whole tree: the host, forked
 * from run once, at the first image (no exec, no dynamic linking, no fork of the
 * traced program).  Each image is collected by a thread of the host's, so a tree of
 * many short processes costs no fork of run and no exit per image; a thread whose
 * image is done takes the next one, or ends after two idle seconds.
 *
 * The host looks like an exec'd collector: its own session, default signal
 * dispositions but for INT, HUP and PIPE (ignored), /dev/null for stdin, stdout and
 * stderr, its connection to run on fd 3 and no other fd but those of the images it
 * collects, and the command line `heapsnap collect --host-fd 3`, set with
 * prctl(PR_SET_MM_MAP), which needs no privilege (where the kernel refuses it, the host
 * execs heapsnap).  Each thread is named "hs PID" after the process it collects and
 * listens on the control socket of its tid: that is how heapsnap snap finds it
 * (analyzer/cli/running.c).  The host says "ready PID" on fd 3, takes images as
 * "PID DIR" packets with the two fds attached, and ends once run has closed its end and
 * its last thread is done.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* In a grandchild of heapsnap run, with every signal blocked: becomes the host, fed on
 * sock, keeping ended images' segments for the next ones in run_dir (segpool.h), and
 * never returns. */
_Noreturn void collect_host_start(int sock, const char *run_dir);

/* The host's loop (`heapsnap collect --host-fd FD`); never returns. */
_Noreturn void collect_host(int sock);

/* A collector, a process of its own or run's host, ignores the signals that are not
 * its business: SIGPIPE and SIGXFSZ (a write fails instead: that file is reported and
 * the next one tried), and the ones a snapshot signal can be (USR1, USR2, the
 * real-time ones), which `kill -USR2` on the wrong pid or on a whole process group
 * (run's, when it is a job's) would otherwise make it die of, its files with it. */
void collect_ignore_signals(void);

/* Run's side: the host's pid from its first packet, within timeout_ms; -1 if none. */
pid_t collect_host_ready(int sock, int timeout_ms);

/* Run's side: hands one image, its memfd and its run connection, to the host.
 * Returns 0 or -errno (the host is gone). */
int collect_host_send(int sock, int memfd, int runfd, pid_t pid, const char *dir);

/* How many collectors of a tree may symbolize at once: HEAPSNAP_SYMBOLIZERS (1 to
 * 4096), else the CPUs online.  Run grants turns to collectors that are processes of
 * their own; the host hands them to its threads itself (collect_turn_take()). */
unsigned collect_max_turns(void);

/* A host's thread takes a turn to symbolize, waiting up to timeout_ms: true when it got
 * one, to be given back with collect_turn_give() once its file is announced. */
bool collect_turn_take(int timeout_ms);
void collect_turn_give(void);

/* Tells the shim of the segment in memfd that no collector will come: it then stops
 * tracing and says so, instead of waiting for one when its ring fills up. */
void collect_refuse(int memfd);

/* One image's collector, in the calling thread or process (cmd_collect.c): drains
 * shm_fd's ring until pid ends, writes its files into dir, talks to run on run_fd (or
 * -1).  Closes both fds.  Returns the exit status a collector process would have.
 * hosted: a host's thread, named "hs PID" only once it holds the segment's liveness
 * lock, has said its pid there and listens on its control socket, so that whoever
 * finds the collector by that name (running_collector_find) finds one that answers,
 * and one whose death the shim sees; it takes its turn to symbolize from the host. */
int collect_image(int shm_fd, pid_t pid, const char *dir, int run_fd, bool hosted);
