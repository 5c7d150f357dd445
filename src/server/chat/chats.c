/*
 * What happens in a chat, for both sides, and the operator's routes:
 * messages (stored with the chat's next seq before any stream sees them,
 * idempotent by client_id), typing marks, read marks, the end, manual
 * pickup (409 already_assigned when another operator or the dispatcher was
 * first), transfer to an operator or a department with a note (the
 * receiver's stream gets it in the same commit; a call in progress ends),
 * the lists and one chat with its messages, its call setting and its
 * visitor; the operator's call signalling (calls.c). Texts are stored as the text they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/utf8.h"
#include "../http/router.h"
#include "../http/server.h"
#include "../http/wake.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "chat.h"

struct chat_row {
	char id[CODES_ID_LEN + 1];
	char account_id[CODES_ID_LEN + 1];
	char department_id[CODES_ID_LEN + 1];
	char operator_id[CODES_ID_LEN + 1];
	char visitor_id[CODES_ID_LEN + 1];
	char visitor_name[4 * CHAT_NAME_MAX_CHARS + 1];
	char state[8];
};

static bool load_row(struct db *db, const char *chat_id, struct chat_row *c)
{
	int rc;
	struct db_stmt *st = chat_is_id(chat_id)
	                         ? db_query(db, &rc,
	                                    "SELECT id, account_id, department_id, COALESCE(operator_id, "
	                                    "''), visitor_id, visitor_name, state FROM chat_chats WHERE id = ?",
	                                    "s", chat_id)
	                         : NULL;
	if (!st)
		return false;
	snprintf(c->id, sizeof c->id, "%s", db_col_text(st, 0));
	snprintf(c->account_id, sizeof c->account_id, "%s", db_col_text(st, 1));
	snprintf(c->department_id, sizeof c->department_id, "%s", db_col_text(st, 2));
	snprintf(c->operator_id, sizeof c->operator_id, "%s", db_col_text(st, 3));
	snprintf(c->visitor_id, sizeof c->visitor_id, "%s", db_col_text(st, 4));
	snprintf(c->visitor_name, sizeof c->visitor_name, "%s", db_col_text(st, 5));
	snprintf(c->state, sizeof c->state, "%s", db_col_text(st, 6));
	db_done(st);
	return true;
}

static const char *client_id_of(json_t *body, bool *bad)
{
	json_t *j = json_object_get(body, "client_id");
	*bad = false;
	if (!j || json_is_null(j))
		return NULL;
	const char *s = json_string_value(j);
	size_t n = s ? strlen(s) : 0;
	if (!s || n == 0 || n > 64) {
		*bad = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			*bad = true;
	return *bad ? NULL : s;
}

int chat_post_message(struct http_req *r, const char *chat_id, enum chat_side side, const char *user_id)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *text = json_object_get(body, "text");
	const char *problem = chat_text_problem(text);
	if (problem)
		return http_reply_error(r, 400, "invalid_text", "%s", problem);
	bool bad;
	const char *client_id = client_id_of(body, &bad);
	if (bad)
		return http_reply_error(r, 400, "invalid_field",
		                        "client_id must be 1 to 64 printable ASCII characters");
	struct chat_row c;
	if (!load_row(r->db, chat_id, &c))
		return http_reply_error(r, 404, "not_found", "no such chat");
	if (strcmp(c.state, "ended") == 0)
		return http_reply_error(r, 409, "chat_ended", "the chat has ended");
	char name[4 * CHAT_NAME_MAX_CHARS + 1];
	if (side == CHAT_VISITOR)
		snprintf(name, sizeof name, "%s", c.visitor_name[0] ? c.visitor_name : "Visitor");
	else
		chat_user_name(r->db, user_id, name, sizeof name);
	int64_t now = (int64_t)time(NULL), seq = 0;
	bool dup = false;
	const char *from = side == CHAT_VISITOR ? "visitor" : "operator";
	int rc = chat_event_append(
	    r->db, chat_id, "message",
	    json_pack("{s:s, s:s, s:O, s:I}", "from", from, "name", name, "text", text, "at", (json_int_t)now),
	    side == CHAT_VISITOR ? "visitor" : user_id, client_id, &seq, &dup);
	if (rc == DB_DONE && !dup) {
		rc = side == CHAT_VISITOR
		         ? db_exec(r->db, "UPDATE chat_chats SET waiting_since = ? WHERE id = ? AND waiting_since = 0",
		                   "is", now, chat_id)
		         : db_exec(r->db, "UPDATE chat_chats SET waiting_since = 0 WHERE id = ?", "s", chat_id);
		if (rc == DB_DONE && c.operator_id[0])
			rc = chat_op_event(r->db, c.operator_id, "message",
			                   json_pack("{s:s, s:I, s:s, s:s, s:O, s:I}", "chat_id", chat_id, "seq",
			                             (json_int_t)seq, "from", from, "name", name, "text", text, "at",
			                             (json_int_t)now));
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the message could not be saved");
	return http_reply_json(r, 201, json_pack("{s:I}", "seq", (json_int_t)seq));
}

int chat_post_typing(struct http_req *r, const char *chat_id, enum chat_side side)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *on = json_object_get(body, "on");
	if (!json_is_boolean(on))
		return http_reply_error(r, 400, "invalid_field", "on must be true or false");
	struct chat_row c;
	if (!load_row(r->db, chat_id, &c))
		return http_reply_error(r, 404, "not_found", "no such chat");
	int rc = DB_DONE;
	if (strcmp(c.state, "ended") == 0)
		return http_reply_empty(r, 204);
	if (side == CHAT_VISITOR && c.operator_id[0]) {
		char target[80];
		snprintf(target, sizeof target, "op:%s", c.operator_id);
		rc = chat_typing_mark(
		    r->db, target,
		    json_pack("{s:s, s:s, s:b}", "chat_id", chat_id, "from", "visitor", "on", json_is_true(on)));
	} else if (side == CHAT_OPERATOR) {
		char target[80];
		snprintf(target, sizeof target, "chat:%s", chat_id);
		rc = chat_typing_mark(r->db, target,
		                      json_pack("{s:s, s:b}", "from", "operator", "on", json_is_true(on)));
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, NULL);
	return http_reply_empty(r, 204);
}

int chat_post_read(struct http_req *r, const char *chat_id, enum chat_side side)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jseq = json_object_get(body, "seq");
	if (!json_is_integer(jseq) || json_integer_value(jseq) < 1)
		return http_reply_error(r, 400, "invalid_field", "seq must be the seq of a message (1 or more)");
	struct chat_row c;
	if (!load_row(r->db, chat_id, &c))
		return http_reply_error(r, 404, "not_found", "no such chat");
	const char *from = side == CHAT_VISITOR ? "visitor" : "operator";
	json_int_t seq = json_integer_value(jseq);
	int rc = chat_event_append(r->db, chat_id, "read", json_pack("{s:s, s:I}", "from", from, "seq", seq), NULL,
	                           NULL, NULL, NULL);
	if (rc == DB_DONE && side == CHAT_VISITOR && c.operator_id[0])
		rc = chat_op_event(r->db, c.operator_id, "read",
		                   json_pack("{s:s, s:s, s:I}", "chat_id", chat_id, "from", from, "seq", seq));
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the read mark could not be saved");
	return http_reply_empty(r, 204);
}

bool chat_end(struct db *db, const char *chat_id, const char *by)
{
	struct chat_row c;
	if (!load_row(db, chat_id, &c) || strcmp(c.state, "ended") == 0)
		return false;
	int64_t now = (int64_t)time(NULL);
	if (db_exec(
	        db,
	        "UPDATE chat_chats SET state = 'ended', ended_at = ?, ended_by = ?, position = 0, waiting_since = 0 "
	        "WHERE id = ? AND state <> 'ended'",
	        "iss", now, by, chat_id) != DB_DONE ||
	    db_changes(db) != 1)
		return false;
	chat_calls_end(db, chat_id, c.operator_id, "chat_ended");
	chat_event_append(db, chat_id, "ended", json_pack("{s:s}", "by", by), NULL, NULL, NULL, NULL);
	if (c.operator_id[0])
		chat_op_event(db, c.operator_id, "ended", json_pack("{s:s, s:s}", "chat_id", chat_id, "by", by));
	if (strcmp(c.state, "queued") == 0)
		chat_tell_department(db, c.department_id, chat_id);
	chat_dispatch(db, c.department_id);
	if (c.operator_id[0])
		chat_dispatch_operator(db, c.operator_id); /* a place freed */
	return true;
}

