/*
 * A small WebSocket client (RFC 6455) for the relay's fallback transport:
 * ws:// or wss:// URL, TLS with gnutls verified against the system trust
 * store or a given CA file (host name checked), the HTTP Upgrade request
 * and its 101 answer with Sec-WebSocket-Accept checked, then wslay for the
 * framing (masked client frames, ping/pong, close). The payload is a byte
 * stream carried in binary messages; message boundaries carry no meaning
 * (docs/PROTOCOL.md, "Remote control: relay transports"). Non-blocking
 * descriptor; blocking calls wait with poll() and a deadline.
 */
#ifndef VITRINE_WS_CLIENT_H
#define VITRINE_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define WS_MAX_SEND_MESSAGE 65536 /* the relay takes client messages of at most 64 KiB */
#define WS_MAX_RECV_MESSAGE (1u << 20)

struct ws_client;

/* Connects to url (ws://HOST[:PORT]/PATH or wss://...; IPv6 literals in
 * brackets) within timeout_ms, TLS handshake and Upgrade included. ca_file
 * NULL or "": the system's trust. Returns NULL with err set on failure. */
struct ws_client *ws_client_connect(const char *url, const char *ca_file, unsigned timeout_ms, char *err, size_t errsz);

int ws_client_fd(const struct ws_client *w);
bool ws_client_is_tls(const struct ws_client *w);

/* True when ws_client_read can return bytes (or the end) without waiting. */
bool ws_client_buffered(const struct ws_client *w);

/* Non-blocking: > 0 bytes of binary payload, 0 the peer closed (close
 * frame or EOF), -1 with errno EAGAIN (nothing yet) or another (EPROTO: a
 * text message or a protocol error; ECONNRESET ...). */
ssize_t ws_client_read(struct ws_client *w, void *buf, size_t cap);

/* Non-blocking writing (relay_conn_write_all is the blocking loop over
 * these): write_some queues at most one binary message (<=
 * WS_MAX_SEND_MESSAGE; > 0 bytes taken) when nothing is queued and tries to
 * send it, else -1/EAGAIN; write_pending tells bytes are queued; flush
 * sends what it can (0, or -1 with errno on failure). */
ssize_t ws_client_write_some(struct ws_client *w, const void *buf, size_t len);
bool ws_client_write_pending(const struct ws_client *w);
int ws_client_flush(struct ws_client *w);

/* Sends a close frame (best effort, short wait), closes, frees. NULL ok. */
void ws_client_close(struct ws_client *w);

#endif
