/*
 * The relay's link to the server (--server-url, --relay-id,
 * --relay-token-file; docs/PROTOCOL.md "Remote control: the relay"),
 * driven by libcurl's multi interface on the relay's own libuv loop
 * (curl_multi_socket_action with a uv_poll per socket and one uv_timer):
 * - every LINK_REPORT_MS it POSTs /api/v1/relays/{id}/report with its load
 *   and the session events (started / ended) since the last report the
 *   server accepted; events are kept (at most LINK_EVENTS_MAX) until then;
 * - it holds a long-poll GET /api/v1/relays/{id}/cuts?wait=25&after=SEQ
 *   and cuts at once the sessions it names (relay_cut).
 * The relay token is kept in memory only; it can end sessions' relaying
 * and report load, nothing more, and it decrypts nothing.
 */
#ifndef VITRINE_RELAY_LINK_H
#define VITRINE_RELAY_LINK_H

#include <stddef.h>
#include <uv.h>

#include "relay.h"

#define LINK_REPORT_MS  5000
#define LINK_EVENTS_MAX 20000 /* beyond, the oldest events are dropped (and counted) */

struct link_options {
	const char *server_url; /* http(s)://host[:port], no trailing path */
	const char *relay_id;
	const char *token;   /* vr_... */
	const char *ca_file; /* NULL: the system's CAs */
};

struct link;

/* Starts reporting and polling at once. Returns NULL with a sentence in err. */
struct link *link_start(uv_loop_t *loop, struct relay *relay, const struct link_options *opt, char *err, size_t errsz);
/* The relay's event hook (relay_set_event_hook(r, link_on_event, link)). */
void link_on_event(void *link, const struct relay_event *ev);
/* Graceful stop: ends the cuts long-poll, sends one last report of the
 * events not yet reported (the sessions the stop ended) if there are any,
 * and then -- when it is answered, or after grace_ms -- link_stop. */
void link_finish(struct link *l, unsigned grace_ms);
/* Cancels the transfers and closes the handles; the loop then runs dry. */
void link_stop(struct link *l);
void link_free(struct link *l);

#endif
