/* running.c - finding the collector of a running traced process.
 *
 * The collector's command line says whom it traces and how: the shim starts it as
 * `heapsnap collect --shm-fd 3 --pid PID --dir DIR --signal SIG [--run-fd 4]`.  Under
 * heapsnap run, collectors are threads of one `heapsnap collect --host-fd 3`, each
 * named "hs PID" after its process.
 */
#include "running.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prim.h"

/* Reads /proc/NAME/cmdline into buf, NUL-separated; returns its length, or 0. */
static size_t read_cmdline(const char *name, char *buf, size_t len)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%s/cmdline", name);
	ssize_t n = prim_read_text(path, buf, len);
	return n > 0 ? (size_t)n : 0;
}

/* The thread of host process NAME named "hs PID" (hosted.h), or 0. */
static pid_t host_thread_of(const char *name, const char *pid)
{
	char path[600], want[48], comm[32];
	snprintf(path, sizeof(path), "/proc/%s/task", name);
	snprintf(want, sizeof(want), "hs %s\n", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	pid_t found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", name, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n > 0) {
			comm[n] = '\0';
			if (!strcmp(comm, want))
				found = (pid_t)atoi(e->d_name);
		}
	}
	closedir(d);
	return found;
}

/* The owner of /proc/NAME, or -1. */
static long owner_of(const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%s", name);
	return stat(path, &st) == 0 ? (long)st.st_uid : -1;
}

/* Process NAME's PID namespace (the link's text) into ns, and its pid in that
 * namespace (the last NSpid of its status) into *inner.  Returns false when unknown. */
