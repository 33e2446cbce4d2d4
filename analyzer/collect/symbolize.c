/* symbolize.c - modules and lines for frame addresses (see symbolize.h).
 *
 * Modules come from the shim's shared module table (path, executable range, load
 * bias), kept here in a sorted array of ranges for lookup.  Each module gets its own
 * libdwfl session on first use, reported offline from the file on disk, so a module
 * symbolizes after its process has exited.  An address the module's on-disk cache
 * entry holds is answered from the entry each time; one symbolized from the files is
 * kept per (module, address) for the symbolizer's life, and added to the entry when
 * it ends.  Build-ids are kept per path for the next symbolizer of a host while the
 * file stays the same one.
 */
#include "symbolize.h"

#include "cfifile.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uthash.h>
#include <unistd.h>

#include "buildid.h"
#include "dwlib.h"
#include "path.h"
#include "elfsyms.h"
#include "fileid.h"
#include "scopeidx.h"
#include "symcache.h"

/* libstdc++'s demangler (C linkage), loaded the first time a C++ name needs it: linked
 * in, libstdc++ and libm cost every heapsnap command about 1.3 ms of loading. */
#define LIBSTDCXX_SONAME "libstdc++.so.6"
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static demangle_fn cxa_demangle(void)
{
	static _Atomic(demangle_fn) fn;
	static _Atomic int tried;
	demangle_fn f = atomic_load_explicit(&fn, memory_order_acquire);
	if (f || atomic_load(&tried))
		return f;
	/* Threads that get here together each dlopen: it counts references and gives
	 * them one library. */
	void *h = dlopen(LIBSTDCXX_SONAME, RTLD_NOW | RTLD_LOCAL);
	f = h ? (demangle_fn)dlsym(h, "__cxa_demangle") : NULL;
	atomic_store_explicit(&fn, f, memory_order_release);
	atomic_store(&tried, 1);
	return f;
}

struct mapping {
	uint64_t start, end, offset;
	uint32_t module;
};

struct module {
	char *path;           /* as the maps file names it, " (deleted)" removed */
	bool identified, readable; /* module_identify() ran; the file could be opened */
	bool elf_tried;            /* module_open() ran */
	uint64_t exec_start, exec_end, exec_offset; /* its (first) executable segment */
	int64_t bias;         /* process address - file virtual address */
	bool bias_known;
	Dwfl *dwfl;
	Dwfl_Module *dwmod;
	char *build_id;
	elfsyms_t *syms;      /* built on first use */
	scopeidx_t *scopes;
	symcache_table_t *stored; /* its on-disk cache entry, when there is one */
	uint32_t fresh;       /* addresses symbolized here, not yet stored */
	bool via_proc;        /* the executable, deleted or replaced since: read through
			       * /proc/PID/exe, not its path */
};

/* Inlined functions kept per address; a profile keeps 64 lines a location. */
#define MAX_INLINE 64

struct sym_line {
	char *function, *file;
	int64_t line;
};

struct sym_cache {
	struct {
		uint32_t module;
		uint64_t ip;
	} key;
	uint32_t nlines;
	struct sym_line *lines;
	bool fresh;           /* symbolized from the files, not yet stored on disk */
	UT_hash_handle hh;
};

struct symbolizer {
	pid_t pid;
	struct mapping *maps;
	size_t nmaps, maps_cap;
	size_t last_map;      /* where symbolizer_module_of() last found an address */
	struct module *modules;
	uint32_t nmodules, modules_cap;
	struct sym_cache *cache;
	size_t cache_bytes;
	symcache_t *disk;     /* NULL: no on-disk cache */
	struct symbolizer_stats stats;
	char *exe;            /* the process's executable when it started, or NULL */
	struct stat exe_st;   /* that executable's file (through /proc/PID/exe) */
	bool exe_st_known;
};

