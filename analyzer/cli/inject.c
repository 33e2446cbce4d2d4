/* inject.c - making one thread of another process call functions (see inject.h).
 *
 * The thread is seized (PTRACE_SEIZE) and stopped with PTRACE_INTERRUPT: that stop
 * happens where signals are handled, so a thread blocked in a system call is stopped
 * with the call interrupted (rax holds -ERESTART*, orig_rax the call's number).  A call
 * is made by setting rip to the function, the arguments in rdi and rsi, orig_rax to -1
 * (so the kernel does not restart anything on our registers), and a return address
 * that points at a `syscall` instruction inside libc: the thread runs under
 * PTRACE_SYSCALL, and the system-call stop at that instruction, with the stack pointer
 * just above our return address, is the function returning (its result is the call
 * number, orig_rax).  That call is skipped (orig_rax = -1).  No signal is raised in the
 * target, so its handlers, masks and dispositions are never involved.  To let the
 * thread go, it is interrupted once more: at that stop, inside the kernel's signal
 * handling, every register is put back, and the kernel then restarts an interrupted
 * system call exactly as it would have after any other ptrace stop (ERESTARTSYS and
 * friends; ERESTART_RESTARTBLOCK through restart_syscall).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "prim.h"

#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* ---- /proc/PID/maps ---- */

int inject_maps_read(pid_t pid, struct inject_maps *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	*out = (struct inject_maps){ 0 };
	size_t cap = 0;
	char line[PATH_MAX + 128];
	while (fgets(line, sizeof(line), f)) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct inject_map *m = realloc(out->m, cap * sizeof(*m));
			if (!m) {
				fclose(f);
				inject_maps_free(out);
				return -ENOMEM;
			}
			out->m = m;
		}
		struct inject_map *m = &out->m[out->n];
		char perms[8];
		int off = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &m->lo, &m->hi,
			   perms, &m->offset, &off) < 4)
			continue;
		m->exec = perms[2] == 'x';
		char *p = line + off;
		p[strcspn(p, "\n")] = '\0';
		snprintf(m->path, sizeof(m->path), "%s", p);
		out->n++;
	}
	fclose(f);
	return 0;
}

void inject_maps_free(struct inject_maps *m)
{
	free(m->m);
	*m = (struct inject_maps){ 0 };
}

static bool base_starts(const char *path, const char *prefix)
{
	if (path[0] != '/')
		return false;
	const char *b = strrchr(path, '/') + 1;
	return !strncmp(b, prefix, strlen(prefix));
}

const struct inject_map *inject_maps_find(const struct inject_maps *m, const char *prefix)
{
	for (size_t i = 0; i < m->n; i++)
		if (base_starts(m->m[i].path, prefix))
			return &m->m[i];
	return NULL;
}

/* Whether ip is in the code of libc or of the dynamic loader. */
/* Whether ip is in the code of the object whose file's base name starts with prefix. */
static bool in_code_of(const struct inject_maps *m, uint64_t ip, const char *prefix)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->m[i].exec && ip >= m->m[i].lo && ip < m->m[i].hi &&
		    base_starts(m->m[i].path, prefix))
			return true;
	return false;
}

static bool in_runtime(const struct inject_maps *m, uint64_t ip)
{
	return in_code_of(m, ip, "libc.so") || in_code_of(m, ip, "ld-linux");
}

/* ---- symbols ---- */

/* The mapped object's file as the target sees it: through its root (which may not be
 * ours), or through map_files when the file was replaced since (an upgraded libc). */
static int open_target_file(pid_t pid, const struct inject_map *m)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, m->path);
	int fd = strstr(m->path, " (deleted)") ? -1 : open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(p, sizeof(p), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->lo,
			 m->hi);
		fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

