/* The media library and object downloads; see content.h. Also the disk
 * space they take: upload temporary files left by a crash are swept, and
 * objects no media row links are collected (content_media_sweep). */
#include "content.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <magic.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "../store/tx.h"
#include "../tags.h"
#include "objects.h"

static const struct allowed_type {
	const char *mime;
	const char *kind;
} allowed_types[] = {
    {"image/png", "image"}, {"image/jpeg", "image"}, {"image/webp", "image"}, {"image/gif", "image"},
    {"video/mp4", "video"}, {"video/webm", "video"}, {"text/html", "html"},
};

int content_object_path(const char *data_dir, const char *sha256, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/media/%.2s/%s", data_dir, sha256, sha256);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Thumbnails of images: data/media/thumbs/<sha256>.png, at most
 * THUMB_MAX pixels a side, made once when the image is uploaded. */
#define THUMB_MAX        320
#define THUMB_MAX_PIXELS ((int64_t)40 * 1000 * 1000) /* decompression bombs stay undecoded */

static int thumb_path(const char *data_dir, const char *sha256, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/media/thumbs/%s.png", data_dir, sha256);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static bool has_thumbnail(const char *data_dir, const char *sha256)
{
	char path[4096];
	struct stat sb;
	return thumb_path(data_dir, sha256, path, sizeof path) == 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Decodes the image at path (the first frame of an animation) and writes
 * its thumbnail into place atomically. A failure only costs the thumbnail. */
static void make_thumbnail(const char *data_dir, const char *sha256, const char *path)
{
	char dest[4096], tmp[4096], dir[4096];
	if (thumb_path(data_dir, sha256, dest, sizeof dest) != 0)
		return;
	int w = 0, h = 0;
	if (!gdk_pixbuf_get_file_info(path, &w, &h) || w <= 0 || h <= 0) {
		log_event(LOG_WARN, "no thumbnail: the image cannot be read", "sha256", sha256, NULL);
		return;
	}
	if ((int64_t)w * h > THUMB_MAX_PIXELS) {
		char dims[64];
		snprintf(dims, sizeof dims, "%dx%d", w, h);
		log_event(LOG_WARN, "no thumbnail: the image is too large to decode", "sha256", sha256, "size", dims,
		          NULL);
		return;
	}
	GError *err = NULL;
	GdkPixbuf *pb = gdk_pixbuf_new_from_file_at_scale(path, THUMB_MAX, THUMB_MAX, TRUE, &err);
	if (!pb) {
		log_event(LOG_WARN, "no thumbnail: the image cannot be decoded", "sha256", sha256, "error",
		          err && err->message ? err->message : "unknown", NULL);
		if (err)
			g_error_free(err);
		return;
	}
	if (strfmt(dir, sizeof dir, "%s/media/thumbs", data_dir) != 0) {
		g_object_unref(pb);
		return;
	}
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int n = snprintf(tmp, sizeof tmp, "%s/media/tmp/%s.thumb", data_dir, id);
	bool ok = n > 0 && (size_t)n < sizeof tmp && objects_make_dir(dir) == 0 &&
	          gdk_pixbuf_save(pb, tmp, "png", &err, NULL);
	g_object_unref(pb);
	if (ok && rename(tmp, dest) == 0)
		return;
	log_event(LOG_WARN, "no thumbnail: it could not be written", "sha256", sha256, "error",
	          err && err->message ? err->message : strerror(errno), NULL);
	if (err)
		g_error_free(err);
	unlink(tmp);
}

static int64_t account_usage(struct db *db, const char *account_id, int64_t *quota)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT (SELECT COALESCE(SUM(size),0) FROM media WHERE account_id = ?), quota_bytes "
	             "FROM accounts WHERE id = ?",
	             "ss", account_id, account_id);
	int64_t used = st ? db_col_int(st, 0) : 0;
	*quota = st ? db_col_int(st, 1) : 0;
	db_done(st);
	return used;
}

json_t *content_media_json(struct db *db, const char *account_id, const char *sha256)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT sha256, size, mime, kind, filename, tags, created_at, created_by FROM media "
	             "WHERE account_id = ? AND sha256 = ?",
	             "ss", account_id, sha256);
	if (!st)
		return NULL;
	json_error_t e;
	json_t *tags = json_loads(db_col_text(st, 5), 0, &e);
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:I, s:s}", "sha256", db_col_text(st, 0), "size",
	                      (json_int_t)db_col_int(st, 1), "mime", db_col_text(st, 2), "kind", db_col_text(st, 3),
	                      "filename", db_col_text(st, 4), "tags", tags ? tags : json_array(), "created_at",
	                      (json_int_t)db_col_int(st, 6), "created_by", db_col_text(st, 7));
	db_done(st);
	return j;
}