symbolizer_t *symbolizer_new(pid_t pid)
{
	symbolizer_t *s = calloc(1, sizeof(*s));
	if (s) {
		s->pid = pid;
		s->disk = symcache_open();
		/* The path the shim gives the executable's module (readlink of its own
		 * /proc/self/exe), read while the process lives. */
		char path[64], exe[PATH_MAX], again[PATH_MAX];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		static const char deleted[] = " (deleted)";
		size_t dl = sizeof(deleted) - 1;
		/* The name and the file of one executable: an exec between the two reads
		 * paired the old program's name with the new one's file, and the old
		 * program was then read through /proc as if replaced, from the new one's
		 * file (a bash subshell's exec file, its every frame unnamed). */
		for (int tries = 0; pid > 0 && tries < 3; tries++) {
			ssize_t n = readlink(path, exe, sizeof(exe) - 1);
			if (n <= 0)
				break;
			bool known = stat(path, &s->exe_st) == 0;
			ssize_t m = readlink(path, again, sizeof(again) - 1);
			if (m != n || memcmp(exe, again, (size_t)n))
				continue;
			exe[n] = '\0';
			if ((size_t)n > dl && !strcmp(exe + n - dl, deleted))
				exe[n - dl] = '\0'; /* as the modules' paths are kept */
			s->exe = strdup(exe);
			s->exe_st_known = known;
			break;
		}
	}
	return s;
}

static void free_lines(struct sym_line *lines, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free(lines[i].function);
		free(lines[i].file);
	}
	free(lines);
}

void symbolizer_free(symbolizer_t *s)
{
	if (!s)
		return;
	symbolizer_flush(s);
	symcache_close(s->disk);
	free(s->exe);
	struct sym_cache *c, *tmp;
	HASH_ITER(hh, s->cache, c, tmp) {
		HASH_DEL(s->cache, c);
		free_lines(c->lines, c->nlines);
		free(c);
	}
	for (uint32_t i = 0; i < s->nmodules; i++) {
		elfsyms_free(s->modules[i].syms);
		symcache_table_free(s->modules[i].stored);
		scopeidx_free(s->modules[i].scopes);
		if (s->modules[i].dwfl)
			dwfl_end(s->modules[i].dwfl);
		free(s->modules[i].path);
		free(s->modules[i].build_id);
	}
	free(s->modules);
	free(s->maps);
	free(s);
}

uint32_t symbolizer_modules(const symbolizer_t *s)
{
	return s->nmodules;
}

size_t symbolizer_memory(const symbolizer_t *s)
{
	size_t n = sizeof(*s) + s->maps_cap * sizeof(*s->maps) +
		   s->modules_cap * sizeof(*s->modules) + s->cache_bytes;
	for (uint32_t i = 0; i < s->nmodules; i++) {
		const struct module *m = &s->modules[i];
		n += (m->syms ? elfsyms_memory(m->syms) : 0) +
		     (m->scopes ? scopeidx_memory(m->scopes) : 0) +
		     (m->stored ? symcache_table_memory(m->stored) : 0);
	}
	return n;
}

