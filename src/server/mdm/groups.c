/*
 * Dynamic groups: a name and a screen rule (screens/rule.h); the members
 * are the screens the rule matches now, so a screen joins "version < 1.5"
 * when it reports 1.4 and leaves it when it updates. Bulk actions and
 * rollouts target a group by id. Names are unique in an account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/power_schedule.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/rule.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "mdm.h"

#define MAX_GROUPS 500

struct counting {
	struct rule **rules;
	int64_t *members, *online;
	size_t n;
};

static int count_one(json_t *screen, void *arg)
{
	struct counting *c = arg;
	bool online = json_is_true(json_object_get(screen, "online"));
	for (size_t i = 0; i < c->n; i++)
		if (rule_match(c->rules[i], screen)) {
			c->members[i]++;
			c->online[i] += online;
		}
	return 0;
}

int mdm_handle_groups_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT id, name, rule, created_at, created_by FROM screen_groups "
	                                       "WHERE account_id = ? ORDER BY name COLLATE NOCASE LIMIT 500");
	if (!st)
		return store_reply_error(r, DB_ERROR, "cannot list the groups");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *groups = json_array();
	static _Thread_local struct rule *rules[MAX_GROUPS];
	static _Thread_local int64_t members[MAX_GROUPS], online[MAX_GROUPS];
	size_t n = 0;
	while (db_step(st) == DB_ROW && n < MAX_GROUPS) {
		char err[200];
		rules[n] = rule_parse(db_col_text(st, 2), err, sizeof err);
		members[n] = online[n] = 0;
		json_array_append_new(groups,
		                      json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", db_col_text(st, 0), "name",
		                                db_col_text(st, 1), "rule", db_col_text(st, 2), "created_at",
		                                (json_int_t)db_col_int(st, 3), "created_by", db_col_text(st, 4)));
		n++;
	}
	db_done(st);
	struct counting c = {rules, members, online, n};
	int rc = screens_each(r->db, r->auth.account_id, count_one, &c);
	for (size_t i = 0; i < n; i++) {
		json_t *g = json_array_get(groups, i);
		json_object_set_new(g, "members", json_integer(members[i]));
		json_object_set_new(g, "online", json_integer(online[i]));
		rule_free(rules[i]);
	}
	if (rc != 0) {
		json_decref(groups);
		return store_reply_error(r, DB_ERROR, "cannot count the groups' screens");
	}
	http_reply_json(r, 200, json_pack("{s:o}", "groups", groups));
	return 0;
}

/* Checks {name, rule} (both required unless partial); replies 400. */
static bool group_fields_ok(struct http_req *r, json_t *body, bool partial)
{
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v)
		if (strcmp(key, "name") != 0 && strcmp(key, "rule") != 0 && strcmp(key, "maintenance_window") != 0) {
			http_reply_error(r, 400, "unknown_field",
			                 "unknown field \"%.64s\" (name, rule, maintenance_window)", key);
			return false;
		}
	json_t *window = json_object_get(body, "maintenance_window");
	char why[200];
	if (window && power_schedule_check(window, why, sizeof why)) {
		http_reply_error(r, 400, "invalid_field", "maintenance_window: %s", why);
		return false;
	}
	json_t *name = json_object_get(body, "name"), *rule = json_object_get(body, "rule");
	if ((name || !partial) &&
	    (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 128)) {
		http_reply_error(r, 400, "invalid_field", "name must be a string of 1-128 bytes");
		return false;
	}
	if (rule || !partial) {
		char err[256];
		struct rule *parsed =
		    json_is_string(rule) ? rule_parse(json_string_value(rule), err, sizeof err) : NULL;
		if (!parsed) {
			http_reply_error(r, 400, "invalid_rule", "rule: %s",
			                 json_is_string(rule) ? err : "must be a string such as \"tag = lobby\"");
			return false;
		}
		rule_free(parsed);
	}
	return true;
}

static json_t *group_json(struct db *db, const char *account_id, const char *id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, name, rule, created_at, created_by, maintenance_window FROM "
	                              "screen_groups WHERE id = ? AND account_id = ?",
	                              "ss", id, account_id);
	if (!st)
		return NULL;
	json_error_t e;
	json_t *window = json_loads(db_col_text(st, 5), 0, &e);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "id", db_col_text(st, 0), "name", db_col_text(st, 1),
	                      "rule", db_col_text(st, 2), "created_at", (json_int_t)db_col_int(st, 3), "created_by",
	                      db_col_text(st, 4), "maintenance_window", window ? window : json_array());
	db_done(st);
	return j;
}

