/* shim.c - the wrapped allocator entry points of libheapsnap.so.
 *
 * Every C allocation function and every C++ operator new/delete is wrapped.  A wrapper
 * calls whatever definition comes next in the lookup order (glibc, jemalloc, ...) and
 * records the event around it: allocations after the real call, releases reserved
 * before it (design.md invariant 1).  The thread-local guard makes nested calls (the
 * real operator new calling malloc, libunwind allocating) pass straight through, so
 * each program-level call is recorded once.  Until dlsym has found the real functions,
 * allocations come from a small pool whose blocks are never freed.
 *
 * errno is left exactly as the real function left it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

__thread int shim_guard TLS_IE HIDDEN;

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
} real;

/* ---- bootstrap: before the real functions are known ---- */

/* Mapped at its first use (few processes have one), not static: the shim's static data
 * is mapped whole at setup (tracing.c), and stays small for that. */
#define POOL_SIZE (256 * 1024)
static _Atomic(char *) pool;
static _Atomic size_t pool_used;
static _Atomic int resolve_state; /* 0 not yet, 1 in progress, 2 done */
static __thread int resolving TLS_IE;

static inline bool in_pool(const void *p)
{
	const char *b = atomic_load_explicit(&pool, memory_order_acquire);
	return b && (const char *)p >= b && (const char *)p < b + POOL_SIZE;
}

static char *pool_map(void)
{
	char *b = atomic_load_explicit(&pool, memory_order_acquire);
	if (b)
		return b;
	char *m = (char *)syscall(SYS_mmap, NULL, POOL_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&pool, &b, m)) {
		syscall(SYS_munmap, m, POOL_SIZE); /* another thread's came first */
		return b;
	}
	return m;
}

static void *pool_alloc(size_t size)
{
	size_t need = ((size + 15) & ~(size_t)15) + 16;
	char *b = pool_map();
	if (size > POOL_SIZE || !b)
		goto full;
	size_t off = atomic_fetch_add(&pool_used, need);
	if (off + need > POOL_SIZE)
		goto full;
	memcpy(b + off, &size, sizeof(size));
	return b + off + 16;
full:
	errno = ENOMEM;
	return NULL;
}

static size_t pool_size(const void *p)
{
	size_t size;
	memcpy(&size, (const char *)p - 16, sizeof(size));
	return size;
}

/* Out of line: it touches a thread-local, which must stay out of the wrappers'
 * bodies in the attached build (see PAST_LOADER_CHECK). */
static __attribute__((noinline)) void resolve(void)
{
	int expect = 0;
	if (atomic_compare_exchange_strong(&resolve_state, &expect, 1)) {
		resolving = 1;
		real.malloc = shim_next_symbol("malloc");
		real.calloc = shim_next_symbol("calloc");
		real.realloc = shim_next_symbol("realloc");
		real.free = shim_next_symbol("free");
		real.posix_memalign = shim_next_symbol("posix_memalign");
		real.aligned_alloc = shim_next_symbol("aligned_alloc");
		real.memalign = shim_next_symbol("memalign");
		real.valloc = shim_next_symbol("valloc");
		real.pvalloc = shim_next_symbol("pvalloc");
		resolving = 0;
		atomic_store(&resolve_state, 2);
		return;
	}
	while (!resolving && atomic_load(&resolve_state) != 2)
		sched_yield();
}

/* True when the real functions can be called; false while this thread resolves them. */
static inline bool ready(void)
{
	if (LIKELY(atomic_load_explicit(&resolve_state, memory_order_acquire) == 2))
		return true;
	resolve();
	return atomic_load(&resolve_state) == 2;
}

/* Where a malloc or free goes, decided with a few loads and no stack frame of ours:
 * straight to the real function with nothing to record or count (nested, dormant or
 * stopped by heapsnap start/stop, or off without having given up), to the recording
 * path (tracing), or through the general path (setting up, the bootstrap pool,
 * counting after giving up).  A dormant program so pays a tail call. */
