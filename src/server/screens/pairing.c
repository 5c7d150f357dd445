/*
 * Pairing a screen, modelled on the OAuth 2.0 device authorization grant
 * (RFC 8628):
 *   1. the player (no credentials) asks POST /api/v1/device/pair and gets a
 *      device_code (its secret) and a user_code (shown on the screen);
 *   2. a user types the user_code in the console: POST /api/v1/pairings
 *      creates the screen (after GET /api/v1/pairings/{code} showed what is
 *      being added);
 *   3. the player polls POST /api/v1/device/token with its device_code and,
 *      once confirmed, receives its access token, which exists in clear only
 *      in that response. The pairing (and its code) is then deleted.
 * Codes expire after 10 minutes; polling faster than the interval gets
 * slow_down (and a longer interval); wrong codes are rate-limited per
 * (user, source address) pair, with a larger cap per address.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "../updates/updates.h"
#include "screens.h"

unsigned screens_pairing_ttl_s = 600;

#define PAIR_REQUESTS_PER_IP         30 /* per 10 minutes */
#define GUESSES_PER_USER_AND_ADDRESS 10 /* wrong codes per 10 minutes */
#define GUESSES_PER_ADDRESS          50 /* wrong codes per 10 minutes, all users */
#define GUESS_WINDOW_S               600

static const char *json_str(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int verification_uri(struct http_req *r, char *out, size_t outsz, const char *code)
{
	const char *base = server_config(r->srv)->public_url;
	char host[256] = "";
	if (!base || !*base) {
		const char *h = http_header(r, "Host");
		snprintf(host, sizeof host, "%s://%s", r->tls ? "https" : "http",
		         h && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
		                     strlen(h)
		             ? h
		             : "localhost");
		base = host;
	}
	if (code)
		snprintf(out, outsz, "%s/#/pair?code=%.4s-%.4s", base, code, code + 4);
	else
		snprintf(out, outsz, "%s/#/pair", base);
	return 0;
}

int screens_handle_device_pair(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *hw = json_str(body, "hardware_id"), *pk = json_str(body, "public_key");
	if (!hw || !printable(hw, 128))
		return http_reply_error(r, 400, "invalid_field",
		                        "hardware_id must be a printable string of 1-128 bytes");
	uint8_t key[crypto_sign_PUBLICKEYBYTES];
	size_t keylen = 0;
	if (!pk ||
	    sodium_base642bin(key, sizeof key, pk, strlen(pk), NULL, &keylen, NULL, sodium_base64_VARIANT_ORIGINAL) !=
	        0 ||
	    keylen != sizeof key)
		return http_reply_error(r, 400, "invalid_field",
		                        "public_key must be a base64 Ed25519 public key (32 bytes)");
	/* what the device says about itself, shown to the user who confirms */
	json_t *info = json_object();
	static const char *const info_keys[] = {"model", "os", "version", "hostname", NULL};
	for (const char *const *k = info_keys; *k; k++) {
		const char *v = json_str(body, *k);
		if (v && printable(v, 128))
			json_object_set_new(info, *k, json_string(v));
	}
	int64_t now = (int64_t)time(NULL);
	if (ratelimit_hit(r->db, "pair_request_ip", r->ip, 600, now) > PAIR_REQUESTS_PER_IP) {
		json_decref(info);
		http_reply_error(r, 429, "too_many_requests", "too many pairing requests from %s; wait 10 minutes",
		                 r->ip);
		return http_reply_header(r, "Retry-After", "600");
	}
	db_exec(r->db, "DELETE FROM pairings WHERE expires_at <= ?", "i", now);
	char device_code[CODES_TOKEN_LEN], hash[CODES_HASH_HEX_LEN], user_code[CODES_USER_CODE_LEN + 1];
	codes_new_token("vp_", device_code);
	codes_hash_hex(device_code, strlen(device_code), hash);
	char *info_text = json_dumps(info, JSON_COMPACT);
	json_decref(info);
	int rc = DB_CONSTRAINT;
	for (int attempt = 0; attempt < 5 && rc == DB_CONSTRAINT; attempt++) { /* user codes may collide */
		codes_new_user_code(user_code);
		rc = db_exec(r->db,
		             "INSERT INTO pairings(device_code_hash, user_code, hardware_id, public_key, info, ip, "
		             "created_at, expires_at, poll_interval) VALUES(?,?,?,?,?,?,?,?,?)",
		             "ssssssiii", hash, user_code, hw, pk, info_text ? info_text : "{}", r->ip, now,
		             now + (int64_t)screens_pairing_ttl_s, (int64_t)SCREENS_POLL_INTERVAL_S);
	}
	free(info_text);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the pairing could not be saved");
	char uri[512], uri_complete[512];
	verification_uri(r, uri, sizeof uri, NULL);
	verification_uri(r, uri_complete, sizeof uri_complete, user_code);
	http_reply_json(r, 200,
	                json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "device_code", device_code, "user_code", user_code,
	                          "verification_uri", uri, "verification_uri_complete", uri_complete, "expires_in",
	                          (int)screens_pairing_ttl_s, "interval", SCREENS_POLL_INTERVAL_S));
	sodium_memzero(device_code, sizeof device_code);
	return 0;
}

