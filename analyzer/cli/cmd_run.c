/* cmd_run.c - `heapsnap run`: launch a program traced, like `timeout` or `env` would.
 *
 * help() / parse_argv() / run(), like cmd_read.c.  run sets LD_PRELOAD to the shim and
 * HEAPSNAP_RUN_SOCKET to a socket of its own (runtree.c) that every traced process of
 * the tree connects its collector to; prints the program's pid; forwards the signals
 * a user sends it to the program (forwardable()), and, started as a job, stops when
 * the program stops (runtree.c); waits for the program and for every collector of the
 * tree to report its file (bounded by --wait); prints the program's file and a summary
 * of the tree; and exits the way the program did (same status; the same signal
 * re-raised).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliopt.h"
#include "commands.h"
#include "config.h"
#include "format.h"
#include "prim.h"
#include "runtree.h"
#include "sample.h"
#include "shmlayout.h"

extern char **environ;

/* What run forwards to the program: every signal a process can catch but SIGCHLD,
 * SIGCONT (run is continued with the program: runtree.c), SIGTTIN and SIGTTOU (the
 * kernel sends them to a background job's whole process group, run's own writes to
 * the terminal included: caught, such a write restarted and was stopped again, for
 * ever), and glibc's own two. */
static bool forwardable(int sig)
{
	return sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGCONT &&
	       sig != SIGTTIN && sig != SIGTTOU && (sig < 32 || sig >= SIGRTMIN);
}

static void help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap run [OPTIONS] [--] PROGRAM [ARGS...]\n\n"
		"Run PROGRAM with every heap allocation traced.  Snapshots are written as\n"
		"heapsnap.PID.N.pb.gz on each snapshot signal (kill -USR2 PID, or\n"
		"'heapsnap snap PID') and heapsnap.PID.exit.pb.gz when it ends.\n\n"
		"Options:\n"
		"  -o, --dir DIR       write the whole tree's snapshots to DIR (default:\n"
		"                      $HEAPSNAP_DIR, else the current directory)\n"
		"  -f, --frames N      frames kept per stack, 1..256 (default 16)\n"
		"  -s, --signal SIG    snapshot signal: USR1, USR2, RTMIN+N, a number, or none\n"
		"  -w, --wait SECONDS  after the program ends, wait at most this long for the\n"
		"                      collectors of its process tree (default 60; 0: no limit)\n"
		"  -q, --quiet         do not print the pid, notes on the snapshot signal, nor\n"
		"                      the files at the end (lost files are still reported)\n"
		"      --off           start dormant: record nothing until 'heapsnap start PID'\n"
		"      --sample BYTES  sample about one allocation per BYTES allocated (Poisson,\n"
		"                      by bytes); files hold estimates.  0: trace every one\n"
		"  -h, --help          show this help\n\n"
		"Example:\n"
		"  heapsnap run -- ./prog --input big.json\n"
		"  heapsnap top heapsnap.4242.exit.pb.gz\n");
}

/* Finds `name` the way execvp would; returns false when it is not an executable,
 * with *denied set when a file of that name exists but may not be executed. */
static bool find_program(const char *name, char *out, size_t len, bool *denied)
{
	*denied = false;
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		if (access(out, X_OK) == 0)
			return true;
		*denied = errno == EACCES;
		return false;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	/* An empty entry (PATH empty, or an entry before, between or after colons) is the
	 * current directory, as for execvp. */
	for (;;) {
		size_t n = strcspn(path, ":");
		snprintf(out, len, "%.*s/%s", n ? (int)n : 1, n ? path : ".", name);
		struct stat st;
		if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return true;
		*denied |= errno == EACCES;
		if (!path[n])
			return false;
		path += n + 1;
	}
}

/* Says why LD_PRELOAD cannot trace the program, or returns NULL when it can.  An ELF
 * file without an interpreter (static, static-pie) never runs the dynamic loader; a
 * setuid or setgid file run by someone else gets a secure loader that drops
 * LD_PRELOAD.  Scripts are not judged: their interpreter is what runs. */
static const char *untraceable(const char *prog)
{
	struct stat st;
	if (stat(prog, &st) == 0 && (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
				     ((st.st_mode & S_ISGID) && st.st_gid != getegid())))
		return "is setuid or setgid; the loader ignores LD_PRELOAD for it";
	int fd = open(prog, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	Elf64_Ehdr eh;
	const char *why = NULL;
	if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		bool interp = false;
		for (int i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
			    sizeof(ph))
				break;
			interp |= ph.p_type == PT_INTERP;
		}
		if (!interp)
			why = "is statically linked; LD_PRELOAD cannot trace it";
	}
	close(fd);
	return why;
}

