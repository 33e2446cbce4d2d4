/* attach.c - tracing a process that was not started under the shim.
 *
 * `heapsnap attach` stops one thread of the process with ptrace, makes it call
 * dlopen() on libheapsnap-attach.so (this library, built with dynamic TLS) and then
 * heapsnap_attach_start() below, and lets it go (analyzer/cli/inject.c).  Loaded by
 * dlopen with RTLD_LOCAL, the shim is outside the global scope: nobody's calls reach
 * its wrappers, and the real functions it forwards to are the global scope's, the very
 * ones the program's objects are bound to.  heapsnap_attach_start() sets tracing up as
 * the constructor of a preloaded shim would (segment, collector, signal), then points
 * the program's calls at the wrappers by rewriting the GOT slots (JUMP_SLOT and
 * GLOB_DAT relocations) that name an allocation function, in every loaded object but
 * this one; exit, _exit, exec and sigaction are redirected too, as the preloaded shim
 * wraps them, and dlopen, so objects loaded later are rewritten as they come.  A slot
 * is rewritten only when it holds the function the wrapper forwards to (or a
 * lazy-binding stub of its own object), so a block always goes back
 * to the allocator it came from: a thread that called the real malloc just before the
 * switch frees through the wrapper afterwards, which forwards to the same free and
 * records a release of an unknown block (counted in `info` as unmatched).
 * heapsnap_attach_stop() (heapsnap detach) puts the saved slots back, turns tracing
 * off and has the collector write its final file; the library stays, dormant.
 *
 * Runs in the hijacked thread, or from the dlopen wrapper: no allocation from the
 * program's heap except through the real functions dlopen and dlsym call anyway.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attachabi.h"
#include "shim.h"

/* ---- settings from heapsnap attach ---- */

static char config[4096]; /* "NAME=value\0...NAME=value\0\0" */
static bool have_config;

const char *attach_getenv(const char *name)
{
	if (!have_config)
		return secure_getenv(name);
	size_t n = strlen(name);
	for (const char *p = config; *p; p += strlen(p) + 1)
		if (!strncmp(p, name, n) && p[n] == '=')
			return p + n + 1;
	return NULL;
}

/* Preloaded, the shim is in the main program's own lookup scope; loaded by heapsnap
 * attach, it is not (RTLD_DEFAULT would not tell: from the shim's own code it also
 * searches the shim's local scope). */
bool attach_dlopened(void)
{
	static _Atomic int known = -1;
	int v = atomic_load(&known);
	if (v < 0) {
		void *main_scope = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
		v = !main_scope || dlsym(main_scope, "heapsnap_attach_start") == NULL;
		atomic_store(&known, v);
	}
	return v;
}

/* Whether f is a definition outside the shim: a defined symbol starts there, in
 * another object than ours.  A non-PIE executable whose code takes the address of
 * malloc makes its PLT entry malloc's address for everyone (an undefined symbol with
 * a value): that is not the allocator, only a way back into the executable's GOT. */
static bool a_definition(void *f)
{
	Dl_info a, b;
	const ElfW(Sym) *sym = NULL;
	return f && dladdr1(f, &a, (void **)&sym, RTLD_DL_SYMENT) && a.dli_saddr == f && sym &&
	       sym->st_shndx != SHN_UNDEF && dladdr((void *)a_definition, &b) &&
	       a.dli_fbase != b.dli_fbase;
}

/* The names of the loaded objects, NUL-separated, gathered inside dl_iterate_phdr, whose
 * lock (the loader's list) must not be held across dlopen, dlsym or dladdr: those take
 * the loader's main lock, which a thread in dlopen or dlclose holds while it waits for
 * the list's.  Objects that do not fit are left out. */
struct names {
	char *buf;
	size_t len, cap;
};

static int gather_name(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct names *n = data;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;
	size_t l = strlen(info->dlpi_name) + 1;
	if (l > n->cap - n->len)
		return 1;
	memcpy(n->buf + n->len, info->dlpi_name, l);
	n->len += l;
	return 0;
}

#define NAMES_CAP (256u << 10)

/* The first object, in load order, whose lookup of name gives a definition; NULL when
 * there is none.  Raw system calls for the names' buffer: the mmap wrapper is ours. */
static void *lookup_objects(const char *name)
{
	void *m = (void *)syscall(SYS_mmap, NULL, NAMES_CAP, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct names n = { m, 0, NAMES_CAP };
	dl_iterate_phdr(gather_name, &n);
	void *found = NULL;
	for (size_t at = 0; at < n.len && !found; at += strlen(n.buf + at) + 1) {
		void *h = dlopen(n.buf + at, RTLD_LAZY | RTLD_NOLOAD); /* NULL: closed since */
		if (!h)
			continue;
		void *f = dlsym(h, name);
		dlclose(h);
		if (a_definition(f))
			found = f;
	}
	syscall(SYS_munmap, m, NAMES_CAP);
	return found;
}

bool attach_replaced(const char *name, void *next)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	return f && f != next && a_definition(f);
}

