/* cfifile.h - a module's unwind rules kept on disk, shared by the shim and the collector.
 *
 * Learning the rule of a return address from the CFI (cfi.c) reads the module's
 * .eh_frame_hdr and .eh_frame at random: a traced cc1 learns about 3,000 rules and
 * touches most of their 650 pages, each first touch a few microseconds, a tenth of its
 * traced time.  The rules depend only on the binary, so the collector keeps those a
 * process learnt in one file per build-id (analyzer/collect/symcache.c writes it), and
 * the shim of every later process of that binary maps the file and looks rules up in
 * it (preload/cfistore.c) before reading any CFI.
 *
 * The file, native byte order (the cache never leaves the machine), named
 * <build-id>HS_CFI_SUFFIX in the symbol cache's directory:
 *
 *   header    magic "HSCFIRU\n", version, build-id length, entry count, checksum of
 *             the entries (hs_cfi_sum)
 *   build-id  the hex string, padded with zeros to a multiple of 8 bytes
 *   entries   { u64 addr; i32 off; i16 rbp_off; u8 kind; u8 zero }, strictly
 *             ascending addr: the module's virtual address of a return address
 *
 * Both sides read it as untrusted input with hs_cfi_check(): every size, the order,
 * each entry's fields and the checksum, before anything is used.  A rule that passes
 * and is still wrong cannot make the shim read outside the thread's stack (unwind.c
 * checks each CFA), but it would give wrong stacks, hence the checksum.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HS_CFI_VERSION 1
#define HS_CFI_SUFFIX ".v1.cfi"
#define HS_CFI_MAGIC "HSCFIRU\n"
#define HS_CFI_BUILD_ID_MAX 128     /* hex digits */
#define HS_CFI_ENTRIES_MAX (1u << 20) /* 16 MiB: more than any binary's calls */

/* What a rule says (cfi.c's struct cfi_rule, and "none"). */
enum hs_cfi_kind {
	HS_CFI_SP = 1,        /* CFA = RSP + off */
	HS_CFI_BP = 2,        /* CFA = RBP + off */
	HS_CFI_END = 3,       /* the outermost frame */
	HS_CFI_UNCOVERED = 4, /* no FDE covers the address */
	HS_CFI_NONE = 5,      /* the CFI gives no rule the fast walk can replay */
};

struct hs_cfi_header {
	char magic[8];
	uint32_t version;
	uint32_t build_id_len;
	uint64_t count;
	uint64_t sum;
};

struct hs_cfi_entry {
	uint64_t addr;
	int32_t off;     /* CFA offset, for HS_CFI_SP and HS_CFI_BP */
	int16_t rbp_off; /* the caller's RBP at CFA + rbp_off, 0: unchanged */
	uint8_t kind;
	uint8_t zero;
};

_Static_assert(sizeof(struct hs_cfi_header) == 32, "a fixed header");
_Static_assert(sizeof(struct hs_cfi_entry) == 16, "a fixed entry");

static inline size_t hs_cfi_pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Where the entries start in a file for a build-id of idlen hex digits. */
static inline size_t hs_cfi_entries_at(size_t idlen)
{
	return sizeof(struct hs_cfi_header) + hs_cfi_pad8(idlen);
}

/* The checksum of n entries. */
static inline uint64_t hs_cfi_sum(const struct hs_cfi_entry *e, uint64_t n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ n;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t w[2];
		memcpy(w, &e[i], sizeof(w));
		h = (h ^ w[0]) * 0x9e3779b97f4a7c15ull;
		h = (h ^ w[1] ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
	}
	return h ^ (h >> 32);
}

/* Whether e is a rule the fast walk can use as it is: the bounds cfi.c gives. */
static inline bool hs_cfi_entry_ok(const struct hs_cfi_entry *e)
{
	if (e->zero)
		return false;
	switch (e->kind) {
	case HS_CFI_SP:
	case HS_CFI_BP:
		return e->off > 0 && e->off < (1 << 30) && e->rbp_off <= 0 && e->rbp_off > -32768;
	case HS_CFI_END:
	case HS_CFI_UNCOVERED:
	case HS_CFI_NONE:
		return e->off == 0 && e->rbp_off == 0;
	default:
		return false;
	}
}

/* Checks len bytes at buf as the file of build_id (idlen hex digits).  Returns the
 * entries, *count of them, or NULL when the bytes are not exactly such a file. */
static inline const struct hs_cfi_entry *hs_cfi_check(const void *buf, size_t len,
						      const char *build_id, size_t idlen,
						      uint64_t *count)
{
	struct hs_cfi_header h;
	if (len < sizeof(h) || idlen == 0 || idlen > HS_CFI_BUILD_ID_MAX)
		return NULL;
	memcpy(&h, buf, sizeof(h));
	size_t at = hs_cfi_entries_at(idlen);
	if (memcmp(h.magic, HS_CFI_MAGIC, sizeof(h.magic)) || h.version != HS_CFI_VERSION ||
	    h.build_id_len != idlen || h.count > HS_CFI_ENTRIES_MAX ||
	    len != at + h.count * sizeof(struct hs_cfi_entry) ||
	    memcmp((const char *)buf + sizeof(h), build_id, idlen))
		return NULL;
	const struct hs_cfi_entry *e = (const void *)((const char *)buf + at);
	for (uint64_t i = 0; i < h.count; i++)
		if (!hs_cfi_entry_ok(&e[i]) || (i && e[i].addr <= e[i - 1].addr))
			return NULL;
	if (hs_cfi_sum(e, h.count) != h.sum)
		return NULL;
	*count = h.count;
	return e;
}

/* The entry for addr among n checked entries, or NULL. */
static inline const struct hs_cfi_entry *hs_cfi_find(const struct hs_cfi_entry *e, uint64_t n,
						     uint64_t addr)
{
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (e[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && e[lo].addr == addr ? &e[lo] : NULL;
}
