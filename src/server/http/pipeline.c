/*
 * The request pipeline; see server.h for its steps (route -> body limit ->
 * authentication -> transaction -> handler -> log + metrics).
 *
 * MHD calls on_request() several times per request: once with the headers,
 * once per chunk of body, once at the end, and again after every resume.
 * The request's phase says which step comes next. Responses are queued from
 * the network thread that owns the connection; other threads (work pool,
 * wake hub) only prepare the response and resume the connection.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "../../common/log.h"
#include "client_ip.h"
#include "internal.h"
#include "json_body.h"

json_t *http_json_body(struct http_req *r)
{
	if (r->json)
		return r->json;
	char msg[300];
	r->json = json_body_parse(r->body, r->body_len, msg, sizeof msg);
	if (!r->json)
		http_reply_error(r, 400, "invalid_json", "%s", msg);
	return r->json;
}

/* ---------- transactions (through the hooks) ---------- */

/* Opens the route's transaction (write for ROUTE_TX_WRITE, else read);
 * without a TX flag, only when always is set (wake-up checks). */
static bool begin_route_tx(struct http_req *r, bool always)
{
	unsigned f = r->route ? r->route->flags : 0;
	if (!always && !(f & (ROUTE_TX_READ | ROUTE_TX_WRITE)))
		return true;
	r->db = r->srv->hooks.tx_begin((f & ROUTE_TX_WRITE) != 0);
	if (!r->db) {
		if (r->srv->hooks.tx_failed)
			r->srv->hooks.tx_failed(r);
		else
			http_reply_error(r, 503, "store_unavailable", "the database is busy; retry shortly");
		return false;
	}
	return true;
}

/* Commits when the reply is a success, rolls back otherwise. */
static void end_route_tx(struct http_req *r)
{
	if (!r->db)
		return;
	/* a request about to wait (long-poll) keeps what it wrote so far */
	bool waiting = !r->resp && r->wait_again;
	bool commit = (r->status >= 200 && r->status < 400) || waiting;
	if (r->srv->hooks.tx_end(r->db, commit) != 0) {
		if (r->srv->hooks.tx_failed)
			r->srv->hooks.tx_failed(r);
		else
			http_reply_error(r, 503, "store_unavailable", "the change could not be saved; retry shortly");
	}
	r->db = NULL;
}

/* ---------- waiting ---------- */

static void stopping_reply(struct http_req *r);

int http_wait(struct http_req *r, const char *key, unsigned timeout_ms, int (*on_wake)(struct http_req *r))
{
	uint64_t now = wake_now_ms();
	if (!r->wait_deadline_ms)
		r->wait_deadline_ms = now + timeout_ms;
	r->on_wake = on_wake;
	r->wait_again = true;
	if (r->waiter.state != WAITER_REGISTERED) {
		unsigned left = r->wait_deadline_ms > now ? (unsigned)(r->wait_deadline_ms - now) : 0;
		wake_register(r->srv->hub, &r->waiter, r->conn, key, left);
	}
	return 0;
}

/* Runs check/suspend cycles until the request has a reply or is suspended.
 * Returns true when a reply is ready to queue. */
