/*
 * vitrine-relay's core: accepts guests and hosts on its listeners (raw TCP,
 * WebSocket, WebSocket over TLS: ws.h), reads each one's first frame
 * (first_frame.h), verifies its ticket offline with the server's public
 * key, remembers every ticket it has seen until it expires (single use),
 * pairs the guest and the host of one session whatever transport each
 * came by, then forwards bytes both ways unchanged with bounded write
 * queues, back-pressure and optional rate limits. It never parses what it
 * forwards, holds no key that could decrypt it, and stores nothing. Each
 * session's start and end are told to an event hook (the server link,
 * link.h), and a session can be cut by id (an admin ended it).
 */
#ifndef VITRINE_RELAY_RELAY_H
#define VITRINE_RELAY_RELAY_H

#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/ticket.h"

enum relay_refusal {
	REFUSED_TICKET_INVALID,
	REFUSED_TICKET_EXPIRED,
	REFUSED_TICKET_REPLAYED,
	REFUSED_TICKET_WRONG_SESSION,
	REFUSED_SESSION_ENDED, /* waited alone past the pair timeout, or the session is over */
	REFUSED_FIRST_FRAME_TIMEOUT,
	REFUSED_CONNECTION_LIMIT,
	REFUSED_WS_HANDSHAKE,  /* not a WebSocket upgrade request (answered 400/426/431) */
	REFUSED_TLS_HANDSHAKE, /* the TLS handshake of a WSS connection failed */
	REFUSED_WS_PROTOCOL,   /* a text message, a message over 64 KiB, or a framing error */
	REFUSED_ADDRESS_LIMIT, /* its address (IPv4 /32, IPv6 /64) already has per_address_limit unadmitted */
	REFUSAL_REASONS
};

enum relay_transport { RELAY_TCP, RELAY_WS, RELAY_WSS, RELAY_TRANSPORTS };

struct relay_options {
	unsigned char server_pk[crypto_sign_PUBLICKEYBYTES];
	uint64_t first_frame_timeout_ms;       /* default 5 s (covers the TLS and WebSocket handshakes too) */
	uint64_t pair_timeout_ms;              /* default 30 s */
	uint64_t idle_timeout_ms;              /* default 300 s */
	size_t queue_cap;                      /* per direction, default 256 KiB */
	unsigned max_connections;              /* default 20000 */
	unsigned per_address_limit;            /* connections of one address before their ticket; default 64 */
	uint64_t ws_ping_ms;                   /* pings to WebSocket clients, default 30 s; 0: none */
	uint64_t session_rate;                 /* bytes/s in each direction of a session; 0: none */
	uint64_t total_rate;                   /* bytes/s of all sessions together; 0: none */
	char public_address[TICKET_RELAY_MAX]; /* "" or the HOST:PORT tickets must name */
};

struct relay_stats {
	uint64_t sessions_active, sessions_total, sides_waiting, connections;
	uint64_t connections_open[RELAY_TRANSPORTS], connections_total[RELAY_TRANSPORTS];
	uint64_t bytes_guest_to_host, bytes_host_to_guest;
	uint64_t rate_pauses; /* times a side was paused by a rate limit */
	uint64_t refusals[REFUSAL_REASONS];
};

/* What the server link is told. reason (ended only): "closed" (a side
 * went), "session_ended" (pair or idle timeout), "ended_by_admin" (cut),
 * "relay_stopped". */
struct relay_event {
	char session_id[CODES_ID_LEN + 1];
	bool ended;
	int64_t at;
	uint64_t bytes_guest_to_host, bytes_host_to_guest;
	const char *reason;
};
typedef void (*relay_event_fn)(void *arg, const struct relay_event *ev);

struct relay;

struct relay *relay_create(uv_loop_t *loop, const struct relay_options *opt);
/* Listens on host:port for transport t (cred and prio for RELAY_WSS).
 * Returns 0, or -1 with a sentence in err. */
int relay_listen(struct relay *r, enum relay_transport t, const char *host, int port,
                 gnutls_certificate_credentials_t cred, gnutls_priority_t prio, char *err, size_t errsz);
void relay_set_event_hook(struct relay *r, relay_event_fn fn, void *arg);
/* Ends session_id now (both sides get "error session_ended" and are
 * closed) and refuses it from now on. Returns 1 when a side was there. */
int relay_cut(struct relay *r, const char *session_id);
const struct relay_stats *relay_stats(const struct relay *r);
const char *relay_refusal_name(enum relay_refusal why);
const char *relay_transport_name(enum relay_transport t);
/* Closes the listeners and every connection; the loop then runs dry. */
void relay_stop(struct relay *r);
/* Frees r once the loop has run dry after relay_stop. */
void relay_free(struct relay *r);

#endif