/* --- the operator's routes --- */

/* The chat of the path, in the caller's account; replies 404 otherwise. */
static bool op_chat(struct http_req *r, struct chat_row *c)
{
	if (!load_row(r->db, http_param(r, "id"), c) || strcmp(c->account_id, r->auth.account_id) != 0) {
		http_reply_error(r, 404, "not_found", "no such chat in this account");
		return false;
	}
	return true;
}

/* The caller is the chat's operator; replies 403 otherwise. */
static bool mine(struct http_req *r, const struct chat_row *c)
{
	if (strcmp(c->operator_id, r->auth.user_id) == 0)
		return true;
	http_reply_error(r, 403, "not_your_chat", "this chat is not assigned to you (pick it up first)");
	return false;
}

static bool in_department(struct http_req *r, const char *department_id)
{
	if (r->auth.role_bit & ROLE_ADMIN)
		return true;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT 1 FROM chat_department_operators WHERE department_id = ? AND user_id = ?",
	             "ss", department_id, r->auth.user_id);
	db_done(st);
	return st != NULL;
}

int chat_handle_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {{"created_at", "created_at"}, {"state", "state"}};
	static const struct listquery_spec spec = {sorts, 2, "created_at DESC", "id", 100, 500};
	struct listquery lq;
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
	const char *state = http_query(r, "state");
	if (state && strcmp(state, "queued") != 0 && strcmp(state, "active") != 0 && strcmp(state, "ended") != 0)
		return http_reply_error(r, 400, "invalid_parameter", "state must be queued, active or ended");
	bool admin = (r->auth.role_bit & ROLE_ADMIN) != 0;