/* content_media_json with "thumbnail": whether the medium has one */
static json_t *media_json(struct http_req *r, const char *sha256)
{
	json_t *m = content_media_json(r->db ? r->db : store_db(), r->auth.account_id, sha256);
	if (m)
		json_object_set_new(m, "thumbnail",
		                    json_boolean(has_thumbnail(server_config(r->srv)->data_dir, sha256)));
	return m;
}

/* --- upload: PUT /api/v1/media/{sha256}, streamed --- */

struct upload {
	struct object_upload file;
	int64_t used, quota;
	bool exists; /* the account has it already: the body is read and dropped */
	char filename[256];
};

static void upload_cleanup(struct http_req *r)
{
	struct upload *up = r->scratch;
	if (up)
		object_upload_discard(&up->file);
}

static int reply_quota(struct http_req *r, uint64_t size, int64_t used, int64_t quota)
{
	http_reply_error_extra(
	    r, 413, "quota_exceeded",
	    json_pack("{s:I, s:I, s:I}", "size", (json_int_t)size, "used", (json_int_t)used, "quota",
	              (json_int_t)quota),
	    "this upload (%llu bytes) would take the account over its quota: %lld of %lld bytes used",
	    (unsigned long long)size, (long long)used, (long long)quota);
	return 0;
}

