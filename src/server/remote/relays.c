/*
 * The relays registry: where remote sessions may be relayed. An admin of
 * the server's first account (the one `init` made: the operator's) may
 * register shared relays, which every account may use; an admin of any
 * account may register private relays of that account, and an account that
 * has private relays uses only those (SPEC 5: no session of theirs crosses
 * a relay they do not own). Each relay gets a token, shown once, with which
 * it reports its load every few seconds; a relay not heard of for
 * REMOTE_RELAY_HEALTHY_S seconds is unhealthy and skipped. The choice is
 * among the healthy candidates the nearest to the guest by region (the
 * relay's region text names the guest's country code, else its continent
 * code: geo/geoip.h looks the guest up in the geoip_database), then the one
 * with the fewest sessions, then the fewest bytes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "remote.h"

#define RELAY_COLUMNS                                                                                                  \
	"id, account_id, host, port, ws_url, region, created_at, created_by, last_report, load_sessions, load_bytes"
#define MAX_RELAYS_LISTED 500

/* The account `init` made first: its admins run the server itself. */
static bool is_operator_account(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT id FROM accounts ORDER BY created_at, rowid LIMIT 1", "");
	bool yes = st && strcmp(db_col_text(st, 0), account_id) == 0;
	db_done(st);
	return yes;
}

static bool healthy(int64_t last_report, int64_t now)
{
	return last_report > 0 && now - last_report <= REMOTE_RELAY_HEALTHY_S;
}

static json_t *relay_json(struct db_stmt *st, int64_t now)
{
	int64_t last = db_col_int(st, 8);
	return json_pack("{s:s, s:b, s:s, s:I, s:s, s:s, s:I, s:s, s:b, s:I, s:{s:I, s:I}}", "id", db_col_text(st, 0),
	                 "shared", db_col_is_null(st, 1), "host", db_col_text(st, 2), "port",
	                 (json_int_t)db_col_int(st, 3), "ws_url", db_col_text(st, 4), "region", db_col_text(st, 5),
	                 "created_at", (json_int_t)db_col_int(st, 6), "created_by", db_col_text(st, 7), "healthy",
	                 healthy(last, now), "last_report", (json_int_t)last, "load", "sessions",
	                 (json_int_t)db_col_int(st, 9), "bytes", (json_int_t)db_col_int(st, 10));
}

static bool account_has_private(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT 1 FROM relays WHERE account_id = ? LIMIT 1", "s", account_id);
	db_done(st);
	return st != NULL;
}

int remote_region_rank(const char *relay_region, const struct geo_place *guest)
{
	int best = 2;
	for (const char *p = relay_region; guest && *p;) {
		while (*p && !isalnum((unsigned char)*p))
			p++;
		size_t n = 0;
		while (isalnum((unsigned char)p[n]))
			n++;
		if (n == 2 && guest->country[0] && strncasecmp(p, guest->country, 2) == 0)
			return 0;
		if (n == 2 && guest->continent[0] && strncasecmp(p, guest->continent, 2) == 0)
			best = 1;
		p += n;
	}
	return best;
}

enum remote_choice remote_relay_choose(struct db *db, const char *account_id, const struct geo_place *guest,
                                       int64_t now, struct remote_relay *out)
{
	bool private_only = account_has_private(db, account_id);
	struct db_stmt *st = db_prepare(db, "SELECT id, host, port, ws_url, region FROM relays "
	                                    "WHERE (account_id = ? OR (? = 0 AND account_id IS NULL)) "
	                                    "AND last_report > 0 AND last_report >= ? "
	                                    "ORDER BY load_sessions, load_bytes, id LIMIT ?");
	if (!st)
		return REMOTE_STORE_ERROR;
	db_bind_text(st, 1, account_id);
	db_bind_int(st, 2, private_only);
	db_bind_int(st, 3, now - REMOTE_RELAY_HEALTHY_S);
	db_bind_int(st, 4, MAX_RELAYS_LISTED);
	/* rows come by load: the first of the nearest rank wins */
	int best = 3, rc;
	while ((rc = db_step(st)) == DB_ROW) {
		int rank = remote_region_rank(db_col_text(st, 4), guest);
		if (rank >= best)
			continue;
		best = rank;
		snprintf(out->id, sizeof out->id, "%s", db_col_text(st, 0));
		snprintf(out->host, sizeof out->host, "%s", db_col_text(st, 1));
		out->port = (unsigned)db_col_int(st, 2);
		snprintf(out->ws_url, sizeof out->ws_url, "%s", db_col_text(st, 3));
		if (rank == 0)
			break;
	}
	db_done(st);
	if (rc < 0)
		return REMOTE_STORE_ERROR;
	if (best == 3)
		return private_only ? REMOTE_NO_HEALTHY_PRIVATE : REMOTE_NO_RELAY;
	return REMOTE_CHOSEN;
}

