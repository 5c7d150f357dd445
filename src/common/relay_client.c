/*
 * Connecting to vitrine-relay (see relay_client.h): raw TCP, the WebSocket
 * fallback through ws_client.c (connects: dial.c), then the first frame and the status line.
 * The status line is read one byte at a time, so no session byte is ever
 * read ahead of it: what follows is read by the tunnel through
 * relay_conn_read, whatever the transport.
 */
#include "relay_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dial.h"
#include "monotonic.h"
#include "ws_client.h"

struct relay_conn {
	int fd;
	enum relay_transport tr;
	struct ws_client *ws; /* RELAY_WS / RELAY_WSS */
};

static void set_text(char *dst, size_t dstsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_text(char *dst, size_t dstsz, const char *fmt, ...)
{
	if (!dst || dstsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
}

struct relay_conn *relay_conn_from_fd(int fd)
{
	struct relay_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c->fd = fd;
	c->tr = RELAY_TCP;
	return c;
}

int relay_conn_fd(const struct relay_conn *c)
{
	return c->tr == RELAY_TCP ? c->fd : ws_client_fd(c->ws);
}

bool relay_conn_buffered(const struct relay_conn *c)
{
	return c->tr != RELAY_TCP && ws_client_buffered(c->ws);
}

enum relay_transport relay_conn_transport(const struct relay_conn *c)
{
	return c->tr;
}

const char *relay_transport_name(enum relay_transport tr)
{
	switch (tr) {
	case RELAY_TCP:
		return "tcp";
	case RELAY_WS:
		return "ws";
	case RELAY_WSS:
		return "wss";
	}
	return "?";
}

ssize_t relay_conn_read(struct relay_conn *c, void *buf, size_t cap)
{
	if (c->tr != RELAY_TCP)
		return ws_client_read(c->ws, buf, cap);
	for (;;) {
		ssize_t n = recv(c->fd, buf, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EWOULDBLOCK)
			errno = EAGAIN;
		return n;
	}
}

ssize_t relay_conn_write_some(struct relay_conn *c, const void *buf, size_t len)
{
	if (c->tr != RELAY_TCP)
		return ws_client_write_some(c->ws, buf, len);
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EWOULDBLOCK)
			errno = EAGAIN;
		return n;
	}
}

bool relay_conn_write_pending(const struct relay_conn *c)
{
	return c->tr != RELAY_TCP && ws_client_write_pending(c->ws);
}

int relay_conn_flush(struct relay_conn *c)
{
	return c->tr == RELAY_TCP ? 0 : ws_client_flush(c->ws);
}

int relay_conn_write_all(struct relay_conn *c, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : monotonic_ms() + timeout_ms;
	while (len > 0 || relay_conn_write_pending(c)) {
		if (len > 0) {
			ssize_t n = relay_conn_write_some(c, p, len);
			if (n > 0) {
				p += n;
				len -= (size_t)n;
				continue;
			}
			if (errno != EAGAIN)
				return -1;
		} else if (relay_conn_flush(c) < 0) {
			return -1;
		} else if (!relay_conn_write_pending(c)) {
			break;
		}
		struct pollfd pf = {.fd = relay_conn_fd(c), .events = POLLOUT};
		int w = poll(&pf, 1, timeout_ms < 0 ? -1 : monotonic_left_ms(deadline));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

void relay_conn_close(struct relay_conn *c)
{
	if (!c)
		return;
	if (c->tr == RELAY_TCP) {
		if (c->fd >= 0)
			close(c->fd);
	} else {
		ws_client_close(c->ws);
	}
	free(c);
}

/* Reads the status line one byte at a time until '\n', the deadline or
 * RELAY_STATUS_MAX bytes. 0 with line set (no '\n'), or -1 with code/err. */
static int read_status(struct relay_conn *c, int64_t deadline, unsigned pair_timeout_ms, char *line, char *code,
                       size_t codesz, char *err, size_t errsz)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = relay_conn_read(c, &ch, 1);
		if (r == 1) {
			if (ch == '\n') {
				line[n] = '\0';
				return 0;
			}
			if (n + 1 >= RELAY_STATUS_MAX || (unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e) {
				set_text(code, codesz, "%s", RELAY_CODE_PROTOCOL);
				set_text(err, errsz, "the relay's answer is not a status line");
				return -1;
			}
			line[n++] = ch;
			continue;
		}
		if (r == 0 || errno != EAGAIN) {
			set_text(code, codesz, "%s", RELAY_CODE_PROTOCOL);
			set_text(err, errsz, "the relay closed the connection without an answer%s%s",
			         r == 0 ? "" : ": ", r == 0 ? "" : strerror(errno));
			return -1;
		}
		if (relay_conn_buffered(c))
			continue;
		struct pollfd p = {.fd = relay_conn_fd(c), .events = POLLIN};
		int w = poll(&p, 1, monotonic_left_ms(deadline));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			set_text(code, codesz, "%s", RELAY_CODE_TIMEOUT);
			set_text(err, errsz, "the other side of the session did not reach the relay within %u s",
			         (pair_timeout_ms + 999) / 1000);
			return -1;
		}
	}
}

