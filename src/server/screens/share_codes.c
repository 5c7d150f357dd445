/*
 * Brokered share codes (docs/PROTOCOL.md, "Screen share: brokered codes"):
 * a display whose address is outside the private ranges cannot encode it in
 * its nine digits, so its player asks the server for a code (POST
 * /api/v1/device/share-code with the address and command port it listens
 * on). The server draws a free number of the brokered range, keeps it for
 * the screen (the same number while the screen renews it) and answers the
 * code; a laptop's `vitrine share` resolves it with GET
 * /api/v1/share-codes/{code}, which needs no login (the code is no secret;
 * the key shown on the screen authenticates) and is limited per address so
 * that nobody can walk the range.
 */
#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../http/server.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "screens.h"
#include "share/code.h"

#define SHARE_CODE_TTL_S    (24 * 3600) /* the player renews it well before */
#define LOOKUPS_PER_ADDRESS 30          /* per LOOKUP_WINDOW_S */
#define LOOKUP_WINDOW_S     600
#define DRAWS_MAX           16

/* A unicast IPv4 address a laptop could connect to: not 0/8, loopback,
 * link-local, multicast or reserved. Host byte order into *out. */
static bool reachable_ipv4(const char *text, uint32_t *out)
{
	struct in_addr a;
	if (!text || inet_pton(AF_INET, text, &a) != 1)
		return false;
	uint32_t v = ntohl(a.s_addr);
	unsigned first = v >> 24;
	if (first == 0 || first == 127 || first >= 224 || (v & 0xffff0000u) == 0xa9fe0000u)
		return false;
	*out = v;
	return true;
}

int screens_handle_device_share_code(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *address = json_string_value(json_object_get(body, "address"));
	json_t *jport = json_object_get(body, "port");
	uint32_t ipv4;
	if (!reachable_ipv4(address, &ipv4))
		return http_reply_error(r, 400, "invalid_field",
		                        "address must be the display's IPv4 address (dotted, unicast, not loopback)");
	if (!json_is_integer(jport) || json_integer_value(jport) < 0 || json_integer_value(jport) > 65535 ||
	    share_code_port_index((uint16_t)json_integer_value(jport)) < 0)
		return http_reply_error(r, 400, "invalid_field",
		                        "port must be the command port: 7385, 29736, 2067 or 39458");
	int port = (int)json_integer_value(jport);
	int64_t now = (int64_t)time(NULL), expires = now + SHARE_CODE_TTL_S;
	db_exec(r->db, "DELETE FROM share_codes WHERE expires_at <= ?", "i", now);
	int rc;
	int64_t index = -1;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT code_index FROM share_codes WHERE screen_id = ?", "s", r->auth.device_id);
	if (st && rc == DB_ROW)
		index = db_col_int(st, 0);
	db_done(st);
	if (rc != DB_ROW && rc != DB_DONE)
		return store_reply_error(r, rc, "the share code could not be read");
	if (index >= 0) {
		rc = db_exec(r->db, "UPDATE share_codes SET address = ?, port = ?, expires_at = ? WHERE screen_id = ?",
		             "siis", address, (int64_t)port, expires, r->auth.device_id);
	} else {
		/* a random free number: codes do not say how many displays there are */
		rc = DB_CONSTRAINT;
		for (int draw = 0; draw < DRAWS_MAX && rc == DB_CONSTRAINT; draw++) {
			index = randombytes_uniform(SHARE_CODE_BROKERED_COUNT);
			rc =
			    db_exec(r->db,
			            "INSERT INTO share_codes (code_index, screen_id, address, port, expires_at) VALUES "
			            "(?, ?, ?, ?, ?)",
			            "issii", index, r->auth.device_id, address, (int64_t)port, expires);
		}
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the share code could not be saved");
	char code[SHARE_CODE_TEXT_SIZE];
	share_code_brokered((uint32_t)index, code);
	http_reply_json(r, 200, json_pack("{s:s, s:I}", "code", code, "expires_at", (json_int_t)expires));
	return 0;
}

int screens_handle_share_code_lookup(struct http_req *r)
{
	/* the count is committed whatever the answer (a 404 rolls a route's
	 * transaction back): its own transaction, then the lookup */
	int64_t now = (int64_t)time(NULL);
	r->db = store_db();
	if (!r->db || db_begin(r->db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	int64_t hits = ratelimit_hit(r->db, "share_code_lookup_ip", r->ip, LOOKUP_WINDOW_S, now);
	if (hits < 0 || db_commit(r->db) != DB_DONE) {
		db_rollback(r->db);
		return store_reply_error(r, DB_ERROR, "the lookup could not be counted");
	}
	if (hits > LOOKUPS_PER_ADDRESS) {
		http_reply_error(r, 429, "too_many_attempts", "too many share code lookups from this address; wait");
		http_reply_header(r, "Retry-After", "600");
		return 0;
	}
	struct share_code_target t;
	enum share_code_status status = share_code_parse(http_param(r, "code"), &t);
	if (status != SHARE_CODE_OK)
		return http_reply_error(r, 400, "invalid_code", "%s", share_code_status_message(status));
	if (t.kind != SHARE_CODE_BROKERED)
		return http_reply_error(r, 400, "direct_code",
		                        "this code holds the display's address itself: connect to it directly");
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT address, port FROM share_codes WHERE code_index = ? AND expires_at > ?", "ii",
	             (int64_t)t.broker_index, now);
	if (st && rc == DB_ROW) {
		json_t *reply =
		    json_pack("{s:s, s:I}", "address", db_col_text(st, 0), "port", (json_int_t)db_col_int(st, 1));
		db_done(st);
		http_reply_json(r, 200, reply);
		return 0;
	}
	db_done(st);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the share code could not be read");
	return http_reply_error(r, 404, "not_found", "no display shows this share code now");
}
