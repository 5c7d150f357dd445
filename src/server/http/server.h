/*
 * The HTTP server: libmicrohttpd with epoll and a thread pool, optional TLS,
 * a plain-HTTP listener that redirects to HTTPS, the per-request pipeline
 * (route -> body limit -> authentication -> CSRF -> role -> transaction ->
 * handler -> log + metrics), deferred work on a small bounded pool (password
 * hashing), and suspended requests through the wake hub.
 *
 * The files, by concern: daemon.c (daemons, options, start and graceful
 * stop, the HTTPS redirect), pipeline.c (the request pipeline and the body),
 * request.c (what a request says: parameters, headers, cookies), reply.c
 * (replies and files: Range, ETag), sse.c (Server-Sent Events),
 * workpool.c (the work pool), deadline.c (header and body deadlines),
 * client_ip.c (the X-Forwarded-For walk, pure); internal.h is what they
 * share.
 *
 * Ownership: the server owns every struct http_req; handlers borrow it for
 * the duration of the call. A response set by http_reply_* is owned by the
 * request until it is queued.
 */
#ifndef VITRINE_HTTP_SERVER_H
#define VITRINE_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../../common/cidr.h"
#include "../../common/codes.h"
#include "router.h"
#include "wake.h"

struct MHD_Connection;
struct MHD_Response;
struct db;
struct server;

#define HTTP_MAX_PROXIES    16
#define HTTP_JSON_MAX_DEPTH 32
#define HTTP_BODY_MIN_RATE  (16u << 10) /* bytes/s a long body must average */
#define HTTP_DRAIN_MAX      (64u << 20) /* bytes of a refused body read and dropped */
#define HTTP_RETRY_AFTER_S  "5"         /* Retry-After of "stopping" and "busy" replies */

struct server_config {
	const char *data_dir;
	const char *listen;      /* HOST:PORT for the API/console (TLS when certs given) */
	const char *http_listen; /* optional plain HTTP listener that redirects to HTTPS */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *public_url; /* how users reach the console, for links */
	unsigned threads;       /* MHD thread pool */
	unsigned workers;       /* deferred-work pool (password hashing) */
	unsigned connection_limit;
	unsigned per_ip_connection_limit; /* 0: none; not applied behind trusted proxies */
	size_t body_memory_limit;         /* bytes of buffered request bodies at once; 0: 128 MiB */
	unsigned header_timeout_s;        /* request line and headers must arrive within; 0: 30 */
	unsigned body_timeout_s;          /* body: this, plus 1 s per HTTP_BODY_MIN_RATE bytes; 0: 30 */
	unsigned stop_grace_ms;           /* SIGTERM: in-flight requests may finish within; 0: 10 s */
	unsigned session_idle_s;
	unsigned session_max_s;
	struct cidr trusted_proxies[HTTP_MAX_PROXIES];
	size_t n_trusted_proxies;
};

/* Who is calling, filled by the authentication hook. */
struct http_auth {
	bool ok;
	bool via_session; /* cookie: CSRF required on writes */
	char user_id[CODES_ID_LEN + 1];
	char account_id[CODES_ID_LEN + 1];
	char session_id[CODES_ID_LEN + 1]; /* session id, or API token id */
	char device_id[CODES_ID_LEN + 1];  /* the screen, for device tokens */
	char login[130];
	char role[16];
	unsigned role_bit;
	bool must_change_password;
};

enum http_phase {
	PHASE_BODY,     /* receiving the body */
	PHASE_DEFERRED, /* suspended, running on the work pool */
	PHASE_WAITING,  /* suspended in the wake hub */
	PHASE_READY,    /* response ready to queue after a resume */
	PHASE_QUEUED,   /* response queued */
};

struct http_req {
	struct server *srv;
	struct MHD_Connection *conn;
	const struct route *route;
	size_t route_idx;
	struct route_params params;
	const char *method;
	char path[512];
	char ip[64];
	struct cidr ip_addr;
	uint64_t start_us;
	bool tls;

	struct buf body_buf; /* a buffered body, capped at the route's limit */
	const char *body;    /* its bytes (NUL-terminated), for handlers */
	size_t body_len;
	size_t body_accounted; /* bytes counted against cfg.body_memory_limit */
	bool body_pending;     /* the headers announce a body */
	bool refusing;         /* a reply was decided before the body ended: drop the rest */
	size_t drained;        /* bytes of body dropped while refusing */
	uint64_t body_received, body_start_ms;
	json_t *json;

	struct http_auth auth;
	struct db *db;

	unsigned status;
	struct MHD_Response *resp;
	uint64_t resp_len; /* body bytes of a file reply (http_reply_file) */
	enum http_phase phase;

	int (*deferred)(struct http_req *r); /* set by http_defer */
	int (*on_wake)(struct http_req *r);  /* set by http_wait */
	bool wait_again;                     /* on_wake asked to keep waiting */
	uint64_t wait_deadline_ms;           /* the whole wait's end */
	struct wake_waiter waiter;
	void *scratch;                       /* a handler's own state across wake-ups; freed with r */
	void (*cleanup)(struct http_req *r); /* runs when the request ends, however it ends */
	bool authenticated;                  /* the caller was authenticated at the headers */
};

/* Hooks the areas provide; set before server_start. Through them http/
 * reaches authentication and the store without linking either, so it is
 * built and tested on its own. */
