/*
 * The HTTP server around libmicrohttpd; see server.h for the pipeline.
 *
 * MHD calls on_request() several times per request: once with the headers,
 * once per chunk of body, once at the end, and again after every resume.
 * The request's phase says which step comes next. Responses are queued from
 * the network thread that owns the connection; other threads (work pool,
 * wake hub) only prepare the response and resume the connection.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/range.h"
#include "../store/db.h"
#include "metrics.h"

#define WORK_QUEUE_CAP   256
#define SSE_KEEPALIVE_MS 15000
#define SSE_MAX_BUFFER   (1u << 20)
#define DISCARD_MAX      (8u << 20) /* bytes of an oversized body read and dropped */

struct work_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct http_req *queue[WORK_QUEUE_CAP];
	size_t head, len;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
};

struct server {
	struct server_config cfg;
	const struct route *routes;
	size_t n_routes;
	struct server_hooks hooks;
	struct MHD_Daemon *daemon;
	struct MHD_Daemon *redirect;
	struct wake_hub *hub;
	struct metrics *metrics;
	struct work_pool pool;
	_Atomic long in_flight;
	uint16_t port, redirect_port;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------- replies ---------- */

static void set_response(struct http_req *r, unsigned status, struct MHD_Response *resp, const char *ctype)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = resp;
	r->status = status;
	if (!resp) { /* out of memory: the caller's reply is lost, say so */
		r->status = 500;
		return;
	}
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
}

int http_reply_static(struct http_req *r, unsigned status, const char *content_type, const void *data, size_t len)
{
	set_response(r, status, MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT),
	             content_type);
	return 0;
}

int http_reply_owned(struct http_req *r, unsigned status, const char *content_type, char *data, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
	if (!resp)
		free(data);
	set_response(r, status, resp, content_type);
	return 0;
}

int http_reply_file(struct http_req *r, int fd, uint64_t size, const char *content_type, const char *etag)
{
	const char *inm = http_header(r, "If-None-Match");
	if (etag && inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		close(fd);
		http_reply_empty(r, 304);
		http_reply_header(r, "ETag", etag);
		return 0;
	}
	uint64_t from = 0, to = size ? size - 1 : 0;
	const char *range = http_header(r, "Range");
	const char *if_range = http_header(r, "If-Range");
	int rr = (if_range && etag && strcmp(if_range, etag) != 0) ? 0 : range_parse(range, size, &from, &to);
	if (rr < 0) {
		close(fd);
		http_reply_error(r, 416, "range_not_satisfiable", "the range starts after the end of the %llu bytes",
		                 (unsigned long long)size);
		char cr[64];
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
		http_reply_header(r, "Content-Range", cr);
		return 0;
	}
	uint64_t len = size ? to - from + 1 : 0;
	struct MHD_Response *resp = size ? MHD_create_response_from_fd_at_offset64(len, fd, from)
	                                 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!size || !resp)
		close(fd);
	set_response(r, rr == 1 ? 206 : 200, resp, content_type);
	if (!resp)
		return 0;
	r->resp_len = len;
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (etag)
		MHD_add_response_header(resp, "ETag", etag);
	if (rr == 1) {
		char cr[96];
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)to,
		         (unsigned long long)size);
		MHD_add_response_header(resp, "Content-Range", cr);
	}
	return 0;
}

int http_reply_empty(struct http_req *r, unsigned status)
{
	set_response(r, status, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT), NULL);
	return 0;
}

int http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		http_reply_static(r, 500, "application/json", oom, sizeof oom - 1);
		return 0;
	}
	http_reply_owned(r, status, "application/json", text, strlen(text));
	return 0;
}

__attribute__((format(printf, 5, 0))) static void reply_error_v(struct http_req *r, unsigned status, const char *code,
                                                                json_t *extra, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && extra)
		json_object_update(err, extra);
	json_decref(extra);
	http_reply_json(r, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

int http_reply_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, NULL, fmt, ap);
	va_end(ap);
	return 0;
}

int http_reply_error_extra(struct http_req *r, unsigned status, const char *code, json_t *extra, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, extra, fmt, ap);
	va_end(ap);
	return 0;
}

int http_reply_header(struct http_req *r, const char *name, const char *value)
{
	if (r->resp)
		MHD_add_response_header(r->resp, name, value);
	return 0;
}

