/* hsbench.c - runs one workload natively, under heapsnap and under heaptrack.
 *
 * usage: hsbench --name NAME --shim LIBHEAPSNAP --heapsnap HEAPSNAP [--runs N]
 *                [--modes native,dormant,sampled,heapsnap,run,base,heaptrack]
 *                [--base HEAPSNAP] [--sample BYTES] [--target-wall X]
 *                [--target-cpu X] [--need TOOL]... -- PROGRAM [ARGS...]
 *
 * The modes run alternately, N times each after one unmeasured warm-up round, in
 * order one round and in reverse the next (native, heapsnap, heaptrack, heaptrack,
 * heapsnap, native, ...), so that no mode always runs right after another.  Know the
 * spread: the same build as both `base` and `run` measured 0.98x-1.04x over make's
 * 16 rounds (1.029x with the order fixed), so a change of a few percent needs several
 * invocations to show.  The medians are printed with their ratio to the native median
 * of the same invocation.  `dormant` is heapsnap with
 * HEAPSNAP_START=off (loaded, recording nothing), `sampled` heapsnap with
 * HEAPSNAP_SAMPLE=BYTES (--sample, default 524288); neither runs unless named.  `base`
 * is `run` with another build's heapsnap (--base BIN, with its own shim beside it), for
 * a change measured side by side with the build before it: `--modes native,base,run`.
 * The driver is a child subreaper, so every process a run creates ends up reaped here:
 * the heapsnap collector (a grandchild of the program, reparented when its intermediate
 * parent exits) and heaptrack's interpreter and compressor.  Measured per run:
 *
 *   wall      from fork until the last process of the tree is reaped (so heapsnap's
 *             exit snapshot and heaptrack's interpretation are included)
 *   cpu       user + system time of the whole tree: RUSAGE_CHILDREN before and after
 *   tgt cpu   the same for the direct child alone (wait4): the traced program natively
 *             and under heapsnap (the collector is cpu - tgt cpu); heaptrack's script
 *             waits for its interpreter, so there it is the whole tree too
 *   tgt RSS   peak RSS of the traced program (wait4's ru_maxrss when it is our child,
 *             else VmHWM polled from /proc every 10 ms)
 *   aux RSS   sum of the peak RSS of every other process (collector; heaptrack's
 *             shell, interpreter and compressor)
 *   tail      wall minus the time the program itself ended (the exit snapshot)
 *
 * Exit status: 0 after measuring, 1 when a tool is missing or a run fails.  A missed
 * target is reported, not failed on: wall-clock numbers on a shared machine are noise
 * prone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 64
#define MAX_PROCS 64
#define POLL_NS (10 * 1000 * 1000)

/* heapsnap: LD_PRELOAD, each process starting its own collector; run: heapsnap run,
 * which starts the collectors of the whole tree itself. */
enum mode { NATIVE, DORMANT, SAMPLED, HEAPSNAP, BASE, RUN, HEAPTRACK, NMODES };
static const char *mode_names[NMODES] = { "native", "dormant", "sampled", "heapsnap", "base",
					  "run", "heaptrack" };

enum metric { WALL, CPU, TGT_CPU, TGT_RSS, AUX_RSS, TAIL, NMETRICS };

struct proc {
	pid_t pid;
	char name[32];
	long hwm_kb;
};

struct run_result {
	double m[NMETRICS];
};

static struct {
	const char *name;
	const char *shim;
	const char *heapsnap;
	const char *base; /* the other build's heapsnap, for mode base */
	const char *sample;
	int runs;
	bool modes[NMODES];
	double target_wall;
	double target_cpu;
	char **argv;
	char tmpdir[PATH_MAX];
	char prog_comm[16];
} opt = { .runs = 5, .sample = "524288",
	    .modes = { [NATIVE] = true, [HEAPSNAP] = true, [HEAPTRACK] = true } };

static sigset_t chld; /* blocked; waited for with sigtimedwait */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec * 1e-6 +
	       (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec * 1e-6;
}

static struct proc *proc_get(struct proc *ps, int *n, pid_t pid)
{
	for (int i = 0; i < *n; i++)
		if (ps[i].pid == pid)
			return &ps[i];
	if (*n == MAX_PROCS)
		return NULL;
	ps[*n] = (struct proc){ .pid = pid };
	return &ps[(*n)++];
}

/* Reads a process's name and peak RSS from /proc; false when it is gone. */
static bool proc_poll(struct proc *p)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:", 5))
			sscanf(line + 5, " %31s", p->name);
		else if (!strncmp(line, "VmHWM:", 6)) {
			long kb = atol(line + 6);
			if (kb > p->hwm_kb)
				p->hwm_kb = kb;
		}
	}
	fclose(f);
	return true;
}

