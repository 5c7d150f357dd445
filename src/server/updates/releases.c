/*
 * Releases: the signed upload (POST /api/v1/releases), the list, a
 * release, its removal, and what screens download (the file with Range,
 * its signature file). See updates.h for the order of the upload's checks:
 * everything the headers can tell is refused before the body is read, the
 * hash when the body is in, and nothing is stored unless all of it holds.
 *
 * Files are content-addressed in DATA/releases/<sha256>, next to the
 * temporary files of uploads under way (<id>.part); a file goes when the
 * last release that links it is deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../content/objects.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "../store/tx.h"
#include "internal.h"

uint64_t updates_release_max_bytes = (uint64_t)2 << 30;

static int releases_dir(const char *data_dir, char *out, size_t outsz)
{
	return strfmt(out, outsz, "%s/releases", data_dir);
}

static int release_path(const char *data_dir, const char *sha256, char *out, size_t outsz)
{
	return strfmt(out, outsz, "%s/releases/%s", data_dir, sha256);
}

/* Removes the file sha256 when no release of any account links it. */
static void collect_file(struct db *db, const char *data_dir, const char *sha256)
{
	char path[4096];
	if (release_path(data_dir, sha256, path, sizeof path) != 0)
		return;
	objects_lock();
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT 1 FROM releases WHERE sha256 = ? LIMIT 1", "s", sha256);
	db_done(st);
	if (!st && rc == DB_DONE)
		unlink(path);
	objects_unlock();
}

/* --- what a release says --- */

#define RELEASE_COLUMNS                                                                                                \
	"r.id, r.name, r.version, r.sha256, r.size, r.key_id, r.key_name, r.public_key, r.filename, r.created_at, "    \
	"r.created_by, r.signature, "                                                                                  \
	"((r.key_id = '" UPDATES_BUILTIN_KEY_ID "' AND r.public_key = ?1) OR EXISTS (SELECT 1 FROM release_keys k "    \
	"WHERE k.id = r.key_id AND k.account_id = r.account_id AND k.public_key = r.public_key))"

enum {
	COL_ID,
	COL_NAME,
	COL_VERSION,
	COL_SHA256,
	COL_SIZE,
	COL_KEY_ID,
	COL_KEY_NAME,
	COL_PUBLIC_KEY,
	COL_FILENAME,
	COL_CREATED_AT,
	COL_CREATED_BY,
	COL_SIGNATURE,
	COL_TRUSTED
};

static json_t *release_json(struct db_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:I, s:s}", "id", db_col_text(st, COL_ID),
	                 "name", db_col_text(st, COL_NAME), "version", db_col_text(st, COL_VERSION), "sha256",
	                 db_col_text(st, COL_SHA256), "size", (json_int_t)db_col_int(st, COL_SIZE), "key_id",
	                 db_col_text(st, COL_KEY_ID), "key_name", db_col_text(st, COL_KEY_NAME), "public_key",
	                 db_col_text(st, COL_PUBLIC_KEY), "trusted", db_col_int(st, COL_TRUSTED) != 0, "filename",
	                 db_col_text(st, COL_FILENAME), "created_at", (json_int_t)db_col_int(st, COL_CREATED_AT),
	                 "created_by", db_col_text(st, COL_CREATED_BY));
}

/* The release id of account_id, positioned on its row (RELEASE_COLUMNS),
 * or NULL. The caller calls db_done. */
static struct db_stmt *find_release(struct db *db, const char *account_id, const char *id)
{
	if (!codes_is_id(id))
		return NULL;
	char server_key[RELEASE_KEY_B64_LEN];
	updates_key_public_b64(server_key);
	int rc;
	return db_query(db, &rc, "SELECT " RELEASE_COLUMNS " FROM releases r WHERE r.id = ?2 AND r.account_id = ?3",
	                "sss", server_key, id, account_id);
}

static json_t *release_load(struct db *db, const char *account_id, const char *id)
{
	struct db_stmt *st = find_release(db, account_id, id);
	json_t *j = st ? release_json(st) : NULL;
	db_done(st);
	return j;
}

