/* cfi.c - a frame's unwind rule read straight from the module's .eh_frame.
 *
 * The fast unwinder (unwind.c) caches, per return address, where the caller's frame
 * is: CFA = RSP or RBP + k, the return address at CFA - 8, the caller's RBP unchanged
 * or saved at CFA + j.  That is the DWARF call frame information at that address, for
 * the subset compilers emit for ordinary functions.  Reading it here costs a binary
 * search of the module's .eh_frame_hdr table and one pass over a CIE's and an FDE's
 * instructions, about a microsecond, where deriving it from a libunwind cursor walk
 * costs a whole stack's unwinding; so every miss can learn, not one in 64.
 *
 * Anything outside the subset (a CFA or a register given by a DWARF expression, RBP
 * kept in another register, a signal frame, a module without .eh_frame_hdr, an
 * encoding this does not read) answers "no rule", and libunwind unwinds that frame as
 * before.  The module is found with glibc's _dl_find_object, lock-free and
 * async-signal-safe.  The tables are the process's own mapped, read-only data; every
 * length is still bounded by its enclosing record, so a malformed table cannot send
 * the reader outside it.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "shim.h"

#if ARCH_FAST_UNWIND && defined(DLFO_STRUCT_HAS_EH_DBASE)

/* DWARF pointer encodings (DW_EH_PE_*). */
enum {
	PE_ABSPTR = 0x00, PE_ULEB128 = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04, PE_SLEB128 = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c, PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_INDIRECT = 0x80,
	PE_OMIT = 0xff,
};

/* x86-64 DWARF register numbers. */
enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };

/* A bounded reader over [p, end). */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd_bytes(struct rd *r, unsigned n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	memcpy(&v, r->p, n); /* little-endian, as x86-64 is */
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		if (r->p >= r->end || shift >= 64) {
			r->bad = true;
			return 0;
		}
		b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return (int64_t)v;
}

/* An encoded pointer; datarel is the base of DW_EH_PE_datarel (the .eh_frame_hdr).
 * Indirect and the rarer bases are not read. */
static uint64_t rd_ptr(struct rd *r, uint8_t enc, uint64_t datarel)
{
	uint64_t here = (uint64_t)(uintptr_t)r->p, v;
	switch (enc & 0x0f) {
	case PE_ABSPTR: v = rd_bytes(r, 8); break;
	case PE_ULEB128: v = rd_uleb(r); break;
	case PE_UDATA2: v = rd_bytes(r, 2); break;
	case PE_UDATA4: v = rd_bytes(r, 4); break;
	case PE_UDATA8: v = rd_bytes(r, 8); break;
	case PE_SLEB128: v = (uint64_t)rd_sleb(r); break;
	case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)rd_bytes(r, 2); break;
	case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)rd_bytes(r, 4); break;
	case PE_SDATA8: v = rd_bytes(r, 8); break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0: break;
	case PE_PCREL: v += here; break;
	case PE_DATAREL: v += datarel; break;
	default: r->bad = true; return 0;
	}
	if (enc & PE_INDIRECT)
		r->bad = true;
	return v;
}

/* One record (CIE or FDE) at p: its body after the length, bounded by limit. */
static bool rd_record(const uint8_t *p, const uint8_t *limit, struct rd *body)
{
	struct rd r = { p, limit, false };
	uint64_t len = rd_bytes(&r, 4);
	if (len == 0xffffffffu)
		len = rd_bytes(&r, 8);
	if (r.bad || len == 0 || len > (uint64_t)(limit - r.p))
		return false;
	*body = (struct rd){ r.p, r.p + len, false };
	return true;
}

/* How one register is recovered: unchanged, saved at CFA + off, or otherwise. */
enum reg_how { REG_SAME, REG_AT, REG_UNDEF, REG_OTHER };

struct reg {
	uint8_t how;
	int64_t off;
};

struct row {
	unsigned cfa_reg;
	int64_t cfa_off;
	bool cfa_expr;
	struct reg rbp, ra;
};

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t ptr_enc;
	bool has_z, signal;
	struct rd insns;
};

