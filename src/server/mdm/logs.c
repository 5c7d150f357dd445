/*
 * Logs collected from players: a collect_logs instruction asks a player
 * for a bounded .tar.gz of its logs; it uploads the archive here, answered
 * with the archive's id, then acknowledges the instruction with it. The
 * archives are kept in DATA/logs/<screen id>/<id>.tar.gz (the ten newest
 * of a screen) and downloaded from the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/strfmt.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "mdm.h"

#define KEEP_PER_SCREEN 10

static int log_path(struct http_req *r, const char *screen_id, const char *id, char *out, size_t outsz, bool make)
{
	const char *data = server_config(r->srv)->data_dir;
	if (make) {
		if (strfmt(out, outsz, "%s/logs", data) != 0 || (mkdir(out, 0700) != 0 && errno != EEXIST) ||
		    strfmt(out, outsz, "%s/logs/%s", data, screen_id) != 0 ||
		    (mkdir(out, 0700) != 0 && errno != EEXIST))
			return -1;
	}
	return strfmt(out, outsz, "%s/logs/%s/%s.tar.gz", data, screen_id, id);
}

static int write_all(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	if (strfmt(tmp, sizeof tmp, "%s.tmp", path) != 0)
		return EINVAL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int err = 0;
	for (size_t done = 0; !err && done < len;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n < 0 && errno != EINTR)
			err = errno;
	}
	if (!err && fsync(fd) != 0)
		err = errno;
	close(fd);
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err)
		unlink(tmp);
	return err;
}

/* Deletes the archives of a screen past the newest KEEP_PER_SCREEN. */
static void keep_newest(struct http_req *r, const char *screen_id)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT id FROM screen_logs WHERE screen_id = ? ORDER BY created_at "
	                                       "DESC, id DESC LIMIT -1 OFFSET 10");
	if (!st)
		return;
	db_bind_text(st, 1, screen_id);
	char old[64][CODES_ID_LEN + 1];
	size_t n = 0;
	while (db_step(st) == DB_ROW && n < 64)
		snprintf(old[n++], sizeof old[0], "%s", db_col_text(st, 0));
	db_done(st);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		if (db_exec(r->db, "DELETE FROM screen_logs WHERE id = ?", "s", old[i]) == DB_DONE &&
		    log_path(r, screen_id, old[i], path, sizeof path, false) == 0)
			unlink(path);
	}
}

int mdm_handle_device_logs(struct http_req *r)
{
	const char *iid = http_query(r, "instruction");
	int rc;
	struct db_stmt *st = iid && codes_is_id(iid) ? db_query(r->db, &rc,
	                                                        "SELECT 1 FROM instructions WHERE id = ? AND "
	                                                        "screen_id = ? AND type = 'collect_logs'",
	                                                        "ss", iid, r->auth.device_id)
	                                             : NULL;
	db_done(st);
	if (!st)
		return http_reply_error(r, 404, "not_found",
		                        "instruction must name a collect_logs instruction of this screen");
	if (r->body_len < 18 || (unsigned char)r->body[0] != 0x1f || (unsigned char)r->body[1] != 0x8b)
		return http_reply_error(r, 400, "invalid_archive", "the logs must be a gzip-compressed tar archive");
	char id[CODES_ID_LEN + 1], path[4096];
	codes_new_id(id);
	if (log_path(r, r->auth.device_id, id, path, sizeof path, true) != 0)
		return http_reply_error(r, 500, "internal", "cannot store logs");
	int err = write_all(path, r->body, r->body_len);
	if (err == ENOSPC || err == EDQUOT)
		return http_reply_error(r, 507, "insufficient_storage",
		                        "the server's disk is full; the logs were not kept");
	if (err) {
		log_event(LOG_ERROR, "cannot write a log archive", "path", path, "error", strerror(err), NULL);
		return http_reply_error(r, 500, "internal", "the logs could not be stored");
	}
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	crypto_hash_sha256(digest, (const unsigned char *)r->body, r->body_len);
	sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
	rc = db_exec(
	    r->db,
	    "INSERT INTO screen_logs(id, screen_id, instruction_id, size, sha256, created_at) VALUES(?,?,?,?,?,?)",
	    "sssisi", id, r->auth.device_id, iid, (int64_t)r->body_len, hex, (int64_t)time(NULL));
	if (rc != DB_DONE) {
		unlink(path);
		return store_reply_error(r, rc, "the logs could not be recorded");
	}
	keep_newest(r, r->auth.device_id);
	screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	http_reply_json(r, 201, json_pack("{s:s, s:I, s:s}", "id", id, "size", (json_int_t)r->body_len, "sha256", hex));
	return 0;
}

int mdm_handle_screen_logs(struct http_req *r)
{
	const char *screen_id = http_param(r, "id");
	if (!screens_require(r, screen_id))
		return 0;
	struct db_stmt *st = db_prepare(r->db, "SELECT id, instruction_id, size, sha256, created_at FROM screen_logs "
	                                       "WHERE screen_id = ? ORDER BY created_at DESC, id DESC");
	if (!st)
		return store_reply_error(r, DB_ERROR, "cannot list the logs");
	db_bind_text(st, 1, screen_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:I, s:s, s:I}", "id", db_col_text(st, 0), "instruction_id",
		                                db_col_text(st, 1), "size", (json_int_t)db_col_int(st, 2), "sha256",
		                                db_col_text(st, 3), "created_at", (json_int_t)db_col_int(st, 4)));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "logs", list));
	return 0;
}

int mdm_handle_screen_log_get(struct http_req *r)
{
	const char *screen_id = http_param(r, "id"), *id = http_param(r, "log");
	if (!screens_require(r, screen_id))
		return 0;
	int rc;
	struct db_stmt *st = codes_is_id(id) ? db_query(r->db, &rc,
	                                                "SELECT sha256, created_at FROM screen_logs WHERE id = ? AND "
	                                                "screen_id = ?",
	                                                "ss", id, screen_id)
	                                     : NULL;
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such log archive for this screen");
	char etag[80];
	snprintf(etag, sizeof etag, "\"%s\"", db_col_text(st, 0));
	db_done(st);
	char path[4096];
	int fd = log_path(r, screen_id, id, path, sizeof path, false) == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return http_reply_error(r, 404, "not_found", "the log archive is gone from the disk");
	}
	http_reply_file(r, fd, (uint64_t)sb.st_size, "application/gzip", etag);
	char disposition[128];
	snprintf(disposition, sizeof disposition, "attachment; filename=\"logs-%s-%s.tar.gz\"", screen_id, id);
	http_reply_header(r, "Content-Disposition", disposition);
	return 0;
}
