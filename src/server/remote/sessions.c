/*
 * Remote sessions: POST /api/v1/screens/{id}/remote hands a support user
 * (or an admin) a session with one screen. It picks a relay (relays.c),
 * records the session, signs two tickets with the server's key (guest and
 * host, REMOTE_TICKET_LIFETIME_S seconds each), queues the host's ticket for
 * the screen as a `remote_session` instruction (delivered at once by its
 * long-poll), and answers the guest with its ticket, the relay and the
 * screen's public key pinned at pairing, against which the guest checks the
 * host in the end-to-end handshake. Admins list the account's sessions and
 * end one (recorded and audited; telling the relay to cut both sides is not
 * built yet). Support users may reach every screen of their account: per
 * screen grants for support users do not exist yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/strfmt.h"
#include "../../common/ticket.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/presence.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "remote.h"

#define MAX_SESSIONS_LISTED      200
#define REMOTE_REQUESTS_PER_USER 30
#define REMOTE_REQUEST_WINDOW_S  600

static int sign_for(const char *session_id, enum ticket_role role, const char *relay_addr, int64_t exp,
                    const char *screen_id, const char *user_id, char out[TICKET_TEXT_MAX])
{
	struct ticket t = {.role = role, .expires_at = exp};
	if (strfmt(t.session_id, sizeof t.session_id, "%s", session_id) != 0 ||
	    strfmt(t.relay, sizeof t.relay, "%s", relay_addr) != 0 ||
	    strfmt(t.screen_id, sizeof t.screen_id, "%s", screen_id) != 0 ||
	    strfmt(t.user_id, sizeof t.user_id, "%s", user_id) != 0)
		return -1;
	const unsigned char *sk = remote_key_secret();
	return sk ? ticket_sign(&t, sk, out, TICKET_TEXT_MAX) : -1;
}

static int reply_no_relay(struct http_req *r, enum remote_choice c)
{
	if (c == REMOTE_STORE_ERROR)
		return store_reply_error(r, DB_ERROR, "the relays could not be read");
	if (c == REMOTE_NO_HEALTHY_PRIVATE)
		return http_reply_error(r, 503, "no_relay",
		                        "none of this account's private relays has reported in the last %d s (an "
		                        "account with private relays never uses shared ones)",
		                        REMOTE_RELAY_HEALTHY_S);
	return http_reply_error(r, 503, "no_relay",
	                        "no relay has reported in the last %d s: remote control is "
	                        "unavailable until one does",
	                        REMOTE_RELAY_HEALTHY_S);
}

int remote_handle_session_create(struct http_req *r)
{
	const char *screen_id = http_param(r, "id");
	if (!screens_require(r, screen_id))
		return 0;
	/* each request queues an instruction and a session row: a user (or a
	 * script with their token) gets REMOTE_REQUESTS_PER_USER per window */
	int64_t hits =
	    ratelimit_hit(r->db, "remote_request_user", r->auth.user_id, REMOTE_REQUEST_WINDOW_S, (int64_t)time(NULL));
	if (hits > REMOTE_REQUESTS_PER_USER) {
		char after[24];
		snprintf(after, sizeof after, "%lld",
		         (long long)ratelimit_retry_after(r->db, "remote_request_user", r->auth.user_id,
		                                          REMOTE_REQUEST_WINDOW_S, (int64_t)time(NULL)));
		http_reply_error(r, 429, "too_many_requests",
		                 "more than %d remote sessions asked for in %d minutes: wait before the next one",
		                 REMOTE_REQUESTS_PER_USER, REMOTE_REQUEST_WINDOW_S / 60);
		return http_reply_header(r, "Retry-After", after);
	}
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT public_key, last_seen, name FROM screens WHERE id = ?", "s", screen_id);
	if (!st)
		return store_reply_error(r, rc, "the screen could not be read");
	char public_key[128], name[256];
	int64_t last_seen = db_col_int(st, 1), now = (int64_t)time(NULL);
	bool key_fits = strfmt(public_key, sizeof public_key, "%s", db_col_text(st, 0)) == 0;
	snprintf(name, sizeof name, "%s", db_col_text(st, 2));
	db_done(st);
	char ip[64];
	presence_last_seen(screen_id, last_seen, &last_seen, ip, sizeof ip);
	if (!key_fits || !*public_key)
		return http_reply_error(r, 409, "no_host_key",
		                        "the screen registered no public key at pairing: pair it again with a player "
		                        "that has one");
	if (!last_seen || now - last_seen > SCREENS_ONLINE_GRACE_S)
		return http_reply_error(r, 409, "screen_offline",
		                        "the screen \"%s\" has not been heard of for %d s: it must be online to be "
		                        "controlled",
		                        name, SCREENS_ONLINE_GRACE_S);
	struct remote_relay relay;
	enum remote_choice c = remote_relay_choose(r->db, r->auth.account_id, now, &relay);
	if (c != REMOTE_CHOSEN)
		return reply_no_relay(r, c);
	char sid[CODES_ID_LEN + 1], addr[TICKET_RELAY_MAX];
	codes_new_id(sid);
	char *guest_ticket = malloc(TICKET_TEXT_MAX), *host_ticket = malloc(TICKET_TEXT_MAX);
	int64_t exp = now + REMOTE_TICKET_LIFETIME_S;
	if (!guest_ticket || !host_ticket || remote_relay_address(&relay, addr, sizeof addr) != 0 ||
	    sign_for(sid, TICKET_GUEST, addr, exp, screen_id, r->auth.user_id, guest_ticket) != 0 ||
	    sign_for(sid, TICKET_HOST, addr, exp, screen_id, r->auth.user_id, host_ticket) != 0) {
		free(guest_ticket);
		free(host_ticket);
		return http_reply_error(r, 500, "internal", "the tickets could not be signed");
	}
	rc =
	    db_exec(r->db,
	            "INSERT INTO remote_sessions(id, account_id, screen_id, user_id, user_login, relay_id, relay_host, "
	            "relay_port, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
	            "sssssssii", sid, r->auth.account_id, screen_id, r->auth.user_id, r->auth.login, relay.id,
	            relay.host, (int64_t)relay.port, now);
	json_t *jrelay =
	    json_pack("{s:s, s:i, s:s}", "host", relay.host, "port", (int)relay.port, "ws_url", relay.ws_url);
	json_t *payload = json_pack("{s:s, s:O, s:s, s:s, s:I}", "session_id", sid, "relay", jrelay, "ticket",
	                            host_ticket, "guest", r->auth.login, "expires_at", (json_int_t)exp);
	char *payload_text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	char iid[CODES_ID_LEN + 1];
	if (rc != DB_DONE || !payload_text ||
	    screens_instruction_add(r->db, screen_id, "remote_session", payload_text, REMOTE_TICKET_LIFETIME_S,
	                            r->auth.login, iid) < 0) {
		free(payload_text);
		free(guest_ticket);
		free(host_ticket);
		json_decref(jrelay);
		return store_reply_error(r, rc != DB_DONE ? rc : DB_ERROR, "the session could not be saved");
	}
	free(payload_text);
	char detail[400];
	snprintf(detail, sizeof detail, "session %s through relay %s", sid, addr);
	audit_request(r, "remote.requested", screen_id, detail);
	http_reply_json(r, 201,
	                json_pack("{s:s, s:o, s:s, s:s}", "session_id", sid, "relay", jrelay, "ticket", guest_ticket,
	                          "host_public_key", public_key));
	sodium_memzero(guest_ticket, TICKET_TEXT_MAX);
	sodium_memzero(host_ticket, TICKET_TEXT_MAX);
	free(guest_ticket);
	free(host_ticket);
	return 0;
}

