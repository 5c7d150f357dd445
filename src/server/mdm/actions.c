/*
 * Bulk actions: one instruction (reboot, identify, volume, power
 * schedule, collect logs...) sent to every screen of a target — a rule, a
 * dynamic group, or a list of screen ids — in one transaction. Each
 * screen gets its own instruction, so its acknowledgement is in its own
 * history; the batch row ties them together and GET shows where each one
 * stands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "mdm.h"

#define MAX_TARGET 10000

json_t *mdm_target_screens(struct http_req *r, json_t *target)
{
	json_t *rule = json_object_get(target, "rule"), *group = json_object_get(target, "group_id");
	json_t *ids = json_object_get(target, "screen_ids");
	if (!json_is_object(target) || (rule != NULL) + (group != NULL) + (ids != NULL) != 1 ||
	    json_object_size(target) != 1) {
		http_reply_error(r, 400, "invalid_target",
		                 "target must be one of {\"rule\":\"...\"}, {\"group_id\":\"...\"}, "
		                 "{\"screen_ids\":[...]}");
		return NULL;
	}
	json_t *list = NULL;
	char err[256];
	if (ids) {
		if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > MAX_TARGET) {
			http_reply_error(r, 400, "invalid_target", "target.screen_ids must list 1 to %d screen ids",
			                 MAX_TARGET);
			return NULL;
		}
		list = json_array();
		size_t i;
		json_t *id;
		json_array_foreach (ids, i, id) {
			json_t *s = json_is_string(id) && codes_is_id(json_string_value(id))
			                ? screens_json(r->db, r->auth.account_id, json_string_value(id))
			                : NULL;
			if (!s || json_is_true(json_object_get(s, "deleted"))) {
				json_decref(s);
				json_decref(list);
				http_reply_error(r, 404, "not_found",
				                 "target.screen_ids[%zu]: no such screen in this account", i);
				return NULL;
			}
			json_array_append_new(list, s);
		}
		return list;
	}
	const char *rule_text = json_string_value(rule);
	if (group) {
		int rc;
		struct db_stmt *st =
		    json_is_string(group) && codes_is_id(json_string_value(group))
		        ? db_query(r->db, &rc, "SELECT rule FROM screen_groups WHERE id = ? AND account_id = ?", "ss",
		                   json_string_value(group), r->auth.account_id)
		        : NULL;
		if (!st) {
			http_reply_error(r, 404, "not_found", "target.group_id: no such group in this account");
			return NULL;
		}
		char *text = strdup(db_col_text(st, 0));
		db_done(st);
		int ok = text ? mdm_group_members(r->db, r->auth.account_id, text, &list, err, sizeof err) : -1;
		free(text);
		if (ok != 0) {
			store_reply_error(r, DB_ERROR, "the group's screens could not be read");
			return NULL;
		}
	} else if (!rule_text || mdm_group_members(r->db, r->auth.account_id, rule_text, &list, err, sizeof err) != 0) {
		http_reply_error(r, 400, "invalid_rule", "target.rule: %s",
		                 rule_text ? err : "must be a string such as \"tag = lobby\"");
		return NULL;
	}
	if (json_array_size(list) > MAX_TARGET) {
		json_decref(list);
		http_reply_error(r, 400, "invalid_target", "the target has more than %d screens", MAX_TARGET);
		return NULL;
	}
	return list;
}

int mdm_handle_action_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v)
		if (strcmp(key, "target") && strcmp(key, "type") && strcmp(key, "payload") && strcmp(key, "ttl"))
			return http_reply_error(r, 400, "unknown_field",
			                        "unknown field \"%.64s\" (target, type, payload, ttl)", key);
	struct screens_instruction ins;
	if (!screens_instruction_parse(r, body, &ins))
		return 0;
	json_t *screens = mdm_target_screens(r, json_object_get(body, "target"));
	if (!screens) {
		screens_instruction_release(&ins);
		return 0;
	}
	if (json_array_size(screens) == 0) {
		json_decref(screens);
		screens_instruction_release(&ins);
		return http_reply_error(r, 400, "no_screens", "the target matches no screen of this account");
	}
	char batch[CODES_ID_LEN + 1];
	codes_new_id(batch);
	char *target = json_dumps(json_object_get(body, "target"), JSON_COMPACT);
	int64_t now = (int64_t)time(NULL);
	int rc = target
	             ? db_exec(r->db,
	                       "INSERT INTO action_batches(id, account_id, type, target, screens, created_at, "
	                       "created_by) VALUES(?,?,?,?,?,?,?)",
	                       "ssssiis", batch, r->auth.account_id, ins.type, target, (int64_t)0, now, r->auth.login)
	             : DB_ERROR;
	free(target);
	json_t *sent = json_array();
	size_t i;
	json_t *s;
	json_array_foreach (screens, i, s) {
		if (rc != DB_DONE)
			break;
		char id[CODES_ID_LEN + 1];
		const char *screen_id = json_string_value(json_object_get(s, "id"));
		int64_t seq = screens_instruction_queue(r->db, screen_id, &ins, r->auth.login, batch, id);
		if (seq < 0)
			rc = DB_ERROR;
		else
			json_array_append_new(sent, json_pack("{s:s, s:s, s:I}", "screen_id", screen_id, "id", id,
			                                      "seq", (json_int_t)seq));
	}
	if (rc == DB_DONE)
		rc = db_exec(r->db, "UPDATE action_batches SET screens = ? WHERE id = ?", "is",
		             (int64_t)json_array_size(sent), batch);
	json_decref(screens);
	if (rc != DB_DONE) {
		json_decref(sent);
		screens_instruction_release(&ins);
		return store_reply_error(r, rc, "the action could not be saved");
	}
	char detail[96];
	snprintf(detail, sizeof detail, "%s to %zu screens", ins.type, json_array_size(sent));
	audit_request(r, "screen_action.sent", batch, detail);
	http_reply_json(r, 201,
	                json_pack("{s:{s:s, s:s, s:I, s:I, s:I}, s:o}", "batch", "id", batch, "type", ins.type,
	                          "screens", (json_int_t)json_array_size(sent), "created_at", (json_int_t)now,
	                          "expires_at", (json_int_t)(now + ins.ttl_s), "instructions", sent));
	screens_instruction_release(&ins);
	return 0;
}

/* {pending, delivered, ok, failed, expired} of a batch's instructions */
static json_t *batch_counts(struct db *db, const char *batch)
{
	json_t *c =
	    json_pack("{s:i, s:i, s:i, s:i, s:i}", "pending", 0, "delivered", 0, "ok", 0, "failed", 0, "expired", 0);
	struct db_stmt *st = db_prepare(db, "SELECT CASE WHEN status IN ('pending','delivered') AND expires_at <= ? "
	                                    "THEN 'expired' ELSE status END, COUNT(*) FROM instructions WHERE "
	                                    "batch_id = ? GROUP BY 1");
	if (!st)
		return c;
	db_bind_int(st, 1, (int64_t)time(NULL));
	db_bind_text(st, 2, batch);
	while (db_step(st) == DB_ROW)
		json_object_set_new(c, db_col_text(st, 0), json_integer(db_col_int(st, 1)));
	db_done(st);
	return c;
}