static int upload_begin(struct http_req *r)
{
	const char *sha = http_param(r, "sha256");
	if (!codes_is_sha256(sha))
		return http_reply_error(r, 400, "invalid_sha256",
		                        "the URL must end in the SHA-256 of the body (64 lower-case hex digits)");
	struct upload *up = calloc(1, sizeof *up);
	if (!up)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	object_upload_init(&up->file);
	r->scratch = up;
	r->cleanup = upload_cleanup;
	objects_sanitize_filename(http_header(r, "X-Filename"), sha, up->filename, sizeof up->filename);
	struct db *db = store_db();
	if (!db)
		return store_reply_error(r, DB_ERROR, NULL);
	json_t *existing = content_media_json(db, r->auth.account_id, sha);
	if (existing) {
		json_decref(existing);
		up->exists = true;
		return 0;
	}
	up->used = account_usage(db, r->auth.account_id, &up->quota);
	const char *cl = http_header(r, "Content-Length");
	uint64_t announced = cl ? strtoull(cl, NULL, 10) : 0;
	if (cl && up->used + (int64_t)announced > up->quota)
		return reply_quota(r, announced, up->used, up->quota);
	const char *data = server_config(r->srv)->data_dir;
	char dir[3000];
	if (strfmt(dir, sizeof dir, "%s/media", data) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for uploads");
	objects_make_dir(dir);
	if (strfmt(dir, sizeof dir, "%s/media/tmp", data) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for uploads");
	objects_make_dir(dir);
	object_upload_open(r, &up->file, dir, cl != NULL, announced);
	return 0;
}

/* The refusal of an upload that failed while its body arrived: replying
 * from a chunk makes the core drop the rest of the body, send this answer
 * and close the connection (http_refuse in http/server.h), so the client
 * reads why instead of a reset. */
static int reply_failed(struct http_req *r, const struct upload *up)
{
	if (up->file.failed_errno == EFBIG)
		return reply_quota(r, up->file.failed_at, up->used, up->quota);
	return object_reply_failed(r, &up->file, server_config(r->srv)->data_dir);
}

static int upload_chunk(struct http_req *r, const char *data, size_t len)
{
	struct upload *up = r->scratch;
	if (up->exists || up->file.failed) /* a failure was answered already; the core drops the rest */
		return 0;
	if (up->used + (int64_t)(up->file.size + len) > up->quota) {
		up->file.size += len;
		object_upload_fail(&up->file, EFBIG);
		return reply_failed(r, up);
	}
	if (object_upload_write(&up->file, data, len) != 0)
		return reply_failed(r, up);
	return 0;
}

const struct route_stream content_media_upload = {upload_begin, upload_chunk};

/* libmagic handles are not thread-safe: one per thread, loaded once */
static pthread_key_t magic_key;
static pthread_once_t magic_once = PTHREAD_ONCE_INIT;
static void magic_free(void *m)
{
	magic_close(m);
}
static void magic_init(void)
{
	pthread_key_create(&magic_key, magic_free);
}

static const char *sniff(const char *path)
{
	pthread_once(&magic_once, magic_init);
	magic_t m = pthread_getspecific(magic_key);
	if (!m) {
		m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
		if (!m || magic_load(m, NULL) != 0) {
			if (m)
				magic_close(m);
			return NULL;
		}
		pthread_setspecific(magic_key, m);
	}
	return magic_file(m, path);
}

/* Records an uploaded object in a short write transaction (store_with_tx). */
struct record {
	struct http_req *r;
	const char *sha;
	const struct upload *up;
	const struct allowed_type *type;
};

static int record_upload(struct db *db, void *arg)
{
	struct record *x = arg;
	struct http_req *r = x->r;
	int rc = db_exec(db,
	                 "INSERT INTO media(account_id, sha256, size, mime, kind, filename, created_at, created_by) "
	                 "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(account_id, sha256) DO NOTHING",
	                 "ssisssis", r->auth.account_id, x->sha, (int64_t)x->up->file.size, x->type->mime,
	                 x->type->kind, x->up->filename, (int64_t)time(NULL), r->auth.login);
	if (rc != DB_DONE)
		return -1;
	r->db = db; /* the audit entry joins this transaction */
	rc = audit_request(r, "media.uploaded", x->up->filename, x->sha);
	r->db = NULL;
	return rc;
}

/* The end of an upload. The route has no transaction of its own: the
 * slow steps (fsync of the whole file, type sniffing, the thumbnail) run
 * before the write lock is taken, so a large upload never stalls other
 * writers; only the row is written in a (short) transaction. */
int content_handle_media_put(struct http_req *r)
{
	struct upload *up = r->scratch;
	const char *sha = http_param(r, "sha256");
	if (up->exists) {
		json_t *m = media_json(r, sha);
		return http_reply_json(r, 200, json_pack("{s:o}", "media", m ? m : json_object()));
	}
	if (up->file.failed)
		return reply_failed(r, up);
	char hex[65];
	object_upload_digest(&up->file, hex);
	if (strcmp(hex, sha) != 0)
		return http_reply_error_extra(r, 400, "hash_mismatch", json_pack("{s:s}", "actual", hex),
		                              "the body's SHA-256 is %s, not the %s of the URL: nothing was stored",
		                              hex, sha);
	const char *data = server_config(r->srv)->data_dir;
	/* no transaction is open here: the write lock is not held */
	if (object_upload_sync(r, &up->file, data) != 0)
		return 0;
	const char *mime = sniff(up->file.tmp);
	const struct allowed_type *type = NULL;
	for (size_t i = 0; mime && i < sizeof allowed_types / sizeof allowed_types[0]; i++)
		if (strcmp(allowed_types[i].mime, mime) == 0)
			type = &allowed_types[i];
	if (!type)
		return http_reply_error(
		    r, 415, "unsupported_type",
		    "this file is %s; the library takes PNG, JPEG, WebP and GIF images, MP4 and WebM "
		    "videos, and HTML pages",
		    mime ? mime : "of an unknown type");
	if (strcmp(type->kind, "image") == 0 && !has_thumbnail(data, sha))
		make_thumbnail(data, sha, up->file.tmp);
	char path[4096], dir[4096];
	if (strfmt(dir, sizeof dir, "%s/media/%.2s", data, sha) != 0 || objects_make_dir(dir) != 0 ||
	    content_object_path(data, sha, path, sizeof path) != 0)
		return http_reply_error(r, 500, "internal", "the upload could not be moved into the library");
	struct record x = {r, sha, up, type};
	objects_lock();
	int rc = object_upload_move(&up->file, path) == 0 ? 0 : -2;
	if (rc == 0)
		rc = store_with_tx(record_upload, &x) < 0 ? -1 : 0;
	objects_unlock();
	if (rc == -2)
		return http_reply_error(r, 500, "internal", "the upload could not be moved into the library");
	if (rc != 0) /* the object stays unlinked: the next sweep collects it */
		return store_reply_error(r, DB_ERROR, "the upload could not be recorded");
	json_t *m = media_json(r, sha);
	http_reply_json(r, 201, json_pack("{s:o}", "media", m ? m : json_object()));
	return 0;
}

/* --- disk space: crash leftovers --- */

/* Removes an object (and its thumbnail) if no media row of any account
 * links it. Under objects_lock, so an upload between its rename and its
 * commit is never undone. */
static void collect_object(struct db *db, const char *data_dir, const char *sha)
{
	char path[4096];
	if (content_object_path(data_dir, sha, path, sizeof path) != 0)
		return;
	objects_lock();
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT 1 FROM media WHERE sha256 = ? LIMIT 1", "s", sha);
	db_done(st);
	if (!st && rc == DB_DONE) {
		unlink(path);
		if (thumb_path(data_dir, sha, path, sizeof path) == 0)
			unlink(path);
	}
	objects_unlock();
}

/* Collects every object of data/media/xx/ that no media row links (an
 * upload killed between its rename and its commit, a failed commit). */
static unsigned collect_unlinked_objects(struct db *db, const char *data_dir)
{
	char media[4096];
	int n = snprintf(media, sizeof media, "%s/media", data_dir);
	DIR *top = n > 0 && (size_t)n < sizeof media ? opendir(media) : NULL;
	if (!top)
		return 0;
	unsigned removed = 0;
	struct dirent *e;
	while ((e = readdir(top))) {
		if (strlen(e->d_name) != 2 || strspn(e->d_name, "0123456789abcdef") != 2)
			continue;
		char sub[4200];
		DIR *d = strfmt(sub, sizeof sub, "%s/%s", media, e->d_name) == 0 ? opendir(sub) : NULL;
		struct dirent *o;
		while (d && (o = readdir(d))) {
			if (!codes_is_sha256(o->d_name) || strncmp(o->d_name, e->d_name, 2) != 0)
				continue;
			char path[4096];
			struct stat before, after;
			if (content_object_path(data_dir, o->d_name, path, sizeof path) != 0 ||
			    stat(path, &before) != 0)
				continue;
			collect_object(db, data_dir, o->d_name);
			if (stat(path, &after) != 0)
				removed++;
		}
		if (d)
			closedir(d);
	}
	closedir(top);
	return removed;
}

void content_media_sweep(const char *data_dir, bool at_start)
{
	char tmp[4096];
	unsigned temps =
	    strfmt(tmp, sizeof tmp, "%s/media/tmp", data_dir) == 0 ? objects_sweep_temp_files(tmp, at_start) : 0;
	struct db *db = store_db();
	unsigned objects = db && !db_in_tx(db) ? collect_unlinked_objects(db, data_dir) : 0;
	if (temps || objects) {
		char t[16], o[16];
		snprintf(t, sizeof t, "%u", temps);
		snprintf(o, sizeof o, "%u", objects);
		log_event(LOG_INFO, "disk space reclaimed", "temporary_files", t, "unlinked_objects", o, NULL);
	}
}

/* The sweeper thread: content_media_sweep every sweep_every_s. */
static pthread_t sweep_thread;
static pthread_mutex_t sweep_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cond;
static bool sweep_running, sweep_stopping;
static unsigned sweep_every_s;
static char sweep_dir[4096];

static void *sweep_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sweep_mutex);
	while (!sweep_stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += sweep_every_s;
		int rc = 0;
		while (!sweep_stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&sweep_cond, &sweep_mutex, &until);
		if (sweep_stopping)
			break;
		pthread_mutex_unlock(&sweep_mutex);
		content_media_sweep(sweep_dir, false);
		pthread_mutex_lock(&sweep_mutex);
	}
	pthread_mutex_unlock(&sweep_mutex);
	return NULL;
}

