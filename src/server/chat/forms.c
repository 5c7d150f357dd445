/*
 * Forms: an admin defines a form (a name, an introduction, up to 20 fields
 * of type text, email, tel, number, textarea, select or checkbox); the
 * operator of a chat pushes one into it (a "form" event in the chat's
 * sequence carrying the form as it is at that moment); the visitor answers
 * it once (a "form_answer" event to both sides, checked against the pushed
 * fields: required ones present, every value of its type, no field the
 * form does not have). Answers are stored with the push, so the chat keeps
 * them even when the form is edited or deleted later.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define FORM_MAX_FIELDS    20
#define FORM_MAX_OPTIONS   50
#define FORM_VALUE_CHARS   500 /* a one-line answer */
#define FORM_MAX_PER_CHAT  20  /* pushes into one chat */
#define FORM_MAX_PER_ACCT  200
#define FORM_FIELD_NAMELEN 40

static const char *const field_types[] = {"text", "email", "tel", "number", "textarea", "select", "checkbox"};

static bool field_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > FORM_FIELD_NAMELEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Checks a "fields" array; on success *out gets its normalised copy
 * (only known keys), on failure why says what is wrong. */
static bool fields_ok(json_t *fields, json_t **out, char *why, size_t whysz)
{
	if (!json_is_array(fields) || json_array_size(fields) == 0 || json_array_size(fields) > FORM_MAX_FIELDS) {
		snprintf(why, whysz, "fields must be an array of 1 to %d fields", FORM_MAX_FIELDS);
		return false;
	}
	json_t *norm = json_array();
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *type = json_string_value(json_object_get(f, "type"));
		json_t *req = json_object_get(f, "required"), *opts = json_object_get(f, "options");
		char label_why[120];
		bool known = false;
		for (size_t t = 0; type && t < sizeof field_types / sizeof *field_types; t++)
			known = known || strcmp(type, field_types[t]) == 0;
		if (!json_is_object(f) || !field_name_ok(name)) {
			snprintf(why, whysz, "fields[%zu].name must be 1 to 40 of a-z, 0-9 and '_'", i);
			goto bad;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(norm, k), "name")), name) == 0) {
				snprintf(why, whysz, "fields[%zu].name: two fields are named %s", i, name);
				goto bad;
			}
		if (!known) {
			snprintf(why, whysz,
			         "fields[%zu].type must be text, email, tel, number, textarea, select or checkbox", i);
			goto bad;
		}
		if (!chat_field_ok(json_object_get(f, "label"), "label", 1, 200, false, label_why, sizeof label_why)) {
			snprintf(why, whysz, "fields[%zu].%s", i, label_why);
			goto bad;
		}
		if (req && !json_is_boolean(req)) {
			snprintf(why, whysz, "fields[%zu].required must be true or false", i);
			goto bad;
		}
		bool select = strcmp(type, "select") == 0;
		if (select != (opts != NULL) || (select && (!json_is_array(opts) || json_array_size(opts) == 0 ||
		                                            json_array_size(opts) > FORM_MAX_OPTIONS))) {
			snprintf(why, whysz, "fields[%zu].options: a select has 1 to %d options, other types none", i,
			         FORM_MAX_OPTIONS);
			goto bad;
		}
		size_t k;
		json_t *o;
		json_array_foreach (opts, k, o)
			if (!chat_field_ok(o, "option", 1, 200, false, label_why, sizeof label_why)) {
				snprintf(why, whysz, "fields[%zu].options[%zu]: %s", i, k, label_why);
				goto bad;
			}
		json_t *nf = json_pack("{s:s, s:O, s:s, s:b}", "name", name, "label", json_object_get(f, "label"),
		                       "type", type, "required", json_is_true(req));
		if (select)
			json_object_set(nf, "options", opts);
		json_array_append_new(norm, nf);
	}
	*out = norm;
	return true;
bad:
	json_decref(norm);
	return false;
}