void *attach_lookup(const char *name)
{
	/* From the shim's own code, a name the global scope lacks (operator new in a C
	 * program) is looked up in its local scope too, that is, in the shim. */
	void *f = dlsym(RTLD_DEFAULT, name);
	if (!f || a_definition(f))
		return f;
	return lookup_objects(name);
}

/* ---- the functions redirected ---- */

static void *attach_dlopen(const char *file, int mode);

static const char *const hooked[] = {
	"malloc", "calloc", "realloc", "free", "reallocarray", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc",
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
	"_ZnamSt11align_val_tRKSt9nothrow_t",
	"_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
	"_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t",
	"_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
	"_ZdaPvSt11align_val_tRKSt9nothrow_t",
	/* the mmap domain (mmap.c) */
	"mmap", "mmap64", "munmap", "mremap",
	/* libunwind's pipe, moved out of the program's way (fds.c) */
	"pipe2",
	/* the end of a process image: the exit status, and exec (tracing.c, exec.c) */
	"exit", "_exit", "_Exit", "execve", "execv", "execvp", "execvpe", "fexecve", "execl",
	"execlp", "execle",
	/* the snapshot signal taken over by the program (signal.c) */
	"sigaction", "signal", "bsd_signal", "__sysv_signal", "sysv_signal",
	/* objects loaded later */
	"dlopen",
};
#define NHOOKED (sizeof(hooked) / sizeof(hooked[0]))

static struct {
	void *wrapper; /* ours */
	void *real;    /* what the global scope binds the name to, or NULL */
} hook[NHOOKED];

/* One rewritten slot, to put back at detach. */
struct slot {
	void **addr;
	void *old;
	void *new;
	bool relro; /* in its object's read-only-after-relocation range */
};
#define MAX_SLOTS 8192
static struct slot *slots; /* mapped at the first attach: 256 KiB no other process needs */
static size_t nslots;
static size_t nalloc_slots; /* of them, malloc's and free's */
static _Atomic int lock; /* rewriting: attach, detach, dlopen */
static _Atomic int attached;
static bool detached;
static uintptr_t own_base;
/* Which names a pass rewrites: all of them, or only those the shim's own setup needs
 * in place first: pipe2 (its libunwind opens a pipe), and the signal functions (it
 * installs the snapshot signal, and a thread of the program may be setting its own). */
static bool early_only;

static bool early_name(const char *name)
{
	static const char *const early[] = { "pipe2", "sigaction", "signal", "bsd_signal",
					      "__sysv_signal", "sysv_signal" };
	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		if (!strcmp(name, early[i]))
			return true;
	return false;
}

uintptr_t attach_loader_lo HIDDEN, attach_loader_hi HIDDEN;

/* Notes the dynamic loader's executable segment (see FROM_LOADER()). */
static int find_loader(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	const char *slash = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
	if (!slash || strncmp(slash + 1, "ld-linux", 8))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			attach_loader_lo = info->dlpi_addr + ph->p_vaddr;
			attach_loader_hi = attach_loader_lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

static int hook_index(const char *name)
{
	for (size_t i = 0; i < NHOOKED; i++)
		if (name[0] == hooked[i][0] && !strcmp(name, hooked[i]))
			return (int)i;
	return -1;
}

/* Finds the wrappers (this library's own definitions: its handle's lookup starts with
 * itself) and the real functions (the global scope's).  False when malloc and free are
 * not both known. */
static bool hooks_resolve(void)
{
	Dl_info info;
	if (!dladdr((void *)hooks_resolve, &info) || !info.dli_fname)
		return false;
	own_base = (uintptr_t)info.dli_fbase;
	void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	if (!self)
		return false;
	for (size_t i = 0; i < NHOOKED; i++) {
		hook[i].wrapper = !strcmp(hooked[i], "dlopen") ? (void *)attach_dlopen
							       : dlsym(self, hooked[i]);
		hook[i].real = shim_next_symbol(hooked[i]);
	}
	dlclose(self);
	return hook[0].wrapper && hook[0].real && hook[3].wrapper && hook[3].real;
}

/* ---- rewriting one object's GOT ---- */

static bool in_object(const struct dl_phdr_info *info, uintptr_t a)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && a - lo < ph->p_memsz)
			return true;
	}
	return false;
}

