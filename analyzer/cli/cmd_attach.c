/* cmd_attach.c - `heapsnap attach PID` and `heapsnap detach PID`.
 *
 * attach checks first, changing nothing, that the process can be traced: it exists,
 * ptrace is allowed (Yama's ptrace_scope, its owner, our capabilities), no debugger is
 * attached, it is dynamically linked with glibc's libc, and no shim is loaded in it.
 * Then one of its threads (inject.c) calls dlopen() on libheapsnap-attach.so and
 * heapsnap_attach_start() with the settings, and attach waits for the collector so
 * that `heapsnap snap PID` works the moment it returns.  detach has the thread call
 * heapsnap_attach_stop() and waits for the collector's last file.  preload/attach.c
 * is the other side.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attachabi.h"
#include "cliopt.h"
#include "commands.h"
#include "inject.h"
#include "prim.h"
#include "running.h"
#include "shmlayout.h"

#define SHIM_ATTACH "libheapsnap-attach.so"
#define SHIM_PRELOAD "libheapsnap.so"
#define CALL_TIMEOUT 30 /* seconds for one call in the target */

/* What the shim's answers (attachabi.h) say, by -answer. */
static const char *const answers[] = {
	[-ATTACH_PRELOADED] = "is already traced: it was started under the shim (heapsnap run "
			      "or LD_PRELOAD)",
	[-ATTACH_ALREADY] = "is already attached; 'heapsnap detach %d' ends that",
	[-ATTACH_FAILED] = "could not start tracing (its stderr says why)",
	[-ATTACH_BAD_CONFIG] = "refused the settings",
	[-ATTACH_NOT_ATTACHED] = "is not attached",
	[-ATTACH_DETACHED] = "was attached and detached before; its shim stays dormant and "
			     "cannot start again",
	[-ATTACH_NO_SLOT] = "has no GOT entry naming malloc or free to redirect",
	[-ATTACH_FAILED_BEFORE] = "could not start tracing at an earlier attach, and cannot "
				  "start again",
};
/* detach's word for answers[-ATTACH_PRELOADED] */
static const char preloaded_detach[] = "was started under the shim (heapsnap run or "
				       "LD_PRELOAD), not attached: it is traced until it ends";

static void help(FILE *out, bool detach)
{
	if (detach)
		fprintf(out,
			"Usage: heapsnap detach PID\n\n"
			"Stop tracing a process that 'heapsnap attach' traces: its allocator calls\n"
			"go straight to the allocator again, and its collector writes its last\n"
			"snapshot, heapsnap.PID.exit.pb.gz (trigger \"detach\"), whose path is printed.\n"
			"The process runs on; the shim stays loaded in it, dormant.\n");
	else
		fprintf(out,
			"Usage: heapsnap attach [OPTIONS] PID\n\n"
			"Trace a running process from now on, as if it had been started under\n"
			"'heapsnap run': 'heapsnap snap PID' (or the snapshot signal) writes\n"
			"heapsnap.PID.N.pb.gz, its end writes heapsnap.PID.exit.pb.gz, and\n"
			"'heapsnap detach PID' stops tracing.  Blocks allocated before the attach\n"
			"are unknown: their frees are counted as unmatched in 'heapsnap info'.\n"
			"Uses ptrace: one thread of the process is stopped for a moment.\n\n"
			"Options:\n"
			"  -o, --dir DIR       write snapshots to DIR (default: the current directory)\n"
			"  -f, --frames N      frames kept per stack, 1..256 (default 16)\n"
			"  -h, --help          show this help\n\n"
			"Example:\n"
			"  heapsnap attach 4242 && sleep 60 && heapsnap snap 4242\n"
			"  heapsnap detach 4242\n");
}

struct attach_args {
	const char *cmd; /* "attach" or "detach" */
	const char *dir, *frames;
	pid_t pid;
	pid_t run;       /* the `heapsnap run` named, whose program pid is; else 0 */
};