#define CHATS_MATCHING                                                                                                 \
	" FROM chat_chats WHERE account_id = ?1 AND (?2 = '' OR state = ?2) AND (?3 = 1 OR operator_id = ?4 OR "       \
	"department_id IN (SELECT department_id FROM chat_department_operators WHERE user_id = ?4))"
	char sql[1024];
	int n = snprintf(sql, sizeof sql, "SELECT id" CHATS_MATCHING " ORDER BY %s LIMIT ?5 OFFSET ?6", lq.order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list chats");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, state ? state : "");
	db_bind_int(st, 3, admin);
	db_bind_text(st, 4, r->auth.user_id);
	db_bind_int(st, 5, lq.limit);
	db_bind_int(st, 6, lq.offset);
	char(*ids)[CODES_ID_LEN + 1] = malloc(500 * sizeof *ids);
	size_t count = 0;
	while (ids && db_step(st) == DB_ROW && count < 500)
		snprintf(ids[count++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_done(st);
	json_t *list = json_array();
	for (size_t i = 0; i < count; i++) {
		json_t *j = chat_chat_json(r->db, ids[i]);
		if (j)
			json_array_append_new(list, j);
	}
	free(ids);
	int rc;
	st = db_query(r->db, &rc, "SELECT COUNT(*)" CHATS_MATCHING, "ssis", r->auth.account_id, state ? state : "",
	              (int64_t)admin, r->auth.user_id);
#undef CHATS_MATCHING
	int64_t total = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o, s:I}", "chats", list, "total", (json_int_t)total));
}

int chat_handle_get(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c))
		return 0;
	if (!in_department(r, c.department_id) && strcmp(c.operator_id, r->auth.user_id) != 0)
		return http_reply_error(r, 404, "not_found", "no such chat in your departments");
	json_t *j = chat_chat_json(r->db, c.id);
	if (!j)
		return store_reply_error(r, DB_ERROR, "the chat could not be read");
	json_t *msgs = json_array();
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT type, data FROM chat_events WHERE chat_id = ? AND type IN ('message', 'form', "
	                      "'form_answer', 'redirect') ORDER BY seq LIMIT 5000");
	if (st) {
		db_bind_text(st, 1, c.id);
		while (db_step(st) == DB_ROW) {
			json_t *m = json_loads(db_col_text(st, 1), 0, NULL);
			if (m && strcmp(db_col_text(st, 0), "message") != 0)
				json_object_set_new(m, "type", json_string(db_col_text(st, 0)));
			if (m)
				json_array_append_new(msgs, m);
		}
		db_done(st);
	}
	json_object_set_new(j, "messages", msgs);
	json_object_update_new(j, chat_call_state(r->db, c.id));
	json_t *v = chat_visitor_json(r->db, c.visitor_id, c.id);
	json_object_set_new(j, "visitor", v ? v : json_null());
	return http_reply_json(r, 200, json_pack("{s:o}", "chat", j));
}

