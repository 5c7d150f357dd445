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
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/strfmt.h"
#include "../../common/utf8.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "../store/tx.h"
#include "../tags.h"

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

static int ensure_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Held while an object moves into place and its media row is committed,
 * and while an unlinked object is checked and removed: so an object is
 * never removed between an upload's rename and its commit, and the bytes
 * of deleted media can go at once (no grace period to skip them). */
static pthread_mutex_t objects_lock = PTHREAD_MUTEX_INITIALIZER;

/* Room kept free beside an upload (the database and its journal need
 * some): an upload that would leave less is refused with 507. */
#define DISK_RESERVE ((uint64_t)1 << 20)

/* Bytes free for the server in dir, or UINT64_MAX when unknown. */
static uint64_t free_bytes(const char *dir)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) != 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

static int reply_no_space(struct http_req *r, uint64_t size, uint64_t available)
{
	return http_reply_error_extra(r, 507, "insufficient_storage",
	                              json_pack("{s:I, s:I}", "size", (json_int_t)size, "available",
	                                        (json_int_t)(available == UINT64_MAX ? -1 : (int64_t)available)),
	                              "the server's disk has no room for this upload (%llu bytes; %llu free): "
	                              "delete unused media or free space on the server",
	                              (unsigned long long)size,
	                              (unsigned long long)(available == UINT64_MAX ? 0 : available));
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
	bool ok =
	    n > 0 && (size_t)n < sizeof tmp && ensure_dir(dir) == 0 && gdk_pixbuf_save(pb, tmp, "png", &err, NULL);
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
	int fd;
	char tmp[4096];
	crypto_hash_sha256_state hash;
	uint64_t size;
	int64_t used, quota;
	bool exists;        /* the account has it already: the body is read and dropped */
	bool failed;        /* refused while the body arrives: the rest is dropped */
	int failed_errno;   /* why: ENOSPC/EDQUOT (no room), EFBIG (quota), other */
	uint64_t failed_at; /* bytes when it failed */
	char filename[256];
};

static void upload_discard(struct upload *up)
{
	if (up->fd >= 0)
		close(up->fd);
	up->fd = -1;
	if (up->tmp[0])
		unlink(up->tmp); /* a no-op once renamed into place */
	up->tmp[0] = '\0';
}

static void upload_cleanup(struct http_req *r)
{
	struct upload *up = r->scratch;
	if (up)
		upload_discard(up);
}

static void sanitize_filename(const char *in, const char *fallback, char *out, size_t outsz)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p;) {
		int len = utf8_sequence(p);
		if (len < 0) { /* not UTF-8 (Latin-1, say): dropped, never stored */
			p++;
			continue;
		}
		if (o + (size_t)len + 1 > outsz)
			break; /* never cut a character in two */
		if (len > 1 || (*p >= 0x20 && *p != 0x7f && *p != '/' && *p != '\\'))
			for (int i = 0; i < len; i++)
				out[o++] = (char)p[i];
		p += len;
	}
	out[o] = '\0';
	if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, outsz, "%.12s", fallback);
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

static unsigned sweep_temp_files(const char *data_dir, bool at_start);

static int upload_begin(struct http_req *r)
{
	const char *sha = http_param(r, "sha256");
	if (!codes_is_sha256(sha))
		return http_reply_error(r, 400, "invalid_sha256",
		                        "the URL must end in the SHA-256 of the body (64 lower-case hex digits)");
	struct upload *up = calloc(1, sizeof *up);
	if (!up)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	up->fd = -1;
	r->scratch = up;
	r->cleanup = upload_cleanup;
	sanitize_filename(http_header(r, "X-Filename"), sha, up->filename, sizeof up->filename);
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
	ensure_dir(dir);
	if (strfmt(dir, sizeof dir, "%s/media/tmp", data) != 0)
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for uploads");
	ensure_dir(dir);
	sweep_temp_files(data, false); /* a few files: those of live uploads and crash leftovers */
	/* refused from the headers, before a byte of the body is read */
	uint64_t available = free_bytes(dir);
	if (cl && available != UINT64_MAX && (available < DISK_RESERVE || announced > available - DISK_RESERVE))
		return reply_no_space(r, announced, available);
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	if (strfmt(up->tmp, sizeof up->tmp, "%s/%s.part", dir, id) != 0) {
		up->tmp[0] = '\0';
		return http_reply_error(r, 500, "internal", "the data folder's path is too long for uploads");
	}
	up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (up->fd < 0) {
		up->tmp[0] = '\0';
		log_event(LOG_ERROR, "cannot create an upload file", "dir", dir, "error", strerror(errno), NULL);
		return http_reply_error(r, 500, "internal", "the upload cannot be stored");
	}
	crypto_hash_sha256_init(&up->hash);
	return 0;
}

/* The refusal of an upload that failed while its body arrived: replying
 * from a chunk makes the core drop the rest of the body, send this answer
 * and close the connection (http_refuse in http/server.h), so the client
 * reads why instead of a reset. */
static int reply_failed(struct http_req *r, const struct upload *up)
{
	if (up->failed_errno == EFBIG)
		return reply_quota(r, up->failed_at, up->used, up->quota);
	if (up->failed_errno == ENOSPC || up->failed_errno == EDQUOT)
		return reply_no_space(r, up->failed_at, free_bytes(server_config(r->srv)->data_dir));
	return http_reply_error(r, 507, "insufficient_storage", "the server could not store the upload: %s",
	                        strerror(up->failed_errno));
}