static bool parse_cie(struct rd *r, struct cie *c)
{
	if (rd_bytes(r, 4) != 0) /* a CIE's id in .eh_frame */
		return false;
	uint8_t version = (uint8_t)rd_bytes(r, 1);
	if (version != 1 && version != 3)
		return false;
	const char *aug = (const char *)r->p;
	size_t alen = strnlen(aug, (size_t)(r->end - r->p));
	if (alen == (size_t)(r->end - r->p))
		return false;
	r->p += alen + 1;
	*c = (struct cie){ .ptr_enc = PE_ABSPTR };
	c->code_align = rd_uleb(r);
	c->data_align = rd_sleb(r);
	uint64_t ra = version == 1 ? rd_bytes(r, 1) : rd_uleb(r);
	if (r->bad || ra != DW_RA)
		return false;
	if (alen == 0)
		goto done;
	if (aug[0] != 'z')
		return false;
	c->has_z = true;
	uint64_t dlen = rd_uleb(r);
	if (r->bad || dlen > (uint64_t)(r->end - r->p))
		return false;
	struct rd d = { r->p, r->p + dlen, false };
	r->p += dlen;
	for (size_t i = 1; i < alen; i++) {
		switch (aug[i]) {
		case 'L': rd_bytes(&d, 1); break;
		case 'P': {
			uint8_t enc = (uint8_t)rd_bytes(&d, 1);
			/* The personality pointer is only skipped: any base will do. */
			rd_ptr(&d, enc & ~(PE_INDIRECT | 0x70), 0);
			break;
		}
		case 'R': c->ptr_enc = (uint8_t)rd_bytes(&d, 1); break;
		case 'S': c->signal = true; break;
		default: return false;
		}
	}
	if (d.bad)
		return false;
done:
	c->insns = *r;
	return !r->bad;
}

#define STATE_STACK 8

/* What an instruction does to one register's rule. */
enum act { ACT_NONE, ACT_AT, ACT_RESTORE, ACT_UNDEF, ACT_SAME, ACT_OTHER };

static bool set_reg(struct row *row, uint64_t reg, enum act a, int64_t off,
		    const struct row *init)
{
	struct reg *to = reg == DW_RBP ? &row->rbp : reg == DW_RA ? &row->ra : NULL;
	if (!to)
		return true; /* only RBP's and the return address's rules count */
	switch (a) {
	case ACT_AT: *to = (struct reg){ REG_AT, off }; break;
	case ACT_RESTORE:
		if (!init)
			return false;
		*to = reg == DW_RBP ? init->rbp : init->ra;
		break;
	case ACT_UNDEF: *to = (struct reg){ REG_UNDEF, 0 }; break;
	case ACT_SAME: *to = (struct reg){ REG_SAME, 0 }; break;
	default: *to = (struct reg){ REG_OTHER, 0 }; break;
	}
	return true;
}

static bool skip_block(struct rd *r)
{
	uint64_t len = rd_uleb(r);
	if (r->bad || len > (uint64_t)(r->end - r->p))
		return false;
	r->p += len;
	return true;
}

/* Runs CFA instructions, stopping before the first row that starts past pc (*loc is
 * where the current row starts).  init: the CIE's row, for DW_CFA_restore; NULL while
 * running the CIE's own instructions, where rows do not advance.  Returns false on
 * anything it cannot follow. */
