/* inject.h - making one thread of another process call functions (x86-64 Linux).
 *
 * inject_stop() picks a thread of the process that holds none of libc's locks (one
 * blocked in a system call that takes none, or running outside libc and the dynamic
 * loader), seizes it with ptrace and stops it; the other threads run on.
 * inject_call() makes it call a function with up to two arguments, its data written
 * below the thread's stack; inject_resume() puts back every register (and any system
 * call it was in restarts as it would have), lets it go, and delivers the signals that
 * arrived meanwhile.  Errors are one line in err, for "heapsnap: attach: ...".
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

/* One mapping of /proc/PID/maps. */
struct inject_map {
	uint64_t lo, hi, offset;
	bool exec;
	char path[PATH_MAX];
};

struct inject_maps {
	struct inject_map *m;
	size_t n;
};

/* Reads /proc/pid/maps; returns 0 or a negative errno. */
int inject_maps_read(pid_t pid, struct inject_maps *out);
void inject_maps_free(struct inject_maps *m);
/* The first mapping whose file's base name starts with prefix, or NULL. */
const struct inject_map *inject_maps_find(const struct inject_maps *m, const char *prefix);

/* The address in pid of the dynamic symbol sym of the object mapped from the file whose
 * base name starts with prefix (its default version).  Returns 0 and sets *addr, or a
 * negative errno after writing why into err. */
int inject_symbol(pid_t pid, const struct inject_maps *maps, const char *prefix,
		  const char *sym, uint64_t *addr, char *err, size_t len);

struct inject {
	pid_t pid, tid;
	int mem;                          /* /proc/PID/mem */
	struct user_regs_struct saved;    /* the thread's registers when stopped */
	unsigned char xstate[16384];      /* its FPU/SSE/AVX state */
	size_t xlen;
	uint64_t gadget;                  /* a syscall instruction in libc's text */
	uint64_t scratch;                 /* lowest byte written below its stack */
	int signals[16];                  /* signals held back while we had the thread */
	unsigned nsignals;
	uint64_t stop_ns, resume_ns;      /* CLOCK_MONOTONIC: stopped, let go */
	sigset_t sigmask;                 /* ours before inject_stop() */
};

/* Stops a suitable thread of pid.  Returns 0, or -EPERM (ptrace refused), -ESRCH (no
 * such process) or another negative errno, with err saying why. */
int inject_stop(pid_t pid, const struct inject_maps *maps, struct inject *j, char *err,
		size_t len);
/* Copies len bytes below the thread's stack; returns their address in the target. */
uint64_t inject_data(struct inject *j, const void *data, size_t len);
/* Calls fn(a0, a1) in the stopped thread, waiting at most timeout_s seconds.  Returns 0
 * with *ret set, or a negative errno with err saying why. */
int inject_call(struct inject *j, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t *ret,
		unsigned timeout_s, char *err, size_t len);
/* Reads a NUL-terminated string of the target. */
void inject_read_string(struct inject *j, uint64_t addr, char *out, size_t len);
/* Restores the thread and lets it go.  Returns 0 or a negative errno. */
int inject_resume(struct inject *j);
