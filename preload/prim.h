/* prim.h - the operating-system primitives both sides of the segment use.
 *
 * The shim (inside the traced program) and the collector (heapsnap collect) wait on
 * the same futex words, read the same clocks and the same /proc files, and must agree
 * on which signals can carry snapshot requests.  Each of these is written once, here,
 * and compiled into both: preload/prim.c is a source of libheapsnap.so and of the
 * analyzer's collector library.  Nothing here allocates, takes a lock or calls into
 * the program's allocator, so the shim may call it from any wrapper; prim_proc_stat()
 * uses only open/read/close, so it is safe after fork and from the shim's hot path.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Sleeps while *word == val, at most timeout_ns (0 = no limit).  Returns 0 when woken
 * or timed out, -EAGAIN when *word was not val, -EINTR on a signal. */
int prim_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns);
/* Wakes up to n waiters of word; returns how many were woken. */
int prim_futex_wake(_Atomic uint32_t *word, int n);

/* Shared memory is first written in chunks of up to PRIM_POPULATE_BYTES: a chunk is
 * mapped writable in one system call when its first record is taken, instead of one
 * page fault a page (each a hypervisor exit on a paravirtualised VM: half the cost). */
#define PRIM_POPULATE_BYTES (64u << 10)
/* Maps the pages of [addr, addr + len) writable now (MADV_POPULATE_WRITE), or readable
 * (MADV_POPULATE_READ); a kernel without them leaves the pages to fault in as they are
 * touched. */
void prim_populate(void *addr, size_t len);
void prim_populate_read(const void *addr, size_t len);

/* Items [first, first + n) of an array of cap items of size bytes (n at most a chunk's
 * worth) are about to be written for the first time: when they reach into a new chunk
 * of the array, that chunk is mapped in one go.  The first page is the creator's to map
 * (all that most short processes write); after it the chunks double, a page, two, four,
 * eight, up to PRIM_POPULATE_BYTES, and stay at that.  A page of shared memory costs
 * about 4 us to allocate and clear whether populated or faulted, so a chunk mapped and
 * never written is the waste: with 64 KiB chunks from the second page on, a `tr` that
 * wrote three pages of its ring had fifteen allocated. */
static inline void prim_populate_ahead(void *array, uint64_t first, uint64_t n, uint64_t cap,
				       size_t size)
{
	if (!n)
		return;
	uint64_t per = PRIM_POPULATE_BYTES / size, page = 4096 / size; /* items are small */
	uint64_t last = first + n - 1, from, to;
	if (__builtin_expect(last >= per, 1)) {
		from = last / per * per; /* the chunk of the last item */
		to = from + per;
	} else if (last >= page && page) {
		from = page << (63 - __builtin_clzll(last / page)); /* page times a power of 2 */
		to = from * 2 < per ? from * 2 : per;
	} else {
		return; /* the first page */
	}
	if (from < first)
		return; /* an item before these began the chunk, and mapped it */
	prim_populate((char *)array + from * size, ((to < cap ? to : cap) - from) * size);
}

/* Maps len bytes of fd shared, read-write, at an address that is a multiple of align (a
 * power of two): a reservation of len + align bytes, the mapping at its first multiple,
 * the rest given back.  Raw system calls: the shim's own mmap wrapper would record the
 * reservation.  Returns the address, or MAP_FAILED with errno set. */
void *prim_map_aligned(int fd, uint64_t len, uint64_t align);

/* The clock in nanoseconds: CLOCK_MONOTONIC for intervals, CLOCK_REALTIME for
 * timestamps written into files. */
uint64_t prim_now_ns(clockid_t clk);

/* Converts seconds to nanoseconds, rounding a positive value up to at least 1 ns so
 * that a tiny timeout never turns into "no timeout"; 0 stays 0. */
uint64_t prim_seconds_to_ns(double seconds);

/* What /proc/PID/stat says about a process. */
struct proc_stat {
	char state;    /* 'R', 'S', 'Z' (zombie), 'X' (dead), 'T' (stopped)... */
	int exit_code; /* the wait status, valid for a zombie (field 52), else -1 */
	pid_t ppid;
};

/* Reads /proc/PID/stat.  Returns 0 and fills *out, or a negative errno (-ESRCH when
 * the process does not exist, -EINVAL when the file does not parse). */
int prim_proc_stat(pid_t pid, struct proc_stat *out);

/* pid's state letter in /proc/PID/stat ('T' stopped, 'Z' zombie...), or '?' when it
 * cannot be read.  Safe in a signal handler, as prim_proc_stat(). */
char prim_proc_state(pid_t pid);

/* Reads at most len - 1 bytes of the file at path into buf, NUL-terminated, with
 * open, read and close only (safe in a signal handler).  Returns the length, or a
 * negative errno. */
ssize_t prim_read_text(const char *path, char *buf, size_t len);

/* Reads /proc/PID/stat into buf (len bytes, NUL-terminated) and returns the ')' that
 * ends the command name, or NULL with a negative errno in *err, as prim_proc_stat(). */
const char *prim_proc_stat_text(pid_t pid, char *buf, size_t len, int *err);
/* Field n (1-based, as proc(5) counts, 3 or more) after the command name, or NULL. */
const char *prim_stat_field(const char *after_comm, int n);

/* Append a decimal number, or a string, to buf (size bytes) at *n, advancing *n;
 * false, with nothing written, when it does not fit.  No NUL is written.  Not
 * snprintf: in a forked child each code page run for the first time costs a page
 * fault, and stdio's formatting is several. */
bool prim_put_int(char *buf, size_t size, size_t *n, long v);
bool prim_put_str(char *buf, size_t size, size_t *n, const char *s);

/* The environment less LD_PRELOAD, in envp (room for nslots pointers, the last one
 * NULL): a collector's, which must not load what the program (or run) preloads. */
char **prim_env_without_preload(char **envp, size_t nslots);

/* Whether sig may be the snapshot signal: a valid signal that does not report a fault,
 * stop the process, or matter to the program's children and pipes. */
bool prim_signal_usable(int sig);
