/*
 * Visitors: POST /api/v1/widget/{site}/visitor makes (or, with the same
 * browser_id, finds again) the anonymous visitor of a site, records the
 * page, its title and the referrer, and answers the visitor token the
 * widget sends on every later call, with the site's departments and
 * whether an operator of each is online. Every field is stored as the
 * text it is (the console shows it as text, never as HTML). What operators
 * see of a visitor carries the approximate location of the visitor's
 * address, looked up when it is read (geo/geoip.h, geoip_database).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../common/utf8.h"
#include "../geo/geoip.h"
#include "../http/server.h"
#include "../mail/mail.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define BROWSER_ID_MIN 16 /* shorter ids are not looked up (too easy to guess) */
#define BROWSER_ID_MAX 64

/* An optional text field of at most max characters; "" when absent. */
static const char *text_field(json_t *body, const char *name, long max, const char **problem)
{
	json_t *j = json_object_get(body, name);
	if (!j || json_is_null(j))
		return "";
	const char *s = json_string_value(j);
	long n = s ? utf8_chars(s) : -1;
	if (!s || n < 0 || n > max || strlen(s) != json_string_length(j))
		*problem = name;
	return s ? s : "";
}

int chat_handle_visitor(struct http_req *r)
{
	struct chat_widget w;
	if (!chat_widget_begin(r, &w, false))
		return 0;
	json_t *body = http_json_body(r);
	if (!body) {
		chat_widget_done(r, &w);
		return 0;
	}
	const char *problem = NULL;
	const char *page = text_field(body, "page_url", CHAT_FIELD_MAX_CHARS, &problem);
	const char *title = text_field(body, "title", CHAT_FIELD_MAX_CHARS, &problem);
	const char *referrer = text_field(body, "referrer", CHAT_FIELD_MAX_CHARS, &problem);
	const char *browser = text_field(body, "browser_id", BROWSER_ID_MAX, &problem);
	for (const char *p = browser; !problem && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			problem = "browser_id";
	if (problem) {
		http_reply_error(
		    r, 400, "invalid_field",
		    "%s must be text of at most %d characters (browser_id: at most 64 letters, digits, '-' "
		    "or '_')",
		    problem, CHAT_FIELD_MAX_CHARS);
		chat_widget_done(r, &w);
		return 0;
	}
	int64_t now = (int64_t)time(NULL);
	char vid[CODES_ID_LEN + 1] = "";
	int rc;
	if (strlen(browser) >= BROWSER_ID_MIN) {
		struct db_stmt *st =
		    db_query(r->db, &rc,
		             "SELECT id FROM chat_visitors WHERE site_id = ? AND browser_id = ? ORDER BY "
		             "first_seen LIMIT 1",
		             "ss", w.site.id, browser);
		if (st)
			snprintf(vid, sizeof vid, "%s", db_col_text(st, 0));
		db_done(st);
	}
	if (vid[0])
		rc = db_exec(
		    r->db,
		    "UPDATE chat_visitors SET ip = ?, page_url = ?, title = ?, referrer = ?, last_seen = ? WHERE "
		    "id = ?",
		    "ssssis", r->ip, page, title, referrer, now, vid);
	else if (chat_limit_new_visitor(r)) {
		chat_widget_done(r, &w);
		return 0;
	} else {
		codes_new_id(vid);
		rc = db_exec(
		    r->db,
		    "INSERT INTO chat_visitors(id, site_id, browser_id, ip, page_url, title, referrer, first_seen, "
		    "last_seen) VALUES(?,?,?,?,?,?,?,?,?)",
		    "sssssssii", vid, w.site.id, browser, r->ip, page, title, referrer, now, now);
	}
	char token[CHAT_TOKEN_LEN];
	if (rc != DB_DONE || chat_token_make(&w.site, vid, token) != 0) {
		store_reply_error(r, rc, "the visitor could not be saved");
		chat_widget_done(r, &w);
		return 0;
	}
	http_reply_json(r, 200,
	                json_pack("{s:s, s:s, s:o, s:b}", "visitor_id", vid, "visitor_token", token, "departments",
	                          chat_site_departments(r->db, w.site.id), "mail", mail_enabled()));
	chat_widget_done(r, &w);
	return 0;
}

json_t *chat_visitor_json(struct db *db, const char *visitor_id, const char *except_chat)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, site_id, ip, page_url, title, referrer, first_seen, last_seen FROM "
	                              "chat_visitors WHERE id = ?",
	                              "s", visitor_id);
	if (!st)
		return NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", db_col_text(st, 0), "site_id",
	                      db_col_text(st, 1), "ip", db_col_text(st, 2), "page_url", db_col_text(st, 3), "title",
	                      db_col_text(st, 4), "referrer", db_col_text(st, 5), "first_seen",
	                      (json_int_t)db_col_int(st, 6), "last_seen", (json_int_t)db_col_int(st, 7));
	struct geo_place where;
	json_object_set_new(j, "location",
	                    geo_lookup(db_col_text(st, 2), &where)
	                        ? json_pack("{s:s, s:s, s:s, s:s}", "country", where.country, "country_name",
	                                    where.country_name, "city", where.city, "continent", where.continent)
	                        : json_null());
	db_done(st);
	json_t *prev = json_array();
	st = db_prepare(db, "SELECT id, state, created_at, ended_at FROM chat_chats WHERE visitor_id = ? AND id <> ? "
	                    "ORDER BY created_at DESC LIMIT 50");
	if (st) {
		db_bind_text(st, 1, visitor_id);
		db_bind_text(st, 2, except_chat ? except_chat : "");
		while (db_step(st) == DB_ROW)
			json_array_append_new(prev,
			                      json_pack("{s:s, s:s, s:I, s:I}", "id", db_col_text(st, 0), "state",
			                                db_col_text(st, 1), "created_at", (json_int_t)db_col_int(st, 2),
			                                "ended_at", (json_int_t)db_col_int(st, 3)));
		db_done(st);
	}
	json_object_set_new(j, "previous_chats", prev);
	return j;
}
