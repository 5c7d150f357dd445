/*
 * The keys trusted to sign releases: the server's own release key (a key
 * file in DATA/keys/, always trusted, listed first as "builtin" under the
 * id "server") and the keys an account's admins add, each with a name
 * (GET/POST /api/v1/release-keys, DELETE /api/v1/release-keys/{id}; every
 * change audited). Removing a key stops trusting it: its releases stay
 * listed but are no longer uploaded or served to screens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/keyfile.h"
#include "../../common/strfmt.h"
#include "../../common/utf8.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "internal.h"
#include "updates.h"

static unsigned char server_pk[crypto_sign_PUBLICKEYBYTES];

int updates_key_path(const char *data_dir, char *out, size_t outsz)
{
	return strfmt(out, outsz, "%s/keys/" UPDATES_KEY_FILE, data_dir);
}

int updates_key_load(const char *data_dir, char *err, size_t errsz)
{
	char path[4096];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	if (updates_key_path(data_dir, path, sizeof path) != 0) {
		snprintf(err, errsz, "the data folder's path is too long: %s", data_dir);
		return -1;
	}
	if (keyfile_load(path, sk, err, errsz) != 0)
		return -1;
	crypto_sign_ed25519_sk_to_pk(server_pk, sk);
	sodium_memzero(sk, sizeof sk);
	return 0;
}

void updates_key_public_b64(char out[RELEASE_KEY_B64_LEN])
{
	sodium_bin2base64(out, RELEASE_KEY_B64_LEN, server_pk, sizeof server_pk, sodium_base64_VARIANT_ORIGINAL);
}

/* A public key as an admin gives it: standard base64 of 32 bytes that are
 * a point of the curve (not one of small order, which anybody can "sign"
 * for). */
static bool parse_public_key(const char *b64, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	size_t got = 0;
	const char *end = NULL;
	return b64 &&
	       sodium_base642bin(pk, crypto_sign_PUBLICKEYBYTES, b64, strlen(b64), NULL, &got, &end,
	                         sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       got == crypto_sign_PUBLICKEYBYTES && end && *end == '\0' && crypto_core_ed25519_is_valid_point(pk);
}

const unsigned char *updates_key_public(void)
{
	return server_pk;
}

int updates_trusted_load(struct db *db, const char *account_id, struct updates_trusted *out)
{
	snprintf(out->ids[0], sizeof out->ids[0], "%s", UPDATES_BUILTIN_KEY_ID);
	snprintf(out->names[0], sizeof out->names[0], "%s", UPDATES_BUILTIN_KEY_ID);
	memcpy(out->public_keys[0], server_pk, sizeof server_pk);
	out->count = 1;
	struct db_stmt *st = db ? db_prepare(db, "SELECT id, name, public_key FROM release_keys WHERE account_id = ? "
	                                         "ORDER BY created_at, id LIMIT ?")
	                        : NULL;
	if (!st)
		return -1;
	db_bind_text(st, 1, account_id);
	db_bind_int(st, 2, UPDATES_MAX_KEYS);
	int rc;
	while ((rc = db_step(st)) == DB_ROW && out->count < UPDATES_MAX_KEYS + 1) {
		size_t i = out->count;
		if (!parse_public_key(db_col_text(st, 2), out->public_keys[i]))
			continue; /* checked when it was added */
		snprintf(out->ids[i], sizeof out->ids[i], "%s", db_col_text(st, 0));
		snprintf(out->names[i], sizeof out->names[i], "%s", db_col_text(st, 1));
		out->count++;
	}
	db_done(st);
	return rc == DB_DONE || rc == DB_ROW ? 0 : -1;
}

json_t *updates_trusted_keys_json(struct db *db, const char *account_id)
{
	struct updates_trusted *keys = malloc(sizeof *keys);
	json_t *list = json_array();
	char b64[RELEASE_KEY_B64_LEN];
	if (!keys) { /* the server's own key is trusted whatever happens */
		updates_key_public_b64(b64);
		json_array_append_new(list, json_string(b64));
		return list;
	}
	updates_trusted_load(db, account_id, keys);
	for (size_t i = 0; i < keys->count; i++) {
		sodium_bin2base64(b64, sizeof b64, keys->public_keys[i], crypto_sign_PUBLICKEYBYTES,
		                  sodium_base64_VARIANT_ORIGINAL);
		json_array_append_new(list, json_string(b64));
	}
	free(keys);
	return list;
}

static json_t *key_json(struct db_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:s}", "id", db_col_text(st, 0), "name", db_col_text(st, 1),
	                 "public_key", db_col_text(st, 2), "builtin", 0, "created_at", (json_int_t)db_col_int(st, 3),
	                 "created_by", db_col_text(st, 4));
}