static bool run_wait_cycle(struct http_req *r)
{
	bool timeout_shown = false;
	for (int spins = 0; spins < 1000; spins++) {
		r->wait_again = false;
		if (atomic_load(&r->srv->stopping)) {
			/* not an empty answer that players would repeat at once */
			stopping_reply(r);
			break;
		}
		if (r->route->auth != AUTH_NONE && r->srv->hooks.authenticate(r) != 0)
			break;
		if (!begin_route_tx(r, true))
			break;
		if (r->on_wake(r) < 0 && !r->resp)
			reply_missing(r);
		end_route_tx(r);
		if (r->resp)
			break;
		if (!r->wait_again) {
			http_reply_error(r, 500, "internal", "the request produced no response");
			break;
		}
		if (r->waiter.state == WAITER_WOKEN && r->waiter.reason == WAKE_TIMEOUT && !timeout_shown) {
			/* the deadline passed while the handler was looking (a short
			 * wait on a busy machine): run it once more, now that it can
			 * see its timeout, so it answers as a timeout */
			timeout_shown = true;
			continue;
		}
		if (r->waiter.state == WAITER_WOKEN && r->waiter.reason != WAKE_EVENT) {
			if (r->waiter.reason == WAKE_SHUTDOWN)
				stopping_reply(r);
			else /* the handler wants to wait past its own deadline */
				http_reply_error(r, 500, "internal", "the request kept waiting after its deadline");
			break;
		}
		if (wake_suspend(r->srv->hub, &r->waiter)) {
			r->phase = PHASE_WAITING;
			return false;
		}
		/* woken while checking: look again (on_wake re-registers) */
		r->waiter.state = WAITER_IDLE;
	}
	wake_cancel(r->srv->hub, &r->waiter);
	if (!r->resp)
		http_reply_error(r, 500, "internal", "the wait did not settle");
	return true;
}

/* ---------- who is calling ---------- */

struct xff_collect {
	char buf[CLIENT_IP_XFF_MAX];
	size_t len; /* may exceed sizeof buf: then the list is too long */
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct xff_collect *xc = cls;
	if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
		return MHD_YES;
	size_t n = strlen(value);
	if (xc->len + n + 1 >= sizeof xc->buf) {
		xc->len = sizeof xc->buf + 1;
		return MHD_NO;
	}
	if (xc->len)
		xc->buf[xc->len++] = ',';
	memcpy(xc->buf + xc->len, value, n);
	xc->len += n;
	return MHD_YES;
}

static void find_client(struct server *srv, struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[CLIENT_IP_TEXT_LEN] = "";
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
	}
	struct xff_collect xc = {.len = 0};
	if (srv->cfg.n_trusted_proxies)
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_xff, &xc);
	struct client_ip who;
	client_ip_resolve(peer, xc.len ? xc.buf : NULL, xc.len, srv->cfg.trusted_proxies, srv->cfg.n_trusted_proxies,
	                  &who);
	snprintf(r->ip, sizeof r->ip, "%s", who.text);
	r->ip_addr = who.addr;
}

/* ---------- the pipeline ---------- */

/* Everything between "body received" and "reply ready". Returns true when a
 * reply is ready to queue now. */
static bool run_handler(struct http_req *r)
{
	struct server *srv = r->srv;
	const struct route *rt = r->route;
	if (!begin_route_tx(r, false))
		return true;
	if (rt->handler(r) < 0 && !r->resp)
		reply_missing(r);
	end_route_tx(r);
	if (r->deferred && !r->resp) {
		if (work_pool_submit(srv, r))
			return false;
		http_reply_error(r, 503, "busy", "too many requests are waiting; retry in a second");
		http_reply_header(r, "Retry-After", "1");
		return true;
	}
	if (r->wait_again && !r->resp)
		return run_wait_cycle(r);
	if (!r->resp)
		http_reply_error(r, 500, "internal", "the request produced no response");
	return true;
}

static uint64_t body_timeout_ms(struct server *srv)
{
	return (uint64_t)(srv->cfg.body_timeout_s ? srv->cfg.body_timeout_s : 30) * 1000u;
}

/* The body must be in within the body timeout plus one second per
 * HTTP_BODY_MIN_RATE bytes received so far: a long upload keeps going as
 * long as it moves, a trickle is dropped. */
static void extend_body_deadline(struct http_req *r)
{
	deadline_set_body(r->conn,
	                  r->body_start_ms + body_timeout_ms(r->srv) + r->body_received * 1000u / HTTP_BODY_MIN_RATE);
}

/* A reply decided before the body has arrived (or while it arrives). With
 * no body to come, or one the client holds back until "100 Continue", it
 * goes out at once; otherwise the rest of the body is read and dropped
 * first (see http_refuse), so the client reads the reply, not a reset. */
