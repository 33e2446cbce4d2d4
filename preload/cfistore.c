/* cfistore.c - unwind rules from the modules' rules files, and the rules learnt here.
 *
 * Before the fast unwinder reads a rule from a module's CFI (cfi.c), it looks in the
 * rules the collector kept for that module's build-id (cfifile.h): the first miss in
 * a module maps its file, read-only, for the rest of the process, or notes that there
 * is none.  A rule it then reads from the CFI is written to the segment's learnt area
 * (shmlayout.h), from which the collector adds it to the file.  So the second cc1 of
 * a build looks its 3,000 rules up in a 48 KB file instead of reading them from 2.8 MB
 * of CFI.
 *
 * Everything here may run inside malloc, in a signal handler, with the guard set:
 * modules are found with _dl_find_object (lock-free), the build-id is read from the
 * module's own mapped program headers, a file is mapped with the real mmap, and errno
 * is kept.  The directory is the symbol cache's ($XDG_CACHE_HOME/heapsnap, else
 * ~/.cache/heapsnap; none with HEAPSNAP_CACHE=off), and only a regular file of this
 * user's, written by nobody else, is used.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "cachedir.h"
#include "cfifile.h"
#include "elfnote.h"
#include "shim.h"

#if ARCH_FAST_UNWIND && defined(DLFO_STRUCT_HAS_EH_DBASE)

static char cache_dir[PATH_MAX]; /* empty: no cache */

void cfistore_init(void)
{
	/* Room left for "/<build-id>.v1.cfi". */
	size_t len = sizeof(cache_dir) - HS_CFI_BUILD_ID_MAX - sizeof(HS_CFI_SUFFIX) - 1;
	if (hs_cache_off(attach_getenv("HEAPSNAP_CACHE")) ||
	    hs_cache_dir(cache_dir, len, attach_getenv("XDG_CACHE_HOME"),
			 attach_getenv("HOME")) < 0)
		cache_dir[0] = '\0';
}

/* A module met by the unwinder: its rules file, mapped, or none. */
#define MODULES 128
enum { MOD_LOADING = 1, MOD_READY = 2 };
static struct module {
	_Atomic uintptr_t key; /* dlfo_map_start; 0: free */
	_Atomic int state;
	/* With the key, what tells this module from another loaded at the same address
	 * after a dlclose: that one's rules are not these. */
	uintptr_t end;
	const struct link_map *map;
	uint64_t bias;
	const struct hs_cfi_entry *entries;
	uint64_t count;
} modules[MODULES];

/* The GNU build-id among the notes of the program headers (phnum of them at ph) of
 * the module map, as lowercase hex into hex (HS_CFI_BUILD_ID_MAX + 1 bytes).  The
 * headers must be map's: their PT_DYNAMIC must be at map's l_ld (a program started as
 * `ld.so PROGRAM` might otherwise be read with ld.so's headers).  A note segment is
 * read only where a loaded segment holds it.  Returns the digits, 0 for none. */
static size_t build_id_in(const ElfW(Phdr) *ph, unsigned phnum, const struct link_map *map,
			  char *hex)
{
	uint64_t bias = map->l_addr;
	bool ours = false;
	for (unsigned i = 0; i < phnum && !ours; i++)
		ours = ph[i].p_type == PT_DYNAMIC &&
		       (uintptr_t)(bias + ph[i].p_vaddr) == (uintptr_t)map->l_ld;
	for (unsigned i = 0; ours && i < phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		bool loaded = false;
		for (unsigned k = 0; k < phnum && !loaded; k++)
			loaded = ph[k].p_type == PT_LOAD && ph[i].p_vaddr >= ph[k].p_vaddr &&
				 ph[i].p_filesz <= ph[k].p_filesz &&
				 ph[i].p_vaddr - ph[k].p_vaddr <= ph[k].p_filesz - ph[i].p_filesz;
		if (loaded && hs_note_build_id((const unsigned char *)(uintptr_t)(bias + ph[i].p_vaddr),
					       ph[i].p_filesz, ph[i].p_align, hex,
					       HS_CFI_BUILD_ID_MAX + 1) == 0)
			return strlen(hex);
	}
	return 0;
}

/* The build-id of the module dlfo found (see build_id_in), from its program headers. */
static size_t build_id_of(const struct dl_find_object *dlfo, char *hex)
{
	const void *ph;
	unsigned phnum;
	return modules_phdrs_of(dlfo, &ph, &phnum)
		       ? build_id_in(ph, phnum, dlfo->dlfo_link_map, hex)
		       : 0;
}