static int map_cmp(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

uint32_t symbolizer_add_module(symbolizer_t *s, const char *path, uint64_t lo, uint64_t hi,
			       uint64_t bias, uint64_t offset)
{
	if (lo >= hi)
		return SYM_NO_MODULE;
	uint32_t m = SYM_NO_MODULE;
	for (uint32_t i = 0; i < s->nmodules; i++)
		if ((uint64_t)s->modules[i].bias == bias && !strcmp(s->modules[i].path, path))
			m = i;
	if (m == SYM_NO_MODULE) {
		if (s->nmodules == s->modules_cap) {
			uint32_t cap = s->modules_cap ? s->modules_cap * 2 : 32;
			struct module *n = realloc(s->modules, cap * sizeof(*n));
			if (!n)
				return SYM_NO_MODULE;
			s->modules = n;
			s->modules_cap = cap;
		}
		char *copy = strdup(path);
		if (!copy)
			return SYM_NO_MODULE;
		s->modules[s->nmodules] = (struct module){
			.path = copy, .exec_start = lo, .exec_end = hi, .exec_offset = offset,
			.bias = (int64_t)bias, .bias_known = true,
		};
		m = s->nmodules++;
	}
	if (s->nmaps == s->maps_cap) {
		size_t cap = s->maps_cap ? s->maps_cap * 2 : 64;
		struct mapping *n = realloc(s->maps, cap * sizeof(*n));
		if (!n)
			return SYM_NO_MODULE;
		s->maps = n;
		s->maps_cap = cap;
	}
	/* A later module at the same addresses (dlclose, then dlopen) replaces the ranges it
	 * overlaps; the range moved into slot i is checked in its turn. */
	for (size_t i = 0; i < s->nmaps;) {
		if (s->maps[i].start < hi && lo < s->maps[i].end)
			s->maps[i] = s->maps[--s->nmaps];
		else
			i++;
	}
	s->maps[s->nmaps++] = (struct mapping){ lo, hi, offset, m };
	qsort(s->maps, s->nmaps, sizeof(*s->maps), map_cmp);
	return m;
}

uint32_t symbolizer_module_of(symbolizer_t *s, uint64_t ip)
{
	/* A stack's frames are mostly in the module of the frame before. */
	if (s->last_map < s->nmaps && ip - s->maps[s->last_map].start <
					      s->maps[s->last_map].end - s->maps[s->last_map].start)
		return s->maps[s->last_map].module;
	size_t lo = 0, hi = s->nmaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ip < s->maps[mid].start) {
			hi = mid;
		} else if (ip >= s->maps[mid].end) {
			lo = mid + 1;
		} else {
			s->last_map = mid;
			return s->maps[mid].module;
		}
	}
	return SYM_NO_MODULE;
}

int symbolizer_maps_inode(symbolizer_t *s, uint64_t dev, uint64_t inode)
{
	(void)dev;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char line[4096 + 256];
	int found = 0, lines = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		uint64_t ino;
		lines++;
		if (sscanf(line, "%*x-%*x %*s %*x %*x:%*x %" SCNu64, &ino) == 1 && ino == inode)
			found = 1;
		/* A line longer than the buffer continues in the next read; skip the rest. */
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	/* An exiting process has no mappings left: that is not an exec. */
	return found ? 1 : lines ? 0 : -ESRCH;
}

/* Opens module m's file: a regular file only, without blocking (a FIFO or device
 * planted at a module's path must not hang the collector, and with it heapsnap run).
 * Through /proc, only the file the process ran when the collector began: once it has
 * exec'd, /proc/PID/exe is another program's.  Returns the fd or -1. */
static int module_fd(const symbolizer_t *s, const struct module *m, struct stat *st)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d/exe", (int)s->pid);
	int fd = open(m->via_proc ? proc : m->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
			(m->via_proc && (st->st_dev != s->exe_st.st_dev ||
					 st->st_ino != s->exe_st.st_ino)))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Build-ids read from module files, by path, each with the identity of the file it was
 * read from (fileid.h): a host of collectors meets the same dozen files in every image,
 * and a stat() then stands for an open, a stat and four reads of its headers.
 * Bounded; past the bound, files are read each time. */
#define IDMEMO_MAX 4096
struct idmemo {
	UT_hash_handle hh;
	struct file_id file;
	bool has_id;
	char id[2 * 64 + 1];
	char path[]; /* the key */
};
static struct idmemo *idmemo;
static unsigned idmemo_count;
static pthread_mutex_t idmemo_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether path's build-id is known for the file st describes: *has_id and id (of
 * idlen bytes) then say what it is. */