enum route { ROUTE_PASS, ROUTE_RECORD, ROUTE_GENERAL };

/* Always inlined: FROM_LOADER() reads the wrapper's return address. */
static inline __attribute__((always_inline)) enum route route(void)
{
	if (UNLIKELY(atomic_load_explicit(&resolve_state, memory_order_acquire) != 2))
		return ROUTE_GENERAL;
	/* The loader allocating this thread's dynamic TLS (an attached shim): before the
	 * guard, whose first access is that allocation. */
	if (UNLIKELY(FROM_LOADER()))
		return ROUTE_PASS;
	if (shim_guard_read())
		return ROUTE_PASS;
	int s = atomic_load_explicit(&shim_state, memory_order_relaxed);
	if (LIKELY(s == SHIM_ON))
		return atomic_load_explicit(&shim_seg.ctl->recording, memory_order_acquire)
			       ? ROUTE_RECORD
			       : ROUTE_PASS;
	if (s == SHIM_OFF && !atomic_load_explicit(&shim_gave_up, memory_order_relaxed))
		return ROUTE_PASS;
	return ROUTE_GENERAL;
}

static inline void record_alloc(const void *p, size_t size, uint16_t domain)
{
	if (domain == 0 && trace_unsampled(&shim_seg, size))
		return;
	int saved = errno;
	trace_alloc(&shim_seg, p, size, domain);
	errno = saved;
}

static inline void record_free(const void *p, uint16_t domain)
{
	int saved = errno;
	trace_free(&shim_seg, p, domain);
	errno = saved;
}

/* ---- C ---- */

/* malloc's recording path: tracing, the guard free. */
static __attribute__((noinline)) void *malloc_record(size_t size)
{
	shim_guard = 1;
	void *p = real.malloc(size);
	if (p)
		record_alloc(p, size, 0);
	leave();
	return p;
}

static __attribute__((noinline)) void *malloc_general(size_t size)
{
	if (UNLIKELY(!ready()))
		return pool_alloc(size);
	if (!enter()) {
		void *p = real.malloc(size);
		passed(p != NULL);
		return p;
	}
	void *p = real.malloc(size);
	if (p)
		record_alloc(p, size, 0);
	leave();
	return p;
}

EXPORT void *malloc(size_t size)
{
	enum route r = route();
	if (LIKELY(r == ROUTE_PASS))
		return real.malloc(size);
	if (LIKELY(r == ROUTE_RECORD))
		return malloc_record(size);
	return malloc_general(size);
}

#ifdef HEAPSNAP_DYNAMIC_TLS
int shim_guard_read(void)
{
	__asm__ volatile(""); /* a side effect: the call stays where it is */
	return shim_guard;
}
#endif

static PAST_LOADER_CHECK void *calloc_past_loader(size_t n, size_t size)
{
	if (!enter()) {
		void *p = real.calloc(n, size);
		passed(p != NULL);
		return p;
	}
	void *p = real.calloc(n, size);
	if (p)
		record_alloc(p, n * size, 0);
	leave();
	return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (UNLIKELY(!ready())) {
		if (size && n > SIZE_MAX / size) {
			errno = ENOMEM;
			return NULL;
		}
		return pool_alloc(n * size); /* fresh anonymous memory, so already zero */
	}
	if (UNLIKELY(FROM_LOADER()))
		return real.calloc(n, size);
	return calloc_past_loader(n, size);
}

/* free's recording path: tracing, the guard free, p a real block. */
static __attribute__((noinline)) void free_record(void *p)
{
	shim_guard = 1;
	record_free(p, 0);
	real.free(p);
	leave();
}

static __attribute__((noinline)) void free_general(void *p)
{
	if (UNLIKELY(!ready()))
		return;
	if (!enter()) {
		passed(1);
		real.free(p);
		return;
	}
	record_free(p, 0);
	real.free(p);
	leave();
}

