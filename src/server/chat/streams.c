/*
 * The two chat streams (Server-Sent Events through the wake hub):
 *
 * - the visitor's, GET /api/v1/widget/{site}/chats/{id}/events: the chat's
 *   stored events after the resume point ("Last-Event-ID", else ?after=,
 *   else 0: everything), each as "id: SEQ", "event: TYPE", "data: JSON";
 *   typing marks as "event: typing" without an id (never resumed). It
 *   waits on "chat:<id>" and ends after the "ended" event; a reconnect to
 *   an ended chat with nothing left to read gets 204 (an EventSource then
 *   stops reconnecting).
 * - the operator's, GET /api/v1/chat/stream: the operator's own sequence
 *   (chat_operator_events) the same way, on "chatop:<user id>"; without a
 *   resume point it starts from now (the console reads the lists first).
 *   While it is open the operator is present (presence.c); it ends when
 *   the session or token behind it is revoked.
 *
 * Each event is read from the store after it was committed, so a stream
 * that drops and resumes from its last id gets every event once, in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/strfmt.h"
#include "../auth/auth.h"
#include "../http/server.h"
#include "../store/db.h"
#include "chat.h"

struct chat_stream {
	bool operator_side;
	char chat_id[CODES_ID_LEN + 1];
	char user_id[CODES_ID_LEN + 1];
	char credential_id[CODES_ID_LEN + 1];
	bool via_session;
	char typing_target[32];
	int64_t cursor;
	int64_t typing_cursor;
};

static int64_t resume_point(struct http_req *r, int64_t fallback)
{
	const char *last = http_header(r, "Last-Event-ID"), *after = http_query(r, "after");
	const char *s = last && *last ? last : after;
	if (!s || !*s)
		return fallback;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end || v < 0 ? -1 : (int64_t)v;
}

static int64_t typing_now(struct db *db, const char *target)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT COALESCE(MAX(id), 0) FROM chat_typing WHERE target = ?", "s", target);
	int64_t v = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return v;
}

static int pull_typing(struct chat_stream *s, struct db *db, struct sse_out *out)
{
	struct db_stmt *st =
	    db_prepare(db, "SELECT id, data FROM chat_typing WHERE target = ? AND id > ? ORDER BY id LIMIT ?");
	if (!st)
		return -1;
	db_bind_text(st, 1, s->typing_target);
	db_bind_int(st, 2, s->typing_cursor);
	db_bind_int(st, 3, CHAT_STREAM_BATCH);
	while (db_step(st) == DB_ROW) {
		if (sse_append(out, "typing", NULL, db_col_text(st, 1)) != 0)
			break;
		s->typing_cursor = db_col_int(st, 0);
	}
	db_done(st);
	return 0;
}

static int visitor_pull(void *state, struct db *db, struct sse_out *out)
{
	struct chat_stream *s = state;
	struct db_stmt *st = db_prepare(
	    db, "SELECT seq, type, data FROM chat_events WHERE chat_id = ? AND seq > ? ORDER BY seq LIMIT ?");
	if (!st)
		return -1;
	db_bind_text(st, 1, s->chat_id);
	db_bind_int(st, 2, s->cursor);
	db_bind_int(st, 3, CHAT_STREAM_BATCH);
	bool ended = false;
	while (db_step(st) == DB_ROW) {
		/* the cursor moves only past what fits the stream's buffer: the
		 * rest comes with the next pull */
		char id[32];
		snprintf(id, sizeof id, "%" PRId64, db_col_int(st, 0));
		if (sse_append(out, db_col_text(st, 1), id, db_col_text(st, 2)) != 0)
			break;
		s->cursor = db_col_int(st, 0);
		ended |= strcmp(db_col_text(st, 1), "ended") == 0;
	}
	db_done(st);
	if (pull_typing(s, db, out) != 0)
		return -1;
	return ended ? -1 : 0;
}

