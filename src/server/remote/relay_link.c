/*
 * The relay <-> server link, the server's half (docs/PROTOCOL.md "Remote
 * control: the relay"). A relay authenticates with its own token
 * ("Authorization: Bearer vr_...", made by POST /api/v1/relays), never a
 * user's:
 * - POST /api/v1/relays/{id}/report every few seconds: its load (open
 *   sessions, bytes since the last report) and the events since its last
 *   accepted report ("started" / "ended" of a session, with bytes and the
 *   end's reason). Events are recorded only for sessions handed out
 *   through this relay (others are counted as ignored): started_at, the
 *   byte counts, ended_at / end_reason when not set yet, and audit rows
 *   remote.started / remote.closed. A report sent twice is recorded once.
 * - GET /api/v1/relays/{id}/cuts?wait=S&after=SEQ, a long-poll: the
 *   sessions of this relay an admin ended in the last REMOTE_CUT_WINDOW_S
 *   seconds after cursor SEQ. remote_relay_session_cut (called when an
 *   admin ends a session) numbers the end and wakes the relay's poll
 *   (hub key "relay:{id}"), so the relay cuts both sides at once.
 * - Orphans: a report with a new "boot" (the relay's run) ends what the
 *   earlier run had started (relay_restarted); a relay silent for
 *   REMOTE_RELAY_LOST_S has its started sessions ended when the screen's
 *   next session is made (relay_lost), so a killed relay does not leave a
 *   screen's later sessions view-only behind a session that is gone.
 * Hostile input gets 400 with a sentence; a bad token 401.
 */
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

#define REPORT_EVENTS_MAX   1000
#define REPORT_REASON_MAX   32
#define REPORT_AT_PAST_S    (7 * 86400) /* events older than a week are refused */
#define REPORT_AT_FUTURE_S  300         /* clocks may differ by a few minutes */
#define REPORT_SESSIONS_MAX 100000000
#define CUTS_WAIT_DEFAULT_S 25
#define CUTS_WAIT_MAX_S     30
#define CUTS_LISTED_MAX     500

/* Checks the relay's bearer token against relays.token_hash; replies 401
 * and returns false when it is not this relay's. */
static bool relay_authenticated(struct http_req *r, const char *id)
{
	const char *authz = http_header(r, "Authorization");
	if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || strlen(authz + 7) >= CODES_TOKEN_LEN + 8) {
		http_reply_error(r, 401, "unauthenticated", "a relay calls with \"Authorization: Bearer vr_...\"");
		return false;
	}
	char hash[CODES_HASH_HEX_LEN];
	codes_hash_hex(authz + 7, strlen(authz + 7), hash);
	int rc;
	struct db_stmt *st =
	    codes_is_id(id) ? db_query(r->db, &rc, "SELECT token_hash FROM relays WHERE id = ?", "s", id) : NULL;
	bool ok = st && codes_equal(db_col_text(st, 0), hash);
	db_done(st);
	if (!ok)
		http_reply_error(r, 401, "unauthenticated", "not this relay's token (or no such relay)");
	return ok;
}

/* --- the report --- */

struct report_event {
	const char *session_id;
	bool ended;
	int64_t at;
	int64_t bytes_guest_to_host, bytes_host_to_guest;
	const char *reason;
};

static bool reason_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > REPORT_REASON_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return false;
	return true;
}

static bool count_ok(json_t *v)
{
	return !v || (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= (json_int_t)1 << 53);
}

/* Checks events[i] into *ev; on a problem writes it into why. */
static bool event_parse(json_t *j, size_t i, int64_t now, struct report_event *ev, char *why, size_t whysz)
{
	if (!json_is_object(j)) {
		snprintf(why, whysz, "events[%zu] must be an object", i);
		return false;
	}
	json_t *jsid = json_object_get(j, "session_id"), *jev = json_object_get(j, "event");
	json_t *jat = json_object_get(j, "at"), *jg = json_object_get(j, "bytes_guest_to_host");
	json_t *jh = json_object_get(j, "bytes_host_to_guest"), *jr = json_object_get(j, "reason");
	const char *kind = json_string_value(jev);
	if (!codes_is_id(json_string_value(jsid))) {
		snprintf(why, whysz, "events[%zu].session_id must be a session id", i);
		return false;
	}
	if (!kind || (strcmp(kind, "started") != 0 && strcmp(kind, "ended") != 0)) {
		snprintf(why, whysz, "events[%zu].event must be \"started\" or \"ended\"", i);
		return false;
	}
	if (!json_is_integer(jat) || json_integer_value(jat) < now - REPORT_AT_PAST_S ||
	    json_integer_value(jat) > now + REPORT_AT_FUTURE_S) {
		snprintf(why, whysz, "events[%zu].at must be the Unix time of the event (within the last week)", i);
		return false;
	}
	if (!count_ok(jg) || !count_ok(jh)) {
		snprintf(why, whysz,
		         "events[%zu]: bytes_guest_to_host and bytes_host_to_guest must be integers of 0 or more", i);
		return false;
	}
	if (jr && !json_is_null(jr) && (!json_is_string(jr) || !reason_ok(json_string_value(jr)))) {
		snprintf(why, whysz, "events[%zu].reason must be a word of a-z and '_' (at most %d characters)", i,
		         REPORT_REASON_MAX);
		return false;
	}
	ev->session_id = json_string_value(jsid);
	ev->ended = strcmp(kind, "ended") == 0;
	ev->at = json_integer_value(jat);
	ev->bytes_guest_to_host = jg ? json_integer_value(jg) : 0;
	ev->bytes_host_to_guest = jh ? json_integer_value(jh) : 0;
	ev->reason = json_is_string(jr) ? json_string_value(jr) : "closed";
	return true;
}