static int name_taken(struct http_req *r)
{
	return http_reply_error(r, 409, "name_taken", "a group of this account already has this name");
}

int mdm_handle_group_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body || !group_fields_ok(r, body, false))
		return 0;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT COUNT(*) FROM screen_groups WHERE account_id = ?", "s", r->auth.account_id);
	int64_t count = st ? db_col_int(st, 0) : 0;
	db_done(st);
	if (count >= MAX_GROUPS)
		return http_reply_error(r, 409, "too_many_groups", "an account has at most %d groups", MAX_GROUPS);
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	const char *name = json_string_value(json_object_get(body, "name"));
	rc = db_exec(r->db,
	             "INSERT INTO screen_groups(id, account_id, name, rule, created_at, created_by) "
	             "VALUES(?,?,?,?,?,?)",
	             "ssssis", id, r->auth.account_id, name, json_string_value(json_object_get(body, "rule")),
	             (int64_t)time(NULL), r->auth.login);
	if (rc == DB_CONSTRAINT)
		return name_taken(r);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the group could not be saved");
	audit_request(r, "screen_group.created", id, name);
	http_reply_json(r, 201, json_pack("{s:o}", "group", group_json(r->db, r->auth.account_id, id)));
	return 0;
}

static bool require_group(struct http_req *r, const char *id)
{
	json_t *g = codes_is_id(id) ? group_json(r->db, r->auth.account_id, id) : NULL;
	json_decref(g);
	if (!g)
		http_reply_error(r, 404, "not_found", "no such group in this account");
	return g != NULL;
}

int mdm_handle_group_update(struct http_req *r)
{
	json_t *body = http_json_body(r);
	const char *id = http_param(r, "id");
	if (!body || !require_group(r, id) || !group_fields_ok(r, body, true))
		return 0;
	json_t *v;
	int rc = DB_DONE;
	if ((v = json_object_get(body, "name")))
		rc = db_exec(r->db, "UPDATE screen_groups SET name = ? WHERE id = ?", "ss", json_string_value(v), id);
	if (rc == DB_DONE && (v = json_object_get(body, "rule")))
		rc = db_exec(r->db, "UPDATE screen_groups SET rule = ? WHERE id = ?", "ss", json_string_value(v), id);
	if (rc == DB_DONE && (v = json_object_get(body, "maintenance_window"))) {
		char *text = json_dumps(v, JSON_COMPACT);
		rc = text ? db_exec(r->db, "UPDATE screen_groups SET maintenance_window = ? WHERE id = ?", "ss", text,
		                    id)
		          : DB_ERROR;
		free(text);
	}
	if (rc == DB_CONSTRAINT)
		return name_taken(r);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the group could not be saved");
	audit_request(r, "screen_group.updated", id, "");
	http_reply_json(r, 200, json_pack("{s:o}", "group", group_json(r->db, r->auth.account_id, id)));
	return 0;
}

int mdm_handle_group_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!require_group(r, id))
		return 0;
	int rc = db_exec(r->db, "DELETE FROM screen_groups WHERE id = ?", "s", id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the group could not be deleted");
	audit_request(r, "screen_group.deleted", id, "");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

struct members {
	struct rule *rule;
	json_t *list;
};

static int add_member(json_t *screen, void *arg)
{
	struct members *m = arg;
	if (rule_match(m->rule, screen))
		json_array_append(m->list, screen);
	return 0;
}

int mdm_group_members(struct db *db, const char *account_id, const char *rule_text, json_t **out, char *err,
                      size_t errsz)
{
	struct members m = {rule_parse(rule_text, err, errsz), json_array()};
	if (!m.rule) {
		json_decref(m.list);
		return -1;
	}
	int rc = screens_each(db, account_id, add_member, &m);
	rule_free(m.rule);
	if (rc != 0) {
		snprintf(err, errsz, "the screens could not be read");
		json_decref(m.list);
		return -1;
	}
	*out = m.list;
	return 0;
}

int mdm_handle_group_screens(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *g = codes_is_id(id) ? group_json(r->db, r->auth.account_id, id) : NULL;
	if (!g)
		return http_reply_error(r, 404, "not_found", "no such group in this account");
	json_t *list;
	char err[256];
	if (mdm_group_members(r->db, r->auth.account_id, json_string_value(json_object_get(g, "rule")), &list, err,
	                      sizeof err) != 0) {
		json_decref(g);
		return store_reply_error(r, DB_ERROR, "the group's screens could not be read");
	}
	json_object_set_new(g, "members", json_integer((json_int_t)json_array_size(list)));
	http_reply_json(r, 200, json_pack("{s:o, s:o}", "group", g, "screens", list));
	return 0;
}
