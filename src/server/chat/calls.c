/*
 * Audio and video calls between a visitor and the chat's operator: WebRTC
 * in the browsers, signalled through the chat (POST .../call, delivered on
 * the two SSE streams as "call" events in the same commit). A call is a
 * row of chat_calls: ringing (invited), active (accepted), ended. Either
 * side invites; the other accepts or declines; the caller then sends the
 * offer, the callee the answer, both their ICE candidates; either hangs up.
 * Calls are allowed as the department says (calls: off, audio, video) and
 * while the operator has not switched them off in the chat (disable,
 * enable). Ending, transferring or requeueing a chat ends its call.
 *
 * The ICE servers given to both sides come from the settings: STUN URLs,
 * TURN URLs with time-limited credentials of the TURN REST scheme that
 * coturn's use-auth-secret checks (username "EXPIRY:CHATID", credential
 * base64(HMAC-SHA1(secret, username))), and relay_only, which makes the
 * browsers use TURN relays only (the peers never see each other's
 * addresses).
 */
#include <nettle/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define CALL_ID_MAX  64
#define CALL_SDP_MAX 100000 /* bytes of an offer or an answer */
#define CALL_ICE_MAX 2000   /* bytes of one candidate line */

struct chat_call_settings chat_call_settings = {.turn_ttl_s = 3600};

/* "a, b" -> ["a","b"] */
static json_t *url_list(const char *csv)
{
	json_t *list = json_array();
	char buf[sizeof chat_call_settings.turn_urls];
	snprintf(buf, sizeof buf, "%s", csv);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(list, json_string(tok));
	return list;
}

int chat_calls_configure(const char *stun, const char *turn, const char *secret, unsigned ttl_s, bool relay_only,
                         char *err, size_t errsz)
{
	struct chat_call_settings *s = &chat_call_settings;
	if (strlen(stun) >= sizeof s->stun_urls || strlen(turn) >= sizeof s->turn_urls ||
	    strlen(secret) >= sizeof s->turn_secret) {
		snprintf(err, errsz, "webrtc_stun_urls, webrtc_turn_urls and webrtc_turn_secret are too long");
		return -1;
	}
	json_t *lists[2] = {url_list(stun), url_list(turn)};
	const char *names[2] = {"webrtc_stun_urls", "webrtc_turn_urls"},
	           *prefixes[2][2] = {{"stun:", "stuns:"}, {"turn:", "turns:"}};
	for (int k = 0; k < 2; k++) {
		size_t i;
		json_t *u;
		json_array_foreach (lists[k], i, u) {
			const char *v = json_string_value(u);
			if (strncmp(v, prefixes[k][0], strlen(prefixes[k][0])) != 0 &&
			    strncmp(v, prefixes[k][1], strlen(prefixes[k][1])) != 0) {
				snprintf(err, errsz, "%s: \"%.60s\" must start with %s or %s", names[k], v,
				         prefixes[k][0], prefixes[k][1]);
				json_decref(lists[0]);
				json_decref(lists[1]);
				return -1;
			}
		}
	}
	bool have_turn = json_array_size(lists[1]) > 0;
	json_decref(lists[0]);
	json_decref(lists[1]);
	if (have_turn && !*secret) {
		snprintf(err, errsz, "webrtc_turn_urls needs webrtc_turn_secret (coturn's static-auth-secret)");
		return -1;
	}
	if (relay_only && !have_turn) {
		snprintf(err, errsz, "webrtc_relay_only needs webrtc_turn_urls");
		return -1;
	}
	snprintf(s->stun_urls, sizeof s->stun_urls, "%s", stun);
	snprintf(s->turn_urls, sizeof s->turn_urls, "%s", turn);
	snprintf(s->turn_secret, sizeof s->turn_secret, "%s", secret);
	s->turn_ttl_s = ttl_s;
	s->relay_only = relay_only;
	return 0;
}

