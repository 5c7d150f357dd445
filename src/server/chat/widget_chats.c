/*
 * The visitor's chat routes (the widget, with its visitor token): start a
 * chat in one of the site's departments with a first message, write,
 * typing and read marks, end. A banned visitor (by id or by the address
 * the request comes from) gets 403 banned "chat unavailable" on starting
 * and on writing. A visitor reaches only their own chats of this site.
 * Transcripts (transcript.c) and offline messages (offline.c) start here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../common/utf8.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

static int banned_reply(struct http_req *r)
{
	return http_reply_error(r, 403, "banned", "chat unavailable");
}

int chat_handle_widget_chat_create(struct http_req *r)
{
	struct chat_widget w;
	if (!chat_widget_begin(r, &w, true))
		return 0;
	json_t *body = http_json_body(r);
	if (!body)
		goto out;
	const char *dep = json_string_value(json_object_get(body, "department_id"));
	json_t *jname = json_object_get(body, "name"), *text = json_object_get(body, "text");
	const char *name = jname && !json_is_null(jname) ? json_string_value(jname) : "";
	long chars = 0;
	for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; chars++) {
		int len = utf8_sequence(p);
		if (len < 0)
			break;
		p += len;
	}
	const char *problem = chat_text_problem(text);
	int rc;
	if (problem) {
		http_reply_error(r, 400, "invalid_text", "%s", problem);
		goto out;
	}
	if (!name || chars > CHAT_NAME_MAX_CHARS ||
	    (json_is_string(jname) && strlen(name) != json_string_length(jname))) {
		http_reply_error(r, 400, "invalid_field", "name must be text of at most 100 characters");
		goto out;
	}
	struct db_stmt *st = chat_is_id(dep)
	                         ? db_query(r->db, &rc,
	                                    "SELECT 1 FROM chat_department_sites WHERE department_id = ? AND "
	                                    "site_id = ?",
	                                    "ss", dep, w.site.id)
	                         : NULL;
	db_done(st);
	if (!st) {
		http_reply_error(r, 400, "invalid_field", "department_id: no such department on this site");
		goto out;
	}
	chat_sweeper_start(server_config(r->srv)->data_dir);
	int64_t now = (int64_t)time(NULL);
	if (chat_banned(r->db, w.site.account_id, w.visitor_id, r->ip, now)) {
		banned_reply(r);
		goto out;
	}
	st = db_query(r->db, &rc, "SELECT COUNT(*) FROM chat_chats WHERE visitor_id = ? AND state <> 'ended'", "s",
	              w.visitor_id);
	int64_t open = st ? db_col_int(st, 0) : 0;
	db_done(st);
	if (open >= CHAT_MAX_OPEN_PER_VISIT) {
		http_reply_error(r, 429, "too_many_chats", "end an open chat first");
		goto out;
	}
	if (chat_limit_new_chat(r))
		goto out;
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	rc = db_exec(
	    r->db,
	    "INSERT INTO chat_chats(id, account_id, site_id, department_id, visitor_id, visitor_name, ip, state, "
	    "queue_key, created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,'queued',(SELECT COALESCE(MAX(queue_key), 0) + "
	    "1 FROM chat_chats WHERE department_id = ?4),?8)",
	    "sssssssi", id, w.site.account_id, w.site.id, dep, w.visitor_id, name, r->ip, now);
	if (rc == DB_DONE)
		rc = chat_event_append(r->db, id, "message",
		                       json_pack("{s:s, s:s, s:O, s:I}", "from", "visitor", "name",
		                                 name[0] ? name : "Visitor", "text", text, "at", (json_int_t)now),
		                       "visitor", NULL, NULL, NULL);
	if (rc == DB_DONE)
		rc = chat_dispatch(r->db, dep);
	if (rc != DB_DONE) {
		store_reply_error(r, rc, "the chat could not be saved");
		goto out;
	}
	st = db_query(r->db, &rc, "SELECT state, position FROM chat_chats WHERE id = ?", "s", id);
	if (!st) {
		store_reply_error(r, rc, "the chat could not be read back");
		goto out;
	}
	http_reply_json(r, 201,
	                json_pack("{s:{s:s, s:s, s:I}}", "chat", "id", id, "state", db_col_text(st, 0), "position",
	                          (json_int_t)db_col_int(st, 1)));
	db_done(st);
out:
	chat_widget_done(r, &w);
	return 0;
}

/* The visitor's own chat of the path; replies 404 otherwise. */
static bool own_chat(struct http_req *r, struct chat_widget *w, char id_out[CODES_ID_LEN + 1])
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st = chat_is_id(id) ? db_query(r->db, &rc,
	                                               "SELECT id FROM chat_chats WHERE id = ? AND visitor_id = ? AND "
	                                               "site_id = ?",
	                                               "sss", id, w->visitor_id, w->site.id)
	                                    : NULL;
	if (!st) {
		http_reply_error(r, 404, "not_found", "no such chat of this visitor");
		return false;
	}
	snprintf(id_out, CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_done(st);
	return true;
}