/* Walks the process tree below pid (/proc/PID/task/PID/children) and polls each. */
static void tree_poll(struct proc *ps, int *n, pid_t pid, int depth)
{
	char path[96], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	pid_t kids[MAX_PROCS];
	int nkids = 0;
	for (char *s = buf, *end; nkids < MAX_PROCS; s = end) {
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		kids[nkids++] = (pid_t)v;
	}
	for (int i = 0; i < nkids; i++) {
		struct proc *p = proc_get(ps, n, kids[i]);
		if (p)
			proc_poll(p);
		if (depth < 8)
			tree_poll(ps, n, kids[i], depth + 1);
	}
}

/* Each run writes into a directory of its own, and all of them are removed at the end,
 * not between runs: on a filesystem that skips recently deleted inodes when it makes
 * new ones (ext4 without a journal, as here), files deleted just before a run made
 * every file heapsnap created in it about 0.8 ms dearer, a cost of the benchmark's
 * clean-up, not of tracing. */
static unsigned run_seq;

static void out_dir_of(char *out, size_t len)
{
	snprintf(out, len, "%s/out%u", opt.tmpdir, run_seq);
}

static void child_exec(enum mode m, int log_fd)
{
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(log_fd, 2);
	char dir_env[PATH_MAX + 16];
	out_dir_of(dir_env, sizeof(dir_env));
	mkdir(dir_env, 0700);
	switch (m) {
	case NATIVE:
		execvp(opt.argv[0], opt.argv);
		break;
	case DORMANT:
	case SAMPLED:
	case HEAPSNAP:
		if (m == DORMANT)
			setenv("HEAPSNAP_START", "off", 1);
		if (m == SAMPLED)
			setenv("HEAPSNAP_SAMPLE", opt.sample, 1);
		setenv("LD_PRELOAD", opt.shim, 1);
		setenv("HEAPSNAP_COLLECTOR", opt.heapsnap, 1);
		setenv("HEAPSNAP_DIR", dir_env, 1);
		execvp(opt.argv[0], opt.argv);
		break;
	case BASE:
	case RUN: {
		const char *bin = m == BASE ? opt.base : opt.heapsnap;
		int argc = 0;
		while (opt.argv[argc])
			argc++;
		char **av = calloc((size_t)argc + 7, sizeof(*av));
		av[0] = (char *)bin;
		av[1] = "run";
		av[2] = "-q";
		av[3] = "--dir";
		av[4] = dir_env;
		av[5] = "--";
		memcpy(av + 6, opt.argv, (size_t)argc * sizeof(*av));
		execv(bin, av);
		break;
	}
	case HEAPTRACK: {
		int argc = 0;
		while (opt.argv[argc])
			argc++;
		char **av = calloc((size_t)argc + 4, sizeof(*av));
		char out[PATH_MAX + 32];
		snprintf(out, sizeof(out), "%s/heaptrack.out", dir_env);
		av[0] = "heaptrack";
		av[1] = "-o";
		av[2] = out;
		memcpy(av + 3, opt.argv, (size_t)argc * sizeof(*av));
		execvp("heaptrack", av);
		break;
	}
	default:
		break;
	}
	dprintf(log_fd, "hsbench: cannot run '%s': %s\n", opt.argv[0], strerror(errno));
	_exit(127);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0 && errno == EISDIR)
			rm_rf(path);
	}
	closedir(d);
	rmdir(dir);
}

