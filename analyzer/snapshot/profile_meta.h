/* profile_meta.h - the table of a snapshot's header facts, for the codec and the
 * info printer.
 *
 * Each fact is one row: its "heapsnap.key" name, where it lives in profile_meta_t,
 * how the codec carries it (as a "heapsnap.key=value" comment, or in a Profile field
 * of its own), and how `heapsnap info` shows it (label, style, row).  The codec writes
 * the comments in table order; info prints in row order; JSON names are the keys
 * without "heapsnap.".
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* How the codec carries a fact: the format version, a number or a string in a
 * comment, or a Profile field of its own (not a comment; the codec skips it here). */
enum meta_kind { META_VERSION, META_NUM, META_STR, META_FIELD };

/* How `heapsnap info` shows a fact. */
enum meta_show {
	SHOW_NONE,    /* not shown */
	SHOW_NUM,     /* a number */
	SHOW_STR,     /* a string */
	SHOW_BYTES,   /* a size: "1.5 KiB (1536 B)" */
	SHOW_PERIOD,  /* a number; 0 means every allocation */
	SHOW_TIME,    /* Unix nanoseconds, as a UTC date */
	SHOW_SECONDS, /* nanoseconds, as seconds */
	SHOW_OFF,     /* 1: tracing was off */
};

static const struct meta_key {
	const char *key;
	enum meta_kind kind;
	size_t offset;     /* into profile_meta_t */
	enum meta_show show;
	const char *label; /* info's text label */
	int row;           /* info's row, from 0; -1 for none */
} meta_keys[] = {
	{ "heapsnap.version", META_VERSION, 0, SHOW_NONE, NULL, -1 },
	{ "heapsnap.pid", META_NUM, offsetof(profile_meta_t, pid), SHOW_NUM, "pid:", 0 },
	{ "heapsnap.command", META_STR, offsetof(profile_meta_t, command), SHOW_STR, "command:", 1 },
	{ "heapsnap.trigger", META_STR, offsetof(profile_meta_t, trigger), SHOW_STR, "trigger:", 2 },
	{ "heapsnap.frame_limit", META_NUM, offsetof(profile_meta_t, frame_limit), SHOW_NUM,
	  "frame limit:", 5 },
	{ "heapsnap.sampling_period", META_NUM, offsetof(profile_meta_t, sampling_period),
	  SHOW_PERIOD, "sampling period:", 6 },
	{ "heapsnap.current_bytes", META_NUM, offsetof(profile_meta_t, current_bytes), SHOW_BYTES,
	  "traced current:", 7 },
	{ "heapsnap.peak_bytes", META_NUM, offsetof(profile_meta_t, peak_bytes), SHOW_BYTES,
	  "traced peak:", 8 },
	{ "heapsnap.lost_events", META_NUM, offsetof(profile_meta_t, lost_events), SHOW_NUM,
	  "lost events:", 10 },
	{ "heapsnap.untracked_events", META_NUM, offsetof(profile_meta_t, untracked_events),
	  SHOW_NUM, "untracked events:", 11 },
	{ "heapsnap.corrupt_records", META_NUM, offsetof(profile_meta_t, corrupt_records),
	  SHOW_NUM, "corrupt records:", 12 },
	{ "heapsnap.unmatched_frees", META_NUM, offsetof(profile_meta_t, unmatched_frees),
	  SHOW_NUM, "unmatched frees:", 14 },
	{ "heapsnap.missed_frees", META_NUM, offsetof(profile_meta_t, missed_frees), SHOW_NUM,
	  "missed frees:", 15 },
	{ "heapsnap.dropped_stacks", META_NUM, offsetof(profile_meta_t, dropped_stacks), SHOW_NUM,
	  "dropped stacks:", 13 },
	{ "heapsnap.merged_requests", META_NUM, offsetof(profile_meta_t, merged_requests),
	  SHOW_NUM, "merged requests:", 16 },
	{ "heapsnap.overhead_bytes", META_NUM, offsetof(profile_meta_t, overhead_bytes),
	  SHOW_BYTES, "tracer overhead:", 9 },
	{ "heapsnap.tracing_off", META_NUM, offsetof(profile_meta_t, tracing_off), SHOW_OFF,
	  "tracing:", 17 },
	{ "heapsnap.time_nanos", META_FIELD, offsetof(profile_meta_t, time_nanos), SHOW_TIME,
	  "time:", 3 },
	{ "heapsnap.duration_nanos", META_FIELD, offsetof(profile_meta_t, duration_nanos),
	  SHOW_SECONDS, "duration:", 4 },
};

#define META_NKEYS (sizeof(meta_keys) / sizeof(meta_keys[0]))

static inline int64_t *meta_num(profile_meta_t *m, const struct meta_key *k)
{
	return (int64_t *)((char *)m + k->offset);
}

static inline const char **meta_str(profile_meta_t *m, const struct meta_key *k)
{
	return (const char **)((char *)m + k->offset);
}

static inline int64_t meta_get_num(const profile_meta_t *m, const struct meta_key *k)
{
	return *(const int64_t *)((const char *)m + k->offset);
}

static inline const char *meta_get_str(const profile_meta_t *m, const struct meta_key *k)
{
	return *(const char *const *)((const char *)m + k->offset);
}
