/* mmap.c - anonymous memory mappings: the mmap domain.
 *
 * Allocators of their own (CPython's pymalloc arenas, jemalloc-style programs, custom
 * arenas) take memory from mmap, not malloc.  These wrappers record anonymous mappings
 * as a domain of their own; file-backed mappings are not heap and are left out, except
 * that one placed with MAP_FIXED removes whatever traced range it replaces.  A
 * mapping made PROT_NONE is an address-space reservation, not memory, and is left out
 * too (it is counted once it is mapped again accessible with MAP_FIXED, as arenas that
 * commit by mmap do, but not after a later mprotect).  glibc's own mappings (malloc's
 * large blocks and arenas, thread stacks, the loader) go through libc-internal calls,
 * never through these symbols, so nothing is counted twice with the heap domain.
 *
 * The ordering rule is the heap's: a new mapping is recorded after the real call, a
 * release is reserved before it.  mremap is both, like realloc: the release of its old
 * range (REMAP_FROM) is reserved before the call, its new range (REMAP_TO) recorded
 * after it, naming the position of its REMAP_FROM, so that the collector maps the new
 * range only when the old one was traced (it may have been a file mapping).  Sizes
 * are whole pages, as the kernel counts them.
 */
/* Both names are defined here, so neither may be an alias of the other. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);

static mmap_fn real_mmap;
static munmap_fn real_munmap;
static mremap_fn real_mremap;

uint64_t shim_whole_pages(size_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	return ((uint64_t)len + page - 1) & ~(page - 1);
}

/* The real calls: the next definition in lookup order, or the system call itself while
 * none is known yet (dlsym may be under way in this very thread). */
static mmap_fn next_mmap(void)
{
	if (!real_mmap)
		real_mmap = (mmap_fn)shim_next_symbol("mmap");
	return real_mmap;
}

static munmap_fn next_munmap(void)
{
	if (!real_munmap)
		real_munmap = (munmap_fn)shim_next_symbol("munmap");
	return real_munmap;
}

void *shim_real_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	if (next_mmap())
		return real_mmap(addr, len, prot, flags, fd, off);
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void shim_real_mmap_resolve(void)
{
	next_mmap();
	next_munmap();
}

int shim_real_munmap(void *addr, size_t len)
{
	if (next_munmap())
		return real_munmap(addr, len);
	return (int)syscall(SYS_munmap, addr, len);
}

static void *call_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	if (!real_mremap)
		real_mremap = (mremap_fn)shim_next_symbol("mremap");
	if (real_mremap)
		return real_mremap(old, old_len, new_len, flags, new_addr);
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = shim_real_mmap(addr, len, prot, flags, fd, off);
	unsigned kind = 0;
	if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && prot != PROT_NONE)
		kind = HS_REC_MAP;
	else if (p != MAP_FAILED && (flags & MAP_FIXED))
		kind = HS_REC_UNMAP;
	if (!kind)
		return p;
	if (!enter()) {
		passed(1);
		return p;
	}
	int saved = errno;
	trace_range(&shim_seg, kind, p, shim_whole_pages(len));
	errno = saved;
	leave();
	return p;
}

/* glibc's mmap64 is the same function on 64-bit systems; a program may name either. */
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
	if (!enter()) {
		int r = shim_real_munmap(addr, len);
		passed(r == 0);
		return r;
	}
	uint64_t pos = trace_reserve_range(&shim_seg);
	int r = shim_real_munmap(addr, len);
	int saved = errno;
	trace_put(&shim_seg, pos, r == 0 ? HS_REC_UNMAP : HS_REC_NOOP, addr, shim_whole_pages(len),
		  HS_STACK_UNKNOWN);
	errno = saved;
	leave();
	return r;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7 */
#endif

/* The kernel reads new_addr for MREMAP_FIXED, and as a hint for MREMAP_DONTUNMAP.  That
 * one, and an old_len of 0 (a second mapping of a shared mapping's pages), leave the
 * old range mapped: the new one is recorded as a mapping of its own, after the call
 * (mmap's rule), with this call's stack. */
EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (!enter()) {
		void *p = call_mremap(old, old_len, new_len, flags, new_addr);
		passed(p != MAP_FAILED ? 2 : 0);
		return p;
	}
	uint32_t stack = stack_capture(&shim_seg);
	/* Only a call that releases its old range reserves a position before it: the new
	 * range is recorded after the call, as mmap's is.  Before it, the new range would
	 * come ahead of another thread's munmap, reserved meanwhile, of the addresses the
	 * kernel then gave this call, and that munmap would take it away. */
	bool releases = !(flags & MREMAP_DONTUNMAP) && old_len != 0;
	uint64_t pos = releases ? trace_reserve_range(&shim_seg) : RING_NO_POS;
	void *p = call_mremap(old, old_len, new_len, flags, new_addr);
	int saved = errno;
	if (!releases) {
		if (p != MAP_FAILED)
			trace_put(&shim_seg, trace_reserve_range(&shim_seg), HS_REC_MAP, p,
				  shim_whole_pages(new_len), stack);
	} else if (p == MAP_FAILED) {
		trace_put(&shim_seg, pos, HS_REC_NOOP, NULL, 0, 0);
	} else if (pos != RING_NO_POS) {
		trace_put(&shim_seg, pos, HS_REC_REMAP_FROM, old, shim_whole_pages(old_len), stack);
		trace_put(&shim_seg, trace_reserve_range(&shim_seg), HS_REC_REMAP_TO, p,
			  shim_whole_pages(new_len), (uint32_t)pos);
	}
	errno = saved;
	leave();
	return p;
}
