/* segpool.h - the segments heapsnap run's host keeps for the next images (segpool.c,
 * and HS_POOL_MAGIC in shmlayout.h for the protocol).  Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Offers kept segments in run_dir, run's private directory; without a call, or with
 * NULL, nothing is kept. */
void segpool_init(const char *run_dir);

/* The host's mapping of the segment whose memfd has status st, when it is one it kept
 * and an image has claimed, with the host's own fd of it in *kept_fd; else NULL. */
void *segpool_take(const struct stat *st, int *kept_fd);

/* Done with a segment, mapped at map, whose memfd is fd (both are taken): kept for the
 * next image when reusable (its process has ended or exec'd, so nothing writes to it
 * any more), else unmapped and closed. */
void segpool_give(void *map, uint64_t size, int fd, bool reusable);

/* The host is ending: the kept segments are freed and their links removed, and none is
 * kept from now on. */
void segpool_close(void);
