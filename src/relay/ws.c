/*
 * A WebSocket side of the relay (see ws.h): plaintext or TLS in, HTTP
 * upgrade, then wslay's server framing. Everything this layer has to send
 * in one call (handshake answer, frames, TLS records) is gathered in one
 * buffer and handed to the relay's wire_write at the end of the call, so
 * the relay's write-queue accounting (and back-pressure) covers it. TLS
 * reads come straight from the bytes the relay read (gnutls keeps a
 * partial record itself); records are corked so one message goes out in
 * as few records as its size allows.
 */
#include "ws.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "ws_handshake.h"

#define TLS_PRIORITY      "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define CLOSE_UNSUPPORTED 1003

struct bytes {
	uint8_t *p;
	size_t len, off, cap;
};

struct ws_conn {
	const struct ws_io *io;
	void *user;
	gnutls_session_t tls; /* NULL: plain */
	bool tls_done;
	const uint8_t *cin; /* ciphertext of the current input, for gnutls' pull */
	size_t cin_len;
	wslay_event_context_ptr ws; /* after the upgrade */
	bool refused;               /* a text message came: closing with 1003 */
	bool closed;                /* ws_conn_close ran */
	bool failed;                /* a write could not be handed over */
	struct bytes pin;           /* plaintext read, not yet parsed */
	struct bytes out;           /* bytes to send at the end of this call */
};

static int bytes_add(struct bytes *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* Hands what was gathered to the socket. */
static void flush(struct ws_conn *c)
{
	if (!c->out.len)
		return;
	char *data = (char *)c->out.p;
	size_t len = c->out.len;
	c->out = (struct bytes){0};
	if (c->io->wire_write(c->user, data, len) != 0)
		c->failed = true;
}

/* --- gnutls transport ----------------------------------------------------- */

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct ws_conn *c = ptr;
	if (bytes_add(&c->out, data, len) != 0) {
		gnutls_transport_set_errno(c->tls, ENOMEM);
		return -1;
	}
	return (ssize_t)len;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct ws_conn *c = ptr;
	if (!c->cin_len) {
		gnutls_transport_set_errno(c->tls, EAGAIN);
		return -1;
	}
	size_t n = len < c->cin_len ? len : c->cin_len;
	memcpy(data, c->cin, n);
	c->cin += n;
	c->cin_len -= n;
	return (ssize_t)n;
}

/* --- wslay callbacks -------------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	(void)flags;
	struct ws_conn *c = user;
	size_t avail = c->pin.len - c->pin.off;
	if (!avail) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < avail ? len : avail;
	memcpy(buf, c->pin.p + c->pin.off, n);
	c->pin.off += n;
	return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)flags;
	struct ws_conn *c = user;
	if (!c->tls) {
		if (bytes_add(&c->out, data, len) != 0) {
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
		return (ssize_t)len;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = gnutls_record_send(c->tls, data + done, len - done);
		if (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
			wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
			return -1;
		}
		if (n > 0)
			done += (size_t)n;
	}
	return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct ws_conn *c = user;
	if (c->refused || c->closed)
		return;
	if (arg->opcode == WSLAY_TEXT_FRAME) {
		static const char why[] = "text messages are refused: send binary messages";
		c->refused = true;
		wslay_event_queue_close(ctx, CLOSE_UNSUPPORTED, (const uint8_t *)why, sizeof why - 1);
		return;
	}
	if (arg->opcode == WSLAY_BINARY_FRAME && arg->msg_length)
		c->io->on_payload(c->user, arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks WS_CALLBACKS = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* Sends what wslay has queued, inside one TLS cork. */
static void ws_send_queued(struct ws_conn *c)
{
	if (!c->ws)
		return;
	if (c->tls)
		gnutls_record_cork(c->tls);
	if (wslay_event_send(c->ws) != 0)
		c->failed = true;
	if (c->tls)
		gnutls_record_uncork(c->tls, GNUTLS_RECORD_WAIT);
}

/* --- the connection ----------------------------------------------------------- */

struct ws_conn *ws_conn_new(const struct ws_io *io, void *user, gnutls_certificate_credentials_t cred,
                            gnutls_priority_t prio)
{
	struct ws_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->io = io;
	c->user = user;
	if (cred) {
		if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) != 0) {
			free(c);
			return NULL;
		}
		if (gnutls_priority_set(c->tls, prio) != 0 ||
		    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) != 0) {
			gnutls_deinit(c->tls);
			free(c);
			return NULL;
		}
		gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_IGNORE);
		gnutls_transport_set_ptr(c->tls, c);
		gnutls_transport_set_push_function(c->tls, tls_push);
		gnutls_transport_set_pull_function(c->tls, tls_pull);
	}
	return c;
}

bool ws_conn_upgraded(const struct ws_conn *c)
{
	return c->ws != NULL;
}

bool ws_conn_protocol_error(const struct ws_conn *c)
{
	if (c->refused)
		return true;
	return c->ws && !c->closed && wslay_event_get_close_sent(c->ws) && !wslay_event_get_close_received(c->ws) &&
	       wslay_event_get_status_code_sent(c->ws) != WSLAY_CODE_NORMAL_CLOSURE;
}