int content_media_sweeper_start(const char *data_dir, unsigned every_s)
{
	content_media_sweep(data_dir, true);
	if (strfmt(sweep_dir, sizeof sweep_dir, "%s", data_dir) != 0)
		return -1;
	sweep_every_s = every_s ? every_s : 600;
	sweep_stopping = false;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sweep_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&sweep_thread, NULL, sweep_main, NULL) != 0) {
		pthread_cond_destroy(&sweep_cond);
		return -1;
	}
	sweep_running = true;
	return 0;
}

void content_media_sweeper_stop(void)
{
	if (!sweep_running)
		return;
	pthread_mutex_lock(&sweep_mutex);
	sweep_stopping = true;
	pthread_cond_signal(&sweep_cond);
	pthread_mutex_unlock(&sweep_mutex);
	pthread_join(sweep_thread, NULL);
	pthread_cond_destroy(&sweep_cond);
	sweep_running = false;
}

/* --- the library --- */

int content_handle_media_get(struct http_req *r)
{
	const char *sha = http_param(r, "sha256");
	json_t *m = codes_is_sha256(sha) ? media_json(r, sha) : NULL;
	if (!m)
		return http_reply_error(r, 404, "not_found", "this account has no such media");
	struct db_stmt *st = db_prepare(r->db, "SELECT c.id, c.name FROM channel_media cm JOIN channels c ON "
	                                       "c.id = cm.channel_id WHERE cm.account_id = ? AND cm.sha256 = ?");
	json_t *used = json_array();
	if (st) {
		db_bind_text(st, 1, r->auth.account_id);
		db_bind_text(st, 2, sha);
		while (db_step(st) == DB_ROW)
			json_array_append_new(
			    used, json_pack("{s:s, s:s}", "id", db_col_text(st, 0), "name", db_col_text(st, 1)));
		db_done(st);
	}
	json_object_set_new(m, "used_by", used);
	http_reply_json(r, 200, json_pack("{s:o}", "media", m));
	return 0;
}

