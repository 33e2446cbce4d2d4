/* buildid.c - an ELF file's GNU build-id, read from its program headers (buildid.h). */
#include "buildid.h"

#include "elfnote.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
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
			r = hs_note_build_id(notes, ph[i].p_filesz, ph[i].p_align, hex, hexlen);
		if (r == -EINVAL)
			r = -ENOENT; /* a broken note segment: there may be another */
		free(notes);
	}
	free(ph);
	return r;
}