static int active_count(struct db *db, const char *user_id, int64_t *capacity)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT (SELECT COUNT(*) FROM chat_chats WHERE operator_id = ?1 AND state = 'active'), "
	             "COALESCE((SELECT capacity FROM chat_operators WHERE user_id = ?1), 3), "
	             "COALESCE((SELECT status FROM chat_operators WHERE user_id = ?1), 'offline')",
	             "s", user_id);
	int n = st ? (int)db_col_int(st, 0) : 0;
	*capacity = st ? db_col_int(st, 1) : CHAT_CAPACITY_DEFAULT;
	db_done(st);
	return n;
}

int chat_handle_pickup(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c))
		return 0;
	if (!in_department(r, c.department_id))
		return http_reply_error(r, 403, "not_your_department",
		                        "you are not an operator of this chat's department");
	if (strcmp(c.state, "queued") != 0)
		return http_reply_error(r, 409, strcmp(c.state, "ended") == 0 ? "chat_ended" : "already_assigned",
		                        strcmp(c.state, "ended") == 0 ? "the chat has ended"
		                                                      : "another operator has this chat already");
	int64_t cap;
	if (active_count(r->db, r->auth.user_id, &cap) >= cap)
		return http_reply_error(r, 409, "at_capacity", "you have as many chats as your capacity allows");
	if (!chat_assign(r->db, c.id, r->auth.user_id, "pickup"))
		return http_reply_error(r, 409, "already_assigned", "another operator has this chat already");
	chat_presence_touch(r->auth.user_id);
	int rc = chat_dispatch(r->db, c.department_id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the chat could not be assigned");
	return http_reply_json(r, 200, json_pack("{s:o*}", "chat", chat_chat_json(r->db, c.id)));
}

int chat_handle_op_message(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	return chat_post_message(r, c.id, CHAT_OPERATOR, r->auth.user_id);
}

int chat_handle_op_typing(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	return chat_post_typing(r, c.id, CHAT_OPERATOR);
}

int chat_handle_op_read(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	return chat_post_read(r, c.id, CHAT_OPERATOR);
}

int chat_handle_op_end(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c))
		return 0;
	if (!(r->auth.role_bit & ROLE_ADMIN) && !mine(r, &c))
		return 0;
	if (!chat_end(r->db, c.id, "operator"))
		return http_reply_error(r, 409, "chat_ended", "the chat has ended already");
	return http_reply_json(r, 200, json_pack("{s:o*}", "chat", chat_chat_json(r->db, c.id)));
}

