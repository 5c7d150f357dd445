/*
 * One WebSocket side of the relay (--ws-listen, --ws-plain-listen): the
 * opening handshake (ws_handshake.h), TLS when the listener has a
 * certificate (gnutls, TLS 1.2 or 1.3, over memory buffers the relay's
 * libuv reads feed), and WebSocket framing with wslay. The relay core
 * (relay.c) sees a byte stream, exactly as over raw TCP: each binary
 * message's payload is handed to on_payload in order, and what the relay
 * sends goes out as one binary message per call. Text messages are
 * refused (close 1003); a client message is at most WS_MESSAGE_MAX bytes
 * (close 1009 beyond); pings are answered with pongs. This layer holds no
 * socket: what it has to send is handed to wire_write, whole.
 */
#ifndef VITRINE_RELAY_WS_H
#define VITRINE_RELAY_WS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MESSAGE_MAX (64 * 1024)

struct ws_io {
	/* Sends len bytes of data (malloc'd; taken over) on the socket. */
	int (*wire_write)(void *user, char *data, size_t len);
	/* The payload of a binary message (borrowed for the call). */
	void (*on_payload)(void *user, const uint8_t *data, size_t len);
};

enum ws_status {
	WS_GOING,         /* more to come */
	WS_CLOSED,        /* the peer closed (or broke the protocol): close once flushed */
	WS_BAD_HANDSHAKE, /* the HTTP upgrade was refused (the answer is queued) */
	WS_BAD_TLS,       /* the TLS handshake failed */
};

struct ws_conn;

/* cred NULL: plain WebSocket. Returns NULL when out of memory. */
struct ws_conn *ws_conn_new(const struct ws_io *io, void *user, gnutls_certificate_credentials_t cred,
                            gnutls_priority_t prio);
/* Bytes read from the socket. */
enum ws_status ws_conn_input(struct ws_conn *c, const uint8_t *data, size_t len);
/* Sends data as one binary message (copied). -1 when the connection can
 * no longer send (closing, or not upgraded yet). */
int ws_conn_send(struct ws_conn *c, const uint8_t *data, size_t len);
/* Sends a ping (keeps proxies between client and relay from timing the
 * connection out; the client's pong is read and dropped). */
void ws_conn_ping(struct ws_conn *c);
/* Sends a close frame (code 1000, or code) and TLS close_notify. */
void ws_conn_close(struct ws_conn *c, uint16_t code);
bool ws_conn_upgraded(const struct ws_conn *c);
/* Did the client break the protocol (a text message, a message over
 * WS_MESSAGE_MAX, a bad frame)? */
bool ws_conn_protocol_error(const struct ws_conn *c);
void ws_conn_free(struct ws_conn *c);

/* The listener's TLS: loads cert and key (PEM files). Returns 0, or -1
 * with a sentence in err. */
int ws_tls_load(const char *cert_file, const char *key_file, gnutls_certificate_credentials_t *cred,
                gnutls_priority_t *prio, char *err, size_t errsz);

#endif