/* Records one event of relay id; returns 1 when recorded, 0 when ignored
 * (not a session of this relay, or already recorded), -1 on a store error. */
static int event_record(struct http_req *r, const char *relay_id, const struct report_event *ev)
{
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT account_id, screen_id, started_at IS NULL, relay_ended_at IS NULL, "
	                              "ended_at IS NULL FROM remote_sessions WHERE id = ? AND relay_id = ?",
	                              "ss", ev->session_id, relay_id);
	if (!st)
		return rc == DB_DONE ? 0 : -1;
	char account[CODES_ID_LEN + 1], screen[CODES_ID_LEN + 1];
	snprintf(account, sizeof account, "%s", db_col_text(st, 0));
	snprintf(screen, sizeof screen, "%s", db_col_text(st, 1));
	bool not_started = db_col_int(st, 2) != 0, not_reported = db_col_int(st, 3) != 0;
	bool not_ended = db_col_int(st, 4) != 0;
	db_done(st);
	char actor[CODES_ID_LEN + 8], detail[300];
	snprintf(actor, sizeof actor, "relay:%s", relay_id);
	if (!ev->ended) {
		if (!not_started)
			return 0;
		if (db_exec(r->db, "UPDATE remote_sessions SET started_at = ? WHERE id = ?", "is", ev->at,
		            ev->session_id) != DB_DONE)
			return -1;
		snprintf(detail, sizeof detail, "session %s: both sides paired at the relay", ev->session_id);
		return audit_append(r->db, account, NULL, actor, r->ip, "remote.started", screen, detail) == 0 ? 1 : -1;
	}
	if (!not_reported)
		return 0;
	rc = db_exec(r->db,
	             "UPDATE remote_sessions SET relay_ended_at = ?, bytes_guest_to_host = ?, bytes_host_to_guest = ?, "
	             "ended_at = COALESCE(ended_at, ?), end_reason = COALESCE(end_reason, ?) WHERE id = ?",
	             "iiiiss", ev->at, ev->bytes_guest_to_host, ev->bytes_host_to_guest, ev->at, ev->reason,
	             ev->session_id);
	if (rc != DB_DONE)
		return -1;
	snprintf(detail, sizeof detail,
	         "session %s closed at the relay (%s%s): %lld bytes guest to host, %lld host to guest", ev->session_id,
	         ev->reason, not_ended ? "" : ", already ended", (long long)ev->bytes_guest_to_host,
	         (long long)ev->bytes_host_to_guest);
	return audit_append(r->db, account, NULL, actor, r->ip, "remote.closed", screen, detail) == 0 ? 1 : -1;
}

/* Ends the sessions sql selects (id, account_id, screen_id, relay_id; its
 * parameters: the text id, then the time when with_time) with reason, one
 * audit row each; at most 64 a call (the rest the next time). */