/* What a route of a visitor's chat goes through, in this order: the
 * widget's checks (site, Origin, token), then as the flags say the
 * visitor's own chat of the path (404), no ban (403 banned), then the rate
 * limit; then step does the work and replies. */
enum { OWN_CHAT = 1, NOT_BANNED = 2 };
typedef bool (*widget_limit)(struct http_req *r, const char *visitor_id);
typedef int (*widget_step)(struct http_req *r, const struct chat_widget *w, const char *chat_id);

static int widget_route(struct http_req *r, unsigned gates, widget_limit limit, widget_step step)
{
	struct chat_widget w;
	char id[CODES_ID_LEN + 1] = "";
	if (!chat_widget_begin(r, &w, true))
		return 0;
	if ((gates & OWN_CHAT) && !own_chat(r, &w, id))
		goto out;
	if ((gates & NOT_BANNED) && chat_banned(r->db, w.site.account_id, w.visitor_id, r->ip, (int64_t)time(NULL))) {
		banned_reply(r);
		goto out;
	}
	if (limit && limit(r, w.visitor_id))
		goto out;
	step(r, &w, id);
out:
	chat_widget_done(r, &w);
	return 0;
}

static int message_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	return chat_post_message(r, id, CHAT_VISITOR, NULL);
}

static int typing_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	return chat_post_typing(r, id, CHAT_VISITOR);
}

static int read_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	return chat_post_read(r, id, CHAT_VISITOR);
}

static int end_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	if (!chat_end(r->db, id, "visitor"))
		return http_reply_error(r, 409, "chat_ended", "the chat has ended already");
	return http_reply_json(r, 200, json_pack("{s:{s:s, s:s}}", "chat", "id", id, "state", "ended"));
}

int chat_handle_widget_message(struct http_req *r)
{
	return widget_route(r, OWN_CHAT | NOT_BANNED, chat_limit_message, message_step);
}

int chat_handle_widget_typing(struct http_req *r)
{
	return widget_route(r, OWN_CHAT, chat_limit_mark, typing_step);
}

int chat_handle_widget_read(struct http_req *r)
{
	return widget_route(r, OWN_CHAT, chat_limit_mark, read_step);
}

int chat_handle_widget_end(struct http_req *r)
{
	return widget_route(r, OWN_CHAT, NULL, end_step);
}

/* POST .../forms/{push_id} {"answers":{...}}: the visitor answers a form
 * the operator pushed (once). */
static int form_answer_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT state, COALESCE(operator_id, '') FROM chat_chats WHERE id = ?", "s", id);
	char operator_id[CODES_ID_LEN + 1] = "";
	bool ended = !st || strcmp(db_col_text(st, 0), "ended") == 0;
	if (st)
		snprintf(operator_id, sizeof operator_id, "%s", db_col_text(st, 1));
	db_done(st);
	if (ended)
		return http_reply_error(r, 409, "chat_ended", "the chat has ended");
	return chat_answer_form(r, id, http_param(r, "push_id"), operator_id);
}

int chat_handle_widget_form_answer(struct http_req *r)
{
	return widget_route(r, OWN_CHAT | NOT_BANNED, chat_limit_message, form_answer_step);
}

static int call_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)w;
	return chat_call_signal(r, id, CHAT_VISITOR);
}

static int offline_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)id;
	return chat_leave_offline_message(r, w);
}

static int campaigns_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)id;
	return chat_campaigns_for_site(r, w);
}

static int campaign_outcome_step(struct http_req *r, const struct chat_widget *w, const char *id)
{
	(void)id;
	return chat_campaign_outcome(r, w);
}

int chat_handle_widget_transcript(struct http_req *r)
{
	return widget_route(r, OWN_CHAT | NOT_BANNED, NULL, chat_send_transcript);
}

int chat_handle_widget_offline(struct http_req *r)
{
	return widget_route(r, 0, NULL, offline_step);
}

int chat_handle_widget_call(struct http_req *r)
{
	return widget_route(r, OWN_CHAT | NOT_BANNED, chat_limit_mark, call_step);
}

int chat_handle_widget_campaigns(struct http_req *r)
{
	return widget_route(r, 0, NULL, campaigns_step);
}

int chat_handle_widget_campaign_outcome(struct http_req *r)
{
	return widget_route(r, 0, chat_limit_mark, campaign_outcome_step);
}
