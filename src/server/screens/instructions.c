/*
 * Instructions to screens. Each has a per-screen sequence number, is
 * stored before it is delivered, is delivered by the screen's long-poll the
 * moment it is committed (db_notify wakes "screen:<id>"), is delivered
 * again on every poll until the screen acknowledges it (at-least-once; the
 * player skips sequence numbers it has done), and stops being delivered
 * once it expires (a reboot queued yesterday must not run today).
 *
 * The long-poll writes nothing itself (a read route): last_seen and the
 * "delivered" marks go through presence.h, so a screen can wait and be
 * answered even when the store refuses writes (a full disk).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/power_schedule.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../remote/remote.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "presence.h"
#include "screens.h"

#define DEFAULT_TTL_S  3600
#define MAX_TTL_S      (7 * 24 * 3600)
#define MAX_BATCH      50
#define MAX_ACK_WAIT_S 30

static const char *check_level(json_t *payload)
{
	json_t *l = json_object_get(payload, "level");
	if (!json_is_integer(l) || json_integer_value(l) < 0 || json_integer_value(l) > 100)
		return "payload.level must be an integer from 0 to 100";
	return NULL;
}

static const char *check_channel(json_t *payload)
{
	json_t *c = json_object_get(payload, "channel_id");
	if (!json_is_string(c) || !codes_is_id(json_string_value(c)))
		return "payload.channel_id must be a channel id";
	return NULL;
}

/* A channel id from a request names a channel of the caller's account, or
 * nothing: another account's id is as unknown as a made-up one. */
static bool channel_in_account(struct http_req *r, json_t *payload)
{
	int rc;
	struct db_stmt *st = db_query(r->db, &rc, "SELECT 1 FROM channels WHERE id = ? AND account_id = ?", "ss",
	                              json_string_value(json_object_get(payload, "channel_id")), r->auth.account_id);
	db_done(st);
	return st != NULL;
}

static const char *check_display_power(json_t *payload)
{
	if (!json_is_boolean(json_object_get(payload, "on")))
		return "payload.on must be true (display on) or false (display off)";
	return NULL;
}

static const char *check_power_schedule(json_t *payload)
{
	static _Thread_local char err[200];
	json_t *schedule = json_object_get(payload, "schedule");
	if (!schedule)
		return "payload.schedule must be the list of periods [{days, on, off}] ([] = always on)";
	return power_schedule_check(schedule, err, sizeof err);
}

static const char *check_collect_logs(json_t *payload)
{
	json_t *max = json_object_get(payload, "max_bytes");
	if (max && (!json_is_integer(max) || json_integer_value(max) < 4096 ||
	            json_integer_value(max) > SCREENS_LOGS_MAX_BYTES))
		return "payload.max_bytes must be 4096 to " SCREENS_LOGS_MAX_TEXT " bytes";
	return NULL;
}

/* The schedule is the screen's own setting too: a player that restores its
 * configuration (GET /api/v1/device/config) gets it back. */
static int apply_power_schedule(struct db *db, const char *screen_id, json_t *payload)
{
	char *text = json_dumps(json_object_get(payload, "schedule"), JSON_COMPACT);
	int rc =
	    text ? db_exec(db, "UPDATE screens SET power_schedule = ? WHERE id = ?", "ss", text, screen_id) : DB_ERROR;
	free(text);
	return rc;
}

static const struct instruction_type {
	const char *name;
	const char *(*check)(json_t *payload);
	int (*apply)(struct db *db, const char *screen_id, json_t *payload); /* before it is queued */
} instruction_types[] = {
    {"identify", NULL, NULL},
    {"reboot", NULL, NULL},
    {"restart_player", NULL, NULL},
    {"screenshot", NULL, NULL},
    {"set_volume", check_level, NULL},
    {"set_brightness", check_level, NULL},
    {"change_channel", check_channel, NULL},
    {"display_power", check_display_power, NULL},
    {"power_schedule", check_power_schedule, apply_power_schedule},
    {"collect_logs", check_collect_logs, NULL},
};

static json_t *instruction_json(struct db_stmt *st)
{
	json_error_t e;
	json_t *payload = json_loads(db_col_text(st, 3), 0, &e), *result = json_loads(db_col_text(st, 9), 0, &e);
	return json_pack("{s:s, s:I, s:s, s:o, s:s, s:I, s:I, s:I, s:o, s:s, s:I}", "id", db_col_text(st, 0), "seq",
	                 (json_int_t)db_col_int(st, 1), "type", db_col_text(st, 2), "payload",
	                 payload ? payload : json_object(), "status", db_col_text(st, 4), "created_at",
	                 (json_int_t)db_col_int(st, 5), "expires_at", (json_int_t)db_col_int(st, 6), "acked_at",
	                 (json_int_t)db_col_int(st, 7), "result", result ? result : json_object(), "created_by",
	                 db_col_text(st, 8), "deliveries", (json_int_t)db_col_int(st, 10));
}

