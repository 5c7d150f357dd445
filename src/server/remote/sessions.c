/*
 * Remote sessions: POST /api/v1/screens/{id}/remote hands a support user
 * granted the screen (or an admin) a session with one screen. It picks a
 * relay (relays.c, nearest to the guest's region first), records the
 * session, and, when the screen asks consent (setting remote_consent),
 * first queues a `remote_consent` instruction and waits up to
 * REMOTE_CONSENT_TIMEOUT_S for the player's answer (remote_handle_consent,
 * which wakes the waiting request). It then signs two tickets with the
 * server's key (guest and host, REMOTE_TICKET_LIFETIME_S seconds each),
 * draws the session secret (32 random bytes that the relay never sees:
 * mixed into the end-to-end key schedule, so the relay cannot play the
 * guest with the tickets it sees), queues the host's ticket, the hash of
 * the guest's ticket and the secret for the screen as a `remote_session`
 * instruction (delivered at once by its long-poll; the secret is stored
 * sealed, see remote_payload_for_host), and answers the guest with its
 * ticket, the secret, the relay and the screen's public key pinned at
 * pairing. A second session while one is live is view-only. Admins list
 * the account's sessions and end one; admins set which screens (by id or
 * tag) each support user may control (remote grants).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/e2e.h"
#include "../../common/strfmt.h"
#include "../../common/ticket.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/presence.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "../tags.h"
#include "remote.h"

#define MAX_SESSIONS_LISTED      200
#define REMOTE_REQUESTS_PER_USER 30
#define REMOTE_REQUEST_WINDOW_S  600
#define MAX_GRANTS               1000 /* screens, and tags, per user */
#define SECRET_B64_LEN           sodium_base64_ENCODED_LEN(REMOTE_SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL)

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

/* --- who may control which screen --- */

/* Admins: every screen of the account; support users: the screens granted
 * to them by id or by tag. Replies 403 and returns false otherwise. */
static bool may_control(struct http_req *r, const char *screen_id)
{
	if (r->auth.role_bit & ROLE_ADMIN)
		return true;
	if (!(r->auth.role_bit & ROLE_SUPPORT)) {
		http_reply_error(r, 403, "forbidden",
		                 "your role (%s) may not control screens remotely: admins may, and support users on "
		                 "the screens an admin granted them",
		                 r->auth.role);
		return false;
	}
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT 1 FROM screens s WHERE s.id = ?1 AND ("
	                              "EXISTS (SELECT 1 FROM remote_grants g WHERE g.user_id = ?2 AND "
	                              "g.kind = 'screen' AND g.value = s.id) OR "
	                              "EXISTS (SELECT 1 FROM remote_grants g, json_each(CASE WHEN json_valid(s.tags) "
	                              "THEN s.tags ELSE '[]' END) t WHERE g.user_id = ?2 AND g.kind = 'tag' AND "
	                              "g.value = t.value))",
	                              "ss", screen_id, r->auth.user_id);
	db_done(st);
	if (st)
		return true;
	if (rc != DB_DONE) {
		store_reply_error(r, rc, "the remote grants could not be read");
		return false;
	}
	/* kept although the request is refused: committed before the 403 (the
	 * route's transaction has written nothing else yet) */
	audit_request(r, "remote.denied", screen_id, "not granted to this support user");
	if (db_commit(r->db) != DB_DONE)
		db_rollback(r->db);
	http_reply_error(r, 403, "forbidden",
	                 "you may not control this screen remotely: an admin grants screens (by id or by tag) to "
	                 "support users");
	return false;
}

/* --- asking for a session --- */

/* What a request remembers across its wake-ups (r->scratch). */
struct pending {
	char sid[CODES_ID_LEN + 1];
	char screen_id[CODES_ID_LEN + 1];
	char public_key[128];
	struct remote_relay relay;
};

/* Another session of the screen is live: handed out in the last ticket
 * lifetime (it may still pair) or started at the relay, and not ended. */
