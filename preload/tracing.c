/* tracing.c - turning tracing on and off for this process image.
 *
 * Tracing starts at the first event (or the library's constructor): the options are
 * read, the segment created, the collector started and the snapshot signal installed.
 * A forked child drops its parent's segment and sets up its own at its first event.
 * At exit, the ring's end is marked for the collector.  When the ring reports that the
 * collector is gone or stalled, tracing gives up once, says so on stderr, and the
 * program runs on untraced; later events are counted as lost.
 */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

_Atomic int shim_state HIDDEN = SHIM_UNINIT;
_Atomic int shim_gave_up HIDDEN;

static _Atomic int setup_lock;
static char start_dir[PATH_MAX];
/* A forked child's copy of its parent's segment mapping, dropped at the child's own
 * setup: most children exec first, and exec drops it for nothing, where an munmap
 * costs a TLB flush on every CPU the parent ran on. */
static struct segment parents_seg;
/* libc's _exit, found at setup (see tracing_exit_now); its exit, at the first call or
 * before a fork (tracing_fork_prepare). */
static void (*real_exit_now)(int);
static void (*real_exit)(int);

static void tracing_on_exit(int status, void *arg);

static void tracing_on_give_up(const char *why)
{
	atomic_store(&shim_state, SHIM_OFF);
	atomic_store(&shim_gave_up, 1);
	report("%s; tracing stopped, the program continues untraced", why);
}

/* The directory the files go to, made absolute against the start directory, so they
 * go where the program started whatever it does later, and heapsnap snap finds them
 * from anywhere. */
static void tracing_resolve_dir(void)
{
	char cwd[PATH_MAX];
	const char *dir = shim_opt.dir;
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, ".");
	if (!dir || !strcmp(dir, "."))
		snprintf(start_dir, sizeof(start_dir), "%s", cwd);
	else if (dir[0] != '/')
		snprintf(start_dir, sizeof(start_dir), "%s/%s", cwd,
			 dir + (strncmp(dir, "./", 2) ? 0 : 2));
	else
		snprintf(start_dir, sizeof(start_dir), "%s", dir);
	shim_opt.dir = start_dir;
	/* Said once, now, rather than at the first snapshot the collector cannot write. */
	if (access(start_dir, W_OK | X_OK) < 0)
		report("cannot write snapshots to '%s': %s", start_dir, strerror(errno));
}

/* The shim's own pages, mapped in a system call a segment: its code and read-only data
 * for reading, its writable data (past the part made read-only after relocation) for
 * writing.  On the machines we measure on, a page fault is a hypervisor exit, and the
 * kernel maps a file's pages one a fault: an image's setup and first stacks ran into
 * about ten in the shim's code and eight in its variables, and a forked child, whose
 * page tables hold none of its parent's file pages and share the rest until written,
 * as many again. */
static void map_own_pages(void)
{
	extern const ElfW(Ehdr) __ehdr_start HIDDEN;
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	uintptr_t bias = 0, relro_end = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) { /* the first maps the headers */
			bias = (uintptr_t)eh - (ph[i].p_vaddr - ph[i].p_offset);
			break;
		}
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_GNU_RELRO)
			relro_end = (bias + ph[i].p_vaddr + ph[i].p_memsz) & ~(uintptr_t)(HS_PAGE - 1);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		uintptr_t lo = bias + ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
		if (!(ph[i].p_flags & PF_W)) {
			prim_populate_read((const void *)lo, hi - lo);
		} else {
			lo = lo > relro_end ? lo : relro_end;
			if (lo < hi)
				prim_populate((void *)lo, hi - lo);
		}
	}
}

static void resolve_exit(void)
{
	if (!real_exit)
		real_exit = (void (*)(int))shim_next_symbol("exit");
}

/* The real functions the wrappers a child may call first are found before the fork:
 * looking a symbol up takes the loader's lock, which a thread the child does not
 * have may have held at the fork. */
static void tracing_fork_prepare(void)
{
	int old_guard = shim_guard;
	shim_guard = 1;
	exec_resolve();
	resolve_exit();
	shim_guard = old_guard;
}

