/* cmd_run.c - `heapsnap run`: launch a program traced.
 *
 * help() / parse_argv() / run(), like cmd_read.c.  run sets LD_PRELOAD to the shim,
 * hands the shim a socket (HEAPSNAP_RUN_FD) that only the collector keeps open, waits
 * for the program, tells the collector how it ended, waits for it to report the exit
 * snapshot, prints where it went, and exits the way the program did (same status; the
 * same signal re-raised).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "format.h"
#include "shmlayout.h"

extern char **environ;

static void help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap run [OPTIONS] [--] PROGRAM [ARGS...]\n\n"
		"Run PROGRAM with every heap allocation traced.  Snapshots are written as\n"
		"heapsnap.PID.N.pb.gz on each snapshot signal (kill -USR2 PID, or\n"
		"'heapsnap snap PID') and heapsnap.PID.exit.pb.gz when it ends.\n\n"
		"Options:\n"
		"  -o, --dir DIR       write snapshots to DIR (default: the current directory)\n"
		"  -f, --frames N      frames kept per stack, 1..256 (default 16)\n"
		"  -s, --signal SIG    snapshot signal: USR1, USR2, RTMIN+N, a number, or none\n"
		"  -q, --quiet         do not report the snapshot files at the end\n"
		"  -h, --help          show this help\n\n"
		"Example:\n"
		"  heapsnap run -- ./prog --input big.json\n"
		"  heapsnap top heapsnap.4242.exit.pb.gz\n");
}

/* Finds `name` the way execvp would; returns false when it is not an executable. */
static bool find_program(const char *name, char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
		struct stat st;
		if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
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

/* The shim next to this binary: the build tree, then the install tree. */
static bool find_shim(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		static const char *const rel[] = {
			"/../preload/libheapsnap.so", "/../lib/x86_64-linux-gnu/libheapsnap.so",
			"/../lib64/libheapsnap.so", "/../lib/libheapsnap.so",
		};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(out, len, "%s%s", self, rel[i]);
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
	bool quiet;
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*a = (struct run_args){ 0 };
	optind = 0; /* full reset: the parser may run more than once per process */
	int opt;
	while ((opt = getopt_long(argc, argv, "+o:f:s:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			a->dir = optarg;
			break;
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > HS_FRAMES_MAX) {
				fprintf(stderr, "heapsnap: run: --frames takes 1..%d, not '%s'\n",
					HS_FRAMES_MAX, optarg);
				return -EINVAL;
			}
			a->frames = optarg;
			break;
		}
		case 's':
			a->signal = optarg;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			help(stdout);
			return PARSE_HELP;
		default:
			fprintf(stderr, "heapsnap: run: see 'heapsnap run --help'\n");
			return -EINVAL;
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

static void report_snapshots(int fd, bool quiet)
{
	FILE *f = fdopen(fd, "r");
	if (!f)
		return;
	char line[PATH_MAX + 128];
	while (fgets(line, sizeof(line), f)) {
		int pid;
		int64_t peak;
		char path[PATH_MAX];
		if (sscanf(line, "%d %" SCNd64 " %4095s", &pid, &peak, path) != 3 || quiet)
			continue;
		char size[FORMAT_SIZE_MAX];
		format_size(size, peak, false);
		if (strcmp(path, "-"))
			fprintf(stderr, "heapsnap: %s (pid %d, traced peak %s)\n", path, pid, size);
		else
			fprintf(stderr, "heapsnap: pid %d: the exit snapshot could not be written\n",
				pid);
	}
	fclose(f);
}

/* What run needs to know before it starts anything. */
struct run_paths {
	char prog[PATH_MAX]; /* the program, found as execvp would */
	char shim[PATH_MAX]; /* libheapsnap.so */
	char self[PATH_MAX]; /* this binary, the collector the shim starts */
};

/* Finds the program, the shim and this binary, and checks that the program can be
 * traced and that the snapshot directory is writable.  Returns 0, or 1 after
 * reporting what is wrong. */
static int resolve(const struct run_args *a, struct run_paths *p)
{
	if (!find_program(a->argv[0], p->prog, sizeof(p->prog))) {
		fprintf(stderr, "heapsnap: run: '%s': no such program\n", a->argv[0]);
		return 1;
	}
	const char *why = untraceable(p->prog);
	if (why) {
		fprintf(stderr, "heapsnap: %s %s\n", p->prog, why);
		return 1;
	}
	if (!find_shim(p->shim, sizeof(p->shim))) {
		fprintf(stderr, "heapsnap: run: cannot find libheapsnap.so next to this binary\n");
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);
	if (n <= 0) {
		fprintf(stderr, "heapsnap: run: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	p->self[n] = '\0';
	if (a->dir) {
		struct stat st;
		if (stat(a->dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(a->dir, W_OK) < 0) {
			fprintf(stderr, "heapsnap: run: cannot write snapshots to '%s': %s\n", a->dir,
				errno ? strerror(errno) : "not a directory");
			return 1;
		}
	}
	return 0;
}

/* In the forked child: sets the shim's environment and executes the program, handing
 * the shim fd (the collector's end of the socket).  Never returns. */
static void exec_traced(const struct run_args *a, const struct run_paths *p,
			const char *preload, int fd)
{
	/* An inheritable copy for the shim, named with its inode so that no other
	 * process can mistake some other fd of that number for it. */
	char fdbuf[48];
	int wfd = fcntl(fd, F_DUPFD, 3);
	struct stat st;
	if (wfd < 0 || fstat(wfd, &st) < 0)
		_exit(127);
	snprintf(fdbuf, sizeof(fdbuf), "%d:%llu", wfd, (unsigned long long)st.st_ino);
	setenv("LD_PRELOAD", preload, 1);
	setenv(HS_ENV_RUN_FD, fdbuf, 1);
	setenv(HS_ENV_COLLECTOR, p->self, 1);
	if (a->dir)
		setenv("HEAPSNAP_DIR", a->dir, 1);
	if (a->frames)
		setenv("HEAPSNAP_FRAMES", a->frames, 1);
	if (a->signal)
		setenv("HEAPSNAP_SIGNAL", a->signal, 1);
	execv(p->prog, a->argv);
	fprintf(stderr, "heapsnap: run: cannot execute '%s': %s\n", p->prog, strerror(errno));
	_exit(127);
}

/* Starts the program traced, the shim getting the far end of a new socket pair.
 * Returns its pid and the near end in *sock, or -1 after reporting the failure. */
static pid_t spawn_traced(const struct run_args *a, const struct run_paths *p, int *sock)
{
	/* The collector reports its files on this socket, and learns from it how the
	 * program ended. */
	int pipefd[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipefd) < 0) {
		fprintf(stderr, "heapsnap: run: socketpair: %s\n", strerror(errno));
		return -1;
	}
	char *preload = preload_value(p->shim);
	if (!preload) {
		fprintf(stderr, "heapsnap: run: out of memory\n");
		return -1;
	}
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "heapsnap: run: fork: %s\n", strerror(errno));
		return -1;
	}
	if (child == 0)
		exec_traced(a, p, preload, pipefd[1]);
	free(preload);
	close(pipefd[1]);
	*sock = pipefd[0];
	return child;
}

/* Waits for the program, tells the collector on sock how it ended, reports the
 * snapshots, and ends the way the program did.  Returns the exit status for run's
 * caller (when the program was not killed by a signal). */
static int finish(pid_t child, int sock, bool quiet)
{
	/* Like time(1): the terminal's signals are for the program. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "heapsnap: run: waitpid: %s\n", strerror(errno));
			return 1;
		}
	char msg[32];
	int len = snprintf(msg, sizeof(msg), "status %d\n", status);
	/* The collector may be gone already (the program exec'd): no SIGPIPE for that. */
	if (send(sock, msg, (size_t)len, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		fprintf(stderr, "heapsnap: run: telling the collector: %s\n", strerror(errno));
	report_snapshots(sock, quiet);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
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

static int run(const struct run_args *a)
{
	struct run_paths p;
	if (resolve(a, &p))
		return 1;
	int sock;
	pid_t child = spawn_traced(a, &p, &sock);
	if (child < 0)
		return 1;
	return finish(child, sock, a->quiet);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	int r = parse_argv(argc, argv, &a);
	if (r)
		return r == PARSE_HELP ? 0 : 2;
	return run(&a);
}
