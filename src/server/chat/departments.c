/*
 * Departments (admin): a name, the sites whose visitors may choose it,
 * whether it assigns chats itself (auto_assign) and after how many seconds
 * without an operator's reply a chat goes back to the queue
 * (reassign_after_s, 0: never); and its operators (users of role operator
 * or admin). Operators' capacity (admin) and status (the operator's own:
 * online, away, offline). Going online dispatches the operator's
 * departments; going offline requeues their active chats at the head of
 * the queue; away keeps them but takes no new ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../http/server.h"
#include "../http/wake.h"
#include "../mail/mail.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

static json_t *department_json(struct db *db, const char *id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT id, name, auto_assign, reassign_after_s, created_at, offline_email, calls "
	             "FROM chat_departments WHERE id = ?",
	             "s", id);
	if (!st)
		return NULL;
	json_t *j = json_pack("{s:s, s:s, s:b, s:I, s:I, s:s, s:s}", "id", db_col_text(st, 0), "name",
	                      db_col_text(st, 1), "auto_assign", (int)db_col_int(st, 2), "reassign_after_s",
	                      (json_int_t)db_col_int(st, 3), "created_at", (json_int_t)db_col_int(st, 4),
	                      "offline_email", db_col_text(st, 5), "calls", db_col_text(st, 6));
	db_done(st);
	json_t *sites = json_array(), *ops = json_array();
	st = db_prepare(db, "SELECT site_id FROM chat_department_sites WHERE department_id = ? ORDER BY site_id");
	if (st) {
		db_bind_text(st, 1, id);
		while (db_step(st) == DB_ROW)
			json_array_append_new(sites, json_string(db_col_text(st, 0)));
		db_done(st);
	}
	st = db_prepare(db, "SELECT u.id, CASE WHEN u.name <> '' THEN u.name ELSE u.login END, "
	                    "COALESCE(o.status, 'offline'), COALESCE(o.capacity, 3) FROM chat_department_operators d "
	                    "JOIN users u ON u.id = d.user_id LEFT JOIN chat_operators o ON o.user_id = u.id "
	                    "WHERE d.department_id = ? ORDER BY u.login");
	if (st) {
		db_bind_text(st, 1, id);
		while (db_step(st) == DB_ROW)
			json_array_append_new(ops, json_pack("{s:s, s:s, s:s, s:I}", "id", db_col_text(st, 0), "name",
			                                     db_col_text(st, 1), "status", db_col_text(st, 2),
			                                     "capacity", (json_int_t)db_col_int(st, 3)));
		db_done(st);
	}
	json_object_set_new(j, "site_ids", sites);
	json_object_set_new(j, "operators", ops);
	return j;
}

static bool own_department(struct http_req *r, const char *id)
{
	int rc;
	struct db_stmt *st =
	    chat_is_id(id) ? db_query(r->db, &rc, "SELECT 1 FROM chat_departments WHERE id = ? AND account_id = ?",
	                              "ss", id, r->auth.account_id)
	                   : NULL;
	db_done(st);
	return st != NULL;
}

/* Checks and applies the fields of a create or update body. */
static int apply(struct http_req *r, const char *id, json_t *body, bool create)
{
	json_t *jname = json_object_get(body, "name"), *jsites = json_object_get(body, "site_ids");
	json_t *jauto = json_object_get(body, "auto_assign"), *jre = json_object_get(body, "reassign_after_s");
	const char *name = json_string_value(jname);
	if ((create || jname) && (!name || !*name || strlen(name) > 200))
		return http_reply_error(r, 400, "invalid_field", "name must be a string of 1 to 200 bytes");
	for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return http_reply_error(r, 400, "invalid_field", "name may not hold control characters");
	if (jauto && !json_is_boolean(jauto))
		return http_reply_error(r, 400, "invalid_field", "auto_assign must be true or false");
	if (jre && (!json_is_integer(jre) || json_integer_value(jre) < 0 || json_integer_value(jre) > 86400))
		return http_reply_error(r, 400, "invalid_field", "reassign_after_s must be 0 (never) to 86400 seconds");
	json_t *jmail = json_object_get(body, "offline_email");
	const char *offline_email = json_string_value(jmail);
	if (jmail && !json_is_null(jmail) && (!offline_email || (*offline_email && !mail_address_ok(offline_email))))
		return http_reply_error(
		    r, 400, "invalid_field",
		    "offline_email must be one e-mail address, or \"\" (offline messages in the console "
		    "only)");
	json_t *jcalls = json_object_get(body, "calls");
	const char *calls = json_string_value(jcalls);
	if (jcalls &&
	    (!calls || (strcmp(calls, "off") != 0 && strcmp(calls, "audio") != 0 && strcmp(calls, "video") != 0)))
		return http_reply_error(r, 400, "invalid_field", "calls must be off, audio or video");
	if (jsites && (!json_is_array(jsites) || json_array_size(jsites) > 100))
		return http_reply_error(r, 400, "invalid_field", "site_ids must be an array of site ids");
	size_t i;
	json_t *s;
	json_array_foreach (jsites, i, s) {
		int rc;
		const char *sid = json_string_value(s);
		struct db_stmt *st =
		    chat_is_id(sid) ? db_query(r->db, &rc, "SELECT 1 FROM chat_sites WHERE id = ? AND account_id = ?",
		                               "ss", sid, r->auth.account_id)
		                    : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field", "site_ids: no such site in this account");
	}
	int rc = DB_DONE;
	if (create)
		rc = db_exec(
		    r->db,
		    "INSERT INTO chat_departments(id, account_id, name, auto_assign, reassign_after_s, created_at) "
		    "VALUES(?,?,?,?,?,?)",
		    "sssiii", id, r->auth.account_id, name, (int64_t)json_is_true(jauto),
		    (int64_t)(jre ? json_integer_value(jre) : 0), (int64_t)time(NULL));
	else {
		if (jname)
			rc = db_exec(r->db, "UPDATE chat_departments SET name = ? WHERE id = ?", "ss", name, id);
		if (rc == DB_DONE && jauto)
			rc = db_exec(r->db, "UPDATE chat_departments SET auto_assign = ? WHERE id = ?", "is",
			             (int64_t)json_is_true(jauto), id);
		if (rc == DB_DONE && jre)
			rc = db_exec(r->db, "UPDATE chat_departments SET reassign_after_s = ? WHERE id = ?", "is",
			             (int64_t)json_integer_value(jre), id);
	}
	if (rc == DB_DONE && jcalls)
		rc = db_exec(r->db, "UPDATE chat_departments SET calls = ? WHERE id = ?", "ss", calls, id);
	if (rc == DB_DONE && jmail)
		rc = db_exec(r->db, "UPDATE chat_departments SET offline_email = ? WHERE id = ?", "ss",
		             offline_email ? offline_email : "", id);
	if (rc == DB_DONE && jsites) {
		rc = db_exec(r->db, "DELETE FROM chat_department_sites WHERE department_id = ?", "s", id);
		json_array_foreach (jsites, i, s) {
			if (rc == DB_DONE)
				rc = db_exec(r->db,
				             "INSERT INTO chat_department_sites(department_id, site_id) VALUES(?,?) "
				             "ON CONFLICT DO NOTHING",
				             "ss", id, json_string_value(s));
		}
	}
	if (rc == DB_DONE)
		rc = chat_dispatch(r->db, id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the department could not be saved");
	audit_request(r, create ? "chat.department_created" : "chat.department_updated", id, name);
	return http_reply_json(r, create ? 201 : 200, json_pack("{s:o*}", "department", department_json(r->db, id)));
}

int chat_handle_departments_list(struct http_req *r)
{
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT id FROM chat_departments WHERE account_id = ? ORDER BY name, id LIMIT 1000");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the departments could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	char ids[200][CODES_ID_LEN + 1];
	size_t n = 0;
	while (db_step(st) == DB_ROW && n < 200)
		snprintf(ids[n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_done(st);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *j = department_json(r->db, ids[i]);
		if (j)
			json_array_append_new(list, j);
	}
	return http_reply_json(r, 200, json_pack("{s:o}", "departments", list));
}

int chat_handle_department_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	return apply(r, id, body, true);
}

int chat_handle_department_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!own_department(r, id))
		return http_reply_error(r, 404, "not_found", "no such department in this account");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	return apply(r, id, body, false);
}