/* POST .../transfer {"operator_id"|"department_id","note"} */
int chat_handle_transfer(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c))
		return 0;
	if (!(r->auth.role_bit & ROLE_ADMIN) && !mine(r, &c))
		return 0;
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *to_op = json_string_value(json_object_get(body, "operator_id"));
	const char *to_dep = json_string_value(json_object_get(body, "department_id"));
	json_t *jnote = json_object_get(body, "note");
	if ((to_op != NULL) == (to_dep != NULL))
		return http_reply_error(r, 400, "invalid_field", "give either operator_id or department_id");
	const char *note = jnote && !json_is_null(jnote) ? json_string_value(jnote) : "";
	long chars = 0;
	for (const unsigned char *p = (const unsigned char *)(note ? note : ""); *p; chars++) {
		int len = utf8_sequence(p);
		if (len < 0)
			break;
		p += len;
	}
	if (!note || chars > CHAT_NOTE_MAX_CHARS ||
	    (json_is_string(jnote) && strlen(note) != json_string_length(jnote)))
		return http_reply_error(r, 400, "invalid_field", "note must be text of at most 1000 characters");
	if (strcmp(c.state, "ended") == 0)
		return http_reply_error(r, 409, "chat_ended", "the chat has ended");
	char from_name[200], to_name[200];
	chat_user_name(r->db, r->auth.user_id, from_name, sizeof from_name);
	int64_t now = (int64_t)time(NULL);
	int rc;
	if (to_op) {
		struct db_stmt *st = chat_is_id(to_op)
		                         ? db_query(r->db, &rc,
		                                    "SELECT 1 FROM users WHERE id = ? AND account_id = ? AND "
		                                    "disabled = 0 AND role IN ('operator', 'admin')",
		                                    "ss", to_op, r->auth.account_id)
		                         : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field",
			                        "operator_id: no operator of this account has this id");
		if (strcmp(to_op, c.operator_id) == 0)
			return http_reply_error(r, 409, "already_assigned", "the chat is with this operator already");
		st = db_query(r->db, &rc, "SELECT status FROM chat_operators WHERE user_id = ?", "s", to_op);
		bool online = st && strcmp(db_col_text(st, 0), "online") == 0;
		db_done(st);
		int64_t cap;
		if (!online || !chat_presence_here(to_op, (int64_t)wake_now_ms()))
			return http_reply_error(r, 409, "operator_unavailable", "that operator is not online");
		if (active_count(r->db, to_op, &cap) >= cap)
			return http_reply_error(r, 409, "operator_unavailable", "that operator is at capacity");
		chat_user_name(r->db, to_op, to_name, sizeof to_name);
		rc = db_exec(
		    r->db,
		    "UPDATE chat_chats SET state = 'active', operator_id = ?, prev_operator_id = ?, assigned_at = "
		    "?, position = 0 WHERE id = ?",
		    "ssis", to_op, c.operator_id, now, c.id);
	} else {
		struct db_stmt *st = chat_is_id(to_dep) ? db_query(r->db, &rc,
		                                                   "SELECT name FROM chat_departments WHERE id = ? AND "
		                                                   "account_id = ?",
		                                                   "ss", to_dep, r->auth.account_id)
		                                        : NULL;
		if (!st)
			return http_reply_error(r, 400, "invalid_field",
			                        "department_id: no such department in this account");
		snprintf(to_name, sizeof to_name, "%s", db_col_text(st, 0));
		db_done(st);
		rc = db_exec(r->db,
		             "UPDATE chat_chats SET state = 'queued', department_id = ?1, operator_id = NULL, "
		             "prev_operator_id = ?2, waiting_since = 0, position = 0, queue_key = (SELECT "
		             "COALESCE(MIN(queue_key), 0) - 1 FROM chat_chats WHERE department_id = ?1) WHERE id = ?3",
		             "sss", to_dep, c.operator_id, c.id);
	}
	if (rc == DB_DONE)
		rc = chat_calls_end(r->db, c.id, c.operator_id, "transferred");
	if (rc == DB_DONE)
		rc = chat_event_append(r->db, c.id, "transferred", json_pack("{s:s}", "to", to_name), NULL, NULL, NULL,
		                       NULL);
	if (rc == DB_DONE && c.operator_id[0])
		rc = chat_op_event(
		    r->db, c.operator_id, "unassigned",
		    json_pack("{s:s, s:s, s:s}", "chat_id", c.id, "reason", "transferred", "to", to_name));
	/* the receiver: the operator, or every operator of the department */
	char(*recv)[CODES_ID_LEN + 1] = malloc(500 * sizeof *recv);
	size_t n = 0;
	if (!recv)
		rc = DB_ERROR;
	else if (to_op)
		snprintf(recv[n++], CODES_ID_LEN + 1, "%s", to_op);
	else {
		struct db_stmt *st =
		    db_prepare(r->db, "SELECT user_id FROM chat_department_operators WHERE department_id = ?");
		if (st) {
			db_bind_text(st, 1, to_dep);
			while (db_step(st) == DB_ROW && n < 500)
				snprintf(recv[n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
			db_done(st);
		}
	}
	for (size_t i = 0; rc == DB_DONE && i < n; i++) {
		json_t *chat = chat_chat_json(r->db, c.id);
		rc = chat ? chat_op_event(r->db, recv[i], "transferred",
		                          json_pack("{s:o, s:s, s:s, s:s}", "chat", chat, "note", note, "from",
		                                    from_name, "to", to_name))
		          : DB_ERROR;
	}
	free(recv);
	if (rc == DB_DONE && to_dep)
		rc = chat_dispatch(r->db, to_dep);
	if (rc == DB_DONE && to_dep && strcmp(to_dep, c.department_id) != 0)
		rc = chat_dispatch(r->db, c.department_id);
	if (rc == DB_DONE && c.operator_id[0])
		rc = chat_dispatch_operator(r->db, c.operator_id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the transfer could not be saved");
	return http_reply_json(r, 200, json_pack("{s:o*}", "chat", chat_chat_json(r->db, c.id)));
}

/* POST .../forms {"form_id"}: the chat's operator pushes a form into it. */
int chat_handle_op_form(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	if (strcmp(c.state, "active") != 0)
		return http_reply_error(r, 409, "chat_ended", "the chat has ended");
	return chat_push_form(r, c.id);
}

/* The origin ("scheme://host[:port]") of an absolute http(s) URL of
 * printable ASCII without user information; false when it is not one. */
static bool url_origin(const char *url, char *out, size_t outsz)
{
	size_t n = url ? strlen(url) : 0;
	if (n == 0 || n > CHAT_FIELD_MAX_CHARS)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			return false;
	size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
	if (!scheme)
		return false;
	size_t end = scheme + strcspn(url + scheme, "/?#");
	if (end == scheme || memchr(url + scheme, '@', end - scheme) || end >= outsz)
		return false;
	memcpy(out, url, end);
	out[end] = 0;
	return true;
}

/* POST .../redirect {"url"}: sends the visitor's page to url, which must be
 * on one of the chat's site's domains (an operator cannot send visitors
 * off the site, e.g. to a look-alike page). */
int chat_handle_op_call(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	return chat_call_signal(r, c.id, CHAT_OPERATOR);
}

int chat_handle_op_redirect(struct http_req *r)
{
	struct chat_row c;
	if (!op_chat(r, &c) || !mine(r, &c))
		return 0;
	if (strcmp(c.state, "active") != 0)
		return http_reply_error(r, 409, "chat_ended", "the chat has ended");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *url = json_string_value(json_object_get(body, "url"));
	char origin[CHAT_FIELD_MAX_CHARS + 1];
	if (!url_origin(url, origin, sizeof origin))
		return http_reply_error(
		    r, 400, "invalid_field",
		    "url must be an absolute http(s) URL of at most 2000 printable ASCII characters");
	int rc;
	struct db_stmt *st = db_query(r->db, &rc, "SELECT site_id FROM chat_chats WHERE id = ?", "s", c.id);
	struct chat_site site;
	bool loaded = st && chat_site_load(r->db, db_col_text(st, 0), &site);
	db_done(st);
	if (!loaded)
		return store_reply_error(r, DB_ERROR, "the chat's site could not be read");
	bool allowed = chat_site_origin_allowed(&site, origin);
	chat_site_free(&site);
	if (!allowed)
		return http_reply_error(r, 400, "url_not_on_site", "url must be on one of the site's domains");
	int64_t seq = 0, now = (int64_t)time(NULL);
	rc = chat_event_append(r->db, c.id, "redirect", json_pack("{s:s, s:I}", "url", url, "at", (json_int_t)now),
	                       r->auth.user_id, NULL, &seq, NULL);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the redirect could not be saved");
	return http_reply_json(r, 201,
	                       json_pack("{s:{s:s, s:s, s:I, s:I}}", "redirect", "type", "redirect", "url", url, "at",
	                                 (json_int_t)now, "seq", (json_int_t)seq));
}