/* Writes a slot, making a RELRO page writable for the moment. */
static bool slot_write(void **addr, void *value, bool ro)
{
	uintptr_t a = (uintptr_t)addr;
	long page = sysconf(_SC_PAGESIZE);
	void *pg = (void *)(a & ~(uintptr_t)(page - 1));
	if (ro && mprotect(pg, (size_t)page, PROT_READ | PROT_WRITE) < 0)
		return false;
	__atomic_store_n(addr, value, __ATOMIC_RELEASE);
	if (ro)
		mprotect(pg, (size_t)page, PROT_READ);
	return true;
}

/* A raw system call: this runs inside a dl_iterate_phdr callback, where finding the
 * real mmap (dlsym, the loader's lock) could deadlock against a dlopen. */
static bool slots_map(void)
{
	if (!slots) {
		void *m = (void *)syscall(SYS_mmap, NULL, MAX_SLOTS * sizeof(*slots),
					  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		slots = m == MAP_FAILED ? NULL : m;
	}
	return slots != NULL;
}

static bool already_rewritten(void **addr)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].addr == addr)
			return true;
	return false;
}

static void rewrite_relocs(const struct dl_phdr_info *info, const ElfW(Rela) *r, size_t n,
			   const ElfW(Sym) *symtab, const char *strtab, uintptr_t relro_lo,
			   uintptr_t relro_hi)
{
	for (size_t i = 0; i < n; i++) {
		/* Calls through the PLT, addresses taken through the GOT, and function
		 * pointers in data (R_X86_64_64, as `void *(*f)(size_t) = malloc`). */
		unsigned long type = ELF64_R_TYPE(r[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
		    !(type == R_X86_64_64 && r[i].r_addend == 0))
			continue;
		const char *name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
		int h = hook_index(name);
		if (h < 0 || !hook[h].wrapper || !hook[h].real || (early_only && !early_name(name)))
			continue;
		void **addr = (void **)(info->dlpi_addr + r[i].r_offset);
		void *old = __atomic_load_n(addr, __ATOMIC_ACQUIRE);
		/* Bound to the real function, or not bound yet (a lazy stub in its own
		 * object); anything else (the program's own malloc, say) is left alone. */
		if (old != hook[h].real && !(type == R_X86_64_JUMP_SLOT && in_object(info, (uintptr_t)old)))
			continue;
		if (nslots >= MAX_SLOTS || already_rewritten(addr) || !slots_map())
			continue;
		bool ro = (uintptr_t)addr >= relro_lo && (uintptr_t)addr < relro_hi;
		slots[nslots] = (struct slot){ addr, old, hook[h].wrapper, ro };
		if (slot_write(addr, hook[h].wrapper, ro)) {
			nslots++;
			nalloc_slots += h == 0 || h == 3; /* malloc, free */
		}
	}
}

static uintptr_t dyn_ptr(const struct dl_phdr_info *info, uintptr_t v)
{
	/* The loader relocates these in place, except in a read-only dynamic section. */
	return v < info->dlpi_addr ? v + info->dlpi_addr : v;
}

static int rewrite_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_addr == own_base && own_base)
		return 0;
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t relro_lo = 0, relro_hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			/* The pages the loader made read-only: the end rounds down (the rest of
			 * the last page stays writable, and must stay so). */
			uintptr_t mask = ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
			relro_lo = (info->dlpi_addr + ph->p_vaddr) & mask;
			relro_hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & mask;
		}
	}
	if (!dyn)
		return 0;
	uintptr_t symtab = 0, strtab = 0, rela = 0, jmprel = 0;
	size_t relasz = 0, pltrelsz = 0;
	long pltrel = DT_RELA;
	for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = dyn_ptr(info, d->d_un.d_ptr); break;
		case DT_STRTAB: strtab = dyn_ptr(info, d->d_un.d_ptr); break;
		case DT_RELA: rela = dyn_ptr(info, d->d_un.d_ptr); break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		case DT_JMPREL: jmprel = dyn_ptr(info, d->d_un.d_ptr); break;
		case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
		case DT_PLTREL: pltrel = (long)d->d_un.d_val; break;
		}
	}
	if (!symtab || !strtab)
		return 0;
	if (rela)
		rewrite_relocs(info, (const ElfW(Rela) *)rela, relasz / sizeof(ElfW(Rela)),
			       (const ElfW(Sym) *)symtab, (const char *)strtab, relro_lo, relro_hi);
	if (jmprel && pltrel == DT_RELA)
		rewrite_relocs(info, (const ElfW(Rela) *)jmprel, pltrelsz / sizeof(ElfW(Rela)),
			       (const ElfW(Sym) *)symtab, (const char *)strtab, relro_lo, relro_hi);
	return 0;
}

static void lock_take(void)
{
	while (atomic_exchange_explicit(&lock, 1, memory_order_acquire))
		sched_yield();
}

