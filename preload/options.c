/* options.c - the shim's settings, from HEAPSNAP_* environment variables.
 *
 * One table names every variable, its parser and its default.  A bad value is reported
 * once with the variable's name and the default that is used instead.  Variables are
 * read with secure_getenv, and a setuid or setgid program is never traced.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "sample.h"
#include "shim.h"

struct shim_options shim_opt HIDDEN;

static bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
		       unsigned long long *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool opt_frames(const char *s)
{
	unsigned long long v;
	if (!parse_uint(s, 1, HS_FRAMES_MAX, &v))
		return false;
	shim_opt.frames = (unsigned)v;
	return true;
}

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "HUP", SIGHUP }, { "INT", SIGINT },
	{ "QUIT", SIGQUIT }, { "TERM", SIGTERM }, { "ALRM", SIGALRM }, { "PROF", SIGPROF },
	{ "VTALRM", SIGVTALRM }, { "WINCH", SIGWINCH }, { "URG", SIGURG }, { "PWR", SIGPWR },
	{ "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "CONT", SIGCONT }, { "TSTP", SIGTSTP },
};

/* Accepts USR2, SIGUSR2, RTMIN+3, RTMAX-1, a number, or "none". */
static bool opt_signal(const char *s)
{
	unsigned long long v;
	if (!strcmp(s, "none") || !strcmp(s, "0")) {
		shim_opt.signal = 0;
		return true;
	}
	if (parse_uint(s, 1, (unsigned long long)SIGRTMAX, &v)) {
		if (!prim_signal_usable((int)v))
			return false;
		shim_opt.signal = (int)v;
		return true;
	}
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (!strcmp(s, signal_names[i].name)) {
			shim_opt.signal = signal_names[i].sig;
			return true;
		}
	int base;
	if (!strncmp(s, "RTMIN", 5))
		base = SIGRTMIN;
	else if (!strncmp(s, "RTMAX", 5))
		base = SIGRTMAX;
	else
		return false;
	s += 5;
	long off = 0;
	if (*s) {
		if ((*s != '+' && *s != '-') || !parse_uint(s + 1, 0, 64, &v))
			return false;
		off = *s == '+' ? (long)v : -(long)v;
	}
	if (base + off < SIGRTMIN || base + off > SIGRTMAX)
		return false;
	shim_opt.signal = (int)(base + off);
	return true;
}

static bool opt_ring(const char *s)
{
	unsigned long long v;
	if (!parse_uint(s, HS_RING_MIN, HS_RING_MAX, &v) || (v & (v - 1)))
		return false;
	shim_opt.ring_records = v;
	return true;
}

static bool opt_stacks(const char *s)
{
	unsigned long long v;
	if (!parse_uint(s, HS_STACKS_MIN, HS_STACKS_MAX, &v))
		return false;
	shim_opt.stacks = v;
	shim_opt.stacks_set = true;
	return true;
}

static bool opt_stall(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= 0 && v <= 1e6))
		return false;
	shim_opt.stall_timeout = v;
	return true;
}

/* The strings are copied: the environment's own may be overwritten later, as programs
 * that set their process title do (chromium, nginx, postgres), and a forked child sets
 * up from the options its parent read. */
static char dir_buf[PATH_MAX], collector_buf[PATH_MAX], run_socket_buf[108];

static bool opt_string(const char *s, char *buf, size_t size, const char **out)
{
	size_t n = strlen(s);
	if (n >= size)
		return false;
	memcpy(buf, s, n + 1);
	*out = buf;
	return true;
}

static bool opt_dir(const char *s)
{
	return *s && opt_string(s, dir_buf, sizeof(dir_buf), &shim_opt.dir);
}

static bool opt_collector(const char *s)
{
	return s[0] == '/' && opt_string(s, collector_buf, sizeof(collector_buf), &shim_opt.collector);
}

static bool opt_run_socket(const char *s)
{
	/* run_socket_buf is sizeof(sockaddr_un.sun_path) */
	return s[0] == '/' && opt_string(s, run_socket_buf, sizeof(run_socket_buf), &shim_opt.run_socket);
}

static bool opt_disable(const char *s)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return false;
	shim_opt.disabled = s[0] == '1';
	return true;
}

static bool opt_verify_unwind(const char *s)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return false;
	shim_opt.verify_unwind = s[0] == '1';
	return true;
}

static bool opt_start(const char *s)
{
	if (strcmp(s, "on") && strcmp(s, "off"))
		return false;
	shim_opt.start_off = s[1] == 'f';
	return true;
}

static bool opt_sample(const char *s)
{
	unsigned long long v;
	if (!parse_uint(s, 0, SAMPLE_PERIOD_MAX, &v))
		return false;
	shim_opt.sample_period = v;
	return true;
}

static const struct {
	const char *name;
	bool (*parse)(const char *value);
	const char *fallback;
} options[] = {
	{ "HEAPSNAP_FRAMES", opt_frames, "16" },
	{ "HEAPSNAP_SIGNAL", opt_signal, "USR2" },
	{ "HEAPSNAP_RING", opt_ring, "65536" },
	{ "HEAPSNAP_STACKS", opt_stacks, "1048576 (less under RLIMIT_AS)" },
	{ "HEAPSNAP_STALL_TIMEOUT", opt_stall, "10" },
	{ "HEAPSNAP_DIR", opt_dir, "the start directory" },
	{ "HEAPSNAP_COLLECTOR", opt_collector, "found next to the shim" },
	{ "HEAPSNAP_RUN_SOCKET", opt_run_socket, "none" },
	{ "HEAPSNAP_DISABLE", opt_disable, "0" },
	{ "HEAPSNAP_VERIFY_UNWIND", opt_verify_unwind, "0" },
	{ "HEAPSNAP_START", opt_start, "on" },
	{ "HEAPSNAP_SAMPLE", opt_sample, "0 (every allocation)" },
};

void options_load(void)
{
	shim_opt = (struct shim_options){
		.frames = HS_FRAMES_DEFAULT,
		.signal = SIGUSR2,
		.ring_records = 1u << 16,
		.stacks = 1u << 20,
		.stall_timeout = 10,
	};
	if (getauxval(AT_SECURE)) {
		shim_opt.disabled = true;
		return;
	}
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const char *v = attach_getenv(options[i].name);
		if (v && !options[i].parse(v))
			report("ignoring %s='%s': invalid; using %s", options[i].name, v,
			       options[i].fallback);
	}
}