/* The shim `name` (libheapsnap.so, libheapsnap-attach.so) next to this binary: the
 * build tree, then the install tree. */
bool cli_find_shim(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		static const char *const rel[] = {
			"/../preload/", "/../lib/x86_64-linux-gnu/", "/../lib64/", "/../lib/",
		};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(out, len, "%s%s%s", self, rel[i], name);
			char *real = realpath(out, NULL);
			if (real) {
				snprintf(out, len, "%s", real);
				free(real);
				return true;
			}
		}
	}
	return false;
}

/* parse_argv() results besides a negative errno (bad usage, already reported). */
enum { PARSE_RUN = 0, PARSE_HELP = 1 };

struct run_args {
	const char *dir;
	const char *frames;
	const char *signal;
	const char *sample;
	unsigned wait;
	bool quiet, off;
	char **argv;
};

/* Parses run's options into *a.  Returns PARSE_RUN, PARSE_HELP, or -EINVAL after
 * reporting the problem. */
static int parse_argv(int argc, char **argv, struct run_args *a)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'o' },
		{ "frames", required_argument, NULL, 'f' },
		{ "signal", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "off", no_argument, NULL, 'O' },
		{ "sample", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct run_args){ .wait = 60 };
	opterr = 0;
	optind = 0; /* full reset: the parser may run more than once per process */
	int opt;
	while ((opt = getopt_long(argc, argv, "+:o:f:s:w:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			a->dir = optarg;
			break;
		case 'f':
			if (!cliopt_frames("run", optarg))
				return -EINVAL;
			a->frames = optarg;
			break;
		case 's':
			a->signal = optarg;
			break;
		case 'w': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 0 || v > 86400) {
				fprintf(stderr, "heapsnap: run: --wait takes 0..86400 seconds, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			a->wait = (unsigned)v;
			break;
		}
		case 'q':
			a->quiet = true;
			break;
		case 'O':
			a->off = true;
			break;
		case 'S': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-' || errno ||
			    v > SAMPLE_PERIOD_MAX) {
				fprintf(stderr, "heapsnap: run: --sample takes 0..%llu bytes, not '%s'\n",
					SAMPLE_PERIOD_MAX, optarg);
				return -EINVAL;
			}
			a->sample = optarg;
			break;
		}
		case 'h':
			help(stdout);
			return PARSE_HELP;
		default: {
			char why[128];
			fprintf(stderr, "heapsnap: run: %s; see 'heapsnap run --help'\n",
				cliopt_error(opt, argv, why, sizeof(why)));
			return -EINVAL;
		}
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "heapsnap: run: no program given; see 'heapsnap run --help'\n");
		return -EINVAL;
	}
	a->argv = argv + optind;
	return PARSE_RUN;
}