int chat_handle_department_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!own_department(r, id))
		return http_reply_error(r, 404, "not_found", "no such department in this account");
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT 1 FROM chat_chats WHERE department_id = ? AND state <> 'ended' "
	                              "LIMIT 1",
	                              "s", id);
	db_done(st);
	if (st)
		return http_reply_error(r, 409, "department_busy",
		                        "the department has open chats: end or transfer them first");
	if ((rc = db_exec(r->db, "DELETE FROM chat_departments WHERE id = ?", "s", id)) != DB_DONE)
		return store_reply_error(r, rc, "the department could not be removed");
	audit_request(r, "chat.department_deleted", id, NULL);
	return http_reply_empty(r, 204);
}

/* PUT /api/v1/chat/departments/{id}/operators {"user_ids":[...]} */
int chat_handle_department_operators(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!own_department(r, id))
		return http_reply_error(r, 404, "not_found", "no such department in this account");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *users = json_object_get(body, "user_ids");
	if (!json_is_array(users) || json_array_size(users) > 500)
		return http_reply_error(r, 400, "invalid_field", "user_ids must be an array of user ids");
	size_t i;
	json_t *u;
	json_array_foreach (users, i, u) {
		int rc;
		const char *uid = json_string_value(u);
		struct db_stmt *st = chat_is_id(uid)
		                         ? db_query(r->db, &rc,
		                                    "SELECT 1 FROM users WHERE id = ? AND account_id = ? AND "
		                                    "role IN ('operator', 'admin')",
		                                    "ss", uid, r->auth.account_id)
		                         : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(
			    r, 400, "invalid_field",
			    "user_ids: each must be a user of this account with role operator or admin");
	}
	int rc = db_exec(r->db, "DELETE FROM chat_department_operators WHERE department_id = ?", "s", id);
	json_array_foreach (users, i, u) {
		if (rc == DB_DONE)
			rc = db_exec(
			    r->db,
			    "INSERT INTO chat_department_operators(department_id, user_id) VALUES(?,?) ON CONFLICT DO "
			    "NOTHING",
			    "ss", id, json_string_value(u));
		if (rc == DB_DONE)
			rc = chat_operator_row(r->db, json_string_value(u));
	}
	if (rc == DB_DONE)
		rc = chat_dispatch(r->db, id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the operators could not be saved");
	audit_request(r, "chat.department_operators", id, NULL);
	return http_reply_json(r, 200, json_pack("{s:o*}", "department", department_json(r->db, id)));
}

