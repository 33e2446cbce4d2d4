/* pprof_format.h - profile.proto field numbers and the codec's limits,
 * shared by the snapshot encoder (pprof_encode.c), decoder (pprof_decode.c) and file
 * reader (pprof_file.c).  Internal to analyzer/. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "profile_meta.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Field numbers from profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_DROP_FRAMES = 7,
	PROFILE_KEEP_FRAMES = 8,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	PROFILE_FIELD_MAX = 15,
};
/* heapsnap's extension: memory over time, in a field profile.proto does not define, so
 * every other reader skips it (docs/format.md).  A message of packed varints. */
enum { PROFILE_HEAPSNAP_TIMELINE = 100 };
enum { TIMELINE_INTERVAL = 1, TIMELINE_MIN_BYTES = 2, TIMELINE_MAX_BYTES = 3,
       TIMELINE_PEAK_NANOS = 4, TIMELINE_SNAP_NANOS = 5 };
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3 };
/* heapsnap's extension of Sample: its blocks by size class, packed varints: one class
 * holding all of the sample's blocks, or (class, alloc blocks, alloc bytes, inuse
 * blocks, inuse bytes) per class with blocks (docs/format.md). */
enum { SAMPLE_HEAPSNAP_SIZES = 100, SIZES_ROW_VALUES = 5 };
enum { LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3, LABEL_NUM_UNIT = 4 };
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
       LOCATION_IS_FOLDED = 5 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2, LINE_COLUMN = 3 };
enum { FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
       FUNCTION_START_LINE = 5 };

#define META_VERSION_VALUE 1
/* ISA-L's level 1 (of 0-3): its fastest with a real match search, 2.6x libdeflate's
 * level 1 on a compiler's exit profile, for 6% more bytes. */
#define GZIP_LEVEL 1
/* A protobuf this small is stored in the gzip file, not compressed: stored (18 bytes of
 * gzip header and trailer, 5 of block header) it still fits the one 4 KiB block any
 * file takes on disk, and level 1 clears its 200 KB of tables at every call, about
 * 18 us for a 1.4 KB profile against 0.2 us stored (a short process's file). */
#define GZIP_STORED_MAX (4096u - 23u)
/* The writer gzips each GZIP_MEMBER bytes of protobuf as a member of its own (readers
 * take concatenated members, as gzip does): one member for nearly every file, and a
 * bounded buffer for the largest. */
#define GZIP_MEMBER (8u << 20)

/* Reader limits (docs/security.md, "Reader limits"): every input is refused or read
 * in memory proportional to what it holds. */
/* The largest snapshot file read, compressed or plain: checked with fstat before
 * reading and again while reading. */
#define FILE_SIZE_LIMIT ((size_t)1 << 30)
/* The most a file may inflate to, whatever its size... */
#define UNCOMPRESSED_LIMIT ((size_t)1 << 32)
/* ...and relative to its compressed size: INFLATE_FLOOR plus INFLATE_RATIO bytes per
 * compressed byte.  Real snapshots inflate 3-40 times; deflate can reach 1032. */
#define INFLATE_RATIO 64
#define INFLATE_FLOOR ((size_t)1 << 20)
/* The decoded profile's structures may take DECODE_FLOOR plus DECODE_RATIO bytes per
 * byte of protobuf: an empty message (2 bytes) would otherwise cost up to 80. */
#define DECODE_RATIO 16
#define DECODE_FLOOR ((size_t)1 << 20)
/* pprof_read_file(): the magnitudes of one kind of sample value, summed over all
 * samples, stay below 2^62, so every total, and every difference between two
 * profiles' totals, fits an int64. */
#define VALUE_SUM_LIMIT ((uint64_t)1 << 62)
/* The most locations a sample may have, and the largest heapsnap.frame_limit: the
 * shim's HS_FRAMES_MAX (cliopt.c checks that the two agree).  A sample is also
 * refused when it has more locations than the file's own frame limit. */
#define FRAMES_LIMIT 256