static int end_orphans(struct db *db, const char *reason, const char *ip, const char *sql, const char *id,
                       bool with_time, int64_t time_arg)
{
	struct db_stmt *st = db_prepare(db, sql);
	if (!st)
		return -1;
	db_bind_text(st, 1, id);
	if (with_time)
		db_bind_int(st, 2, time_arg);
	struct orphan {
		char id[CODES_ID_LEN + 1], account[CODES_ID_LEN + 1], screen[CODES_ID_LEN + 1], relay[CODES_ID_LEN + 1];
	} found[64];
	size_t n = 0;
	int rc;
	while (n < 64 && (rc = db_step(st)) == DB_ROW) {
		snprintf(found[n].id, sizeof found[n].id, "%s", db_col_text(st, 0));
		snprintf(found[n].account, sizeof found[n].account, "%s", db_col_text(st, 1));
		snprintf(found[n].screen, sizeof found[n].screen, "%s", db_col_text(st, 2));
		snprintf(found[n].relay, sizeof found[n].relay, "%s", db_col_text(st, 3));
		n++;
	}
	db_done(st);
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < n; i++) {
		if (db_exec(db,
		            "UPDATE remote_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
		            "iss", now, reason, found[i].id) != DB_DONE)
			return -1;
		char actor[CODES_ID_LEN + 8], detail[200];
		snprintf(actor, sizeof actor, "relay:%s", found[i].relay);
		snprintf(detail, sizeof detail, "session %.*s ended: %s", CODES_ID_LEN, found[i].id,
		         strcmp(reason, "relay_lost") == 0 ? "its relay has not reported for a minute"
		                                           : "its relay restarted without reporting its end");
		if (audit_append(db, found[i].account, NULL, actor, ip, "remote.closed", found[i].screen, detail) != 0)
			return -1;
	}
	return 0;
}

int remote_sessions_end_orphans_of_relay(struct db *db, const char *relay_id, const char *ip)
{
	return end_orphans(db, "relay_restarted", ip,
	                   "SELECT id, account_id, screen_id, relay_id FROM remote_sessions WHERE relay_id = ? AND "
	                   "ended_at IS NULL AND started_at IS NOT NULL AND relay_ended_at IS NULL",
	                   relay_id, false, 0);
}

int remote_sessions_end_lost(struct db *db, const char *screen_id, int64_t now, const char *ip)
{
	return end_orphans(
	    db, "relay_lost", ip,
	    "SELECT s.id, s.account_id, s.screen_id, s.relay_id FROM remote_sessions s JOIN relays r ON "
	    "r.id = s.relay_id WHERE s.screen_id = ? AND s.ended_at IS NULL AND s.started_at IS NOT NULL "
	    "AND r.last_report < ?",
	    screen_id, true, now - REMOTE_RELAY_LOST_S);
}

static bool boot_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 16 || n > 64)
		return false;
	for (; *b; b++)
		if (!((*b >= '0' && *b <= '9') || (*b >= 'a' && *b <= 'f')))
			return false;
	return true;
}

/* POST /api/v1/relays/{id}/report */
int remote_handle_relay_report(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!relay_authenticated(r, id))
		return 0;
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *js = json_object_get(body, "sessions"), *jb = json_object_get(body, "bytes");
	json_t *jevents = json_object_get(body, "events");
	if (!json_is_integer(js) || json_integer_value(js) < 0 || json_integer_value(js) > REPORT_SESSIONS_MAX ||
	    !json_is_integer(jb) || json_integer_value(jb) < 0)
		return http_reply_error(r, 400, "invalid_field",
		                        "sessions and bytes must be integers of 0 or more (the relay's open sessions, "
		                        "and bytes forwarded since its last report)");
	if (jevents && !json_is_array(jevents))
		return http_reply_error(r, 400, "invalid_field", "events must be an array");
	json_t *jboot = json_object_get(body, "boot");
	const char *boot = json_string_value(jboot);
	if (jboot && (!boot || !boot_ok(boot)))
		return http_reply_error(r, 400, "invalid_field",
		                        "boot must be 16 to 64 lower-case hex digits (drawn by the relay at start)");
	size_t n = jevents ? json_array_size(jevents) : 0;
	if (n > REPORT_EVENTS_MAX)
		return http_reply_error(r, 400, "invalid_field",
		                        "at most %d events per report (send the rest next time)", REPORT_EVENTS_MAX);
	int64_t now = (int64_t)time(NULL);
	struct report_event *events = n ? calloc(n, sizeof *events) : NULL;
	if (n && !events)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	char why[160];
	for (size_t i = 0; i < n; i++)
		if (!event_parse(json_array_get(jevents, i), i, now, &events[i], why, sizeof why)) {
			free(events);
			return http_reply_error(r, 400, "invalid_field", "%s", why);
		}
	if (boot) {
		int rc;
		struct db_stmt *st = db_query(r->db, &rc, "SELECT boot FROM relays WHERE id = ?", "s", id);
		bool restarted = st && strcmp(db_col_text(st, 0), boot) != 0;
		db_done(st);
		if ((!st && rc != DB_DONE) ||
		    (restarted && remote_sessions_end_orphans_of_relay(r->db, id, r->ip) != 0) ||
		    db_exec(r->db, "UPDATE relays SET boot = ? WHERE id = ?", "ss", boot, id) != DB_DONE) {
			free(events);
			return store_reply_error(r, DB_ERROR, "the relay's restart could not be recorded");
		}
	}
	int recorded = 0, ignored = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = event_record(r, id, &events[i]);
		if (rc < 0) {
			free(events);
			return store_reply_error(r, DB_ERROR, "the report's events could not be saved");
		}
		rc ? recorded++ : ignored++;
	}
	free(events);
	int rc = db_exec(r->db, "UPDATE relays SET last_report = ?, load_sessions = ?, load_bytes = ? WHERE id = ?",
	                 "iiis", now, (int64_t)json_integer_value(js), (int64_t)json_integer_value(jb), id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the report could not be saved");
	http_reply_json(r, 200,
	                json_pack("{s:b, s:i, s:i, s:i}", "ok", 1, "report_every_s", 5, "events_recorded", recorded,
	                          "events_ignored", ignored));
	return 0;
}