int screens_handle_device_token(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	/* no request transaction: RFC 8628 answers 400 while it records the
	 * poll (slow_down), so each write below commits on its own */
	r->db = store_db();
	if (!r->db)
		return store_reply_error(r, DB_ERROR, NULL);
	const char *code = json_str(body, "device_code");
	if (!code || strlen(code) >= CODES_TOKEN_LEN + 8)
		return http_reply_error(r, 400, "invalid_request", "device_code is required");
	char hash[CODES_HASH_HEX_LEN];
	codes_hash_hex(code, strlen(code), hash);
	int64_t now = (int64_t)time(NULL);
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT expires_at, poll_interval, last_poll, screen_id FROM pairings "
	                              "WHERE device_code_hash = ?",
	                              "s", hash);
	if (!st)
		return http_reply_error(r, 400, "expired_token",
		                        "this pairing does not exist or has expired; start again");
	int64_t expires = db_col_int(st, 0), interval = db_col_int(st, 1), last = db_col_int(st, 2);
	char screen_id[CODES_ID_LEN + 1] = "";
	if (!db_col_is_null(st, 3))
		snprintf(screen_id, sizeof screen_id, "%s", db_col_text(st, 3));
	db_done(st);
	if (expires <= now) {
		db_exec(r->db, "DELETE FROM pairings WHERE device_code_hash = ?", "s", hash);
		return http_reply_error(r, 400, "expired_token", "the pairing code has expired; start again");
	}
	if (last && now - last < interval) {
		/* RFC 8628 3.5: slow down, and the interval grows by 5 seconds */
		db_exec(
		    r->db,
		    "UPDATE pairings SET poll_interval = poll_interval + 5, last_poll = ? WHERE device_code_hash = ?",
		    "is", now, hash);
		return http_reply_error_extra(
		    r, 400, "slow_down", json_pack("{s:I}", "interval", (json_int_t)interval + 5),
		    "polling too fast: wait %lld seconds between requests", (long long)interval + 5);
	}
	if (!*screen_id) {
		db_exec(r->db, "UPDATE pairings SET last_poll = ? WHERE device_code_hash = ?", "is", now, hash);
		return http_reply_error(r, 400, "authorization_pending", "waiting for a user to enter the code");
	}
	/* confirmed: the token is made now and shown only in this response */
	char token[CODES_TOKEN_LEN];
	if (db_begin(r->db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	bool claimed = screens_new_token(r->db, screen_id, token) == DB_DONE;
	db_exec(r->db, "DELETE FROM pairings WHERE device_code_hash = ?", "s", hash);
	if (db_commit(r->db) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	if (!claimed)
		return http_reply_error(r, 400, "expired_token", "the screen was deleted before pairing completed");
	/* the keys its releases may be signed with, for the player to keep */
	char account_id[CODES_ID_LEN + 1] = "";
	st = db_query(r->db, &rc, "SELECT account_id FROM screens WHERE id = ?", "s", screen_id);
	if (st)
		snprintf(account_id, sizeof account_id, "%s", db_col_text(st, 0));
	db_done(st);
	json_t *release_keys = updates_trusted_keys_json(*account_id ? r->db : NULL, account_id);
	http_reply_json(r, 200,
	                json_pack("{s:s, s:s, s:s, s:o}", "access_token", token, "token_type", "Bearer", "device_id",
	                          screen_id, "release_keys", release_keys));
	sodium_memzero(token, sizeof token);
	return 0;
}

int screens_new_token(struct db *db, const char *screen_id, char token[CODES_TOKEN_LEN])
{
	char token_hash[CODES_HASH_HEX_LEN];
	codes_new_token("vd_", token);
	codes_hash_hex(token, strlen(token), token_hash);
	int rc = db_exec(db, "UPDATE screens SET token_hash = ? WHERE id = ? AND deleted_at IS NULL", "ss", token_hash,
	                 screen_id);
	if (rc == DB_DONE && db_changes(db) != 1)
		rc = DB_CONSTRAINT; /* deleted meanwhile */
	/* the old token ends: its waiting poll and its cached answers
	 * (auth/device_cache.h) */
	if (rc == DB_DONE)
		db_notifyf(db, "screen:%s", screen_id);
	if (rc != DB_DONE)
		sodium_memzero(token, CODES_TOKEN_LEN);
	return rc;
}

/* Counts a wrong code; true when the caller is over the limit. The limit
 * is kept per (user, address) pair, so one user's typos never lock out the
 * other users behind the same address (a school behind NAT), with a larger
 * cap per address against guessing from many accounts. */
static bool guess_limited(struct http_req *r, bool count_it)
{
	int64_t now = (int64_t)time(NULL);
	char pair[CODES_ID_LEN + 1 + sizeof r->ip];
	snprintf(pair, sizeof pair, "%s|%s", r->auth.user_id, r->ip);
	int64_t (*op)(struct db *, const char *, const char *, int64_t, int64_t) =
	    count_it ? ratelimit_hit : ratelimit_count;
	int64_t u = op(r->db, "pair_guess_user_ip", pair, GUESS_WINDOW_S, now);
	int64_t ip = op(r->db, "pair_guess_ip", r->ip, GUESS_WINDOW_S, now);
	return u >= GUESSES_PER_USER_AND_ADDRESS || ip >= GUESSES_PER_ADDRESS;
}

static void reply_guess_limited(struct http_req *r)
{
	audit_request_detached(r, "pairing.guess_limited", r->ip, "too many wrong pairing codes");
	http_reply_error(r, 429, "too_many_attempts", "too many wrong pairing codes; wait 10 minutes");
	http_reply_header(r, "Retry-After", "600");
}

/* Finds a live, unconfirmed pairing by the typed code; replies otherwise.
 * The wrong-code counter is written in its own transaction so the 404 does
 * not roll it back. */
static struct db_stmt *find_pairing(struct http_req *r, const char *typed, char code[CODES_USER_CODE_LEN + 1])
{
	if (guess_limited(r, false)) {
		reply_guess_limited(r);
		return NULL;
	}
	int rc;
	struct db_stmt *st =
	    typed && codes_normalize_user_code(typed, code)
	        ? db_query(r->db, &rc,
	                   "SELECT hardware_id, public_key, info, ip, created_at, expires_at, device_code_hash "
	                   "FROM pairings WHERE user_code = ? AND expires_at > ? AND screen_id IS NULL",
	                   "si", code, (int64_t)time(NULL))
	        : NULL;
	if (!st) {
		guess_limited(r, true);
		audit_request(r, "pairing.wrong_code", typed ? typed : "", "");
		http_reply_error(r, 404, "unknown_code",
		                 "no screen is waiting with this code (codes expire after 10 minutes)");
	}
	return st;
}

/* These two routes run without a request transaction: a wrong code must be
 * counted (and audited) even though the request fails. */
int screens_handle_pairing_preview(struct http_req *r)
{
	r->db = store_db();
	if (!r->db)
		return store_reply_error(r, DB_ERROR, NULL);
	char code[CODES_USER_CODE_LEN + 1];
	struct db_stmt *st = find_pairing(r, http_param(r, "code"), code);
	if (!st)
		return 0;
	json_error_t jerr;
	json_t *info = json_loads(db_col_text(st, 2), 0, &jerr);
	json_t *out = json_pack("{s:s, s:s, s:o, s:s, s:I}", "user_code", code, "hardware_id", db_col_text(st, 0),
	                        "info", info ? info : json_object(), "ip", db_col_text(st, 3), "expires_at",
	                        (json_int_t)db_col_int(st, 5));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "pairing", out));
	return 0;
}