#define INSTRUCTION_COLUMNS                                                                                            \
	"id, seq, type, payload, status, created_at, expires_at, COALESCE(acked_at, 0), created_by, result, "          \
	"deliveries"

bool screens_require(struct http_req *r, const char *id)
{
	int rc;
	struct db_stmt *st = codes_is_id(id) ? db_query(r->db, &rc,
	                                                "SELECT 1 FROM screens WHERE id = ? AND account_id = ? AND "
	                                                "deleted_at IS NULL",
	                                                "ss", id, r->auth.account_id)
	                                     : NULL;
	db_done(st);
	if (!st)
		http_reply_error(r, 404, "not_found", "no such screen in this account");
	return st != NULL;
}

int64_t screens_instruction_add(struct db *db, const char *screen_id, const char *type, const char *payload,
                                int64_t ttl_s, const char *by, char id_out[CODES_ID_LEN + 1])
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "UPDATE screens SET next_seq = next_seq + 1 WHERE id = ? "
	                              "RETURNING next_seq - 1",
	                              "s", screen_id);
	int64_t seq = st ? db_col_int(st, 0) : 0;
	if (st) {
		while (db_step(st) == DB_ROW)
			;
		db_done(st);
	}
	if (!seq)
		return -1;
	codes_new_id(id_out);
	int64_t now = (int64_t)time(NULL);
	if (db_exec(db,
	            "INSERT INTO instructions(id, screen_id, seq, type, payload, created_at, created_by, expires_at) "
	            "VALUES(?,?,?,?,?,?,?,?)",
	            "ssissisi", id_out, screen_id, seq, type, payload, now, by, now + ttl_s) != DB_DONE)
		return -1;
	db_notifyf(db, "screen:%s", screen_id); /* its long-poll answers as soon as this commits */
	return seq;
}

bool screens_instruction_parse(struct http_req *r, json_t *body, struct screens_instruction *out)
{
	memset(out, 0, sizeof *out);
	json_t *jtype = json_object_get(body, "type"), *payload = json_object_get(body, "payload");
	json_t *jttl = json_object_get(body, "ttl");
	const struct instruction_type *type = NULL;
	for (size_t i = 0; json_is_string(jtype) && i < sizeof instruction_types / sizeof instruction_types[0]; i++)
		if (strcmp(instruction_types[i].name, json_string_value(jtype)) == 0)
			type = &instruction_types[i];
	if (!type) {
		http_reply_error(r, 400, "invalid_type",
		                 "type must be one of identify, reboot, restart_player, screenshot, set_volume, "
		                 "set_brightness, change_channel, display_power, power_schedule, collect_logs");
		return false;
	}
	if (payload && !json_is_object(payload)) {
		http_reply_error(r, 400, "invalid_field", "payload must be an object");
		return false;
	}
	json_t *p = payload ? json_incref(payload) : json_object();
	const char *problem = type->check ? type->check(p) : NULL;
	if (problem) {
		json_decref(p);
		http_reply_error(r, 400, "invalid_payload", "%s", problem);
		return false;
	}
	if (strcmp(type->name, "change_channel") == 0 && !channel_in_account(r, p)) {
		json_decref(p);
		http_reply_error(r, 404, "not_found", "payload.channel_id: no such channel in this account");
		return false;
	}
	char *text = json_dumps(p, JSON_COMPACT);
	if (!text || strlen(text) > 8192) {
		free(text);
		json_decref(p);
		http_reply_error(r, 400, "invalid_payload", "payload is larger than 8 KiB");
		return false;
	}
	if (jttl && (!json_is_integer(jttl) || json_integer_value(jttl) < 1 || json_integer_value(jttl) > MAX_TTL_S)) {
		free(text);
		json_decref(p);
		http_reply_error(r, 400, "invalid_field", "ttl must be 1 to %d seconds", MAX_TTL_S);
		return false;
	}
	out->type = type->name;
	out->payload = p;
	out->payload_text = text;
	out->ttl_s = jttl ? json_integer_value(jttl) : DEFAULT_TTL_S;
	out->apply = type->apply;
	return true;
}

void screens_instruction_release(struct screens_instruction *ins)
{
	json_decref(ins->payload);
	free(ins->payload_text);
	memset(ins, 0, sizeof *ins);
}

int64_t screens_instruction_queue(struct db *db, const char *screen_id, const struct screens_instruction *ins,
                                  const char *by, const char *batch_id, char id_out[CODES_ID_LEN + 1])
{
	if (ins->apply && ins->apply(db, screen_id, ins->payload) != DB_DONE)
		return -1;
	int64_t seq = screens_instruction_add(db, screen_id, ins->type, ins->payload_text, ins->ttl_s, by, id_out);
	if (seq > 0 && batch_id &&
	    db_exec(db, "UPDATE instructions SET batch_id = ? WHERE id = ?", "ss", batch_id, id_out) != DB_DONE)
		return -1;
	return seq;
}