EXPORT void free(void *p)
{
	if (UNLIKELY(!p || in_pool(p)))
		return;
	enum route r = route();
	if (LIKELY(r == ROUTE_PASS))
		real.free(p);
	else if (LIKELY(r == ROUTE_RECORD))
		free_record(p);
	else
		free_general(p);
}

static PAST_LOADER_CHECK void *realloc_past_loader(void *old, size_t size)
{
	if (!old)
		return malloc(size);
	if (!enter()) {
		void *p = real.realloc(old, size);
		passed(p ? 2 : size == 0); /* moved: a release and an allocation */
		return p;
	}
	uint64_t pos = trace_reserve(&shim_seg, old);
	void *p = real.realloc(old, size);
	int saved = errno;
	/* glibc frees the block and returns NULL for realloc(p, 0). */
	trace_settle(&shim_seg, pos, old, p != NULL || size == 0);
	errno = saved;
	if (p)
		record_alloc(p, size, 0);
	leave();
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	if (UNLIKELY(!ready() || in_pool(old))) {
		void *p = ready() ? malloc(size) : pool_alloc(size);
		if (p && old && in_pool(old)) {
			size_t have = pool_size(old);
			memcpy(p, old, have < size ? have : size);
		}
		return p;
	}
	if (UNLIKELY(FROM_LOADER()))
		return real.realloc(old, size);
	return realloc_past_loader(old, size);
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
	if (UNLIKELY(!ready()))
		return ENOMEM;
	if (!enter()) {
		int r = real.posix_memalign(out, align, size);
		passed(r == 0);
		return r;
	}
	int r = real.posix_memalign(out, align, size);
	if (r == 0 && *out)
		record_alloc(*out, size, 0);
	leave();
	return r;
}

/* aligned_alloc, memalign, valloc and pvalloc share one shape; recorded is the size the
 * block is asked to hold. */
#define ALIGNED_WRAPPER(name, params, args, recorded)        \
	EXPORT void *name params                             \
	{                                                    \
		if (UNLIKELY(!ready())) {                    \
			errno = ENOMEM;                      \
			return NULL;                         \
		}                                            \
		if (!enter()) {                              \
			void *q = real.name args;            \
			passed(q != NULL);                   \
			return q;                            \
		}                                            \
		void *p = real.name args;                    \
		if (p)                                       \
			record_alloc(p, recorded, 0);        \
		leave();                                     \
		return p;                                    \
	}

ALIGNED_WRAPPER(aligned_alloc, (size_t align, size_t size), (align, size), size)
ALIGNED_WRAPPER(memalign, (size_t align, size_t size), (align, size), size)
ALIGNED_WRAPPER(valloc, (size_t size), (size), size)
/* pvalloc rounds the size up to whole pages (one for 0), and the block holds them. */
ALIGNED_WRAPPER(pvalloc, (size_t size), (size), shim_whole_pages(size ? size : 1))

/* ---- C++ ----
 * Each operator forwards to the next definition (libstdc++'s), found on first use so a
 * libstdc++ loaded later by dlopen works too.  A throwing operator new may unwind
 * through the wrapper: the guard is reset by a cleanup handler (built with
 * -fexceptions), run by the personality routine below.  When no next definition
 * exists, malloc (memalign) and free stand in.  When the program replaced the base
 * operator a form builds on, the form passes through (cxx_replaced()).
 */

#if !defined(__ARM_EABI_UNWINDER__)
/* The personality routine the compiler names for every C function with a cleanup: in
 * the shim, only each operator new's traced half (NEW_WRAPPER), whose one cleanup
 * resets the guard that function holds.  libgcc_s's routine would read the function's
 * call-site table and land in the cleanup's code; this one resets the guard itself
 * when an exception unwinds through (the cleanup phase, a forced unwind's too) and
 * lets the unwinding go on, which is the same, since the only call there that can
 * throw is the one inside the cleanup's scope.  So the shim needs no libgcc_s, whose
 * loading cost about 0.2 ms in every process image.  Hidden: every other module's
 * frames keep libgcc_s's routine.  The landing pads' _Unwind_Resume is so never
 * reached.  (ARM's EHABI routine has another contract: there, libgcc_s's is used.) */
