/* modules.c - registering loaded modules in the shared module table.
 *
 * The collector must know which file each frame address belongs to, and at what load
 * bias, even after the process has exited or dlclose'd the library.  So the shim
 * registers modules itself, on the rare path where a new stack is interned: any frame
 * outside every registered executable segment triggers one dl_iterate_phdr pass that
 * adds the segments not yet known.  The entry is complete before nmodules is
 * published (release), and the stack entry is published after that, so the collector
 * always finds a stack's modules.  A spinlock serializes writers; it is never taken
 * on the hot path.
 */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim.h"

static _Atomic int lock;
static char exe_path[PATH_MAX];
/* The process that set this image up.  In a forked child (before any exec),
 * dl_iterate_phdr may wait for good, on a lock glibc does not reset at fork, which
 * another thread of the parent (in dlopen, say) may have held at the time.  So the
 * child registers each object it meets alone, found with _dl_find_object, which takes
 * no lock.  (Compared, not flagged at the fork: a write would copy the page in every
 * child, most of which exec at once.) */
static pid_t image_pid;

void modules_image_start(void)
{
	image_pid = getpid();
}

/* The first modules this image registered, kept privately as well: pages a forked child
 * shares with its parent, so modules_inherit() reads them without a page fault, where a
 * dl_iterate_phdr pass would fault in every module's program headers. */
#define MIRROR_MODULES 64u
static struct {
	_Atomic unsigned n; /* entries complete: stored last, a fork may come at any time */
	uint32_t paths_used;
	struct hs_module m[MIRROR_MODULES];
	char paths[8192];
} mirror;

/* Under the modules lock. */
static void mirror_add(const struct hs_module *m, const char *path)
{
	unsigned n = atomic_load_explicit(&mirror.n, memory_order_relaxed);
	if (n >= MIRROR_MODULES || m->path_len > sizeof(mirror.paths) - mirror.paths_used)
		return;
	memcpy(mirror.paths + mirror.paths_used, path, m->path_len);
	mirror.m[n] = *m;
	mirror.m[n].path_off = mirror.paths_used;
	mirror.paths_used += m->path_len;
	atomic_store_explicit(&mirror.n, n + 1, memory_order_release);
}

/* Whether mirrored module m is still loaded where it was: the object holding its
 * start spans it and has its path (the program has an empty one).  A module the
 * parent unloaded before the fork must not cover a library since loaded there. */
static bool still_loaded(const struct hs_module *m, const char *path)
{
#ifndef DLFO_STRUCT_HAS_EH_DBASE
	(void)m;
	(void)path;
	return false; /* no _dl_find_object (glibc before 2.35): registered afresh */
#else
	struct dl_find_object dlfo;
	if (_dl_find_object((void *)(uintptr_t)m->lo, &dlfo) != 0 ||
	    (uintptr_t)dlfo.dlfo_map_start > m->lo || (uintptr_t)dlfo.dlfo_map_end < m->hi)
		return false;
	const char *name = dlfo.dlfo_link_map ? dlfo.dlfo_link_map->l_name : NULL;
	return !name || !*name ||
	       (strlen(name) == m->path_len && !memcmp(name, path, m->path_len));
#endif
}

/* Published module entries, never more than the table holds. */
static uint64_t nmodules(const struct segment *s, memory_order order)
{
	uint64_t n = atomic_load_explicit(&s->ctl->nmodules, order);
	return n < s->geo.modules.cap ? n : s->geo.modules.cap;
}

/* Whether ip is in a module of s; *hint is where to look first (a stack's frames are
 * mostly in the module of the frame before), and where ip was found. */
static bool known(const struct segment *s, uint64_t ip, uint64_t *hint)
{
	uint64_t n = nmodules(s, memory_order_acquire);
	if (*hint < n) {
		const struct hs_module *m = hs_module_at(&s->geo, *hint);
		if (ip - m->lo < m->hi - m->lo)
			return true;
	}
	for (uint64_t i = 0; i < n; i++) {
		const struct hs_module *m = hs_module_at(&s->geo, i);
		if (ip - m->lo < m->hi - m->lo) {
			*hint = i;
			return true;
		}
	}
	return false;
}

static bool registered(const struct segment *s, uint64_t lo, uint64_t hi)
{
	uint64_t n = nmodules(s, memory_order_relaxed);
	for (uint64_t i = 0; i < n; i++) {
		const struct hs_module *m = hs_module_at(&s->geo, i);
		if (m->lo == lo && m->hi == hi)
			return true;
	}
	return false;
}