int screens_handle_instruction_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *screen_id = http_param(r, "id");
	struct screens_instruction ins;
	if (!screens_require(r, screen_id) || !screens_instruction_parse(r, body, &ins))
		return 0;
	char id[CODES_ID_LEN + 1];
	int64_t now = (int64_t)time(NULL);
	int64_t seq = screens_instruction_queue(r->db, screen_id, &ins, r->auth.login, NULL, id);
	if (seq < 0) {
		screens_instruction_release(&ins);
		return store_reply_error(r, DB_ERROR, "the instruction could not be saved");
	}
	audit_request(r, "instruction.sent", screen_id, ins.type);
	http_reply_json(r, 201,
	                json_pack("{s:s, s:I, s:s, s:s, s:I}", "id", id, "seq", (json_int_t)seq, "type", ins.type,
	                          "status", "pending", "expires_at", (json_int_t)(now + ins.ttl_s)));
	screens_instruction_release(&ins);
	return 0;
}

/* GET .../instructions/{iid}[?wait=S]: with wait, answers when the screen
 * has acknowledged (or the wait ends), so a CLI can wait for the result. */
struct ack_wait {
	char screen_id[CODES_ID_LEN + 1];
	char id[CODES_ID_LEN + 1];
};

static int instruction_reply(struct http_req *r)
{
	struct ack_wait *w = r->scratch;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc,
	             "SELECT " INSTRUCTION_COLUMNS " FROM instructions i WHERE id = ? AND screen_id = ? "
	             "AND EXISTS (SELECT 1 FROM screens s WHERE s.id = i.screen_id AND s.account_id = ?)",
	             "sss", w->id, w->screen_id, r->auth.account_id);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such instruction for this screen");
	bool done = strcmp(db_col_text(st, 4), "ok") == 0 || strcmp(db_col_text(st, 4), "failed") == 0;
	bool waiting = r->on_wake != NULL;
	bool ending = r->waiter.reason == WAKE_TIMEOUT || r->waiter.reason == WAKE_SHUTDOWN;
	if (!done && waiting && !ending) {
		db_done(st);
		char key[WAKE_KEY_LEN];
		if (strfmt(key, sizeof key, "instruction:%s", w->id) != 0)
			return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
		return http_wait(r, key, 0, instruction_reply);
	}
	json_t *j = instruction_json(st);
	db_done(st);
	/* the host's ticket and the session secret are for the screen alone:
	 * users see that one was sent */
	if (strcmp(json_string_value(json_object_get(j, "type")), "remote_session") == 0)
		remote_payload_for_users(json_object_get(j, "payload"));
	http_reply_json(r, 200, json_pack("{s:o}", "instruction", j));
	return 0;
}

int screens_handle_instruction_get(struct http_req *r)
{
	const char *iid = http_param(r, "iid"), *wait = http_query(r, "wait");
	long secs = 0;
	if (wait) {
		char *end;
		secs = strtol(wait, &end, 10);
		if (!*wait || *end || secs < 0 || secs > MAX_ACK_WAIT_S)
			return http_reply_error(r, 400, "invalid_parameter", "wait must be 0 to %d seconds",
			                        MAX_ACK_WAIT_S);
	}
	if (!codes_is_id(iid) || !codes_is_id(http_param(r, "id")))
		return http_reply_error(r, 404, "not_found", "no such instruction for this screen");
	struct ack_wait *w = calloc(1, sizeof *w);
	if (!w)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	snprintf(w->screen_id, sizeof w->screen_id, "%s", http_param(r, "id"));
	snprintf(w->id, sizeof w->id, "%s", iid);
	r->scratch = w;
	if (secs == 0)
		return instruction_reply(r);
	char key[WAKE_KEY_LEN];
	if (strfmt(key, sizeof key, "instruction:%s", iid) != 0)
		return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
	return http_wait(r, key, (unsigned)secs * 1000u, instruction_reply);
}

/* --- the device side --- */

struct poll_state {
	int64_t after;
};

