/*
 * Who is calling: the server's authentication hook, run before every
 * handler of a protected route (and again each time a waiting request
 * wakes). It accepts a user API token ("Authorization: Bearer vt_...") or
 * the session cookie (a screen's device token on device routes, also as
 * hawkBit's "TargetToken" on the DDI routes); a cookie request that changes state must also carry
 * the session's CSRF token in X-CSRF-Token. Then it enforces the route's
 * roles, a pending password change, and the account's IP allowlist.
 *
 * Tokens are looked up by their SHA-256 only; the token itself is never
 * stored or logged. A device token's answer is cached in memory
 * (device_cache.h: why a revoked token is still refused at once).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../common/cidr.h"
#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/monotonic.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "auth.h"
#include "device_cache.h"

#define LAST_SEEN_GRANULARITY_S 60

static unsigned role_bit(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(role, "editor") == 0)
		return ROLE_EDITOR;
	if (strcmp(role, "operator") == 0)
		return ROLE_OPERATOR;
	if (strcmp(role, "support") == 0)
		return ROLE_SUPPORT;
	return 0;
}

static void fill_auth(struct http_req *r, struct db_stmt *st, bool via_session)
{
	struct http_auth *a = &r->auth;
	a->ok = true;
	a->via_session = via_session;
	snprintf(a->session_id, sizeof a->session_id, "%s", db_col_text(st, 0));
	snprintf(a->user_id, sizeof a->user_id, "%s", db_col_text(st, 1));
	snprintf(a->account_id, sizeof a->account_id, "%s", db_col_text(st, 2));
	snprintf(a->login, sizeof a->login, "%s", db_col_text(st, 3));
	snprintf(a->role, sizeof a->role, "%s", db_col_text(st, 4));
	a->role_bit = role_bit(a->role);
	a->must_change_password = db_col_int(st, 5) != 0;
}

bool auth_ip_allowed(struct db *db, const char *account_id, const char *scope, const char *ip)
{
	struct cidr addr;
	if (cidr_parse_addr(ip, &addr) != 0)
		return false;
	struct db_stmt *st = db_prepare(db, "SELECT cidr FROM allowlist WHERE account_id = ? AND scope = ?");
	if (!st)
		return false;
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, scope);
	bool any = false, allowed = false;
	while (db_step(st) == DB_ROW) {
		any = true;
		struct cidr block;
		if (cidr_parse(db_col_text(st, 0), &block) == 0 && cidr_contains(&block, &addr))
			allowed = true;
	}
	db_done(st);
	return !any || allowed;
}

static int by_token(struct http_req *r, struct db *db, const char *token)
{
	char hash[CODES_HASH_HEX_LEN];
	codes_hash_hex(token, strlen(token), hash);
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT t.id, u.id, u.account_id, u.login, u.role, u.must_change_password "
	                              "FROM api_tokens t JOIN users u ON u.id = t.user_id "
	                              "WHERE t.token_hash = ? AND u.disabled = 0",
	                              "s", hash);
	if (!st) {
		if (rc != DB_DONE)
			store_reply_error(r, rc, NULL);
		else
			http_reply_error(r, 401, "invalid_token", "the API token is unknown or revoked");
		return -1;
	}
	fill_auth(r, st, false);
	db_done(st);
	if (!db_in_tx(db))
		db_exec(db, "UPDATE api_tokens SET last_used = ? WHERE id = ? AND last_used < ?", "isi",
		        (int64_t)time(NULL), r->auth.session_id, (int64_t)time(NULL) - LAST_SEEN_GRANULARITY_S);
	return 0;
}

bool auth_session_expired(int64_t created, int64_t last_seen, int64_t now)
{
	return now - created > auth_settings.session_max_s || now - last_seen > auth_settings.session_idle_s;
}

static int by_session(struct http_req *r, struct db *db, const char *token)
{
	char hash[CODES_HASH_HEX_LEN];
	codes_hash_hex(token, strlen(token), hash);
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT s.id, u.id, u.account_id, u.login, u.role, u.must_change_password, "
	                              "s.created_at, s.last_seen, s.csrf_token "
	                              "FROM sessions s JOIN users u ON u.id = s.user_id "
	                              "WHERE s.token_hash = ? AND u.disabled = 0",
	                              "s", hash);
	if (!st) {
		if (rc != DB_DONE)
			store_reply_error(r, rc, NULL);
		else
			http_reply_error(r, 401, "unauthenticated", "the session has ended; log in again");
		return -1;
	}
	int64_t now = (int64_t)time(NULL);
	int64_t created = db_col_int(st, 6), last_seen = db_col_int(st, 7);
	char csrf[CODES_TOKEN_LEN];
	snprintf(csrf, sizeof csrf, "%s", db_col_text(st, 8));
	fill_auth(r, st, true);
	db_done(st);
	if (auth_session_expired(created, last_seen, now)) {
		if (!db_in_tx(db))
			db_exec(db, "DELETE FROM sessions WHERE id = ?", "s", r->auth.session_id);
		r->auth.ok = false;
		http_reply_error(r, 401, "session_expired", "the session has expired; log in again");
		return -1;
	}
	if (now - last_seen >= LAST_SEEN_GRANULARITY_S && !db_in_tx(db))
		db_exec(db, "UPDATE sessions SET last_seen = ? WHERE id = ?", "is", now, r->auth.session_id);
	bool safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (!safe) {
		const char *sent = http_header(r, "X-CSRF-Token");
		if (!sent || !codes_equal(sent, csrf)) {
			http_reply_error(r, 403, "csrf_failed",
			                 "missing or wrong X-CSRF-Token header (take it from the login response)");
			return -1;
		}
	}
	return 0;
}

/* Screens: "Authorization: Bearer vd_..."; on the hawkBit DDI routes
 * (/ddi/...) also "Authorization: TargetToken vd_...", the same token under
 * hawkBit's name. A revoked screen has no token hash any more, so its
 * token is simply unknown. */