static int other_session_live(struct db *db, const struct pending *p, int64_t now, bool *live)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT 1 FROM remote_sessions WHERE screen_id = ? AND id <> ? AND "
	                              "ended_at IS NULL AND issued_at IS NOT NULL AND (started_at IS NOT NULL OR "
	                              "issued_at >= ?) LIMIT 1",
	                              "ssi", p->screen_id, p->sid, now - REMOTE_TICKET_LIFETIME_S);
	db_done(st);
	*live = st != NULL;
	return st || rc == DB_DONE ? 0 : -1;
}

/* Signs the tickets, draws the secret, queues the host's instruction and
 * answers the guest 201. The session row exists already. */
static int issue(struct http_req *r, const struct pending *p)
{
	int64_t now = (int64_t)time(NULL), exp = now + REMOTE_TICKET_LIFETIME_S;
	bool view_only;
	if (remote_sessions_end_lost(r->db, p->screen_id, now, r->ip) != 0 ||
	    other_session_live(r->db, p, now, &view_only) != 0)
		return store_reply_error(r, DB_ERROR, "the screen's sessions could not be read");
	char addr[TICKET_RELAY_MAX];
	char *guest_ticket = malloc(TICKET_TEXT_MAX), *host_ticket = malloc(TICKET_TEXT_MAX);
	if (!guest_ticket || !host_ticket || remote_relay_address(&p->relay, addr, sizeof addr) != 0 ||
	    sign_for(p->sid, TICKET_GUEST, addr, exp, p->screen_id, r->auth.user_id, guest_ticket) != 0 ||
	    sign_for(p->sid, TICKET_HOST, addr, exp, p->screen_id, r->auth.user_id, host_ticket) != 0) {
		free(guest_ticket);
		free(host_ticket);
		return http_reply_error(r, 500, "internal", "the tickets could not be signed");
	}
	uint8_t secret[REMOTE_SECRET_BYTES], hash[E2E_TICKET_HASH];
	char secret_b64[SECRET_B64_LEN], sealed[REMOTE_SEALED_B64_LEN], hash_hex[2 * E2E_TICKET_HASH + 1];
	randombytes_buf(secret, sizeof secret);
	sodium_bin2base64(secret_b64, sizeof secret_b64, secret, sizeof secret, sodium_base64_VARIANT_ORIGINAL);
	int sealed_rc = remote_secret_seal(secret, sealed);
	sodium_memzero(secret, sizeof secret);
	e2e_ticket_hash(guest_ticket, strlen(guest_ticket), hash);
	sodium_bin2hex(hash_hex, sizeof hash_hex, hash, sizeof hash);

	const struct remote_relay *relay = &p->relay;
	json_t *jrelay =
	    json_pack("{s:s, s:i, s:s}", "host", relay->host, "port", (int)relay->port, "ws_url", relay->ws_url);
	json_t *payload = sealed_rc == 0 ? json_pack("{s:s, s:O, s:s, s:s, s:s, s:s, s:b, s:I}", "session_id", p->sid,
	                                             "relay", jrelay, "ticket", host_ticket, "guest_ticket_hash",
	                                             hash_hex, "secret_sealed", sealed, "guest", r->auth.login,
	                                             "view_only", view_only, "expires_at", (json_int_t)exp)
	                                 : NULL;
	char *payload_text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	char iid[CODES_ID_LEN + 1];
	int rc = DB_ERROR;
	if (payload_text && screens_instruction_add(r->db, p->screen_id, "remote_session", payload_text,
	                                            REMOTE_TICKET_LIFETIME_S, r->auth.login, iid) >= 0)
		rc = db_exec(r->db, "UPDATE remote_sessions SET issued_at = ? WHERE id = ?", "is", now, p->sid);
	free(payload_text);
	sodium_memzero(host_ticket, TICKET_TEXT_MAX);
	free(host_ticket);
	if (rc != DB_DONE) {
		sodium_memzero(secret_b64, sizeof secret_b64);
		sodium_memzero(guest_ticket, TICKET_TEXT_MAX);
		free(guest_ticket);
		json_decref(jrelay);
		return store_reply_error(r, rc, "the session could not be saved");
	}
	char detail[400];
	snprintf(detail, sizeof detail, "session %s through relay %s%s", p->sid, addr, view_only ? " (view only)" : "");
	audit_request(r, "remote.requested", p->screen_id, detail);
	http_reply_json(r, 201,
	                json_pack("{s:s, s:o, s:s, s:s, s:s, s:b}", "session_id", p->sid, "relay", jrelay, "ticket",
	                          guest_ticket, "host_public_key", p->public_key, "session_secret", secret_b64,
	                          "view_only", view_only));
	sodium_memzero(secret_b64, sizeof secret_b64);
	sodium_memzero(guest_ticket, TICKET_TEXT_MAX);
	free(guest_ticket);
	return 0;
}