#define UNWIND_CLEANUP_PHASE 2 /* _UA_CLEANUP_PHASE */
#define UNWIND_CONTINUE 8      /* _URC_CONTINUE_UNWIND */
HIDDEN int __gcc_personality_v0(int version, int actions, uint64_t exception_class,
				void *exception, void *context)
{
	(void)version, (void)exception_class, (void)exception, (void)context;
	if (actions & UNWIND_CLEANUP_PHASE)
		shim_guard = 0;
	return UNWIND_CONTINUE;
}

HIDDEN _Noreturn void _Unwind_Resume(void *exception)
{
	(void)exception;
	abort();
}
#endif

void *shim_next_symbol(const char *name)
{
	int old = shim_guard;
	shim_guard = 1;
	bool attached = attach_dlopened();
	void *f = attached ? attach_lookup(name) : dlsym(RTLD_NEXT, name);
	/* Not in the global scope after the shim: in a library some plugin loaded with
	 * RTLD_LOCAL (libstdc++, under a C program's C++ plugin). */
	if (!f && !attached)
		f = attach_lookup(name);
	shim_guard = old;
	return f;
}

/* The operators a program may replace, on which libstdc++ builds the other forms: an
 * operator new[], nothrow or sized delete of libstdc++'s calls the program's own
 * operator new or delete.  Then the shim's wrappers of those forms pass through: what
 * the program's operator calls (malloc, free) is recorded, once, and a block the
 * program's allocator gives never reaches the wrappers' books as the operator's. */
struct cxx_base {
	const char *name;
	_Atomic int replaced; /* -1 until known */
};
static struct cxx_base new_plain = { "_Znwm", -1 }, new_aligned = { "_ZnwmSt11align_val_t", -1 },
		       delete_plain = { "_ZdlPv", -1 },
		       delete_aligned = { "_ZdlPvSt11align_val_t", -1 };

static bool cxx_replaced(struct cxx_base *b)
{
	int v = atomic_load_explicit(&b->replaced, memory_order_relaxed);
	if (UNLIKELY(v < 0)) {
		int old = shim_guard;
		shim_guard = 1;
		v = attach_replaced(b->name, shim_next_symbol(b->name));
		shim_guard = old;
		atomic_store_explicit(&b->replaced, v, memory_order_relaxed);
	}
	return v;
}

/* An operator new in two halves.  The traced half runs with the guard taken by
 * enter() and alone carries the cleanup that gives it back, so an exception through
 * a nested call (the guard an outer frame's: a new_handler's own new that throws and
 * is caught inside the handler) unwinds through no cleanup and leaves it taken. */