/* GET /api/v1/media[?q&tag&kind&limit&offset&sort]: a page of the library
 * (newest first unless sorted) and how much matches (total, total_bytes) */
int content_handle_media_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {
	    {"created_at", "created_at"},
	    {"filename", "filename COLLATE NOCASE"},
	    {"size", "size"},
	    {"kind", "kind"},
	};
	static const struct listquery_spec spec = {
	    sorts, sizeof sorts / sizeof sorts[0], "created_at DESC, sha256", "sha256", 1000, 1000};
	const char *tag = http_query(r, "tag"), *kind = http_query(r, "kind");
	char tagq[200], sql[1024];
	struct listquery lq;
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
	if (tag && (strlen(tag) > 64 || strchr(tag, '"')))
		return http_reply_error(r, 400, "invalid_parameter",
		                        "tag must be at most 64 characters, without quotes");
	snprintf(tagq, sizeof tagq, "%%\"%s\"%%", tag ? tag : "");
#define MEDIA_MATCHING                                                                                                 \
	" FROM media WHERE account_id = ?1 AND (?2 = '' OR filename LIKE ?2 ESCAPE '\\') "                             \
	"AND (?3 = '' OR tags LIKE ?4) AND (?5 = '' OR kind = ?5)"
	int n =
	    snprintf(sql, sizeof sql, "SELECT sha256" MEDIA_MATCHING " ORDER BY %s LIMIT ?6 OFFSET ?7", lq.order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list media");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, lq.like);
	db_bind_text(st, 3, tag ? tag : "");
	db_bind_text(st, 4, tagq);
	db_bind_text(st, 5, kind ? kind : "");
	db_bind_int(st, 6, lq.limit);
	db_bind_int(st, 7, lq.offset);
	json_t *shas = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(shas, json_string(db_col_text(st, 0)));
	db_done(st);
	json_t *list = json_array();
	size_t i;
	json_t *s;
	json_array_foreach (shas, i, s) {
		json_t *m = media_json(r, json_string_value(s));
		if (m)
			json_array_append_new(list, m);
	}
	json_decref(shas);
	int rc;
	st = db_query(r->db, &rc, "SELECT COUNT(*), COALESCE(SUM(size), 0)" MEDIA_MATCHING, "sssss", r->auth.account_id,
	              lq.like, tag ? tag : "", tagq, kind ? kind : "");
#undef MEDIA_MATCHING
	int64_t total = st ? db_col_int(st, 0) : 0, total_bytes = st ? db_col_int(st, 1) : 0;
	db_done(st);
	int64_t quota, used = account_usage(r->db, r->auth.account_id, &quota);
	http_reply_json(r, 200,
	                json_pack("{s:o, s:I, s:I, s:I, s:I}", "media", list, "used_bytes", (json_int_t)used,
	                          "quota_bytes", (json_int_t)quota, "total", (json_int_t)total, "total_bytes",
	                          (json_int_t)total_bytes));
	return 0;
}

