/*
 * The player's transport: the one libcurl multi handle every request of the
 * player goes through, the device token, the back-off, the clocks and the
 * loop with its table of timers. Its clients (the agent: pairing,
 * instructions, heartbeats; content sync; later the remote-control host,
 * updates and sync groups) start calls and learn how each ended through the
 * call's ops:
 *
 *   answered      the server answered (any status; not a 5xx, and not 401
 *                 on a call that carried the token)
 *   failed        no usable answer: the network failed, the server answered
 *                 5xx, or writing the body locally failed (f->local); the
 *                 failure is counted and f->retry_ms says when to retry
 *                 (exponential back-off with jitter, and never before the
 *                 server's Retry-After)
 *   unauthorized  401 on a call with the token: the token is forgotten and
 *                 the transport's owner told (pairing starts again)
 *
 * While the server has asked for quiet (503 with Retry-After), calls that
 * are started wait inside the transport until the hint (with jitter) has
 * passed, so a fleet does not storm a server that is stopping.
 *
 * Everything here runs on the loop's thread. Nothing listens on the network.
 */
#ifndef VITRINE_PLAYER_TRANSPORT_H
#define VITRINE_PLAYER_TRANSPORT_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "config.h"
#include "timers.h"

struct transport;
struct transport_call;
struct player_state;

struct transport_failure {
	bool local;         /* the disk, not the network or the server */
	long status;        /* HTTP status, 0 when none */
	int64_t retry_ms;   /* when to try again, from now */
	const char *detail; /* one line for people */
};

struct transport_call_ops {
	void (*answered)(struct transport_call *c, long status);
	void (*failed)(struct transport_call *c, const struct transport_failure *f);
	void (*unauthorized)(struct transport_call *c); /* may be NULL */
};

/* Where the body of an answer goes instead of memory (downloads). Returns
 * len, or less to stop the transfer (then set c->local_errno if the reason
 * is local). */
typedef size_t (*transport_sink)(struct transport_call *c, const char *data, size_t len);

struct transport_request {
	const char *what; /* names the call in errors: "heartbeat", "download" */
	const char *method;
	const char *path; /* after the server's base URL */
	const void *body; /* copied; NULL for none */
	size_t body_len;
	const char *content_type;
	long timeout_s;
	bool with_token;
	const char *headers[4];            /* extra header lines, NULL-ended */
	transport_sink sink;               /* NULL: the body is kept in memory (at most 1 MiB) */
	long low_speed_time_s;             /* a transfer slower than 1 byte/s that long fails; 0: none */
	unsigned long long max_recv_speed; /* bytes/s, 0: unlimited */
};

/* A call slot, owned by the client (embedded in its struct). Clients set
 * ops and owner, may read busy, and set local_errno from a sink; the
 * fields after busy are the transport's. */
struct transport_call {
	const struct transport_call_ops *ops;
	void *owner;     /* the client's pointer, for its ops */
	int local_errno; /* set by a sink that failed for a local reason */
	bool busy;       /* started and not yet ended */
	struct transport *t;
	CURL *easy;
	struct curl_slist *headers;
	struct buf resp; /* the answer, when there is no sink */
	char *body;
	transport_sink sink;
	const char *what;
	bool with_token;
	int64_t sent_wall_ms;
	struct transport_call *next_waiting; /* held back while the server asked for quiet */
	bool waiting;
};

/* What the owner of the transport (the agent) hears. */
struct transport_events {
	void (*connectivity)(void *arg, bool online, const char *detail);
	void (*token_revoked)(void *arg);
};

struct transport *transport_create(const struct player_config *cfg, struct player_state *st,
                                   const struct transport_events *ev, void *ev_arg);
void transport_destroy(struct transport *t);

/* Runs the loop until *stop is set: due timers, transfers, their ops. */
int transport_run(struct transport *t, volatile sig_atomic_t *stop);
struct timers *transport_timers(struct transport *t);

/* Starts a request on slot c (which must not be busy). 0, or -1. */
int transport_start(struct transport *t, struct transport_call *c, const struct transport_request *req);
/* Stops c if it is running and frees what it holds. */
void transport_call_free(struct transport_call *c);
/* The answer: JSON (caller owns; NULL if none), raw bytes, the status so
 * far (usable from a sink) and one response header (NULL if absent). */
json_t *transport_call_json(struct transport_call *c);
long transport_call_status(struct transport_call *c);
const char *transport_call_header(struct transport_call *c, const char *name);
/* Overwrites the answer held in memory (it carried a secret). */
void transport_call_wipe(struct transport_call *c);

/* An answer the client cannot use counts as a failure: returns the delay
 * before a retry. */
int64_t transport_note_failure(struct transport *t, const char *what, long status);
/* The server was reached and understood: the back-off starts again. */
void transport_note_success(struct transport *t);
const char *transport_last_error(const struct transport *t);
bool transport_online(const struct transport *t);

/* The device token (from the player state). */
bool transport_paired(const struct transport *t);
int transport_save_token(struct transport *t, const char *token, const char *device_id);
void transport_forget_token(struct transport *t);

/* Clocks: monotonic and wall milliseconds; the server's clock minus ours,
 * learnt from an answer's server_time to call c. */
int64_t transport_mono_ms(void);
int64_t transport_wall_ms(void);
void transport_note_server_time(struct transport *t, const struct transport_call *c, int64_t server_ms);
int64_t transport_clock_offset_ms(const struct transport *t);
int64_t transport_uptime_ms(const struct transport *t);

/* Back-off after `failures` failures in a row: full jitter in [b/2, b),
 * b = 1 s doubling up to 60 s. */
int64_t transport_backoff_ms(unsigned failures);

/* The common TLS and timeout settings of a curl handle (also --diagnose). */
void transport_curl_defaults(CURL *easy, const struct player_config *cfg);

#endif