static int consent_key(const struct pending *p, char key[WAKE_KEY_LEN])
{
	return strfmt(key, WAKE_KEY_LEN, "remote-consent:%s", p->sid);
}

/* on_wake of a request waiting for the person at the screen: run once
 * right after the wait is registered and again on every wake-up, so it
 * only reads until there is an answer, and every write it does is guarded
 * by the session's consent state. */
static int consent_wake(struct http_req *r)
{
	struct pending *p = r->scratch;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT consent, end_reason FROM remote_sessions WHERE id = ?", "s", p->sid);
	if (!st)
		return store_reply_error(r, rc != DB_DONE ? rc : DB_ERROR, "the session could not be read");
	char consent[16], end_reason[64];
	snprintf(consent, sizeof consent, "%s", db_col_text(st, 0));
	snprintf(end_reason, sizeof end_reason, "%s", db_col_text(st, 1));
	db_done(st);
	bool open_question = strcmp(consent, "waiting") == 0 || strcmp(consent, "accepted") == 0;
	if (*end_reason && open_question)
		return http_reply_error(r, 409, "session_ended",
		                        "the session was ended (%s) while the screen was asked", end_reason);
	if (strcmp(consent, "accepted") == 0)
		return issue(r, p);
	if (strcmp(consent, "refused") == 0)
		return http_reply_error(r, 403, "consent_refused", "the person at the screen refused remote control");
	if (strcmp(consent, "timeout") == 0)
		return http_reply_error(r, 403, "consent_timeout",
		                        "nobody at the screen answered within %d s: remote control was not allowed",
		                        REMOTE_CONSENT_TIMEOUT_S);
	char key[WAKE_KEY_LEN];
	if (consent_key(p, key) != 0)
		return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
	if (r->waiter.reason != WAKE_TIMEOUT)
		return http_wait(r, key, 0, consent_wake);
	/* no answer: recorded, and committed at once (the 403 that follows
	 * would roll the route's transaction back) */
	rc = db_exec(r->db,
	             "UPDATE remote_sessions SET consent = 'timeout', ended_at = ?, end_reason = 'consent_timeout' "
	             "WHERE id = ? AND consent = 'waiting' AND ended_at IS NULL",
	             "is", (int64_t)time(NULL), p->sid);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the timeout could not be recorded");
	if (db_changes(r->db) == 0) /* answered meanwhile: that answer counts */
		return consent_wake(r);
	char detail[200];
	snprintf(detail, sizeof detail, "session %s: no answer at the screen within %d s", p->sid,
	         REMOTE_CONSENT_TIMEOUT_S);
	audit_request(r, "remote.consent_timeout", p->screen_id, detail);
	if (db_commit(r->db) != DB_DONE)
		return store_reply_error(r, DB_ERROR, "the timeout could not be recorded");
	return http_reply_error(r, 403, "consent_timeout",
	                        "nobody at the screen answered within %d s: remote control was not allowed",
	                        REMOTE_CONSENT_TIMEOUT_S);
}