int screens_handle_pairing_confirm(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	r->db = store_db();
	if (!r->db)
		return store_reply_error(r, DB_ERROR, NULL);
	const char *typed = json_str(body, "user_code"), *name = json_str(body, "name");
	if (!typed)
		return http_reply_error(r, 400, "invalid_field",
		                        "user_code is required (the code shown on the screen)");
	if (!name || !printable(name, 128))
		return http_reply_error(r, 400, "invalid_field", "name must be a printable string of 1-128 bytes");
	char code[CODES_USER_CODE_LEN + 1];
	struct db_stmt *st = find_pairing(r, typed, code);
	if (!st)
		return 0;
	char hw[160], pk[64], info[1024], hash[CODES_HASH_HEX_LEN], ip[64];
	snprintf(hw, sizeof hw, "%s", db_col_text(st, 0));
	snprintf(pk, sizeof pk, "%s", db_col_text(st, 1));
	snprintf(info, sizeof info, "%s", db_col_text(st, 2));
	snprintf(ip, sizeof ip, "%s", db_col_text(st, 3));
	snprintf(hash, sizeof hash, "%s", db_col_text(st, 6));
	db_done(st);
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int64_t now = (int64_t)time(NULL);
	if (db_begin(r->db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	/* the pairing is claimed only if nobody confirmed it meanwhile */
	if (db_exec(r->db,
	            "INSERT INTO screens(id, account_id, name, hardware_id, public_key, info, last_ip, created_at, "
	            "created_by) VALUES(?,?,?,?,?,?,?,?,?)",
	            "sssssssis", id, r->auth.account_id, name, hw, pk, info, ip, now, r->auth.login) != DB_DONE ||
	    db_exec(r->db, "UPDATE pairings SET screen_id = ? WHERE device_code_hash = ? AND screen_id IS NULL", "ss",
	            id, hash) != DB_DONE ||
	    db_changes(r->db) != 1) {
		db_rollback(r->db);
		return http_reply_error(r, 409, "already_paired", "this code was just used by someone else");
	}
	screens_touch(r->db, r->auth.account_id, id);
	audit_request(r, "screen.paired", name, id);
	json_t *screen = screens_json(r->db, r->auth.account_id, id);
	if (db_commit(r->db) != DB_DONE) {
		json_decref(screen);
		return store_reply_error(r, DB_ERROR, "the screen could not be saved");
	}
	http_reply_json(r, 201, json_pack("{s:o}", "screen", screen));
	return 0;
}