/* --- the cuts long-poll --- */

struct cuts_wait {
	char relay_id[CODES_ID_LEN + 1];
	int64_t after;
};

static int cuts_deliver(struct http_req *r)
{
	struct cuts_wait *w = r->scratch;
	if (r->on_wake && !relay_authenticated(r, w->relay_id))
		return 0; /* the relay was removed (or its token changed) while it waited */
	int64_t now = (int64_t)time(NULL), cursor = w->after;
	struct db_stmt *st = db_prepare(r->db, "SELECT id, cut_seq FROM remote_sessions WHERE relay_id = ? AND "
	                                       "cut_seq > ? AND ended_at >= ? ORDER BY cut_seq LIMIT ?");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the ended sessions could not be read");
	db_bind_text(st, 1, w->relay_id);
	db_bind_int(st, 2, w->after);
	db_bind_int(st, 3, now - REMOTE_CUT_WINDOW_S);
	db_bind_int(st, 4, CUTS_LISTED_MAX);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW) {
		json_array_append_new(list, json_string(db_col_text(st, 0)));
		cursor = db_col_int(st, 1);
	}
	db_done(st);
	bool ending = r->waiter.reason == WAKE_TIMEOUT || r->waiter.reason == WAKE_SHUTDOWN;
	if (json_array_size(list) == 0 && r->on_wake && !ending) {
		json_decref(list);
		char key[WAKE_KEY_LEN];
		if (strfmt(key, sizeof key, "relay:%s", w->relay_id) != 0)
			return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
		return http_wait(r, key, 0, cuts_deliver);
	}
	http_reply_json(r, 200, json_pack("{s:o, s:I}", "end", list, "cursor", (json_int_t)cursor));
	return 0;
}

/* GET /api/v1/relays/{id}/cuts?wait=S&after=SEQ */
int remote_handle_relay_cuts(struct http_req *r)
{
	const char *id = http_param(r, "id"), *wait = http_query(r, "wait"), *after = http_query(r, "after");
	if (!relay_authenticated(r, id))
		return 0;
	char *end;
	long secs = CUTS_WAIT_DEFAULT_S;
	long long a = 0;
	if (wait) {
		secs = strtol(wait, &end, 10);
		if (!*wait || *end || secs < 0 || secs > CUTS_WAIT_MAX_S)
			return http_reply_error(r, 400, "invalid_parameter", "wait must be 0 to %d seconds",
			                        CUTS_WAIT_MAX_S);
	}
	if (after) {
		a = strtoll(after, &end, 10);
		if (!*after || *end || a < 0)
			return http_reply_error(r, 400, "invalid_parameter",
			                        "after must be the cursor of the last answer (0 or more)");
	}
	struct cuts_wait *w = calloc(1, sizeof *w);
	if (!w)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	snprintf(w->relay_id, sizeof w->relay_id, "%s", id);
	w->after = a;
	r->scratch = w;
	if (secs == 0)
		return cuts_deliver(r);
	char key[WAKE_KEY_LEN];
	if (strfmt(key, sizeof key, "relay:%s", id) != 0)
		return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
	return http_wait(r, key, (unsigned)secs * 1000u, cuts_deliver);
}

int remote_relay_session_cut(struct db *db, const char *session_id)
{
	int rc = db_exec(db,
	                 "UPDATE remote_sessions SET cut_seq = (SELECT COALESCE(MAX(cut_seq), 0) + 1 FROM "
	                 "remote_sessions) WHERE id = ? AND cut_seq IS NULL",
	                 "s", session_id);
	if (rc != DB_DONE)
		return -1;
	struct db_stmt *st = db_query(db, &rc, "SELECT relay_id FROM remote_sessions WHERE id = ?", "s", session_id);
	if (!st)
		return -1;
	db_notifyf(db, "relay:%s", db_col_text(st, 0));
	db_done(st);
	return 0;
}