/* Maps and checks the rules file of the module dlfo found into m. */
static void module_load(struct module *m, const struct dl_find_object *dlfo)
{
	char hex[HS_CFI_BUILD_ID_MAX + 1], path[PATH_MAX];
	size_t idlen = build_id_of(dlfo, hex);
	if (!idlen || !cache_dir[0] ||
	    snprintf(path, sizeof(path), "%s/%s" HS_CFI_SUFFIX, cache_dir, hex) >= (int)sizeof(path))
		return;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	void *map = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= hs_cfi_entries_at(idlen) +
					 (uint64_t)HS_CFI_ENTRIES_MAX * sizeof(struct hs_cfi_entry))
		/* Populated: the check reads every page at once (a fault each otherwise). */
		map = shim_real_mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
				     fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	uint64_t count;
	const struct hs_cfi_entry *e = hs_cfi_check(map, (size_t)st.st_size, hex, idlen, &count);
	if (!e) {
		shim_real_munmap(map, (size_t)st.st_size);
		return;
	}
	m->entries = e;
	m->count = count;
}

/* m, when it is ready and is the module dlfo found. */
static const struct module *ready(const struct module *m, const struct dl_find_object *dlfo)
{
	return atomic_load_explicit(&m->state, memory_order_acquire) == MOD_READY &&
			       m->end == (uintptr_t)dlfo->dlfo_map_end && m->map == dlfo->dlfo_link_map
		       ? m : NULL;
}

/* The module holding pc, its file loaded on first sight; NULL when there is none, or
 * while another thread loads it. */
static const struct module *module_of(uint64_t pc)
{
	struct dl_find_object dlfo;
	if (_dl_find_object((void *)(uintptr_t)pc, &dlfo) != 0 || !dlfo.dlfo_link_map)
		return NULL;
	uintptr_t key = (uintptr_t)dlfo.dlfo_map_start;
	for (unsigned i = 0; i < MODULES; i++) {
		struct module *m = &modules[i];
		uintptr_t k = atomic_load_explicit(&m->key, memory_order_acquire);
		if (k == key)
			return ready(m, &dlfo);
		if (k)
			continue;
		uintptr_t expect = 0;
		if (!atomic_compare_exchange_strong_explicit(&m->key, &expect, key,
							     memory_order_acq_rel,
							     memory_order_acquire)) {
			if (expect != key)
				continue; /* another module took the slot: look further */
			return ready(m, &dlfo);
		}
		atomic_store_explicit(&m->state, MOD_LOADING, memory_order_relaxed);
		m->end = (uintptr_t)dlfo.dlfo_map_end;
		m->map = dlfo.dlfo_link_map;
		m->bias = dlfo.dlfo_link_map->l_addr;
		int saved = errno;
		module_load(m, &dlfo);
		errno = saved;
		atomic_store_explicit(&m->state, MOD_READY, memory_order_release);
		return m;
	}
	return NULL; /* more modules than slots: the rest read the CFI */
}

int cfistore_find(uint64_t ip, struct cfi_rule *out)
{
	if (!cache_dir[0])
		return -1;
	const struct module *m = module_of(ip - 1);
	const struct hs_cfi_entry *e =
		m && m->entries ? hs_cfi_find(m->entries, m->count, ip - m->bias) : NULL;
	if (!e)
		return -1;
	if (e->kind == HS_CFI_NONE)
		return 0;
	*out = (struct cfi_rule){ .kind = e->kind, .off = e->off, .rbp_off = e->rbp_off };
	return 1;
}

void cfistore_learnt(uint64_t ip, const struct cfi_rule *rule)
{
	struct segment *s = &shim_seg;
	if (!cache_dir[0] || !s->ctl)
		return;
	uint64_t i = atomic_fetch_add_explicit(&s->ctl->nlearnt, 1, memory_order_relaxed);
	if (i >= s->geo.learnt.cap)
		return;
	segment_populate_ahead(&s->geo.learnt, i, 1, sizeof(struct hs_learnt));
	struct hs_learnt *e = hs_learnt_at(&s->geo, i);
	e->ip = ip;
	e->kind = rule ? rule->kind : HS_CFI_NONE;
	e->off = rule && rule->kind <= HS_CFI_BP ? rule->off : 0;
	e->rbp_off = rule && rule->kind <= HS_CFI_BP ? rule->rbp_off : 0;
	atomic_store_explicit(&e->ready, 1, memory_order_release);
}

#else

void cfistore_init(void)
{
}

int cfistore_find(uint64_t ip, struct cfi_rule *out)
{
	(void)ip, (void)out;
	return -1;
}

void cfistore_learnt(uint64_t ip, const struct cfi_rule *rule)
{
	(void)ip, (void)rule;
}

#endif
