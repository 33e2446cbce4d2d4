/* control.h - the collector's control socket: requests from outside, without the
 * program's signal (design.md invariant 9).
 *
 * Each collector listens on the abstract unix socket "heapsnap-collector-<its pid>"
 * (SOCK_SEQPACKET).  Only a peer of the collector's own user, or root, is served
 * (SO_PEERCRED).  Requests, one a packet:
 *
 *   snap          -> "file <path>" once the snapshot is written, or "error <why>"
 *
 * A snapshot asked for this way is recorded exactly as the signal handler records one:
 * request n at the ring's head at the moment the request is read, so it holds every
 * event whose slot was reserved before that moment (published later or not).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmlayout.h"

#define CONTROL_NAME_MAX 64

struct control_client {
	int fd;
	uint64_t request; /* the snapshot request it waits for, 0 for none */
};

struct control {
	int listen_fd;
	struct hs_ctl *ctl;
	struct control_client *clients;
	size_t nclients, cap;
};

/* The abstract socket name of collector pid's control socket (without the leading
 * NUL), for clients. */
void control_name(pid_t collector, char out[CONTROL_NAME_MAX]);

/* Connects to collector's control socket; returns the fd or a negative errno. */
int control_connect(pid_t collector);

/* Starts listening.  Returns 0 or a negative errno (the collector works on without). */
int control_open(struct control *c, struct hs_ctl *ctl);

/* Accepts new clients and reads their requests; never blocks. */
void control_poll(struct control *c);

/* Whether request n was made through the socket (its file's trigger says so). */
bool control_asked(const struct control *c, uint64_t n);

/* Tells every client waiting for a request up to n that its snapshot is path (or that
 * it failed: path NULL, why set). */
void control_answer(struct control *c, uint64_t n, const char *path, const char *why);

void control_close(struct control *c);