int inject_symbol(pid_t pid, const struct inject_maps *maps, const char *prefix,
		  const char *sym, uint64_t *addr, char *err, size_t len)
{
	const struct inject_map *m = NULL;
	for (size_t i = 0; i < maps->n && !m; i++)
		if (base_starts(maps->m[i].path, prefix) && maps->m[i].offset == 0)
			m = &maps->m[i];
	if (!m) {
		snprintf(err, len, "no %s is loaded in process %d", prefix, (int)pid);
		return -ENOENT;
	}
	int fd = open_target_file(pid, m);
	struct stat st;
	unsigned char *f = NULL;
	int r = -ENOENT;
	if (fd < 0 || fstat(fd, &st) < 0 || !(f = malloc((size_t)st.st_size)) ||
	    pread(fd, f, (size_t)st.st_size, 0) != st.st_size) {
		snprintf(err, len, "cannot read %s: %s", m->path, strerror(errno));
		r = -errno;
		goto out;
	}
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	size_t size = (size_t)st.st_size;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff > size ||
	    (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum) {
		snprintf(err, len, "%s is not a 64-bit ELF file", m->path);
		r = -EINVAL;
		goto out;
	}
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	const Elf64_Shdr *dynsym = NULL, *versym = NULL;
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = &sh[i];
		else if (sh[i].sh_type == SHT_GNU_versym)
			versym = &sh[i];
	}
	if (!dynsym || dynsym->sh_link >= eh->e_shnum || dynsym->sh_offset > size ||
	    dynsym->sh_size > size - dynsym->sh_offset) {
		snprintf(err, len, "%s has no dynamic symbol table", m->path);
		goto out;
	}
	const Elf64_Shdr *strs = &sh[dynsym->sh_link];
	if (strs->sh_offset > size || strs->sh_size > size - strs->sh_offset)
		goto out;
	const Elf64_Sym *syms = (const Elf64_Sym *)(f + dynsym->sh_offset);
	size_t nsyms = dynsym->sh_size / sizeof(Elf64_Sym);
	const uint16_t *vers = NULL;
	if (versym && versym->sh_offset <= size && versym->sh_size <= size - versym->sh_offset &&
	    versym->sh_size / 2 >= nsyms)
		vers = (const uint16_t *)(f + versym->sh_offset);
	const char *names = (const char *)(f + strs->sh_offset);
	for (size_t i = 0; i < nsyms; i++) {
		if (syms[i].st_shndx == SHN_UNDEF || syms[i].st_name >= strs->sh_size ||
		    strncmp(names + syms[i].st_name, sym, strs->sh_size - syms[i].st_name) ||
		    (vers && (vers[i] & 0x8000)))
			continue;
		*addr = m->lo + syms[i].st_value;
		r = 0;
		break;
	}
	if (r < 0)
		snprintf(err, len, "%s defines no %s", m->path, sym);
out:
	free(f);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- stopping a thread ---- */

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

/* waitpid for tid, at most timeout_s seconds (0: no limit).  Returns the pid, or -1
 * with errno (ETIMEDOUT on time out). */
static pid_t wait_tid(pid_t tid, int *st, unsigned timeout_s)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	sigemptyset(&sa.sa_mask);
	timed_out = 0;
	if (timeout_s) {
		sigaction(SIGALRM, &sa, &old);
		alarm(timeout_s);
	}
	pid_t r;
	do
		r = waitpid(tid, st, __WALL);
	while (r < 0 && errno == EINTR && !timed_out);
	int e = errno;
	if (timeout_s) {
		alarm(0);
		sigaction(SIGALRM, &old, NULL);
	}
	errno = r < 0 && timed_out ? ETIMEDOUT : e;
	return r;
}

static bool is_event_stop(int st)
{
	return WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP;
}

/* Keeps a signal that arrived while we held the thread, for inject_resume(). */
static void hold_signal(struct inject *j, int sig)
{
	if (j->nsignals < sizeof(j->signals) / sizeof(j->signals[0]))
		j->signals[j->nsignals++] = sig;
}

/* Waits for the PTRACE_INTERRUPT stop, holding back signals that come first.  Returns
 * 0, or -ESRCH when the thread ended. */
static int wait_interrupt_stop(struct inject *j)
{
	for (;;) {
		int st;
		if (wait_tid(j->tid, &st, 10) < 0)
			return -errno;
		if (!WIFSTOPPED(st))
			return -ESRCH;
		if (is_event_stop(st))
			return 0;
		if ((st >> 16) == 0 && WSTOPSIG(st) != (SIGTRAP | 0x80))
			hold_signal(j, WSTOPSIG(st));
		if (ptrace(PTRACE_CONT, j->tid, 0, 0) < 0)
			return -errno;
	}
}

/* The thread's system call, from /proc/PID/task/TID/syscall: its number while blocked
 * in one, -1 when blocked outside one, -2 when running, -3 when unknown. */
static long task_syscall(pid_t pid, pid_t tid)
{
	char path[96], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -3;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -3;
	buf[n] = '\0';
	if (!strncmp(buf, "running", 7))
		return -2;
	return strtol(buf, NULL, 10);
}

/* Blocking calls that hold no lock of libc's while they wait.  restart_syscall is
 * what a poll, nanosleep or futex wait with a relative timeout becomes once
 * interrupted (by attach's own stop, say): it resumes one of those. */