static int poll_deliver(struct http_req *r)
{
	struct poll_state *ps = r->scratch;
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st = db_prepare(r->db, "SELECT " INSTRUCTION_COLUMNS " FROM instructions WHERE screen_id = ? "
	                                       "AND seq > ? AND status IN ('pending','delivered') AND expires_at > ? "
	                                       "ORDER BY seq LIMIT 50");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the instructions could not be read");
	db_bind_text(st, 1, r->auth.device_id);
	db_bind_int(st, 2, ps->after);
	db_bind_int(st, 3, now);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW) {
		json_t *full = instruction_json(st);
		if (strcmp(json_string_value(json_object_get(full, "type")), "remote_session") == 0)
			remote_payload_for_host(json_object_get(full, "payload")); /* opens the sealed secret */
		json_array_append_new(list,
		                      json_pack("{s:O, s:O, s:O, s:O, s:O}", "seq", json_object_get(full, "seq"), "id",
		                                json_object_get(full, "id"), "type", json_object_get(full, "type"),
		                                "payload", json_object_get(full, "payload"), "expires_at",
		                                json_object_get(full, "expires_at")));
		json_decref(full);
	}
	db_done(st);
	bool ending = r->waiter.reason == WAKE_TIMEOUT || r->waiter.reason == WAKE_SHUTDOWN;
	if (json_array_size(list) == 0 && !ending) {
		json_decref(list);
		char key[WAKE_KEY_LEN];
		if (strfmt(key, sizeof key, "screen:%s", r->auth.device_id) != 0)
			return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
		return http_wait(r, key, 0, poll_deliver);
	}
	size_t i;
	json_t *ins;
	json_array_foreach (list, i, ins)
		presence_mark_delivered(json_string_value(json_object_get(ins, "id")), now);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	http_reply_json(r, 200,
	                json_pack("{s:o, s:I}", "instructions", list, "server_time",
	                          (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	return 0;
}

int screens_handle_device_poll(struct http_req *r)
{
	const char *after = http_query(r, "after"), *wait = http_query(r, "wait");
	char *end;
	int64_t a = 0;
	long w = SCREENS_MAX_WAIT_S;
	if (after) {
		a = strtoll(after, &end, 10);
		if (!*after || *end || a < 0)
			return http_reply_error(r, 400, "invalid_parameter",
			                        "after must be a sequence number (0 or more)");
	}
	if (wait) {
		w = strtol(wait, &end, 10);
		if (!*wait || *end || w < 0 || w > SCREENS_MAX_WAIT_S)
			return http_reply_error(r, 400, "invalid_parameter", "wait must be 0 to %d seconds",
			                        SCREENS_MAX_WAIT_S);
	}
	struct poll_state *ps = calloc(1, sizeof *ps);
	if (!ps)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	ps->after = a;
	r->scratch = ps;
	int64_t now = (int64_t)time(NULL);
	/* in memory; the console hears of it (once) when it comes online. A
	 * screen polling again within the grace needs no look at the store. */
	if (!presence_seen_again(r->auth.device_id, r->auth.account_id, r->ip, now)) {
		int qrc;
		struct db_stmt *seen =
		    db_query(r->db, &qrc, "SELECT last_seen FROM screens WHERE id = ?", "s", r->auth.device_id);
		int64_t stored_seen = seen ? db_col_int(seen, 0) : 0;
		db_done(seen);
		presence_seen(r->auth.device_id, r->auth.account_id, r->ip, now, stored_seen);
	}
	char key[WAKE_KEY_LEN];
	if (strfmt(key, sizeof key, "screen:%s", r->auth.device_id) != 0)
		return http_reply_error(r, 500, "internal", "the wake-up key does not fit");
	return http_wait(r, key, (unsigned)w * 1000u, poll_deliver);
}

int screens_handle_device_ack(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *id = http_param(r, "id");
	json_t *jstatus = json_object_get(body, "status"), *result = json_object_get(body, "result");
	const char *status = json_string_value(jstatus);
	if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0))
		return http_reply_error(r, 400, "invalid_field", "status must be \"ok\" or \"failed\"");
	if (!codes_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such instruction for this screen");
	if (result && !json_is_object(result))
		return http_reply_error(r, 400, "invalid_field", "result must be an object");
	char *result_text = result ? json_dumps(result, JSON_COMPACT) : strdup("{}");
	if (!result_text || strlen(result_text) > 16384) {
		free(result_text);
		return http_reply_error(r, 400, "invalid_field", "result must be an object of at most 16 KiB");
	}
	if (!result_text)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	int rc = db_exec(r->db,
	                 "UPDATE instructions SET status = ?, result = ?, acked_at = ? WHERE id = ? "
	                 "AND screen_id = ? AND status IN ('pending','delivered')",
	                 "ssiss", status, result_text, (int64_t)time(NULL), id, r->auth.device_id);
	free(result_text);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the acknowledgement could not be saved");
	if (db_changes(r->db) == 0) {
		/* already acknowledged (a redelivery): fine; unknown: 404 */
		int qrc;
		struct db_stmt *st = db_query(r->db, &qrc, "SELECT 1 FROM instructions WHERE id = ? AND screen_id = ?",
		                              "ss", id, r->auth.device_id);
		db_done(st);
		if (!st)
			return http_reply_error(r, 404, "not_found", "no such instruction for this screen");
	} else {
		db_notifyf(r->db, "instruction:%s", id);
		screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	}
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}
