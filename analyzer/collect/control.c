/* control.c - the collector's control socket (see control.h). */
#include "control.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "prim.h"
#include "ring.h"
#include "sock.h"
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
	socklen_t len = control_addr(gettid(), &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->listen_fd = fd;
	uint32_t r = atomic_load(&ctl->recording);
	c->recording = r != 0;
	c->generation = r ? r : 1;
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
		int fd = sock_accept_waiting(c->listen_fd);
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

static const char *const control_words[] = {
	[CONTROL_START] = "start",
	[CONTROL_STOP] = "stop",
	[CONTROL_RESET_PEAK] = "reset-peak",
};

/* Takes control operation `kind` now, answered on fd once applied (control.h): its
 * ring position first, then the snapshot requests before it, then the word the shim
 * reads.  Returns false when out of memory. */
static bool control_take_op(struct control *c, enum control_kind kind, int fd)
{
	if (vec_reserve((void **)&c->ops, &c->ops_cap, c->nops + 1, sizeof(*c->ops)))
		return false;
	struct control_op *op = &c->ops[c->nops++];
	op->kind = kind;
	op->fd = fd;
	op->pos = atomic_load(&c->ctl->head);
	op->after = atomic_load(&c->ctl->req_count);
	if (kind == CONTROL_START && !c->recording) {
		if (++c->generation == 0)
			c->generation = 1;
		c->recording = true;
		atomic_store(&c->ctl->recording, c->generation);
	} else if (kind == CONTROL_STOP && c->recording) {
		c->recording = false;
		atomic_store(&c->ctl->recording, 0);
	}
	return true;
}

enum { CLIENT_KEEP, CLIENT_DROP, CLIENT_MOVED };

/* Reads one request from client i: CLIENT_DROP when the client is gone, CLIENT_MOVED
 * when it became a control operation (which now owns its fd). */
static int control_read(struct control *c, size_t i)
{
	struct control_client *cl = &c->clients[i];
	char msg[64];
	ssize_t n = recv(cl->fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? CLIENT_KEEP : CLIENT_DROP;
	if (n == 0)
		return CLIENT_DROP;
	msg[n] = '\0';
	if (!strcmp(msg, "snap") && !cl->request) {
		cl->request = ring_request_snapshot(c->ctl);
		return CLIENT_KEEP;
	}
	for (int k = 0; k < (int)(sizeof(control_words) / sizeof(*control_words)); k++)
		if (!strcmp(msg, control_words[k]) && !cl->request) {
			if (control_take_op(c, (enum control_kind)k, cl->fd))
				return CLIENT_MOVED;
			control_reply(cl->fd, "error out of memory");
			return CLIENT_DROP;
		}
	control_reply(cl->fd, "error unknown request");
	return CLIENT_KEEP;
}

/* New clients are looked for once a millisecond at most: a collector draining a busy
 * ring comes here after every batch, and a cc1's tree made 164 accept4() calls that
 * found no one, each a system call. */
#define ACCEPT_EVERY_NS (1000 * 1000ull)

void control_poll(struct control *c)
{
	if (c->listen_fd < 0)
		return;
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	if (now - c->accepted_at >= ACCEPT_EVERY_NS) {
		c->accepted_at = now;
		control_accept(c);
	}
	for (size_t i = c->nclients; i-- > 0;) {
		int r = control_read(c, i);
		if (r == CLIENT_DROP)
			control_drop(c, i);
		else if (r == CLIENT_MOVED)
			c->clients[i] = c->clients[--c->nclients];
	}
}

void control_poll_now(struct control *c)
{
	c->accepted_at = 0;
	control_poll(c);
}

const struct control_op *control_next_op(const struct control *c)
{
	return c->nops ? &c->ops[0] : NULL;
}

void control_op_done(struct control *c)
{
	if (!c->nops)
		return;
	control_reply(c->ops[0].fd, "ok");
	close(c->ops[0].fd);
	memmove(c->ops, c->ops + 1, --c->nops * sizeof(*c->ops));
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
	for (size_t i = 0; i < c->nops; i++) {
		control_reply(c->ops[i].fd, "error the process ended first");
		close(c->ops[i].fd);
	}
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c->clients);
	free(c->ops);
	*c = (struct control){ .listen_fd = -1 };
}
