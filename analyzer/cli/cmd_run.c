/* cmd_run.c - `heapsnap run` (launch a program traced) and `heapsnap snap` (ask a
 * traced process for a snapshot).
 *
 * run sets LD_PRELOAD to the shim, hands the shim a socket (HEAPSNAP_RUN_FD) that only
 * the collector keeps open, waits for the program, tells the collector how it ended,
 * waits for it to report the exit snapshot, prints where it went, and exits the way
 * the program did (same status; the same signal re-raised).  snap finds the process's collector, sends the
 * snapshot signal and prints the path of the file that request produced.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
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
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "format.h"
#include "running.h"
#include "shmlayout.h"

extern char **environ;

static void run_help(FILE *out)
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

struct run_args {
	const char *dir;
	const char *frames;
	const char *signal;
	bool quiet;
	char **argv;
};

static int run_parse_argv(int argc, char **argv, struct run_args *a)
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
			run_help(stdout);
			return 1;
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
	return 0;
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

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	int r = run_parse_argv(argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 2;
	char prog[PATH_MAX], shim[PATH_MAX], self[PATH_MAX];
	if (!find_program(a.argv[0], prog, sizeof(prog))) {
		fprintf(stderr, "heapsnap: run: '%s': no such program\n", a.argv[0]);
		return 1;
	}
	const char *why = untraceable(prog);
	if (why) {
		fprintf(stderr, "heapsnap: %s %s\n", prog, why);
		return 1;
	}
	if (!find_shim(shim, sizeof(shim))) {
		fprintf(stderr, "heapsnap: run: cannot find libheapsnap.so next to this binary\n");
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "heapsnap: run: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	if (a.dir) {
		struct stat st;
		if (stat(a.dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(a.dir, W_OK) < 0) {
			fprintf(stderr, "heapsnap: run: cannot write snapshots to '%s': %s\n", a.dir,
				errno ? strerror(errno) : "not a directory");
			return 1;
		}
	}
	/* The collector reports its files on this socket, and learns from it how the
	 * program ended. */
	int pipefd[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipefd) < 0) {
		fprintf(stderr, "heapsnap: run: socketpair: %s\n", strerror(errno));
		return 1;
	}
	char *preload = preload_value(shim);
	if (!preload) {
		fprintf(stderr, "heapsnap: run: out of memory\n");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "heapsnap: run: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0) {
		/* An inheritable copy for the shim, named with its inode so that no other
		 * process can mistake some other fd of that number for it. */
		char fdbuf[48];
		int wfd = fcntl(pipefd[1], F_DUPFD, 3);
		struct stat st;
		if (wfd < 0 || fstat(wfd, &st) < 0)
			_exit(127);
		snprintf(fdbuf, sizeof(fdbuf), "%d:%llu", wfd, (unsigned long long)st.st_ino);
		setenv("LD_PRELOAD", preload, 1);
		setenv(HS_ENV_RUN_FD, fdbuf, 1);
		setenv(HS_ENV_COLLECTOR, self, 1);
		if (a.dir)
			setenv("HEAPSNAP_DIR", a.dir, 1);
		if (a.frames)
			setenv("HEAPSNAP_FRAMES", a.frames, 1);
		if (a.signal)
			setenv("HEAPSNAP_SIGNAL", a.signal, 1);
		execv(prog, a.argv);
		fprintf(stderr, "heapsnap: run: cannot execute '%s': %s\n", prog, strerror(errno));
		_exit(127);
	}
	free(preload);
	close(pipefd[1]);
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
	if (send(pipefd[0], msg, (size_t)len, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		fprintf(stderr, "heapsnap: run: telling the collector: %s\n", strerror(errno));
	report_snapshots(pipefd[0], a.quiet);
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

/* ---- snap ---- */

static void snap_help(FILE *out)
{
	fprintf(out,
		"Usage: heapsnap snap [--timeout SECONDS] PID\n\n"
		"Ask traced process PID for a snapshot and print the path of the file once it\n"
		"is written.  Exit status 1 if PID is not traced or no file appears in time\n"
		"(default 30 seconds).\n\n"
		"Example:\n"
		"  heapsnap snap 4242      # prints e.g. ./heapsnap.4242.3.pb.gz\n");
}

/* The signal snapshots of pid in dir: DIR/heapsnap.PID.N.pb.gz and their -K
 * variants (exit and exec snapshots are not answers to a request). */
static int list_snapshots(const char *dir, pid_t pid, glob_t *g)
{
	char pattern[PATH_MAX + 64];
	snprintf(pattern, sizeof(pattern), "%s/heapsnap.%d.[0-9]*.pb.gz", dir, (int)pid);
	int r = glob(pattern, 0, NULL, g);
	if (r == GLOB_NOMATCH) {
		g->gl_pathc = 0;
		g->gl_pathv = NULL;
		return 0;
	}
	return r == 0 ? 0 : -EIO;
}

/* A file in now that is not in before, or NULL. */
static const char *new_snapshot(const glob_t *before, const glob_t *now)
{
	for (size_t i = 0; i < now->gl_pathc; i++) {
		bool seen = false;
		for (size_t j = 0; !seen && j < before->gl_pathc; j++)
			seen = !strcmp(now->gl_pathv[i], before->gl_pathv[j]);
		if (!seen)
			return now->gl_pathv[i];
	}
	return NULL;
}

int cmd_snap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double timeout = 30;
	int opt;
	while ((opt = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(timeout > 0)) {
				fprintf(stderr, "heapsnap: snap: bad --timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			snap_help(stdout);
			return 0;
		default:
			fprintf(stderr, "heapsnap: snap: see 'heapsnap snap --help'\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "heapsnap: snap: needs one PID; see 'heapsnap snap --help'\n");
		return 2;
	}
	char *end;
	long pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr, "heapsnap: snap: '%s' is not a pid\n", argv[optind]);
		return 2;
	}
	/* A process that has just started may not have exec'd its collector yet. */
	static struct running_collector rc;
	bool found = false;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	for (int tries = 0; !found && tries < 50 && kill((pid_t)pid, 0) == 0; tries++) {
		found = running_collector_find((pid_t)pid, &rc);
		if (!found)
			nanosleep(&pause, NULL);
	}
	const char *dir = rc.dir;
	int sig = rc.signal;
	if (!found) {
		fprintf(stderr, "heapsnap: snap: process %ld is not traced by heapsnap (no collector "
				"found)\n", pid);
		return 1;
	}
	if (!sig) {
		fprintf(stderr, "heapsnap: snap: process %ld was started with HEAPSNAP_SIGNAL=none\n",
			pid);
		return 1;
	}
	glob_t before;
	if (list_snapshots(dir, (pid_t)pid, &before) < 0) {
		fprintf(stderr, "heapsnap: snap: cannot list '%s'\n", dir);
		return 1;
	}
	if (kill((pid_t)pid, sig) < 0) {
		fprintf(stderr, "heapsnap: snap: cannot signal %ld: %s\n", pid, strerror(errno));
		globfree(&before);
		return 1;
	}
	struct timespec step = { 0, 10 * 1000 * 1000 };
	for (double waited = 0; waited < timeout; waited += 0.01) {
		glob_t now;
		if (list_snapshots(dir, (pid_t)pid, &now) == 0) {
			const char *found = new_snapshot(&before, &now);
			if (found)
				printf("%s\n", found);
			if (now.gl_pathc)
				globfree(&now);
			if (found) {
				if (before.gl_pathc)
					globfree(&before);
				return 0;
			}
		}
		nanosleep(&step, NULL);
	}
	if (before.gl_pathc)
		globfree(&before);
	fprintf(stderr, "heapsnap: snap: no snapshot of %ld appeared in %s within %g s\n", pid,
		dir, timeout);
	return 1;
}
