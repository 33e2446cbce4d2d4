/* attachabi.h - what heapsnap_attach_start() and heapsnap_attach_stop() (preload/
 * attach.c) answer to heapsnap attach and detach (analyzer/cli/cmd_attach.c), which
 * call them in the target process and read the answer from its registers.
 *
 * Besides 0: a positive answer from attach (traced, but the snapshot signal is the
 * program's, as hs_ctl.signal_taken says it; detach's is the collector's pid), or one
 * of these.
 */
#pragma once

enum {
	ATTACH_PRELOADED = -1, /* this shim was preloaded: the process is traced already */
	ATTACH_ALREADY = -2,   /* attached already */
	ATTACH_FAILED = -3,    /* tracing could not be set up (said on the program's stderr) */
	ATTACH_BAD_CONFIG = -4,
	ATTACH_NOT_ATTACHED = -5,
	ATTACH_DETACHED = -6,  /* detached before: the shim stays dormant */
	ATTACH_NO_SLOT = -7,   /* no GOT slot names malloc or free */
	ATTACH_FAILED_BEFORE = -8, /* an earlier attach could not set tracing up */
	ATTACH_NO_DIR = -1000, /* minus errno: the process cannot write to HEAPSNAP_DIR */
	ATTACH_NO_COLLECTOR = -2000, /* minus errno: it cannot run HEAPSNAP_COLLECTOR */
};