static bool idmemo_find(const char *path, const struct stat *st, bool *has_id, char *id,
			size_t idlen)
{
	struct idmemo *e;
	pthread_mutex_lock(&idmemo_lock);
	HASH_FIND_STR(idmemo, path, e);
	bool found = e && file_id_same(&e->file, st);
	if (found) {
		*has_id = e->has_id;
		snprintf(id, idlen, "%s", e->id);
	}
	pthread_mutex_unlock(&idmemo_lock);
	return found;
}

static void idmemo_put(const char *path, const struct stat *st, const char *id)
{
	size_t len = strlen(path);
	pthread_mutex_lock(&idmemo_lock);
	struct idmemo *e;
	HASH_FIND_STR(idmemo, path, e);
	if (!e && idmemo_count < IDMEMO_MAX && (e = calloc(1, sizeof(*e) + len + 1))) {
		memcpy(e->path, path, len + 1);
		HASH_ADD_KEYPTR(hh, idmemo, e->path, len, e);
		idmemo_count++;
	}
	if (e) {
		e->file = file_id_of(st);
		e->has_id = id != NULL;
		snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
	}
	pthread_mutex_unlock(&idmemo_lock);
}

static void module_load_stored(symbolizer_t *s, struct module *m)
{
	if (s->disk && m->build_id && symcache_load(s->disk, m->build_id, &m->stored) == -EBADMSG)
		s->stats.cache_rejected++;
}

/* Identifies module m, once: its build-id, read from the file's notes (buildid.h), and
 * its on-disk cache entry.  With a warm cache that is all a module needs.  Returns
 * whether the file could be opened. */
static bool module_identify(symbolizer_t *s, struct module *m)
{
	if (m->identified)
		return m->readable;
	m->identified = true;
	char hex[2 * 64 + 1];
	bool has_id;
	struct stat st;
	/* A program's file deleted, or replaced by another (a new version installed while
	 * it runs), since it started: its path names no file, or the wrong one, and would
	 * give its frames no names, or another build's.  Its own is read through /proc
	 * while it lives (libraries are read by path). */
	bool at_path = stat(m->path, &st) == 0;
	if (s->exe && s->exe_st_known && !strcmp(m->path, s->exe) &&
	    (!at_path || st.st_dev != s->exe_st.st_dev || st.st_ino != s->exe_st.st_ino))
		m->via_proc = true;
	if (!m->via_proc && at_path && S_ISREG(st.st_mode) &&
	    idmemo_find(m->path, &st, &has_id, hex, sizeof(hex))) {
		m->build_id = has_id ? strdup(hex) : NULL;
	} else {
		int fd = module_fd(s, m, &st);
		if (fd < 0)
			return false;
		has_id = buildid_read(fd, hex, sizeof(hex)) == 0;
		close(fd);
		m->build_id = has_id ? strdup(hex) : NULL;
		if (!m->via_proc)
			idmemo_put(m->path, &st, has_id ? hex : NULL);
	}
	m->readable = true;
	module_load_stored(s, m);
	return true;
}

/* Opens module m with libdwfl, once, for the first address its cache entry does not
 * answer.  Returns whether it could. */
static bool module_open(symbolizer_t *s, struct module *m)
{
	if (m->elf_tried)
		return m->dwmod != NULL;
	m->elf_tried = true;
	if (!dwlib_load())
		return false;
	struct stat st;
	int fd = module_fd(s, m, &st);
	if (fd < 0)
		return false;
	m->dwfl = dwfl_begin(&dwlib.offline);
	if (!m->dwfl) {
		close(fd);
		return false;
	}
	/* libdwfl takes fd on success only. */
	m->dwmod = dwfl_report_offline(m->dwfl, m->path, m->path, fd);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->dwmod) {
		close(fd);
		return false;
	}
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = m->build_id ? 0 : dwfl_module_build_id(m->dwmod, &bits, &vaddr);
	if (len > 0 && (m->build_id = malloc((size_t)len * 2 + 1))) {
		for (int i = 0; i < len; i++)
			sprintf(m->build_id + 2 * i, "%02x", bits[i]);
		module_load_stored(s, m); /* an id the notes did not give (not 64-bit ELF) */
	}
	return true;
}