/* Returns 0 to go on, 1 after --help, or -EINVAL after reporting bad usage. */
static int parse_argv(int argc, char **argv, struct attach_args *a, bool detach)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'o' },
		{ "frames", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct attach_args){ .cmd = detach ? "detach" : "attach" };
	opterr = 0;
	optind = 0;
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, detach ? ":h" : ":o:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			a->dir = optarg;
			break;
		case 'f':
			if (!cliopt_frames("attach", optarg))
				return -EINVAL;
			a->frames = optarg;
			break;
		case 'h':
			help(stdout, detach);
			return 1;
		default: {
			char why[128];
			fprintf(stderr, "heapsnap: %s: %s; see 'heapsnap %s --help'\n", a->cmd,
				cliopt_error(opt, argv, why, sizeof(why)), a->cmd);
			return -EINVAL;
		}
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "heapsnap: %s: needs one PID; see 'heapsnap %s --help'\n", a->cmd,
			a->cmd);
		return -EINVAL;
	}
	long pid = strtol(argv[optind], &end, 10);
	if (*end || end == argv[optind] || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "heapsnap: %s: '%s' is not a pid\n", a->cmd, argv[optind]);
		return -EINVAL;
	}
	a->pid = (pid_t)pid;
	return 0;
}

/* Whether pid runs this very program (its /proc/PID/exe is ours): a collector, or run's
 * host of collectors, into which attach would load the shim. */
static bool is_heapsnap(pid_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/exe", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* `heapsnap run`'s own pid stands for the program it runs, as for snap; a run whose
 * program has ended is never traced itself.  Returns 0, or 1 after saying why not. */
static int run_stands_for_program(struct attach_args *a)
{
	pid_t child = running_run_child(a->pid);
	if (child > 0) {
		a->run = a->pid;
		a->pid = child;
	} else if (running_is_run(a->pid)) {
		fprintf(stderr, "heapsnap: %s: process %d is heapsnap run, whose program has "
			"ended\n", a->cmd, (int)a->pid);
		return 1;
	} else if (is_heapsnap(a->pid)) {
		fprintf(stderr, "heapsnap: %s: process %d is heapsnap itself (a collector, or "
			"heapsnap run's host of collectors), which is never traced\n", a->cmd,
			(int)a->pid);
		return 1;
	}
	return 0;
}

/* ---- may we? ---- */

/* The value of a "Name:\tvalue" line of /proc/PID/status, or false. */
static bool status_field(pid_t pid, const char *name, char *out, size_t len)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), pid ? "/proc/%d/status" : "/proc/self/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = strlen(name);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			char *v = line + n + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, len, "%s", v);
			found = true;
		}
	fclose(f);
	return found;
}

/* Whether pid has our user, groups and file-system ids: then what we may write, it
 * may. */
static bool same_credentials(pid_t pid)
{
	static const char *const fields[] = { "Uid", "Gid", "Groups" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char ours[512], theirs[512];
		if (!status_field(0, fields[i], ours, sizeof(ours)) ||
		    !status_field(pid, fields[i], theirs, sizeof(theirs)) || strcmp(ours, theirs))
			return false;
	}
	return true;
}

static bool have_cap_sys_ptrace(void)
{
	char v[64];
	return status_field(0, "CapEff", v, sizeof(v)) &&
	       (strtoull(v, NULL, 16) >> 19 & 1); /* CAP_SYS_PTRACE */
}

static bool is_descendant(pid_t pid)
{
	for (int depth = 0; pid > 1 && depth < 4096; depth++) {
		struct proc_stat st;
		if (prim_proc_stat(pid, &st) < 0)
			return false;
		if (st.ppid == getpid())
			return true;
		pid = st.ppid;
	}
	return false;
}

/* Says why ptrace cannot be used on pid (one line, naming the fix), or returns false. */
static bool ptrace_refused(const struct attach_args *a, char *why, size_t len)
{
	pid_t pid = a->pid;
	char v[256];
	if (pid == getpid()) {
		snprintf(why, len, "cannot %s to itself", a->cmd);
		return true;
	}
	if (!status_field(pid, "Uid", v, sizeof(v))) {
		snprintf(why, len, "no process %d", (int)pid);
		return true;
	}
	bool cap = have_cap_sys_ptrace();
	unsigned ruid, euid;
	if (!cap && sscanf(v, "%u %u", &ruid, &euid) == 2 &&
	    (ruid != geteuid() || euid != geteuid())) {
		snprintf(why, len, "process %d belongs to user %u: run heapsnap %s as that user or "
			 "as root", (int)pid, euid, a->cmd);
		return true;
	}
	if (status_field(pid, "TracerPid", v, sizeof(v)) && atoi(v) != 0) {
		char comm[64] = "?", p[64];
		snprintf(p, sizeof(p), "/proc/%d/comm", atoi(v));
		FILE *f = fopen(p, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(why, len, "process %d is being traced by process %d (%s), a debugger or "
			 "tracer: detach that first", (int)pid, atoi(v), comm);
		return true;
	}
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = 0;
	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
	}
	return attach_yama_refusal(scope, cap, scope == 1 && is_descendant(pid), a->cmd, why,
				   len);
}