static json_t *form_json(struct db_stmt *st)
{
	json_t *fields = json_loads(db_col_text(st, 3), 0, NULL);
	return json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", db_col_text(st, 0), "name", db_col_text(st, 1), "intro",
	                 db_col_text(st, 2), "fields", fields ? fields : json_array(), "updated_at",
	                 (json_int_t)db_col_int(st, 4));
}

static json_t *form_load(struct db *db, const char *id, const char *account_id)
{
	int rc;
	struct db_stmt *st =
	    chat_is_id(id) ? db_query(db, &rc,
	                              "SELECT id, name, intro, fields, updated_at FROM chat_forms WHERE id = ? AND "
	                              "account_id = ?",
	                              "ss", id, account_id)
	                   : NULL;
	json_t *j = st ? form_json(st) : NULL;
	db_done(st);
	return j;
}

int chat_handle_forms_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT id, name, intro, fields, updated_at FROM chat_forms WHERE "
	                                       "account_id = ? ORDER BY name, id LIMIT 1000");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the forms could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, form_json(st));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "forms", list));
}

static int form_apply(struct http_req *r, const char *id, bool create)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jname = json_object_get(body, "name"), *jintro = json_object_get(body, "intro");
	json_t *jfields = json_object_get(body, "fields"), *fields = NULL;
	char why[200];
	if ((create || jname) && !chat_field_ok(jname, "name", 1, 200, false, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if (jintro && !chat_field_ok(jintro, "intro", 0, CHAT_NOTE_MAX_CHARS, true, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if ((create || jfields) && !fields_ok(jfields, &fields, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	char *fields_text = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
	json_decref(fields);
	int rc;
	int64_t now = (int64_t)time(NULL);
	if (create) {
		struct db_stmt *st = db_query(r->db, &rc, "SELECT COUNT(*) FROM chat_forms WHERE account_id = ?", "s",
		                              r->auth.account_id);
		int64_t count = st ? db_col_int(st, 0) : 0;
		db_done(st);
		if (count >= FORM_MAX_PER_ACCT) {
			free(fields_text);
			return http_reply_error(r, 409, "too_many", "an account has at most 200 forms");
		}
		rc = db_exec(r->db,
		             "INSERT INTO chat_forms(id, account_id, name, intro, fields, created_at, updated_at) "
		             "VALUES(?,?,?,?,?,?,?)",
		             "sssssii", id, r->auth.account_id, json_string_value(jname),
		             jintro ? json_string_value(jintro) : "", fields_text, now, now);
	} else
		rc = db_exec(r->db,
		             "UPDATE chat_forms SET name = COALESCE(?, name), intro = COALESCE(?, intro), fields = "
		             "COALESCE(?, fields), updated_at = ? WHERE id = ?",
		             "sssis", json_string_value(jname), json_string_value(jintro), fields_text, now, id);
	free(fields_text);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the form could not be saved");
	audit_request(r, create ? "chat.form_created" : "chat.form_updated", id, json_string_value(jname));
	return http_reply_json(r, create ? 201 : 200,
	                       json_pack("{s:o*}", "form", form_load(r->db, id, r->auth.account_id)));
}

int chat_handle_form_create(struct http_req *r)
{
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	return form_apply(r, id, true);
}

int chat_handle_form_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *f = form_load(r->db, id, r->auth.account_id);
	if (!f)
		return http_reply_error(r, 404, "not_found", "no such form in this account");
	json_decref(f);
	return form_apply(r, id, false);
}

int chat_handle_form_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	int rc = chat_is_id(id) ? db_exec(r->db, "DELETE FROM chat_forms WHERE id = ? AND account_id = ?", "ss", id,
	                                  r->auth.account_id)
	                        : DB_DONE;
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the form could not be removed");
	if (!chat_is_id(id) || db_changes(r->db) != 1)
		return http_reply_error(r, 404, "not_found", "no such form in this account");
	audit_request(r, "chat.form_deleted", id, NULL);
	return http_reply_empty(r, 204);
}

int chat_push_form(struct http_req *r, const char *chat_id)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *form = form_load(r->db, json_string_value(json_object_get(body, "form_id")), r->auth.account_id);
	if (!form)
		return http_reply_error(r, 400, "invalid_field", "form_id: no such form in this account");
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT COUNT(*) FROM chat_form_pushes WHERE chat_id = ?", "s", chat_id);
	int64_t pushed = st ? db_col_int(st, 0) : 0;
	db_done(st);
	if (pushed >= FORM_MAX_PER_CHAT) {
		json_decref(form);
		return http_reply_error(r, 409, "too_many", "a chat takes at most 20 forms");
	}
	char push_id[CODES_ID_LEN + 1];
	codes_new_id(push_id);
	int64_t now = (int64_t)time(NULL), seq = 0;
	json_t *snapshot = json_pack("{s:O, s:O, s:O}", "name", json_object_get(form, "name"), "intro",
	                             json_object_get(form, "intro"), "fields", json_object_get(form, "fields"));
	char *text = json_dumps(snapshot, JSON_COMPACT);
	rc = text ? db_exec(r->db,
	                    "INSERT INTO chat_form_pushes(id, chat_id, form_id, form, pushed_by, pushed_at) "
	                    "VALUES(?,?,?,?,?,?)",
	                    "sssssi", push_id, chat_id, json_string_value(json_object_get(form, "id")), text,
	                    r->auth.user_id, now)
	          : DB_ERROR;
	free(text);
	json_decref(form);
	json_object_set_new(snapshot, "push_id", json_string(push_id));
	json_object_set_new(snapshot, "at", json_integer(now));
	if (rc == DB_DONE)
		rc =
		    chat_event_append(r->db, chat_id, "form", json_incref(snapshot), r->auth.user_id, NULL, &seq, NULL);
	if (rc != DB_DONE) {
		json_decref(snapshot);
		return store_reply_error(r, rc, "the form could not be sent");
	}
	json_object_set_new(snapshot, "seq", json_integer(seq));
	json_object_set_new(snapshot, "type", json_string("form"));
	return http_reply_json(r, 201, json_pack("{s:o}", "form", snapshot));
}

static bool email_like(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.') || strlen(s) > 254)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';')
			return false;
	return true;
}

static bool number_like(const char *s)
{
	char *end;
	double d = strtod(s, &end);
	return *s && *end == 0 && isfinite(d) && strlen(s) <= 40;
}

static bool tel_like(const char *s)
{
	size_t n = strlen(s), digits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (!strchr(" +-().", s[i]))
			return false;
	}
	return digits >= 3 && n <= 40;
}

/* Checks answers against the pushed fields; *out gets [{name, label,
 * value}] in the form's order. */
static bool answers_ok(json_t *fields, json_t *answers, json_t **out, char *why, size_t whysz)
{
	if (!json_is_object(answers)) {
		snprintf(why, whysz, "answers must be an object of field name to value");
		return false;
	}
	const char *key;
	json_t *v;
	json_object_foreach (answers, key, v) {
		bool known = false;
		size_t i;
		json_t *f;
		json_array_foreach (fields, i, f)
			known = known || strcmp(json_string_value(json_object_get(f, "name")), key) == 0;
		if (!known) {
			snprintf(why, whysz, "answers: the form has no field \"%.40s\"", key);
			return false;
		}
	}
	json_t *list = json_array();
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *type = json_string_value(json_object_get(f, "type"));
		const char *label = json_string_value(json_object_get(f, "label"));
		bool required = json_is_true(json_object_get(f, "required"));
		json_t *a = json_object_get(answers, name);
		char fwhy[160];
		if (strcmp(type, "checkbox") == 0) {
			if ((a && !json_is_boolean(a)) || (required && !json_is_true(a))) {
				snprintf(why, whysz, "%s must be %s", label, required ? "checked" : "true or false");
				goto bad;
			}
			json_array_append_new(
			    list, json_pack("{s:s, s:s, s:b}", "name", name, "label", label, "value", json_is_true(a)));
			continue;
		}
		bool area = strcmp(type, "textarea") == 0;
		if (a && !json_is_null(a) &&
		    !chat_field_ok(a, label, 0, area ? CHAT_TEXT_MAX_CHARS : FORM_VALUE_CHARS, area, fwhy,
		                   sizeof fwhy)) {
			snprintf(why, whysz, "%s", fwhy);
			goto bad;
		}
		const char *s = a ? json_string_value(a) : NULL;
		if (!s || !*s) {
			if (required) {
				snprintf(why, whysz, "%s is required", label);
				goto bad;
			}
			continue;
		}
		bool ok = true;
		if (strcmp(type, "email") == 0)
			ok = email_like(s);
		else if (strcmp(type, "number") == 0)
			ok = number_like(s);
		else if (strcmp(type, "tel") == 0)
			ok = tel_like(s);
		else if (strcmp(type, "select") == 0) {
			ok = false;
			size_t k;
			json_t *o;
			json_array_foreach (json_object_get(f, "options"), k, o)
				ok = ok || strcmp(json_string_value(o), s) == 0;
		}
		if (!ok) {
			snprintf(why, whysz, "%s is not a valid %s", label,
			         strcmp(type, "select") == 0 ? "choice"
			         : strcmp(type, "tel") == 0  ? "phone number"
			                                     : type);
			goto bad;
		}
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", name, "label", label, "value", s));
	}
	*out = list;
	return true;
bad:
	json_decref(list);
	return false;
}