/* PATCH /api/v1/chat/operators/{user_id} {"capacity":N} */
int chat_handle_operator_update(struct http_req *r)
{
	const char *uid = http_param(r, "user_id");
	int rc;
	struct db_stmt *st = chat_is_id(uid)
	                         ? db_query(r->db, &rc,
	                                    "SELECT 1 FROM users WHERE id = ? AND account_id = ? AND role IN "
	                                    "('operator', 'admin')",
	                                    "ss", uid, r->auth.account_id)
	                         : NULL;
	db_done(st);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no operator or admin of this account has this id");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *cap = json_object_get(body, "capacity");
	if (!json_is_integer(cap) || json_integer_value(cap) < 1 || json_integer_value(cap) > 50)
		return http_reply_error(r, 400, "invalid_field",
		                        "capacity must be an integer from 1 to 50 (default 3)");
	rc = chat_operator_row(r->db, uid);
	if (rc == DB_DONE)
		rc = db_exec(r->db, "UPDATE chat_operators SET capacity = ? WHERE user_id = ?", "is",
		             (int64_t)json_integer_value(cap), uid);
	if (rc == DB_DONE)
		rc = chat_dispatch_operator(r->db, uid);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the capacity could not be saved");
	char detail[32];
	snprintf(detail, sizeof detail, "capacity=%d", (int)json_integer_value(cap));
	audit_request(r, "chat.operator_capacity", uid, detail);
	st = db_query(r->db, &rc, "SELECT capacity, status FROM chat_operators WHERE user_id = ?", "s", uid);
	json_t *j = st ? json_pack("{s:s, s:I, s:s}", "user_id", uid, "capacity", (json_int_t)db_col_int(st, 0),
	                           "status", db_col_text(st, 1))
	               : NULL;
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o*}", "operator", j));
}