bool attach_yama_refusal(int scope, bool cap, bool descendant, const char *cmd, char *why,
			 size_t len)
{
	if (scope >= 3)
		snprintf(why, len, "ptrace is disabled on this system (kernel.yama.ptrace_scope = 3, "
			 "which only a reboot resets)");
	else if (scope == 2 && !cap)
		snprintf(why, len, "kernel.yama.ptrace_scope = 2 lets only root (CAP_SYS_PTRACE) "
			 "trace processes: run heapsnap %s as root", cmd);
	else if (scope == 1 && !cap && !descendant)
		snprintf(why, len, "kernel.yama.ptrace_scope = 1 lets a process trace only its own "
			 "descendants: run heapsnap %s as root, or set it to 0 with "
			 "'sysctl kernel.yama.ptrace_scope=0'", cmd);
	else
		return false;
	return true;
}

/* Whether pid runs in secure-execution mode (AT_SECURE: setuid or setgid to someone
 * else), which the shim never traces: its settings could come from a less
 * privileged user. */
static bool secure_execution(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	uint64_t av[2];
	bool secure = false;
	while (fread(av, sizeof(av), 1, f) == 1 && av[0] != 0)
		if (av[0] == 23) /* AT_SECURE */
			secure = av[1] != 0;
	fclose(f);
	return secure;
}

static const char *eperm_fix(void)
{
	return have_cap_sys_ptrace() ? "a security module (SELinux, AppArmor) or a seccomp "
				       "policy forbids it"
				     : "run as root; in a container, add the SYS_PTRACE capability "
				       "(docker run --cap-add=SYS_PTRACE)";
}

/* ---- the two commands ---- */

/* The settings passed to heapsnap_attach_start(): NUL-separated NAME=value, then an
 * empty one.  Returns the length, or 0 when they do not fit. */
static size_t settings(const struct attach_args *a, const char *dir, const char *self,
		       char *out, size_t size)
{
	const char *kv[][2] = {
		{ "HEAPSNAP_DIR", dir },
		{ "HEAPSNAP_COLLECTOR", self },
		{ "HEAPSNAP_FRAMES", a->frames },
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		if (!kv[i][1])
			continue;
		int w = snprintf(out + n, size - n, "%s=%s", kv[i][0], kv[i][1]);
		if (w < 0 || (size_t)w + 2 > size - n)
			return 0;
		n += (size_t)w + 1;
	}
	out[n++] = '\0';
	return n;
}

static const char *answer(int r)
{
	return r < 0 && -r < (int)(sizeof(answers) / sizeof(answers[0])) && answers[-r]
		       ? answers[-r]
		       : "gave an unexpected answer";
}

/* The number of threads of pid (/proc/PID/stat's field 20), or 0 when unknown. */
static long threads_of(pid_t pid)
{
	char buf[1024];
	int err;
	const char *paren = prim_proc_stat_text(pid, buf, sizeof(buf), &err);
	const char *f = paren ? prim_stat_field(paren, 20) : NULL;
	return f ? strtol(f, NULL, 10) : 0;
}

