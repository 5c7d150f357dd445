/*
 * Users of an account and their API tokens: /api/v1/users (admin only) and
 * /api/v1/tokens (each user's own). An account always keeps at least one
 * enabled admin: the last one cannot be demoted, disabled or deleted.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "auth.h"

static const char *json_str(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool valid_role(const char *role)
{
	return role && (strcmp(role, "admin") == 0 || strcmp(role, "editor") == 0 || strcmp(role, "operator") == 0 ||
	                strcmp(role, "support") == 0);
}

/* Refuses unknown members so a typo ("rol") is an error, not a no-op. */
static bool only_fields(struct http_req *r, json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\"", key);
			return false;
		}
	}
	return true;
}

/* The user {id} of the caller's account; replies 404 otherwise. */
static bool load_target(struct http_req *r, char *login, size_t loginsz, char *role, size_t rolesz, bool *disabled)
{
	const char *id = http_param(r, "id");
	int rc;
	struct db_stmt *st =
	    codes_is_id(id)
	        ? db_query(r->db, &rc, "SELECT login, role, disabled FROM users WHERE id = ? AND account_id = ?", "ss",
	                   id, r->auth.account_id)
	        : NULL;
	if (!st) {
		http_reply_error(r, 404, "not_found", "no such user in this account");
		return false;
	}
	snprintf(login, loginsz, "%s", db_col_text(st, 0));
	snprintf(role, rolesz, "%s", db_col_text(st, 1));
	*disabled = db_col_int(st, 2) != 0;
	db_done(st);
	return true;
}

static int64_t enabled_admins(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT COUNT(*) FROM users WHERE account_id = ? AND role = 'admin' AND disabled = 0",
	             "s", account_id);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}

int auth_handle_users_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT id FROM users WHERE account_id = ? ORDER BY login");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list users");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *ids = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_done(st);
	json_t *users = json_array();
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		json_t *u = auth_user_json(r->db, json_string_value(id));
		if (u)
			json_array_append_new(users, u);
	}
	json_decref(ids);
	http_reply_json(r, 200, json_pack("{s:o}", "users", users));
	return 0;
}

int auth_handle_user_get(struct http_req *r)
{
	char login[130], role[16];
	bool disabled;
	if (!load_target(r, login, sizeof login, role, sizeof role, &disabled))
		return 0;
	http_reply_json(r, 200, json_pack("{s:o}", "user", auth_user_json(r->db, http_param(r, "id"))));
	return 0;
}

/* --- create (deferred: argon2id) --- */

struct create_job {
	char login[130], name[130], role[16];
	char password[AUTH_PASSWORD_MAX + 1];
};

