/* countshim.c - an independent allocation counter, preloaded like libheapsnap.so.
 *
 * The corpus test runs each program once under this shim and once under heapsnap and
 * compares the totals.  It shares no code with preload/: every C allocation function
 * and every C++ operator new/delete is wrapped with dlsym(RTLD_NEXT), and a successful
 * allocation call adds one call and its requested bytes to two counters.  The rules
 * are the ones a tracer of program-level calls must follow: a nested call (operator
 * new calling malloc, realloc(NULL, n) calling malloc) counts once, at the outer call;
 * realloc(p, 0) that frees and returns NULL, and every failed call, count nothing;
 * calls this shim makes itself (setting up its file) count nothing.
 *
 * The counters live in a shared file mapping, COUNTSHIM_DIR/count.PID.N (N = 1 for a
 * pid's first process image, 2 after its first exec, ...), so they are on disk however
 * the process ends, and a forked child starts its own file at zero.  The file is
 * struct countshim_file (countshim.h).  dlsym may call calloc before the real
 * functions are known: those blocks come from a static buffer, uncounted, and frees of
 * them are ignored.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "countshim.h"

#define EXPORT __attribute__((visibility("default")))
#define TLS_IE __attribute__((tls_model("initial-exec")))

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
} real;

/* Set while this thread is inside a wrapper: nested calls pass straight through. */
static __thread int guard TLS_IE;

/* ---- bootstrap ---- */

static _Alignas(16) char boot[64 * 1024];
static _Atomic size_t boot_used;
static _Atomic int resolve_state; /* 0 not yet, 1 in progress, 2 done */
static __thread int resolving TLS_IE;

static bool in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t size)
{
	size_t need = (size + 15) & ~(size_t)15;
	size_t off = atomic_fetch_add(&boot_used, need);
	if (size > sizeof(boot) || off + need > sizeof(boot)) {
		errno = ENOMEM;
		return NULL;
	}
	return boot + off; /* static, so already zero */
}

/* True when the real functions are known; false while this thread looks them up. */
static bool ready(void)
{
	if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
		return true;
	if (resolving)
		return false;
	int expect = 0;
	if (atomic_compare_exchange_strong(&resolve_state, &expect, 1)) {
		resolving = 1;
		real.malloc = dlsym(RTLD_NEXT, "malloc");
		real.calloc = dlsym(RTLD_NEXT, "calloc");
		real.realloc = dlsym(RTLD_NEXT, "realloc");
		real.reallocarray = dlsym(RTLD_NEXT, "reallocarray");
		real.free = dlsym(RTLD_NEXT, "free");
		real.posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
		real.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
		real.memalign = dlsym(RTLD_NEXT, "memalign");
		real.valloc = dlsym(RTLD_NEXT, "valloc");
		real.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
		resolving = 0;
		atomic_store(&resolve_state, 2);
		return true;
	}
	while (atomic_load(&resolve_state) != 2)
		sched_yield();
	return true;
}

/* ---- the counter file ---- */

static struct countshim_file fallback; /* when COUNTSHIM_DIR is unset or unusable */
static struct countshim_file *_Atomic counts;
static _Atomic int open_lock;

/* Maps a fresh counter file for this process image.  Runs with the guard set. */
static void counts_open(void)
{
	struct countshim_file *f = &fallback;
	const char *dir = getenv(COUNTSHIM_ENV_DIR);
	int fd = -1;
	char path[4096];
	for (int n = 1; dir && *dir && fd < 0 && n < 1000; n++) {
		snprintf(path, sizeof(path), "%s/count.%d.%d", dir, (int)getpid(), n);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd >= 0) {
		if (ftruncate(fd, sizeof(*f)) == 0) {
			void *m = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (m != MAP_FAILED)
				f = m;
		}
		close(fd);
	}
	f->magic = COUNTSHIM_MAGIC;
	f->pid = getpid();
	atomic_store(&counts, f);
}

static struct countshim_file *counts_get(void)
{
	struct countshim_file *f = atomic_load_explicit(&counts, memory_order_acquire);
	if (__builtin_expect(f != NULL, 1))
		return f;
	while (atomic_exchange(&open_lock, 1))
		sched_yield();
	if (!atomic_load(&counts))
		counts_open();
	atomic_store(&open_lock, 0);
	return atomic_load(&counts);
}

/* A forked child counts afresh in a file of its own. */
static void counts_fork_child(void)
{
	guard = 1;
	atomic_store(&open_lock, 0);
	atomic_store(&counts, NULL);
	counts_open();
	guard = 0;
}

static void count_alloc(size_t size)
{
	guard = 1; /* counts_get may open the file */
	struct countshim_file *f = counts_get();
	atomic_fetch_add_explicit(&f->alloc_calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->alloc_bytes, size, memory_order_relaxed);
}

static void count_free(void)
{
	guard = 1;
	struct countshim_file *f = counts_get();
	atomic_fetch_add_explicit(&f->free_calls, 1, memory_order_relaxed);
}

__attribute__((constructor)) static void countshim_start(void)
{
	ready();
	guard = 1;
	counts_get();
	pthread_atfork(NULL, NULL, counts_fork_child);
	guard = 0;
}

/* ---- C ---- */

EXPORT void *malloc(size_t size)
{
	if (!ready())
		return boot_alloc(size);
	if (guard)
		return real.malloc(size);
	guard = 1;
	void *p = real.malloc(size);
	int saved = errno;
	if (p)
		count_alloc(size);
	guard = 0;
	errno = saved;
	return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (!ready()) {
		if (size && n > SIZE_MAX / size) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_alloc(n * size);
	}
	if (guard)
		return real.calloc(n, size);
	guard = 1;
	void *p = real.calloc(n, size);
	int saved = errno;
	if (p)
		count_alloc(n * size);
	guard = 0;
	errno = saved;
	return p;
}