int content_handle_media_update(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *sha = http_param(r, "sha256");
	json_t *m = codes_is_sha256(sha) ? content_media_json(r->db, r->auth.account_id, sha) : NULL;
	if (!m)
		return http_reply_error(r, 404, "not_found", "this account has no such media");
	json_decref(m);
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v) {
		if (strcmp(key, "filename") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
				return http_reply_error(r, 400, "invalid_field", "filename must be 1-200 bytes");
		} else if (strcmp(key, "tags") == 0) {
			if (!tags_check(r, v))
				return 0;
		} else {
			return http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\" (filename, tags)",
			                        key);
		}
	}
	if ((v = json_object_get(body, "filename"))) {
		char clean[256];
		objects_sanitize_filename(json_string_value(v), sha, clean, sizeof clean);
		db_exec(r->db, "UPDATE media SET filename = ? WHERE account_id = ? AND sha256 = ?", "sss", clean,
		        r->auth.account_id, sha);
	}
	if ((v = json_object_get(body, "tags"))) {
		char *text = json_dumps(v, JSON_COMPACT);
		db_exec(r->db, "UPDATE media SET tags = ? WHERE account_id = ? AND sha256 = ?", "sss",
		        text ? text : "[]", r->auth.account_id, sha);
		free(text);
	}
	http_reply_json(r, 200, json_pack("{s:o}", "media", media_json(r, sha)));
	return 0;
}

/* Runs when the delete request ends, after its transaction: the bytes go
 * at once when no account links them any more. */
static void unlink_unreferenced(struct http_req *r)
{
	const char *sha = r->scratch;
	struct db *db = store_db();
	if (r->status != 200 || !db || db_in_tx(db))
		return;
	collect_object(db, server_config(r->srv)->data_dir, sha);
}

