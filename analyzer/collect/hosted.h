/* hosted.h - a collector started by heapsnap run instead of by the shim.
 *
 * Under `heapsnap run` the shim sends its memfd to run, and run forks the collector
 * from itself: no exec, no dynamic linking, and no fork of the (possibly large) traced
 * program.  The child is made to look exactly like an exec'd collector: its own
 * session, default signal dispositions, the memfd on fd 3 and its run connection on fd
 * 4, /dev/null for stdin, stdout and stderr, no other fd, and the command line
 * `heapsnap collect --shm-fd 3 --pid PID --dir DIR --signal SIG --run-fd 4`, which
 * `heapsnap snap` and `heapsnap ls` look for in /proc.  The command line is set with
 * prctl(PR_SET_MM_MAP), which needs no privilege; where the kernel refuses it, the
 * child execs heapsnap after all.
 */
#pragma once

#include <sys/types.h>

/* In a child forked from heapsnap run, with every signal blocked: becomes the collector
 * of pid and never returns.  memfd and runfd are the fds that arrived from the shim. */
_Noreturn void collect_hosted(int memfd, int runfd, pid_t pid, int sig, const char *dir);
