/* heapsnap.h - report the blocks of your own allocator to heapsnap.
 *
 * A program with a pool or arena allocator can report the blocks it hands out, in a
 * numbered domain of its own, the way Python code does with tracemalloc's
 * PyTraceMalloc_Track().  heapsnap records them with their call stacks like heap
 * blocks; snapshots keep each block's domain, and `heapsnap top --domain N` shows one.
 *
 *     #include <heapsnap.h>          // cc $(pkg-config --cflags heapsnap) ...
 *     void *obj = pool_get(pool);
 *     heapsnap_track(7, obj, pool->object_size);
 *     ...
 *     heapsnap_untrack(7, obj);
 *     pool_put(pool, obj);
 *
 * Nothing needs linking: the calls reach libheapsnap.so through weak references when
 * the program runs under heapsnap, and cost one test of a null pointer when it does
 * not.  Domain 0 is the heap itself (malloc and friends); use 1..65535.  A block
 * tracked in a domain is counted in the traced totals too, so a pool whose arena
 * comes from malloc is counted twice: look at one domain at a time.
 *
 * Both return 0 when the event was recorded or heapsnap is not there, or -1 when the
 * domain is out of range (1..65535). */
#ifndef HEAPSNAP_H
#define HEAPSNAP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEAPSNAP_DOMAIN_MAX 65535u

/* Provided by libheapsnap.so; absent (NULL) when the program is not traced. */
int heapsnap_track_impl(unsigned int domain, const void *ptr, size_t size)
	__attribute__((weak));
int heapsnap_untrack_impl(unsigned int domain, const void *ptr) __attribute__((weak));

/* Macros, not functions, so the call heapsnap records is on the caller's own line.
 * Each argument is evaluated once. */
#define heapsnap_track(domain, ptr, size)                                                \
	__extension__({                                                                  \
		unsigned int heapsnap_domain_ = (domain);                                \
		(heapsnap_domain_ == 0 || heapsnap_domain_ > HEAPSNAP_DOMAIN_MAX) ? -1   \
		: heapsnap_track_impl ? heapsnap_track_impl(heapsnap_domain_, (ptr), (size)) \
				      : 0;                                               \
	})

#define heapsnap_untrack(domain, ptr)                                                  \
	__extension__({                                                                \
		unsigned int heapsnap_domain_ = (domain);                              \
		(heapsnap_domain_ == 0 || heapsnap_domain_ > HEAPSNAP_DOMAIN_MAX) ? -1 \
		: heapsnap_untrack_impl ? heapsnap_untrack_impl(heapsnap_domain_, (ptr)) \
					: 0;                                           \
	})

#ifdef __cplusplus
}
#endif

#endif
