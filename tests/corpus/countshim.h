/* countshim.h - the counter file countshim.so writes, read back by test-corpus.c.
 *
 * One file per process image: COUNTSHIM_DIR/count.PID.N, N = 1 for the pid's first
 * image and one more after each exec.  The counters are updated in place (a shared
 * mapping), so the file is complete however the process ended.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#define COUNTSHIM_ENV_DIR "COUNTSHIM_DIR"
#define COUNTSHIM_MAGIC 0x31544e554f435348ull /* "HSCOUNT1" */

struct countshim_file {
	uint64_t magic;
	int64_t pid;
	_Atomic uint64_t alloc_calls; /* successful allocation calls */
	_Atomic uint64_t alloc_bytes; /* bytes they requested */
	_Atomic uint64_t free_calls;  /* frees of non-NULL blocks, realloc's included */
};
