/*
 * What a player whose local state is damaged gets back from the server
 * (the watchdog of SPEC section 7), so that it restores itself instead of
 * failing:
 *
 * - GET /api/v1/device/config: its configuration as the server keeps it
 *   (screen id and name, display power schedule, the last instruction it
 *   acknowledged) — for a damaged state file.
 * - POST /api/v1/device/challenge, then POST /api/v1/device/recover with
 *   the challenge signed by its pairing key: a new access token for the
 *   screen that key belongs to — for a damaged or lost token file. The
 *   challenge is random, lives two minutes and is used once; the old token
 *   stops working. A deleted screen is never recovered.
 * - PUT /api/v1/device/key (with its token): a new pairing key — for a
 *   damaged key file. Remote-control clients that pinned the old key then
 *   refuse the screen until someone pins the new one (audited).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "../updates/updates.h"
#include "mdm.h"

#define CHALLENGE_TTL_S   120
#define CHALLENGES_PER_IP 30 /* per 10 minutes */
#define RECOVER_CONTEXT   "vitrine-recover-1\n"
#define CHALLENGE_B64_MAX 64

int mdm_handle_device_config(struct http_req *r)
{
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT name, power_schedule, remote_consent FROM screens WHERE id = ?", "s",
	             r->auth.device_id);
	if (!st)
		return store_reply_error(r, rc == DB_DONE ? DB_ERROR : rc, "the screen could not be read");
	json_error_t e;
	json_t *schedule = json_loads(db_col_text(st, 1), 0, &e);
	json_t *cfg =
	    json_pack("{s:s, s:s, s:o, s:b}", "device_id", r->auth.device_id, "name", db_col_text(st, 0),
	              "power_schedule", schedule ? schedule : json_array(), "remote_consent", db_col_int(st, 2) != 0);
	db_done(st);
	st =
	    db_query(r->db, &rc,
	             "SELECT COALESCE(MAX(seq), 0) FROM instructions WHERE screen_id = ? AND status IN ('ok','failed')",
	             "s", r->auth.device_id);
	json_object_set_new(cfg, "last_acked_seq", json_integer(st ? db_col_int(st, 0) : 0));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "config", cfg));
	return 0;
}

