/*
 * Bans: an operator bans a visitor id or an IP address, until expires_at
 * (Unix seconds; 0 or absent: until the ban is removed), with a reason. A
 * banned visitor can neither start a chat nor write in one (403 banned
 * "chat unavailable"); banning a visitor id ends the visitor's open chats.
 * An expired ban is simply no longer looked at (the list shows it as
 * expired).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

bool chat_banned(struct db *db, const char *account_id, const char *visitor_id, const char *ip, int64_t now)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT 1 FROM chat_bans WHERE account_id = ? AND (visitor_id = ? OR ip = ?) AND "
	                              "(expires_at = 0 OR expires_at > ?) LIMIT 1",
	                              "sssi", account_id, visitor_id ? visitor_id : "", ip ? ip : "", now);
	db_done(st);
	return st != NULL;
}

static json_t *ban_json(struct db_stmt *st, int64_t now)
{
	int64_t exp = db_col_int(st, 4);
	return json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:b, s:I, s:s}", "id", db_col_text(st, 0), "visitor_id",
	                 db_col_is_null(st, 1) ? NULL : db_col_text(st, 1), "ip",
	                 db_col_is_null(st, 2) ? NULL : db_col_text(st, 2), "reason", db_col_text(st, 3), "expires_at",
	                 (json_int_t)exp, "active", exp == 0 || exp > now, "created_at", (json_int_t)db_col_int(st, 5),
	                 "created_by", db_col_text(st, 6));
}

int chat_handle_bans_list(struct http_req *r)
{
	int64_t now = (int64_t)time(NULL);
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT id, visitor_id, ip, reason, expires_at, created_at, created_by "
	                      "FROM chat_bans WHERE account_id = ? ORDER BY created_at DESC, id LIMIT 1000");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the bans could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, ban_json(st, now));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "bans", list));
}

int chat_handle_ban_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jv = json_object_get(body, "visitor_id"), *jip = json_object_get(body, "ip");
	json_t *jexp = json_object_get(body, "expires_at"), *jreason = json_object_get(body, "reason");
	const char *vid = json_string_value(jv), *ip = json_string_value(jip);
	if ((vid != NULL) == (ip != NULL))
		return http_reply_error(r, 400, "invalid_field", "give either visitor_id or ip");
	int64_t now = (int64_t)time(NULL);
	if (vid) {
		int rc;
		struct db_stmt *st = chat_is_id(vid)
		                         ? db_query(r->db, &rc,
		                                    "SELECT 1 FROM chat_visitors v JOIN chat_sites s ON s.id = "
		                                    "v.site_id WHERE v.id = ? AND s.account_id = ?",
		                                    "ss", vid, r->auth.account_id)
		                         : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field", "visitor_id: no such visitor in this account");
	} else {
		unsigned char addr[16];
		if (strlen(ip) > 45 || (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1))
			return http_reply_error(r, 400, "invalid_field", "ip must be an IPv4 or IPv6 address");
	}
	if (jexp && !json_is_null(jexp) &&
	    (!json_is_integer(jexp) || (json_integer_value(jexp) != 0 && json_integer_value(jexp) <= now)))
		return http_reply_error(r, 400, "invalid_field",
		                        "expires_at must be a Unix time in the future, or 0 / absent (until removed)");
	const char *reason = jreason ? json_string_value(jreason) : "";
	if (!reason || strlen(reason) > 500)
		return http_reply_error(r, 400, "invalid_field", "reason must be text of at most 500 bytes");
	int64_t exp = json_is_integer(jexp) ? (int64_t)json_integer_value(jexp) : 0;
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int rc =
	    db_exec(r->db,
	            "INSERT INTO chat_bans(id, account_id, visitor_id, ip, reason, expires_at, created_at, created_by) "
	            "VALUES(?,?,?,?,?,?,?,?)",
	            "sssssiis", id, r->auth.account_id, vid, ip, reason, exp, now, r->auth.login);
	if (rc == DB_DONE && vid) {
		char open[64][CODES_ID_LEN + 1];
		size_t n = 0;
		struct db_stmt *st =
		    db_prepare(r->db, "SELECT id FROM chat_chats WHERE visitor_id = ? AND state <> 'ended'");
		if (st) {
			db_bind_text(st, 1, vid);
			while (db_step(st) == DB_ROW && n < 64)
				snprintf(open[n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
			db_done(st);
		}
		for (size_t i = 0; i < n; i++)
			chat_end(r->db, open[i], "ban");
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the ban could not be saved");
	audit_request(r, "chat.ban_created", id, vid ? vid : ip);
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT id, visitor_id, ip, reason, expires_at, created_at, created_by FROM "
	                              "chat_bans WHERE id = ?",
	                              "s", id);
	json_t *j = st ? ban_json(st, now) : NULL;
	db_done(st);
	return http_reply_json(r, 201, json_pack("{s:o*}", "ban", j));
}

int chat_handle_ban_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!chat_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such ban");
	int rc = db_exec(r->db, "DELETE FROM chat_bans WHERE id = ? AND account_id = ?", "ss", id, r->auth.account_id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the ban could not be removed");
	if (db_changes(r->db) != 1)
		return http_reply_error(r, 404, "not_found", "no such ban");
	audit_request(r, "chat.ban_removed", id, NULL);
	return http_reply_empty(r, 204);
}
