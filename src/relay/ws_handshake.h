/*
 * The relay's WebSocket opening handshake (RFC 6455 section 4.2): a pure,
 * bounded parser of the client's HTTP/1.1 Upgrade request and the text of
 * the relay's answer (101 with Sec-WebSocket-Accept, or a 4xx refusal).
 * No I/O and no allocation, so the relay and its fuzz target share it.
 * Any request path is accepted (the contract: "/relay" or anything else).
 */
#ifndef VITRINE_RELAY_WS_HANDSHAKE_H
#define VITRINE_RELAY_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_HANDSHAKE_MAX 8192 /* bytes of request line and headers, the blank line included */
#define WS_KEY_LEN       24   /* base64 of 16 bytes */
#define WS_ACCEPT_LEN    28   /* base64 of a SHA-1 */

enum ws_handshake_result {
	WS_HANDSHAKE_NEED_MORE, /* no blank line yet, and under WS_HANDSHAKE_MAX */
	WS_HANDSHAKE_OK,        /* *req is filled; the request took req->head_len bytes */
	WS_HANDSHAKE_BAD,       /* refuse with req->status and req->reason */
};

struct ws_request {
	size_t head_len;
	char key[WS_KEY_LEN + 1];
	bool binary_protocol; /* the client offered "Sec-WebSocket-Protocol: binary" */
	unsigned status;      /* on BAD: 400, 426 (version) or 431 (too large) */
	const char *reason;   /* on BAD: a sentence for the refusal's body */
};

/* Looks at the first len bytes a WebSocket client sent. */
enum ws_handshake_result ws_handshake_parse(const uint8_t *buf, size_t len, struct ws_request *req);

/* Sec-WebSocket-Accept of key: base64(SHA-1(key || GUID)), NUL-terminated. */
int ws_accept_of(const char key[WS_KEY_LEN + 1], char out[WS_ACCEPT_LEN + 1]);

/* The 101 answer for req into out (NUL-terminated); returns its length, 0
 * when it does not fit or the accept value cannot be computed. */
size_t ws_handshake_accept(const struct ws_request *req, char *out, size_t outsz);

/* The refusal answer (status and reason of req) into out; returns its
 * length. The connection is closed after it. */
size_t ws_handshake_refusal(const struct ws_request *req, char *out, size_t outsz);

#endif