static void tracing_fork_child(void)
{
	/* Only this thread exists now.  The parent's segment is the parent's: drop it and
	 * set up a ring and collector of our own at this process's first event. */
	if (atomic_load(&setup_lock)) /* a write would copy the page: a page fault */
		atomic_store(&setup_lock, 0);
	thread_block_fork_child();
	modules_reset();
	if (!shim_seg.ctl)
		return; /* never traced: disabled, or setup failed */
	/* Traced, or given up (then the child, a new process, starts afresh too): either
	 * way the parent's segment and its counters must not see the child's events.  The
	 * mapping itself goes at this child's first event, if it comes before an exec. */
	parents_seg = shim_seg;
	memset(&shim_seg, 0, sizeof(shim_seg));
	atomic_store(&shim_gave_up, 0);
	atomic_store(&shim_state, SHIM_CHILD_PENDING);
	stack_forget_thread_cache();
}

static pid_t (*real_fork_raw)(void);

/* _Fork (glibc 2.34) forks without the atfork handlers: its child went on tracing into
 * its parent's segment, as its parent, and the host could keep that segment for the
 * next image once the parent had exited, the child still writing to it. */
EXPORT pid_t _Fork(void)
{
	if (!real_fork_raw)
		real_fork_raw = (pid_t(*)(void))shim_next_symbol("_Fork");
	if (!real_fork_raw) {
		errno = ENOSYS;
		return -1;
	}
	pid_t pid = real_fork_raw();
	if (pid == 0)
		tracing_fork_child();
	return pid;
}

typedef int (*clone_fn_t)(void *);
typedef int (*clone_real_t)(clone_fn_t, void *, int, void *, ...);
static clone_real_t real_clone;

struct clone_call {
	clone_fn_t fn;
	void *arg;
};

/* The child of a clone(2) that shares no memory: first what a fork child does. */
static int clone_child(void *p)
{
	struct clone_call *c = p; /* the parent's, copied with the rest of its memory */
	tracing_fork_child();
	return c->fn(c->arg);
}

/* glibc's clone without CLONE_VM makes a process, as fork does, but runs no atfork
 * handler: its child traced into its parent's segment as its parent (a daemon made
 * with clone(fn, stack, SIGCHLD, arg) went on allocating into it after its parent had
 * exited, and with kept segments, into the next image's).  With CLONE_VM it is a
 * thread or a vfork, which shares the segment by design. */
EXPORT int clone(clone_fn_t fn, void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *parent_tid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *child_tid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!real_clone)
		real_clone = (clone_real_t)shim_next_symbol("clone");
	if (!real_clone) {
		errno = ENOSYS;
		return -1;
	}
	if (flags & CLONE_VM)
		return real_clone(fn, stack, flags, arg, parent_tid, tls, child_tid);
	struct clone_call c = { fn, arg };
	return real_clone(clone_child, stack, flags, &c, parent_tid, tls, child_tid);
}

/* Reads the options once per process image; false when tracing is off for good. */
static bool tracing_first_setup(void)
{
	/* Here, not at the first call: _Fork may be called in a signal handler. */
	real_fork_raw = (pid_t(*)(void))shim_next_symbol("_Fork");
	real_clone = (clone_real_t)shim_next_symbol("clone");
	map_own_pages();
	modules_image_start();
	report_init();
	options_load();
	cfistore_init();
	if (shim_opt.disabled)
		return false;
	tracing_resolve_dir();
	unwind_init();
	thread_block_init();
	shim_real_mmap_resolve();
	real_exit_now = (void (*)(int))shim_next_symbol("_exit");
	pthread_atfork(tracing_fork_prepare, NULL, tracing_fork_child);
	return true;
}