static int by_device_token(struct http_req *r, struct db *db)
{
	const char *authz = http_header(r, "Authorization");
	const char *token = NULL;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
		token = authz + 7;
	else if (authz && strncmp(r->path, "/ddi/", 5) == 0 && strncasecmp(authz, "TargetToken ", 12) == 0)
		token = authz + 12;
	if (!token || strlen(token) >= CODES_TOKEN_LEN + 8) {
		http_reply_error(r, 401, "invalid_token", "a device access token is required (Authorization: Bearer)");
		return -1;
	}
	char hash[CODES_HASH_HEX_LEN];
	codes_hash_hex(token, strlen(token), hash);
	struct device_cache_entry e;
	int64_t now_ms = monotonic_ms();
	if (!device_cache_get(hash, now_ms, &e)) {
		/* taken before the store is read: a drop meanwhile keeps the
		 * answer out of the cache (device_cache.h) */
		uint64_t generation = device_cache_generation();
		int rc;
		struct db_stmt *st =
		    db_query(db, &rc, "SELECT id, account_id FROM screens WHERE token_hash = ? AND deleted_at IS NULL",
		             "s", hash);
		if (!st) {
			if (rc != DB_DONE)
				store_reply_error(r, rc, NULL);
			else
				http_reply_error(r, 401, "invalid_token", "the device token is unknown or revoked");
			return -1;
		}
		snprintf(e.screen_id, sizeof e.screen_id, "%s", db_col_text(st, 0));
		snprintf(e.account_id, sizeof e.account_id, "%s", db_col_text(st, 1));
		db_done(st);
		if (!db_in_tx(db))
			device_cache_put(hash, &e, generation, now_ms);
	}
	struct http_auth *a = &r->auth;
	a->ok = true;
	snprintf(a->device_id, sizeof a->device_id, "%s", e.screen_id);
	snprintf(a->account_id, sizeof a->account_id, "%s", e.account_id);
	snprintf(a->login, sizeof a->login, "screen:%s", a->device_id);
	snprintf(a->role, sizeof a->role, "device");
	return 0;
}