EXPORT void free(void *p)
{
	if (!p || in_boot(p) || !ready())
		return;
	if (guard) {
		real.free(p);
		return;
	}
	guard = 1;
	count_free();
	real.free(p);
	guard = 0;
}

EXPORT void *realloc(void *old, size_t size)
{
	if (!ready())
		return boot_alloc(size);
	if (in_boot(old)) {
		size_t have = sizeof(boot) - (size_t)((char *)old - boot);
		void *p = malloc(size);
		if (p)
			memcpy(p, old, size < have ? size : have);
		return p;
	}
	if (guard)
		return real.realloc(old, size);
	guard = 1;
	void *p = real.realloc(old, size);
	int saved = errno;
	if (p)
		count_alloc(size);
	if (old && (p || size == 0))
		count_free();
	guard = 0;
	errno = saved;
	return p;
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n * size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (!ready())
		return ENOMEM;
	if (guard)
		return real.posix_memalign(out, align, size);
	guard = 1;
	int r = real.posix_memalign(out, align, size);
	if (r == 0)
		count_alloc(size);
	guard = 0;
	return r;
}

#define ALIGNED_WRAPPER(name, params, args)                  \
	EXPORT void *name params                             \
	{                                                    \
		if (!ready()) {                              \
			errno = ENOMEM;                      \
			return NULL;                         \
		}                                            \
		if (guard)                                   \
			return real.name args;               \
		guard = 1;                                   \
		void *p = real.name args;                    \
		int saved = errno;                           \
		if (p)                                       \
			count_alloc(size);                   \
		guard = 0;                                   \
		errno = saved;                               \
		return p;                                    \
	}

ALIGNED_WRAPPER(aligned_alloc, (size_t align, size_t size), (align, size))
ALIGNED_WRAPPER(memalign, (size_t align, size_t size), (align, size))
ALIGNED_WRAPPER(valloc, (size_t size), (size))
ALIGNED_WRAPPER(pvalloc, (size_t size), (size))

/* ---- C++ ----
 * Each operator forwards to libstdc++'s definition, looked up on first use.  A
 * throwing operator new leaves through the cleanup handler, which drops the guard
 * (this file is built with -fexceptions).
 */

static void *next_symbol(const char *name)
{
	int old = guard;
	guard = 1;
	void *f = dlsym(RTLD_NEXT, name);
	guard = old;
	return f;
}

static void guard_cleanup(int *unused)
{
	(void)unused;
	guard = 0;
}

#define NEW_WRAPPER(name, params, args)                                           \
	EXPORT void *name params                                                  \
	{                                                                         \
		typedef void *(*fn_t) params;                                     \
		static fn_t next;                                                 \
		if (!next && !(next = (fn_t)next_symbol(#name)))                  \
			return malloc(size);                                      \
		if (guard)                                                        \
			return next args;                                         \
		guard = 1;                                                        \
		int g __attribute__((cleanup(guard_cleanup))) = 1;                \
		(void)g;                                                          \
		void *p = next args;                                              \
		if (p)                                                            \
			count_alloc(size);                                        \
		return p;                                                         \
	}

#define DELETE_WRAPPER(name, params, args)                                \
	EXPORT void name params                                           \
	{                                                                 \
		typedef void (*fn_t) params;                              \
		static fn_t next;                                         \
		if (!next && !(next = (fn_t)next_symbol(#name))) {        \
			free(p);                                          \
			return;                                           \
		}                                                         \
		if (!p || guard) {                                        \
			next args;                                        \
			return;                                           \
		}                                                         \
		guard = 1;                                                \
		count_free();                                             \
		next args;                                                \
		guard = 0;                                                \
	}

NEW_WRAPPER(_Znwm, (size_t size), (size))
NEW_WRAPPER(_Znam, (size_t size), (size))
NEW_WRAPPER(_ZnwmRKSt9nothrow_t, (size_t size, const void *nt), (size, nt))
NEW_WRAPPER(_ZnamRKSt9nothrow_t, (size_t size, const void *nt), (size, nt))
NEW_WRAPPER(_ZnwmSt11align_val_t, (size_t size, size_t al), (size, al))
NEW_WRAPPER(_ZnamSt11align_val_t, (size_t size, size_t al), (size, al))
NEW_WRAPPER(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
	    (size, al, nt))
NEW_WRAPPER(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
	    (size, al, nt))

DELETE_WRAPPER(_ZdlPv, (void *p), (p))
DELETE_WRAPPER(_ZdaPv, (void *p), (p))
DELETE_WRAPPER(_ZdlPvm, (void *p, size_t n), (p, n))
DELETE_WRAPPER(_ZdaPvm, (void *p, size_t n), (p, n))
DELETE_WRAPPER(_ZdlPvRKSt9nothrow_t, (void *p, const void *nt), (p, nt))
DELETE_WRAPPER(_ZdaPvRKSt9nothrow_t, (void *p, const void *nt), (p, nt))
DELETE_WRAPPER(_ZdlPvSt11align_val_t, (void *p, size_t al), (p, al))
DELETE_WRAPPER(_ZdaPvSt11align_val_t, (void *p, size_t al), (p, al))
DELETE_WRAPPER(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t al), (p, n, al))
DELETE_WRAPPER(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t al), (p, n, al))
DELETE_WRAPPER(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t al, const void *nt),
	       (p, al, nt))
DELETE_WRAPPER(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t al, const void *nt),
	       (p, al, nt))