/* --- the upload: POST /api/v1/releases, streamed --- */

struct release_upload {
	struct object_upload file;
	struct release_signature sig;
	char signature[RELEASE_SIGNATURE_FILE_MAX + 1]; /* the file as sent */
	size_t signature_len;
	char version_key[RELEASE_VERSION_KEY_LEN];
	char key_id[CODES_ID_LEN + 1];
	char key_name[UPDATES_KEY_NAME_MAX + 1];
	char filename[256];
};

static void upload_cleanup(struct http_req *r)
{
	struct release_upload *up = r->scratch;
	if (up)
		object_upload_discard(&up->file);
}

/* Decodes, parses and verifies the X-Release-Signature header against the
 * account's trusted keys; replies 400 when it does not hold. */
static void check_signature(struct http_req *r, struct db *db, struct release_upload *up)
{
	const char *header = http_header(r, "X-Release-Signature");
	if (!header || !*header) {
		http_reply_error(r, 400, "signature_required",
		                 "a release needs its signature file, in base64, in the X-Release-Signature header "
		                 "(`vitrine release sign` makes one)");
		return;
	}
	const char *end = NULL;
	if (sodium_base642bin((unsigned char *)up->signature, RELEASE_SIGNATURE_FILE_MAX, header, strlen(header), NULL,
	                      &up->signature_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    !end || *end) {
		http_reply_error(r, 400, "bad_signature_file",
		                 "X-Release-Signature must be the standard base64 of the signature file (at most %d "
		                 "bytes)",
		                 RELEASE_SIGNATURE_FILE_MAX);
		return;
	}
	up->signature[up->signature_len] = '\0';
	char err[RELEASE_ERR_LEN];
	if (release_signature_parse(up->signature, up->signature_len, &up->sig, err, sizeof err) != 0) {
		http_reply_error(r, 400, "bad_signature_file", "%s", err);
		return;
	}
	struct updates_trusted *keys = malloc(sizeof *keys);
	if (!keys) {
		http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	size_t which = 0;
	enum release_verdict v = RELEASE_UNTRUSTED_KEY;
	if (updates_trusted_load(db, r->auth.account_id, keys) != 0)
		store_reply_error(r, DB_ERROR, "the trusted keys could not be read");
	else
		v = release_signature_verify(&up->sig, keys->public_keys[0], keys->count, &which, err, sizeof err);
	if (!r->resp && v == RELEASE_VALID) {
		snprintf(up->key_id, sizeof up->key_id, "%s", keys->ids[which]);
		snprintf(up->key_name, sizeof up->key_name, "%s", keys->names[which]);
	} else if (!r->resp && v == RELEASE_UNTRUSTED_KEY) {
		http_reply_error(r, 400, "untrusted_key", "%s: add it to the account's release keys first", err);
	} else if (!r->resp) {
		http_reply_error(r, 400, "bad_signature", "%s", err);
	}
	free(keys);
}

static int upload_begin(struct http_req *r)
{
	struct release_upload *up = calloc(1, sizeof *up);
	if (!up)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	object_upload_init(&up->file);
	r->scratch = up;
	r->cleanup = upload_cleanup;
	struct db *db = store_db();
	if (!db)
		return store_reply_error(r, DB_ERROR, NULL);
	check_signature(r, db, up);
	if (r->resp)
		return 0;
	const struct release_signature *sig = &up->sig;
	const char *cl = http_header(r, "Content-Length");
	char *cl_end = NULL;
	unsigned long long announced = cl ? strtoull(cl, &cl_end, 10) : 0;
	if (!cl || !*cl || *cl_end || announced != sig->size)
		return http_reply_error_extra(r, 400, "size_mismatch",
		                              json_pack("{s:I}", "size", (json_int_t)sig->size),
		                              "the body must be the %llu bytes the signature file signs, sent with "
		                              "Content-Length: %llu (got %s)",
		                              (unsigned long long)sig->size, (unsigned long long)sig->size,
		                              cl ? "another length" : "no Content-Length");
	if (sig->size > updates_release_max_bytes)
		return http_reply_error_extra(r, 413, "release_too_large",
		                              json_pack("{s:I, s:I}", "size", (json_int_t)sig->size, "max",
		                                        (json_int_t)updates_release_max_bytes),
		                              "this release has %llu bytes; the server takes releases of at most %llu "
		                              "(the setting release_max_bytes)",
		                              (unsigned long long)sig->size,
		                              (unsigned long long)updates_release_max_bytes);
	release_version_key(sig->version, up->version_key);
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT version FROM releases WHERE account_id = ? AND name = ? AND version_key = ?",
	             "sss", r->auth.account_id, sig->name, up->version_key);
	if (st) {
		char had[RELEASE_VERSION_MAX + 1];
		snprintf(had, sizeof had, "%s", db_col_text(st, 0));
		db_done(st);
		if (strcmp(had, sig->version) == 0)
			return http_reply_error(r, 409, "release_exists", "the account has %s %s already", sig->name,
			                        had);
		return http_reply_error(r, 409, "release_exists",
		                        "the account has %s %s already, the same version as %s", sig->name, had,
		                        sig->version);
	}
	char fallback[RELEASE_NAME_MAX + RELEASE_VERSION_MAX + 2];
	snprintf(fallback, sizeof fallback, "%s-%s", sig->name, sig->version);
	objects_sanitize_filename(http_header(r, "X-Filename"), "", up->filename, sizeof up->filename);
	if (!up->filename[0])
		snprintf(up->filename, sizeof up->filename, "%s", fallback);
	char dir[4096];
	if (releases_dir(server_config(r->srv)->data_dir, dir, sizeof dir) != 0 || objects_make_dir(dir) != 0)
		return http_reply_error(r, 500, "internal", "the releases folder cannot be made");
	object_upload_open(r, &up->file, dir, true, sig->size);
	return 0;
}

static int upload_chunk(struct http_req *r, const char *data, size_t len)
{
	struct release_upload *up = r->scratch;
	if (up->file.failed) /* answered already; the core drops the rest */
		return 0;
	if (object_upload_write(&up->file, data, len) != 0)
		return object_reply_failed(r, &up->file, server_config(r->srv)->data_dir);
	return 0;
}

const struct route_stream updates_release_upload = {upload_begin, upload_chunk};

/* Records an upload in its own write transaction, under objects_lock:
 * the file moves into place only once the row can be written. */
enum record_outcome { RECORDED, RECORD_EXISTS, RECORD_UNTRUSTED, RECORD_NOT_MOVED, RECORD_FAILED };
struct record {
	struct http_req *r;
	struct release_upload *up;
	const char *path;
	char id[CODES_ID_LEN + 1];
	enum record_outcome outcome;
};

static int record_release(struct db *db, void *arg)
{
	struct record *x = arg;
	struct http_req *r = x->r;
	struct release_upload *up = x->up;
	int rc;
	x->outcome = RECORD_FAILED;
	struct db_stmt *st;
	if (strcmp(up->key_id, UPDATES_BUILTIN_KEY_ID) != 0) { /* it may have been removed while the body arrived */
		st = db_query(db, &rc, "SELECT 1 FROM release_keys WHERE id = ? AND account_id = ?", "ss", up->key_id,
		              r->auth.account_id);
		db_done(st);
		if (!st) {
			x->outcome = RECORD_UNTRUSTED;
			return -1;
		}
	}
	st = db_query(db, &rc, "SELECT 1 FROM releases WHERE account_id = ? AND name = ? AND version_key = ?", "sss",
	              r->auth.account_id, up->sig.name, up->version_key);
	db_done(st);
	if (st) {
		x->outcome = RECORD_EXISTS;
		return -1;
	}
	if (object_upload_move(&up->file, x->path) != 0) {
		log_event(LOG_ERROR, "cannot move a release into place", "path", x->path, "error", strerror(errno),
		          NULL);
		x->outcome = RECORD_NOT_MOVED;
		return -1;
	}
	char b64[RELEASE_KEY_B64_LEN];
	sodium_bin2base64(b64, sizeof b64, up->sig.key, sizeof up->sig.key, sodium_base64_VARIANT_ORIGINAL);
	codes_new_id(x->id);
	rc = db_exec(db,
	             "INSERT INTO releases(id, account_id, name, version, version_key, sha256, size, key_id, key_name, "
	             "public_key, signature, filename, created_at, created_by) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	             "ssssssisssssis", x->id, r->auth.account_id, up->sig.name, up->sig.version, up->version_key,
	             up->sig.sha256, (int64_t)up->sig.size, up->key_id, up->key_name, b64, up->signature, up->filename,
	             (int64_t)time(NULL), r->auth.login);
	if (rc == DB_CONSTRAINT)
		x->outcome = RECORD_EXISTS;
	if (rc != DB_DONE)
		return -1;
	char detail[RELEASE_NAME_MAX + RELEASE_VERSION_MAX + UPDATES_KEY_NAME_MAX + 120];
	snprintf(detail, sizeof detail, "%s %s sha256 %s, signed by %s", up->sig.name, up->sig.version, up->sig.sha256,
	         up->key_name);
	r->db = db; /* the audit entry joins this transaction */
	rc = audit_request(r, "release.uploaded", x->id, detail);
	r->db = NULL;
	if (rc != 0)
		return -1;
	x->outcome = RECORDED;
	return 0;
}

/* The end of an upload. The route has no transaction of its own: the
 * fsync of the whole file runs before the write lock is taken. */
int updates_handle_release_upload(struct http_req *r)
{
	struct release_upload *up = r->scratch;
	const char *data = server_config(r->srv)->data_dir;
	if (up->file.failed)
		return object_reply_failed(r, &up->file, data);
	if (up->file.size != up->sig.size) /* Content-Length was checked: a defence only */
		return http_reply_error(r, 400, "size_mismatch", "the body has %llu bytes, not the %llu signed",
		                        (unsigned long long)up->file.size, (unsigned long long)up->sig.size);
	char hex[65];
	object_upload_digest(&up->file, hex);
	if (strcmp(hex, up->sig.sha256) != 0) {
		object_upload_discard(&up->file);
		return http_reply_error_extra(r, 400, "hash_mismatch", json_pack("{s:s}", "actual", hex),
		                              "the body's SHA-256 is %s, not the %s the signature file signs: nothing "
		                              "was stored",
		                              hex, up->sig.sha256);
	}
	if (object_upload_sync(r, &up->file, data) != 0)
		return 0;
	char path[4096];
	if (release_path(data, up->sig.sha256, path, sizeof path) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for releases");
	struct record x = {.r = r, .up = up, .path = path};
	objects_lock();
	int rc = store_with_tx(record_release, &x);
	objects_unlock();
	struct db *db = store_db();
	if (rc != 0 && db) /* a file moved in by a transaction that did not commit */
		collect_file(db, data, up->sig.sha256);
	switch (rc == 0 ? RECORDED : x.outcome == RECORDED ? RECORD_FAILED : x.outcome) {
	case RECORDED:
		break;
	case RECORD_EXISTS:
		return http_reply_error(r, 409, "release_exists", "the account has %s %s already", up->sig.name,
		                        up->sig.version);
	case RECORD_UNTRUSTED:
		return http_reply_error(r, 400, "untrusted_key",
		                        "the key that signed this release was removed while it was uploaded");
	case RECORD_NOT_MOVED:
		return http_reply_error(r, 500, "internal", "the upload could not be moved into the releases folder");
	case RECORD_FAILED:
		return store_reply_error(r, DB_ERROR, "the release could not be recorded");
	}
	json_t *rel = db ? release_load(db, r->auth.account_id, x.id) : NULL;
	return http_reply_json(r, 201, json_pack("{s:o*}", "release", rel));
}

/* --- the list, one release, removal --- */

/* GET /api/v1/releases[?name&q&limit&offset&sort]: newest version of each
 * name first unless sorted. */
int updates_handle_releases_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {
	    {"name", "r.name"},
	    {"version", "r.version_key"},
	    {"created_at", "r.created_at"},
	    {"size", "r.size"},
	};
	static const struct listquery_spec spec = {
	    sorts, sizeof sorts / sizeof sorts[0], "r.name, r.version_key DESC", "r.id", 1000, 1000};
	struct listquery lq;
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
	const char *name = http_query(r, "name");
	if (name && release_name_problem(name))
		return http_reply_error(r, 400, "invalid_parameter", "%s", release_name_problem(name));
#define RELEASES_MATCHING                                                                                              \
	" FROM releases r WHERE r.account_id = ?2 AND (?3 = '' OR r.name = ?3) AND "                                   \
	"(?4 = '' OR r.name LIKE ?4 ESCAPE '\\' OR r.filename LIKE ?4 ESCAPE '\\' OR r.version LIKE ?4 ESCAPE '\\')"
	char sql[2048];
	int n = snprintf(sql, sizeof sql, "SELECT " RELEASE_COLUMNS RELEASES_MATCHING " ORDER BY %s LIMIT ?5 OFFSET ?6",
	                 lq.order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return store_reply_error(r, DB_ERROR, "the releases could not be listed");
	char server_key[RELEASE_KEY_B64_LEN];
	updates_key_public_b64(server_key);
	db_bind_text(st, 1, server_key);
	db_bind_text(st, 2, r->auth.account_id);
	db_bind_text(st, 3, name ? name : "");
	db_bind_text(st, 4, lq.like);
	db_bind_int(st, 5, lq.limit);
	db_bind_int(st, 6, lq.offset);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, release_json(st));
	db_done(st);
	int rc;
	st = db_query(r->db, &rc, "SELECT COUNT(*)" RELEASES_MATCHING, "ssss", server_key, r->auth.account_id,
	              name ? name : "", lq.like);
#undef RELEASES_MATCHING
	int64_t total = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o, s:I}", "releases", list, "total", (json_int_t)total));
}