int remote_relay_address(const struct remote_relay *relay, char *out, size_t outsz)
{
	return strchr(relay->host, ':') ? strfmt(out, outsz, "[%s]:%u", relay->host, relay->port)
	                                : strfmt(out, outsz, "%s:%u", relay->host, relay->port);
}

/* --- input checks --- */

static const char *host_problem(const char *host)
{
	size_t n = host ? strlen(host) : 0;
	if (n == 0 || n > 253)
		return "host must be a host name or IP address of 1 to 253 characters";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)host[i]) && !strchr(".-:", host[i]))
			return "host may hold only letters, digits, '.', '-' and ':' (an IPv6 address without "
			       "brackets)";
	return NULL;
}

/* ws_url: wss://HOST[:PORT][/PATH] or ws://...; *port_out gets its port. */
static const char *ws_url_problem(const char *url, char *host_out, size_t hostsz, unsigned *port_out, bool *tls)
{
	size_t n = url ? strlen(url) : 0;
	if (n == 0 || n > 512)
		return "ws_url must be a wss:// (or ws://) URL of at most 512 characters";
	const char *rest;
	if (strncasecmp(url, "wss://", 6) == 0) {
		rest = url + 6;
		*tls = true;
		*port_out = 443;
	} else if (strncasecmp(url, "ws://", 5) == 0) {
		rest = url + 5;
		*tls = false;
		*port_out = 80;
	} else {
		return "ws_url must start with wss:// (or ws://)";
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return "ws_url may not hold spaces, control or non-ASCII characters";
	size_t hlen;
	const char *after;
	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (!close)
			return "ws_url: an IPv6 address needs its closing ']'";
		hlen = (size_t)(close - rest - 1);
		rest++;
		after = close + 1;
	} else {
		hlen = strcspn(rest, ":/?#");
		after = rest + hlen;
	}
	if (hlen == 0 || hlen >= hostsz)
		return "ws_url needs a host";
	memcpy(host_out, rest, hlen);
	host_out[hlen] = '\0';
	if (*after == ':') {
		char *end;
		long p = strtol(after + 1, &end, 10);
		if (end == after + 1 || p < 1 || p > 65535 || (*end && !strchr("/?#", *end)))
			return "ws_url's port must be 1 to 65535";
		*port_out = (unsigned)p;
	} else if (*after && !strchr("/?#", *after)) {
		return "ws_url is not a URL";
	}
	return NULL;
}

static const char *region_problem(const char *region)
{
	if (strlen(region) > 64)
		return "region must be at most 64 characters";
	for (const char *p = region; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "region may not hold control characters";
	return NULL;
}

/* --- routes --- */

int remote_handle_relays_list(struct http_req *r)
{
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT " RELAY_COLUMNS " FROM relays WHERE account_id = ? OR "
	                      "account_id IS NULL ORDER BY account_id IS NULL, host, port, id LIMIT ?");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the relays could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, MAX_RELAYS_LISTED);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, relay_json(st, now));
	db_done(st);
	bool private_only = account_has_private(r->db, r->auth.account_id);
	http_reply_json(r, 200,
	                json_pack("{s:o, s:s}", "relays", list, "uses",
	                          private_only ? "private relays only (the account has its own)"
	                                       : "shared relays (the account has no private relay)"));
	return 0;
}