/* PUT /api/v1/chat/me/status {"status":"online"|"away"|"offline"} */
int chat_handle_my_status(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *status = json_string_value(json_object_get(body, "status"));
	if (!status || (strcmp(status, "online") != 0 && strcmp(status, "away") != 0 && strcmp(status, "offline") != 0))
		return http_reply_error(r, 400, "invalid_field", "status must be online, away or offline");
	chat_sweeper_start(server_config(r->srv)->data_dir);
	int rc = chat_operator_row(r->db, r->auth.user_id);
	if (rc == DB_DONE)
		rc = db_exec(r->db, "UPDATE chat_operators SET status = ? WHERE user_id = ?", "ss", status,
		             r->auth.user_id);
	if (rc == DB_DONE && strcmp(status, "online") == 0) {
		chat_presence_touch(r->auth.user_id);
		rc = chat_dispatch_operator(r->db, r->auth.user_id);
	} else if (rc == DB_DONE && strcmp(status, "offline") == 0) {
		rc = chat_requeue_operator(r->db, r->auth.user_id, "offline");
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the status could not be saved");
	int qrc;
	struct db_stmt *st = db_query(r->db, &qrc, "SELECT capacity, status FROM chat_operators WHERE user_id = ?", "s",
	                              r->auth.user_id);
	json_t *j = st ? json_pack("{s:s, s:I, s:s}", "user_id", r->auth.user_id, "capacity",
	                           (json_int_t)db_col_int(st, 0), "status", db_col_text(st, 1))
	               : NULL;
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o*}", "operator", j));
}

json_t *chat_site_departments(struct db *db, const char *site_id)
{
	json_t *list = json_array();
	struct db_stmt *st =
	    db_prepare(db, "SELECT d.id, d.name, d.calls FROM chat_departments d JOIN chat_department_sites s "
	                   "ON s.department_id = d.id WHERE s.site_id = ? ORDER BY d.name, d.id LIMIT 100");
	if (!st)
		return list;
	db_bind_text(st, 1, site_id);
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:s}", "id", db_col_text(st, 0), "name",
		                                      db_col_text(st, 1), "online", 0, "calls", db_col_text(st, 2)));
	db_done(st);
	/* online: an operator of the department is online and here */
	size_t i;
	json_t *d;
	int64_t now_ms = (int64_t)wake_now_ms();
	json_array_foreach (list, i, d) {
		st = db_prepare(db,
		                "SELECT o.user_id FROM chat_department_operators dop JOIN chat_operators o ON "
		                "o.user_id = dop.user_id JOIN users u ON u.id = o.user_id WHERE dop.department_id = ? "
		                "AND o.status = 'online' AND u.disabled = 0");
		if (!st)
			continue;
		db_bind_text(st, 1, json_string_value(json_object_get(d, "id")));
		bool online = false;
		while (!online && db_step(st) == DB_ROW)
			online = chat_presence_here(db_col_text(st, 0), now_ms);
		db_done(st);
		json_object_set_new(d, "online", json_boolean(online));
	}
	return list;
}