static void lock_drop(void)
{
	atomic_store_explicit(&lock, 0, memory_order_release);
}

/* dlopen, then the GOT of whatever it loaded.  The caller's own DT_RUNPATH is not
 * searched for a bare name (dlopen sees this library as its caller). */
static void *attach_dlopen(const char *file, int mode)
{
	void *(*real)(const char *, int) = hook[NHOOKED - 1].real;
	void *h = real(file, mode);
	if (h && atomic_load(&attached)) {
		int old = shim_guard;
		shim_guard = 1;
		lock_take();
		if (atomic_load(&attached))
			dl_iterate_phdr(rewrite_object, NULL);
		lock_drop();
		shim_guard = old;
	}
	return h;
}

/* Puts back the slots of one object still loaded (a dlclose'd one's are gone). */
static int restore_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	for (size_t i = 0; i < nslots; i++) {
		void **a = slots[i].addr;
		if (in_object(info, (uintptr_t)a) &&
		    __atomic_load_n(a, __ATOMIC_ACQUIRE) == slots[i].new)
			slot_write(a, slots[i].old, slots[i].relro);
	}
	return 0;
}

/* ---- entry points, called by heapsnap attach and detach ---- */

EXPORT int heapsnap_attach_start(const char *cfg)
{
	if (!attach_dlopened())
		return ATTACH_PRELOADED;
	int old_guard = shim_guard;
	shim_guard = 1;
	int r = 0;
	lock_take();
	if (atomic_load(&attached)) {
		r = ATTACH_ALREADY;
		goto out;
	}
	if (detached) {
		r = ATTACH_DETACHED;
		goto out;
	}
	if (atomic_load(&shim_state) == SHIM_OFF) {
		r = ATTACH_FAILED_BEFORE; /* tracing_setup() does not start again */
		goto out;
	}
	/* The settings: NUL-separated, ending with an empty one. */
	size_t n = 0;
	while (n + 1 < sizeof(config) && (cfg[n] || cfg[n + 1]))
		n++;
	if (n + 1 >= sizeof(config)) {
		r = ATTACH_BAD_CONFIG;
		goto out;
	}
	memcpy(config, cfg, n + 1);
	config[n + 1] = '\0';
	have_config = true;
	/* Its collector, a child of its own, runs and writes the files as this process's
	 * user, which need not be heapsnap attach's. */
	const char *dir = attach_getenv("HEAPSNAP_DIR");
	const char *collector = attach_getenv("HEAPSNAP_COLLECTOR");
	if (collector && faccessat(AT_FDCWD, collector, X_OK, AT_EACCESS) < 0)
		r = ATTACH_NO_COLLECTOR - errno;
	else if (dir && faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
		r = ATTACH_NO_DIR - errno;
	if (r) {
		have_config = false; /* nothing changed: a later attach may start afresh */
		goto out;
	}
	if (!hooks_resolve()) {
		r = ATTACH_FAILED;
		goto out;
	}
	dl_iterate_phdr(find_loader, NULL);
	early_only = true;
	dl_iterate_phdr(rewrite_object, NULL);
	early_only = false;
	shim_guard = old_guard;
	if (atomic_load(&shim_state) == SHIM_UNINIT)
		tracing_setup();
	shim_guard = 1;
	if (atomic_load(&shim_state) != SHIM_ON) {
		/* The early slots go back: nothing stays redirected to a shim that is off. */
		dl_iterate_phdr(restore_object, NULL);
		nslots = 0;
		r = ATTACH_FAILED;
		goto out;
	}
	dl_iterate_phdr(rewrite_object, NULL);
	if (!nalloc_slots) {
		r = ATTACH_NO_SLOT;
		goto out;
	}
	atomic_store(&attached, 1);
	r = atomic_load(&shim_seg.ctl->signal_taken);
out:
	lock_drop();
	shim_guard = old_guard;
	return r;
}

/* Returns the collector's pid, or a negative ATTACH_* answer. */
EXPORT int heapsnap_attach_stop(void)
{
	int old_guard = shim_guard;
	shim_guard = 1;
	lock_take();
	int r = ATTACH_NOT_ATTACHED;
	if (atomic_load(&attached)) {
		dl_iterate_phdr(restore_object, NULL);
		nslots = nalloc_slots = 0;
		atomic_store(&attached, 0);
		detached = true;
		/* Off first: the collector's last drain then sees every event that entered. */
		atomic_store(&shim_state, SHIM_OFF);
		struct hs_ctl *c = shim_seg.ctl;
		r = c ? atomic_load(&c->collector_pid) : 0;
		if (c) {
			atomic_store(&c->detached, 1);
			ring_wake_collector(c);
		}
		signal_uninstall();
	}
	lock_drop();
	shim_guard = old_guard;
	return r;
}
