/* control.h - the collector's control socket: requests from outside, without the
 * program's signal (design.md invariant 9).
 *
 * Each collector listens on the abstract unix socket "heapsnap-collector-<its tid>"
 * (SOCK_SEQPACKET; a collector process of its own has tid = pid, a thread of heapsnap
 * run's host has a tid of its own).  Only a peer of the collector's own user, or root,
 * is served (SO_PEERCRED).  Requests, one a packet:
 *
 *   snap          -> "file <path>" once the snapshot is written, or "error <why>"
 *   start         -> "ok" once tracing is on: blocks allocated before are unknown
 *   stop          -> "ok" once tracing is off and every block and counter forgotten
 *   reset-peak    -> "ok" once the current traced total is the peak
 *
 * A snapshot asked for this way is recorded exactly as the signal handler records one:
 * request n at the ring's head at the moment the request is read, so it holds every
 * event whose slot was reserved before that moment (published later or not).
 *
 * start, stop and reset-peak are control operations: each is taken at the ring's head
 * P when it is read, and applied by the collector once it has consumed every position
 * below P and answered every snapshot request numbered before it, in the order they
 * came.  start and stop also change the segment's `recording` word at once, after P
 * was read: a thread of the program that sees the new value reserves its slots at P
 * or later (it loads the word with acquire order), and a thread that still saw the old
 * one either records nothing (after a stop: its records would be ignored anyway) or
 * records events that land on the right side of P by their own positions.  So the
 * collector decides by position alone: records below a start's P are ignored, records
 * below a stop's P are applied and then forgotten with everything else.
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

enum control_kind { CONTROL_START, CONTROL_STOP, CONTROL_RESET_PEAK };

/* A control operation waiting for its turn; its client waits for the answer on fd. */
struct control_op {
	enum control_kind kind;
	int fd;
	uint64_t pos;   /* the ring's head when it was read */
	uint64_t after; /* snapshot requests made before it */
};

struct control {
	int listen_fd;
	struct hs_ctl *ctl;
	struct control_client *clients;
	size_t nclients, cap;
	struct control_op *ops; /* in the order they came */
	size_t nops, ops_cap;
	uint32_t generation;    /* of the latest start (shmlayout.h, `recording`) */
	bool recording;         /* what the latest start or stop asked for */
	uint64_t accepted_at;   /* when control_poll() last looked for new clients */
};

/* The abstract socket name of collector pid's control socket (without the leading
 * NUL), for clients. */
void control_name(pid_t collector, char out[CONTROL_NAME_MAX]);

/* Connects to collector's control socket; returns the fd or a negative errno. */
int control_connect(pid_t collector);

/* Starts listening.  Returns 0 or a negative errno (the collector works on without). */
int control_open(struct control *c, struct hs_ctl *ctl);

/* Accepts new clients (looking once a millisecond at most) and reads their requests;
 * never blocks. */
void control_poll(struct control *c);
/* The same, looking for new clients however recently it last did: once more at the end,
 * so that a client that came within that millisecond is answered, not dropped. */
void control_poll_now(struct control *c);

/* The oldest control operation waiting, or NULL. */
const struct control_op *control_next_op(const struct control *c);
/* Tells its client it is done ("ok"), and forgets it. */
void control_op_done(struct control *c);

/* Whether request n was made through the socket (its file's trigger says so). */
bool control_asked(const struct control *c, uint64_t n);

/* Tells every client waiting for a request up to n that its snapshot is path (or that
 * it failed: path NULL, why set). */
void control_answer(struct control *c, uint64_t n, const char *path, const char *why);

void control_close(struct control *c);