static bool run_cfa(struct rd *r, const struct cie *c, uint64_t *loc, uint64_t pc,
		    struct row *row, const struct row *init)
{
	struct row stack[STATE_STACK];
	unsigned depth = 0;
	while (r->p < r->end) {
		uint8_t op = (uint8_t)rd_bytes(r, 1);
		uint64_t reg = 0, delta = 0;
		int64_t off = 0;
		enum act a = ACT_NONE;
		bool advance = false;
		if ((op & 0xc0) == 0x40) {
			delta = op & 0x3f;
			advance = true;
		} else if ((op & 0xc0) == 0x80) {
			reg = op & 0x3f;
			off = (int64_t)rd_uleb(r) * c->data_align;
			a = ACT_AT;
		} else if ((op & 0xc0) == 0xc0) {
			reg = op & 0x3f;
			a = ACT_RESTORE;
		} else {
			switch (op) {
			case 0x00: break; /* nop */
			case 0x02: delta = rd_bytes(r, 1); advance = true; break;
			case 0x03: delta = rd_bytes(r, 2); advance = true; break;
			case 0x04: delta = rd_bytes(r, 4); advance = true; break;
			case 0x05: /* offset_extended */
				reg = rd_uleb(r);
				off = (int64_t)rd_uleb(r) * c->data_align;
				a = ACT_AT;
				break;
			case 0x06: reg = rd_uleb(r); a = ACT_RESTORE; break;
			case 0x07: reg = rd_uleb(r); a = ACT_UNDEF; break;
			case 0x08: reg = rd_uleb(r); a = ACT_SAME; break;
			case 0x09: reg = rd_uleb(r); rd_uleb(r); a = ACT_OTHER; break;
			case 0x0a: /* remember_state: every rule, the CFA's too */
				if (depth == STATE_STACK)
					return false;
				stack[depth++] = *row;
				break;
			case 0x0b: /* restore_state */
				if (depth == 0)
					return false;
				*row = stack[--depth];
				break;
			case 0x0c: /* def_cfa */
				row->cfa_reg = (unsigned)rd_uleb(r);
				row->cfa_off = (int64_t)rd_uleb(r);
				row->cfa_expr = false;
				break;
			case 0x0d: row->cfa_reg = (unsigned)rd_uleb(r); row->cfa_expr = false; break;
			case 0x0e: row->cfa_off = (int64_t)rd_uleb(r); break;
			case 0x0f: /* def_cfa_expression */
				if (!skip_block(r))
					return false;
				row->cfa_expr = true;
				break;
			case 0x10: case 0x16: /* expression, val_expression */
				reg = rd_uleb(r);
				if (!skip_block(r))
					return false;
				a = ACT_OTHER;
				break;
			case 0x11: /* offset_extended_sf */
				reg = rd_uleb(r);
				off = rd_sleb(r) * c->data_align;
				a = ACT_AT;
				break;
			case 0x12: /* def_cfa_sf */
				row->cfa_reg = (unsigned)rd_uleb(r);
				row->cfa_off = rd_sleb(r) * c->data_align;
				row->cfa_expr = false;
				break;
			case 0x13: row->cfa_off = rd_sleb(r) * c->data_align; break;
			case 0x14: reg = rd_uleb(r); rd_uleb(r); a = ACT_OTHER; break; /* val_offset */
			case 0x15: reg = rd_uleb(r); rd_sleb(r); a = ACT_OTHER; break;
			case 0x2e: rd_uleb(r); break; /* GNU_args_size */
			case 0x2f: /* GNU_negative_offset_extended */
				reg = rd_uleb(r);
				off = -(int64_t)rd_uleb(r) * c->data_align;
				a = ACT_AT;
				break;
			default: return false; /* set_loc, and anything unknown */
			}
		}
		if (r->bad)
			return false;
		if (advance && init) {
			*loc += delta * c->code_align;
			if (*loc > pc)
				return true;
		}
		if (a != ACT_NONE && !set_reg(row, reg, a, off, init))
			return false;
	}
	return !r->bad;
}

static inline int64_t table_at(const uint8_t *table, size_t i)
{
	int32_t v;
	memcpy(&v, table + 4 * i, sizeof(v));
	return v;
}

/* The FDE the table at hdr (a module's .eh_frame_hdr) gives for pc: the last one
 * starting at or below it, which may end below it.  False when there is none, with
 * *listed set when the table is readable and starts above pc (no FDE covers pc). */