/* Checks what the process has loaded.  Returns 0, or 1 after reporting. */
static int check_maps(const struct attach_args *a, const struct inject_maps *m, bool detach)
{
	pid_t pid = a->pid;
	const char *why = NULL;
	/* A process without a memory map to read: ended and not reaped yet, or alive with
	 * its main thread gone (a zombie leader, whose map /proc no longer shows). */
	if (m->n == 0)
		why = threads_of(pid) > 1 ? "shows no memory map: its main thread has exited "
					    "(heapsnap attach needs it)"
					  : "has ended: it is a zombie, not yet reaped by its parent";
	else if (!detach && secure_execution(pid))
		why = "runs setuid or setgid (secure execution), which heapsnap never traces";
	else if (!inject_maps_find(m, "libc.so.6"))
		why = inject_maps_find(m, "ld-linux") ? "does not use glibc's libc.so.6"
						       : "is statically linked; only a dynamically "
							 "linked program can be attached";
	else if (inject_maps_find(m, SHIM_PRELOAD))
		why = detach ? preloaded_detach : answers[-ATTACH_PRELOADED];
	else if (detach && !inject_maps_find(m, SHIM_ATTACH))
		why = "is not attached";
	/* Loaded and no collector: detached, or an attach refused before tracing began
	 * (see ATTACH_NO_DIR); the shim's own answer tells which. */
	struct running_collector rc;
	if (!why && !detach && inject_maps_find(m, SHIM_ATTACH) && running_collector_find(pid, &rc))
		why = answers[-ATTACH_ALREADY];
	/* Stopped by a signal: finding a thread where it holds none of libc's locks lets
	 * threads run, which continued it (a shell stopped in its own kill() ran on to its
	 * end).  It stays as the user left it. */
	if (!why && prim_proc_state(pid) == 'T')
		why = "is stopped (SIGSTOP or SIGTSTP), and stays so: continue it first "
		      "(kill -CONT %d)";
	if (!why)
		return 0;
	fprintf(stderr, "heapsnap: %s: process %d ", a->cmd, (int)pid);
	if (a->run)
		fprintf(stderr, "(the program of heapsnap run %d) ", (int)a->run);
	fprintf(stderr, why, (int)pid);
	fputc('\n', stderr);
	return 1;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Why the process cannot have its snapshots in dir. */
static void no_dir(char *out, size_t len, pid_t pid, const char *dir, int err)
{
	snprintf(out, len, "process %d cannot write snapshots to '%s' as its own user: %s",
		 (int)pid, dir, strerror(err));
}

/* What attach needs before it touches the process. */
struct plan {
	char shim[PATH_MAX];      /* libheapsnap-attach.so */
	char dir[PATH_MAX];       /* where the snapshots go, absolute */
	char self[PATH_MAX];      /* this binary: the process's collector */
	char cfg[3 * PATH_MAX];   /* the settings, see settings() */
	size_t cfg_len;
	struct inject_maps maps;  /* the process's mappings */
	uint64_t dlopen_fn, dlerror_fn;
};

/* Checks that the process can be attached and finds what attach needs.  Returns 0, or
 * 1 after reporting why not (p->maps then freed). */
static int attach_prepare(const struct attach_args *a, struct plan *p)
{
	char why[PATH_MAX + 512];
	pid_t pid = a->pid;
	if (ptrace_refused(a, why, sizeof(why))) {
		fprintf(stderr, "heapsnap: attach: %s\n", why);
		return 1;
	}
	if (!cli_find_shim(SHIM_ATTACH, p->shim, sizeof(p->shim))) {
		fprintf(stderr, "heapsnap: attach: cannot find %s next to this binary\n", SHIM_ATTACH);
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);
	p->self[n > 0 ? n : 0] = '\0';
	struct stat st;
	if (!realpath(a->dir ? a->dir : ".", p->dir) || stat(p->dir, &st) < 0 ||
	    (!S_ISDIR(st.st_mode) && (errno = ENOTDIR))) {
		fprintf(stderr, "heapsnap: attach: cannot write snapshots to '%s': %s\n",
			a->dir ? a->dir : ".", strerror(errno));
		return 1;
	}
	/* Whether the process may write there is its own check (see ATTACH_NO_DIR), made
	 * here when our answer is its: then the process is not touched. */
	if (same_credentials(pid) && faccessat(AT_FDCWD, p->dir, W_OK | X_OK, AT_EACCESS) < 0) {
		no_dir(why, sizeof(why), pid, p->dir, errno);
		fprintf(stderr, "heapsnap: attach: %s\n", why);
		return 1;
	}
	p->cfg_len = settings(a, p->dir, p->self, p->cfg, sizeof(p->cfg));
	if (inject_maps_read(pid, &p->maps) < 0) {
		fprintf(stderr, "heapsnap: attach: no process %d\n", (int)pid);
		return 1;
	}
	int r = check_maps(a, &p->maps, false);
	if (r == 0 && (inject_symbol(pid, &p->maps, "libc.so.6", "dlopen", &p->dlopen_fn, why,
				     sizeof(why)) < 0 ||
		       inject_symbol(pid, &p->maps, "libc.so.6", "dlerror", &p->dlerror_fn, why,
				     sizeof(why)) < 0)) {
		fprintf(stderr, "heapsnap: attach: %s\n", why);
		r = 1;
	}
	if (r)
		inject_maps_free(&p->maps);
	return r;
}

/* Stops a thread of a->pid into *j.  Returns 0, or 1 after reporting why not. */
static int stop_thread(const struct attach_args *a, const struct inject_maps *maps,
		       struct inject *j)
{
	char why[512];
	int r = inject_stop(a->pid, maps, j, why, sizeof(why));
	if (r == 0)
		return 0;
	/* Refused because a tracer came meanwhile (another attach or detach at the same
	 * time): say which, as the check before would have. */
	if (r == -EPERM && ptrace_refused(a, why, sizeof(why))) {
		fprintf(stderr, "heapsnap: %s: %s\n", a->cmd, why);
		return 1;
	}
	fprintf(stderr, "heapsnap: %s: %s%s%s\n", a->cmd, why, r == -EPERM ? ": " : "",
		r == -EPERM ? eperm_fix() : "");
	return 1;
}

/* In the stopped thread: dlopen the shim, then heapsnap_attach_start(settings), whose
 * answer goes to *ret.  Returns 0, or -1 with why. */
static int attach_load(struct inject *j, struct plan *p, uint64_t *ret, char *why, size_t len)
{
	pid_t pid = j->pid;
	uint64_t handle = 0, start_fn = 0;
	uint64_t path_at = inject_data(j, p->shim, strlen(p->shim) + 1);
	uint64_t cfg_at = inject_data(j, p->cfg, p->cfg_len);
	if (!path_at || !cfg_at || !p->cfg_len) {
		snprintf(why, len, "cannot write the settings into process %d", (int)pid);
		return -1;
	}
	if (inject_call(j, p->dlopen_fn, path_at, RTLD_NOW | RTLD_LOCAL, &handle, CALL_TIMEOUT,
			why, len) < 0)
		return -1;
	if (!handle) {
		char msg[400] = "";
		uint64_t m = 0;
		if (inject_call(j, p->dlerror_fn, 0, 0, &m, CALL_TIMEOUT, why, len) == 0)
			inject_read_string(j, m, msg, sizeof(msg));
		snprintf(why, len, "process %d could not load %s: %s", (int)pid, p->shim,
			 msg[0] ? msg : "dlopen failed");
		return -1;
	}
	inject_maps_free(&p->maps);
	if (inject_maps_read(pid, &p->maps) < 0 ||
	    inject_symbol(pid, &p->maps, SHIM_ATTACH, "heapsnap_attach_start", &start_fn, why,
			  len) < 0 ||
	    inject_call(j, start_fn, cfg_at, 0, ret, CALL_TIMEOUT, why, len) < 0)
		return -1;
	return 0;
}

/* Lets the thread go, then reports a failure (why, or the shim's answer ret).
 * Returns 0 when all went well, else 1. */
static int resume_and_report(const struct attach_args *a, struct inject *j, bool failed,
			     int ret, char *why, size_t len)
{
	/* A call that timed out is abandoned: the thread gets its registers back, but
	 * whatever the call had done by then (a lock it took) stays. */
	if (inject_resume(j) < 0 && !failed) {
		snprintf(why, len, "lost thread %d of process %d", (int)j->tid, (int)a->pid);
		failed = true;
	}
	if (failed) {
		fprintf(stderr, "heapsnap: %s: %s\n", a->cmd, why);
		return 1;
	}
	if (ret >= 0)
		return 0;
	fprintf(stderr, "heapsnap: %s: process %d ", a->cmd, (int)a->pid);
	fprintf(stderr, answer(ret), (int)a->pid);
	fputc('\n', stderr);
	return 1;
}

static int do_attach(const struct attach_args *a)
{
	static struct plan p;
	static struct inject j;
	if (attach_prepare(a, &p))
		return 1;
	if (stop_thread(a, &p.maps, &j)) {
		inject_maps_free(&p.maps);
		return 1;
	}
	char why[PATH_MAX + 512];
	uint64_t ret = 0;
	bool failed = attach_load(&j, &p, &ret, why, sizeof(why)) < 0;
	inject_maps_free(&p.maps);
	if (!failed && (int)ret <= ATTACH_NO_COLLECTOR) {
		snprintf(why, sizeof(why), "process %d cannot run '%s' (its collector) as its own "
			 "user: %s", (int)a->pid, p.self, strerror(ATTACH_NO_COLLECTOR - (int)ret));
		failed = true;
	} else if (!failed && (int)ret <= ATTACH_NO_DIR) {
		no_dir(why, sizeof(why), a->pid, p.dir, ATTACH_NO_DIR - (int)ret);
		failed = true;
	}
	if (resume_and_report(a, &j, failed, (int)ret, why, sizeof(why)))
		return 1;
	/* From here on `heapsnap snap PID` must find the collector. */
	struct running_collector rc;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	for (int tries = 0; tries < 500 && !running_collector_find(a->pid, &rc); tries++)
		nanosleep(&pause, NULL);
	printf("heapsnap: attached to %d (thread %d stopped for %.2f ms); snapshots go to %s\n",
	       (int)a->pid, (int)j.tid, ms(j.resume_ns - j.stop_ns), p.dir);
	/* The snapshot signal was not at its default action: the program's, left alone. */
	int sig = (int)ret & ~(HS_SIGNAL_AT_START | HS_SIGNAL_IGNORED);
	if ((int)ret > 0 && sig > 0 && sig < NSIG)
		printf("heapsnap: SIG%s is process %d's own, not a snapshot signal; 'heapsnap snap "
		       "%d' takes snapshots\n", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
		       (int)a->pid, (int)a->pid);
	return 0;
}

/* Waits for the collector to write the last file and end; prints its path.  Returns 0,
 * or 1 after saying that no file was found. */
static int wait_last_file(pid_t pid, pid_t collector, const struct running_collector *rc)
{
	/* Ended is enough: the collector is the process's child, a zombie until the shim
	 * reaps it, which took detach 1.2 s more. */
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	for (int tries = 0; tries < 6000 && collector > 0 && kill(collector, 0) == 0 &&
			    prim_proc_state(collector) != 'Z';
	     tries++)
		nanosleep(&pause, NULL);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.exit.pb.gz", rc ? rc->dir : ".",
		 (int)(rc ? rc->traced : pid));
	if (rc && access(path, R_OK) == 0) {
		printf("%s\n", path);
		return 0;
	}
	fprintf(stderr, "heapsnap: detach: tracing stopped, but no last snapshot of %d was "
		"found%s%s\n", (int)pid, rc ? " in " : "", rc ? rc->dir : "");
	return 1;
}