int remote_handle_session_create(struct http_req *r)
{
	const char *screen_id = http_param(r, "id");
	if (!screens_require(r, screen_id) || !may_control(r, screen_id))
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
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT public_key, last_seen, name, remote_consent FROM screens "
	                              "WHERE id = ?",
	                              "s", screen_id);
	if (!st)
		return store_reply_error(r, rc, "the screen could not be read");
	struct pending *p = calloc(1, sizeof *p);
	if (!p) {
		db_done(st);
		return http_reply_error(r, 503, "unavailable", "out of memory");
	}
	r->scratch = p;
	snprintf(p->screen_id, sizeof p->screen_id, "%s", screen_id);
	char name[256];
	int64_t last_seen = db_col_int(st, 1), now = (int64_t)time(NULL);
	bool key_fits = strfmt(p->public_key, sizeof p->public_key, "%s", db_col_text(st, 0)) == 0;
	bool ask = db_col_int(st, 3) != 0;
	snprintf(name, sizeof name, "%s", db_col_text(st, 2));
	db_done(st);
	char ip[64];
	presence_last_seen(screen_id, last_seen, &last_seen, ip, sizeof ip);
	if (!key_fits || !*p->public_key)
		return http_reply_error(r, 409, "no_host_key",
		                        "the screen registered no public key at pairing: pair it again with a player "
		                        "that has one");
	if (!last_seen || now - last_seen > SCREENS_ONLINE_GRACE_S)
		return http_reply_error(r, 409, "screen_offline",
		                        "the screen \"%s\" has not been heard of for %d s: it must be online to be "
		                        "controlled",
		                        name, SCREENS_ONLINE_GRACE_S);
	struct geo_place guest;
	geo_lookup(r->ip, &guest);
	enum remote_choice c = remote_relay_choose(r->db, r->auth.account_id, &guest, now, &p->relay);
	if (c != REMOTE_CHOSEN)
		return reply_no_relay(r, c);
	codes_new_id(p->sid);
	rc =
	    db_exec(r->db,
	            "INSERT INTO remote_sessions(id, account_id, screen_id, user_id, user_login, relay_id, relay_host, "
	            "relay_port, created_at, consent, consent_until) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
	            "sssssssiisi", p->sid, r->auth.account_id, screen_id, r->auth.user_id, r->auth.login, p->relay.id,
	            p->relay.host, (int64_t)p->relay.port, now, ask ? "waiting" : "none",
	            ask ? now + REMOTE_CONSENT_TIMEOUT_S : (int64_t)0);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the session could not be saved");
	if (!ask)
		return issue(r, p);
	/* the person at the screen is asked first; the answer wakes this request */
	json_t *q = json_pack("{s:s, s:s, s:i}", "session_id", p->sid, "guest", r->auth.login, "timeout_s",
	                      REMOTE_CONSENT_TIMEOUT_S);
	char *text = q ? json_dumps(q, JSON_COMPACT) : NULL, iid[CODES_ID_LEN + 1], key[WAKE_KEY_LEN];
	json_decref(q);
	int64_t seq = text ? screens_instruction_add(r->db, screen_id, "remote_consent", text, REMOTE_CONSENT_TIMEOUT_S,
	                                             r->auth.login, iid)
	                   : -1;
	free(text);
	if (seq < 0)
		return store_reply_error(r, DB_ERROR, "the question to the screen could not be saved");
	char detail[200];
	snprintf(detail, sizeof detail, "session %s: the person at the screen is asked", p->sid);
	audit_request(r, "remote.consent_asked", screen_id, detail);
	if (consent_key(p, key) != 0)
		return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
	return http_wait(r, key, REMOTE_CONSENT_TIMEOUT_S * 1000u, consent_wake);
}

#define SESSION_COLUMNS                                                                                                \
	"id, screen_id, user_id, user_login, relay_id, relay_host, relay_port, created_at, started_at, ended_at, "     \
	"bytes_guest_to_host, bytes_host_to_guest, end_reason, consent"

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
	json_object_set_new(j, "consent", json_string(db_col_text(st, 13)));
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
	db_notifyf(r->db, "remote-consent:%s", id); /* a guest still waiting for consent is answered */
	remote_relay_session_cut(r->db, id);        /* wakes the relay's cuts long-poll: it cuts both sides */
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

/* --- the player's answer --- */