static bool quiet_syscall(long nr)
{
	static const long calls[] = {
		SYS_read, SYS_readv, SYS_pread64, SYS_write, SYS_writev, SYS_pwrite64,
		SYS_sendto, SYS_sendmsg, SYS_poll, SYS_ppoll, SYS_select, SYS_pselect6,
		SYS_nanosleep, SYS_clock_nanosleep, SYS_pause, SYS_wait4, SYS_waitid,
		SYS_rt_sigsuspend, SYS_rt_sigtimedwait, SYS_epoll_wait, SYS_epoll_pwait,
		SYS_accept, SYS_accept4, SYS_recvfrom, SYS_recvmsg, SYS_connect, SYS_msgrcv,
		SYS_msgsnd, SYS_semop, SYS_semtimedop, SYS_io_getevents, SYS_futex,
		SYS_restart_syscall, SYS_open, SYS_openat, SYS_flock, SYS_fcntl,
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (nr == calls[i])
			return true;
	return false;
}

/* Whether the stopped thread can be borrowed: it holds no lock of libc's or the
 * loader's, as far as can be told from where it stopped. */
static bool safe_point(const struct inject_maps *m, const struct user_regs_struct *r)
{
	if (!in_runtime(m, r->rip))
		return true;
	/* The loader makes system calls only while it loads, holding its lock: a thread
	 * blocked in its open or read (a library on a slow file system) is mid-dlopen. */
	if (in_code_of(m, r->rip, "ld-linux"))
		return false;
	long rax = (long)r->rax;
	bool interrupted = rax == -ERESTARTSYS || rax == -ERESTARTNOINTR ||
			   rax == -ERESTARTNOHAND || rax == -ERESTART_RESTARTBLOCK || rax == -EINTR;
	return (long)r->orig_rax >= 0 && interrupted && quiet_syscall((long)r->orig_rax);
}

/* Order of preference: blocked in a quiet call other than futex, running, futex. */
static int rank(long call)
{
	if (call >= 0 && call != SYS_futex && quiet_syscall(call))
		return 0;
	if (call == -2)
		return 1;
	if (call == SYS_futex)
		return 2;
	return 3;
}

static int cmp_rank(const void *a, const void *b)
{
	const long *x = a, *y = b;
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Seizes and stops tid, and reads its registers.  Returns 0 or a negative errno. */
static int seize(struct inject *j, pid_t tid)
{
	j->tid = tid;
	j->nsignals = 0;
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		int e = -errno;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return e;
	}
	int r = wait_interrupt_stop(j);
	if (r == 0 && ptrace(PTRACE_GETREGS, tid, 0, &j->saved) < 0)
		r = -errno;
	if (r < 0 && r != -ESRCH)
		ptrace(PTRACE_DETACH, tid, 0, 0);
	return r;
}

/* Lets a running thread go on for a moment and stops it again, until it stops at a safe
 * point (at most about two seconds).  Returns 0, 1 when it never did, or -errno. */
static int wait_safe_point(struct inject *j, const struct inject_maps *maps)
{
	for (int tries = 0; tries < 2000; tries++) {
		if (safe_point(maps, &j->saved))
			return 0;
		if (ptrace(PTRACE_CONT, j->tid, 0, 0) < 0)
			return -errno;
		struct timespec ts = { 0, 200000 + (tries % 7) * 100000 };
		nanosleep(&ts, NULL);
		if (ptrace(PTRACE_INTERRUPT, j->tid, 0, 0) < 0)
			return -errno;
		int r = wait_interrupt_stop(j);
		if (r < 0)
			return r;
		if (ptrace(PTRACE_GETREGS, j->tid, 0, &j->saved) < 0)
			return -errno;
	}
	return 1;
}

/* A `syscall` instruction (0f 05) in libc's code. */
static int find_gadget(struct inject *j, const struct inject_maps *maps)
{
	static unsigned char buf[1 << 16];
	for (size_t i = 0; i < maps->n; i++) {
		const struct inject_map *m = &maps->m[i];
		if (!m->exec || !base_starts(m->path, "libc.so"))
			continue;
		for (uint64_t a = m->lo; a < m->hi; a += sizeof(buf) - 1) {
			size_t n = m->hi - a < sizeof(buf) ? m->hi - a : sizeof(buf);
			ssize_t got = pread(j->mem, buf, n, (off_t)a);
			if (got < 0)
				return -errno;
			for (ssize_t k = 0; k + 1 < got; k++)
				if (buf[k] == 0x0f && buf[k + 1] == 0x05) {
					j->gadget = a + (uint64_t)k;
					return 0;
				}
		}
	}
	errno = ENOENT;
	return -ENOENT;
}

/* The threads of pid, best candidate first (see rank()): pairs of tid and rank*2 + 1
 * for a thread other than the main one.  Returns how many, or -1 when there is no
 * such process; *out is to be freed. */
static long candidates(pid_t pid, long (**out)[2])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long (*cand)[2] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			long (*c)[2] = realloc(cand, cap * sizeof(*c));
			if (!c)
				break;
			cand = c;
		}
		pid_t tid = (pid_t)atoi(e->d_name);
		cand[n][0] = tid;
		cand[n][1] = rank(task_syscall(pid, tid)) * 2 + (tid != pid);
		n++;
	}
	closedir(d);
	if (n)
		qsort(cand, n, sizeof(*cand), cmp_rank);
	*out = cand;
	return (long)n;
}

