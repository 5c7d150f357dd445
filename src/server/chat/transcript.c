/*
 * E-mailed transcripts (the visitor's "E-mail transcript" tool): POST
 * /api/v1/widget/{site}/chats/{id}/transcript {"email","tz_offset_min"}
 * queues (mail/) a plain-text copy of the conversation so far: every
 * message with its time and sender, forms with their answers, pages the
 * operator showed. Times are shown at the visitor's UTC offset as the
 * browser gave it. At most CHAT_TRANSCRIPTS_PER_CHAT per chat, and the
 * address's mail limit (limits.c); nothing of it is ever taken as HTML.
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

#define CHAT_TRANSCRIPTS_PER_CHAT 3
#define TRANSCRIPT_MAX            (512u << 10)

static void clock_text(int64_t at, int tz_min, char *out, size_t outsz, bool with_date)
{
	time_t t = (time_t)(at + (int64_t)tz_min * 60);
	struct tm tm;
	gmtime_r(&t, &tm);
	if (with_date)
		snprintf(out, outsz, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		         tm.tm_hour, tm.tm_min);
	else
		snprintf(out, outsz, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

static const char *who(json_t *d, const char *visitor_name)
{
	const char *from = json_string_value(json_object_get(d, "from"));
	const char *name = json_string_value(json_object_get(d, "name"));
	if (from && strcmp(from, "visitor") == 0)
		return *visitor_name ? visitor_name : "You";
	return name && *name ? name : "Operator";
}

/* One line per item; a message's own newlines are indented under it. */
static void add_indented(struct buf *b, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			buf_addstr(b, "\n    ");
		else if (*p != '\r')
			buf_add(b, p, 1);
	}
	buf_addstr(b, "\n");
}

int chat_transcript_text(struct db *db, const char *chat_id, const char *site_name, int tz_min, struct buf *b)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT c.created_at, COALESCE(d.name, ''), c.visitor_name FROM chat_chats c LEFT "
	             "JOIN chat_departments d ON d.id = c.department_id WHERE c.id = ?",
	             "s", chat_id);
	if (!st)
		return -1;
	char when[64], visitor[CHAT_NAME_MAX_CHARS * 4 + 1];
	clock_text(db_col_int(st, 0), tz_min, when, sizeof when, true);
	buf_printf(b, "Your chat with %s, %s\n", site_name, when);
	if (*db_col_text(st, 1))
		buf_printf(b, "Department: %s\n", db_col_text(st, 1));
	snprintf(visitor, sizeof visitor, "%s", db_col_text(st, 2));
	db_done(st);
	buf_printf(b, "Times are UTC%c%02d:%02d.\n\n", tz_min < 0 ? '-' : '+', (tz_min < 0 ? -tz_min : tz_min) / 60,
	           (tz_min < 0 ? -tz_min : tz_min) % 60);
	st = db_prepare(db, "SELECT type, data, at FROM chat_events WHERE chat_id = ? AND type IN ('message', 'form', "
	                    "'form_answer', 'redirect', 'ended') ORDER BY seq LIMIT 5000");
	if (!st)
		return -1;
	db_bind_text(st, 1, chat_id);
	while (db_step(st) == DB_ROW) {
		const char *type = db_col_text(st, 0);
		json_t *d = json_loads(db_col_text(st, 1), 0, NULL);
		if (!d)
			continue;
		char t[64];
		clock_text(db_col_int(st, 2), tz_min, t, sizeof t, false);
		if (strcmp(type, "message") == 0) {
			buf_printf(b, "[%s] %s: ", t, who(d, visitor));
			add_indented(b, json_string_value(json_object_get(d, "text"))
			                    ? json_string_value(json_object_get(d, "text"))
			                    : "");
		} else if (strcmp(type, "form") == 0) {
			buf_printf(b, "[%s] The operator sent the form \"%s\".\n", t,
			           json_string_value(json_object_get(d, "name")));
		} else if (strcmp(type, "form_answer") == 0) {
			buf_printf(b, "[%s] Your answers to \"%s\":\n", t,
			           json_string_value(json_object_get(d, "name")));
			size_t i;
			json_t *a;
			json_array_foreach (json_object_get(d, "answers"), i, a) {
				json_t *v = json_object_get(a, "value");
				buf_printf(b, "    %s: ", json_string_value(json_object_get(a, "label")));
				add_indented(b, json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no")
				                                   : json_string_value(v));
			}
		} else if (strcmp(type, "redirect") == 0) {
			buf_printf(b, "[%s] The operator showed you %s\n", t,
			           json_string_value(json_object_get(d, "url")));
		} else {
			buf_printf(b, "[%s] The chat ended.\n", t);
		}
		json_decref(d);
	}
	db_done(st);
	return buf_len(b) < TRANSCRIPT_MAX ? 0 : -1;
}

int chat_send_transcript(struct http_req *r, const struct chat_widget *w, const char *chat_id)
{
	if (!mail_enabled())
		return http_reply_error(r, 503, "mail_not_configured", "this server does not send e-mail");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *to = json_string_value(json_object_get(body, "email"));
	json_t *jtz = json_object_get(body, "tz_offset_min");
	if (!mail_address_ok(to))
		return http_reply_error(r, 400, "invalid_field", "email must be one e-mail address (name@example.org)");
	if (jtz && (!json_is_integer(jtz) || json_integer_value(jtz) < -840 || json_integer_value(jtz) > 840))
		return http_reply_error(r, 400, "invalid_field", "tz_offset_min must be minutes from -840 to 840");
	if (mail_count(r->db, "chat_transcript", chat_id, 0) >= CHAT_TRANSCRIPTS_PER_CHAT)
		return http_reply_error(r, 429, "too_many_transcripts", "a chat's transcript is sent at most 3 times");
	if (chat_limit_mail(r))
		return 0;
	struct buf text;
	buf_init(&text, TRANSCRIPT_MAX);
	char subject[320];
	snprintf(subject, sizeof subject, "Your chat with %s", w->site.name);
	for (char *p = subject; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	int rc = chat_transcript_text(r->db, chat_id, w->site.name, jtz ? (int)json_integer_value(jtz) : 0, &text) == 0
	             ? mail_queue(r->db, w->site.account_id, "chat_transcript", chat_id, to, NULL, subject,
	                          buf_str(&text), NULL)
	             : DB_ERROR;
	buf_free(&text);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the transcript could not be queued");
	return http_reply_json(r, 202, json_pack("{s:s}", "email", to));
}