struct server_hooks {
	/* Authenticates r for route->auth; on failure replies (401/403) and
	 * returns -1. */
	int (*authenticate)(struct http_req *r);
	/* Opens a write or read transaction on this thread's store connection;
	 * NULL when the store is busy or unavailable. */
	struct db *(*tx_begin)(bool write);
	/* Ends the transaction db holds, if any: commits when commit is set
	 * (-1 when the commit failed), else rolls back (0). */
	int (*tx_end)(struct db *db, bool commit);
	/* Replies when tx_begin or tx_end failed, by cause (507 disk full, 503
	 * busy with Retry-After); NULL: a plain 503 store_unavailable. */
	int (*tx_failed)(struct http_req *r);
};

struct server *server_create(const struct server_config *cfg, const struct route *routes, size_t n_routes,
                             const struct server_hooks *hooks);
/* Binds the listening sockets (the API's, and http_listen's) without
 * serving them yet: a server started as root binds a port below 1024 here,
 * then gives up root (common/privdrop.h) before server_start, so that no
 * request is ever served as root. 0, or -1 with the reason logged. */
int server_bind(struct server *srv);
/* Serves the sockets server_bind made (binding them first when it was not
 * called). */
int server_start(struct server *srv);
/* Blocks until SIGTERM/SIGINT, then stops gracefully. */
void server_run_until_signal(struct server *srv);
/* Graceful stop: stop accepting, wake waiters, finish in-flight requests
 * (up to grace_ms), stop. */
void server_stop(struct server *srv, unsigned grace_ms);
void server_destroy(struct server *srv);
uint16_t server_port(struct server *srv);
uint16_t server_redirect_port(struct server *srv);
struct wake_hub *server_hub(struct server *srv);
const struct server_config *server_config(struct server *srv);
/* Prometheus text of the server's metrics; malloc'd, caller frees. */
char *server_render_metrics(struct server *srv);

/* --- for handlers --- */

/* The parsed JSON object body, or NULL after replying 400 (missing, not an
 * object, too deep, or malformed: the message says where). Borrowed. */
json_t *http_json_body(struct http_req *r);
const char *http_param(struct http_req *r, const char *name);
const char *http_query(struct http_req *r, const char *name);
const char *http_header(struct http_req *r, const char *name);
const char *http_cookie(struct http_req *r, const char *name);
/* Whether origin (an Origin header) is this server's own: public_url's
 * scheme and host, or the Host the browser used, by either scheme (a TLS
 * proxy may sit in front). */
bool http_origin_is_own(struct http_req *r, const char *origin);

/* Replies; the body reference is stolen. */
int http_reply_json(struct http_req *r, unsigned status, json_t *body);
int http_reply_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error with extra members merged into the "error" object (stolen). */
int http_reply_error_extra(struct http_req *r, unsigned status, const char *code, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int http_reply_static(struct http_req *r, unsigned status, const char *content_type, const void *data, size_t len);
/* Takes ownership of data (malloc'd). */
int http_reply_owned(struct http_req *r, unsigned status, const char *content_type, char *data, size_t len);
int http_reply_empty(struct http_req *r, unsigned status);
/* Serves a file (sendfile through MHD) with a strong ETag, If-None-Match
 * (304) and a single "Range: bytes=" range (206 / 416). Takes ownership of
 * fd. */
int http_reply_file(struct http_req *r, int fd, uint64_t size, const char *content_type, const char *etag);
/* Adds a header to the reply already set. */
int http_reply_header(struct http_req *r, const char *name, const char *value);

/* Refusing while the body is still arriving (413 over a quota, 507 disk
 * full, ...): from a route_stream's begin or chunk, reply with
 * http_refuse (or any http_reply_*) and return. The pipeline then stops
 * passing body to the route, reads and drops the rest of the body (at most
 * HTTP_DRAIN_MAX bytes, within the body deadline), sends the reply with
 * "Connection: close" and closes, so the client reads the status instead of
 * a connection reset. The route's handler does not run; r->cleanup does.
 * Before the body (begin), a client that sent "Expect: 100-continue" gets
 * the reply at once and never sends the body. */
int http_refuse(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs fn on the work pool, off the network threads (for slow CPU work such
 * as argon2id). fn must reply. If the pool's queue is full the request gets
 * 503 at once. No transaction is open when fn runs. */
int http_defer(struct http_req *r, int (*fn)(struct http_req *r));

/* Parks the request in the wake hub under key until timeout_ms from the
 * first call of this request. on_wake then runs on a network thread in a
 * fresh transaction (write for ROUTE_TX_WRITE routes, else read), after the caller is authenticated again (a revoked
 * token ends the wait with 401): it must reply, or call http_wait again to
 * keep waiting. on_wake runs once right after registration (reason
 * WAKE_NONE) to check the store, so a handler just validates its input and
 * calls http_wait; nothing committed after the registration can be missed.
 * r->waiter.reason tells WAKE_EVENT, WAKE_TIMEOUT or WAKE_SHUTDOWN. */
int http_wait(struct http_req *r, const char *key, unsigned timeout_ms, int (*on_wake)(struct http_req *r));

/* Server-Sent Events. pull() appends complete events ("event: x\ndata: ..
 * \n\n") to out for the stream's subscriber, reading the store inside a read
 * transaction; it returns 0, or -1 to end the stream (for instance when the
 * session behind it was revoked). Keep-alive comments are sent every 15 s.
 * state is owned by the stream and released with free_state. */
struct sse_out {
	struct buf buf; /* pending bytes, at most 1 MiB */
	size_t len;     /* buf's length, for pulls that look whether they added */
};
int sse_append(struct sse_out *out, const char *event, const char *id, const char *data);
/* Appends an event whose data is obj as compact JSON (obj is stolen). */
int sse_append_json(struct sse_out *out, const char *event, json_t *obj);
int http_stream(struct http_req *r, const char *key, int (*pull)(void *state, struct db *db, struct sse_out *out),
                void *state, void (*free_state)(void *state));

#endif
