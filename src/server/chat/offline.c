/*
 * Messages visitors leave while no operator of the department is online
 * (the widget's offline form): POST /api/v1/widget/{site}/offline-messages
 * {"department_id","name","email","text"} stores the message, pushes an
 * offline_message event to the department's operators, and, when the
 * department has an offline_email and the server sends mail, queues a mail
 * to it with Reply-To the visitor's address (mail/). Operators list them
 * (GET /api/v1/chat/offline-messages: admins every one of the account,
 * operators those of their departments) and mark them handled (PATCH
 * .../{id} {"handled":bool}).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../http/server.h"
#include "../mail/mail.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define OFFLINE_COLUMNS                                                                                                \
	"m.id, m.site_id, COALESCE(m.department_id, ''), COALESCE(d.name, ''), m.name, m.email, m.text, m.page_url, "  \
	"m.created_at, m.handled_at, m.handled_by, COALESCE(o.sent_at, 0), COALESCE(o.failed_at, 0), m.mail_id"

static json_t *offline_json(struct db_stmt *st)
{
	const char *mail = !*db_col_text(st, 13) ? "none"
	                   : db_col_int(st, 11)  ? "sent"
	                   : db_col_int(st, 12)  ? "failed"
	                                         : "queued";
	return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "id", db_col_text(st, 0),
	                 "site_id", db_col_text(st, 1), "department_id",
	                 *db_col_text(st, 2) ? db_col_text(st, 2) : NULL, "department", db_col_text(st, 3), "name",
	                 db_col_text(st, 4), "email", db_col_text(st, 5), "text", db_col_text(st, 6), "page_url",
	                 db_col_text(st, 7), "created_at", (json_int_t)db_col_int(st, 8), "handled_at",
	                 (json_int_t)db_col_int(st, 9), "handled_by", db_col_text(st, 10), "mail", mail);
}

static json_t *offline_load(struct db *db, const char *id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT " OFFLINE_COLUMNS " FROM chat_offline_messages m LEFT JOIN chat_departments "
	             "d ON d.id = m.department_id LEFT JOIN mail_outbox o ON o.id = m.mail_id WHERE "
	             "m.id = ?",
	             "s", id);
	json_t *j = st ? offline_json(st) : NULL;
	db_done(st);
	return j;
}

/* the mail to the department: who wrote, from which page, what */
static int mail_department(struct http_req *r, const struct chat_widget *w, const char *to, const char *dep_name,
                           const char *name, const char *email, const char *text, const char *page,
                           char mail_id[MAIL_ID_LEN + 1])
{
	struct buf body;
	buf_init(&body, 64 << 10);
	buf_printf(&body,
	           "%s left a message for %s on %s while no operator was online.\n\nName: %s\nE-mail: %s\nPage: "
	           "%s\n\n%s\n\n-- \nAnswer by replying to this mail; the message is also in the console's Live chat "
	           "page.\n",
	           *name ? name : "A visitor", dep_name, w->site.name, *name ? name : "(not given)", email,
	           *page ? page : "(unknown)", text);
	char subject[400];
	snprintf(subject, sizeof subject, "Chat message from %s (%s)", *name ? name : email, w->site.name);
	for (char *p = subject; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	int rc = mail_queue(r->db, w->site.account_id, "chat_offline", "", to, email, subject, buf_str(&body), mail_id);
	buf_free(&body);
	return rc;
}

int chat_leave_offline_message(struct http_req *r, const struct chat_widget *w)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *dep = json_string_value(json_object_get(body, "department_id"));
	json_t *jname = json_object_get(body, "name");
	const char *email = json_string_value(json_object_get(body, "email"));
	char why[200];
	if (jname && !json_is_null(jname) &&
	    !chat_field_ok(jname, "name", 0, CHAT_NAME_MAX_CHARS, false, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if (!mail_address_ok(email))
		return http_reply_error(r, 400, "invalid_field", "email must be one e-mail address (name@example.org)");
	const char *problem = chat_text_problem(json_object_get(body, "text"));
	if (problem)
		return http_reply_error(r, 400, "invalid_text", "%s", problem);
	int rc;
	struct db_stmt *st = chat_is_id(dep)
	                         ? db_query(r->db, &rc,
	                                    "SELECT d.name, d.offline_email FROM chat_departments d JOIN "
	                                    "chat_department_sites s ON s.department_id = d.id WHERE d.id = ? "
	                                    "AND s.site_id = ?",
	                                    "ss", dep, w->site.id)
	                         : NULL;
	if (!st)
		return http_reply_error(r, 400, "invalid_field", "department_id: no such department on this site");
	char dep_name[256], dep_mail[MAIL_ADDRESS_MAX + 1];
	snprintf(dep_name, sizeof dep_name, "%s", db_col_text(st, 0));
	snprintf(dep_mail, sizeof dep_mail, "%s", db_col_text(st, 1));
	db_done(st);
	if (chat_banned(r->db, w->site.account_id, w->visitor_id, r->ip, (int64_t)time(NULL)))
		return http_reply_error(r, 403, "banned", "chat unavailable");
	if (chat_limit_mail(r))
		return 0;
	const char *name = jname ? json_string_value(jname) : NULL,
	           *text = json_string_value(json_object_get(body, "text"));
	name = name ? name : "";
	st = db_query(r->db, &rc, "SELECT page_url FROM chat_visitors WHERE id = ?", "s", w->visitor_id);
	char page[CHAT_FIELD_MAX_CHARS * 4 + 1] = "";
	if (st)
		snprintf(page, sizeof page, "%s", db_col_text(st, 0));
	db_done(st);
	char id[CODES_ID_LEN + 1], mail_id[MAIL_ID_LEN + 1] = "";
	codes_new_id(id);
	rc = DB_DONE;
	if (*dep_mail && mail_enabled())
		rc = mail_department(r, w, dep_mail, dep_name, name, email, text, page, mail_id);
	if (rc == DB_DONE)
		rc = db_exec(
		    r->db,
		    "INSERT INTO chat_offline_messages(id, account_id, site_id, department_id, visitor_id, name, "
		    "email, text, page_url, ip, created_at, mail_id) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
		    "ssssssssssis", id, w->site.account_id, w->site.id, dep, w->visitor_id, name, email, text, page,
		    r->ip, (int64_t)time(NULL), mail_id);
	json_t *msg = rc == DB_DONE ? offline_load(r->db, id) : NULL;
	st = msg ? db_prepare(r->db, "SELECT user_id FROM chat_department_operators WHERE department_id = ?") : NULL;
	if (st) {
		db_bind_text(st, 1, dep);
		while (rc == DB_DONE && db_step(st) == DB_ROW)
			rc = chat_op_event(r->db, db_col_text(st, 0), "offline_message",
			                   json_pack("{s:O}", "message", msg));
		db_done(st);
	}
	if (rc != DB_DONE || !msg) {
		json_decref(msg);
		return store_reply_error(r, rc == DB_DONE ? DB_ERROR : rc, "the message could not be saved");
	}
	json_decref(msg);
	return http_reply_json(r, 201,
	                       json_pack("{s:{s:s, s:b}}", "offline_message", "id", id, "mailed", *mail_id != 0));
}

static const char *const VISIBLE =
    "m.account_id = ?1 AND (?2 = 1 OR m.department_id IN (SELECT department_id FROM chat_department_operators "
    "WHERE user_id = ?3))";

int chat_handle_offline_list(struct http_req *r)
{
	const char *handled = http_query(r, "handled");
	int64_t want = handled && strcmp(handled, "1") == 0 ? 1 : handled && strcmp(handled, "0") == 0 ? 0 : -1;
	char sql[1024];
	snprintf(sql, sizeof sql,
	         "SELECT " OFFLINE_COLUMNS " FROM chat_offline_messages m LEFT JOIN chat_departments d ON d.id = "
	         "m.department_id LEFT JOIN mail_outbox o ON o.id = m.mail_id WHERE %s AND (?4 < 0 OR (CASE WHEN "
	         "m.handled_at > 0 THEN 1 ELSE 0 END) = ?4) ORDER BY m.created_at DESC, m.id LIMIT 500",
	         VISIBLE);
	struct db_stmt *st = db_prepare(r->db, sql);
	if (!st)
		return store_reply_error(r, DB_ERROR, "the messages could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, (r->auth.role_bit & ROLE_ADMIN) != 0);
	db_bind_text(st, 3, r->auth.user_id);
	db_bind_int(st, 4, want);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, offline_json(st));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "offline_messages", list));
}