static enum MHD_Result refuse(struct http_req *r)
{
	if (r->body_pending)
		http_reply_header(r, "Connection", "close");
	const char *expect = http_header(r, "Expect");
	bool will_wait = expect && strcasecmp(expect, "100-continue") == 0 && r->body_received == 0;
	if (!r->body_pending || will_wait || r->drained > HTTP_DRAIN_MAX) {
		deadline_set(r->conn, 0);
		return reply_queue(r);
	}
	r->refusing = true;
	return MHD_YES;
}

static void stopping_reply(struct http_req *r)
{
	http_reply_error(r, 503, "stopping", "the server is stopping; retry in a few seconds");
	http_reply_header(r, "Retry-After", HTTP_RETRY_AFTER_S);
	http_reply_header(r, "Connection", "close");
}

/* RFC 9112 section 6.3: differing Content-Length values make the framing
 * ambiguous (request smuggling): refuse. */
struct length_count {
	const char *first;
	bool differ;
};

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct length_count *lc = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0 || !value)
		return MHD_YES;
	if (!lc->first)
		lc->first = value;
	else if (strcmp(lc->first, value) != 0)
		lc->differ = true;
	return MHD_YES;
}

/* The first call, with the headers: route, framing, authentication, limits.
 * Nothing of the body is taken before the caller is known. */
static enum MHD_Result on_headers(struct server *srv, struct http_req *r, const char *url, const char *method)
{
	const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	r->body_pending = (cl && strtoull(cl, NULL, 10) > 0) || te;
	r->body_start_ms = wake_now_ms();
	if (r->body_pending)
		deadline_set_body(r->conn, r->body_start_ms + body_timeout_ms(srv));
	else
		deadline_set(r->conn, 0);
	if (atomic_load(&srv->stopping)) {
		stopping_reply(r);
		return refuse(r);
	}
	struct length_count lc = {NULL, false};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_lengths, &lc);
	if (lc.differ) {
		http_reply_error(r, 400, "bad_request", "the request has two different Content-Length headers");
		http_reply_header(r, "Connection", "close");
		deadline_set(r->conn, 0);
		return reply_queue(r); /* the framing is unknown: no draining */
	}
	if (strlen(url) >= sizeof r->path) {
		http_reply_error(r, 414, "uri_too_long", "the request path is longer than %zu bytes",
		                 sizeof r->path - 1);
		return refuse(r);
	}
	enum router_match m = router_match(srv->routes, srv->n_routes, method, url, &r->route, &r->params);
	if (m == ROUTER_NOT_FOUND) {
		http_reply_error(r, 404, "not_found", "no such route: %s %s", method, r->path);
		return refuse(r);
	}
	if (m == ROUTER_BAD_METHOD) {
		http_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", method, r->path);
		char allow[64] = "";
		for (size_t i = 0; i < srv->n_routes; i++) {
			struct route_params tmp;
			const struct route *rt = NULL;
			if (strlen(allow) + 8 < sizeof allow &&
			    router_match(&srv->routes[i], 1, srv->routes[i].method, url, &rt, &tmp) == ROUTER_FOUND)
				snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
				         *allow ? ", " : "", srv->routes[i].method);
		}
		http_reply_header(r, "Allow", allow);
		return refuse(r);
	}
	r->route_idx = (size_t)(r->route - srv->routes);
	buf_init(&r->body_buf, r->route->body_limit);
	/* who calls is known before a byte of the body is taken: an
	 * unauthenticated body is never buffered. Authentication runs in
	 * autocommit mode so it can refresh the session's last-seen time; the
	 * handler's transaction comes after. */
	if (r->route->auth != AUTH_NONE) {
		if (srv->hooks.authenticate(r) != 0)
			return refuse(r);
		r->authenticated = true;
	}
	if (cl && strtoull(cl, NULL, 10) > r->route->body_limit) {
		http_reply_error(r, 413, "body_too_large", "the body is larger than the %zu bytes this route accepts",
		                 r->route->body_limit);
		return refuse(r);
	}
	if (r->route->stream) {
		r->route->stream->begin(r);
		if (r->resp)
			return refuse(r);
	}
	return MHD_YES;
}