static int user_create_run(struct http_req *r)
{
	struct create_job *job = r->scratch;
	char hash[crypto_pwhash_STRBYTES];
	int hashed = auth_password_hash(job->password, hash);
	sodium_memzero(job->password, sizeof job->password);
	if (hashed != 0)
		return http_reply_error(r, 503, "unavailable", "out of memory while hashing");
	struct db *db = store_db();
	if (!db || db_begin(db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int64_t now = (int64_t)time(NULL);
	int rc = db_exec(db,
	                 "INSERT INTO users(id, account_id, login, name, role, password_hash, created_at, updated_at) "
	                 "VALUES(?,?,?,?,?,?,?,?)",
	                 "ssssssii", id, r->auth.account_id, job->login, job->name, job->role, hash, now, now);
	if (rc == DB_CONSTRAINT) {
		db_rollback(db);
		return http_reply_error(r, 409, "login_taken", "the login \"%s\" is already in use", job->login);
	}
	char detail[64];
	snprintf(detail, sizeof detail, "role=%s", job->role);
	if (rc != DB_DONE || audit_request(r, "user.created", job->login, detail) != 0) {
		db_rollback(db);
		return store_reply_error(r, DB_ERROR, "the user could not be saved");
	}
	json_t *user = auth_user_json(db, id);
	if (db_commit(db) != DB_DONE) {
		json_decref(user);
		return store_reply_error(r, DB_ERROR, "the user could not be saved");
	}
	http_reply_json(r, 201, json_pack("{s:o}", "user", user));
	return 0;
}

int auth_handle_user_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	static const char *const allowed[] = {"login", "password", "role", "name", NULL};
	if (!only_fields(r, body, allowed))
		return 0;
	const char *login = json_str(body, "login"), *password = json_str(body, "password");
	const char *role = json_str(body, "role"), *name = json_str(body, "name");
	if (!login)
		return http_reply_error(r, 400, "invalid_field", "login is required");
	const char *problem = auth_login_problem(login);
	if (problem)
		return http_reply_error(r, 400, "invalid_login", "%s", problem);
	if (!valid_role(role))
		return http_reply_error(r, 400, "invalid_role", "role must be admin, editor, operator or support");
	if (!password)
		return http_reply_error(r, 400, "invalid_field", "password is required");
	if ((problem = auth_password_problem(password, login)))
		return http_reply_error(r, 400, "weak_password", "%s", problem);
	if (json_object_get(body, "name") && (!name || strlen(name) > 128))
		return http_reply_error(r, 400, "invalid_field", "name must be a string of at most 128 bytes");
	struct create_job *job = calloc(1, sizeof *job);
	if (!job)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	snprintf(job->login, sizeof job->login, "%s", login);
	snprintf(job->name, sizeof job->name, "%s", name ? name : "");
	snprintf(job->role, sizeof job->role, "%s", role);
	snprintf(job->password, sizeof job->password, "%s", password);
	r->scratch = job;
	http_defer(r, user_create_run);
	return 0;
}

int auth_handle_user_update(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	static const char *const allowed[] = {"role", "disabled", "name", NULL};
	if (!only_fields(r, body, allowed))
		return 0;
	char login[130], role[16];
	bool disabled;
	if (!load_target(r, login, sizeof login, role, sizeof role, &disabled))
		return 0;
	const char *id = http_param(r, "id");
	json_t *jrole = json_object_get(body, "role"), *jdis = json_object_get(body, "disabled");
	json_t *jname = json_object_get(body, "name");
	if (jrole && !valid_role(json_string_value(jrole)))
		return http_reply_error(r, 400, "invalid_role", "role must be admin, editor, operator or support");
	if (jdis && !json_is_boolean(jdis))
		return http_reply_error(r, 400, "invalid_field", "disabled must be true or false");
	if (jname && (!json_is_string(jname) || strlen(json_string_value(jname)) > 128))
		return http_reply_error(r, 400, "invalid_field", "name must be a string of at most 128 bytes");
	bool self = strcmp(id, r->auth.user_id) == 0;
	bool demote = jrole && strcmp(role, "admin") == 0 && strcmp(json_string_value(jrole), "admin") != 0;
	bool disable = jdis && json_is_true(jdis) && !disabled;
	if (self && disable)
		return http_reply_error(r, 409, "self_lockout", "you cannot disable yourself");
	if ((demote || disable) && strcmp(role, "admin") == 0 && !disabled &&
	    enabled_admins(r->db, r->auth.account_id) <= 1)
		return http_reply_error(r, 409, "last_admin", "the account must keep at least one enabled admin");
	int64_t now = (int64_t)time(NULL);
	char detail[160] = "";
	if (jrole) {
		db_exec(r->db, "UPDATE users SET role = ?, updated_at = ? WHERE id = ?", "sis",
		        json_string_value(jrole), now, id);
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "role %s->%s ", role,
		         json_string_value(jrole));
	}
	if (jdis) {
		db_exec(r->db, "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", "iis",
		        (int64_t)json_is_true(jdis), now, id);
		if (json_is_true(jdis)) { /* a disabled user is out at once, for good: re-enabling revives nothing */
			db_exec(r->db, "DELETE FROM sessions WHERE user_id = ?", "s", id);
			db_exec(r->db, "DELETE FROM api_tokens WHERE user_id = ?", "s", id);
		}
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s ",
		         json_is_true(jdis) ? "disabled" : "enabled");
	}
	if (jname) {
		db_exec(r->db, "UPDATE users SET name = ?, updated_at = ? WHERE id = ?", "sis",
		        json_string_value(jname), now, id);
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "renamed");
	}
	audit_request(r, "user.updated", login, detail);
	http_reply_json(r, 200, json_pack("{s:o}", "user", auth_user_json(r->db, id)));
	return 0;
}