static bool pid_namespace(const char *name, char *ns, size_t len, long *inner)
{
	char path[300], buf[4096];
	snprintf(path, sizeof(path), "/proc/%s/ns/pid", name);
	ssize_t n = readlink(path, ns, len - 1);
	if (n <= 0)
		return false;
	ns[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%s/status", name);
	if (prim_read_text(path, buf, sizeof(buf)) <= 0)
		return false;
	const char *line = strstr(buf, "\nNSpid:");
	if (!line)
		return false;
	line += 8;
	const char *end = strchr(line, '\n');
	const char *last = NULL;
	for (const char *p = line; *p && (!end || p < end); p++)
		if ((*p >= '0' && *p <= '9') && (p == line || p[-1] == ' ' || p[-1] == '\t'))
			last = p;
	if (!last)
		return false;
	*inner = strtol(last, NULL, 10);
	return *inner > 0;
}

bool running_collector_find(pid_t pid, struct running_collector *out)
{
	char want[32], inner[32] = "", ns[128] = "";
	snprintf(want, sizeof(want), "%d", (int)pid);
	/* A process in a PID namespace of its own, seen from outside: its shim started its
	 * collector inside, with --pid its pid there. */
	long in_ns = 0;
	if (pid_namespace(want, ns, sizeof(ns), &in_ns) && in_ns != (long)pid)
		snprintf(inner, sizeof(inner), "%ld", in_ns);
	/* Only a collector of the traced process's own user is believed: any process can
	 * name itself 'heapsnap collect --pid PID --signal 9'. */
	long owner = owner_of(want);
	if (owner < 0)
		return false;
	DIR *d = opendir("/proc");
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char buf[8192];
		size_t n = read_cmdline(e->d_name, buf, sizeof(buf));
		char *args[16];
		int na = 0;
		for (char *p = buf; p < buf + n && na < 16; p += strlen(p) + 1)
			args[na++] = p;
		if (na == 4 && !strcmp(args[1], "collect") && !strcmp(args[2], "--host-fd") &&
		    owner_of(e->d_name) == owner) {
			pid_t tid = host_thread_of(e->d_name, want);
			if (tid > 0) {
				*out = (struct running_collector){ .pid = tid, .control = tid,
								   .traced = pid };
				found = true;
			}
			continue;
		}
		if (na < 10 || strcmp(args[1], "collect"))
			continue;
		const char *apid = NULL, *adir = NULL, *asig = NULL;
		for (int i = 2; i + 1 < na; i++) {
			if (!strcmp(args[i], "--pid"))
				apid = args[i + 1];
			else if (!strcmp(args[i], "--dir"))
				adir = args[i + 1];
			else if (!strcmp(args[i], "--signal"))
				asig = args[i + 1];
		}
		char *end;
		long sig = asig ? strtol(asig, &end, 10) : -1;
		if (!apid || !adir || !asig || *end || !(sig == 0 || prim_signal_usable((int)sig)) ||
		    owner_of(e->d_name) != owner)
			continue;
		char cns[128];
		long cinner = 0;
		bool here = !strcmp(apid, want);
		bool inside = !here && inner[0] && !strcmp(apid, inner) &&
			      pid_namespace(e->d_name, cns, sizeof(cns), &cinner) && !strcmp(cns, ns);
		if (here || inside) {
			out->pid = (pid_t)atoi(e->d_name);
			out->control = inside ? (pid_t)cinner : out->pid;
			out->traced = inside ? (pid_t)in_ns : pid;
			snprintf(out->dir, sizeof(out->dir), "%s", adir);
			out->signal = (int)sig;
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* Whether /proc/NAME is the host of the collectors of the run whose command line is
 * run[0..n): "heapsnap collect --host-fd 3" (hosted.h), or, just forked, run's own. */
static bool is_host(const char *name, const char *run, size_t n)
{
	char cmd[4096];
	size_t m = read_cmdline(name, cmd, sizeof(cmd));
	size_t len0 = strnlen(cmd, m);
	if (m == n && !memcmp(cmd, run, n))
		return true;
	return len0 + 1 < m && !strcmp(cmd + len0 + 1, "collect") &&
	       len0 + 1 + sizeof("collect") < m &&
	       !strcmp(cmd + len0 + 1 + sizeof("collect"), "--host-fd");
}

/* The program of run pid, from the pidfd run holds on it while it serves the tree
 * (its fdinfo's "Pid:" line): run's other children are its host and, as the tree's
 * subreaper, any process of the tree whose parent ended.  0 when run holds none. */
static pid_t run_pidfd_target(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	pid_t found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		char file[sizeof(path) + sizeof(e->d_name) + 1], line[128];
		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		FILE *f = fopen(file, "re");
		if (!f)
			continue;
		long target;
		while (!found && fgets(line, sizeof(line), f))
			if (sscanf(line, "Pid:\t%ld", &target) == 1 && target > 0) {
				struct proc_stat st;
				if (prim_proc_stat((pid_t)target, &st) == 0 && st.ppid == pid)
					found = (pid_t)target;
			}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Whether cmd, a command line of n bytes, is "heapsnap run ...". */
static bool is_run(const char *cmd, size_t n)
{
	if (!n)
		return false;
	const char *arg0 = cmd, *slash = strrchr(arg0, '/');
	const char *base = slash ? slash + 1 : arg0;
	size_t len0 = strlen(arg0);
	return !strcmp(base, "heapsnap") && len0 + 1 < n && !strcmp(arg0 + len0 + 1, "run");
}

bool running_is_run(pid_t pid)
{
	char name[32], cmd[4096];
	snprintf(name, sizeof(name), "%d", (int)pid);
	return is_run(cmd, read_cmdline(name, cmd, sizeof(cmd)));
}

pid_t running_run_child(pid_t pid)
{
	char name[32], cmd[4096];
	snprintf(name, sizeof(name), "%d", (int)pid);
	size_t n = read_cmdline(name, cmd, sizeof(cmd));
	if (!is_run(cmd, n))
		return 0;
	pid_t program = run_pidfd_target(pid);
	if (program)
		return program;
	/* Without pidfds: run's child that is not the host of its collectors (or, after
	 * the program's end, possibly a process of the tree that run adopted). */
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t child = 0;
	struct dirent *e;
	while (!child && (e = readdir(d))) {
		struct proc_stat st;
		pid_t p = (pid_t)atoi(e->d_name);
		if (p > 0 && prim_proc_stat(p, &st) == 0 && st.ppid == pid &&
		    !is_host(e->d_name, cmd, n))
			child = p;
	}
	closedir(d);
	return child;
}

bool running_traced_without_collector(pid_t pid)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool traced = false;
	while (!traced && fgets(line, sizeof(line), f))
		traced = strstr(line, "/libheapsnap.so") != NULL;
	fclose(f);
	return traced;
}