int remote_handle_relay_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jhost = json_object_get(body, "host"), *jport = json_object_get(body, "port");
	json_t *jws = json_object_get(body, "ws_url"), *jregion = json_object_get(body, "region");
	json_t *jshared = json_object_get(body, "shared");
	const char *host = json_string_value(jhost), *problem = host_problem(host);
	if (problem)
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	json_int_t port = REMOTE_RELAY_PORT_DEFAULT;
	if (jport && (!json_is_integer(jport) || json_integer_value(jport) < 1 || json_integer_value(jport) > 65535))
		return http_reply_error(r, 400, "invalid_field", "port must be an integer from 1 to 65535 (default %d)",
		                        REMOTE_RELAY_PORT_DEFAULT);
	if (jport)
		port = json_integer_value(jport);
	char ws_host[256];
	unsigned ws_port;
	bool ws_tls;
	if ((problem = ws_url_problem(json_string_value(jws), ws_host, sizeof ws_host, &ws_port, &ws_tls)))
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	if (jregion && !json_is_string(jregion))
		return http_reply_error(r, 400, "invalid_field", "region must be a string");
	const char *region = jregion ? json_string_value(jregion) : "";
	if ((problem = region_problem(region)))
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	if (jshared && !json_is_boolean(jshared))
		return http_reply_error(r, 400, "invalid_field", "shared must be true or false");
	bool shared = json_is_true(jshared);
	if (shared && !is_operator_account(r->db, r->auth.account_id))
		return http_reply_error(r, 403, "shared_relay_forbidden",
		                        "only admins of the server's first account register shared relays; register "
		                        "a private relay (shared: false) for this account");
	char id[CODES_ID_LEN + 1], token[CODES_TOKEN_LEN], hash[CODES_HASH_HEX_LEN];
	codes_new_id(id);
	codes_new_token("vr_", token);
	codes_hash_hex(token, strlen(token), hash);
	int64_t now = (int64_t)time(NULL);
	int rc = db_exec(r->db,
	                 "INSERT INTO relays(id, account_id, host, port, ws_url, region, token_hash, created_at, "
	                 "created_by) VALUES(?,?,?,?,?,?,?,?,?)",
	                 "sssisssis", id, shared ? NULL : r->auth.account_id, host, (int64_t)port,
	                 json_string_value(jws), region, hash, now, r->auth.login);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the relay could not be saved");
	char detail[300];
	snprintf(detail, sizeof detail, "%s %s:%lld", shared ? "shared" : "private", host, (long long)port);
	audit_request(r, "relay.registered", id, detail);
	int qrc;
	struct db_stmt *st = db_query(r->db, &qrc, "SELECT " RELAY_COLUMNS " FROM relays WHERE id = ?", "s", id);
	json_t *j = st ? relay_json(st, now) : NULL;
	db_done(st);
	if (!j)
		return store_reply_error(r, qrc, "the relay could not be read back");
	http_reply_json(r, 201, json_pack("{s:o, s:s}", "relay", j, "token", token));
	sodium_memzero(token, sizeof token);
	return 0;
}

int remote_handle_relay_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = codes_is_id(id)
	                         ? db_query(r->db, &rc,
	                                    "SELECT account_id IS NULL, host, port FROM relays WHERE id = ? "
	                                    "AND (account_id = ? OR account_id IS NULL)",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found",
		                        "no such relay (private relays of other accounts are unknown)");
	bool shared = db_col_int(st, 0) != 0;
	char detail[300];
	snprintf(detail, sizeof detail, "%s %s:%lld", shared ? "shared" : "private", db_col_text(st, 1),
	         (long long)db_col_int(st, 2));
	db_done(st);
	if (shared && !is_operator_account(r->db, r->auth.account_id))
		return http_reply_error(r, 403, "shared_relay_forbidden",
		                        "only admins of the server's first account remove shared relays");
	if ((rc = db_exec(r->db, "DELETE FROM relays WHERE id = ?", "s", id)) != DB_DONE)
		return store_reply_error(r, rc, "the relay could not be removed");
	audit_request(r, "relay.removed", id, detail);
	return http_reply_empty(r, 204);
}

/* --- /firewall --- */

json_t *remote_firewall_rules(struct db *db, const char *account_id)
{
	json_t *rules = json_array();
	if (!db)
		return rules;
	bool private_only = account_has_private(db, account_id);
	struct db_stmt *st = db_prepare(db, "SELECT host, port, ws_url, account_id IS NULL FROM relays "
	                                    "WHERE account_id = ? OR (? = 0 AND account_id IS NULL) "
	                                    "ORDER BY host, port LIMIT 100");
	if (!st)
		return rules;
	db_bind_text(st, 1, account_id);
	db_bind_int(st, 2, private_only);
	while (db_step(st) == DB_ROW) {
		const char *kind = db_col_int(st, 3) ? "shared relay" : "private relay";
		char purpose[128];
		snprintf(purpose, sizeof purpose, "remote control through a %s: raw TCP first", kind);
		json_array_append_new(rules,
		                      json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "from",
		                                "screens and remote-control guests", "to", db_col_text(st, 0),
		                                "transport", "TCP", "port", (json_int_t)db_col_int(st, 1), "protocol",
		                                "vitrine-relay", "direction", "outbound", "purpose", purpose));
		char ws_host[256];
		unsigned ws_port;
		bool tls;
		if (ws_url_problem(db_col_text(st, 2), ws_host, sizeof ws_host, &ws_port, &tls) == NULL) {
			snprintf(purpose, sizeof purpose,
			         "remote control through a %s: WebSocket when TCP is blocked (%s)", kind,
			         db_col_text(st, 2));
			json_array_append_new(rules,
			                      json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "from",
			                                "screens and remote-control guests", "to", ws_host, "transport",
			                                "TCP", "port", (int)ws_port, "protocol", tls ? "WSS" : "WS",
			                                "direction", "outbound", "purpose", purpose));
		}
	}
	db_done(st);
	return rules;
}