#define SESSION_COLUMNS                                                                                                \
	"id, screen_id, user_id, user_login, relay_id, relay_host, relay_port, created_at, started_at, ended_at, "     \
	"bytes_guest_to_host, bytes_host_to_guest, end_reason"

static json_t *time_or_null(struct db_stmt *st, int col)
{
	return db_col_is_null(st, col) ? json_null() : json_integer(db_col_int(st, col));
}

static json_t *session_json(struct db_stmt *st)
{
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:I}, s:I, s:I, s:I}", "id", db_col_text(st, 0), "screen_id",
	              db_col_text(st, 1), "user_id", db_col_text(st, 2), "user", db_col_text(st, 3), "relay", "id",
	              db_col_text(st, 4), "host", db_col_text(st, 5), "port", (json_int_t)db_col_int(st, 6),
	              "created_at", (json_int_t)db_col_int(st, 7), "bytes_guest_to_host",
	              (json_int_t)db_col_int(st, 10), "bytes_host_to_guest", (json_int_t)db_col_int(st, 11));
	if (!j)
		return NULL;
	json_object_set_new(j, "started_at", time_or_null(st, 8));
	json_object_set_new(j, "ended_at", time_or_null(st, 9));
	json_object_set_new(j, "end_reason", db_col_is_null(st, 12) ? json_null() : json_string(db_col_text(st, 12)));
	return j;
}

int remote_handle_sessions_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT " SESSION_COLUMNS " FROM remote_sessions WHERE account_id = ? "
	                                       "ORDER BY created_at DESC, rowid DESC LIMIT ?");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the sessions could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, MAX_SESSIONS_LISTED);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, session_json(st));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "sessions", list));
	return 0;
}

int remote_handle_session_end(struct http_req *r)
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = codes_is_id(id) ? db_query(r->db, &rc,
	                                                "SELECT screen_id, ended_at IS NOT NULL FROM remote_sessions "
	                                                "WHERE id = ? AND account_id = ?",
	                                                "ss", id, r->auth.account_id)
	                                     : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such remote session in this account");
	char screen_id[CODES_ID_LEN + 1];
	snprintf(screen_id, sizeof screen_id, "%s", db_col_text(st, 0));
	bool ended = db_col_int(st, 1) != 0;
	db_done(st);
	if (ended)
		return http_reply_error(r, 409, "already_ended", "the session has ended already");
	int64_t now = (int64_t)time(NULL);
	rc = db_exec(r->db,
	             "UPDATE remote_sessions SET ended_at = ?, end_reason = 'ended_by_admin' WHERE id = ? AND "
	             "ended_at IS NULL",
	             "is", now, id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the session could not be ended");
	remote_relay_session_cut(r->db, id); /* wakes the relay's cuts long-poll: it cuts both sides */
	char detail[200];
	snprintf(detail, sizeof detail, "session %s ended by an admin", id);
	audit_request(r, "remote.ended", screen_id, detail);
	st = db_query(r->db, &rc, "SELECT " SESSION_COLUMNS " FROM remote_sessions WHERE id = ?", "s", id);
	json_t *j = st ? session_json(st) : NULL;
	db_done(st);
	if (!j)
		return store_reply_error(r, rc, "the session could not be read back");
	http_reply_json(r, 200, json_pack("{s:o}", "session", j));
	return 0;
}
