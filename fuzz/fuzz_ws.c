/*
 * Fuzz target: the relay's WebSocket side (src/relay/ws_handshake.c and
 * src/relay/ws.c over wslay), as a client's bytes reach it. The first input
 * byte picks what is fuzzed: even, the opening handshake parser and its
 * answers on the rest; odd, a plain WebSocket connection that gets a valid
 * upgrade and then the rest as frames, fed in chunks of (byte >> 1) + 1
 * bytes, with the relay's sends and close in between. Any input must be
 * answered or refused, never read past its end, leak or crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/ws.h"
#include "relay/ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t delivered;

static int wire_write(void *user, char *buf, size_t len)
{
	(void)user;
	(void)len;
	free(buf);
	return 0;
}

static void on_payload(void *user, const uint8_t *buf, size_t len)
{
	struct ws_conn **c = user;
	delivered += len;
	if (len && buf[0] == 'S')
		ws_conn_send(*c, buf, len); /* the relay answers from inside a read */
	if (len && buf[0] == 'C')
		ws_conn_close(*c, 0);
}

static const struct ws_io IO = {.wire_write = wire_write, .on_payload = on_payload};

static const char UPGRADE[] = "GET /relay HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	if ((mode & 1) == 0) {
		struct ws_request req;
		char out[2048];
		enum ws_handshake_result r = ws_handshake_parse(data, size, &req);
		if (r == WS_HANDSHAKE_OK) {
			if (req.head_len > size || req.key[WS_KEY_LEN] != '\0')
				abort();
			ws_handshake_accept(&req, out, sizeof out);
		} else if (r == WS_HANDSHAKE_BAD) {
			ws_handshake_refusal(&req, out, sizeof out);
		}
		return 0;
	}
	struct ws_conn *c = NULL;
	c = ws_conn_new(&IO, &c, NULL, NULL);
	if (!c)
		return 0;
	enum ws_status st = ws_conn_input(c, (const uint8_t *)UPGRADE, sizeof UPGRADE - 1);
	size_t chunk = (size_t)(mode >> 1) + 1;
	for (size_t off = 0; st == WS_GOING && off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		st = ws_conn_input(c, data + off, n);
		ws_conn_send(c, (const uint8_t *)"x", 1);
	}
	ws_conn_close(c, 0);
	ws_conn_free(c);
	return 0;
}
