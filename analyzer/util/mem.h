/* mem.h - big fresh memory mapped in one system call, not a page fault a page.
 *
 * The first touch of an anonymous page is a page fault.  On the paravirtualised
 * machines we measure on each is a hypervisor exit, 11-15 us, against 0.5-0.9 us a
 * page for madvise(MADV_POPULATE_WRITE) over the whole range: a collector that built
 * a cc1's tables and profile took 834 faults, about 10 ms of its 24 ms.  So the
 * analyzer's growing arrays and tables map a block of MEM_POPULATE_MIN or more before
 * writing it, unless it is memory malloc reuses, already mapped (mem_populate()).
 * A kernel without MADV_POPULATE_WRITE (before 5.14) leaves them to fault as before.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Smaller blocks are a few pages at most: their faults cost less than the call. */
#define MEM_POPULATE_MIN (64u << 10)

/* madvise() over every page [p, p + n) touches, errno kept: for the MADV_POPULATE_*
 * advice, where a kernel without it leaves the pages to fault in as before. */
static inline void mem_advise(const void *p, size_t n, int advice)
{
	uintptr_t page = (uintptr_t)getpagesize();
	uintptr_t from = (uintptr_t)p & ~(page - 1);
	uintptr_t to = ((uintptr_t)p + n + page - 1) & ~(page - 1);
	int saved = errno;
	if (n)
		madvise((void *)from, to - from, advice);
	errno = saved;
}

/* Maps the pages of [p, p + n) writable now, when n is at least MEM_POPULATE_MIN and
 * its middle page is not mapped yet.  A block whose middle page is mapped is memory
 * malloc reuses (a collector host's arena keeps what each image's collector gave back,
 * and the next reuses it): populating it costs a walk of pages already there, about
 * 0.4 us a page, and in a make of 30 files the host walked 34,000 of them this way, 6%
 * of its CPU.  One mincore() call tells.  Not the first or last page: malloc writes a
 * chunk header into those of a fresh block too. */
static inline void mem_populate(void *p, size_t n)
{
	if (n < MEM_POPULATE_MIN)
		return;
	uintptr_t page = (uintptr_t)getpagesize();
	uintptr_t middle = ((uintptr_t)p + n / 2) & ~(page - 1);
	unsigned char in_core = 0;
	int saved = errno;
	bool mapped = mincore((void *)middle, page, &in_core) == 0 && (in_core & 1);
	errno = saved;
	if (!mapped)
		mem_advise(p, n, MADV_POPULATE_WRITE);
}

/* realloc() of a block whose first used bytes matter to n bytes, the new block mapped
 * before the copy when it is big.  NULL (old untouched) when out of memory. */
static inline void *mem_realloc(void *old, size_t used, size_t n)
{
	if (n < MEM_POPULATE_MIN)
		return realloc(old, n);
	void *p = malloc(n);
	if (!p)
		return NULL;
	mem_populate(p, n);
	if (used)
		memcpy(p, old, used < n ? used : n);
	free(old);
	return p;
}

/* calloc(), the block mapped before it is cleared when it is big. */
static inline void *mem_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	size_t n = count * size;
	if (n < MEM_POPULATE_MIN)
		return calloc(count, size);
	void *p = malloc(n);
	if (p) {
		mem_populate(p, n);
		memset(p, 0, n);
	}
	return p;
}
