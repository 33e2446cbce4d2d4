/* elfnote.h - the GNU build-id among a PT_NOTE segment's notes, one walk for both
 * sides: the collector reads the segment from a module's file (analyzer/collect/
 * buildid.c), the shim from the module as loaded (cfistore.c), and both must name a
 * module's rules file alike.  The notes are untrusted: every size is checked against
 * the segment.  No library call, so the shim may use it in a signal handler.
 */
#pragma once
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes the build-id found among the len bytes of notes at p (a PT_NOTE segment of
 * alignment align) into hex, lowercase, NUL-terminated.  Returns 0, -ENOENT when there
 * is none, or -EINVAL when the notes are malformed or the id does not fit hexlen. */
static inline int hs_note_build_id(const unsigned char *p, size_t len, uint64_t align,
				   char *hex, size_t hexlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t a = align == 8 ? 8 : 4;
	size_t off = 0;
	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr h;
		memcpy(&h, p + off, sizeof(h));
		off += sizeof(h);
		size_t name = ((size_t)h.n_namesz + a - 1) & ~(a - 1);
		size_t desc = ((size_t)h.n_descsz + a - 1) & ~(a - 1);
		if (h.n_namesz > len || h.n_descsz > len || name > len - off ||
		    desc > len - off - name)
			return -EINVAL;
		if (h.n_type == NT_GNU_BUILD_ID && h.n_namesz == 4 && !memcmp(p + off, "GNU", 4)) {
			if (!h.n_descsz || (size_t)h.n_descsz * 2 + 1 > hexlen)
				return -EINVAL;
			const unsigned char *id = p + off + name;
			for (size_t i = 0; i < h.n_descsz; i++) {
				hex[2 * i] = digits[id[i] >> 4];
				hex[2 * i + 1] = digits[id[i] & 15];
			}
			hex[2 * (size_t)h.n_descsz] = '\0';
			return 0;
		}
		off += name + desc;
	}
	return -ENOENT;
}