/* Plaintext from the client: the upgrade request, then frames. */
static enum ws_status take_plain(struct ws_conn *c, const uint8_t *data, size_t n)
{
	if (bytes_add(&c->pin, data, n) != 0)
		return WS_CLOSED;
	if (!c->ws) {
		struct ws_request req;
		enum ws_handshake_result hr = ws_handshake_parse(c->pin.p, c->pin.len, &req);
		if (hr == WS_HANDSHAKE_NEED_MORE)
			return WS_GOING;
		char answer[1024];
		if (hr == WS_HANDSHAKE_BAD) {
			size_t len = ws_handshake_refusal(&req, answer, sizeof answer);
			if (c->tls)
				gnutls_record_send(c->tls, answer, len);
			else
				bytes_add(&c->out, answer, len);
			return WS_BAD_HANDSHAKE;
		}
		size_t len = ws_handshake_accept(&req, answer, sizeof answer);
		if (!len || wslay_event_context_server_init(&c->ws, &WS_CALLBACKS, c) != 0) {
			c->ws = NULL;
			return WS_CLOSED;
		}
		wslay_event_config_set_max_recv_msg_length(c->ws, WS_MESSAGE_MAX);
		if (c->tls)
			gnutls_record_send(c->tls, answer, len);
		else
			bytes_add(&c->out, answer, len);
		c->pin.off = req.head_len;
	}
	int rc = wslay_event_recv(c->ws);
	c->pin.len = c->pin.off = 0;
	ws_send_queued(c);
	if (rc != 0 || c->failed || !wslay_event_want_read(c->ws) || wslay_event_get_close_sent(c->ws))
		return WS_CLOSED;
	return WS_GOING;
}

enum ws_status ws_conn_input(struct ws_conn *c, const uint8_t *data, size_t len)
{
	if (c->closed)
		return WS_CLOSED;
	enum ws_status st = WS_GOING;
	if (!c->tls) {
		st = take_plain(c, data, len);
		flush(c);
		return st;
	}
	c->cin = data;
	c->cin_len = len;
	if (!c->tls_done) {
		int rc = gnutls_handshake(c->tls);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
			flush(c);
			c->cin = NULL;
			c->cin_len = 0;
			return WS_GOING;
		}
		if (rc < 0) {
			flush(c); /* the alert, if any */
			c->cin = NULL;
			c->cin_len = 0;
			return WS_BAD_TLS;
		}
		c->tls_done = true;
	}
	uint8_t plain[16384];
	while (st == WS_GOING) {
		ssize_t n = gnutls_record_recv(c->tls, plain, sizeof plain);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			break;
		if (n == 0) {
			st = WS_CLOSED; /* close_notify */
		} else if (n < 0) {
			if (gnutls_error_is_fatal((int)n))
				st = WS_CLOSED;
		} else {
			st = take_plain(c, plain, (size_t)n);
		}
	}
	c->cin = NULL;
	c->cin_len = 0;
	flush(c);
	return st;
}

int ws_conn_send(struct ws_conn *c, const uint8_t *data, size_t len)
{
	if (!c->ws || c->closed || c->failed)
		return -1;
	struct wslay_event_msg msg = {.opcode = WSLAY_BINARY_FRAME, .msg = data, .msg_length = len};
	if (wslay_event_queue_msg(c->ws, &msg) != 0)
		return -1;
	ws_send_queued(c);
	flush(c);
	return c->failed ? -1 : 0;
}

void ws_conn_ping(struct ws_conn *c)
{
	if (!c->ws || c->closed || c->failed)
		return;
	struct wslay_event_msg msg = {.opcode = WSLAY_PING, .msg = (const uint8_t *)"vitrine", .msg_length = 7};
	if (wslay_event_queue_msg(c->ws, &msg) != 0)
		return;
	ws_send_queued(c);
	flush(c);
}

void ws_conn_close(struct ws_conn *c, uint16_t code)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->ws) {
		if (!wslay_event_get_close_sent(c->ws))
			wslay_event_queue_close(c->ws, code ? code : WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
		ws_send_queued(c);
	}
	if (c->tls && c->tls_done)
		gnutls_bye(c->tls, GNUTLS_SHUT_WR);
	flush(c);
}

void ws_conn_free(struct ws_conn *c)
{
	if (!c)
		return;
	if (c->ws)
		wslay_event_context_free(c->ws);
	if (c->tls)
		gnutls_deinit(c->tls);
	free(c->pin.p);
	free(c->out.p);
	free(c);
}

int ws_tls_load(const char *cert_file, const char *key_file, gnutls_certificate_credentials_t *cred,
                gnutls_priority_t *prio, char *err, size_t errsz)
{
	int rc = gnutls_certificate_allocate_credentials(cred);
	if (rc != 0) {
		snprintf(err, errsz, "TLS: %s", gnutls_strerror(rc));
		return -1;
	}
	rc = gnutls_certificate_set_x509_key_file(*cred, cert_file, key_file, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		snprintf(err, errsz, "--tls-cert %s / --tls-key %s: %s", cert_file, key_file, gnutls_strerror(rc));
		gnutls_certificate_free_credentials(*cred);
		return -1;
	}
	const char *where = NULL;
	rc = gnutls_priority_init(prio, TLS_PRIORITY, &where);
	if (rc != 0) {
		snprintf(err, errsz, "TLS priority: %s", gnutls_strerror(rc));
		gnutls_certificate_free_credentials(*cred);
		return -1;
	}
	return 0;
}