/* Builds the program's LD_PRELOAD: the shim first, then whatever was there. */
static char *preload_value(const char *shim)
{
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(shim) + (old ? strlen(old) + 1 : 0) + 1;
	char *v = malloc(len);
	if (v)
		snprintf(v, len, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
	return v;
}

/* What run needs to know before it starts anything. */
struct run_paths {
	char prog[PATH_MAX]; /* the program, found as execvp would */
	char shim[PATH_MAX]; /* libheapsnap.so */
	char self[PATH_MAX]; /* this binary, the collector the shim starts */
	char dir[PATH_MAX];  /* where every process of the tree writes, absolute */
};

/* Exit statuses for a program that cannot be started, as a shell's and env's. */
enum { EXIT_CANNOT_EXECUTE = 126, EXIT_NOT_FOUND = 127 };

/* Finds the program, the shim and this binary, and checks that the program can be
 * traced and that the snapshot directory is writable.  Returns 0, or after reporting
 * what is wrong the status to exit with: 127 when there is no such program, 126 when
 * it may not be executed, else 1. */
static int resolve(const struct run_args *a, struct run_paths *p)
{
	bool denied;
	if (!find_program(a->argv[0], p->prog, sizeof(p->prog), &denied)) {
		fprintf(stderr, "heapsnap: run: '%s': %s\n", a->argv[0],
			denied ? "permission denied (not executable)" : "no such program");
		return denied ? EXIT_CANNOT_EXECUTE : EXIT_NOT_FOUND;
	}
	const char *why = untraceable(p->prog);
	if (why) {
		fprintf(stderr, "heapsnap: %s %s\n", p->prog, why);
		return 1;
	}
	if (!cli_find_shim("libheapsnap.so", p->shim, sizeof(p->shim))) {
		fprintf(stderr, "heapsnap: run: cannot find libheapsnap.so next to this binary\n");
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);
	if (n <= 0) {
		fprintf(stderr, "heapsnap: run: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	p->self[n] = '\0';
	/* Absolute, so that processes starting elsewhere (make -C, a wrapper script's
	 * cd) write beside the others rather than into a directory of their own. */
	const char *dir = a->dir ? a->dir : getenv("HEAPSNAP_DIR");
	if (!dir || !*dir)
		dir = ".";
	struct stat st;
	int err = !realpath(dir, p->dir) || stat(p->dir, &st) < 0 ? errno
		  : !S_ISDIR(st.st_mode)			     ? ENOTDIR
		  : access(p->dir, W_OK | X_OK) < 0		     ? errno
								     : 0;
	if (err) {
		fprintf(stderr, "heapsnap: run: cannot write snapshots to '%s': %s\n", dir,
			strerror(err));
		return 1;
	}
	return 0;
}

/* The program's environment: run's own, with the shim's variables set.  Returns a
 * NULL-terminated array whose strings from *own on are to be freed, or NULL. */
static char **traced_env(const struct run_args *a, const struct run_paths *p,
			 const char *preload, const char *sock, size_t *own)
{
	const struct {
		const char *name, *value;
	} set[] = {
		{ "LD_PRELOAD", preload },
		{ HS_ENV_RUN_SOCKET, sock },
		{ HS_ENV_COLLECTOR, p->self },
		{ "HEAPSNAP_DIR", p->dir },
		{ "HEAPSNAP_FRAMES", a->frames },
		{ "HEAPSNAP_SIGNAL", a->signal },
		{ "HEAPSNAP_START", a->off ? "off" : NULL },
		{ "HEAPSNAP_SAMPLE", a->sample },
	};
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + sizeof(set) / sizeof(set[0]) + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < sizeof(set) / sizeof(set[0]) && !replaced; j++) {
			size_t len = strlen(set[j].name);
			replaced = set[j].value && !strncmp(environ[i], set[j].name, len) &&
				   environ[i][len] == '=';
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	*own = k;
	for (size_t j = 0; j < sizeof(set) / sizeof(set[0]); j++)
		if (set[j].value && asprintf(&env[k++], "%s=%s", set[j].name, set[j].value) < 0) {
			env[--k] = NULL;
			for (size_t i = *own; i < k; i++)
				free(env[i]);
			free(env);
			return NULL;
		}
	return env;
}

/* The program run forwards signals to, once it runs; whether to stop waiting; and
 * whether the program has stopped (runtree.c stops run with it). */
static volatile pid_t forward_to;
static volatile int stop_waiting;
static volatile int program_stopped;

static bool is_fault(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
	       sig == SIGTRAP || sig == SIGSYS;
}

/* Forwards a signal a user or program sent run, with its sigqueue value; one the
 * kernel sent (a terminal's ^C or ^Z reaches the whole foreground process group, the
 * program included) is not sent twice, and one run caused itself (abort, a write to a
 * closed pipe) is not sent at all.  A fault of run's own, or its CPU time limit, kills
 * run.  Once the program has ended, a signal that would end or stop a program ends the
 * wait for collectors, or stops run. */
static void on_forwarded(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	int saved = errno;
	pid_t to = forward_to;
	bool sent = info->si_code <= 0; /* kill, sigqueue, tgkill: not the kernel */
	if (!sent && (is_fault(sig) || sig == SIGXCPU)) {
		signal(sig, SIG_DFL); /* delivered again once this handler returns */
		raise(sig);
	} else if (sent && info->si_pid == getpid()) {
		/* run's own */
	} else if (to > 0) {
		if (sent && info->si_pid != to) {
			if (info->si_code == SI_QUEUE)
				sigqueue(to, sig, info->si_value);
			else
				kill(to, sig);
		}
	} else if (sig == SIGTSTP) {
		signal(sig, SIG_DFL); /* delivered again once this handler returns: run stops */
		raise(sig);
	} else if (sig != SIGWINCH && sig != SIGURG) {
		stop_waiting = 1;
	}
	errno = saved;
}

/* SIGCONT that someone sent run continues a program that stopped, when run is not a
 * job (its process group is its parent's, runtree_mirror_stop()): a script that sent
 * run SIGTSTP (forwarded) continues it with SIGCONT, and a program left stopped would
 * keep run waiting for ever.  A job's run is continued by its shell's fg or bg with
 * the whole process group, the program included. */
static void on_continued(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)ctx;
	int saved = errno;
	pid_t to = forward_to;
	if (info->si_code <= 0 && to > 0 && info->si_pid != to && info->si_pid != getpid() &&
	    getpgrp() == getpgid(getppid()) && prim_proc_state(to) == 'T')
		kill(to, SIGCONT);
	errno = saved;
}

/* Every SIGCHLD may be the program's stop: one pending while another child's comes
 * carries only one of them, and runtree_mirror_stop() asks about the program alone. */
static void on_child(int sig)
{
	(void)sig;
	program_stopped = 1;
}

/* A signal run was started with ignored stays ignored, in run and in the program, as
 * it would be in a program started without run (a shell's background job ignores
 * SIGINT and SIGQUIT): it is not forwarded. */
static void forward_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_forwarded, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction was;
		if (!forwardable(sig) || sigaction(sig, NULL, &was) < 0 || was.sa_handler == SIG_IGN)
			continue;
		sigaction(sig, &sa, NULL);
	}
	sa.sa_sigaction = on_continued;
	sigaction(SIGCONT, &sa, NULL);
}