int chat_answer_form(struct http_req *r, const char *chat_id, const char *push_id, const char *operator_id)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	int rc;
	struct db_stmt *st = chat_is_id(push_id) ? db_query(r->db, &rc,
	                                                    "SELECT form, answered_at FROM chat_form_pushes WHERE id = "
	                                                    "? AND chat_id = ?",
	                                                    "ss", push_id, chat_id)
	                                         : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such form in this chat");
	json_t *form = json_loads(db_col_text(st, 0), 0, NULL);
	int64_t answered = db_col_int(st, 1);
	db_done(st);
	if (answered) {
		json_decref(form);
		return http_reply_error(r, 409, "already_answered", "this form has been answered already");
	}
	json_t *list = NULL;
	char why[200];
	if (!form ||
	    !answers_ok(json_object_get(form, "fields"), json_object_get(body, "answers"), &list, why, sizeof why)) {
		json_decref(form);
		return form ? http_reply_error(r, 400, "invalid_answers", "%s", why)
		            : store_reply_error(r, DB_ERROR, "the form could not be read");
	}
	int64_t now = (int64_t)time(NULL), seq = 0;
	char *text = json_dumps(list, JSON_COMPACT);
	rc = text ? db_exec(r->db,
	                    "UPDATE chat_form_pushes SET answers = ?, answered_at = ? WHERE id = ? AND answered_at = 0",
	                    "sis", text, now, push_id)
	          : DB_ERROR;
	free(text);
	json_t *event = json_pack("{s:s, s:O, s:o, s:I}", "push_id", push_id, "name", json_object_get(form, "name"),
	                          "answers", list, "at", (json_int_t)now);
	json_decref(form);
	if (rc == DB_DONE)
		rc = chat_event_append(r->db, chat_id, "form_answer", json_incref(event), "visitor", NULL, &seq, NULL);
	if (rc == DB_DONE && operator_id && *operator_id) {
		json_t *op = json_deep_copy(event);
		json_object_set_new(op, "chat_id", json_string(chat_id));
		json_object_set_new(op, "seq", json_integer(seq));
		rc = chat_op_event(r->db, operator_id, "form_answer", op);
	}
	if (rc != DB_DONE) {
		json_decref(event);
		return store_reply_error(r, rc, "the answers could not be saved");
	}
	json_object_set_new(event, "seq", json_integer(seq));
	json_object_set_new(event, "type", json_string("form_answer"));
	return http_reply_json(r, 201, json_pack("{s:o}", "form_answer", event));
}
