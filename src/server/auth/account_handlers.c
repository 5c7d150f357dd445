/*
 * The account (tenant) itself: its name, and its IP allowlists for the
 * admin console and the operator console. An empty list allows every
 * address. A change that would lock the admin making it out is refused.
 * Also the bootstrap of the first account and admin (`init`).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/cidr.h"
#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "auth.h"

#define ALLOWLIST_MAX 256

int auth_handle_account_get(struct http_req *r)
{
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT id, name, created_at FROM accounts WHERE id = ?", "s", r->auth.account_id);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such account");
	json_t *a = json_pack("{s:s, s:s, s:I}", "id", db_col_text(st, 0), "name", db_col_text(st, 1), "created_at",
	                      (json_int_t)db_col_int(st, 2));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "account", a));
	return 0;
}

static json_t *scope_list(struct db *db, const char *account_id, const char *scope)
{
	json_t *list = json_array();
	struct db_stmt *st =
	    db_prepare(db, "SELECT cidr FROM allowlist WHERE account_id = ? AND scope = ? ORDER BY cidr");
	if (!st)
		return list;
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, scope);
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, json_string(db_col_text(st, 0)));
	db_done(st);
	return list;
}

int auth_handle_allowlist_get(struct http_req *r)
{
	http_reply_json(r, 200,
	                json_pack("{s:o, s:o, s:s}", "console", scope_list(r->db, r->auth.account_id, "console"),
	                          "operator", scope_list(r->db, r->auth.account_id, "operator"), "your_ip", r->ip));
	return 0;
}

/* Validates one scope's list; canonical texts go to out. */
static bool parse_scope(struct http_req *r, json_t *list, const char *scope, json_t *out)
{
	if (!list)
		return true;
	if (!json_is_array(list) || json_array_size(list) > ALLOWLIST_MAX) {
		http_reply_error(r, 400, "invalid_field", "%s must be an array of at most %d CIDR strings", scope,
		                 ALLOWLIST_MAX);
		return false;
	}
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		struct cidr c;
		if (!json_is_string(v) || cidr_parse(json_string_value(v), &c) != 0) {
			http_reply_error(r, 400, "invalid_cidr",
			                 "%s[%zu] is not a CIDR block like 192.0.2.0/24 or 2001:db8::/32 "
			                 "(host bits must be zero)",
			                 scope, i);
			return false;
		}
		char text[64];
		cidr_format(&c, text, sizeof text);
		json_array_append_new(out, json_string(text));
	}
	return true;
}

static bool ip_in(json_t *list, const char *ip)
{
	if (json_array_size(list) == 0)
		return true;
	struct cidr addr, block;
	if (cidr_parse_addr(ip, &addr) != 0)
		return false;
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v)
		if (cidr_parse(json_string_value(v), &block) == 0 && cidr_contains(&block, &addr))
			return true;
	return false;
}

int auth_handle_allowlist_put(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v)
		if (strcmp(key, "console") != 0 && strcmp(key, "operator") != 0) {
			return http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\" (console, operator)",
			                        key);
		}
	json_t *console = json_array(), *operator= json_array();
	bool ok = parse_scope(r, json_object_get(body, "console"), "console", console) &&
	          parse_scope(r, json_object_get(body, "operator"), "operator", operator);
	if (ok && json_object_get(body, "console") && !ip_in(console, r->ip)) {
		http_reply_error(r, 400, "would_lock_out",
		                 "your own address %s is not in the new console list: add it first", r->ip);
		ok = false;
	}
	const char *scopes[] = {"console", "operator"};
	json_t *lists[] = {console, operator};
	for (int s = 0; ok && s < 2; s++) {
		if (!json_object_get(body, scopes[s]))
			continue;
		db_exec(r->db, "DELETE FROM allowlist WHERE account_id = ? AND scope = ?", "ss", r->auth.account_id,
		        scopes[s]);
		size_t i;
		json_array_foreach (lists[s], i, v) {
			int rc = db_exec(r->db, "INSERT INTO allowlist(account_id, scope, cidr) VALUES(?,?,?)", "sss",
			                 r->auth.account_id, scopes[s], json_string_value(v));
			if (rc != DB_DONE && rc != DB_CONSTRAINT) { /* duplicates collapse */
				store_reply_error(r, rc, "the allowlist could not be saved");
				ok = false;
				break;
			}
		}
		char *text = json_dumps(lists[s], JSON_COMPACT);
		audit_request(r, "allowlist.changed", scopes[s], text ? text : "");
		free(text);
	}
	json_decref(console);
	json_decref(operator);
	if (ok)
		auth_handle_allowlist_get(r);
	return 0;
}

int auth_bootstrap(struct db *db, const char *account_name, const char *login, const char *password)
{
	char hash[crypto_pwhash_STRBYTES], account_id[CODES_ID_LEN + 1], user_id[CODES_ID_LEN + 1];
	if (auth_password_hash(password, hash) != 0)
		return -1;
	codes_new_id(account_id);
	codes_new_id(user_id);
	int64_t now = (int64_t)time(NULL);
	if (db_begin(db, true) != DB_DONE)
		return -1;
	int rc = db_exec(db, "INSERT INTO accounts(id, name, created_at) VALUES(?,?,?)", "ssi", account_id,
	                 account_name, now);
	if (rc == DB_DONE)
		rc = db_exec(
		    db,
		    "INSERT INTO users(id, account_id, login, name, role, password_hash, created_at, updated_at) "
		    "VALUES(?,?,?,?,'admin',?,?,?)",
		    "sssssii", user_id, account_id, login, login, hash, now, now);
	if (rc == DB_DONE)
		rc = audit_append(db, account_id, NULL, "vitrine-server init", "", "account.created", account_name,
		                  login) == 0
		         ? DB_DONE
		         : DB_ERROR;
	if (rc != DB_DONE) {
		db_rollback(db);
		return rc == DB_CONSTRAINT ? -2 : -1;
	}
	return db_commit(db) == DB_DONE ? 0 : -1;
}