static bool find_fde(const uint8_t *hdr, uint64_t pc, struct rd *fde, const uint8_t **fde_at,
		     bool *listed)
{
	*listed = false;
	if (!hdr || hdr[0] != 1 || hdr[2] == PE_OMIT ||
	    hdr[3] != (PE_DATAREL | PE_SDATA4))
		return false;
	uint64_t base = (uint64_t)(uintptr_t)hdr;
	/* The header's own fields: no bound is known but the table's, so read a window. */
	struct rd r = { hdr + 4, hdr + 4 + 16, false };
	rd_ptr(&r, hdr[1], base); /* eh_frame_ptr */
	uint64_t count = rd_ptr(&r, hdr[2], base);
	if (r.bad || count == 0 || count > (1u << 26))
		return false;
	const uint8_t *table = r.p;
	/* The last entry whose start is at or below pc. */
	int64_t rel = (int64_t)(pc - base);
	size_t lo = 0, hi = count;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (table_at(table, 2 * mid) <= rel)
			lo = mid;
		else
			hi = mid;
	}
	if (table_at(table, 2 * lo) > rel) {
		*listed = true; /* below the first FDE */
		return false;
	}
	const uint8_t *at = hdr + table_at(table, 2 * lo + 1);
	/* An FDE is under 2^31 bytes by the table's own encoding. */
	if (!rd_record(at, at + ((uint64_t)1 << 31), fde))
		return false;
	*fde_at = at;
	return true;
}

bool cfi_rule(uint64_t ip, struct cfi_rule *out)
{
	/* A return address: the call is the instruction before it, and a call that
	 * never returns can end its function, so look up ip - 1. */
	uint64_t pc = ip - 1;
	struct dl_find_object dlfo;
	if (_dl_find_object((void *)(uintptr_t)pc, &dlfo) != 0)
		return false;
	struct rd fde;
	const uint8_t *fde_at;
	bool listed;
	if (!find_fde(dlfo.dlfo_eh_frame, pc, &fde, &fde_at, &listed)) {
		*out = (struct cfi_rule){ .kind = HS_CFI_UNCOVERED };
		return listed;
	}
	const uint8_t *id_at = fde.p;
	uint32_t cie_off = (uint32_t)rd_bytes(&fde, 4);
	if (fde.bad || cie_off == 0 || cie_off > (uint64_t)(uintptr_t)id_at)
		return false;
	const uint8_t *cie_at = id_at - cie_off;
	struct rd cie_body;
	struct cie c;
	if (cie_at >= fde_at && cie_at < fde.end)
		return false;
	if (!rd_record(cie_at, cie_at + ((uint64_t)1 << 31), &cie_body) ||
	    !parse_cie(&cie_body, &c) || c.signal)
		return false;
	uint64_t start = rd_ptr(&fde, c.ptr_enc, 0);
	uint64_t range = rd_ptr(&fde, c.ptr_enc & 0x0f, 0);
	if (fde.bad || pc < start)
		return false;
	if (pc - start >= range) {
		*out = (struct cfi_rule){ .kind = HS_CFI_UNCOVERED };
		return true;
	}
	if (c.has_z) {
		uint64_t dlen = rd_uleb(&fde);
		if (fde.bad || dlen > (uint64_t)(fde.end - fde.p))
			return false;
		fde.p += dlen;
	}
	struct row row = { .rbp = { REG_SAME, 0 }, .ra = { REG_SAME, 0 } };
	uint64_t loc = start;
	struct rd insns = c.insns;
	if (!run_cfa(&insns, &c, &loc, pc, &row, NULL))
		return false;
	struct row init = row;
	if (!run_cfa(&fde, &c, &loc, pc, &row, &init))
		return false;
	if (row.ra.how == REG_UNDEF) {
		*out = (struct cfi_rule){ .kind = HS_CFI_END };
		return true;
	}
	if (row.cfa_expr || (row.cfa_reg != DW_RSP && row.cfa_reg != DW_RBP) ||
	    row.cfa_off <= 0 || row.cfa_off >= ((int64_t)1 << 30) ||
	    row.ra.how != REG_AT || row.ra.off != -8)
		return false;
	int64_t rbp_off = 0;
	if (row.rbp.how == REG_AT) {
		if (row.rbp.off >= 0 || row.rbp.off <= -32768)
			return false;
		rbp_off = row.rbp.off;
	} else if (row.rbp.how != REG_SAME) {
		return false;
	}
	*out = (struct cfi_rule){ .kind = row.cfa_reg == DW_RSP ? HS_CFI_SP : HS_CFI_BP,
				  .off = (int32_t)row.cfa_off, .rbp_off = (int16_t)rbp_off };
	return true;
}

#else

bool cfi_rule(uint64_t ip, struct cfi_rule *out)
{
	(void)ip, (void)out;
	return false;
}

#endif