/* One run in mode m.  Returns 0, or -1 (reported) when the program failed. */
static int run_once(enum mode m, struct run_result *out)
{
	char log_path[PATH_MAX + 16];
	snprintf(log_path, sizeof(log_path), "%s/stderr", opt.tmpdir);
	run_seq++;
	int log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		perror("hsbench: log");
		return -1;
	}
	struct rusage before, after;
	getrusage(RUSAGE_CHILDREN, &before);
	struct proc ps[MAX_PROCS];
	int nps = 0;
	double t0 = now_s(), t_prog = 0, t_last = 0;
	pid_t child = fork();
	if (child == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		int fd = dup(log_fd); /* without O_CLOEXEC */
		child_exec(m, fd);
	}
	if (child < 0) {
		perror("hsbench: fork");
		return -1;
	}
	int child_status = 0;
	double child_cpu = 0;
	struct proc *cp = proc_get(ps, &nps, child);
	for (;;) {
		struct rusage ru;
		int st;
		pid_t w = wait4(-1, &st, __WALL | WNOHANG, &ru);
		if (w > 0) {
			double t = now_s();
			struct proc *p = proc_get(ps, &nps, w);
			if (p && ru.ru_maxrss > p->hwm_kb)
				p->hwm_kb = ru.ru_maxrss;
			if (w == child) {
				t_prog = t;
				child_status = st;
				child_cpu = cpu_s(&ru);
			}
			t_last = t;
			continue;
		}
		if (w < 0 && errno == ECHILD)
			break;
		tree_poll(ps, &nps, getpid(), 0);
		/* Sleep until a child ends (SIGCHLD is blocked) or the next poll. */
		struct timespec ts = { 0, POLL_NS };
		sigtimedwait(&chld, NULL, &ts);
	}
	getrusage(RUSAGE_CHILDREN, &after);
	(void)cp;

	bool failed = !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0;
	if (failed) {
		char buf[4096];
		ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "hsbench: %s under %s failed (status 0x%x):\n%s\n", opt.name,
			mode_names[m], child_status, buf);
	}
	close(log_fd);
	if (failed)
		return -1;

	/* The traced program: the direct child natively and under heapsnap; under
	 * heaptrack the process of the tree with the program's name. */
	long tgt = 0, aux = 0;
	for (int i = 0; i < nps; i++) {
		bool is_tgt = m == HEAPTRACK ? !strcmp(ps[i].name, opt.prog_comm) : ps[i].pid == child;
		if (is_tgt && ps[i].hwm_kb > tgt)
			tgt = ps[i].hwm_kb;
		else if (!is_tgt)
			aux += ps[i].hwm_kb;
	}
	out->m[WALL] = t_last - t0;
	out->m[CPU] = cpu_s(&after) - cpu_s(&before);
	out->m[TGT_CPU] = child_cpu;
	out->m[TGT_RSS] = (double)tgt / 1024.0;
	out->m[AUX_RSS] = (double)aux / 1024.0;
	out->m[TAIL] = t_last - t_prog;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const struct run_result *r, int n, enum metric k)
{
	double v[MAX_RUNS];
	for (int i = 0; i < n; i++)
		v[i] = r[i].m[k];
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool have_tool(const char *tool)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: hsbench --name NAME --shim SO --heapsnap BIN [--runs N] "
			"[--modes LIST] [--base BIN] [--sample BYTES] [--target-wall X] "
			"[--target-cpu X] [--need TOOL] -- PROGRAM [ARGS...]\n");
}

static int parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "shim", required_argument, NULL, 's' },
		{ "heapsnap", required_argument, NULL, 'H' },
		{ "base", required_argument, NULL, 'B' },
		{ "runs", required_argument, NULL, 'r' },
		{ "modes", required_argument, NULL, 'm' },
		{ "sample", required_argument, NULL, 'S' },
		{ "target-wall", required_argument, NULL, 'w' },
		{ "target-cpu", required_argument, NULL, 'c' },
		{ "need", required_argument, NULL, 'N' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (o) {
		case 'n': opt.name = optarg; break;
		case 's': opt.shim = optarg; break;
		case 'H': opt.heapsnap = optarg; break;
		case 'B': opt.base = optarg; break;
		case 'r': opt.runs = atoi(optarg); break;
		case 'S': opt.sample = optarg; break;
		case 'w': opt.target_wall = atof(optarg); break;
		case 'c': opt.target_cpu = atof(optarg); break;
		case 'm':
			for (int i = 0; i < NMODES; i++)
				opt.modes[i] = strstr(optarg, mode_names[i]) != NULL;
			break;
		case 'N':
			if (!have_tool(optarg)) {
				fprintf(stderr, "hsbench: '%s' is not installed; install it with\n"
						"    sudo apt-get install %s\n", optarg, optarg);
				return -1;
			}
			break;
		default:
			usage();
			return -1;
		}
	}
	if (!opt.name || !opt.shim || !opt.heapsnap || optind >= argc || opt.runs < 1 ||
	    opt.runs > MAX_RUNS) {
		usage();
		return -1;
	}
	if (opt.modes[BASE] && (!opt.base || access(opt.base, X_OK) < 0)) {
		fprintf(stderr, "hsbench: mode base needs --base, another build's heapsnap%s%s\n",
			opt.base ? ": " : "", opt.base ? strerror(errno) : "");
		return -1;
	}
	opt.argv = argv + optind;
	const char *base = strrchr(opt.argv[0], '/');
	snprintf(opt.prog_comm, sizeof(opt.prog_comm), "%s", base ? base + 1 : opt.argv[0]);
	if (opt.modes[HEAPTRACK] && !have_tool("heaptrack")) {
		fprintf(stderr, "hsbench: heaptrack is not installed; the benchmarks compare "
				"against it.  Install it with\n    sudo apt-get install heaptrack\n");
		return -1;
	}
	return 0;
}

