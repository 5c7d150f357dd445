/*
 * The client side of vitrine-relay (docs/PROTOCOL.md, "Remote control: the
 * relay's first frame" and "Remote control: relay transports"), shared by
 * the host (vitrine-player) and the guest (`vitrine remote`): connect to the
 * relay over raw TCP first and, when that fails or does not complete within
 * RELAY_TCP_CONNECT_MS, over the relay's ws_url (ws:// or wss://, TLS
 * verified); send the first frame (u16 big-endian length + ticket text);
 * read the status line (`paired\n` or `error CODE\n`). The result is a byte
 * pipe with the same interface whatever the transport; bytes that came
 * after the status line are kept and returned first by relay_conn_read.
 * Blocking calls with poll() and a deadline; no threads.
 */
#ifndef VITRINE_RELAY_CLIENT_H
#define VITRINE_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RELAY_TCP_CONNECT_MS 3000 /* raw TCP gets this long before the WebSocket fallback */
#define RELAY_STATUS_MAX     64   /* bytes of the status line, '\n' included */
#define RELAY_TICKET_MAX     1024 /* TICKET_TEXT_MAX: longest first-frame payload */

/* Codes relay_connect sets besides the relay's own (`ticket_invalid`,
 * `ticket_expired`, `ticket_replayed`, `ticket_wrong_session`,
 * `session_ended`): */
#define RELAY_CODE_UNREACHABLE "relay_unreachable" /* neither TCP nor WS(S) could connect (TLS refused included) */
#define RELAY_CODE_PROTOCOL    "relay_protocol"    /* the peer does not speak the relay protocol */
#define RELAY_CODE_TIMEOUT     "session_ended"     /* no status line within pair_timeout_ms */

/* Where the relay is: the `relay` object of the session (host, port, ws_url).
 * ws_url may be empty (no fallback); port 0 skips raw TCP. */
struct relay_target {
	char host[256];
	unsigned port;
	char ws_url[513];
};

enum relay_transport {
	RELAY_TCP = 1,
	RELAY_WS = 2,
	RELAY_WSS = 3,
};

struct relay_conn; /* fd + transport (tcp | ws | wss) + bytes read ahead */

/* Connects, sends the ticket and waits up to pair_timeout_ms for the status
 * line. ca_file: PEM file of trusted CAs for wss:// (NULL or "": the
 * system's trust store; env VITRINE_RELAY_CA is read by the callers, not
 * here). Returns 0 with *out set after `paired`; -1 with code set to the
 * relay's code (from `error CODE`) or one of RELAY_CODE_*, and err to a
 * sentence for a person. code may be NULL/0-sized, as may err. */
int relay_connect(const struct relay_target *t, const char *ticket, unsigned pair_timeout_ms, const char *ca_file,
                  struct relay_conn **out, char *code, size_t codesz, char *err, size_t errsz);

/* The descriptor to poll for input (POLLIN) and output (POLLOUT). Check
 * relay_conn_buffered first: TLS and WebSocket may hold decoded bytes that
 * no poll will announce. */
int relay_conn_fd(const struct relay_conn *c);

/* True when relay_conn_read can return bytes without waiting. */
bool relay_conn_buffered(const struct relay_conn *c);

/* Non-blocking read of session bytes: > 0 bytes, 0 the relay closed the
 * pipe, -1 with errno EAGAIN (nothing yet) or another errno (failure). */
ssize_t relay_conn_read(struct relay_conn *c, void *buf, size_t cap);

/* Writes all of buf, waiting with poll() at most timeout_ms (< 0: no limit)
 * for room. Returns 0, or -1 with errno (ETIMEDOUT, EPIPE, ...). */
int relay_conn_write_all(struct relay_conn *c, const void *buf, size_t len, int timeout_ms);

/* Non-blocking write: > 0 bytes taken (a WebSocket transport may still hold
 * them: see relay_conn_write_pending), -1 with errno EAGAIN (no room now) or
 * another errno (failure). */
ssize_t relay_conn_write_some(struct relay_conn *c, const void *buf, size_t len);

/* True while the transport holds bytes it took but has not written; then
 * poll for POLLOUT and call relay_conn_flush (non-blocking; 0, or -1 with an
 * errno other than EAGAIN on failure). */
bool relay_conn_write_pending(const struct relay_conn *c);
int relay_conn_flush(struct relay_conn *c);

enum relay_transport relay_conn_transport(const struct relay_conn *c);
const char *relay_transport_name(enum relay_transport tr); /* "tcp" | "ws" | "wss" */

/* Closes the pipe (a WebSocket close frame first, when possible) and frees. */
void relay_conn_close(struct relay_conn *c);

/* TEST and host-side helper: a relay_conn around a connected stream socket
 * that already passed the status line (takes the fd). NULL on no memory. */
struct relay_conn *relay_conn_from_fd(int fd);

#endif