static json_t *batch_json(struct db_stmt *st, struct db *db)
{
	json_error_t e;
	json_t *target = json_loads(db_col_text(st, 2), 0, &e);
	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:o}", "id", db_col_text(st, 0), "type", db_col_text(st, 1),
	                 "target", target ? target : json_object(), "screens", (json_int_t)db_col_int(st, 3),
	                 "created_at", (json_int_t)db_col_int(st, 4), "created_by", db_col_text(st, 5), "counts",
	                 batch_counts(db, db_col_text(st, 0)));
}

int mdm_handle_actions_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT id, type, target, screens, created_at, created_by FROM "
	                                       "action_batches WHERE account_id = ? ORDER BY created_at DESC, id "
	                                       "LIMIT 50");
	if (!st)
		return store_reply_error(r, DB_ERROR, "cannot list the actions");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, batch_json(st, r->db));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "actions", list));
	return 0;
}

int mdm_handle_action_get(struct http_req *r)
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = codes_is_id(id) ? db_query(r->db, &rc,
	                                                "SELECT id, type, target, screens, created_at, created_by "
	                                                "FROM action_batches WHERE id = ? AND account_id = ?",
	                                                "ss", id, r->auth.account_id)
	                                     : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such action in this account");
	json_t *batch = batch_json(st, r->db);
	db_done(st);
	st = db_prepare(r->db, "SELECT i.screen_id, s.name, i.id, CASE WHEN i.status IN ('pending','delivered') AND "
	                       "i.expires_at <= ? THEN 'expired' ELSE i.status END, COALESCE(i.acked_at, 0), i.result "
	                       "FROM instructions i JOIN screens s ON s.id = i.screen_id WHERE i.batch_id = ? "
	                       "ORDER BY s.name COLLATE NOCASE");
	json_t *list = json_array();
	if (st) {
		db_bind_int(st, 1, (int64_t)time(NULL));
		db_bind_text(st, 2, id);
		while (db_step(st) == DB_ROW) {
			json_error_t e;
			json_t *result = json_loads(db_col_text(st, 5), 0, &e);
			json_array_append_new(
			    list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "screen_id", db_col_text(st, 0), "name",
			                    db_col_text(st, 1), "instruction_id", db_col_text(st, 2), "status",
			                    db_col_text(st, 3), "acked_at", (json_int_t)db_col_int(st, 4), "result",
			                    result ? result : json_object()));
		}
		db_done(st);
	}
	json_object_set_new(batch, "instructions", list);
	http_reply_json(r, 200, json_pack("{s:o}", "action", batch));
	return 0;
}