int chat_handle_offline_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jh = json_object_get(body, "handled");
	if (!json_is_boolean(jh))
		return http_reply_error(r, 400, "invalid_field", "handled must be true or false");
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT 1 FROM chat_offline_messages m WHERE m.id = ?5 AND %s", VISIBLE);
	struct db_stmt *st = chat_is_id(id) ? db_prepare(r->db, sql) : NULL;
	bool found = false;
	if (st) {
		db_bind_text(st, 1, r->auth.account_id);
		db_bind_int(st, 2, (r->auth.role_bit & ROLE_ADMIN) != 0);
		db_bind_text(st, 3, r->auth.user_id);
		db_bind_text(st, 5, id);
		found = db_step(st) == DB_ROW;
		db_done(st);
	}
	if (!found)
		return http_reply_error(r, 404, "not_found", "no such message in your departments");
	int rc = db_exec(r->db, "UPDATE chat_offline_messages SET handled_at = ?, handled_by = ? WHERE id = ?", "iss",
	                 json_is_true(jh) ? (int64_t)time(NULL) : 0, json_is_true(jh) ? r->auth.user_id : "", id);
	json_t *j = rc == DB_DONE ? offline_load(r->db, id) : NULL;
	if (!j)
		return store_reply_error(r, rc == DB_DONE ? DB_ERROR : rc, "the message could not be saved");
	return http_reply_json(r, 200, json_pack("{s:o}", "offline_message", j));
}
