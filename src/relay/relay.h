/*
 * vitrine-relay's core: accepts guests and hosts on a TCP listener, reads
 * each one's first frame (first_frame.h), verifies its ticket offline with
 * the server's public key, remembers every ticket it has seen until it
 * expires (single use), pairs the guest and the host of one session, then
 * forwards bytes both ways unchanged with bounded write queues and
 * back-pressure. It never parses what it forwards and stores nothing.
 */
#ifndef VITRINE_RELAY_RELAY_H
#define VITRINE_RELAY_RELAY_H

#include <sodium.h>
#include <stdint.h>
#include <uv.h>

enum relay_refusal {
	REFUSED_TICKET_INVALID,
	REFUSED_TICKET_EXPIRED,
	REFUSED_TICKET_REPLAYED,
	REFUSED_TICKET_WRONG_SESSION,
	REFUSED_SESSION_ENDED, /* waited alone past the pair timeout, or the session is over */
	REFUSED_FIRST_FRAME_TIMEOUT,
	REFUSED_CONNECTION_LIMIT,
	REFUSAL_REASONS
};

struct relay_options {
	unsigned char server_pk[crypto_sign_PUBLICKEYBYTES];
	uint64_t first_frame_timeout_ms; /* default 5 s */
	uint64_t pair_timeout_ms;        /* default 30 s */
	uint64_t idle_timeout_ms;        /* default 300 s */
	size_t queue_cap;                /* per direction, default 256 KiB */
	unsigned max_connections;        /* default 20000 */
};

struct relay_stats {
	uint64_t sessions_active, sessions_total, sides_waiting, connections;
	uint64_t bytes_guest_to_host, bytes_host_to_guest;
	uint64_t refusals[REFUSAL_REASONS];
};

struct relay;

/* Listens on host:port on loop. Returns NULL with a sentence in err. */
struct relay *relay_start(uv_loop_t *loop, const char *host, int port, const struct relay_options *opt, char *err,
                          size_t errsz);
const struct relay_stats *relay_stats(const struct relay *r);
const char *relay_refusal_name(enum relay_refusal why);
/* Closes the listener and every connection; the loop then runs dry. */
void relay_stop(struct relay *r);
/* Frees r once the loop has run dry after relay_stop. */
void relay_free(struct relay *r);

#endif
