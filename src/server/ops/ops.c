/*
 * /healthz answers 200 while the server can reach its store (503 when it
 * cannot), for load balancers and systemd. /metrics renders the HTTP
 * server's counters in Prometheus text format; it is limited to the
 * metrics_allow networks since route counts are operational detail.
 * /api/v1/firewall lists what the network must allow for Vitrine (the
 * console's /firewall page prints it), from the server's settings.
 */
#include "ops.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/strfmt.h"
#include "../console_config.h"
#include "../content/content.h"
#include "../http/server.h"
#include "../remote/remote.h"
#include "../store/db.h"
#include "../store/store_reply.h"

struct cidr ops_metrics_allow[OPS_MAX_METRICS_ALLOW];
size_t ops_metrics_allow_count;

int ops_handle_healthz(struct http_req *r)
{
	struct db *db = store_db();
	int rc = DB_ERROR;
	struct db_stmt *st = db ? db_query(db, &rc, "SELECT 1", NULL) : NULL;
	db_done(st);
	if (!st) {
		store_reply_error(r, rc, "the health check could not read it");
		return 0;
	}
	static const char ok[] = "{\"status\":\"ok\"}";
	http_reply_static(r, 200, "application/json", ok, sizeof ok - 1);
	return 0;
}

/* host and port of an http(s) URL or HOST:PORT listen address; -1 when
 * the host does not fit host[hostsz] */
static int split_endpoint(const char *text, bool *tls, char *host, size_t hostsz, unsigned *port)
{
	const char *p = text;
	if (strncmp(p, "https://", 8) == 0) {
		*tls = true;
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		*tls = false;
		p += 7;
	}
	size_t n = strcspn(p, "/");
	char hp[300];
	if (n >= sizeof hp)
		return -1;
	snprintf(hp, sizeof hp, "%.*s", (int)n, p);
	char *colon = strrchr(hp, ':'), *bracket = strrchr(hp, ']');
	*port = *tls ? 443 : 80;
	if (colon && (!bracket || colon > bracket)) {
		*port = (unsigned)strtoul(colon + 1, NULL, 10);
		*colon = '\0';
	}
	return strfmt(host, hostsz, "%s", hp);
}

