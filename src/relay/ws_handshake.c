/*
 * The WebSocket opening handshake parser and answers (see ws_handshake.h).
 * The request must be "GET <path> HTTP/1.1" with Upgrade: websocket, a
 * Connection header holding the "upgrade" token, Sec-WebSocket-Version 13
 * and a Sec-WebSocket-Key of 16 bytes in base64. Header names are matched
 * without regard to case; a header line without a colon, a control
 * character in a line, or a head over WS_HANDSHAKE_MAX bytes is refused.
 * SHA-1 comes from gnutls (already the relay's TLS library).
 */
#include "ws_handshake.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static enum ws_handshake_result bad(struct ws_request *req, unsigned status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return WS_HANDSHAKE_BAD;
}

/* Finds the end of the head: the index after "\r\n\r\n" (or "\n\n"). */
static size_t head_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Does the comma-separated list v (vlen bytes) hold token, any case? */
static bool has_token(const char *v, size_t vlen, const char *token)
{
	size_t tlen = strlen(token), i = 0;
	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t start = i;
		while (i < vlen && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0)
			return true;
	}
	return false;
}

static bool name_is(const char *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

enum ws_handshake_result ws_handshake_parse(const uint8_t *buf, size_t len, struct ws_request *req)
{
	memset(req, 0, sizeof *req);
	size_t end = head_end(buf, len < WS_HANDSHAKE_MAX ? len : WS_HANDSHAKE_MAX);
	if (!end) {
		if (len >= WS_HANDSHAKE_MAX)
			return bad(req, 431, "the request head is over 8 KiB");
		return WS_HANDSHAKE_NEED_MORE;
	}
	req->head_len = end;
	const char *h = (const char *)buf;
	bool upgrade = false, connection = false, version = false, version_seen = false, key = false;
	size_t pos = 0, line_no = 0;
	while (pos < end) {
		size_t eol = pos;
		while (eol < end && h[eol] != '\n')
			eol++;
		size_t llen = eol - pos;
		if (llen && h[pos + llen - 1] == '\r')
			llen--;
		const char *line = h + pos;
		pos = eol + 1;
		if (llen == 0)
			break; /* the blank line */
		for (size_t i = 0; i < llen; i++)
			if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
				return bad(req, 400, "a control character in the request head");
		if (line_no++ == 0) {
			/* GET SP path SP HTTP/1.1 */
			if (llen < 14 || memcmp(line, "GET ", 4) != 0)
				return bad(req, 400, "a WebSocket handshake is a GET request");
			const char *sp = memchr(line + 4, ' ', llen - 4);
			if (!sp || sp == line + 4 || line[4] != '/')
				return bad(req, 400, "the request line wants a path starting with '/'");
			size_t rest = llen - (size_t)(sp + 1 - line);
			if (rest != 8 || memcmp(sp + 1, "HTTP/1.1", 8) != 0)
				return bad(req, 400, "a WebSocket handshake is HTTP/1.1");
			continue;
		}
		const char *colon = memchr(line, ':', llen);
		if (!colon || colon == line)
			return bad(req, 400, "a header line without a name and a colon");
		size_t nlen = (size_t)(colon - line);
		for (size_t i = 0; i < nlen; i++)
			if (line[i] == ' ' || line[i] == '\t')
				return bad(req, 400, "a space in a header name");
		const char *v = colon + 1;
		size_t vlen = llen - nlen - 1;
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (name_is(line, nlen, "Upgrade")) {
			upgrade = upgrade || has_token(v, vlen, "websocket");
		} else if (name_is(line, nlen, "Connection")) {
			connection = connection || has_token(v, vlen, "upgrade");
		} else if (name_is(line, nlen, "Sec-WebSocket-Version")) {
			version_seen = true;
			version = version || has_token(v, vlen, "13");
		} else if (name_is(line, nlen, "Sec-WebSocket-Protocol")) {
			req->binary_protocol = req->binary_protocol || has_token(v, vlen, "binary");
		} else if (name_is(line, nlen, "Sec-WebSocket-Key")) {
			unsigned char raw[32];
			size_t rawlen = 0;
			if (key || vlen != WS_KEY_LEN ||
			    sodium_base642bin(raw, sizeof raw, v, vlen, NULL, &rawlen, NULL,
			                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    rawlen != 16)
				return bad(req, 400, "Sec-WebSocket-Key must be one base64 value of 16 bytes");
			memcpy(req->key, v, WS_KEY_LEN);
			req->key[WS_KEY_LEN] = '\0';
			key = true;
		}
	}
	if (!upgrade || !connection)
		return bad(req, 400, "this port speaks WebSocket: send Upgrade: websocket and Connection: Upgrade");
	if (!version_seen || !version)
		return bad(req, 426, "only WebSocket version 13 is spoken here");
	if (!key)
		return bad(req, 400, "Sec-WebSocket-Key is missing");
	return WS_HANDSHAKE_OK;
}

int ws_accept_of(const char key[WS_KEY_LEN + 1], char out[WS_ACCEPT_LEN + 1])
{
	char text[WS_KEY_LEN + sizeof WS_GUID];
	memcpy(text, key, WS_KEY_LEN);
	memcpy(text + WS_KEY_LEN, WS_GUID, sizeof WS_GUID);
	unsigned char digest[20];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, text, WS_KEY_LEN + sizeof WS_GUID - 1, digest) != 0)
		return -1;
	sodium_bin2base64(out, WS_ACCEPT_LEN + 1, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

size_t ws_handshake_accept(const struct ws_request *req, char *out, size_t outsz)
{
	char accept[WS_ACCEPT_LEN + 1];
	if (ws_accept_of(req->key, accept) != 0)
		return 0;
	int n = snprintf(out, outsz,
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Accept: %s\r\n%s\r\n",
	                 accept, req->binary_protocol ? "Sec-WebSocket-Protocol: binary\r\n" : "");
	return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}

size_t ws_handshake_refusal(const struct ws_request *req, char *out, size_t outsz)
{
	const char *text = req->status == 426   ? "Upgrade Required"
	                   : req->status == 431 ? "Request Header Fields Too Large"
	                                        : "Bad Request";
	const char *reason = req->reason ? req->reason : "bad request";
	int n = snprintf(out, outsz,
	                 "HTTP/1.1 %u %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
	                 "%sConnection: close\r\n\r\n%s\n",
	                 req->status ? req->status : 400, text, strlen(reason) + 1,
	                 req->status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", reason);
	return n > 0 && (size_t)n < outsz ? (size_t)n : (outsz ? outsz - 1 : 0);
}