int chat_handle_widget_events(struct http_req *r)
{
	struct chat_widget w;
	if (!chat_widget_begin(r, &w, true))
		return 0;
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = chat_is_id(id) ? db_query(r->db, &rc,
	                                               "SELECT state, last_seq FROM chat_chats WHERE id = ? AND "
	                                               "visitor_id = ? AND site_id = ?",
	                                               "sss", id, w.visitor_id, w.site.id)
	                                    : NULL;
	if (!st) {
		http_reply_error(r, 404, "not_found", "no such chat of this visitor");
		chat_widget_done(r, &w);
		return 0;
	}
	bool ended = strcmp(db_col_text(st, 0), "ended") == 0;
	int64_t last = db_col_int(st, 1);
	db_done(st);
	int64_t cursor = resume_point(r, 0);
	struct chat_stream *s = cursor >= 0 ? calloc(1, sizeof *s) : NULL;
	char key[WAKE_KEY_LEN];
	if (cursor < 0)
		http_reply_error(r, 400, "invalid_parameter", "after (or Last-Event-ID) must be a seq: 0 or more");
	else if (ended && cursor >= last)
		http_reply_empty(r, 204);
	else if (!s)
		http_reply_error(r, 503, "unavailable", "out of memory");
	else {
		snprintf(s->chat_id, sizeof s->chat_id, "%s", id);
		snprintf(s->typing_target, sizeof s->typing_target, "chat:%s", id);
		snprintf(key, sizeof key, "chat:%s", id);
		s->cursor = cursor;
		s->typing_cursor = typing_now(r->db, s->typing_target);
		http_stream(r, key, visitor_pull, s, free);
		s = NULL;
	}
	free(s);
	chat_widget_done(r, &w);
	return 0;
}

static int operator_pull(void *state, struct db *db, struct sse_out *out)
{
	struct chat_stream *s = state;
	char role[16];
	if (auth_credential_role(db, s->via_session, s->credential_id, role, sizeof role) != 1 ||
	    (strcmp(role, "admin") != 0 && strcmp(role, "operator") != 0))
		return -1;
	struct db_stmt *st = db_prepare(
	    db, "SELECT seq, type, data FROM chat_operator_events WHERE user_id = ? AND seq > ? ORDER BY seq "
	        "LIMIT ?");
	if (!st)
		return -1;
	db_bind_text(st, 1, s->user_id);
	db_bind_int(st, 2, s->cursor);
	db_bind_int(st, 3, CHAT_STREAM_BATCH);
	while (db_step(st) == DB_ROW) {
		char id[32];
		snprintf(id, sizeof id, "%" PRId64, db_col_int(st, 0));
		if (sse_append(out, db_col_text(st, 1), id, db_col_text(st, 2)) != 0)
			break;
		s->cursor = db_col_int(st, 0);
	}
	db_done(st);
	chat_presence_touch(s->user_id);
	return pull_typing(s, db, out);
}

static void operator_free(void *state)
{
	struct chat_stream *s = state;
	chat_presence_close(s->user_id);
	free(s);
}

int chat_handle_operator_stream(struct http_req *r)
{
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT last_seq FROM chat_operators WHERE user_id = ?", "s", r->auth.user_id);
	int64_t last = st ? db_col_int(st, 0) : 0;
	db_done(st);
	int64_t cursor = resume_point(r, last);
	if (cursor < 0)
		return http_reply_error(r, 400, "invalid_parameter",
		                        "after (or Last-Event-ID) must be a seq: 0 or more");
	struct chat_stream *s = calloc(1, sizeof *s);
	if (!s)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	s->operator_side = true;
	snprintf(s->user_id, sizeof s->user_id, "%s", r->auth.user_id);
	snprintf(s->credential_id, sizeof s->credential_id, "%s", r->auth.session_id);
	s->via_session = r->auth.via_session;
	snprintf(s->typing_target, sizeof s->typing_target, "op:%s", r->auth.user_id);
	s->cursor = cursor;
	s->typing_cursor = typing_now(r->db, s->typing_target);
	char key[WAKE_KEY_LEN];
	snprintf(key, sizeof key, "chatop:%s", r->auth.user_id);
	chat_sweeper_start(server_config(r->srv)->data_dir);
	chat_presence_open(s->user_id);
	return http_stream(r, key, operator_pull, s, operator_free);
}