/* ---------- request accessors ---------- */

const char *http_param(struct http_req *r, const char *name)
{
	return router_param(&r->params, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

/* Nesting depth of a JSON text, counted outside strings; cheap guard run
 * before the parser so a hostile body cannot recurse deeply. */
static int json_depth(const char *s, size_t len)
{
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

json_t *http_json_body(struct http_req *r)
{
	if (r->json)
		return r->json;
	if (r->body_len == 0) {
		http_reply_error(r, 400, "invalid_json", "a JSON object body is required");
		return NULL;
	}
	if (json_depth(r->body, r->body_len) > HTTP_JSON_MAX_DEPTH) {
		http_reply_error(r, 400, "invalid_json", "JSON nested deeper than %d levels", HTTP_JSON_MAX_DEPTH);
		return NULL;
	}
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		http_reply_error(r, 400, "invalid_json", "malformed JSON at line %d, column %d: %s", jerr.line,
		                 jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		http_reply_error(r, 400, "invalid_json", "the body must be a JSON object");
		return NULL;
	}
	r->json = j;
	return j;
}

bool http_check_tags(struct http_req *r, json_t *tags)
{
	if (!json_is_array(tags) || json_array_size(tags) > 32) {
		http_reply_error(r, 400, "invalid_field", "tags must be an array of at most 32 strings");
		return false;
	}
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 64 ||
		    strchr(json_string_value(t), '"')) {
			http_reply_error(r, 400, "invalid_field", "tags[%zu] must be 1-64 characters without quotes",
			                 i);
			return false;
		}
	}
	return true;
}

/* ---------- transactions ---------- */

int http_with_tx(int (*fn)(struct db *db, void *arg), void *arg)
{
	struct db *db = store_db();
	if (!db || db_begin(db, true) != DB_DONE)
		return -1;
	int rc = fn(db, arg);
	if (rc < 0) {
		db_rollback(db);
		return rc;
	}
	if (db_commit(db) != DB_DONE)
		return -1;
	return rc;
}

/* Opens the route's transaction (write for ROUTE_TX_WRITE, else read);
 * without a TX flag, only when always is set (wake-up checks). */
static bool begin_route_tx(struct http_req *r, bool always)
{
	unsigned f = r->route ? r->route->flags : 0;
	if (!always && !(f & (ROUTE_TX_READ | ROUTE_TX_WRITE)))
		return true;
	r->db = store_db();
	int rc = r->db ? db_begin(r->db, (f & ROUTE_TX_WRITE) != 0) : DB_ERROR;
	if (rc != DB_DONE) {
		r->db = NULL;
		http_reply_error(r, 503, "store_unavailable", "the database is busy; retry shortly");
		return false;
	}
	return true;
}

/* Commits when the reply is a success, rolls back otherwise. */
static void end_route_tx(struct http_req *r)
{
	if (!r->db || !db_in_tx(r->db)) {
		r->db = NULL;
		return;
	}
	/* a request about to wait (long-poll) keeps what it wrote so far */
	bool waiting = !r->resp && r->wait_again;
	if ((r->status >= 200 && r->status < 400) || waiting) {
		int rc = db_commit(r->db);
		if (rc != DB_DONE)
			http_reply_error(r, 503, "store_unavailable", "the change could not be saved; retry shortly");
	} else {
		db_rollback(r->db);
	}
	r->db = NULL;
}

/* A handler returned an error without replying, or returned without a
 * reply and without deferring or waiting. */
static void reply_missing(struct http_req *r)
{
	if (!r->resp)
		http_reply_error(r, 500, "internal", "the request produced no response");
}

/* ---------- work pool ---------- */

static void *worker_main(void *arg)
{
	struct server *srv = arg;
	struct work_pool *p = &srv->pool;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->len == 0 && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->len == 0 && p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		struct http_req *r = p->queue[p->head];
		p->head = (p->head + 1) % WORK_QUEUE_CAP;
		p->len--;
		pthread_mutex_unlock(&p->lock);

		if (r->deferred(r) < 0 || !r->resp)
			reply_missing(r);
		r->phase = PHASE_READY;
		MHD_resume_connection(r->conn);
	}
}

int http_defer(struct http_req *r, int (*fn)(struct http_req *r))
{
	r->deferred = fn;
	return 0;
}