static void tracing_setup_locked(void)
{
	int was = atomic_load(&shim_state);
	if (was == SHIM_UNINIT && !tracing_first_setup()) {
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	if (was == SHIM_CHILD_PENDING) {
		/* Here, not in the fork handler: a child that execs at once needs none of it. */
		map_own_pages();
		thread_block_copy();
	}
	if (shim_opt.sample_period && sampleset_init() < 0) {
		report("cannot map the set of sampled blocks: %s; not tracing", strerror(errno));
		segment_unmap(&parents_seg);
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	int fd = segment_create(&shim_seg, &shim_opt, &parents_seg);
	segment_unmap(&parents_seg);
	if (fd < 0) {
		report("cannot create the shared ring: %s; not tracing", strerror(-fd));
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	shim_seg.ring.on_give_up = tracing_on_give_up;
	modules_inherit(&shim_seg);
	int r = spawn_collector(&shim_seg, fd, shim_opt.dir);
	close(fd);
	if (r < 0) {
		segment_unmap(&shim_seg);
		atomic_store(&shim_state, SHIM_OFF);
		return;
	}
	trace_thread_reset();
	atomic_store(&shim_state, SHIM_ON);
	if (was == SHIM_UNINIT) {
		signal_install();
		/* Forked children inherit it with the rest of the exit handlers. */
		on_exit(tracing_on_exit, NULL);
	} else {
		signal_note_taken();
	}
}

void tracing_setup(void)
{
	int old_guard = shim_guard;
	shim_guard = 1;
	int saved = errno;
	while (atomic_exchange_explicit(&setup_lock, 1, memory_order_acquire))
		sched_yield();
	int s = atomic_load(&shim_state);
	if (s == SHIM_UNINIT || s == SHIM_CHILD_PENDING)
		tracing_setup_locked();
	atomic_store_explicit(&setup_lock, 0, memory_order_release);
	errno = saved;
	shim_guard = old_guard;
}

/* Whether this process may mark its end in shim_seg: traced, or given up (the
 * collector then still writes an exit file that says what was lost, and must know
 * that this was an exit); and not a vfork child, which shares its parent's memory:
 * the segment is the parent's. */
static bool tracing_owns_exit(void)
{
	return shim_seg.ctl && getpid() == shim_seg.ctl->pid &&
	       (atomic_load(&shim_state) == SHIM_ON || atomic_load(&shim_gave_up));
}

/* Keeps the status the program is exiting with, for the exit file's "exit N" when the
 * collector cannot read it from a zombie (a shell reaps its children at once). */
static bool tracing_note_exit_code(int status)
{
	if (!tracing_owns_exit())
		return false;
	atomic_store(&shim_seg.ctl->exit_code, (status & 0xff) + 1);
	return true;
}

/* Called by exit with its status, after the handlers registered later: the status
 * of a program that returns from main, whose exit call the wrapper below never sees
 * (__libc_start_main calls exit inside libc). */
static void tracing_on_exit(int status, void *arg)
{
	(void)arg;
	tracing_note_exit_code(status);
}

/* exit runs the destructors, whose exit hook (tracing_exit) marks the exit. */
EXPORT _Noreturn void exit(int status)
{
	resolve_exit();
	if (!real_exit)
		syscall(SYS_exit_group, status);
	tracing_note_exit_code(status);
	real_exit(status);
	for (;;)
		syscall(SYS_exit_group, status);
}

/* _exit and _Exit skip destructors, so the exit is marked here: forked shell children
 * end this way, and their files said "ended without exit". */
static _Noreturn void tracing_exit_now(int status)
{
	if (tracing_note_exit_code(status))
		ring_mark_exit(shim_seg.ctl);
	if (real_exit_now)
		real_exit_now(status);
	for (;;)
		syscall(SYS_exit_group, status);
}

EXPORT _Noreturn void _exit(int status)
{
	tracing_exit_now(status);
}

EXPORT _Noreturn void _Exit(int status)
{
	tracing_exit_now(status);
}

void tracing_exit(void)
{
	if (!tracing_owns_exit())
		return;
	ring_mark_exit(shim_seg.ctl);
	stack_verify_report();
	if (!ring_collector_alive(&shim_seg.ring))
		report("the collector is gone: no exit snapshot will be written");
}