/* Enters module m (all but its path_off) with its path; false when the table is full. */
static bool publish(struct segment *s, struct hs_module *m, const char *path)
{
	struct hs_ctl *c = s->ctl;
	const struct hs_geometry *g = &s->geo;
	uint64_t n = nmodules(s, memory_order_relaxed), used = c->paths_used, len = m->path_len;
	if (used < g->paths.head_cap && len > g->paths.head_cap - used)
		used = g->paths.head_cap; /* a path lies in one part of the table */
	if (n >= g->modules.cap || !hs_run_ok(&g->paths, used, len))
		return false;
	memcpy(hs_path_at(g, used), path, len);
	m->path_off = (uint32_t)used;
	*hs_module_at(g, n) = *m;
	c->paths_used = used + len;
	atomic_store_explicit(&c->nmodules, n + 1, memory_order_release);
	return true;
}

static int add_segments(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct segment *s = data;
	const char *path = info->dlpi_name;
	if (!path || !*path) {
		if (!exe_path[0]) {
			ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
			exe_path[n > 0 ? n : 0] = '\0';
		}
		path = exe_path;
	}
	size_t len = strlen(path);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (registered(s, lo, hi))
			continue;
		struct hs_module m = {
			.lo = lo, .hi = hi, .bias = info->dlpi_addr, .offset = ph->p_offset,
			.path_len = (uint32_t)len,
		};
		if (publish(s, &m, path))
			mirror_add(&m, path);
	}
	return 0;
}

/* The program's are where the kernel says (_dl_find_object's range for the program is
 * only its text); a library's follow its ELF header, at the start of its mapping. */
bool modules_phdrs_of(const void *found, const void **phdrs, unsigned *phnum)
{
#ifndef DLFO_STRUCT_HAS_EH_DBASE
	(void)found, (void)phdrs, (void)phnum;
	return false;
#else
	const struct dl_find_object *dlfo = found;
	const struct link_map *map = dlfo->dlfo_link_map;
	if (!map)
		return false;
	if (!map->l_name || !map->l_name[0]) {
		unsigned long n = getauxval(AT_PHNUM);
		*phdrs = (const void *)getauxval(AT_PHDR);
		*phnum = (unsigned)n;
		return *phdrs && n < 65536;
	}
	uintptr_t lo = (uintptr_t)dlfo->dlfo_map_start, hi = (uintptr_t)dlfo->dlfo_map_end;
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)lo;
	if (hi - lo < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phoff > hi - lo ||
	    (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)) > hi - lo - eh->e_phoff)
		return false;
	*phdrs = (const void *)(lo + eh->e_phoff);
	*phnum = eh->e_phnum;
	return true;
#endif
}

/* Registers the object holding ip, found without a lock (see forked). */
static void add_object_of(struct segment *s, uint64_t ip)
{
#ifdef DLFO_STRUCT_HAS_EH_DBASE
	struct dl_find_object dlfo;
	const void *phdrs;
	unsigned phnum;
	if (_dl_find_object((void *)(uintptr_t)ip, &dlfo) != 0 ||
	    !modules_phdrs_of(&dlfo, &phdrs, &phnum))
		return;
	struct dl_phdr_info info = {
		.dlpi_addr = dlfo.dlfo_link_map->l_addr,
		.dlpi_name = dlfo.dlfo_link_map->l_name,
		.dlpi_phdr = phdrs,
		.dlpi_phnum = (ElfW(Half))phnum,
	};
	add_segments(&info, sizeof(info), s);
#else
	(void)s, (void)ip;
#endif
}

void modules_note(struct segment *s, const uint64_t *frames, unsigned n)
{
	unsigned i = 0;
	uint64_t hint = 0;
	while (i < n && known(s, frames[i], &hint))
		i++;
	if (i == n)
		return;
	while (atomic_exchange_explicit(&lock, 1, memory_order_acquire))
		sched_yield();
#ifdef DLFO_STRUCT_HAS_EH_DBASE
	if (getpid() != image_pid) {
		for (; i < n; i++)
			if (!known(s, frames[i], &hint))
				add_object_of(s, frames[i]);
	} else
#endif
	{
		dl_iterate_phdr(add_segments, s);
	}
	atomic_store_explicit(&lock, 0, memory_order_release);
}

void modules_reset(void)
{
	if (atomic_load(&lock)) /* a write would copy the page: the child's first fault */
		atomic_store(&lock, 0);
}

void modules_inherit(struct segment *s)
{
	/* Read only: the mirror holds these entries for this process as it did for its
	 * parent, and a write would copy its pages.  No lock either: this runs in setup,
	 * before any event can reach modules_note() for this segment. */
	unsigned n = atomic_load_explicit(&mirror.n, memory_order_acquire);
	for (unsigned i = 0; i < n && i < MIRROR_MODULES; i++) {
		struct hs_module m = mirror.m[i];
		const char *path = mirror.paths + m.path_off;
		if (m.path_off > sizeof(mirror.paths) || m.path_len > sizeof(mirror.paths) - m.path_off ||
		    !still_loaded(&m, path))
			continue;
		if (!publish(s, &m, path))
			break;
	}
}