/* Queues r on the pool; false when the queue is full. */
static bool pool_submit(struct server *srv, struct http_req *r)
{
	struct work_pool *p = &srv->pool;
	pthread_mutex_lock(&p->lock);
	if (p->len == WORK_QUEUE_CAP || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	r->phase = PHASE_DEFERRED;
	MHD_suspend_connection(r->conn);
	p->queue[(p->head + p->len) % WORK_QUEUE_CAP] = r;
	p->len++;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->cond);
	return true;
}

/* ---------- waiting ---------- */

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
	for (int spins = 0; spins < 1000; spins++) {
		r->wait_again = false;
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
		if (r->waiter.state == WAITER_WOKEN && r->waiter.reason != WAKE_EVENT) {
			/* timeout or shutdown and the handler still wants to wait */
			http_reply_error(r, 503, "unavailable", "the server is stopping");
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

/* ---------- Server-Sent Events ---------- */

struct sse_stream {
	struct server *srv;
	struct MHD_Connection *conn;
	char key[WAKE_KEY_LEN];
	int (*pull)(void *state, struct db *db, struct sse_out *out);
	void *state;
	void (*free_state)(void *state);
	struct sse_out out;
	size_t sent;
	bool ending;
	struct wake_waiter waiter;
};

static bool sse_reserve(struct sse_out *o, size_t more)
{
	if (o->len + more + 1 <= o->cap)
		return true;
	if (o->len + more + 1 > SSE_MAX_BUFFER)
		return false;
	size_t cap = o->cap ? o->cap : 1024;
	while (cap < o->len + more + 1)
		cap *= 2;
	char *b = realloc(o->buf, cap);
	if (!b)
		return false;
	o->buf = b;
	o->cap = cap;
	return true;
}

int sse_append(struct sse_out *out, const char *event, const char *id, const char *data)
{
	/* data must not contain newlines: callers send compact JSON */
	size_t need = strlen(event) + strlen(data) + (id ? strlen(id) : 0) + 32;
	if (strchr(data, '\n') || !sse_reserve(out, need))
		return -1;
	int n = snprintf(out->buf + out->len, out->cap - out->len, "%s%s%sevent: %s\ndata: %s\n\n", id ? "id: " : "",
	                 id ? id : "", id ? "\n" : "", event, data);
	out->len += (size_t)n;
	return 0;
}

int sse_append_json(struct sse_out *out, const char *event, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	int rc = text ? sse_append(out, event, NULL, text) : -1;
	free(text);
	return rc;
}

static ssize_t sse_copy(struct sse_stream *s, char *buf, size_t max)
{
	size_t n = s->out.len - s->sent;
	if (n > max)
		n = max;
	memcpy(buf, s->out.buf + s->sent, n);
	s->sent += n;
	if (s->sent == s->out.len)
		s->sent = s->out.len = 0;
	return (ssize_t)n;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct sse_stream *s = cls;
	if (s->out.len > s->sent)
		return sse_copy(s, buf, max);
	if (s->ending)
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (int spins = 0; spins < 100; spins++) {
		if (s->waiter.state == WAITER_WOKEN) {
			enum wake_reason why = s->waiter.reason;
			s->waiter.state = WAITER_IDLE;
			if (why == WAKE_SHUTDOWN)
				return MHD_CONTENT_READER_END_OF_STREAM;
			if (why == WAKE_TIMEOUT) {
				static const char ka[] = ": keep-alive\n\n";
				if (max < sizeof ka - 1)
					return 0;
				memcpy(buf, ka, sizeof ka - 1);
				return (ssize_t)(sizeof ka - 1);
			}
		}
		wake_register(s->srv->hub, &s->waiter, s->conn, s->key, SSE_KEEPALIVE_MS);
		struct db *db = store_db();
		int rc = -1;
		if (db && db_begin(db, false) == DB_DONE) {
			rc = s->pull(s->state, db, &s->out);
			db_rollback(db); /* read only */
		}
		if (rc < 0) {
			wake_cancel(s->srv->hub, &s->waiter);
			s->ending = true;
			return s->out.len > s->sent ? sse_copy(s, buf, max) : MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (s->out.len > s->sent) {
			wake_cancel(s->srv->hub, &s->waiter);
			return sse_copy(s, buf, max);
		}
		if (wake_suspend(s->srv->hub, &s->waiter))
			return 0;
	}
	return 0;
}

static void sse_free(void *cls)
{
	struct sse_stream *s = cls;
	wake_cancel(s->srv->hub, &s->waiter);
	if (s->free_state)
		s->free_state(s->state);
	free(s->out.buf);
	free(s);
}

int http_stream(struct http_req *r, const char *key, int (*pull)(void *state, struct db *db, struct sse_out *out),
                void *state, void (*free_state)(void *state))
{
	struct sse_stream *s = calloc(1, sizeof *s);
	if (!s) {
		if (free_state)
			free_state(state);
		http_reply_error(r, 503, "unavailable", "out of memory");
		return 0;
	}
	s->srv = r->srv;
	s->conn = r->conn;
	snprintf(s->key, sizeof s->key, "%s", key);
	s->pull = pull;
	s->state = state;
	s->free_state = free_state;
	/* the first bytes tell the browser how long to wait before reconnecting */
	static const char hello[] = "retry: 3000\n\n";
	sse_reserve(&s->out, sizeof hello);
	if (s->out.buf) {
		memcpy(s->out.buf, hello, sizeof hello - 1);
		s->out.len = sizeof hello - 1;
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_reader, s, sse_free);
	if (!resp) {
		sse_free(s);
		http_reply_error(r, 503, "unavailable", "out of memory");
		return 0;
	}
	set_response(r, 200, resp, "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return 0;
}

/* ---------- the pipeline ---------- */

static void add_common_headers(struct http_req *r)
{
	struct MHD_Response *resp = r->resp;
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (!MHD_get_response_header(resp, "Cache-Control"))
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->tls)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

static enum MHD_Result queue_reply(struct http_req *r)
{
	if (!r->resp) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		r->resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
		r->status = 500;
		if (!r->resp)
			return MHD_NO;
	}
	add_common_headers(r);
	r->phase = PHASE_QUEUED;
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

#define XFF_MAX 4096

struct xff_collect {
	char buf[XFF_MAX];
	size_t len;
	bool overflow;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct xff_collect *xc = cls;
	if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
		return MHD_YES;
	size_t n = strlen(value);
	if (xc->len + n + 1 >= sizeof xc->buf) {
		xc->overflow = true;
		return MHD_NO;
	}
	if (xc->len)
		xc->buf[xc->len++] = ',';
	memcpy(xc->buf + xc->len, value, n);
	xc->len += n;
	return MHD_YES;
}

static bool is_trusted_proxy(struct server *srv, const struct cidr *addr)
{
	for (size_t i = 0; i < srv->cfg.n_trusted_proxies; i++)
		if (cidr_contains(&srv->cfg.trusted_proxies[i], addr))
			return true;
	return false;
}

static void set_unknown_client(struct http_req *r)
{
	snprintf(r->ip, sizeof r->ip, "unknown");
	memset(&r->ip_addr, 0, sizeof r->ip_addr);
	r->ip_addr.v6 = true;
	r->ip_addr.prefix = 128; /* "::": in no allowlist, in no trusted network */
}

static void client_ip(struct server *srv, struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	r->ip[0] = '\0';
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->ip, sizeof r->ip);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->ip, sizeof r->ip);
	}
	if (cidr_parse_addr(r->ip, &r->ip_addr) != 0)
		return;
	/* v4-mapped addresses are shown as plain IPv4 */
	if (!r->ip_addr.v6 && strchr(r->ip, ':'))
		inet_ntop(AF_INET, r->ip_addr.addr, r->ip, sizeof r->ip);
	/* X-Forwarded-For only from a trusted proxy: walk the hops from the
	 * right and take the first address that is not itself a trusted proxy.
	 * Several header lines count as one comma-joined list (RFC 9110). A
	 * list that is too long or holds something that is not an address
	 * makes the client unknown, which no allowlist matches. */
	if (srv->cfg.n_trusted_proxies == 0 || !is_trusted_proxy(srv, &r->ip_addr))
		return;
	struct xff_collect xc = {.len = 0};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_xff, &xc);
	if (xc.len == 0)
		return;
	if (xc.overflow) {
		set_unknown_client(r);
		return;
	}
	size_t end = xc.len;
	for (;;) {
		size_t start = end;
		while (start > 0 && xc.buf[start - 1] != ',')
			start--;
		char item[64];
		size_t a = start, b = end;
		while (a < b && (xc.buf[a] == ' ' || xc.buf[a] == '\t'))
			a++;
		while (b > a && (xc.buf[b - 1] == ' ' || xc.buf[b - 1] == '\t'))
			b--;
		struct cidr next;
		if (b - a == 0 || b - a >= sizeof item) {
			set_unknown_client(r);
			return;
		}
		memcpy(item, xc.buf + a, b - a);
		item[b - a] = '\0';
		if (cidr_parse_addr(item, &next) != 0) {
			set_unknown_client(r);
			return;
		}
		r->ip_addr = next;
		inet_ntop(next.v6 ? AF_INET6 : AF_INET, next.addr, r->ip, sizeof r->ip);
		if (!is_trusted_proxy(srv, &next) || start == 0)
			return;
		end = start - 1;
	}
}