int updates_handle_keys_list(struct http_req *r)
{
	char b64[RELEASE_KEY_B64_LEN];
	updates_key_public_b64(b64);
	json_t *list = json_array();
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b}", "id", UPDATES_BUILTIN_KEY_ID, "name",
	                                      UPDATES_BUILTIN_KEY_ID, "public_key", b64, "builtin", 1));
	struct db_stmt *st = db_prepare(r->db, "SELECT id, name, public_key, created_at, created_by FROM release_keys "
	                                       "WHERE account_id = ? ORDER BY created_at, id");
	if (!st) {
		json_decref(list);
		return store_reply_error(r, DB_ERROR, "the release keys could not be read");
	}
	db_bind_text(st, 1, r->auth.account_id);
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, key_json(st));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "keys", list));
}

/* NULL when name is a key's name, else why not. */
static const char *key_name_problem(json_t *name)
{
	static const char why[] = "name must be 1 to 64 characters, without control characters";
	const char *s = json_string_value(name);
	long chars = s ? utf8_chars(s) : -1;
	if (chars < 1 || chars > UPDATES_KEY_NAME_CHARS)
		return why;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return why;
	return NULL;
}

int updates_handle_key_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *member;
	json_t *v;
	json_object_foreach (body, member, v)
		if (strcmp(member, "name") != 0 && strcmp(member, "public_key") != 0)
			return http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\" (name, public_key)",
			                        member);
	json_t *jname = json_object_get(body, "name");
	const char *problem = key_name_problem(jname), *b64 = json_string_value(json_object_get(body, "public_key"));
	if (problem)
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	if (!parse_public_key(b64, pk))
		return http_reply_error(r, 400, "invalid_field",
		                        "public_key must be the standard base64 of a 32-byte Ed25519 public key (what "
		                        "`vitrine release keygen` prints)");
	if (memcmp(pk, server_pk, sizeof pk) == 0)
		return http_reply_error(r, 409, "key_exists", "this is the server's own release key, always trusted");
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT COUNT(*) FROM release_keys WHERE account_id = ?", "s", r->auth.account_id);
	int64_t count = st ? db_col_int(st, 0) : 0;
	db_done(st);
	if (count >= UPDATES_MAX_KEYS)
		return http_reply_error(r, 409, "too_many_keys",
		                        "an account trusts at most %d release keys; remove one", UPDATES_MAX_KEYS);
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	rc = db_exec(r->db,
	             "INSERT INTO release_keys(id, account_id, name, public_key, created_at, created_by) "
	             "VALUES(?,?,?,?,?,?)",
	             "ssssis", id, r->auth.account_id, json_string_value(jname), b64, (int64_t)time(NULL),
	             r->auth.login);
	if (rc == DB_CONSTRAINT)
		return http_reply_error(r, 409, "key_exists", "the account trusts this key already");
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the key could not be saved");
	audit_request(r, "release_key.added", id, json_string_value(jname));
	st = db_query(r->db, &rc, "SELECT id, name, public_key, created_at, created_by FROM release_keys WHERE id = ?",
	              "s", id);
	json_t *key = st ? key_json(st) : NULL;
	db_done(st);
	return http_reply_json(r, 201, json_pack("{s:o*}", "key", key));
}

int updates_handle_key_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (strcmp(id, UPDATES_BUILTIN_KEY_ID) == 0)
		return http_reply_error(r, 409, "builtin_key",
		                        "the server's own release key is always trusted and cannot be removed");
	int rc;
	struct db_stmt *st = codes_is_id(id)
	                         ? db_query(r->db, &rc, "SELECT name FROM release_keys WHERE id = ? AND account_id = ?",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "this account has no such release key");
	char name[UPDATES_KEY_NAME_MAX + 1];
	snprintf(name, sizeof name, "%s", db_col_text(st, 0));
	db_done(st);
	if ((rc = db_exec(r->db, "DELETE FROM release_keys WHERE id = ?", "s", id)) != DB_DONE)
		return store_reply_error(r, rc, "the key could not be removed");
	audit_request(r, "release_key.removed", id, name);
	return http_reply_empty(r, 204);
}