int mdm_handle_device_challenge(struct http_req *r)
{
	int64_t now = (int64_t)time(NULL);
	if (ratelimit_hit(r->db, "recover_challenge_ip", r->ip, 600, now) > CHALLENGES_PER_IP) {
		http_reply_error(r, 429, "too_many_attempts", "too many recovery challenges from this address; wait");
		http_reply_header(r, "Retry-After", "600");
		return 0;
	}
	unsigned char raw[32];
	char challenge[CHALLENGE_B64_MAX];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(challenge, sizeof challenge, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	db_exec(r->db, "DELETE FROM device_challenges WHERE expires_at <= ?", "i", now);
	int rc = db_exec(r->db, "INSERT INTO device_challenges(challenge, expires_at) VALUES(?,?)", "si", challenge,
	                 now + CHALLENGE_TTL_S);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the challenge could not be saved");
	http_reply_json(r, 200,
	                json_pack("{s:s, s:i, s:s}", "challenge", challenge, "expires_in", CHALLENGE_TTL_S, "sign",
	                          "Ed25519 over \"vitrine-recover-1\\n\" + challenge + \"\\n\" + public_key"));
	return 0;
}

static bool decode_key(const char *b64, unsigned char out[crypto_sign_PUBLICKEYBYTES])
{
	size_t len = 0;
	return b64 && strlen(b64) < 64 &&
	       sodium_base642bin(out, crypto_sign_PUBLICKEYBYTES, b64, strlen(b64), NULL, &len, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       len == crypto_sign_PUBLICKEYBYTES;
}

int mdm_handle_device_recover(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *pk = json_string_value(json_object_get(body, "public_key"));
	const char *challenge = json_string_value(json_object_get(body, "challenge"));
	const char *sig64 = json_string_value(json_object_get(body, "signature"));
	unsigned char key[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
	size_t sig_len = 0;
	if (!decode_key(pk, key))
		return http_reply_error(r, 400, "invalid_field", "public_key must be an Ed25519 public key (base64)");
	if (!challenge || strlen(challenge) >= CHALLENGE_B64_MAX)
		return http_reply_error(r, 400, "invalid_field",
		                        "challenge must be the one POST /api/v1/device/challenge gave");
	if (!sig64 || strlen(sig64) > 128 ||
	    sodium_base642bin(sig, sizeof sig, sig64, strlen(sig64), NULL, &sig_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sig_len != sizeof sig)
		return http_reply_error(r, 400, "invalid_field", "signature must be an Ed25519 signature (base64)");
	r->db = store_db();
	if (!r->db)
		return store_reply_error(r, DB_ERROR, NULL);
	int64_t now = (int64_t)time(NULL);
	/* used once, whatever comes next: this route has no transaction of its
	 * own, so the delete stands even when the proof is then refused */
	int rc = db_exec(r->db, "DELETE FROM device_challenges WHERE challenge = ? AND expires_at > ?", "si", challenge,
	                 now);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, NULL);
	if (db_changes(r->db) != 1)
		return http_reply_error(r, 400, "invalid_challenge", "the challenge is unknown, used or expired");
	char message[256];
	int n = snprintf(message, sizeof message, RECOVER_CONTEXT "%s\n%s", challenge, pk);
	if (n < 0 || (size_t)n >= sizeof message ||
	    crypto_sign_verify_detached(sig, (const unsigned char *)message, (size_t)n, key) != 0)
		return http_reply_error(r, 401, "invalid_signature", "the signature does not match the public key");
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT id, account_id FROM screens WHERE public_key = ? AND deleted_at IS NULL "
	                              "AND token_hash IS NOT NULL",
	                              "s", pk);
	if (!st)
		return http_reply_error(r, 404, "not_found",
		                        "no paired screen has this key (a deleted screen must be paired again)");
	char screen_id[CODES_ID_LEN + 1], account_id[CODES_ID_LEN + 1];
	snprintf(screen_id, sizeof screen_id, "%s", db_col_text(st, 0));
	snprintf(account_id, sizeof account_id, "%s", db_col_text(st, 1));
	db_done(st);
	char token[CODES_TOKEN_LEN];
	rc = db_begin(r->db, true);
	if (rc == DB_DONE)
		rc = screens_new_token(r->db, screen_id, token);
	if (rc == DB_DONE) {
		db_notifyf(r->db, "screen:%s", screen_id); /* a long-poll with the old token ends with 401 */
		audit_append(r->db, account_id, NULL, "", r->ip, "screen.recovered", screen_id,
		             "new access token for a proof of the pairing key");
		screens_touch(r->db, account_id, screen_id);
		rc = db_commit(r->db);
	} else if (db_in_tx(r->db)) {
		db_rollback(r->db);
	}
	if (rc != DB_DONE) {
		sodium_memzero(token, sizeof token);
		return store_reply_error(r, rc, "the new token could not be saved");
	}
	http_reply_json(
	    r, 200,
	    json_pack("{s:s, s:s, s:s}", "access_token", token, "token_type", "Bearer", "device_id", screen_id));
	sodium_memzero(token, sizeof token);
	return 0;
}

int mdm_handle_device_key(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *pk = json_string_value(json_object_get(body, "public_key"));
	unsigned char key[crypto_sign_PUBLICKEYBYTES];
	if (!decode_key(pk, key))
		return http_reply_error(r, 400, "invalid_field", "public_key must be an Ed25519 public key (base64)");
	int rc = db_exec(r->db, "UPDATE screens SET public_key = ? WHERE id = ? AND public_key <> ?", "sss", pk,
	                 r->auth.device_id, pk);
	if (rc == DB_CONSTRAINT)
		return http_reply_error(r, 409, "key_taken", "another screen has this key");
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the key could not be saved");
	if (db_changes(r->db) == 1) {
		audit_request(r, "screen.key_replaced", r->auth.device_id,
		              "the player made a new pairing key after finding its key file damaged");
		screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	}
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}