static bool is_code(const char *s)
{
	if (!*s || strlen(s) >= 48)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* First frame, status line; takes c (closed on failure). */
static int greet(struct relay_conn *c, const char *ticket, unsigned pair_timeout_ms, struct relay_conn **out,
                 char *code, size_t codesz, char *err, size_t errsz)
{
	size_t tl = strlen(ticket);
	uint8_t frame[2 + RELAY_TICKET_MAX];
	frame[0] = (uint8_t)(tl >> 8);
	frame[1] = (uint8_t)tl;
	memcpy(frame + 2, ticket, tl);
	int64_t deadline = monotonic_ms() + pair_timeout_ms;
	if (relay_conn_write_all(c, frame, 2 + tl, monotonic_left_ms(deadline)) < 0) {
		set_text(code, codesz, "%s", RELAY_CODE_UNREACHABLE);
		set_text(err, errsz, "cannot send the ticket to the relay: %s", strerror(errno));
		relay_conn_close(c);
		return -1;
	}
	char line[RELAY_STATUS_MAX];
	if (read_status(c, deadline, pair_timeout_ms, line, code, codesz, err, errsz) < 0) {
		relay_conn_close(c);
		return -1;
	}
	if (strcmp(line, "paired") == 0) {
		*out = c;
		set_text(code, codesz, "%s", "");
		return 0;
	}
	if (strncmp(line, "error ", 6) == 0 && is_code(line + 6)) {
		set_text(code, codesz, "%s", line + 6);
		set_text(err, errsz, "the relay refused the session: %s", line + 6);
	} else {
		set_text(code, codesz, "%s", RELAY_CODE_PROTOCOL);
		set_text(err, errsz, "the relay's answer is not a status line");
	}
	relay_conn_close(c);
	return -1;
}

int relay_connect(const struct relay_target *t, const char *ticket, unsigned pair_timeout_ms, const char *ca_file,
                  struct relay_conn **out, char *code, size_t codesz, char *err, size_t errsz)
{
	*out = NULL;
	set_text(code, codesz, "%s", "");
	set_text(err, errsz, "%s", "");
	size_t tl = ticket ? strlen(ticket) : 0;
	if (tl == 0 || tl > RELAY_TICKET_MAX) {
		set_text(code, codesz, "%s", "ticket_invalid");
		set_text(err, errsz, "the ticket is empty or longer than %d bytes", RELAY_TICKET_MAX);
		return -1;
	}
	char tcp_err[300] = "", ws_err[300] = "";
	if (t->port > 0 && t->port <= 65535 && t->host[0]) {
		int fd = dial_tcp(t->host, t->port, RELAY_TCP_CONNECT_MS, tcp_err, sizeof tcp_err);
		if (fd >= 0) {
			struct relay_conn *c = relay_conn_from_fd(fd);
			if (!c) {
				close(fd);
				set_text(code, codesz, "%s", RELAY_CODE_UNREACHABLE);
				set_text(err, errsz, "out of memory");
				return -1;
			}
			return greet(c, ticket, pair_timeout_ms, out, code, codesz, err, errsz);
		}
	} else {
		snprintf(tcp_err, sizeof tcp_err, "no TCP address");
	}
	if (t->ws_url[0]) {
		struct ws_client *ws = ws_client_connect(t->ws_url, ca_file, 10000, ws_err, sizeof ws_err);
		if (ws) {
			struct relay_conn *c = calloc(1, sizeof *c);
			if (!c) {
				ws_client_close(ws);
				set_text(code, codesz, "%s", RELAY_CODE_UNREACHABLE);
				set_text(err, errsz, "out of memory");
				return -1;
			}
			c->fd = -1;
			c->ws = ws;
			c->tr = ws_client_is_tls(ws) ? RELAY_WSS : RELAY_WS;
			return greet(c, ticket, pair_timeout_ms, out, code, codesz, err, errsz);
		}
	} else {
		snprintf(ws_err, sizeof ws_err, "no WebSocket URL");
	}
	set_text(code, codesz, "%s", RELAY_CODE_UNREACHABLE);
	set_text(err, errsz, "cannot reach the relay (TCP: %s; WebSocket: %s)", tcp_err, ws_err);
	return -1;
}
