/*
 * The stored events of the chat: each chat numbers its own (chat_events,
 * seq 1, 2, ...: what the visitor's stream sends as "id: SEQ"), each
 * operator has a sequence of their own (chat_operator_events), and typing
 * marks are kept a minute outside any sequence (never resumed). Every
 * append is stored in the caller's transaction and wakes the stream's key
 * after commit, so nothing is delivered that was not stored first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/db.h"
#include "chat.h"

bool chat_in_conversation(const char *type)
{
	return strcmp(type, "message") == 0 || strcmp(type, "form") == 0 || strcmp(type, "form_answer") == 0 ||
	       strcmp(type, "redirect") == 0;
}

int chat_event_append(struct db *db, const char *chat_id, const char *type, json_t *data, const char *sender,
                      const char *client_id, int64_t *seq_out, bool *dup)
{
	int rc;
	if (dup)
		*dup = false;
	if (client_id) {
		struct db_stmt *st = db_query(db, &rc,
		                              "SELECT seq FROM chat_events WHERE chat_id = ? AND sender = ? AND "
		                              "client_id = ?",
		                              "sss", chat_id, sender ? sender : "", client_id);
		if (st) {
			if (seq_out)
				*seq_out = db_col_int(st, 0);
			db_done(st);
			json_decref(data);
			if (dup)
				*dup = true;
			return DB_DONE;
		}
	}
	if ((rc = db_exec(db, "UPDATE chat_chats SET last_seq = last_seq + 1 WHERE id = ?", "s", chat_id)) != DB_DONE) {
		json_decref(data);
		return rc;
	}
	struct db_stmt *st = db_query(db, &rc, "SELECT last_seq FROM chat_chats WHERE id = ?", "s", chat_id);
	if (!st) {
		json_decref(data);
		return rc < 0 ? rc : DB_ERROR;
	}
	int64_t seq = db_col_int(st, 0);
	db_done(st);
	if (chat_in_conversation(type)) /* a read mark's "seq" is the message read */
		json_object_set_new(data, "seq", json_integer(seq));
	char *text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!text)
		return DB_ERROR;
	struct db_stmt *ins = db_prepare(db, "INSERT INTO chat_events(chat_id, seq, type, data, sender, client_id, at) "
	                                     "VALUES(?,?,?,?,?,?,?)");
	if (!ins) {
		free(text);
		return DB_ERROR;
	}
	db_bind_text(ins, 1, chat_id);
	db_bind_int(ins, 2, seq);
	db_bind_text(ins, 3, type);
	db_bind_text(ins, 4, text);
	db_bind_text(ins, 5, sender ? sender : "");
	db_bind_text(ins, 6, client_id);
	db_bind_int(ins, 7, (int64_t)time(NULL));
	rc = db_step(ins);
	db_done(ins);
	free(text);
	if (rc != DB_DONE)
		return rc;
	db_notifyf(db, "chat:%s", chat_id);
	if (seq_out)
		*seq_out = seq;
	return DB_DONE;
}

int chat_operator_row(struct db *db, const char *user_id)
{
	return db_exec(db, "INSERT INTO chat_operators(user_id) VALUES(?) ON CONFLICT(user_id) DO NOTHING", "s",
	               user_id);
}

int chat_op_event(struct db *db, const char *user_id, const char *type, json_t *data)
{
	int rc;
	if ((rc = chat_operator_row(db, user_id)) != DB_DONE ||
	    (rc = db_exec(db, "UPDATE chat_operators SET last_seq = last_seq + 1 WHERE user_id = ?", "s", user_id)) !=
	        DB_DONE) {
		json_decref(data);
		return rc;
	}
	struct db_stmt *st = db_query(db, &rc, "SELECT last_seq FROM chat_operators WHERE user_id = ?", "s", user_id);
	if (!st) {
		json_decref(data);
		return rc < 0 ? rc : DB_ERROR;
	}
	int64_t seq = db_col_int(st, 0);
	db_done(st);
	char *text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!text)
		return DB_ERROR;
	rc = db_exec(db, "INSERT INTO chat_operator_events(user_id, seq, type, data, at) VALUES(?,?,?,?,?)", "sissi",
	             user_id, seq, type, text, (int64_t)time(NULL));
	free(text);
	if (rc == DB_DONE)
		db_notifyf(db, "chatop:%s", user_id);
	return rc;
}

int chat_typing_mark(struct db *db, const char *target, json_t *data)
{
	char *text = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!text)
		return DB_ERROR;
	int64_t now = (int64_t)time(NULL);
	int rc = db_exec(db, "DELETE FROM chat_typing WHERE at < ?", "i", now - 60);
	if (rc == DB_DONE)
		rc = db_exec(db, "INSERT INTO chat_typing(target, data, at) VALUES(?,?,?)", "ssi", target, text, now);
	free(text);
	if (rc == DB_DONE) {
		if (strncmp(target, "op:", 3) == 0)
			db_notifyf(db, "chatop:%s", target + 3);
		else
			db_notify(db, target);
	}
	return rc;
}

void chat_user_name(struct db *db, const char *user_id, char *out, size_t outsz)
{
	int rc;
	struct db_stmt *st =
	    user_id && *user_id
	        ? db_query(db, &rc, "SELECT CASE WHEN name <> '' THEN name ELSE login END FROM users WHERE id = ?", "s",
	                   user_id)
	        : NULL;
	snprintf(out, outsz, "%s", st ? db_col_text(st, 0) : "");
	db_done(st);
}

json_t *chat_chat_json(struct db *db, const char *chat_id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT c.id, c.state, c.site_id, c.department_id, d.name, c.visitor_id, c.visitor_name, "
	             "COALESCE(c.operator_id, ''), COALESCE(CASE WHEN u.name <> '' THEN u.name ELSE u.login END, ''), "
	             "c.position, c.created_at, c.assigned_at, c.ended_at, c.ended_by, c.last_seq "
	             "FROM chat_chats c JOIN chat_departments d ON d.id = c.department_id "
	             "LEFT JOIN users u ON u.id = c.operator_id WHERE c.id = ?",
	             "s", chat_id);
	if (!st)
		return NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I}", "id",
	                      db_col_text(st, 0), "state", db_col_text(st, 1), "site_id", db_col_text(st, 2),
	                      "department_id", db_col_text(st, 3), "department", db_col_text(st, 4), "visitor_id",
	                      db_col_text(st, 5), "visitor_name", db_col_text(st, 6), "operator_id", db_col_text(st, 7),
	                      "operator", db_col_text(st, 8), "position", (json_int_t)db_col_int(st, 9), "created_at",
	                      (json_int_t)db_col_int(st, 10), "assigned_at", (json_int_t)db_col_int(st, 11), "ended_at",
	                      (json_int_t)db_col_int(st, 12), "ended_by", db_col_text(st, 13), "last_seq",
	                      (json_int_t)db_col_int(st, 14));
	db_done(st);
	return j;
}
