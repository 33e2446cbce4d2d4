/* sock.h - accepting only the connections that wait.
 *
 * accept4() on a listening socket with nothing queued still allocates a socket and its
 * inode and frees them again before it fails with EAGAIN (Linux 6.18): 6 us in a tight
 * loop on the machines we measure on, and about 30 us an image in a host's profile,
 * where poll() takes 0.7 us and allocates nothing.  A loop that accepted until EAGAIN
 * paid that once per wakeup: twice an image in a collector host, once a connection in
 * heapsnap run.
 */
#pragma once

#include <poll.h>
#include <sys/socket.h>

/* A connection waiting on listen_fd, accepted close-on-exec and non-blocking; -1 when
 * none waits (or accept4 fails). */
static inline int sock_accept_waiting(int listen_fd)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return -1;
	return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}