int updates_handle_release_get(struct http_req *r)
{
	json_t *rel = release_load(r->db, r->auth.account_id, http_param(r, "id"));
	if (!rel)
		return http_reply_error(r, 404, "not_found", "this account has no such release");
	return http_reply_json(r, 200, json_pack("{s:o}", "release", rel));
}

/* Runs when the delete request ends, after its transaction: the bytes go
 * at once when no release links them any more. */
static void collect_after_delete(struct http_req *r)
{
	struct db *db = store_db();
	if (r->status == 204 && db && !db_in_tx(db))
		collect_file(db, server_config(r->srv)->data_dir, r->scratch);
}

int updates_handle_release_delete(struct http_req *r)
{
	struct db_stmt *st = find_release(r->db, r->auth.account_id, http_param(r, "id"));
	if (!st)
		return http_reply_error(r, 404, "not_found", "this account has no such release");
	char id[CODES_ID_LEN + 1], detail[RELEASE_NAME_MAX + RELEASE_VERSION_MAX + 2];
	char *sha = strdup(db_col_text(st, COL_SHA256));
	snprintf(id, sizeof id, "%s", db_col_text(st, COL_ID));
	snprintf(detail, sizeof detail, "%s %s", db_col_text(st, COL_NAME), db_col_text(st, COL_VERSION));
	db_done(st);
	if (!sha)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	int rc = db_exec(r->db, "DELETE FROM releases WHERE id = ?", "s", id);
	if (rc != DB_DONE) {
		free(sha);
		return store_reply_error(r, rc, "the release could not be deleted");
	}
	audit_request(r, "release.deleted", id, detail);
	free(r->scratch);
	r->scratch = sha;
	r->cleanup = collect_after_delete;
	return http_reply_empty(r, 204);
}