/* Everything between "body received" and "reply ready". Returns true when a
 * reply is ready to queue now. */
static bool run_handler(struct http_req *r)
{
	struct server *srv = r->srv;
	const struct route *rt = r->route;
	/* authentication runs in autocommit mode so it can refresh the
	 * session's last-seen time; the handler's transaction comes after */
	if (rt->auth != AUTH_NONE && !r->authenticated_early && srv->hooks.authenticate(r) != 0)
		return true;
	if (!begin_route_tx(r, false))
		return true;
	if (rt->handler(r) < 0 && !r->resp)
		reply_missing(r);
	end_route_tx(r);
	if (r->deferred && !r->resp) {
		if (pool_submit(srv, r))
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
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
		atomic_fetch_add(&srv->in_flight, 1);
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->start_us = now_us();
		r->route_idx = srv->n_routes;
		r->tls = srv->cfg.tls_cert_pem != NULL;
		snprintf(r->path, sizeof r->path, "%s", url);
		client_ip(srv, r);
		if (strlen(url) >= sizeof r->path) {
			http_reply_error(r, 414, "uri_too_long", "the request path is longer than %zu bytes",
			                 sizeof r->path - 1);
			return queue_reply(r);
		}
		enum router_match m = router_match(srv->routes, srv->n_routes, method, url, &r->route, &r->params);
		if (m == ROUTER_NOT_FOUND) {
			http_reply_error(r, 404, "not_found", "no such route: %s %s", method, r->path);
			return queue_reply(r);
		}
		if (m == ROUTER_BAD_METHOD) {
			http_reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s", method, r->path);
			char allow[64] = "";
			for (size_t i = 0; i < srv->n_routes; i++) {
				struct route_params tmp;
				const struct route *rt = NULL;
				if (strlen(allow) + 8 < sizeof allow &&
				    router_match(&srv->routes[i], 1, srv->routes[i].method, url, &rt, &tmp) ==
				        ROUTER_FOUND)
					snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
					         *allow ? ", " : "", srv->routes[i].method);
			}
			http_reply_header(r, "Allow", allow);
			return queue_reply(r);
		}
		r->route_idx = (size_t)(r->route - srv->routes);
		const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > r->route->body_limit) {
			http_reply_error(r, 413, "body_too_large",
			                 "the body is larger than the %zu bytes this route accepts",
			                 r->route->body_limit);
			return queue_reply(r);
		}
		if (r->route->stream) {
			/* who uploads is known before a byte of the body is taken */
			if (r->route->auth != AUTH_NONE && srv->hooks.authenticate(r) != 0)
				return queue_reply(r);
			r->authenticated_early = true;
			r->route->stream->begin(r);
			if (r->resp)
				return queue_reply(r);
		}
		return MHD_YES;
	}

	if (r->phase == PHASE_QUEUED) { /* reply sent early: drop whatever body follows */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (*upload_data_size && r->route->stream) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		r->body_len += n;
		if (r->body_len > r->route->body_limit)
			http_reply_error(r, 413, "body_too_large",
			                 "the body is larger than the %zu bytes this route accepts",
			                 r->route->body_limit);
		else
			r->route->stream->chunk(r, upload_data, n);
		return r->resp ? queue_reply(r) : MHD_YES;
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->discarded || r->body_len + n > r->route->body_limit) {
			/* A body of unannounced length went over the limit: read and
			 * drop the rest so the 413 is not lost to a connection reset,
			 * but only up to a bound; past it, answer and close. */
			r->discarded += n;
			if (r->discarded <= DISCARD_MAX)
				return MHD_YES;
			http_reply_error(r, 413, "body_too_large",
			                 "the body is larger than the %zu bytes this route accepts",
			                 r->route->body_limit);
			return queue_reply(r);
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 1024;
			while (cap < r->body_len + n + 1)
				cap *= 2;
			char *b = realloc(r->body, cap);
			if (!b)
				return MHD_NO;
			r->body = b;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload_data, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}

	if (r->discarded) {
		http_reply_error(r, 413, "body_too_large", "the body is larger than the %zu bytes this route accepts",
		                 r->route->body_limit);
		return queue_reply(r);
	}
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
	return ready ? queue_reply(r) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct server *srv = cls;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	uint64_t dur = now_us() - r->start_us;
	unsigned status = r->status ? r->status : 499;
	metrics_request_done(srv->metrics, r->route_idx, status, dur);
	char st[16], ms[24];
	snprintf(st, sizeof st, "%u", status);
	snprintf(ms, sizeof ms, "%.3f", (double)dur / 1000.0);
	log_event(LOG_INFO, "request", "method", r->method, "path", r->path, "route",
	          r->route ? r->route->pattern : "-", "status", st, "ms", ms, "ip", r->ip, "user",
	          r->auth.ok ? r->auth.login : "-", NULL);
	wake_cancel(srv->hub, &r->waiter);
	if (r->cleanup)
		r->cleanup(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	json_decref(r->json);
	free(r->scratch);
	free(r->body);
	free(r);
	atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
	(void)conn;
	(void)socket_ctx;
	struct server *srv = cls;
	metrics_connection_delta(srv->metrics, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* a client that went away mid-response is ordinary life, not a warning */
	bool routine =
	    strstr(msg, "Failed to send") || strstr(msg, "closed by remote") || strstr(msg, "Connection reset");
	log_event(routine ? LOG_DEBUG : LOG_WARN, "libmicrohttpd", "detail", msg, NULL);
}

/* ---------- plain HTTP -> HTTPS redirect ---------- */

static enum MHD_Result on_redirect(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
	(void)method;
	(void)version;
	(void)upload_data;
	struct server *srv = cls;
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	*upload_data_size = 0;
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char hostname[256] = "localhost";
	if (host && strlen(host) < sizeof hostname &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyz"
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host)) {
		snprintf(hostname, sizeof hostname, "%s", host);
		/* drop the port of the plain listener; keep IPv6 brackets */
		char *colon = strrchr(hostname, ':');
		char *bracket = strrchr(hostname, ']');
		if (colon && (!bracket || colon > bracket))
			*colon = '\0';
	}
	char location[1024];
	const char *pub = srv->cfg.public_url;
	int n = pub && strncmp(pub, "https://", 8) == 0
	            ? snprintf(location, sizeof location, "%s%s", pub, url)
	            : snprintf(location, sizeof location, "https://%s:%u%s", hostname, srv->port, url);
	if (n < 0 || (size_t)n >= sizeof location)
		snprintf(location, sizeof location, "https://%s:%u/", hostname, srv->port);
	static const char body[] = "This server is reached over HTTPS.\n";
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	enum MHD_Result ret = MHD_queue_response(conn, 308, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---------- lifecycle ---------- */

static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
			return -1;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof host)
			return -1;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res = NULL;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static uint16_t daemon_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}

