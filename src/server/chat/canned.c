/*
 * Predefined texts (admin; operators read them): a shortcut the operator
 * types as "/shortcut" in the console, a title for the picker, the text
 * (which may hold links: the windows show http(s) URLs as links, every
 * other character as text), for one department or for every department of
 * the account. The console puts the text into the compose box; what is
 * sent is an ordinary message, so nothing here reaches a visitor by itself.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define CANNED_MAX_PER_ACCOUNT 1000
#define CANNED_SHORTCUT_MAX    40
#define CANNED_COLUMNS         "id, shortcut, title, text, department_id, updated_at"

static json_t *canned_json(struct db_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I}", "id", db_col_text(st, 0), "shortcut", db_col_text(st, 1),
	                 "title", db_col_text(st, 2), "text", db_col_text(st, 3), "department_id",
	                 db_col_is_null(st, 4) ? NULL : db_col_text(st, 4), "updated_at",
	                 (json_int_t)db_col_int(st, 5));
}

static json_t *canned_load(struct db *db, const char *id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT " CANNED_COLUMNS " FROM chat_canned WHERE id = ?", "s", id);
	json_t *j = st ? canned_json(st) : NULL;
	db_done(st);
	return j;
}

static bool shortcut_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > CANNED_SHORTCUT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* GET /api/v1/chat/canned[?department_id=]: every predefined text of the
 * account, or those for all departments and for that one. */
int chat_handle_canned_list(struct http_req *r)
{
	const char *dep = http_query(r, "department_id");
	if (dep && !chat_is_id(dep))
		return http_reply_error(r, 400, "invalid_parameter", "department_id must be a department id");
	struct db_stmt *st = db_prepare(r->db, "SELECT " CANNED_COLUMNS " FROM chat_canned WHERE account_id = ?1 AND "
	                                       "(?2 = '' OR department_id IS NULL OR department_id = ?2) "
	                                       "ORDER BY shortcut LIMIT 1000");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the predefined texts could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, dep ? dep : "");
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, canned_json(st));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "canned", list));
}

/* Checks and stores the fields of a create (all required) or an update. */
static int canned_apply(struct http_req *r, const char *id, bool create)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jshort = json_object_get(body, "shortcut"), *jtitle = json_object_get(body, "title");
	json_t *jtext = json_object_get(body, "text"), *jdep = json_object_get(body, "department_id");
	char why[160];
	const char *shortcut = json_string_value(jshort);
	if ((create || jshort) && !shortcut_ok(shortcut))
		return http_reply_error(r, 400, "invalid_field",
		                        "shortcut must be 1 to 40 of a-z, 0-9, '-' and '_' (typed as /shortcut)");
	if ((create || jtitle) && !chat_field_ok(jtitle, "title", 1, 200, false, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if ((create || jtext) && !chat_field_ok(jtext, "text", 1, CHAT_TEXT_MAX_CHARS, true, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	const char *dep = json_string_value(jdep);
	int rc;
	if (jdep && !json_is_null(jdep)) {
		struct db_stmt *st = chat_is_id(dep) ? db_query(r->db, &rc,
		                                                "SELECT 1 FROM chat_departments WHERE id = ? AND "
		                                                "account_id = ?",
		                                                "ss", dep, r->auth.account_id)
		                                     : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field",
			                        "department_id: no such department in this account (null: all)");
	}
	if (shortcut) {
		struct db_stmt *st =
		    db_query(r->db, &rc, "SELECT 1 FROM chat_canned WHERE account_id = ? AND shortcut = ? AND id <> ?",
		             "sss", r->auth.account_id, shortcut, id);
		db_done(st);
		if (st)
			return http_reply_error(r, 409, "shortcut_taken",
			                        "another predefined text has the shortcut /%s", shortcut);
	}
	int64_t now = (int64_t)time(NULL);
	if (create) {
		struct db_stmt *st = db_query(r->db, &rc, "SELECT COUNT(*) FROM chat_canned WHERE account_id = ?", "s",
		                              r->auth.account_id);
		int64_t count = st ? db_col_int(st, 0) : 0;
		db_done(st);
		if (count >= CANNED_MAX_PER_ACCOUNT)
			return http_reply_error(r, 409, "too_many", "an account has at most 1000 predefined texts");
		rc =
		    db_exec(r->db,
		            "INSERT INTO chat_canned(id, account_id, department_id, shortcut, title, text, created_at, "
		            "updated_at) VALUES(?,?,?,?,?,?,?,?)",
		            "ssssssii", id, r->auth.account_id, dep, shortcut, json_string_value(jtitle),
		            json_string_value(jtext), now, now);
	} else {
		rc =
		    db_exec(r->db,
		            "UPDATE chat_canned SET shortcut = COALESCE(?, shortcut), title = COALESCE(?, title), text "
		            "= COALESCE(?, text), updated_at = ? WHERE id = ?",
		            "sssis", shortcut, json_string_value(jtitle), json_string_value(jtext), now, id);
		if (rc == DB_DONE && jdep)
			rc = db_exec(r->db, "UPDATE chat_canned SET department_id = ? WHERE id = ?", "ss", dep, id);
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the predefined text could not be saved");
	audit_request(r, create ? "chat.canned_created" : "chat.canned_updated", id, shortcut);
	return http_reply_json(r, create ? 201 : 200, json_pack("{s:o*}", "canned", canned_load(r->db, id)));
}

static bool own_canned(struct http_req *r, const char *id)
{
	int rc;
	struct db_stmt *st = chat_is_id(id)
	                         ? db_query(r->db, &rc, "SELECT 1 FROM chat_canned WHERE id = ? AND account_id = ?",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	db_done(st);
	if (!st)
		http_reply_error(r, 404, "not_found", "no such predefined text in this account");
	return st != NULL;
}

int chat_handle_canned_create(struct http_req *r)
{
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	return canned_apply(r, id, true);
}

int chat_handle_canned_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	return own_canned(r, id) ? canned_apply(r, id, false) : 0;
}

int chat_handle_canned_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!own_canned(r, id))
		return 0;
	int rc = db_exec(r->db, "DELETE FROM chat_canned WHERE id = ?", "s", id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the predefined text could not be removed");
	audit_request(r, "chat.canned_deleted", id, NULL);
	return http_reply_empty(r, 204);
}