/* --- for screens --- */

/* The release of the device's account that it may fetch, positioned on
 * its row, or NULL after replying 404 (none) or 403 (its key is no longer
 * trusted). */
static struct db_stmt *device_release(struct http_req *r, const char *id)
{
	struct db_stmt *st = find_release(r->db, r->auth.account_id, id);
	if (!st) {
		http_reply_error(r, 404, "not_found", "no such release");
		return NULL;
	}
	if (!db_col_int(st, COL_TRUSTED)) {
		db_done(st);
		http_reply_error(r, 403, "untrusted_key",
		                 "the key that signed this release is no longer trusted by the account");
		return NULL;
	}
	return st;
}

int updates_serve_release(struct http_req *r, const char *id)
{
	struct db_stmt *st = device_release(r, id);
	if (!st)
		return 0;
	char sha[65], path[4096];
	snprintf(sha, sizeof sha, "%s", db_col_text(st, COL_SHA256));
	db_done(st);
	if (release_path(server_config(r->srv)->data_dir, sha, path, sizeof path) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for releases");
	return objects_serve(r, path, sha, "application/octet-stream", "private, max-age=31536000, immutable");
}

int updates_handle_device_release(struct http_req *r)
{
	return updates_serve_release(r, http_param(r, "id"));
}

int updates_release_digests(struct db *db, const char *data_dir, const char *sha256, bool keep, char sha1[41],
                            char md5[33])
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT sha1, md5 FROM releases WHERE sha256 = ? AND sha1 <> '' LIMIT 1", "s", sha256);
	if (st) {
		snprintf(sha1, 41, "%s", db_col_text(st, 0));
		snprintf(md5, 33, "%s", db_col_text(st, 1));
		db_done(st);
		return strlen(sha1) == 40 && strlen(md5) == 32 ? 0 : -1;
	}
	char path[4096];
	if (release_path(data_dir, sha256, path, sizeof path) != 0)
		return -1;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	struct sha1_ctx s1;
	struct md5_ctx m5;
	sha1_init(&s1);
	md5_init(&m5);
	static _Thread_local unsigned char chunk[64 * 1024];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		sha1_update(&s1, n, chunk);
		md5_update(&m5, n, chunk);
	}
	bool failed = ferror(f) != 0;
	fclose(f);
	if (failed)
		return -1;
	unsigned char d1[SHA1_DIGEST_SIZE], d5[MD5_DIGEST_SIZE];
	sha1_digest(&s1, sizeof d1, d1);
	md5_digest(&m5, sizeof d5, d5);
	sodium_bin2hex(sha1, 41, d1, sizeof d1);
	sodium_bin2hex(md5, 33, d5, sizeof d5);
	/* kept for the next time; a failure to keep them costs only a recomputation */
	if (keep)
		db_exec(db, "UPDATE releases SET sha1 = ?, md5 = ? WHERE sha256 = ?", "sss", sha1, md5, sha256);
	return 0;
}