struct server *server_create(const struct server_config *cfg, const struct route *routes, size_t n_routes,
                             const struct server_hooks *hooks)
{
	if (router_validate(routes, n_routes) != 0)
		return NULL;
	struct server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return NULL;
	srv->cfg = *cfg;
	srv->routes = routes;
	srv->n_routes = n_routes;
	srv->hooks = *hooks;
	srv->hub = wake_hub_create();
	srv->metrics = metrics_create(routes, n_routes);
	if (!srv->hub || !srv->metrics) {
		server_destroy(srv);
		return NULL;
	}
	return srv;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int server_start(struct server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (parse_listen(srv->cfg.listen, &ss, &sslen) != 0) {
		log_event(LOG_ERROR, "cannot parse the listen address (HOST:PORT)", "listen", srv->cfg.listen, NULL);
		return -1;
	}
	raise_fd_limit();
	struct rlimit rl;
	unsigned limit = srv->cfg.connection_limit;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && limit + 64 > rl.rlim_cur)
		limit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;

	struct work_pool *p = &srv->pool;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threads = calloc(srv->cfg.workers, sizeof *p->threads);
	if (!p->threads)
		return -1;
	for (unsigned i = 0; i < srv->cfg.workers; i++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, srv) == 0)
			p->nthreads++;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TURBO;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	bool tls = srv->cfg.tls_cert_pem && srv->cfg.tls_key_pem;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)srv->cfg.tls_cert_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)srv->cfg.tls_key_pem},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
	    {MHD_OPTION_END, 0, NULL},
	};
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	                               NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
	                               (unsigned)srv->cfg.threads, MHD_OPTION_CONNECTION_LIMIT, limit,
	                               /* the per-connection pool holds the request line and headers and
	                                * the send buffer; 8 KiB (nginx's header limit) keeps an idle
	                                * long-poll cheap, TLS records need more */
	                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                               (size_t)(tls ? 32768 : 8192), MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	                               MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_LISTEN_BACKLOG_SIZE,
	                               (unsigned)4096, MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[3], MHD_OPTION_END);
	if (!srv->daemon) {
		log_event(LOG_ERROR, "cannot start the HTTP server (address in use? bad TLS files?)", "listen",
		          srv->cfg.listen, NULL);
		return -1;
	}
	srv->port = daemon_port(srv->daemon);
	if (srv->cfg.http_listen && srv->cfg.http_listen[0]) {
		struct sockaddr_storage rs;
		socklen_t rslen;
		if (parse_listen(srv->cfg.http_listen, &rs, &rslen) != 0) {
			log_event(LOG_ERROR, "cannot parse the HTTP listen address", "listen", srv->cfg.http_listen,
			          NULL);
			return -1;
		}
		srv->redirect = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		                                     (rs.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		                                 0, NULL, NULL, on_redirect, srv, MHD_OPTION_EXTERNAL_LOGGER,
		                                 on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&rs,
		                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
		if (!srv->redirect) {
			log_event(LOG_ERROR, "cannot start the HTTP redirect listener", "listen", srv->cfg.http_listen,
			          NULL);
			return -1;
		}
		srv->redirect_port = daemon_port(srv->redirect);
	}
	return 0;
}