static char *demangle(const char *name)
{
	if (!name)
		return NULL;
	demangle_fn demangler;
	if (name[0] == '_' && name[1] == 'Z' && (demangler = cxa_demangle())) {
		int status;
		char *d = demangler(name, NULL, NULL, &status);
		if (d && status == 0)
			return d;
		free(d);
	}
	return strdup(name);
}

/* The function's name: its linkage name (*linkage set), else its plain name. */
static const char *die_function_name(Dwarf_Die *die, bool *linkage)
{
	Dwarf_Attribute attr;
	const char *name = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	*linkage = name != NULL;
	if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name;
}

/* Returns a malloc'd absolute, lexically normalized form of file: relative names in
 * DWARF are relative to the compilation directory, and absolute ones may hold "..":
 * clang writes /usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/...
 * for libstdc++'s headers, and BUILD/../SRC/f.c for a file built out of its tree.
 * A relative name with no absolute directory stays as it is.  NULL for NULL. */
static char *source_path(const char *comp_dir, const char *file)
{
	if (!file)
		return NULL;
	bool relative = file[0] != '/';
	if (relative && (!comp_dir || comp_dir[0] != '/'))
		return strdup(file);
	size_t len = (relative ? strlen(comp_dir) + 1 : 0) + strlen(file) + 2;
	char *joined = relative ? malloc(len) : NULL, *out = malloc(len);
	if ((relative && !joined) || !out) {
		free(joined);
		free(out);
		return NULL;
	}
	if (relative)
		snprintf(joined, len, "%s/%s", comp_dir, file);
	if (!path_normalize(relative ? joined : file, out, len))
		snprintf(out, len, "%s", relative ? joined : file); /* cannot happen: it fits */
	free(joined);
	return out;
}

/* The name of the symbol holding addr in m's symbol table, or NULL. */
static const char *symbol_name(struct module *m, Dwarf_Addr addr)
{
	if (!m->syms && !(m->syms = elfsyms_new(m->dwmod)))
		return dwfl_module_addrname(m->dwmod, addr);
	return elfsyms_lookup(m->syms, addr);
}

/* GCC writes no linkage name for a lambda's operator(), whose plain name says nothing
 * of which lambda it is; the symbol at the function's entry does
 * (main::{lambda(int)#2}::operator()(int) const).  A malloc'd name for the function
 * die, which holds addr (the unit's addresses are addr - cu_bias), or NULL. */
static char *lambda_name(struct module *m, Dwarf_Die *die, Dwarf_Addr addr, Dwarf_Addr cu_bias)
{
	Dwarf_Addr entry;
	if (dwarf_entrypc(die, &entry) != 0)
		return NULL;
	if (!m->syms && !(m->syms = elfsyms_new(m->dwmod)))
		return NULL;
	char *name = demangle(elfsyms_named_at(m->syms, addr, entry + cu_bias));
	if (name && strstr(name, "{lambda("))
		return name;
	free(name);
	return NULL;
}

/* Fills lines for the address: innermost inlined function first.  Returns the count
 * (0 when nothing is known), or -ENOMEM. */
