/* prim.c - futexes, clocks, /proc/PID/stat and signal rules (see prim.h).
 *
 * Built into libheapsnap.so (hidden, like every shim symbol) and into the collector.
 */
#include "prim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int prim_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0) == 0)
		return 0;
	return errno == ETIMEDOUT ? 0 : -errno;
}

int prim_futex_wake(_Atomic uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? 0 : (int)r;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* madvise() over the pages [addr, addr + len) touches, errno kept. */
static void populate(const void *addr, size_t len, int advice)
{
	uintptr_t from = (uintptr_t)addr & ~(uintptr_t)4095;
	uintptr_t to = ((uintptr_t)addr + len + 4095) & ~(uintptr_t)4095;
	int saved = errno;
	madvise((void *)from, to - from, advice);
	errno = saved;
}

void prim_populate(void *addr, size_t len)
{
	populate(addr, len, MADV_POPULATE_WRITE);
}

void prim_populate_read(const void *addr, size_t len)
{
	populate(addr, len, MADV_POPULATE_READ);
}

void *prim_map_aligned(int fd, uint64_t len, uint64_t align)
{
	uint64_t span = ((len + 4095) & ~(uint64_t)4095) + align;
	char *res = (char *)syscall(SYS_mmap, NULL, span, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	char *at = (char *)(((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1));
	if ((void *)syscall(SYS_mmap, at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			    0) == MAP_FAILED) {
		int e = errno;
		syscall(SYS_munmap, res, span);
		errno = e;
		return MAP_FAILED;
	}
	char *end = at + ((len + 4095) & ~(uint64_t)4095); /* the mapping covers whole pages */
	if (at > res)
		syscall(SYS_munmap, res, (size_t)(at - res));
	if (res + span > end)
		syscall(SYS_munmap, end, (size_t)(res + span - end));
	return at;
}

uint64_t prim_now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t prim_seconds_to_ns(double seconds)
{
	if (!(seconds > 0))
		return 0;
	if (seconds >= 1e10)
		return UINT64_MAX / 2;
	uint64_t ns = (uint64_t)(seconds * 1e9);
	return ns ? ns : 1;
}

const char *prim_stat_field(const char *after_comm, int n)
{
	/* after_comm points at ") S ...": field 3 starts two bytes on. */
	const char *p = after_comm + 2;
	for (int field = 3; field < n; field++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		p++;
	}
	return p;
}

ssize_t prim_read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

const char *prim_proc_stat_text(pid_t pid, char *buf, size_t len, int *err)
{
	char path[48];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = prim_read_text(path, buf, len);
	if (n < 0) {
		*err = n == -ENOENT ? -ESRCH : (int)n;
		return NULL;
	}
	/* The command name may hold spaces and parentheses: the last ')' ends it. */
	const char *paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || !paren[2]) {
		*err = -EINVAL;
		return NULL;
	}
	return paren;
}

int prim_proc_stat(pid_t pid, struct proc_stat *out)
{
	char buf[1024];
	int err;
	const char *paren = prim_proc_stat_text(pid, buf, sizeof(buf), &err);
	if (!paren)
		return err;
	struct proc_stat st = { .state = paren[2], .exit_code = -1, .ppid = 0 };
	const char *f = prim_stat_field(paren, 4);
	if (!f || sscanf(f, "%d", &st.ppid) != 1)
		return -EINVAL;
	if (st.state == 'Z' && (f = prim_stat_field(paren, 52)) &&
	    sscanf(f, "%d", &st.exit_code) != 1)
		st.exit_code = -1;
	*out = st;
	return 0;
}

char prim_proc_state(pid_t pid)
{
	struct proc_stat st;
	return prim_proc_stat(pid, &st) == 0 ? st.state : '?';
}

bool prim_signal_usable(int sig)
{
	static const int never[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				     SIGCHLD, SIGPIPE, SIGABRT, SIGTRAP, SIGSYS };
	if (sig <= 0 || sig > SIGRTMAX)
		return false;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (sig == never[i])
			return false;
	return true;
}

bool prim_put_int(char *buf, size_t size, size_t *n, long v)
{
	char d[24];
	size_t k = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do
		d[k++] = (char)('0' + u % 10);
	while ((u /= 10));
	if (v < 0)
		d[k++] = '-';
	if (k > size - *n)
		return false;
	while (k)
		buf[(*n)++] = d[--k];
	return true;
}

bool prim_put_str(char *buf, size_t size, size_t *n, const char *s)
{
	size_t len = strlen(s);
	if (len > size - *n)
		return false;
	memcpy(buf + *n, s, len);
	*n += len;
	return true;
}

char **prim_env_without_preload(char **envp, size_t nslots)
{
	extern char **environ;
	size_t n = 0;
	for (char **e = environ; e && *e && n + 1 < nslots; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			envp[n++] = *e;
	envp[n] = NULL;
	return envp;
}
