/* buildid.c - an ELF file's GNU build-id, read from its program headers (buildid.h). */
#include "buildid.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Notes larger than this are not build-id notes worth reading. */
#define NOTES_MAX (64 * 1024)

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX - len)
		return false;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Looks through one PT_NOTE segment's notes for NT_GNU_BUILD_ID. */
static int from_notes(const unsigned char *p, size_t len, uint64_t align, char *hex, size_t hexlen)
{
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
		if (h.n_type == NT_GNU_BUILD_ID && h.n_namesz == 4 &&
		    !memcmp(p + off, "GNU", 4)) {
			if (!h.n_descsz || (size_t)h.n_descsz * 2 + 1 > hexlen)
				return -EINVAL;
			for (size_t i = 0; i < h.n_descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", p[off + name + i]);
			return 0;
		}
		off += name + desc;
	}
	return -ENOENT;
}

int buildid_read(int fd, char *hex, size_t hexlen)
{
	Elf64_Ehdr eh;
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum >= PN_XNUM)
		return -EINVAL;
	Elf64_Phdr *ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	int r = -ENOENT;
	if (!read_at(fd, ph, (size_t)eh.e_phnum * sizeof(*ph), eh.e_phoff))
		r = -EINVAL;
	for (unsigned i = 0; r == -ENOENT && i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE || !ph[i].p_filesz || ph[i].p_filesz > NOTES_MAX)
			continue;
		unsigned char *notes = malloc(ph[i].p_filesz);
		if (!notes) {
			r = -ENOMEM;
			break;
		}
		if (read_at(fd, notes, ph[i].p_filesz, ph[i].p_offset))
			r = from_notes(notes, ph[i].p_filesz, ph[i].p_align, hex, hexlen);
		if (r == -EINVAL)
			r = -ENOENT; /* a broken note segment: there may be another */
		free(notes);
	}
	free(ph);
	return r;
}