uint16_t server_port(struct server *srv)
{
	return srv->port;
}
uint16_t server_redirect_port(struct server *srv)
{
	return srv->redirect_port;
}
struct wake_hub *server_hub(struct server *srv)
{
	return srv->hub;
}
const struct server_config *server_config(struct server *srv)
{
	return &srv->cfg;
}

char *server_render_metrics(struct server *srv)
{
	return metrics_render(srv->metrics, wake_suspended_count(srv->hub), wake_resumes_total(srv->hub));
}

void server_stop(struct server *srv, unsigned grace_ms)
{
	if (!srv->daemon)
		return;
	if (srv->redirect) {
		MHD_stop_daemon(srv->redirect);
		srv->redirect = NULL;
	}
	MHD_socket lsock = MHD_quiesce_daemon(srv->daemon); /* stop accepting */
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	wake_shutdown(srv->hub); /* long-polls answer now, streams end */
	uint64_t until = wake_now_ms() + grace_ms;
	while (atomic_load(&srv->in_flight) > 0 && wake_now_ms() < until)
		usleep(10000);
	long left = atomic_load(&srv->in_flight);
	if (left > 0) {
		char n[24];
		snprintf(n, sizeof n, "%ld", left);
		log_event(LOG_WARN, "stopping with requests still in flight", "count", n, NULL);
	}
	/* work pool: finish queued jobs so nobody stays suspended */
	struct work_pool *p = &srv->pool;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
}

void server_destroy(struct server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		server_stop(srv, 0);
	free(srv->pool.threads);
	wake_hub_destroy(srv->hub);
	metrics_destroy(srv->metrics);
	free(srv);
}

void server_run_until_signal(struct server *srv)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int sig = 0;
	sigwait(&set, &sig);
	log_event(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	server_stop(srv, 10000);
}
