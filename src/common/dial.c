/*
 * Outgoing TCP connections with a deadline (see dial.h): each address of
 * getaddrinfo in turn, a non-blocking connect polled for POLLOUT and its
 * SO_ERROR read, until one connects or the time is up.
 */
#include "dial.h"
#include "monotonic.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One non-blocking connect to one address, waiting at most until deadline. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *err_out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err_out = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err_out = errno;
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int n = poll(&p, 1, monotonic_left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err_out = n == 0 ? ETIMEDOUT : errno;
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			*err_out = soerr;
			close(fd);
			return -1;
		}
		return fd;
	}
}

/* A non-blocking TCP connection to host:port within timeout_ms, any address
 * family; -1 with err set when none answered. */
int dial_tcp(const char *host, unsigned port, unsigned timeout_ms, char *err, size_t errsz)
{
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsz, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	int64_t deadline = monotonic_ms() + timeout_ms;
	int fd = -1, last = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai && fd < 0 && monotonic_left_ms(deadline) > 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &last);
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errsz, "cannot connect to %s port %u: %s", host, port,
		         last == ETIMEDOUT ? "no answer within the time limit" : strerror(last));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}