/* Seizes the candidates in turn until one stops at a safe point.  Returns 0, -EPERM,
 * -EAGAIN (none did) or another negative errno. */
static int stop_one(struct inject *j, const struct inject_maps *maps, long (*cand)[2], long n)
{
	int r = -ESRCH;
	for (long i = 0; i < n; i++) {
		r = seize(j, (pid_t)cand[i][0]);
		if (r == -EPERM || r == -EBUSY)
			return -EPERM;
		if (r < 0)
			continue; /* the thread ended meanwhile */
		j->stop_ns = prim_now_ns(CLOCK_MONOTONIC);
		/* Running threads get a few tries; the last candidate all of them. */
		if (cand[i][1] / 2 == 1 || i + 1 == n)
			r = wait_safe_point(j, maps);
		else
			r = safe_point(maps, &j->saved) ? 0 : 1;
		if (r == 0)
			return 0;
		ptrace(PTRACE_DETACH, j->tid, 0, 0);
		for (unsigned k = 0; k < j->nsignals; k++)
			syscall(SYS_tgkill, j->pid, j->tid, j->signals[k]);
		r = r < 0 ? r : -EAGAIN;
	}
	return r;
}

int inject_stop(pid_t pid, const struct inject_maps *maps, struct inject *j, char *err,
		size_t len)
{
	memset(j, 0, sizeof(*j));
	j->pid = pid;
	j->mem = -1;
	/* Ctrl-C between here and inject_resume() would leave the thread running our call
	 * with nobody to put its registers back: the usual signals wait until then. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &j->sigmask);
	long (*cand)[2] = NULL;
	long n = candidates(pid, &cand);
	int r = n < 0 ? -ESRCH : stop_one(j, maps, cand, n);
	free(cand);
	if (r < 0)
		sigprocmask(SIG_SETMASK, &j->sigmask, NULL);
	if (r == -EPERM)
		snprintf(err, len, "not permitted to trace process %d (ptrace: %s)", (int)pid,
			 strerror(EPERM));
	else if (r == -EAGAIN)
		snprintf(err, len, "no thread of process %d stopped where it holds none of "
			 "libc's locks within 2 seconds (each ran inside libc or the loader, or "
			 "waited in a system call not known to be safe); try again", (int)pid);
	else if (r == -ESRCH)
		snprintf(err, len, "no process %d", (int)pid);
	else if (r < 0)
		snprintf(err, len, "cannot stop a thread of process %d: %s", (int)pid, strerror(-r));
	if (r < 0)
		return r;
	char path[64];
	struct iovec iov = { j->xstate, sizeof(j->xstate) };
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	const char *step = NULL;
	if (ptrace(PTRACE_GETREGSET, j->tid, (void *)NT_X86_XSTATE, &iov) < 0)
		step = "read its FPU state";
	else if ((j->mem = open(path, O_RDWR | O_CLOEXEC)) < 0)
		step = "open its memory";
	else if (find_gadget(j, maps) < 0)
		step = "find a system call instruction in libc";
	if (step) {
		snprintf(err, len, "cannot %s (thread %d of process %d): %s", step, (int)j->tid,
			 (int)pid, strerror(errno));
		inject_resume(j);
		return -EIO;
	}
	j->xlen = iov.iov_len;
	/* Below the red zone the ABI leaves to the interrupted function. */
	j->scratch = (j->saved.rsp - 256) & ~(uint64_t)15;
	return 0;
}

uint64_t inject_data(struct inject *j, const void *data, size_t len)
{
	j->scratch = (j->scratch - len) & ~(uint64_t)15;
	if (pwrite(j->mem, data, len, (off_t)j->scratch) != (ssize_t)len)
		return 0;
	return j->scratch;
}