int auth_handle_user_delete(struct http_req *r)
{
	char login[130], role[16];
	bool disabled;
	if (!load_target(r, login, sizeof login, role, sizeof role, &disabled))
		return 0;
	const char *id = http_param(r, "id");
	if (strcmp(id, r->auth.user_id) == 0)
		return http_reply_error(r, 409, "self_delete", "you cannot delete yourself");
	if (strcmp(role, "admin") == 0 && !disabled && enabled_admins(r->db, r->auth.account_id) <= 1)
		return http_reply_error(r, 409, "last_admin", "the account must keep at least one enabled admin");
	if (db_exec(r->db, "DELETE FROM users WHERE id = ?", "s", id) != DB_DONE)
		return store_reply_error(r, DB_ERROR, "the user could not be deleted");
	audit_request(r, "user.deleted", login, "");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

/* --- admin reset of a password (deferred: argon2id) --- */

struct reset_job {
	char id[CODES_ID_LEN + 1];
	char password[AUTH_PASSWORD_MAX + 1];
	bool generated;
};

static int reset_password_run(struct http_req *r)
{
	struct reset_job *job = r->scratch;
	char hash[crypto_pwhash_STRBYTES];
	if (auth_password_hash(job->password, hash) != 0) {
		sodium_memzero(job->password, sizeof job->password);
		return http_reply_error(r, 503, "unavailable", "out of memory while hashing");
	}
	struct db *db = store_db();
	if (!db || db_begin(db, true) != DB_DONE) {
		sodium_memzero(job->password, sizeof job->password);
		return store_reply_error(r, DB_ERROR, NULL);
	}
	db_exec(db,
	        "UPDATE users SET password_hash = ?, must_change_password = 1, updated_at = ? WHERE id = ? "
	        "AND account_id = ?",
	        "siss", hash, (int64_t)time(NULL), job->id, r->auth.account_id);
	bool found = db_changes(db) == 1;
	if (found) {
		/* a reset means the account may be compromised: every session and
		 * API token of the user ends */
		db_exec(db, "DELETE FROM sessions WHERE user_id = ?", "s", job->id);
		db_exec(db, "DELETE FROM api_tokens WHERE user_id = ?", "s", job->id);
		int rc;
		struct db_stmt *st = db_query(db, &rc, "SELECT login FROM users WHERE id = ?", "s", job->id);
		char login[130] = "";
		if (st)
			snprintf(login, sizeof login, "%s", db_col_text(st, 0));
		db_done(st);
		audit_request(r, "user.password_reset", login, "");
	}
	if (!found) {
		db_rollback(db);
		sodium_memzero(job->password, sizeof job->password);
		return http_reply_error(r, 404, "not_found", "no such user in this account");
	}
	if (db_commit(db) != DB_DONE) {
		sodium_memzero(job->password, sizeof job->password);
		return store_reply_error(r, DB_ERROR, NULL);
	}
	json_t *out = json_pack("{s:b}", "must_change_password", 1);
	if (job->generated) /* shown once, to the admin who asked */
		json_object_set_new(out, "password", json_string(job->password));
	sodium_memzero(job->password, sizeof job->password);
	http_reply_json(r, 200, out);
	return 0;
}

int auth_handle_user_reset_password(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!codes_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such user in this account");
	const char *password = NULL;
	if (r->body_len) {
		json_t *body = http_json_body(r);
		if (!body)
			return 0;
		static const char *const allowed[] = {"password", NULL};
		if (!only_fields(r, body, allowed))
			return 0;
		password = json_str(body, "password");
		const char *problem = password ? auth_password_problem(password, NULL) : NULL;
		if (problem)
			return http_reply_error(r, 400, "weak_password", "%s", problem);
	}
	struct reset_job *job = calloc(1, sizeof *job);
	if (!job)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	snprintf(job->id, sizeof job->id, "%s", id);
	if (password) {
		snprintf(job->password, sizeof job->password, "%s", password);
	} else {
		auth_password_generate(job->password);
		job->generated = true;
	}
	r->scratch = job;
	http_defer(r, reset_password_run);
	return 0;
}

int auth_handle_user_reset_totp(struct http_req *r)
{
	char login[130], role[16];
	bool disabled;
	if (!load_target(r, login, sizeof login, role, sizeof role, &disabled))
		return 0;
	db_exec(r->db, "UPDATE users SET totp_enabled = 0, totp_secret = NULL, updated_at = ? WHERE id = ?", "is",
	        (int64_t)time(NULL), http_param(r, "id"));
	audit_request(r, "user.totp_reset", login, "");
	http_reply_json(r, 200, json_pack("{s:o}", "user", auth_user_json(r->db, http_param(r, "id"))));
	return 0;
}

/* --- API tokens --- */

int auth_handle_tokens_list(struct http_req *r)
{
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT id, name, created_at, last_used FROM api_tokens WHERE user_id = ? "
	                      "ORDER BY created_at");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list tokens");
	db_bind_text(st, 1, r->auth.user_id);
	json_t *tokens = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(tokens, json_pack("{s:s, s:s, s:I, s:I}", "id", db_col_text(st, 0), "name",
		                                        db_col_text(st, 1), "created_at", (json_int_t)db_col_int(st, 2),
		                                        "last_used", (json_int_t)db_col_int(st, 3)));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "tokens", tokens));
	return 0;
}

int auth_handle_token_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *name = json_str(body, "name");
	if (!name || !*name || strlen(name) > 128)
		return http_reply_error(r, 400, "invalid_field",
		                        "name must be a non-empty string of at most 128 bytes");
	char id[CODES_ID_LEN + 1], token[CODES_TOKEN_LEN], hash[CODES_HASH_HEX_LEN];
	codes_new_id(id);
	codes_new_token("vt_", token);
	codes_hash_hex(token, strlen(token), hash);
	if (db_exec(r->db, "INSERT INTO api_tokens(id, token_hash, user_id, name, created_at) VALUES(?,?,?,?,?)",
	            "ssssi", id, hash, r->auth.user_id, name, (int64_t)time(NULL)) != DB_DONE)
		return store_reply_error(r, DB_ERROR, "the token could not be saved");
	audit_request(r, "token.created", name, id);
	/* the token is returned once; the server keeps only its hash */
	http_reply_json(r, 201, json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "token", token));
	sodium_memzero(token, sizeof token);
	return 0;
}

int auth_handle_token_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!codes_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such token");
	db_exec(r->db, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", "ss", id, r->auth.user_id);
	if (db_changes(r->db) != 1)
		return http_reply_error(r, 404, "not_found", "no such token");
	audit_request(r, "token.revoked", id, "");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}