static int lines_from_dwarf(struct module *m, Dwarf_Addr addr, struct sym_line **out)
{
	if (!m->scopes && !(m->scopes = scopeidx_new(m->dwmod)))
		return -ENOMEM;
	Dwarf_Addr cu_bias = 0;
	Dwarf_Die *cudie = scopeidx_cu(m->scopes, addr, &cu_bias);
	Dwarf_Line *dl = cudie ? dwarf_getsrc_die(cudie, addr - cu_bias) : NULL;
	const char *file = dl ? dwarf_linesrc(dl, NULL, NULL) : NULL;
	int line = 0;
	if (dl)
		dwarf_lineno(dl, &line);
	/* The chain of callers is the concrete nesting of the innermost scope. */
	Dwarf_Die scopes[MAX_INLINE];
	int nscopes = cudie ? scopeidx_functions(m->scopes, cudie, addr - cu_bias, scopes,
						 MAX_INLINE) : 0;
	if (nscopes < 0)
		return nscopes;
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	const char *comp_dir = NULL;
	if (cudie) {
		dwarf_getsrcfiles(cudie, &files, &nfiles);
		Dwarf_Attribute attr;
		comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr));
	}

	struct sym_line *lines = calloc((size_t)nscopes + 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	int n = 0;
	for (int i = 0; i < nscopes; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		bool linkage;
		const char *name = die_function_name(&scopes[i], &linkage);
		if (tag == DW_TAG_subprogram && !linkage)
			lines[n].function = lambda_name(m, &scopes[i], addr, cu_bias);
		if (!lines[n].function && !linkage) {
			/* GCC names many functions, inlined ones above all, only by their
			 * plain name: their scopes come from where they are declared. */
			char q[1024];
			int r = scopeidx_qualified(m->scopes, cudie, &scopes[i], q, sizeof(q));
			if (r < 0) {
				free_lines(lines, (uint32_t)n);
				return r;
			}
			if (r > 0)
				lines[n].function = strdup(q);
		}
		if (!lines[n].function)
			lines[n].function = demangle(name);
		lines[n].file = source_path(comp_dir, file);
		lines[n].line = line;
		n++;
		if (tag == DW_TAG_subprogram)
			break;
		/* The next outer function is at this inlined call's site. */
		Dwarf_Attribute attr;
		Dwarf_Word v;
		file = NULL;
		line = 0;
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &v) == 0 &&
		    files && v < nfiles)
			file = dwarf_filesrc(files, v, NULL, NULL);
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &v) == 0)
			line = (int)v;
	}
	if (n == 0 && file) {
		lines[0].file = source_path(comp_dir, file);
		lines[0].line = line;
		n = 1;
	}
	*out = lines;
	return n;
}

/* The frames of ip in module m's on-disk cache entry, at most max, their strings the
 * entry's (which lives as long as the symbolizer).  Returns how many, or -1 when the
 * entry does not hold ip (or m has none). */
static int stored_frames(symbolizer_t *s, uint32_t m, uint64_t ip,
			 struct symcache_frame *frames, uint32_t max)
{
	struct module *mod = m < s->nmodules ? &s->modules[m] : NULL;
	if (!mod || !mod->bias_known || !module_identify(s, mod) || !mod->stored)
		return -1;
	int n = symcache_table_find(mod->stored, ip - 1 - (uint64_t)mod->bias, frames, max);
	s->stats.cache_hits += n >= 0;
	return n;
}

/* Stores module m's fresh addresses in its on-disk cache entry.  Returns 0 or a
 * negative errno. */
static int module_flush(symbolizer_t *s, uint32_t m)
{
	struct module *mod = &s->modules[m];
	struct symcache_record *recs = calloc(mod->fresh, sizeof(*recs));
	struct symcache_frame *frames = NULL;
	size_t n = 0, nframes = 0;
	struct sym_cache *c, *tmp;
	HASH_ITER(hh, s->cache, c, tmp)
		if (c->key.module == m && c->fresh)
			nframes += c->nlines;
	frames = calloc(nframes + 1, sizeof(*frames));
	if (!recs || !frames) {
		free(recs);
		free(frames);
		return -ENOMEM;
	}
	nframes = 0;
	HASH_ITER(hh, s->cache, c, tmp) {
		if (c->key.module != m || !c->fresh || n == mod->fresh)
			continue;
		recs[n++] = (struct symcache_record){ c->key.ip - 1 - (uint64_t)mod->bias, c->nlines,
						      frames + nframes };
		for (uint32_t i = 0; i < c->nlines; i++)
			frames[nframes++] = (struct symcache_frame){ c->lines[i].function,
								     c->lines[i].file, c->lines[i].line };
	}
	int r = symcache_store(s->disk, mod->build_id, recs, n);
	if (r == 0) {
		s->stats.cache_stores++;
		mod->fresh = 0;
		HASH_ITER(hh, s->cache, c, tmp)
			if (c->key.module == m)
				c->fresh = false;
	}
	free(recs);
	free(frames);
	return r;
}