int content_handle_media_delete(struct http_req *r)
{
	const char *sha = http_param(r, "sha256");
	json_t *m = codes_is_sha256(sha) ? content_media_json(r->db, r->auth.account_id, sha) : NULL;
	if (!m)
		return http_reply_error(r, 404, "not_found", "this account has no such media");
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT c.name, (SELECT COUNT(*) FROM channel_media x WHERE x.account_id = ? AND "
	                              "x.sha256 = ?) FROM channel_media cm JOIN channels c ON c.id = cm.channel_id "
	                              "WHERE cm.account_id = ? AND cm.sha256 = ? ORDER BY c.name LIMIT 1",
	                              "ssss", r->auth.account_id, sha, r->auth.account_id, sha);
	if (st) {
		char name[160];
		snprintf(name, sizeof name, "%s", db_col_text(st, 0));
		int64_t n = db_col_int(st, 1);
		db_done(st);
		char file[256];
		snprintf(file, sizeof file, "%s", json_string_value(json_object_get(m, "filename")));
		json_decref(m);
		return http_reply_error(r, 409, "media_in_use",
		                        "\"%s\" is used by the channel \"%s\"%s; remove it there first", file, name,
		                        n > 1 ? " and others" : "");
	}
	db_exec(r->db, "DELETE FROM media WHERE account_id = ? AND sha256 = ?", "ss", r->auth.account_id, sha);
	audit_request(r, "media.deleted", json_string_value(json_object_get(m, "filename")), sha);
	json_decref(m);
	/* the bytes go once this is committed and no account links them */
	char *pending = strdup(sha);
	if (pending) {
		free(r->scratch);
		r->scratch = pending;
		r->cleanup = unlink_unreferenced;
	}
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

_Atomic uint64_t content_object_bytes_total, content_object_responses_total;

static int serve_object(struct http_req *r, const char *account_id, const char *sha, const char *cache)
{
	json_t *m = codes_is_sha256(sha) ? content_media_json(r->db, account_id, sha) : NULL;
	if (!m)
		return http_reply_error(r, 404, "not_found", "no such object");
	char path[4096], mime[64];
	snprintf(mime, sizeof mime, "%s", json_string_value(json_object_get(m, "mime")));
	json_decref(m);
	if (content_object_path(server_config(r->srv)->data_dir, sha, path, sizeof path) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long");
	objects_serve(r, path, sha, mime, cache);
	/* uploaded HTML never runs with the console's origin */
	http_reply_header(r, "Content-Security-Policy", "sandbox allow-scripts");
	return 0;
}

int content_handle_media_content(struct http_req *r)
{
	serve_object(r, r->auth.account_id, http_param(r, "sha256"), "private, max-age=3600");
	return 0;
}

int content_handle_device_object(struct http_req *r)
{
	serve_object(r, r->auth.account_id, http_param(r, "sha256"), "private, max-age=31536000, immutable");
	if (r->resp && (r->status == 200 || r->status == 206)) {
		atomic_fetch_add(&content_object_bytes_total, r->resp_len);
		atomic_fetch_add(&content_object_responses_total, 1);
	}
	return 0;
}

int content_handle_media_thumbnail(struct http_req *r)
{
	const char *sha = http_param(r, "sha256");
	json_t *m = codes_is_sha256(sha) ? content_media_json(r->db, r->auth.account_id, sha) : NULL;
	if (!m)
		return http_reply_error(r, 404, "not_found", "this account has no such media");
	json_decref(m);
	char path[4096], etag[72];
	int fd = thumb_path(server_config(r->srv)->data_dir, sha, path, sizeof path) == 0
	             ? open(path, O_RDONLY | O_CLOEXEC)
	             : -1;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return http_reply_error(r, 404, "not_found", "this media has no thumbnail");
	}
	snprintf(etag, sizeof etag, "\"t%s\"", sha);
	http_reply_file(r, fd, (uint64_t)sb.st_size, "image/png", etag);
	if (r->status == 200 || r->status == 206 || r->status == 304)
		http_reply_header(r, "Cache-Control", "private, max-age=86400");
	return 0;
}