int ops_handle_firewall(struct http_req *r)
{
	const struct server_config *cfg = server_config(r->srv);
	bool tls = cfg->tls_cert_pem != NULL, pub_tls = tls;
	char host[256], listen_host[256];
	unsigned port, listen_port;
	if (split_endpoint(cfg->listen, &tls, listen_host, sizeof listen_host, &listen_port) != 0)
		return http_reply_error(r, 500, "internal", "the listen address's host is longer than 255 bytes");
	if (cfg->public_url && *cfg->public_url) {
		if (split_endpoint(cfg->public_url, &pub_tls, host, sizeof host, &port) != 0)
			return http_reply_error(r, 500, "internal", "public_url's host is longer than 255 bytes");
	} else {
		/* no public URL configured: the address this request came in by */
		const char *h = http_header(r, "Host");
		pub_tls = tls;
		if (split_endpoint(h && strlen(h) < 256 ? h : listen_host, &pub_tls, host, sizeof host, &port) != 0)
			return http_reply_error(r, 500, "internal", "the host name is longer than 255 bytes");
		if (!h || !strchr(h, ':'))
			port = listen_port;
	}
	const char *proto = pub_tls ? "HTTPS" : "HTTP";
	json_t *rules = json_array();
	json_array_append_new(rules,
	                      json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from", "screens (vitrine-player)", "to",
	                                host, "transport", "TCP", "port", (int)port, "protocol", proto, "direction",
	                                "outbound from the screen", "purpose",
	                                "pairing, instructions (long-poll, 30 s requests: proxies must not cut them), "
	                                "heartbeats, manifests and content downloads"));
	json_array_append_new(rules,
	                      json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from",
	                                "staff browsers and the vitrine CLI", "to", host, "transport", "TCP", "port",
	                                (int)port, "protocol", proto, "direction", "outbound from the office",
	                                "purpose", "web console and API (Server-Sent Events stay open)"));
	if (cfg->http_listen && *cfg->http_listen) {
		bool t = false;
		char h2[256];
		unsigned p2;
		if (split_endpoint(cfg->http_listen, &t, h2, sizeof h2, &p2) != 0) {
			json_decref(rules);
			return http_reply_error(r, 500, "internal", "http_listen's host is longer than 255 bytes");
		}
		json_array_append_new(rules,
		                      json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from", "browsers", "to", host,
		                                "transport", "TCP", "port", (int)p2, "protocol", "HTTP", "direction",
		                                "outbound", "purpose", "redirect to HTTPS only (optional)"));
	}
	json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from", "screens", "to",
	                                       "your time servers", "transport", "UDP", "port", 123, "protocol", "NTP",
	                                       "direction", "outbound from the screen", "purpose",
	                                       "a right clock: TLS certificates and schedules depend on it"));
	json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from", "screens", "to",
	                                       "your DNS resolvers", "transport", "UDP/TCP", "port", 53, "protocol",
	                                       "DNS", "direction", "outbound from the screen", "purpose",
	                                       "resolving the server's name"));
	/* sync groups (screens/sync_groups.c): the players of a group talk to
	 * each other on their LAN only, by multicast with TTL 1 */
	static const struct {
		int port;
		const char *multicast, *protocol, *purpose;
	} lan[] = {
	    {16732, "239.255.67.32", "Vitrine sync discovery",
	     "sync groups: the screens of a group find each other and elect their leader"},
	    {16733, "239.255.67.33", "Vitrine sync clock",
	     "sync groups: the leader's clock beacons, which the other screens of the group follow"},
	};
	for (size_t i = 0; i < sizeof lan / sizeof lan[0]; i++)
		json_array_append_new(
		    rules, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:s}", "from",
		                     "screens of a sync group", "to", "the other screens of the group, on the same LAN",
		                     "transport", "UDP", "port", lan[i].port, "protocol", lan[i].protocol, "direction",
		                     "between screens on the same LAN only (multicast, TTL 1): never to the server or "
		                     "the Internet",
		                     "purpose", lan[i].purpose, "multicast_group", lan[i].multicast, "ttl", 1, "scope",
		                     "lan"));
	/* screen share (src/share/): laptops on the LAN connect to a display's
	 * receiver; its mouse input goes back to them */
	json_array_append_new(
	    rules, json_pack("{s:s, s:s, s:s, s:i, s:[i, i, i], s:s, s:s, s:s, s:s}", "from",
	                     "laptops that share their screen (vitrine share)", "to", "displays with screen share on",
	                     "transport", "TCP", "port", 7385, "alternatives", 29736, 2067, 39458, "protocol",
	                     "Vitrine share", "direction",
	                     "from the laptops' networks to the display (the LAN, or routed "
	                     "private subnets): never from the Internet",
	                     "purpose",
	                     "screen share: the session (the first free of the four ports; the share code says which)",
	                     "scope", "share"));
	json_array_append_new(
	    rules, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s}", "from",
	                     "laptops that share their screen (vitrine share)", "to", "displays with screen share on",
	                     "transport", "TCP", "port", 49200, "port_last", 49400, "protocol", "Vitrine share stream",
	                     "direction", "from the laptops' networks to the display", "purpose",
	                     "screen share: each sender's encrypted video (one port per sender)", "scope", "share"));
	json_array_append_new(
	    rules,
	    json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s}", "from", "displays with screen share on", "to",
	              "the laptops sharing to them", "transport", "UDP", "port", 49200, "port_last", 49400, "protocol",
	              "Vitrine share input", "direction", "from the display back to each laptop", "purpose",
	              "screen share: mouse input on the display, to the senders that allow it", "scope", "share"));
	/* the map's tile server (map_tile_url), which the console's Map page loads from */
	const struct tile_origin *tiles = console_config_tiles();
	if (tiles)
		json_array_append_new(rules,
		                      json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from", "staff browsers", "to",
		                                tiles->host, "transport", "TCP", "port", (int)tiles->port, "protocol",
		                                tiles->tls ? "HTTPS" : "HTTP", "direction", "outbound from the office",
		                                "purpose", "map tiles of the console's Map page (map_tile_url)"));
	/* the relays this account's screens and guests may be sent to */
	json_t *relays = remote_firewall_rules(r->db, r->auth.account_id);
	json_array_extend(rules, relays);
	json_decref(relays);
	json_t *notes = json_pack(
	    "[s, s, s, s]",
	    "Screens accept no connection from the server or the Internet: no inbound port is needed there (the sync "
	    "group ports are between the screens of one LAN).",
	    "The kiosk page of each screen listens on 127.0.0.1 only.",
	    "Screens of a sync group must share one LAN segment that passes multicast (UDP 16732 to 239.255.67.32 and "
	    "16733 to 239.255.67.33, TTL 1, so never routed); the screens' own firewall must let those two ports in "
	    "from the LAN.",
	    "Screen share needs no server: the laptops reach the display's receiver directly, so the display's own "
	    "firewall must let TCP 7385 (or 29736, 2067, 39458) and 49200-49400 in from the laptops' networks, and the "
	    "laptops' must let UDP 49200-49400 in from the display for mouse input.");
	http_reply_json(r, 200,
	                json_pack("{s:o, s:o, s:s}", "rules", rules, "notes", notes, "generated_from",
	                          cfg->public_url && *cfg->public_url ? "public_url" : "listen address"));
	return 0;
}

int ops_handle_metrics(struct http_req *r)
{
	bool allowed = false;
	for (size_t i = 0; i < ops_metrics_allow_count; i++)
		if (cidr_contains(&ops_metrics_allow[i], &r->ip_addr))
			allowed = true;
	if (!allowed) {
		http_reply_error(r, 403, "forbidden", "metrics are not served to %s (see metrics_allow)", r->ip);
		return 0;
	}
	char *http = server_render_metrics(r->srv), *text = NULL;
	if (!http || asprintf(&text,
	                      "%s# HELP vitrine_device_object_bytes_total Object bytes queued to screens.\n"
	                      "# TYPE vitrine_device_object_bytes_total counter\n"
	                      "vitrine_device_object_bytes_total %llu\n"
	                      "# HELP vitrine_device_object_responses_total Object responses (200 or 206) to screens.\n"
	                      "# TYPE vitrine_device_object_responses_total counter\n"
	                      "vitrine_device_object_responses_total %llu\n",
	                      http, (unsigned long long)atomic_load(&content_object_bytes_total),
	                      (unsigned long long)atomic_load(&content_object_responses_total)) < 0) {
		free(http);
		http_reply_error(r, 500, "internal", "out of memory");
		return 0;
	}
	free(http);
	http_reply_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
	return 0;
}