int symbolizer_flush(symbolizer_t *s)
{
	int first = 0;
	for (uint32_t m = 0; s->disk && m < s->nmodules; m++) {
		if (!s->modules[m].fresh || !s->modules[m].build_id)
			continue;
		int r = module_flush(s, m);
		if (r < 0 && first == 0)
			first = r;
	}
	return first;
}

void symbolizer_stats(const symbolizer_t *s, struct symbolizer_stats *out)
{
	*out = s->stats;
}

/* Symbolizes (module m, ip) into a new cache entry. */
static struct sym_cache *symbolize(symbolizer_t *s, uint32_t m, uint64_t ip)
{
	struct sym_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key.module = m;
	c->key.ip = ip;
	struct module *mod = m < s->nmodules ? &s->modules[m] : NULL;
	if (mod && mod->bias_known && module_identify(s, mod)) {
		if (!module_open(s, mod))
			goto done;
		Dwarf_Addr dw_bias = 0;
		dwfl_module_getelf(mod->dwmod, &dw_bias);
		/* A return address: look up the call instruction just before it. */
		Dwarf_Addr addr = (Dwarf_Addr)((int64_t)(ip - 1) - mod->bias) + dw_bias;
		struct sym_line *lines = NULL;
		int n = lines_from_dwarf(mod, addr, &lines);
		if (n < 0) {
			free(c);
			return NULL;
		}
		if (n > 0 && !lines[n - 1].function)
			lines[n - 1].function = demangle(symbol_name(mod, addr));
		if (n == 0) {
			const char *name = symbol_name(mod, addr);
			if (name) {
				lines[0].function = demangle(name);
				n = 1;
			}
		}
		if (n == 0)
			free(lines);
		else {
			c->lines = lines;
			c->nlines = (uint32_t)n;
		}
		s->stats.lookups++;
		c->fresh = mod->build_id != NULL;
		mod->fresh += c->fresh;
	}
done:
	s->cache_bytes += sizeof(*c) + 64 + c->nlines * (sizeof(struct sym_line) + 64);
	HASH_ADD(hh, s->cache, key, sizeof(c->key), c);
	return c;
}

/* Adds module m's mapping to p unless it is there (mapping_cache[m]).  Returns 0 or
 * -ENOMEM. */
static int add_mapping(symbolizer_t *s, profile_t *p, uint32_t m, uint32_t *mapping_cache)
{
	if (mapping_cache[m] != PROFILE_NONE)
		return 0;
	struct module *mod = &s->modules[m];
	profile_mapping_t pm = {
		.start = mod->exec_start, .limit = mod->exec_end, .offset = mod->exec_offset,
		.path = mod->path, .build_id = mod->build_id,
	};
	return profile_add_mapping(p, &pm, &mapping_cache[m]) < 0 ? -ENOMEM : 0;
}