int auth_authenticate(struct http_req *r)
{
	struct db *db = store_db();
	if (!db) {
		store_reply_error(r, DB_ERROR, NULL);
		return -1;
	}
	memset(&r->auth, 0, sizeof r->auth);
	if (r->route->auth == AUTH_DEVICE)
		return by_device_token(r, db);
	const char *authz = http_header(r, "Authorization");
	const char *cookie = http_cookie(r, "vitrine_session");
	int rc;
	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0 || strlen(authz + 7) >= CODES_TOKEN_LEN + 8) {
			http_reply_error(r, 401, "invalid_token",
			                 "the Authorization header must be \"Bearer <token>\"");
			return -1;
		}
		rc = by_token(r, db, authz + 7);
	} else if (cookie && *cookie && strlen(cookie) < CODES_TOKEN_LEN + 8) {
		rc = by_session(r, db, cookie);
	} else {
		http_reply_error(r, 401, "unauthenticated", "log in first (session cookie or Bearer token)");
		return -1;
	}
	if (rc != 0)
		return -1;
	if (r->route->roles && !(r->auth.role_bit & r->route->roles)) {
		http_reply_error(r, 403, "forbidden", "your role (%s) may not do this", r->auth.role);
		return -1;
	}
	if (r->auth.must_change_password && !(r->route->flags & ROUTE_PW_CHANGE)) {
		http_reply_error(r, 403, "password_change_required", "change your password first");
		return -1;
	}
	if (!(r->route->flags & ROUTE_ANY_ORIGIN)) {
		const char *scope = r->auth.role_bit == ROLE_OPERATOR ? "operator" : "console";
		if (!auth_ip_allowed(db, r->auth.account_id, scope, r->ip)) {
			http_reply_error(r, 403, "ip_not_allowed",
			                 "your address %s is not in this account's %s allowlist", r->ip, scope);
			return -1;
		}
	}
	return 0;
}

int auth_session_create(struct db *db, const char *user_id, const char *ip, const char *user_agent, char *out_token,
                        char *out_csrf)
{
	char id[CODES_ID_LEN + 1], hash[CODES_HASH_HEX_LEN];
	codes_new_id(id);
	codes_new_token("vs_", out_token);
	codes_new_token("vc_", out_csrf);
	codes_hash_hex(out_token, strlen(out_token), hash);
	int64_t now = (int64_t)time(NULL);
	char ua[256];
	snprintf(ua, sizeof ua, "%s", user_agent ? user_agent : "");
	return db_exec(
	           db,
	           "INSERT INTO sessions(id, token_hash, user_id, csrf_token, ip, user_agent, created_at, last_seen) "
	           "VALUES(?,?,?,?,?,?,?,?)",
	           "ssssssii", id, hash, user_id, out_csrf, ip, ua, now, now) == DB_DONE
	           ? 0
	           : -1;
}

void auth_set_cookie(struct http_req *r, const char *token)
{
	char cookie[256];
	int cut =
	    token ? strfmt(cookie, sizeof cookie, "vitrine_session=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s",
	                   token, auth_settings.session_max_s, auth_settings.tls ? "; Secure" : "")
	          : strfmt(cookie, sizeof cookie, "vitrine_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
	                   auth_settings.tls ? "; Secure" : "");
	if (cut != 0) { /* a cut cookie would drop its flags: none at all */
		log_event(LOG_ERROR, "the session cookie does not fit its header", NULL);
		return;
	}
	http_reply_header(r, "Set-Cookie", cookie);
}

json_t *auth_user_json(struct db *db, const char *user_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, login, name, role, disabled, must_change_password, totp_enabled, "
	                              "created_at, account_id FROM users WHERE id = ?",
	                              "s", user_id);
	if (!st)
		return NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:I, s:s}", "id", db_col_text(st, 0), "login",
	                      db_col_text(st, 1), "name", db_col_text(st, 2), "role", db_col_text(st, 3), "disabled",
	                      (int)db_col_int(st, 4), "must_change_password", (int)db_col_int(st, 5), "totp_enabled",
	                      (int)db_col_int(st, 6), "created_at", (json_int_t)db_col_int(st, 7), "account_id",
	                      db_col_text(st, 8));
	db_done(st);
	return j;
}

int auth_credential_role(struct db *db, bool via_session, const char *credential_id, char *role, size_t rolesz)
{
	int rc = DB_ERROR;
	struct db_stmt *st =
	    db_query(db, &rc,
	             via_session ? "SELECT u.role, s.created_at, s.last_seen FROM sessions s "
	                           "JOIN users u ON u.id = s.user_id WHERE s.id = ? AND u.disabled = 0"
	                         : "SELECT u.role, 0, 0 FROM api_tokens t JOIN users u ON u.id = t.user_id "
	                           "WHERE t.id = ? AND u.disabled = 0",
	             "s", credential_id);
	if (!st)
		return rc == DB_DONE ? 0 : -1;
	snprintf(role, rolesz, "%s", db_col_text(st, 0));
	int64_t created = db_col_int(st, 1), last_seen = db_col_int(st, 2);
	db_done(st);
	return via_session && auth_session_expired(created, last_seen, (int64_t)time(NULL)) ? 0 : 1;
}
