/* control.c - the collector's control socket (see control.h). */
#include "control.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ring.h"
#include "vec.h"

void control_name(pid_t collector, char out[CONTROL_NAME_MAX])
{
	snprintf(out, CONTROL_NAME_MAX, "heapsnap-collector-%d", (int)collector);
}

static socklen_t control_addr(pid_t pid, struct sockaddr_un *sa)
{
	char name[CONTROL_NAME_MAX];
	control_name(pid, name);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t len = strlen(name);
	memcpy(sa->sun_path + 1, name, len); /* abstract: sun_path[0] is NUL */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

int control_connect(pid_t collector)
{
	struct sockaddr_un sa;
	socklen_t len = control_addr(collector, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int control_open(struct control *c, struct hs_ctl *ctl)
{
	*c = (struct control){ .listen_fd = -1, .ctl = ctl };
	struct sockaddr_un sa;
	socklen_t len = control_addr(getpid(), &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->listen_fd = fd;
	return 0;
}

static void control_reply(int fd, const char *msg)
{
	send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void control_drop(struct control *c, size_t i)
{
	close(c->clients[i].fd);
	c->clients[i] = c->clients[--c->nclients];
}

/* Only the collector's own user, or root, may ask. */
static bool control_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       (cred.uid == 0 || cred.uid == getuid());
}

static void control_accept(struct control *c)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (!control_allowed(fd)) {
			control_reply(fd, "error permission denied");
			close(fd);
			continue;
		}
		if (vec_reserve((void **)&c->clients, &c->cap, c->nclients + 1, sizeof(*c->clients))) {
			close(fd);
			return;
		}
		c->clients[c->nclients++] = (struct control_client){ .fd = fd };
	}
}

/* Reads one request from client i; false when the client is gone. */
static bool control_read(struct control *c, size_t i)
{
	struct control_client *cl = &c->clients[i];
	char msg[64];
	ssize_t n = recv(cl->fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	msg[n] = '\0';
	if (!strcmp(msg, "snap") && !cl->request)
		cl->request = ring_request_snapshot(c->ctl);
	else
		control_reply(cl->fd, "error unknown request");
	return true;
}

void control_poll(struct control *c)
{
	if (c->listen_fd < 0)
		return;
	control_accept(c);
	for (size_t i = c->nclients; i-- > 0;)
		if (!control_read(c, i))
			control_drop(c, i);
}

bool control_asked(const struct control *c, uint64_t n)
{
	for (size_t i = 0; i < c->nclients; i++)
		if (c->clients[i].request == n)
			return true;
	return false;
}

void control_answer(struct control *c, uint64_t n, const char *path, const char *why)
{
	char msg[4200];
	if (path)
		snprintf(msg, sizeof(msg), "file %s", path);
	else
		snprintf(msg, sizeof(msg), "error %s", why ? why : "the snapshot failed");
	for (size_t i = c->nclients; i-- > 0;)
		if (c->clients[i].request && c->clients[i].request <= n) {
			control_reply(c->clients[i].fd, msg);
			control_drop(c, i);
		}
}

void control_close(struct control *c)
{
	for (size_t i = 0; i < c->nclients; i++) {
		if (c->clients[i].request)
			control_reply(c->clients[i].fd, "error the process ended first");
		close(c->clients[i].fd);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c->clients);
	*c = (struct control){ .listen_fd = -1 };
}
