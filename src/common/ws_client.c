/*
 * The WebSocket client of the relay fallback (see ws_client.h). Connect:
 * dial.c's TCP connect, then for wss:// a gnutls session (default
 * priorities, the system trust or a CA file, the certificate checked
 * against the URL's host: a name or an IP address), then the Upgrade
 * request and its 101 answer read byte by byte (so no frame byte is read
 * ahead) with Sec-WebSocket-Accept checked. Framing is wslay's event API
 * without message buffering: payload chunks of binary frames go straight
 * into a read queue; a text frame fails the connection. Sends are queued as
 * one message at a time and flushed as the descriptor takes them.
 */
#include "ws_client.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <wslay/wslay.h>

#include "dial.h"
#include "monotonic.h"

#define WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_HEADERS_MAX   8192
#define WS_READQ_HIGH    (1u << 20) /* stop reading the socket beyond this much queued payload */
#define WS_CLOSE_WAIT_MS 500

struct ws_client {
	int fd;
	bool tls;
	gnutls_session_t sess;
	gnutls_certificate_credentials_t cred;
	wslay_event_context_ptr ctx;
	uint8_t *rq; /* received payload not yet read */
	size_t rq_off, rq_len, rq_cap;
	bool in_binary;   /* the message being received is binary */
	bool failed;      /* protocol error seen (text message, bad frame) */
	bool eof;         /* the transport ended */
	int io_errno;     /* errno of a transport failure */
	uint8_t *sendbuf; /* the message being queued (wslay keeps a pointer) */
};

/* Raw transport I/O: -1 with errno EAGAIN when it would block. */
static ssize_t raw_recv(struct ws_client *w, void *buf, size_t len)
{
	if (w->tls) {
		for (;;) {
			ssize_t n = gnutls_record_recv(w->sess, buf, len);
			if (n >= 0)
				return n;
			if (n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n == GNUTLS_E_AGAIN) {
				errno = EAGAIN;
				return -1;
			}
			if (n == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;
			errno = ECONNRESET;
			return -1;
		}
	}
	for (;;) {
		ssize_t n = recv(w->fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EWOULDBLOCK)
			errno = EAGAIN;
		return n;
	}
}

static ssize_t raw_send(struct ws_client *w, const void *buf, size_t len)
{
	if (w->tls) {
		for (;;) {
			ssize_t n = gnutls_record_send(w->sess, buf, len);
			if (n >= 0)
				return n;
			if (n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n == GNUTLS_E_AGAIN) {
				errno = EAGAIN;
				return -1;
			}
			errno = EPIPE;
			return -1;
		}
	}
	for (;;) {
		ssize_t n = send(w->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EWOULDBLOCK)
			errno = EAGAIN;
		return n;
	}
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, monotonic_left_ms(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ETIMEDOUT;
		return n > 0 ? 0 : -1;
	}
}

static int send_all_blocking(struct ws_client *w, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = raw_send(w, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (wait_fd(w->fd, POLLOUT, deadline) < 0)
			return -1;
	}
	return 0;
}

/* ---- wslay callbacks ---- */

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	(void)flags;
	struct ws_client *w = user;
	if (w->rq_len - w->rq_off >= WS_READQ_HIGH) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	ssize_t n = raw_recv(w, buf, len);
	if (n > 0)
		return n;
	if (n < 0 && errno == EAGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	w->eof = true;
	w->io_errno = n < 0 ? errno : 0;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	(void)flags;
	struct ws_client *w = user;
	ssize_t n = raw_send(w, data, len);
	if (n >= 0)
		return n;
	if (errno == EAGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	w->io_errno = errno;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)ctx;
	(void)user;
	randombytes_buf(buf, len);
	return 0;
}

static void cb_frame_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *user)
{
	struct ws_client *w = user;
	if (arg->opcode == WSLAY_BINARY_FRAME) {
		w->in_binary = true;
	} else if (arg->opcode == WSLAY_TEXT_FRAME || (arg->opcode == WSLAY_CONTINUATION_FRAME && !w->in_binary)) {
		w->failed = true;
		wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, NULL, 0);
	}
}