void inject_read_string(struct inject *j, uint64_t addr, char *out, size_t len)
{
	ssize_t n = addr ? pread(j->mem, out, len - 1, (off_t)addr) : -1;
	out[n > 0 ? n : 0] = '\0';
	out[strnlen(out, len - 1)] = '\0';
}

/* Sets the thread up to enter fn(a0, a1) and return to the gadget; returns the address
 * of the return address on its stack, or 0 with err set. */
static uint64_t call_setup(struct inject *j, uint64_t fn, uint64_t a0, uint64_t a1, char *err,
			   size_t len)
{
	struct user_regs_struct r = j->saved;
	uint64_t ret_slot = (j->scratch & ~(uint64_t)15) - 64 - 8; /* rsp % 16 == 8 at entry */
	if (pwrite(j->mem, &j->gadget, 8, (off_t)ret_slot) != 8) {
		snprintf(err, len, "cannot write to process %d: %s", (int)j->pid, strerror(errno));
		return 0;
	}
	r.rip = fn;
	r.rsp = ret_slot;
	r.rdi = a0;
	r.rsi = a1;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1;
	r.eflags &= ~(uint64_t)0x400; /* the direction flag, clear at a call */
	if (ptrace(PTRACE_SETREGS, j->tid, 0, &r) < 0) {
		snprintf(err, len, "cannot set thread %d's registers: %s", (int)j->tid, strerror(errno));
		return 0;
	}
	return ret_slot;
}

int inject_call(struct inject *j, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t *ret,
		unsigned timeout_s, char *err, size_t len)
{
	uint64_t ret_slot = call_setup(j, fn, a0, a1, err, len);
	if (!ret_slot)
		return -EIO;
	struct user_regs_struct r;
	bool in_call = false, returned = false;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, j->tid, 0, 0) < 0)
			goto lost;
		int st;
		if (wait_tid(j->tid, &st, timeout_s) < 0) {
			if (errno == ETIMEDOUT) {
				snprintf(err, len, "process %d did not return from the call within %u "
					 "seconds; it may be stuck", (int)j->pid, timeout_s);
				return -ETIMEDOUT;
			}
			goto lost;
		}
		if (!WIFSTOPPED(st))
			goto lost;
		int sig = WSTOPSIG(st);
		if (sig == (SIGTRAP | 0x80)) {
			in_call = !in_call;
			if (returned)
				return 0; /* the skipped call's exit stop */
			if (!in_call)
				continue;
			if (ptrace(PTRACE_GETREGS, j->tid, 0, &r) < 0)
				goto lost;
			if (r.rip != j->gadget + 2 || r.rsp != ret_slot + 8)
				continue;
			*ret = r.orig_rax;
			r.orig_rax = (uint64_t)-1; /* skip it */
			if (ptrace(PTRACE_SETREGS, j->tid, 0, &r) < 0)
				goto lost;
			returned = true;
		} else if ((st >> 16) == 0) {
			if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
			    sig == SIGTRAP) {
				snprintf(err, len, "the call in process %d faulted (%s)", (int)j->pid,
					 strsignal(sig));
				return -EFAULT;
			}
			hold_signal(j, sig);
		}
	}
lost:
	snprintf(err, len, "lost thread %d of process %d: %s", (int)j->tid, (int)j->pid,
		 strerror(errno ? errno : ESRCH));
	return -ESRCH;
}

int inject_resume(struct inject *j)
{
	int r = 0;
	/* Stop it once more where the kernel handles signals, so that it restarts the
	 * interrupted system call (if any) from the registers put back here. */
	if (ptrace(PTRACE_INTERRUPT, j->tid, 0, 0) < 0 || ptrace(PTRACE_CONT, j->tid, 0, 0) < 0 ||
	    wait_interrupt_stop(j) < 0)
		r = -errno;
	struct iovec iov = { j->xstate, j->xlen };
	if (r == 0 && ((j->xlen && ptrace(PTRACE_SETREGSET, j->tid, (void *)NT_X86_XSTATE, &iov) < 0) ||
		       ptrace(PTRACE_SETREGS, j->tid, 0, &j->saved) < 0))
		r = -errno;
	if (ptrace(PTRACE_DETACH, j->tid, 0, 0) < 0 && !r)
		r = -errno;
	j->resume_ns = prim_now_ns(CLOCK_MONOTONIC);
	for (unsigned k = 0; k < j->nsignals; k++)
		syscall(SYS_tgkill, j->pid, j->tid, j->signals[k]);
	if (j->mem >= 0)
		close(j->mem);
	j->mem = -1;
	sigprocmask(SIG_SETMASK, &j->sigmask, NULL);
	return r;
}