int updates_handle_device_release_signature(struct http_req *r)
{
	struct db_stmt *st = device_release(r, http_param(r, "id"));
	if (!st)
		return 0;
	char *text = strdup(db_col_text(st, COL_SIGNATURE));
	db_done(st);
	if (!text)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	return http_reply_owned(r, 200, "application/json", text, strlen(text));
}

/* --- disk space --- */

void updates_releases_sweep(const char *data_dir, bool at_start)
{
	char dir[4096];
	if (releases_dir(data_dir, dir, sizeof dir) != 0)
		return;
	unsigned temps = objects_sweep_temp_files(dir, at_start), files = 0;
	struct db *db = store_db();
	DIR *d = db && !db_in_tx(db) ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[4200];
		struct stat sb;
		if (!codes_is_sha256(e->d_name) || strfmt(path, sizeof path, "%s/%s", dir, e->d_name) != 0)
			continue;
		collect_file(db, data_dir, e->d_name);
		if (stat(path, &sb) != 0)
			files++;
	}
	if (d)
		closedir(d);
	if (temps || files) {
		char t[16], f[16];
		snprintf(t, sizeof t, "%u", temps);
		snprintf(f, sizeof f, "%u", files);
		log_event(LOG_INFO, "release disk space reclaimed", "temporary_files", t, "unlinked_files", f, NULL);
	}
}