static void print_ratio(double v, double base)
{
	if (base > 0)
		printf(" %6.2fx", v / base);
	else
		printf(" %7s", "-");
}

int main(int argc, char **argv)
{
	if (parse_argv(argc, argv) < 0)
		return 1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	const char *t = getenv("TMPDIR");
	snprintf(opt.tmpdir, sizeof(opt.tmpdir), "%s/hsbench.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(opt.tmpdir)) {
		perror("hsbench: mkdtemp");
		return 1;
	}
	static struct run_result res[NMODES][MAX_RUNS];
	int rc = 0;
	for (int round = -1; round < opt.runs && rc == 0; round++)
		for (int i = 0; i < NMODES && rc == 0; i++) {
			int m = round & 1 ? NMODES - 1 - i : i;
			struct run_result r;
			if (!opt.modes[m])
				continue;
			if (run_once((enum mode)m, &r) < 0)
				rc = 1;
			else if (round >= 0)
				res[m][round] = r;
		}
	rm_rf(opt.tmpdir);
	if (rc)
		return rc;

	double med[NMODES][NMETRICS];
	for (int m = 0; m < NMODES; m++)
		for (int k = 0; k < NMETRICS; k++)
			med[m][k] = opt.modes[m] ? median(res[m], opt.runs, (enum metric)k) : 0;
	printf("\n== %s: median of %d runs (ratios to native) ==\n", opt.name, opt.runs);
	printf("%-10s %7s %7s %7s %7s %7s %8s %7s %8s %7s\n", "mode", "wall s", "ratio",
	       "cpu s", "ratio", "tgt cpu", "tgt RSS", "ratio", "aux RSS", "tail s");
	for (int m = 0; m < NMODES; m++) {
		if (!opt.modes[m])
			continue;
		printf("%-10s %7.3f", mode_names[m], med[m][WALL]);
		print_ratio(med[m][WALL], opt.modes[NATIVE] ? med[NATIVE][WALL] : 0);
		printf(" %7.3f", med[m][CPU]);
		print_ratio(med[m][CPU], opt.modes[NATIVE] ? med[NATIVE][CPU] : 0);
		printf(" %7.3f %6.1f M", med[m][TGT_CPU], med[m][TGT_RSS]);
		print_ratio(med[m][TGT_RSS], opt.modes[NATIVE] ? med[NATIVE][TGT_RSS] : 0);
		printf(" %6.1f M %7.3f\n", med[m][AUX_RSS], med[m][TAIL]);
	}
	if (opt.modes[HEAPSNAP] && opt.modes[HEAPTRACK] && med[HEAPTRACK][CPU] > 0)
		printf("heapsnap/heaptrack: wall %.2f, cpu %.2f\n",
		       med[HEAPSNAP][WALL] / med[HEAPTRACK][WALL],
		       med[HEAPSNAP][CPU] / med[HEAPTRACK][CPU]);
	if (opt.modes[BASE] && opt.modes[RUN] && med[BASE][WALL] > 0 && med[BASE][CPU] > 0)
		printf("run against base: wall %.3fx, cpu %.3fx\n", med[RUN][WALL] / med[BASE][WALL],
		       med[RUN][CPU] / med[BASE][CPU]);
	/* With run measured, the target is run's: the way to trace a tree. */
	enum mode tm = opt.modes[RUN] ? RUN : HEAPSNAP;
	if (opt.target_wall > 0 && opt.modes[NATIVE] && opt.modes[tm]) {
		double r = med[tm][WALL] / med[NATIVE][WALL];
		printf("target: %s wall <= %.2fx native: %s (%.2fx)\n", mode_names[tm],
		       opt.target_wall, r <= opt.target_wall ? "met" : "MISSED", r);
	}
	if (opt.target_cpu > 0 && opt.modes[HEAPSNAP] && opt.modes[HEAPTRACK]) {
		double r = med[HEAPSNAP][CPU] / med[HEAPTRACK][CPU];
		printf("target: heapsnap cpu <= %.2f of heaptrack's: %s (%.2f)\n", opt.target_cpu,
		       r <= opt.target_cpu ? "met" : "MISSED", r);
	}
	return 0;
}