void chat_call_turn_credential(const char *secret, const char *username, char *out, size_t outsz)
{
	struct hmac_sha1_ctx ctx;
	uint8_t mac[SHA1_DIGEST_SIZE];
	hmac_sha1_set_key(&ctx, strlen(secret), (const uint8_t *)secret);
	hmac_sha1_update(&ctx, strlen(username), (const uint8_t *)username);
	hmac_sha1_digest(&ctx, sizeof mac, mac);
	sodium_bin2base64(out, outsz, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(&ctx, sizeof ctx);
}

/* What an RTCPeerConnection is made with: {"ice_servers":[...],"ice_transport_policy"} */
static json_t *ice_config(const char *chat_id)
{
	const struct chat_call_settings *s = &chat_call_settings;
	json_t *servers = json_array(), *stun = url_list(s->stun_urls), *turn = url_list(s->turn_urls);
	if (json_array_size(stun))
		json_array_append_new(servers, json_pack("{s:o}", "urls", stun));
	else
		json_decref(stun);
	if (json_array_size(turn)) {
		char user[64], cred[sodium_base64_ENCODED_LEN(SHA1_DIGEST_SIZE, sodium_base64_VARIANT_ORIGINAL)];
		snprintf(user, sizeof user, "%lld:%s", (long long)time(NULL) + s->turn_ttl_s, chat_id);
		chat_call_turn_credential(s->turn_secret, user, cred, sizeof cred);
		json_array_append_new(servers,
		                      json_pack("{s:o, s:s, s:s}", "urls", turn, "username", user, "credential", cred));
	} else
		json_decref(turn);
	return json_pack("{s:o, s:s}", "ice_servers", servers, "ice_transport_policy", s->relay_only ? "relay" : "all");
}

static bool call_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 8 || n > CALL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* Delivers a call event to both sides (each ignores its own). */
static int tell(struct db *db, const char *chat_id, const char *operator_id, const char *from, json_t *data)
{
	json_object_set_new(data, "from", json_string(from));
	int rc = chat_event_append(db, chat_id, "call", json_deep_copy(data), from, NULL, NULL, NULL);
	if (rc == DB_DONE && operator_id && *operator_id) {
		json_object_set_new(data, "chat_id", json_string(chat_id));
		rc = chat_op_event(db, operator_id, "call", data);
	} else
		json_decref(data);
	return rc;
}

int chat_calls_end(struct db *db, const char *chat_id, const char *operator_id, const char *reason)
{
	struct db_stmt *st = db_query(db, NULL,
	                              "SELECT id FROM chat_calls WHERE chat_id = ? AND state <> 'ended' ORDER BY "
	                              "created_at DESC LIMIT 1",
	                              "s", chat_id);
	if (!st)
		return DB_DONE;
	char id[CALL_ID_MAX + 1];
	snprintf(id, sizeof id, "%s", db_col_text(st, 0));
	db_done(st);
	int rc = db_exec(db,
	                 "UPDATE chat_calls SET state = 'ended', ended_at = ?, end_reason = ? WHERE chat_id = ? AND "
	                 "state <> 'ended'",
	                 "iss", (int64_t)time(NULL), reason, chat_id);
	if (rc == DB_DONE)
		rc = tell(db, chat_id, operator_id, "server",
		          json_pack("{s:s, s:s, s:s}", "action", "hangup", "call_id", id, "reason", reason));
	return rc;
}

static bool media_allowed(const char *allowed, const char *media)
{
	return strcmp(allowed, "video") == 0 || (strcmp(allowed, "audio") == 0 && strcmp(media, "audio") == 0);
}

/* The checks of each action's own fields; NULL or the 400's sentence. */
static const char *payload_problem(const char *action, json_t *body)
{
	if (strcmp(action, "offer") == 0 || strcmp(action, "answer") == 0) {
		const char *sdp = json_string_value(json_object_get(body, "sdp"));
		if (!sdp || !*sdp || strlen(sdp) > CALL_SDP_MAX || strncmp(sdp, "v=0", 3) != 0)
			return "sdp must be the session description (\"v=0...\", at most 100000 bytes)";
	}
	if (strcmp(action, "candidate") == 0) {
		json_t *c = json_object_get(body, "candidate");
		if (json_is_null(c))
			return NULL; /* the end of the candidates */
		const char *line = json_string_value(json_object_get(c, "candidate"));
		json_t *mid = json_object_get(c, "sdpMid"), *idx = json_object_get(c, "sdpMLineIndex");
		if (!json_is_object(c) || !line || strlen(line) > CALL_ICE_MAX ||
		    (mid && !json_is_null(mid) && (!json_is_string(mid) || json_string_length(mid) > 64)) ||
		    (idx && !json_is_null(idx) &&
		     (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 64)))
			return "candidate must be {\"candidate\",\"sdpMid\",\"sdpMLineIndex\"} (or null at the end)";
	}
	return NULL;
}

int chat_call_signal(struct http_req *r, const char *chat_id, enum chat_side side)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	int rc;
	struct db_stmt *st = db_query(
	    r->db, &rc,
	    "SELECT c.state, COALESCE(c.operator_id, ''), c.calls_off, COALESCE(d.calls, 'off') FROM chat_chats "
	    "c LEFT JOIN chat_departments d ON d.id = c.department_id WHERE c.id = ?",
	    "s", chat_id);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such chat");
	char state[8], operator_id[CODES_ID_LEN + 1], allowed[8];
	snprintf(state, sizeof state, "%s", db_col_text(st, 0));
	snprintf(operator_id, sizeof operator_id, "%s", db_col_text(st, 1));
	bool off = db_col_int(st, 2) != 0;
	snprintf(allowed, sizeof allowed, "%s", db_col_text(st, 3));
	db_done(st);
	const char *action = json_string_value(json_object_get(body, "action"));
	const char *call_id = json_string_value(json_object_get(body, "call_id"));
	const char *from = side == CHAT_VISITOR ? "visitor" : "operator";
	static const char *const actions[] = {"invite",    "accept", "decline", "offer",  "answer",
	                                      "candidate", "hangup", "enable",  "disable"};
	bool known = false;
	for (size_t i = 0; action && i < sizeof actions / sizeof *actions; i++)
		known = known || strcmp(action, actions[i]) == 0;
	if (!known)
		return http_reply_error(
		    r, 400, "invalid_field",
		    "action must be invite, accept, decline, offer, answer, candidate, hangup, enable "
		    "or disable");
	if (strcmp(state, "active") != 0)
		return http_reply_error(r, 409, "chat_not_active", "calls are for a chat with an operator");
	int64_t now = (int64_t)time(NULL);
	if (strcmp(action, "enable") == 0 || strcmp(action, "disable") == 0) {
		if (side != CHAT_OPERATOR)
			return http_reply_error(r, 403, "operator_only", "only the operator switches calls on or off");
		bool disable = action[0] == 'd';
		rc =
		    db_exec(r->db, "UPDATE chat_chats SET calls_off = ? WHERE id = ?", "is", (int64_t)disable, chat_id);
		if (rc == DB_DONE && disable)
			rc = chat_calls_end(r->db, chat_id, operator_id, "disabled");
		if (rc == DB_DONE && disable != off)
			rc =
			    tell(r->db, chat_id, operator_id, from,
			         json_pack("{s:s, s:s}", "action", disable ? "disabled" : "enabled", "calls", allowed));
		if (rc != DB_DONE)
			return store_reply_error(r, rc, "the call setting could not be saved");
		return http_reply_json(r, 200, json_pack("{s:b, s:s}", "calls_off", disable, "calls", allowed));
	}
	if (!call_id_ok(call_id))
		return http_reply_error(r, 400, "invalid_field",
		                        "call_id must be 8 to 64 of A-Z, a-z, 0-9, '-' and '_'");
	const char *problem = payload_problem(action, body);
	if (problem)
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	json_t *data = json_pack("{s:s, s:s}", "action", action, "call_id", call_id);
	if (strcmp(action, "invite") == 0) {
		const char *media = json_string_value(json_object_get(body, "media"));
		if (!media || (strcmp(media, "audio") != 0 && strcmp(media, "video") != 0)) {
			json_decref(data);
			return http_reply_error(r, 400, "invalid_field", "media must be audio or video");
		}
		if (strcmp(allowed, "off") == 0 || off || !media_allowed(allowed, media)) {
			json_decref(data);
			return http_reply_error(r, 403, "calls_disabled",
			                        strcmp(allowed, "off") == 0 || off
			                            ? "calls are switched off for this chat"
			                            : "this department takes audio calls only");
		}
		st = db_query(r->db, &rc, "SELECT 1 FROM chat_calls WHERE chat_id = ? AND state <> 'ended'", "s",
		              chat_id);
		db_done(st);
		if (st) {
			json_decref(data);
			return http_reply_error(r, 409, "call_in_progress", "hang up the call in progress first");
		}
		rc = db_exec(r->db,
		             "INSERT INTO chat_calls(id, chat_id, media, started_by, state, created_at) VALUES(?,?,?,?,"
		             "'ringing',?)",
		             "ssssi", call_id, chat_id, media, from, now);
		if (rc == DB_CONSTRAINT) {
			json_decref(data);
			return http_reply_error(r, 409, "call_in_progress", "this call_id was used already");
		}
		json_object_set_new(data, "media", json_string(media));
	} else {
		st =
		    db_query(r->db, &rc, "SELECT state, started_by, media FROM chat_calls WHERE id = ? AND chat_id = ?",
		             "ss", call_id, chat_id);
		if (!st) {
			json_decref(data);
			return http_reply_error(r, 404, "not_found", "no such call in this chat");
		}
		char cstate[8], starter[12];
		snprintf(cstate, sizeof cstate, "%s", db_col_text(st, 0));
		snprintf(starter, sizeof starter, "%s", db_col_text(st, 1));
		json_object_set_new(data, "media", json_string(db_col_text(st, 2)));
		db_done(st);
		rc = DB_DONE;
		bool callee = strcmp(starter, from) != 0;
		const char *refusal = NULL;
		if (strcmp(cstate, "ended") == 0)
			refusal = "the call has ended";
		else if ((strcmp(action, "accept") == 0 || strcmp(action, "decline") == 0) &&
		         (!callee || strcmp(cstate, "ringing") != 0))
			refusal = "only the one called answers a ringing call";
		else if ((strcmp(action, "offer") == 0 && callee) || (strcmp(action, "answer") == 0 && !callee))
			refusal = "the caller offers, the one called answers";
		else if (strcmp(cstate, "active") != 0 && strcmp(action, "hangup") != 0 &&
		         strcmp(action, "accept") != 0 && strcmp(action, "decline") != 0)
			refusal = "the call has not been accepted";
		if (refusal) {
			json_decref(data);
			return http_reply_error(r, 409, "call_state", "%s", refusal);
		}
		if (strcmp(action, "accept") == 0)
			rc = db_exec(r->db, "UPDATE chat_calls SET state = 'active', answered_at = ? WHERE id = ?",
			             "is", now, call_id);
		else if (strcmp(action, "decline") == 0 || strcmp(action, "hangup") == 0)
			rc = db_exec(r->db,
			             "UPDATE chat_calls SET state = 'ended', ended_at = ?, end_reason = ? WHERE id = ?",
			             "iss", now, action[0] == 'd' ? "declined" : from, call_id);
		if (strcmp(action, "offer") == 0 || strcmp(action, "answer") == 0)
			json_object_set(data, "sdp", json_object_get(body, "sdp"));
		if (strcmp(action, "candidate") == 0)
			json_object_set(data, "candidate", json_object_get(body, "candidate"));
	}
	rc = rc == DB_DONE ? tell(r->db, chat_id, operator_id, from, data) : (json_decref(data), rc);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the call could not be signalled");
	bool setup = strcmp(action, "invite") == 0 || strcmp(action, "accept") == 0;
	json_t *reply = setup ? ice_config(chat_id) : json_object();
	json_object_set_new(reply, "call", json_pack("{s:s, s:s}", "id", call_id, "action", action));
	return http_reply_json(r, setup && action[0] == 'i' ? 201 : 200, reply);
}

json_t *chat_call_state(struct db *db, const char *chat_id)
{
	struct db_stmt *st = db_query(db, NULL,
	                              "SELECT c.calls_off, COALESCE(d.calls, 'off') FROM chat_chats c LEFT JOIN "
	                              "chat_departments d ON d.id = c.department_id WHERE c.id = ?",
	                              "s", chat_id);
	if (!st)
		return json_null();
	json_t *j = json_pack("{s:b, s:s}", "calls_off", db_col_int(st, 0) != 0, "calls", db_col_text(st, 1));
	db_done(st);
	return j;
}
