/* runlink.c - the collector's messages, to heapsnap run or a log file (see runlink.h). */
#include "runlink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prim.h"

static bool runlink_send(struct runlink *l, const char *msg, size_t len)
{
	if (l->fd < 0)
		return false;
	if (send(l->fd, msg, len, MSG_NOSIGNAL) == (ssize_t)len)
		return true;
	/* run is gone (killed, or it gave up waiting): from now on, the log file. */
	close(l->fd);
	l->fd = -1;
	return false;
}

void runlink_open(struct runlink *l, int fd, const char *dir, pid_t pid)
{
	*l = (struct runlink){ .fd = fd, .pid = pid, .dir = dir };
}

static void runlink_log(struct runlink *l, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/heapsnap.%d.log", l->dir, (int)l->pid);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* nowhere left to say it */
	dprintf(fd, "heapsnap: %s\n", text);
	close(fd);
}

void runlink_say(struct runlink *l, const char *fmt, ...)
{
	char msg[RUNLINK_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "say\t");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (!runlink_send(l, msg, strlen(msg)))
		runlink_log(l, msg + n);
}

void runlink_signal(struct runlink *l, int sig, const char *how)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "signal\t%d\t%.16s", sig, how);
	if (!runlink_send(l, msg, (size_t)n))
		runlink_log(l, "the snapshot signal is the program's, not heapsnap's");
}

void runlink_file(struct runlink *l, const char *path, const char *trigger, int64_t peak)
{
	char msg[RUNLINK_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "file\t%d\t%" PRId64 "\t%s\t%s", (int)l->pid, peak,
			 trigger, path ? path : "-");
	runlink_send(l, msg, n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

bool runlink_readable(int fd, uint64_t deadline)
{
	for (;;) {
		uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0;
	}
}

/* Reads run's next message, waiting until deadline (CLOCK_MONOTONIC ns). */
static bool runlink_recv(struct runlink *l, char *buf, size_t size, uint64_t deadline)
{
	while (l->fd >= 0) {
		if (!runlink_readable(l->fd, deadline))
			return false;
		ssize_t n = recv(l->fd, buf, size - 1, 0);
		if (n <= 0) {
			close(l->fd);
			l->fd = -1;
			return false;
		}
		buf[n] = '\0';
		return true;
	}
	return false;
}

/* Takes one word of run's into the link's state. */
static void runlink_take(struct runlink *l, const char *buf)
{
	if (!strcmp(buf, "main")) {
		l->role = 1;
	} else if (!strcmp(buf, "other")) {
		l->role = 2;
	} else if (!strcmp(buf, "go")) {
		l->may_symbolize = true;
	} else if (!strncmp(buf, "status\t", 7)) {
		char *end;
		long v = strtol(buf + 7, &end, 10);
		if (!*end && end != buf + 7 && v >= 0 && v <= 0xffff) {
			l->status = (int)v;
			l->status_known = true;
		}
	}
}

/* Reads run's words until want(l) holds or the deadline passes; returns want(l). */
static bool runlink_until(struct runlink *l, bool (*want)(const struct runlink *),
			  uint64_t deadline)
{
	char buf[64];
	while (!want(l) && runlink_recv(l, buf, sizeof(buf), deadline))
		runlink_take(l, buf);
	return want(l);
}

static bool runlink_status_settled(const struct runlink *l)
{
	return l->role == 2 || l->status_known;
}

bool runlink_status(struct runlink *l, int *status, int timeout_ms)
{
	uint64_t deadline = prim_now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
	if (!runlink_until(l, runlink_status_settled, deadline) || !l->status_known)
		return false;
	*status = l->status;
	return true;
}

static bool runlink_go(const struct runlink *l)
{
	return l->may_symbolize || l->fd < 0;
}

void runlink_wait_turn(struct runlink *l, int timeout_ms)
{
	if (l->fd < 0 || l->may_symbolize)
		return;
	char msg[] = "turn";
	if (!runlink_send(l, msg, sizeof(msg) - 1))
		return;
	uint64_t deadline = prim_now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
	runlink_until(l, runlink_go, deadline);
}

void runlink_close(struct runlink *l)
{
	if (l->fd < 0)
		return;
	/* Read what run said first: closing over unread packets would reset the
	 * connection, and run could lose our last ones. */
	char buf[64];
	while (recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(l->fd);
	l->fd = -1;
}

ssize_t runlink_recv_fds(int fd, char *msg, size_t size, int fds[RUNLINK_FDS_MAX], int *nfds,
			 int flags)
{
	struct iovec iov = { .iov_base = msg, .iov_len = size - 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(RUNLINK_FDS_MAX * sizeof(int))];
	} ctrl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	*nfds = 0;
	ssize_t len = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *cm = len >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < RUNLINK_FDS_MAX)
				fds[(*nfds)++] = got;
			else
				close(got);
		}
	}
	if (len >= 0)
		msg[len] = '\0';
	return len;
}