/* Once the program runs (it starts with SIGCHLD as run was given it, ignored
 * included): stops of the program are noted from now on, and one before is looked
 * for at once. */
static void watch_stops(void)
{
	struct sigaction child = { .sa_handler = on_child, .sa_flags = SA_RESTART };
	sigemptyset(&child.sa_mask);
	sigaction(SIGCHLD, &child, NULL);
	program_stopped = 1;
}

/* glibc's posix_spawn sets its own internal signals (32 and 33) to SIG_IGN in the
 * child, and an ignored signal stays ignored across exec.  Those run has at their
 * default are asked for as defaults, so the program starts with them as run was
 * started (sigaction() and sigaddset() refuse them: the system call and the bits). */
static void add_libc_signals(sigset_t *set)
{
	const size_t bits = 8 * sizeof(set->__val[0]);
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct {
			void *handler;
			unsigned long flags;
			void *restorer;
			unsigned long mask;
		} was;
		if (syscall(SYS_rt_sigaction, sig, NULL, &was, sizeof(was.mask)) == 0 &&
		    was.handler == (void *)SIG_DFL)
			set->__val[(sig - 1) / bits] |= 1ul << ((sig - 1) % bits);
	}
}

/* posix_spawn, and for a file the kernel cannot execute (ENOEXEC: an executable text
 * file without "#!"), the shell on it with the same arguments, as execvp does.
 * Returns 0 or an errno. */
static int spawn_as_execvp(pid_t *child, const char *prog, const posix_spawnattr_t *attr,
			   char *const argv[], char *const env[])
{
	int e = posix_spawn(child, prog, NULL, attr, argv, env);
	if (e != ENOEXEC)
		return e;
	size_t n = 0;
	while (argv[n])
		n++;
	char **sh = calloc(n + 2, sizeof(*sh));
	if (!sh)
		return ENOEXEC;
	sh[0] = "/bin/sh";
	sh[1] = (char *)prog;
	for (size_t i = 1; i < n; i++)
		sh[i + 1] = argv[i];
	e = posix_spawn(child, "/bin/sh", NULL, attr, sh, env);
	free(sh);
	return e ? ENOEXEC : 0;
}

/* Starts the program traced, its tree connecting to t.  Returns its pid, or after
 * reporting the failure -ENOENT when the program could not be found when executed,
 * -EACCES when it could not be executed, else -1.  posix_spawn, not fork: the child
 * shares run's memory until it execs (no copy of run's page tables, no copy-on-write
 * faults) and run waits for that, so the program starts before the host of
 * collectors. */