int symbolizer_add_location(symbolizer_t *s, profile_t *p, uint32_t m, uint64_t ip,
			    uint32_t *mapping_cache, uint32_t *index_out)
{
	profile_line_t lines[MAX_INLINE];
	struct symcache_frame frames[MAX_INLINE];
	/* An address the on-disk entry holds is read from it each time, with no entry of
	 * its own here: a compiler's 3,000 locations a profile, each an entry and its
	 * lines allocated, hashed and freed for an image's one file. */
	int stored = stored_frames(s, m, ip, frames, MAX_INLINE);
	uint32_t n = stored > 0 ? (uint32_t)stored : 0;
	for (uint32_t i = 0; i < n; i++)
		lines[i] = (profile_line_t){ frames[i].function, frames[i].file, frames[i].line };
	if (stored < 0) {
		struct sym_cache *c;
		struct {
			uint32_t module;
			uint64_t ip;
		} key;
		memset(&key, 0, sizeof(key));
		key.module = m;
		key.ip = ip;
		HASH_FIND(hh, s->cache, &key, sizeof(key), c);
		if (!c && !(c = symbolize(s, m, ip)))
			return -ENOMEM;
		n = c->nlines < MAX_INLINE ? c->nlines : MAX_INLINE;
		for (uint32_t i = 0; i < n; i++)
			lines[i] = (profile_line_t){ c->lines[i].function, c->lines[i].file,
						     c->lines[i].line };
	}

	uint32_t mapping = PROFILE_NONE;
	if (m < s->nmodules) {
		if (add_mapping(s, p, m, mapping_cache) < 0)
			return -ENOMEM;
		mapping = mapping_cache[m];
	}
	return profile_add_location(p, ip, mapping, lines, n, index_out);
}

/* Whether a module's path names a shared object (libc.so.6, linux-vdso.so.1). */
static bool is_shared_object(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *so = strstr(base ? base + 1 : path, ".so");
	return so && (so[3] == '\0' || so[3] == '.');
}

int symbolizer_add_main_mapping(symbolizer_t *s, profile_t *p, uint32_t *mapping_cache)
{
	for (uint32_t m = 0; s->exe && m < s->nmodules; m++)
		if (s->modules[m].path && !strcmp(s->modules[m].path, s->exe))
			return add_mapping(s, p, m, mapping_cache);
	/* The process ended before its collector began: the first module the image
	 * registered, which its first pass over the loaded objects makes the executable
	 * (and a forked child inherits), unless it is a library. */
	if (s->nmodules && s->modules[0].path && !is_shared_object(s->modules[0].path))
		return add_mapping(s, p, 0, mapping_cache);
	return 0;
}

/* Groups rules by module (struct module_rule); symcache_store_rules() orders each
 * module's by address. */
struct module_rule {
	uint32_t module;
	struct hs_cfi_entry e;
};

static int module_rule_cmp(const void *a, const void *b)
{
	const struct module_rule *x = a, *y = b;
	return x->module < y->module ? -1 : x->module > y->module;
}

int symbolizer_store_rules(symbolizer_t *s, const uint64_t *ips,
			   const struct hs_cfi_entry *rules, size_t n)
{
	if (!s->disk || !n)
		return 0;
	struct module_rule *v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		/* A return address can end its function: its module is that of ip - 1. */
		uint32_t m = ips[i] ? symbolizer_module_of(s, ips[i] - 1) : SYM_NO_MODULE;
		struct module *mod = m < s->nmodules ? &s->modules[m] : NULL;
		if (!mod || !mod->bias_known || !module_identify(s, mod) || !mod->build_id)
			continue;
		v[k] = (struct module_rule){ m, rules[i] };
		v[k++].e.addr = ips[i] - (uint64_t)mod->bias;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), module_rule_cmp);
	struct hs_cfi_entry *group = malloc((k ? k : 1) * sizeof(*group));
	int first = group ? 0 : -ENOMEM;
	for (size_t i = 0; group && i < k;) {
		size_t j = i, g = 0;
		for (; j < k && v[j].module == v[i].module; j++)
			group[g++] = v[j].e;
		int r = symcache_store_rules(s->disk, s->modules[v[i].module].build_id, group, g);
		if (r < 0 && first == 0)
			first = r;
		i = j;
	}
	free(group);
	free(v);
	return first;
}