static void reply_too_large(struct http_req *r)
{
	http_reply_error(r, 413, "body_too_large", "the body is larger than the %zu bytes this route accepts",
	                 r->route->body_limit);
}

/* One piece of body. */
static enum MHD_Result on_body(struct http_req *r, const char *data, size_t n)
{
	struct server *srv = r->srv;
	r->body_received += n;
	extend_body_deadline(r);
	if (r->refusing) {
		r->drained += n;
		return r->drained > HTTP_DRAIN_MAX ? refuse(r) : MHD_YES;
	}
	if (r->body_received > r->route->body_limit) {
		reply_too_large(r);
		r->drained += n;
		return refuse(r);
	}
	if (r->route->stream) {
		r->body_len += n;
		r->route->stream->chunk(r, data, n);
		return r->resp ? refuse(r) : MHD_YES;
	}
	/* bodies in memory at once are capped, whoever sends them */
	size_t limit = srv->cfg.body_memory_limit ? srv->cfg.body_memory_limit : (size_t)128 << 20;
	if (atomic_fetch_add(&srv->body_bytes, n) + n > limit) {
		atomic_fetch_sub(&srv->body_bytes, n);
		http_reply_error(r, 503, "busy", "too many request bodies are arriving at once; retry shortly");
		http_reply_header(r, "Retry-After", "2");
		r->drained += n;
		return refuse(r);
	}
	r->body_accounted += n;
	if (buf_add(&r->body_buf, data, n) != BUF_OK)
		return MHD_NO; /* out of memory (the limit was checked above) */
	r->body = buf_str(&r->body_buf);
	r->body_len = buf_len(&r->body_buf);
	return MHD_YES;
}

enum MHD_Result pipeline_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
	(void)version;
	struct server *srv = cls;
	struct http_req *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		buf_init(&r->body_buf, 0);
		atomic_fetch_add(&srv->in_flight, 1);
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->start_us = http_now_us();
		r->route_idx = srv->n_routes;
		r->tls = srv->cfg.tls_cert_pem != NULL;
		snprintf(r->path, sizeof r->path, "%s", url);
		find_client(srv, r);
		return on_headers(srv, r, url, method);
	}

	if (r->phase == PHASE_QUEUED) { /* reply sent early: drop whatever body follows */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return on_body(r, upload_data, n);
	}

	if (r->phase == PHASE_BODY)
		deadline_set(conn, 0); /* the body is in */
	if (r->refusing)
		return reply_queue(r);
	bool ready;
	switch (r->phase) {
	case PHASE_BODY:
		ready = run_handler(r);
		break;
	case PHASE_READY:
		ready = true;
		break;
	case PHASE_WAITING:
		ready = run_wait_cycle(r);
		break;
	default:
		return MHD_YES; /* a spurious call while deferred: nothing to do */
	}
	return ready ? reply_queue(r) : MHD_YES;
}

void pipeline_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	struct server *srv = cls;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	uint64_t dur = http_now_us() - r->start_us;
	unsigned status = r->status ? r->status : 499;
	metrics_request_done(srv->metrics, r->route_idx, status, dur);
	char st[16], ms[24];
	snprintf(st, sizeof st, "%u", status);
	snprintf(ms, sizeof ms, "%.3f", (double)dur / 1000.0);
	log_event(LOG_INFO, "request", "method", r->method, "path", r->path, "route",
	          r->route ? r->route->pattern : "-", "status", st, "ms", ms, "ip", r->ip, "user",
	          r->auth.ok ? r->auth.login : "-", NULL);
	wake_cancel(srv->hub, &r->waiter);
	atomic_fetch_sub(&srv->body_bytes, r->body_accounted);
	/* a kept-alive connection now waits for its next request's headers */
	deadline_set(conn,
	             wake_now_ms() + (uint64_t)(srv->cfg.header_timeout_s ? srv->cfg.header_timeout_s : 30) * 1000u);
	if (r->cleanup)
		r->cleanup(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	json_decref(r->json);
	free(r->scratch);
	buf_free(&r->body_buf);
	free(r);
	atomic_fetch_sub(&srv->in_flight, 1);
}