static void cb_frame_chunk(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_chunk_arg *arg,
                           void *user)
{
	(void)ctx;
	struct ws_client *w = user;
	if (w->failed || !w->in_binary)
		return;
	if (w->rq_off == w->rq_len)
		w->rq_off = w->rq_len = 0;
	if (w->rq_cap - w->rq_len < arg->data_length) {
		if (w->rq_off > 0) {
			memmove(w->rq, w->rq + w->rq_off, w->rq_len - w->rq_off);
			w->rq_len -= w->rq_off;
			w->rq_off = 0;
		}
		size_t need = w->rq_len + arg->data_length, ncap = w->rq_cap ? w->rq_cap : 65536;
		while (ncap < need)
			ncap *= 2;
		if (ncap != w->rq_cap) {
			uint8_t *n = realloc(w->rq, ncap);
			if (!n) {
				w->failed = true;
				return;
			}
			w->rq = n;
			w->rq_cap = ncap;
		}
	}
	memcpy(w->rq + w->rq_len, arg->data, arg->data_length);
	w->rq_len += arg->data_length;
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	(void)ctx;
	struct ws_client *w = user;
	if (!wslay_is_ctrl_frame(arg->opcode))
		w->in_binary = false;
}

/* ---- connect ---- */

struct url {
	bool tls;
	char host[256];
	unsigned port;
	char path[1024];
	char hosthdr[300];
};