static pid_t spawn_traced(const struct run_args *a, const struct run_paths *p,
			  const struct runtree *t)
{
	char *preload = preload_value(p->shim);
	size_t own = 0;
	char **env = preload ? traced_env(a, p, preload, t->sock, &own) : NULL;
	free(preload);
	if (!env) {
		fprintf(stderr, "heapsnap: run: out of memory\n");
		return -1;
	}
	/* The forwarded signals are blocked until forward_to is set; the program starts
	 * with the mask run itself was given. */
	sigset_t set, old;
	sigemptyset(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (forwardable(sig))
			sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, &old);
	forward_signals();
	posix_spawnattr_t attr;
	pid_t child = -1;
	int e = posix_spawnattr_init(&attr);
	if (!e) {
		sigset_t dfl;
		sigemptyset(&dfl);
		add_libc_signals(&dfl);
		posix_spawnattr_setsigmask(&attr, &old);
		posix_spawnattr_setsigdefault(&attr, &dfl);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		e = spawn_as_execvp(&child, p->prog, &attr, a->argv, env);
		posix_spawnattr_destroy(&attr);
	}
	for (size_t i = own; env[i]; i++)
		free(env[i]);
	free(env);
	if (!e)
		forward_to = child;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (e) {
		fprintf(stderr, "heapsnap: run: cannot execute '%s': %s\n", p->prog, strerror(e));
		return e == ENOENT ? -ENOENT : e == ENOMEM ? -1 : -EACCES;
	}
	return child;
}

/* Ends run the way the program ended: the same status, or the same signal.  Not
 * dumpable first: the program's core is written (or reported) already, and run's
 * own would replace it where the pattern names no pid, or add a second report. */
static int exit_like(int status)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		prctl(PR_SET_DUMPABLE, 0);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Open files run, its host and one image's collector need at the least: below this a
 * run traced nothing, and said nothing (the host moves its fds to 10 and up). */
#define RUN_MIN_FILES 16
/* What run and its host raise their own soft limit to, when the hard one allows: the
 * host holds a few for each image of the tree alive, the program's limit is the
 * program's. */
#define RUN_WANT_FILES 65536

/* Raises run's soft limits on open files and on its address space (the host maps
 * the segment of every image alive), before the host is forked, after the program was
 * spawned with its own. */
static void raise_own_limits(void)
{
	struct rlimit l;
	if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < RUN_WANT_FILES) {
		l.rlim_cur = l.rlim_max < RUN_WANT_FILES ? l.rlim_max : RUN_WANT_FILES;
		setrlimit(RLIMIT_NOFILE, &l);
	}
	if (getrlimit(RLIMIT_AS, &l) == 0 && l.rlim_cur < l.rlim_max) {
		l.rlim_cur = l.rlim_max;
		setrlimit(RLIMIT_AS, &l);
	}
}

static int run(const struct run_args *a)
{
	struct run_paths p;
	int bad = resolve(a, &p);
	if (bad)
		return bad;
	struct rlimit files;
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_max < RUN_MIN_FILES) {
		fprintf(stderr, "heapsnap: run: the open files limit is %llu; tracing needs at "
				"least %d (ulimit -n)\n",
			(unsigned long long)files.rlim_max, RUN_MIN_FILES);
		return 1;
	}
	struct runtree t;
	int r = runtree_listen(&t);
	if (r < 0) {
		fprintf(stderr, "heapsnap: run: cannot make its socket's directory in $TMPDIR, "
			"$XDG_RUNTIME_DIR, /dev/shm or /tmp: %s\n", strerror(-r));
		return 1;
	}
	/* Processes of the tree whose parent ends become run's children, not init's: run
	 * then sees the tree outlive the program (runtree.c).  Not inherited. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	t.quiet = a->quiet;
	t.child = spawn_traced(a, &p, &t);
	t.forward_to = &forward_to;
	t.stopped = &program_stopped;
	watch_stops();
	if (t.child < 0) {
		pid_t e = t.child;
		runtree_close(&t);
		/* As a shell's status for a command it cannot run. */
		return e == -ENOENT ? EXIT_NOT_FOUND : e == -EACCES ? EXIT_CANNOT_EXECUTE : 1;
	}
	raise_own_limits();
	runtree_start_host(&t);
	if (!a->quiet && a->off)
		fprintf(stderr, "heapsnap: pid %d is dormant; 'heapsnap start %d' starts tracing\n",
			(int)t.child, (int)t.child);
	else if (!a->quiet)
		fprintf(stderr, "heapsnap: tracing pid %d; 'heapsnap snap %d' takes a snapshot\n",
			(int)t.child, (int)t.child);
	runtree_serve(&t, a->wait, &stop_waiting);
	forward_to = 0;
	runtree_report(&t, stderr);
	int status = t.child_status;
	runtree_close(&t);
	return exit_like(status);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	int r = parse_argv(argc, argv, &a);
	if (r)
		return r == PARSE_HELP ? 0 : 2;
	return run(&a);
}