static int do_detach(const struct attach_args *a)
{
	char why[512];
	pid_t pid = a->pid;
	if (ptrace_refused(a, why, sizeof(why))) {
		fprintf(stderr, "heapsnap: detach: %s\n", why);
		return 1;
	}
	struct inject_maps maps;
	if (inject_maps_read(pid, &maps) < 0) {
		fprintf(stderr, "heapsnap: detach: no process %d\n", (int)pid);
		return 1;
	}
	uint64_t stop_fn;
	int r = check_maps(a, &maps, true);
	if (r == 0 && inject_symbol(pid, &maps, SHIM_ATTACH, "heapsnap_attach_stop", &stop_fn, why,
				    sizeof(why)) < 0) {
		fprintf(stderr, "heapsnap: detach: %s\n", why);
		r = 1;
	}
	struct running_collector rc = { 0 };
	bool have_rc = r == 0 && running_collector_find(pid, &rc);
	static struct inject j;
	if (r == 0)
		r = stop_thread(a, &maps, &j);
	inject_maps_free(&maps);
	if (r)
		return 1;
	uint64_t ret = 0;
	bool failed = inject_call(&j, stop_fn, 0, 0, &ret, CALL_TIMEOUT, why, sizeof(why)) < 0;
	if (resume_and_report(a, &j, failed, (int)ret, why, sizeof(why)))
		return 1;
	/* The shim answers with its collector's pid as the process sees it: inside a PID
	 * namespace, not the one here.  The collector found here is the one to wait for. */
	return wait_last_file(pid, have_rc ? rc.pid : (pid_t)ret, have_rc ? &rc : NULL);
}

int cmd_attach(int argc, char **argv)
{
	struct attach_args a;
	int r = parse_argv(argc, argv, &a, false);
	if (r)
		return r > 0 ? 0 : 2;
	return run_stands_for_program(&a) ? 1 : do_attach(&a);
}

int cmd_detach(int argc, char **argv)
{
	struct attach_args a;
	int r = parse_argv(argc, argv, &a, true);
	if (r)
		return r > 0 ? 0 : 2;
	return run_stands_for_program(&a) ? 1 : do_detach(&a);
}