static int parse_url(const char *s, struct url *u)
{
	memset(u, 0, sizeof *u);
	if (strncasecmp(s, "wss://", 6) == 0) {
		u->tls = true;
		s += 6;
	} else if (strncasecmp(s, "ws://", 5) == 0) {
		s += 5;
	} else {
		return -1;
	}
	const char *end = s + strcspn(s, "/?#");
	const char *hs = s, *he, *ps = NULL;
	if (*s == '[') {
		hs = s + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (!he)
			return -1;
		if (he + 1 < end) {
			if (he[1] != ':')
				return -1;
			ps = he + 2;
		}
	} else {
		he = memchr(s, ':', (size_t)(end - s));
		if (he)
			ps = he + 1;
		else
			he = end;
	}
	size_t hl = (size_t)(he - hs);
	if (hl == 0 || hl >= sizeof u->host)
		return -1;
	memcpy(u->host, hs, hl);
	u->port = u->tls ? 443 : 80;
	if (ps) {
		if (ps == end)
			return -1;
		unsigned p = 0;
		for (const char *c = ps; c < end; c++) {
			if (*c < '0' || *c > '9' || p > 65535)
				return -1;
			p = p * 10 + (unsigned)(*c - '0');
		}
		if (p == 0 || p > 65535)
			return -1;
		u->port = p;
	}
	for (const char *c = s; c < end; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return -1;
	if (*end == '/' || *end == '?') {
		size_t pl = strcspn(end, "#");
		if (pl >= sizeof u->path)
			return -1;
		if (*end == '?')
			u->path[0] = '/';
		memcpy(u->path + (*end == '?'), end, pl);
		for (char *c = u->path; *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f)
				return -1;
	} else {
		strcpy(u->path, "/");
	}
	size_t al = (size_t)(end - s);
	if (al >= sizeof u->hosthdr)
		return -1;
	memcpy(u->hosthdr, s, al);
	return 0;
}

static int tls_start(struct ws_client *w, const struct url *u, const char *ca_file, int64_t deadline, char *err,
                     size_t errsz)
{
	int r = gnutls_certificate_allocate_credentials(&w->cred);
	if (r < 0) {
		snprintf(err, errsz, "TLS: %s", gnutls_strerror(r));
		return -1;
	}
	if (ca_file && *ca_file) {
		r = gnutls_certificate_set_x509_trust_file(w->cred, ca_file, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			snprintf(err, errsz, "cannot read CA certificates from %s%s%s", ca_file, r < 0 ? ": " : "",
			         r < 0 ? gnutls_strerror(r) : " (none found)");
			return -1;
		}
	} else {
		r = gnutls_certificate_set_x509_system_trust(w->cred);
		if (r <= 0) {
			snprintf(err, errsz, "TLS: the system's trusted certificates could not be loaded");
			return -1;
		}
	}
	if ((r = gnutls_init(&w->sess, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL)) < 0 ||
	    (r = gnutls_set_default_priority(w->sess)) < 0 ||
	    (r = gnutls_credentials_set(w->sess, GNUTLS_CRD_CERTIFICATE, w->cred)) < 0) {
		snprintf(err, errsz, "TLS: %s", gnutls_strerror(r));
		return -1;
	}
	/* SNI only for names: RFC 6066 forbids IP literals there */
	bool is_ip = strchr(u->host, ':') || strspn(u->host, "0123456789.") == strlen(u->host);
	if (!is_ip)
		gnutls_server_name_set(w->sess, GNUTLS_NAME_DNS, u->host, strlen(u->host));
	gnutls_session_set_verify_cert(w->sess, u->host, 0);
	gnutls_transport_set_int(w->sess, w->fd);
	gnutls_handshake_set_timeout(w->sess, 0);
	for (;;) {
		r = gnutls_handshake(w->sess);
		if (r == 0)
			break;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			short ev = gnutls_record_get_direction(w->sess) ? POLLOUT : POLLIN;
			if (wait_fd(w->fd, ev, deadline) < 0) {
				snprintf(err, errsz, "TLS handshake with %s: no answer within the time limit", u->host);
				return -1;
			}
			continue;
		}
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t out = {0};
			unsigned status = gnutls_session_get_verify_cert_status(w->sess);
			gnutls_certificate_type_t type = gnutls_certificate_type_get(w->sess);
			if (gnutls_certificate_verification_status_print(status, type, &out, 0) == 0) {
				snprintf(err, errsz, "TLS: the certificate of %s is not trusted: %s", u->host,
				         out.data);
				gnutls_free(out.data);
			} else {
				snprintf(err, errsz, "TLS: the certificate of %s is not trusted", u->host);
			}
			return -1;
		}
		if (gnutls_error_is_fatal(r)) {
			snprintf(err, errsz, "TLS handshake with %s: %s", u->host, gnutls_strerror(r));
			return -1;
		}
	}
	w->tls = true;
	return 0;
}

/* A header line's value when its name matches (case-insensitive), else NULL. */
static const char *header_value(const char *line, const char *name)
{
	size_t nl = strlen(name);
	if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		size_t l = strcspn(v, ",");
		size_t t = l;
		while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v += l;
	}
	return false;
}