#define NEW_WRAPPER(name, params, args, base, fallback)                             \
	typedef void *(*name##_fn) params;                                         \
	static name##_fn name##_next;                                              \
	static __attribute__((noinline)) void *name##_traced params                \
	{                                                                          \
		int guard __attribute__((cleanup(leave_cleanup))) = 1;             \
		(void)guard;                                                       \
		void *p = name##_next args;                                        \
		if (p)                                                             \
			record_alloc(p, size, 0);                                  \
		return p;                                                          \
	}                                                                          \
	EXPORT void *name params                                                   \
	{                                                                          \
		if (UNLIKELY(!name##_next) &&                                      \
		    !(name##_next = (name##_fn)shim_next_symbol(#name)))           \
			return fallback;                                           \
		if (UNLIKELY(cxx_replaced(&base)))                                 \
			return name##_next args;                                   \
		if (!enter()) {                                                    \
			void *q = name##_next args;                                \
			passed(q != NULL);                                         \
			return q;                                                  \
		}                                                                  \
		return name##_traced args;                                         \
	}

#define DELETE_WRAPPER(name, params, args, base)                           \
	EXPORT void name params                                            \
	{                                                                  \
		typedef void (*fn_t) params;                               \
		static fn_t next;                                          \
		if (UNLIKELY(!next) && !(next = (fn_t)shim_next_symbol(#name))) { \
			free(p);                                           \
			return;                                            \
		}                                                          \
		if (UNLIKELY(cxx_replaced(&base))) {                       \
			next args;                                         \
			return;                                            \
		}                                                          \
		if (!p || !enter()) {                                      \
			passed(p != NULL);                                 \
			next args;                                         \
			return;                                            \
		}                                                          \
		record_free(p, 0);                                            \
		next args;                                                 \
		leave();                                                   \
	}

NEW_WRAPPER(_Znwm, (size_t size), (size), new_plain, malloc(size))
NEW_WRAPPER(_Znam, (size_t size), (size), new_plain, malloc(size))
NEW_WRAPPER(_ZnwmRKSt9nothrow_t, (size_t size, const void *nt), (size, nt), new_plain,
	    malloc(size))
NEW_WRAPPER(_ZnamRKSt9nothrow_t, (size_t size, const void *nt), (size, nt), new_plain,
	    malloc(size))
NEW_WRAPPER(_ZnwmSt11align_val_t, (size_t size, size_t al), (size, al), new_aligned,
	    memalign(al, size))
NEW_WRAPPER(_ZnamSt11align_val_t, (size_t size, size_t al), (size, al), new_aligned,
	    memalign(al, size))
NEW_WRAPPER(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
	    (size, al, nt), new_aligned, memalign(al, size))
NEW_WRAPPER(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
	    (size, al, nt), new_aligned, memalign(al, size))

DELETE_WRAPPER(_ZdlPv, (void *p), (p), delete_plain)
DELETE_WRAPPER(_ZdaPv, (void *p), (p), delete_plain)
DELETE_WRAPPER(_ZdlPvm, (void *p, size_t n), (p, n), delete_plain)
DELETE_WRAPPER(_ZdaPvm, (void *p, size_t n), (p, n), delete_plain)
DELETE_WRAPPER(_ZdlPvRKSt9nothrow_t, (void *p, const void *nt), (p, nt), delete_plain)
DELETE_WRAPPER(_ZdaPvRKSt9nothrow_t, (void *p, const void *nt), (p, nt), delete_plain)
DELETE_WRAPPER(_ZdlPvSt11align_val_t, (void *p, size_t al), (p, al), delete_aligned)
DELETE_WRAPPER(_ZdaPvSt11align_val_t, (void *p, size_t al), (p, al), delete_aligned)
DELETE_WRAPPER(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t al), (p, n, al),
	       delete_aligned)
DELETE_WRAPPER(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t al), (p, n, al),
	       delete_aligned)
DELETE_WRAPPER(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t al, const void *nt),
	       (p, al, nt), delete_aligned)
DELETE_WRAPPER(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t al, const void *nt),
	       (p, al, nt), delete_aligned)

/* ---- heapsnap.h: blocks of the program's own allocators ---- */

EXPORT int heapsnap_track_impl(unsigned int domain, const void *ptr, size_t size)
{
	if (domain == 0 || domain > 65535)
		return -1;
	if (!ptr || !ready() || !enter()) {
		passed(ptr != NULL);
		return 0;
	}
	record_alloc(ptr, size, (uint16_t)domain);
	leave();
	return 0;
}

EXPORT int heapsnap_untrack_impl(unsigned int domain, const void *ptr)
{
	if (domain == 0 || domain > 65535)
		return -1;
	if (!ptr || !ready() || !enter()) {
		passed(ptr != NULL);
		return 0;
	}
	record_free(ptr, (uint16_t)domain);
	leave();
	return 0;
}

/* ---- process start and end ---- */

__attribute__((constructor)) static void shim_start(void)
{
	if (ready() && atomic_load(&shim_state) == SHIM_UNINIT && !attach_dlopened())
		tracing_setup();
}

__attribute__((destructor)) static void shim_end(void)
{
	tracing_exit();
}