int remote_handle_consent(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jaccepted = json_object_get(body, "accepted");
	if (!json_is_boolean(jaccepted))
		return http_reply_error(r, 400, "invalid_field",
		                        "accepted must be true (the person at the screen allowed remote control) or "
		                        "false (refused)");
	bool accepted = json_is_true(jaccepted);
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = codes_is_id(id) ? db_query(r->db, &rc,
	                                                "SELECT consent, consent_until, user_login, ended_at IS NOT "
	                                                "NULL FROM remote_sessions WHERE id = ? AND screen_id = ?",
	                                                "ss", id, r->auth.device_id)
	                                     : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such remote session for this screen");
	char consent[16], guest[130];
	snprintf(consent, sizeof consent, "%s", db_col_text(st, 0));
	snprintf(guest, sizeof guest, "%s", db_col_text(st, 2));
	int64_t until = db_col_int(st, 1), now = (int64_t)time(NULL);
	bool ended = db_col_int(st, 3) != 0;
	db_done(st);
	if (strcmp(consent, "none") == 0)
		return http_reply_error(r, 409, "not_asked", "this session did not ask for consent");
	if (ended && strcmp(consent, "waiting") == 0)
		return http_reply_error(r, 409, "session_ended", "the session was ended before the answer");
	if (strcmp(consent, "waiting") != 0)
		return http_reply_error(r, 409, "already_answered", "this session's question was answered already (%s)",
		                        consent);
	if (now > until)
		return http_reply_error(r, 409, "already_answered",
		                        "the answer came after the %d s the guest waits: the session was not allowed",
		                        REMOTE_CONSENT_TIMEOUT_S);
	rc = accepted ? db_exec(r->db,
	                        "UPDATE remote_sessions SET consent = 'accepted' WHERE id = ? AND consent = 'waiting' "
	                        "AND ended_at IS NULL",
	                        "s", id)
	              : db_exec(r->db,
	                        "UPDATE remote_sessions SET consent = 'refused', ended_at = ?, end_reason = "
	                        "'consent_refused' WHERE id = ? AND consent = 'waiting' AND ended_at IS NULL",
	                        "is", now, id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the answer could not be saved");
	if (db_changes(r->db) == 0)
		return http_reply_error(r, 409, "already_answered", "this session's question was answered already");
	char detail[300];
	snprintf(detail, sizeof detail, "session %s for %s: %s at the screen", id, guest,
	         accepted ? "allowed" : "refused");
	audit_append(r->db, r->auth.account_id, NULL, r->auth.login, r->ip,
	             accepted ? "remote.consent_accepted" : "remote.consent_refused", r->auth.device_id, detail);
	db_notifyf(r->db, "remote-consent:%s", id); /* the guest's waiting request answers */
	http_reply_json(r, 200, json_pack("{s:b, s:s, s:b}", "ok", 1, "session_id", id, "accepted", accepted));
	return 0;
}

/* --- remote grants of support users --- */

/* The user {id} of the caller's account, with its login and role; else
 * replies 404. */
static bool grant_user(struct http_req *r, char login[130], char role[16])
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = codes_is_id(id)
	                         ? db_query(r->db, &rc, "SELECT login, role FROM users WHERE id = ? AND account_id = ?",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	if (!st) {
		http_reply_error(r, 404, "not_found", "no such user in this account");
		return false;
	}
	snprintf(login, 130, "%s", db_col_text(st, 0));
	snprintf(role, 16, "%s", db_col_text(st, 1));
	db_done(st);
	return true;
}

static json_t *grants_json(struct db *db, const char *user_id)
{
	json_t *screens = json_array(), *tags = json_array();
	struct db_stmt *st = db_prepare(db, "SELECT g.kind, g.value FROM remote_grants g WHERE g.user_id = ? AND "
	                                    "(g.kind = 'tag' OR EXISTS (SELECT 1 FROM screens s WHERE s.id = g.value "
	                                    "AND s.deleted_at IS NULL)) ORDER BY g.kind, g.value");
	if (!st) {
		json_decref(screens);
		json_decref(tags);
		return NULL;
	}
	db_bind_text(st, 1, user_id);
	while (db_step(st) == DB_ROW)
		json_array_append_new(strcmp(db_col_text(st, 0), "screen") == 0 ? screens : tags,
		                      json_string(db_col_text(st, 1)));
	db_done(st);
	return json_pack("{s:o, s:o}", "screens", screens, "tags", tags);
}

int remote_handle_grants_get(struct http_req *r)
{
	char login[130], role[16];
	if (!grant_user(r, login, role))
		return 0;
	json_t *j = grants_json(r->db, http_param(r, "id"));
	if (!j)
		return store_reply_error(r, DB_ERROR, "the remote grants could not be read");
	return http_reply_json(r, 200, j);
}

int remote_handle_grants_put(struct http_req *r)
{
	json_t *body = http_json_body(r);
	char login[130], role[16];
	if (!body || !grant_user(r, login, role))
		return 0;
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v)
		if (strcmp(key, "screens") != 0 && strcmp(key, "tags") != 0)
			return http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\" (screens, tags)",
			                        key);
	/* a missing list is an empty one (jansson's array calls take NULL as empty) */
	json_t *screens = json_object_get(body, "screens"), *tags = json_object_get(body, "tags");
	if (screens && (!json_is_array(screens) || json_array_size(screens) > MAX_GRANTS))
		return http_reply_error(r, 400, "invalid_field", "screens must be a list of at most %d screen ids",
		                        MAX_GRANTS);
	if (tags && !tags_check(r, tags))
		return 0;
	if (strcmp(role, "support") != 0 && (json_array_size(screens) || json_array_size(tags)))
		return http_reply_error(r, 400, "not_support_user",
		                        "%s has the role %s: remote grants are for support users (admins control every "
		                        "screen of the account, other roles none)",
		                        login, role);
	json_t *unknown = json_array();
	size_t i;
	json_array_foreach (screens, i, v) {
		const char *sid = json_string_value(v);
		if (!sid) {
			json_decref(unknown);
			return http_reply_error(r, 400, "invalid_field", "screens[%zu] must be a screen id (a string)",
			                        i);
		}
		int rc;
		struct db_stmt *st = codes_is_id(sid) ? db_query(r->db, &rc,
		                                                 "SELECT 1 FROM screens WHERE id = ? AND "
		                                                 "account_id = ? AND deleted_at IS NULL",
		                                                 "ss", sid, r->auth.account_id)
		                                      : NULL;
		db_done(st);
		if (!st && json_array_size(unknown) < 20)
			json_array_append_new(unknown, json_string(sid));
	}
	if (json_array_size(unknown)) {
		char *names = json_dumps(unknown, JSON_COMPACT);
		http_reply_error_extra(r, 400, "unknown_screens", json_pack("{s:o}", "unknown", unknown),
		                       "no such screens in this account: %.300s", names ? names : "");
		free(names);
		return 0;
	}
	json_decref(unknown);
	const char *uid = http_param(r, "id");
	int rc = db_exec(r->db, "DELETE FROM remote_grants WHERE user_id = ?", "s", uid);
	json_array_foreach (screens, i, v)
		if (rc == DB_DONE)
			rc = db_exec(r->db,
			             "INSERT INTO remote_grants(user_id, kind, value) VALUES(?, 'screen', ?) ON "
			             "CONFLICT DO NOTHING",
			             "ss", uid, json_string_value(v));
	json_array_foreach (tags, i, v)
		if (rc == DB_DONE)
			rc = db_exec(r->db,
			             "INSERT INTO remote_grants(user_id, kind, value) VALUES(?, 'tag', ?) ON "
			             "CONFLICT DO NOTHING",
			             "ss", uid, json_string_value(v));
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the remote grants could not be saved");
	char detail[200];
	snprintf(detail, sizeof detail, "%zu screens, %zu tags", json_array_size(screens), json_array_size(tags));
	audit_request(r, "remote.grants_changed", login, detail);
	json_t *j = grants_json(r->db, uid);
	if (!j)
		return store_reply_error(r, DB_ERROR, "the remote grants could not be read back");
	return http_reply_json(r, 200, j);
}