static int upgrade(struct ws_client *w, const struct url *u, int64_t deadline, char *err, size_t errsz)
{
	uint8_t nonce[16];
	randombytes_buf(nonce, sizeof nonce);
	char key[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(key, sizeof key, nonce, sizeof nonce, sodium_base64_VARIANT_ORIGINAL);
	char req[2048];
	int rl = snprintf(req, sizeof req,
	                  "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: vitrine\r\n\r\n",
	                  u->path, u->hosthdr, key);
	if (rl < 0 || (size_t)rl >= sizeof req) {
		snprintf(err, errsz, "the WebSocket URL is too long");
		return -1;
	}
	if (send_all_blocking(w, req, (size_t)rl, deadline) < 0) {
		snprintf(err, errsz, "cannot send the WebSocket request: %s", strerror(errno));
		return -1;
	}
	char *hdr = malloc(WS_HEADERS_MAX + 1);
	if (!hdr) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	size_t n = 0;
	int rc = -1;
	while (!(n >= 4 && memcmp(hdr + n - 4, "\r\n\r\n", 4) == 0)) {
		if (n >= WS_HEADERS_MAX) {
			snprintf(err, errsz, "the WebSocket answer's headers are too long");
			goto out;
		}
		ssize_t r = raw_recv(w, hdr + n, 1);
		if (r == 1) {
			n++;
			continue;
		}
		if (r == 0 || errno != EAGAIN) {
			snprintf(err, errsz, "the WebSocket server closed the connection before its answer");
			goto out;
		}
		if (w->tls && gnutls_record_check_pending(w->sess) > 0)
			continue;
		if (wait_fd(w->fd, POLLIN, deadline) < 0) {
			snprintf(err, errsz, "the WebSocket server did not answer within the time limit");
			goto out;
		}
	}
	hdr[n] = '\0';
	char *save = NULL, *line = strtok_r(hdr, "\r\n", &save);
	if (!line || strncmp(line, "HTTP/1.1 101", 12) != 0 || (line[12] != ' ' && line[12] != '\0')) {
		snprintf(err, errsz, "the WebSocket server answered \"%.80s\" instead of 101", line ? line : "");
		goto out;
	}
	uint8_t digest[20];
	char src[64], expect[sodium_base64_ENCODED_LEN(20, sodium_base64_VARIANT_ORIGINAL)];
	snprintf(src, sizeof src, "%s%s", key, WS_GUID);
	gnutls_hash_fast(GNUTLS_DIG_SHA1, src, strlen(src), digest);
	sodium_bin2base64(expect, sizeof expect, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
	bool up = false, conn = false, accept = false;
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		const char *v;
		if ((v = header_value(line, "Upgrade")))
			up = has_token(v, "websocket");
		else if ((v = header_value(line, "Connection")))
			conn = has_token(v, "upgrade");
		else if ((v = header_value(line, "Sec-WebSocket-Accept"))) {
			size_t vl = strcspn(v, " \t");
			accept = vl == strlen(expect) && memcmp(v, expect, vl) == 0;
		}
	}
	if (!up || !conn || !accept) {
		snprintf(err, errsz, "the WebSocket server's 101 answer is not valid (%s)",
		         !accept ? "Sec-WebSocket-Accept"
		         : !up   ? "Upgrade"
		                 : "Connection");
		goto out;
	}
	rc = 0;
out:
	free(hdr);
	return rc;
}

struct ws_client *ws_client_connect(const char *url, const char *ca_file, unsigned timeout_ms, char *err, size_t errsz)
{
	struct url u;
	if (!url || parse_url(url, &u) < 0) {
		snprintf(err, errsz, "not a ws:// or wss:// URL: %.200s", url ? url : "");
		return NULL;
	}
	int64_t deadline = monotonic_ms() + timeout_ms;
	int fd = dial_tcp(u.host, u.port, timeout_ms, err, errsz);
	if (fd < 0)
		return NULL;
	struct ws_client *w = calloc(1, sizeof *w);
	if (!w) {
		close(fd);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	w->fd = fd;
	if (u.tls && tls_start(w, &u, ca_file, deadline, err, errsz) < 0)
		goto failed;
	if (upgrade(w, &u, deadline, err, errsz) < 0)
		goto failed;
	struct wslay_event_callbacks cb = {
	    .recv_callback = cb_recv,
	    .send_callback = cb_send,
	    .genmask_callback = cb_genmask,
	    .on_frame_recv_start_callback = cb_frame_start,
	    .on_frame_recv_chunk_callback = cb_frame_chunk,
	    .on_msg_recv_callback = cb_msg,
	};
	if (wslay_event_context_client_init(&w->ctx, &cb, w) != 0) {
		snprintf(err, errsz, "out of memory");
		goto failed;
	}
	wslay_event_config_set_no_buffering(w->ctx, 1);
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_RECV_MESSAGE);
	return w;
failed:
	ws_client_close(w);
	return NULL;
}

int ws_client_fd(const struct ws_client *w)
{
	return w->fd;
}

bool ws_client_is_tls(const struct ws_client *w)
{
	return w->tls;
}

bool ws_client_buffered(const struct ws_client *w)
{
	return w->rq_off < w->rq_len || w->failed || w->eof || (w->tls && gnutls_record_check_pending(w->sess) > 0);
}

ssize_t ws_client_read(struct ws_client *w, void *buf, size_t cap)
{
	for (;;) {
		if (w->rq_off < w->rq_len) {
			size_t n = w->rq_len - w->rq_off;
			if (n > cap)
				n = cap;
			memcpy(buf, w->rq + w->rq_off, n);
			w->rq_off += n;
			return (ssize_t)n;
		}
		if (w->failed) {
			errno = EPROTO;
			return -1;
		}
		if (w->eof || wslay_event_get_close_received(w->ctx)) {
			if (w->io_errno) {
				errno = w->io_errno;
				return -1;
			}
			return 0;
		}
		size_t before = w->rq_len;
		int r = wslay_event_recv(w->ctx);
		/* answer pings and closes at once; failures show on the next call */
		if (wslay_event_want_write(w->ctx))
			wslay_event_send(w->ctx);
		if (r != 0 && !w->eof) {
			w->failed = true;
			continue;
		}
		if (w->rq_len > before || w->eof || w->failed || wslay_event_get_close_received(w->ctx))
			continue;
		errno = EAGAIN;
		return -1;
	}
}

bool ws_client_write_pending(const struct ws_client *w)
{
	return wslay_event_want_write(w->ctx) && !w->io_errno;
}

int ws_client_flush(struct ws_client *w)
{
	if (w->io_errno) {
		errno = w->io_errno;
		return -1;
	}
	if (wslay_event_send(w->ctx) != 0) {
		errno = w->io_errno ? w->io_errno : EPIPE;
		return -1;
	}
	return 0;
}

ssize_t ws_client_write_some(struct ws_client *w, const void *buf, size_t len)
{
	if (w->io_errno || !wslay_event_get_write_enabled(w->ctx)) {
		errno = w->io_errno ? w->io_errno : EPIPE;
		return -1;
	}
	if (wslay_event_want_write(w->ctx)) { /* one message at a time, the last one wholly sent */
		if (ws_client_flush(w) < 0)
			return -1;
		if (wslay_event_want_write(w->ctx)) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (len > WS_MAX_SEND_MESSAGE)
		len = WS_MAX_SEND_MESSAGE;
	if (!w->sendbuf && !(w->sendbuf = malloc(WS_MAX_SEND_MESSAGE))) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(w->sendbuf, buf, len);
	struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = w->sendbuf, .msg_length = len};
	if (wslay_event_queue_msg(w->ctx, &m) != 0) {
		errno = EPIPE;
		return -1;
	}
	if (ws_client_flush(w) < 0)
		return -1;
	return (ssize_t)len;
}

void ws_client_close(struct ws_client *w)
{
	if (!w)
		return;
	if (w->ctx) {
		if (!w->io_errno && !wslay_event_get_close_sent(w->ctx)) {
			wslay_event_queue_close(w->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
			int64_t deadline = monotonic_ms() + WS_CLOSE_WAIT_MS;
			while (wslay_event_want_write(w->ctx) && !w->io_errno) {
				if (wslay_event_send(w->ctx) != 0)
					break;
				if (!wslay_event_want_write(w->ctx) || wait_fd(w->fd, POLLOUT, deadline) < 0)
					break;
			}
		}
		wslay_event_context_free(w->ctx);
	}
	if (w->sess) {
		if (w->tls)
			gnutls_bye(w->sess, GNUTLS_SHUT_WR);
		gnutls_deinit(w->sess);
	}
	if (w->cred)
		gnutls_certificate_free_credentials(w->cred);
	if (w->fd >= 0)
		close(w->fd);
	free(w->rq);
	free(w->sendbuf);
	free(w);
}