/* Fails the upload (the temporary file goes at once, not when the
 * connection ends); the rest of the body is dropped. */
static void upload_fail(struct upload *up, int err)
{
	up->failed = true;
	up->failed_errno = err;
	up->failed_at = up->size;
	upload_discard(up);
}

static int upload_chunk(struct http_req *r, const char *data, size_t len)
{
	struct upload *up = r->scratch;
	if (up->exists)
		return 0;
	if (up->failed) /* answered already; the core drops the rest */
		return 0;
	up->size += len;
	if (up->used + (int64_t)up->size > up->quota) {
		upload_fail(up, EFBIG);
		return reply_failed(r, up);
	}
	crypto_hash_sha256_update(&up->hash, (const unsigned char *)data, len);
	while (len > 0) {
		ssize_t w = write(up->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;
			log_event(LOG_ERROR, "cannot write an upload", "error", strerror(err), NULL);
			upload_fail(up, err);
			return reply_failed(r, up);
		}
		data += w;
		len -= (size_t)w;
	}
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
	                 "ssisssis", r->auth.account_id, x->sha, (int64_t)x->up->size, x->type->mime, x->type->kind,
	                 x->up->filename, (int64_t)time(NULL), r->auth.login);
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
	if (up->failed)
		return reply_failed(r, up);
	if (up->fd < 0)
		return http_reply_error(r, 507, "insufficient_storage", "the server could not store the upload");
	uint8_t digest[crypto_hash_sha256_BYTES];
	char hex[65];
	crypto_hash_sha256_final(&up->hash, digest);
	codes_hex(digest, sizeof digest, hex);
	if (strcmp(hex, sha) != 0)
		return http_reply_error_extra(r, 400, "hash_mismatch", json_pack("{s:s}", "actual", hex),
		                              "the body's SHA-256 is %s, not the %s of the URL: nothing was stored",
		                              hex, sha);
	const char *data = server_config(r->srv)->data_dir;
	/* no transaction is open here: the write lock is not held */
	if (fsync(up->fd) != 0) {
		int err = errno;
		upload_discard(up);
		if (err == ENOSPC || err == EDQUOT)
			return reply_no_space(r, up->size, free_bytes(data));
		return http_reply_error(r, 507, "insufficient_storage", "the upload could not be written to disk");
	}
	close(up->fd);
	up->fd = -1;
	const char *mime = sniff(up->tmp);
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
		make_thumbnail(data, sha, up->tmp);
	char path[4096], dir[4096];
	if (strfmt(dir, sizeof dir, "%s/media/%.2s", data, sha) != 0 || ensure_dir(dir) != 0 ||
	    content_object_path(data, sha, path, sizeof path) != 0)
		return http_reply_error(r, 500, "internal", "the upload could not be moved into the library");
	struct record x = {r, sha, up, type};
	pthread_mutex_lock(&objects_lock);
	int rc = rename(up->tmp, path) == 0 ? 0 : -2;
	if (rc == 0) {
		up->tmp[0] = '\0';
		rc = store_with_tx(record_upload, &x) < 0 ? -1 : 0;
	}
	pthread_mutex_unlock(&objects_lock);
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
	pthread_mutex_lock(&objects_lock);
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT 1 FROM media WHERE sha256 = ? LIMIT 1", "s", sha);
	db_done(st);
	if (!st && rc == DB_DONE) {
		unlink(path);
		if (thumb_path(data_dir, sha, path, sizeof path) == 0)
			unlink(path);
	}
	pthread_mutex_unlock(&objects_lock);
}

/* A temporary file untouched for this long is no live upload's: a live
 * one is written at least every connection timeout (60 s). */
#define TEMP_STALE_S 900

/* Removes upload and thumbnail temporary files of data/media/tmp: at start
 * every one (no upload is live yet), later those untouched for
 * TEMP_STALE_S. Returns how many went. */
static unsigned sweep_temp_files(const char *data_dir, bool at_start)
{
	char dir[4096];
	int n = snprintf(dir, sizeof dir, "%s/media/tmp", data_dir);
	DIR *d = n > 0 && (size_t)n < sizeof dir ? opendir(dir) : NULL;
	if (!d)
		return 0;
	unsigned removed = 0;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		if (!dot || (strcmp(dot, ".part") != 0 && strcmp(dot, ".thumb") != 0))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!at_start && now - sb.st_mtime < TEMP_STALE_S)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
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
	unsigned temps = sweep_temp_files(data_dir, at_start);
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
		sanitize_filename(json_string_value(v), sha, clean, sizeof clean);
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
	char path[4096], mime[64], etag[72];
	snprintf(mime, sizeof mime, "%s", json_string_value(json_object_get(m, "mime")));
	json_decref(m);
	snprintf(etag, sizeof etag, "\"%s\"", sha);
	int fd = content_object_path(server_config(r->srv)->data_dir, sha, path, sizeof path) == 0
	             ? open(path, O_RDONLY | O_CLOEXEC)
	             : -1;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		log_event(LOG_ERROR, "object missing from the store", "sha256", sha, NULL);
		return http_reply_error(r, 500, "internal", "the object is missing from the store");
	}
	http_reply_file(r, fd, (uint64_t)sb.st_size, mime, etag);
	if (r->status == 200 || r->status == 206 || r->status == 304)
		http_reply_header(r, "Cache-Control", cache);
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
