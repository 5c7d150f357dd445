/*
 * The relay's admin HTTP responder (see admin.h). Each connection reads
 * at most one request head (ADMIN_HEAD_MAX bytes, ADMIN_TIMEOUT_MS), is
 * answered with Connection: close, and is closed.
 */
#include "admin.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_HEAD_MAX   4096
#define ADMIN_TIMEOUT_MS 5000
#define METRICS_MAX      4096

struct admin {
	uv_loop_t *loop;
	uv_tcp_t listener;
	const struct relay *relay;
	struct admin_conn *conns;
	bool stopping;
};

struct admin_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t write;
	struct admin *admin;
	int open_handles;
	bool answered;
	char head[ADMIN_HEAD_MAX];
	size_t head_len;
	char *reply;
	struct admin_conn *prev, *next;
};

size_t admin_render_metrics(const struct relay_stats *st, char *out, size_t outsz)
{
	int n = snprintf(out, outsz,
	                 "# TYPE vitrine_relay_sessions_active gauge\n"
	                 "vitrine_relay_sessions_active %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_sessions_total counter\n"
	                 "vitrine_relay_sessions_total %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_sides_waiting gauge\n"
	                 "vitrine_relay_sides_waiting %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_connections gauge\n"
	                 "vitrine_relay_connections %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_bytes_total counter\n"
	                 "vitrine_relay_bytes_total{direction=\"guest_to_host\"} %" PRIu64 "\n"
	                 "vitrine_relay_bytes_total{direction=\"host_to_guest\"} %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_rate_pauses_total counter\n"
	                 "vitrine_relay_rate_pauses_total %" PRIu64 "\n"
	                 "# TYPE vitrine_relay_refusals_total counter\n",
	                 st->sessions_active, st->sessions_total, st->sides_waiting, st->connections,
	                 st->bytes_guest_to_host, st->bytes_host_to_guest, st->rate_pauses);
	size_t len = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < REFUSAL_REASONS && len < outsz; i++) {
		n = snprintf(out + len, outsz - len, "vitrine_relay_refusals_total{reason=\"%s\"} %" PRIu64 "\n",
		             relay_refusal_name((enum relay_refusal)i), st->refusals[i]);
		if (n > 0)
			len += (size_t)n;
	}
	static const char *const KINDS[2] = {"connections_open", "connections_accepted_total"};
	for (int k = 0; k < 2 && len < outsz; k++) {
		n = snprintf(out + len, outsz - len, "# TYPE vitrine_relay_%s %s\n", KINDS[k], k ? "counter" : "gauge");
		if (n > 0)
			len += (size_t)n;
		for (int t = 0; t < RELAY_TRANSPORTS && len < outsz; t++) {
			n = snprintf(out + len, outsz - len, "vitrine_relay_%s{transport=\"%s\"} %" PRIu64 "\n",
			             KINDS[k], relay_transport_name((enum relay_transport)t),
			             k ? st->connections_total[t] : st->connections_open[t]);
			if (n > 0)
				len += (size_t)n;
		}
	}
	return len < outsz ? len : outsz - 1;
}

static void on_conn_closed(uv_handle_t *h)
{
	struct admin_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->admin->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->reply);
	free(c);
}

static void conn_close(struct admin_conn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_reply_written(uv_write_t *req, int status)
{
	(void)status;
	conn_close(req->data);
}

static void conn_reply(struct admin_conn *c, const char *status, const char *body, size_t body_len)
{
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	size_t cap = body_len + 200;
	c->reply = malloc(cap);
	if (!c->reply) {
		conn_close(c);
		return;
	}
	int n = snprintf(c->reply, cap,
	                 "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                 status, body_len);
	if (n < 0 || (size_t)n + body_len > cap) {
		conn_close(c);
		return;
	}
	memcpy(c->reply + n, body, body_len);
	uv_buf_t b = uv_buf_init(c->reply, (unsigned)((size_t)n + body_len));
	c->write.data = c;
	if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_reply_written) != 0)
		conn_close(c);
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static void conn_answer(struct admin_conn *c)
{
	const char *h = c->head;
	size_t len = c->head_len;
	if (starts_with(h, len, "GET /healthz ") || starts_with(h, len, "GET /healthz?")) {
		conn_reply(c, "200 OK", "ok\n", strlen("ok\n"));
	} else if (starts_with(h, len, "GET /metrics ") || starts_with(h, len, "GET /metrics?")) {
		char body[METRICS_MAX];
		size_t n = admin_render_metrics(
		    c->admin->relay ? relay_stats(c->admin->relay) : &(struct relay_stats){0}, body, sizeof body);
		conn_reply(c, "200 OK", body, n);
	} else if (starts_with(h, len, "GET ")) {
		const char *msg = "not found: the admin port serves /healthz and /metrics\n";
		conn_reply(c, "404 Not Found", msg, strlen(msg));
	} else {
		conn_reply(c, "400 Bad Request", "bad request\n", strlen("bad request\n"));
	}
}

static void on_admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct admin_conn *c = h->data;
	buf->base = c->head + c->head_len;
	buf->len = sizeof c->head - 1 - c->head_len;
}

static void on_admin_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct admin_conn *c = stream->data;
	if (c->answered)
		return;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->head_len += (size_t)nread;
	c->head[c->head_len] = '\0';
	if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
		conn_answer(c);
	else if (c->head_len >= sizeof c->head - 1)
		conn_reply(c, "431 Request Header Fields Too Large", "request head too large\n",
		           strlen("request head too large\n"));
}

static void on_admin_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_admin_connection(uv_stream_t *listener, int status)
{
	struct admin *a = listener->data;
	if (status < 0 || a->stopping)
		return;
	struct admin_conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->admin = a;
	uv_tcp_init(a->loop, &c->tcp);
	uv_timer_init(a->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = a->conns;
	if (a->conns)
		a->conns->prev = c;
	a->conns = c;
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_admin_timeout, ADMIN_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_admin_alloc, on_admin_read);
}

struct admin *admin_start(uv_loop_t *loop, const char *host, int port, const struct relay *relay, char *err,
                          size_t errsz)
{
	struct admin *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	a->loop = loop;
	a->relay = relay;
	struct sockaddr_storage addr;
	int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
	if (rc != 0)
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
	if (rc != 0) {
		snprintf(err, errsz, "--admin-listen: %s is not an IP address", host);
		free(a);
		return NULL;
	}
	uv_tcp_init(loop, &a->listener);
	a->listener.data = a;
	if ((rc = uv_tcp_bind(&a->listener, (const struct sockaddr *)&addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&a->listener, 128, on_admin_connection)) != 0) {
		snprintf(err, errsz, "--admin-listen %s:%d: %s", host, port, uv_strerror(rc));
		uv_close((uv_handle_t *)&a->listener, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		free(a);
		return NULL;
	}
	return a;
}

void admin_stop(struct admin *a)
{
	a->stopping = true;
	if (!uv_is_closing((uv_handle_t *)&a->listener))
		uv_close((uv_handle_t *)&a->listener, NULL);
	for (struct admin_conn *c = a->conns; c; c = c->next)
		conn_close(c);
}

void admin_free(struct admin *a)
{
	free(a);
}
