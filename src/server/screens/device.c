/*
 * What screens report (heartbeats, screenshots) and what the console does
 * with screens (list, detail, rename/tag/place, delete = revoke). Deleting a
 * screen clears its token hash at once and wakes its long-poll, which then
 * fails authentication: the waiting request ends with 401 and the token can
 * never be used again. The row stays (soft delete) so history and audit keep
 * their meaning; the screen leaves its sync group (sync_groups.c). A
 * heartbeat's "sync" object (what the player reports of its sync group) is
 * checked before anything is saved and kept on its member row too.
 *
 * last_seen and last_ip are read through presence.h (the long-poll keeps
 * them in memory and writes them in batches), so a screen stays online in
 * the console while the store cannot take writes. A heartbeat records the
 * presence first, then writes its state in a transaction of its own: on a
 * full disk the screen still counts as online and the heartbeat is answered
 * 507 (its state was not saved).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "../tags.h"
#include "location.h"
#include "presence.h"
#include "rule.h"
#include "screens.h"

#define STATE_MAX 16384
#define SCREEN_COLUMNS                                                                                                 \
	"id, name, hardware_id, public_key, info, state, tags, group_name, last_seen, last_ip, created_at, "           \
	"created_by, change_seq, screenshot_at, deleted_at, channel_id, play_now_channel, play_now_until, "            \
	"manifest_version, remote_consent, inventory, inventory_at, power_schedule, location_lat_e7, location_lon_e7"

static json_t *parse_or(const char *text, json_t *fallback)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		return fallback;
	json_decref(fallback);
	return j;
}

static json_t *row_json(struct db_stmt *st)
{
	int64_t now = (int64_t)time(NULL), last_seen = db_col_int(st, 8);
	char ip[64];
	snprintf(ip, sizeof ip, "%s", db_col_text(st, 9));
	presence_last_seen(db_col_text(st, 0), last_seen, &last_seen, ip, sizeof ip);
	bool deleted = !db_col_is_null(st, 14);
	json_t *state = parse_or(db_col_text(st, 5), json_object());
	json_t *j =
	    json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:b, s:I, s:s, s:I, s:s, s:I, s:b}", "id",
	              db_col_text(st, 0), "name", db_col_text(st, 1), "hardware_id", db_col_text(st, 2), "public_key",
	              db_col_text(st, 3), "info", parse_or(db_col_text(st, 4), json_object()), "state", state, "tags",
	              parse_or(db_col_text(st, 6), json_array()), "group", db_col_text(st, 7), "online",
	              screens_online_at(deleted, last_seen, now), "last_seen", (json_int_t)last_seen, "last_ip", ip,
	              "created_at", (json_int_t)db_col_int(st, 10), "created_by", db_col_text(st, 11), "screenshot_at",
	              (json_int_t)db_col_int(st, 13), "deleted", deleted);
	if (!j)
		return NULL;
	/* what it is told to play */
	json_object_set_new(j, "channel_id", db_col_is_null(st, 15) ? json_null() : json_string(db_col_text(st, 15)));
	json_object_set_new(
	    j, "play_now",
	    db_col_is_null(st, 16) || db_col_int(st, 17) <= (int64_t)time(NULL)
	        ? json_null()
	        : json_pack("{s:s, s:I}", "channel_id", db_col_text(st, 16), "until", (json_int_t)db_col_int(st, 17)));
	json_object_set_new(j, "manifest_version", json_integer(db_col_int(st, 18)));
	json_object_set_new(j, "remote_consent", json_boolean(db_col_int(st, 19) != 0));
	/* what the player reports of itself (mdm/inventory.c), and its display hours */
	json_object_set_new(j, "inventory", parse_or(db_col_text(st, 20), json_object()));
	json_object_set_new(j, "inventory_at", json_integer(db_col_int(st, 21)));
	json_object_set_new(j, "power_schedule", parse_or(db_col_text(st, 22), json_array()));
	/* where it is: set by hand, or from its address (location.h) */
	json_object_set_new(j, "location",
	                    location_json(!db_col_is_null(st, 23) && !db_col_is_null(st, 24), db_col_int(st, 23),
	                                  db_col_int(st, 24), ip));
	/* the fields the list shows, lifted from the last heartbeat */
	json_t *np = json_object_get(state, "now_playing"), *ver = json_object_get(state, "version");
	json_object_set(j, "now_playing", np ? np : json_null());
	json_object_set(j, "version", ver ? ver : json_null());
	return j;
}

json_t *screens_json(struct db *db, const char *account_id, const char *screen_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT " SCREEN_COLUMNS " FROM screens WHERE id = ? AND account_id = ?",
	                              "ss", screen_id, account_id);
	if (!st)
		return NULL;
	json_t *j = row_json(st);
	db_done(st);
	return j;
}

int screens_each(struct db *db, const char *account_id, int (*fn)(json_t *screen, void *arg), void *arg)
{
	struct db_stmt *st = db_prepare(db, "SELECT " SCREEN_COLUMNS " FROM screens WHERE account_id = ? AND "
	                                    "deleted_at IS NULL ORDER BY name COLLATE NOCASE, id");
	if (!st)
		return -1;
	db_bind_text(st, 1, account_id);
	int rc, stop = 0;
	while (!stop && (rc = db_step(st)) == DB_ROW) {
		json_t *screen = row_json(st);
		stop = screen ? fn(screen, arg) : 0;
		json_decref(screen);
	}
	db_done(st);
	return rc == DB_ERROR ? -1 : 0;
}

int screens_stream_pull(struct db *db, const char *account_id, int64_t *cursor, struct sse_out *out)
{
	struct db_stmt *st = db_prepare(db, "SELECT " SCREEN_COLUMNS " FROM screens WHERE account_id = ? AND "
	                                    "change_seq > ? ORDER BY change_seq LIMIT 200");
	if (!st)
		return -1;
	db_bind_text(st, 1, account_id);
	db_bind_int(st, 2, *cursor);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (sse_append_json(out, "screen", row_json(st)) != 0)
			break;
		*cursor = db_col_int(st, 12);
	}
	db_done(st);
	return rc == DB_ERROR ? -1 : 0;
}

/* --- device side --- */

/* The heartbeat's writes, in the transaction the handler opened (sync:
 * its checked "sync" object, or NULL). */
static int heartbeat_save(struct http_req *r, struct db *db, json_t *body, const char *state,
                          const struct sync_report *sync, int64_t now, int64_t *manifest_version)
{
	int rc;
	struct db_stmt *old =
	    db_query(db, &rc, "SELECT state, last_seen FROM screens WHERE id = ?", "s", r->auth.device_id);
	if (!old && rc != DB_DONE)
		return rc;
	bool notable = presence_seen(r->auth.device_id, r->auth.account_id, r->ip, now, old ? db_col_int(old, 1) : 0);
	if (old) {
		/* the console is told when what it shows changes, not every 30 s */
		json_error_t e;
		json_t *prev = json_loads(db_col_text(old, 0), 0, &e);
		static const char *const shown[] = {"now_playing", "version", "last_error", NULL};
		for (const char *const *k = shown; *k && !notable; k++)
			if (!json_equal(json_object_get(prev, *k), json_object_get(body, *k)) &&
			    (json_object_get(prev, *k) || json_object_get(body, *k)))
				notable = true;
		json_decref(prev);
		db_done(old);
	}
	rc = db_exec(db, "UPDATE screens SET state = ?, last_seen = MAX(last_seen, ?), last_ip = ? WHERE id = ?",
	             "siss", state, now, r->ip, r->auth.device_id);
	if (rc == DB_DONE && sync)
		rc = sync_report_save(db, r->auth.device_id, sync, now);
	if (rc != DB_DONE)
		return rc;
	if (notable)
		screens_touch(db, r->auth.account_id, r->auth.device_id);
	struct db_stmt *mv =
	    db_query(db, &rc, "SELECT manifest_version FROM screens WHERE id = ?", "s", r->auth.device_id);
	*manifest_version = mv ? db_col_int(mv, 0) : 0;
	db_done(mv);
	return rc == DB_ROW || rc == DB_DONE ? DB_DONE : rc;
}

int screens_handle_device_heartbeat(struct http_req *r)
{
	json_t *body = http_json_body(r);
	struct sync_report sync;
	bool has_sync;
	if (!body || !sync_report_parse(r, json_object_get(body, "sync"), &sync, &has_sync))
		return 0;
	char *state = json_dumps(body, JSON_COMPACT);
	if (!state || strlen(state) > STATE_MAX) {
		free(state);
		return http_reply_error(r, 400, "invalid_field", "the heartbeat state must be at most %d bytes",
		                        STATE_MAX);
	}
	int64_t now = (int64_t)time(NULL), manifest_version = 0;
	struct db *db = store_db();
	int rc = db ? db_begin(db, true) : DB_ERROR;
	if (rc == DB_DONE) {
		rc = heartbeat_save(r, db, body, state, has_sync ? &sync : NULL, now, &manifest_version);
		if (rc == DB_DONE)
			rc = db_commit(db);
		else
			db_rollback(db);
	} else {
		presence_seen(r->auth.device_id, r->auth.account_id, r->ip, now, 0);
	}
	free(state);
	if (rc != DB_DONE)
		return store_reply_error(r, rc,
		                         "the heartbeat's state could not be saved (the screen is still shown "
		                         "online)");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	http_reply_json(r, 200,
	                json_pack("{s:I, s:I}", "server_time", (json_int_t)now_ms, "manifest_version",
	                          (json_int_t)manifest_version));
	return 0;
}

static int screenshot_path(struct http_req *r, const char *screen_id, char *out, size_t outsz, bool make)
{
	const char *data = server_config(r->srv)->data_dir;
	int n = snprintf(out, outsz, "%s/screenshots", data);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	if (make && mkdir(out, 0700) != 0 && errno != EEXIST)
		return -1;
	n = snprintf(out, outsz, "%s/screenshots/%s.png", data, screen_id);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int screens_handle_device_screenshot(struct http_req *r)
{
	static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (r->body_len < 8 || memcmp(r->body, png_magic, 8) != 0)
		return http_reply_error(r, 400, "invalid_image", "the screenshot must be a PNG image");
	char path[4096], tmp[4200];
	if (screenshot_path(r, r->auth.device_id, path, sizeof path, true) != 0)
		return http_reply_error(r, 500, "internal", "cannot store screenshots");
	if (strfmt(tmp, sizeof tmp, "%s.tmp", path) != 0)
		return http_reply_error(r, 500, "internal", "cannot store screenshots");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0;
	for (size_t done = 0; ok && done < r->body_len;) { /* a short write is followed by the reason */
		ssize_t n = write(fd, r->body + done, r->body_len - done);
		ok = n > 0 || (n < 0 && errno == EINTR);
		done += n > 0 ? (size_t)n : 0;
	}
	ok = ok && fsync(fd) == 0;
	int err = ok ? 0 : errno;
	if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, path) != 0) { /* atomic: the old screenshot stays until the new one is whole */
		ok = false;
		err = errno;
	}
	if (!ok) {
		unlink(tmp);
		if (err == ENOSPC || err == EDQUOT)
			return http_reply_error(r, 507, "insufficient_storage",
			                        "the server's disk is full; the screenshot could not be stored");
		log_event(LOG_ERROR, "cannot write screenshot", "path", path, "error", strerror(err), NULL);
		return http_reply_error(r, 500, "internal", "the screenshot could not be stored");
	}
	db_exec(r->db, "UPDATE screens SET screenshot_at = ? WHERE id = ?", "is", (int64_t)time(NULL),
	        r->auth.device_id);
	screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

/* --- console side --- */

/* GET /api/v1/screens[?limit&offset&sort&q&rule]: a page of the screens and
 * how many match (total, online); without parameters every screen by name.
 * q matches name, group, tags or hostname in SQL; rule (screens/rule.h) is
 * evaluated on each screen's JSON view, so with a rule the page is cut
 * from the matching rows here rather than by LIMIT. */
#define SCREENS_MATCHING                                                                                               \
	" FROM screens WHERE account_id = ?1 AND deleted_at IS NULL AND (?2 = '' OR name LIKE ?2 ESCAPE '\\' OR "      \
	"group_name LIKE ?2 ESCAPE '\\' OR tags LIKE ?2 ESCAPE '\\' OR "                                               \
	"CASE WHEN json_valid(info) THEN json_extract(info, '$.hostname') END LIKE ?2 ESCAPE '\\' OR "                 \
	"CASE WHEN json_valid(inventory) THEN json_extract(inventory, '$.hostname') END LIKE ?2 ESCAPE '\\')"

struct screens_page {
	json_t *list;
	int64_t total, online;
};

static int list_by_rule(struct http_req *r, const struct listquery *lq, const struct rule *rule,
                        struct screens_page *page)
{
	char sql[1024];
	int n = snprintf(sql, sizeof sql, "SELECT " SCREEN_COLUMNS SCREENS_MATCHING " ORDER BY %s", lq->order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return -1;
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, lq->like);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_t *screen = row_json(st);
		if (screen && rule_match(rule, screen)) {
			int64_t i = page->total++;
			page->online += json_is_true(json_object_get(screen, "online"));
			if (i >= lq->offset && (lq->limit < 0 || i < lq->offset + lq->limit)) {
				json_array_append_new(page->list, screen);
				continue;
			}
		}
		json_decref(screen);
	}
	db_done(st);
	return rc == DB_ERROR ? -1 : 0;
}

static int list_by_sql(struct http_req *r, const struct listquery *lq, struct screens_page *page)
{
	char sql[1024];
	int n = snprintf(sql, sizeof sql, "SELECT " SCREEN_COLUMNS SCREENS_MATCHING " ORDER BY %s LIMIT ?3 OFFSET ?4",
	                 lq->order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return -1;
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, lq->like);
	db_bind_int(st, 3, lq->limit);
	db_bind_int(st, 4, lq->offset);
	while (db_step(st) == DB_ROW)
		json_array_append_new(page->list, row_json(st));
	db_done(st);
	int rc;
	st = db_query(r->db, &rc,
	              "SELECT COUNT(*), COALESCE(SUM(last_seen > 0 AND last_seen >= ?3), 0)" SCREENS_MATCHING, "ssi",
	              r->auth.account_id, lq->like, (int64_t)time(NULL) - SCREENS_ONLINE_GRACE_S);
	page->total = st ? db_col_int(st, 0) : 0;
	page->online = st ? db_col_int(st, 1) : 0;
	db_done(st);
	return 0;
}

int screens_handle_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {
	    {"name", "name COLLATE NOCASE"},
	    {"last_seen", "last_seen"},
	    {"group", "group_name COLLATE NOCASE"},
	    {"created_at", "created_at"},
	};
	static const struct listquery_spec spec = {sorts, sizeof sorts / sizeof sorts[0], "name", "id", -1, 500};
	struct listquery lq;
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
	const char *rule_text = http_query(r, "rule");
	struct rule *rule = NULL;
	if (rule_text && *rule_text) {
		char err[256];
		if (!(rule = rule_parse(rule_text, err, sizeof err)))
			return http_reply_error(r, 400, "invalid_rule", "rule: %s", err);
	}
	struct screens_page page = {.list = json_array()};
	int rc = rule ? list_by_rule(r, &lq, rule, &page) : list_by_sql(r, &lq, &page);
	rule_free(rule);
	if (rc != 0) {
		json_decref(page.list);
		return http_reply_error(r, 500, "internal", "cannot list screens");
	}
	http_reply_json(r, 200,
	                json_pack("{s:o, s:I, s:I, s:I}", "screens", page.list, "change_seq",
	                          (json_int_t)screens_change_seq(r->db, r->auth.account_id), "total",
	                          (json_int_t)page.total, "online", (json_int_t)page.online));
	return 0;
}
#undef SCREENS_MATCHING

static bool load_screen(struct http_req *r, json_t **out)
{
	const char *id = http_param(r, "id");
	json_t *j = codes_is_id(id) ? screens_json(r->db, r->auth.account_id, id) : NULL;
	if (!j || json_is_true(json_object_get(j, "deleted"))) {
		json_decref(j);
		http_reply_error(r, 404, "not_found", "no such screen in this account");
		return false;
	}
	*out = j;
	return true;
}

int screens_handle_get(struct http_req *r)
{
	json_t *screen;
	if (!load_screen(r, &screen))
		return 0;
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT id, seq, type, status, created_at, COALESCE(acked_at,0), result, "
	                      "created_by, payload FROM instructions WHERE screen_id = ? ORDER BY seq DESC "
	                      "LIMIT 50");
	json_t *history = json_array();
	if (st) {
		db_bind_text(st, 1, http_param(r, "id"));
		while (db_step(st) == DB_ROW)
			json_array_append_new(
			    history,
			    json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:o, s:s, s:o}", "id", db_col_text(st, 0), "seq",
			              (json_int_t)db_col_int(st, 1), "type", db_col_text(st, 2), "status",
			              db_col_text(st, 3), "created_at", (json_int_t)db_col_int(st, 4), "acked_at",
			              (json_int_t)db_col_int(st, 5), "result",
			              parse_or(db_col_text(st, 6), json_object()), "created_by", db_col_text(st, 7),
			              "payload", parse_or(db_col_text(st, 8), json_object())));
		db_done(st);
	}
	json_object_set_new(screen, "instructions", history);
	http_reply_json(r, 200, json_pack("{s:o}", "screen", screen));
	return 0;
}

int screens_handle_update(struct http_req *r)
{
	json_t *body = http_json_body(r), *screen;
	if (!body || !load_screen(r, &screen))
		return 0;
	json_decref(screen);
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v) {
		if (strcmp(key, "name") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128)
				return http_reply_error(r, 400, "invalid_field",
				                        "name must be a string of 1-128 bytes");
		} else if (strcmp(key, "group") == 0) {
			if (!json_is_string(v) || json_string_length(v) > 128)
				return http_reply_error(r, 400, "invalid_field",
				                        "group must be a string of at most 128 bytes");
		} else if (strcmp(key, "tags") == 0) {
			if (!tags_check(r, v))
				return 0;
		} else if (strcmp(key, "remote_consent") == 0) {
			if (!json_is_boolean(v))
				return http_reply_error(
				    r, 400, "invalid_field",
				    "remote_consent must be true (ask the person at the screen before "
				    "a remote session) or false");
		} else if (strcmp(key, "location") == 0) {
			if (!location_check(r, v))
				return 0;
		} else {
			return http_reply_error(r, 400, "unknown_field",
			                        "unknown field \"%.64s\" (name, group, tags, remote_consent, location)",
			                        key);
		}
	}
	const char *id = http_param(r, "id");
	if ((v = json_object_get(body, "name"))) {
		db_exec(r->db, "UPDATE screens SET name = ? WHERE id = ?", "ss", json_string_value(v), id);
		/* the manifests of its sync group name their members */
		if (sync_groups_screen_renamed(r->db, r->auth.account_id, id) != 0)
			return store_reply_error(r, DB_ERROR, "the screen's sync group could not be updated");
	}
	if ((v = json_object_get(body, "group")))
		db_exec(r->db, "UPDATE screens SET group_name = ? WHERE id = ?", "ss", json_string_value(v), id);
	if ((v = json_object_get(body, "tags"))) {
		char *text = json_dumps(v, JSON_COMPACT);
		db_exec(r->db, "UPDATE screens SET tags = ? WHERE id = ?", "ss", text ? text : "[]", id);
		free(text);
	}
	if ((v = json_object_get(body, "remote_consent"))) {
		db_exec(r->db, "UPDATE screens SET remote_consent = ? WHERE id = ?", "is", (int64_t)json_is_true(v),
		        id);
		audit_request(r, "screen.remote_consent", id,
		              json_is_true(v) ? "asks consent" : "does not ask consent");
	}
	if ((v = json_object_get(body, "location")))
		location_save(r, id, v);
	screens_touch(r->db, r->auth.account_id, id);
	audit_request(r, "screen.updated", id, "");
	http_reply_json(r, 200, json_pack("{s:o}", "screen", screens_json(r->db, r->auth.account_id, id)));
	return 0;
}

int screens_handle_delete(struct http_req *r)
{
	json_t *screen;
	if (!load_screen(r, &screen))
		return 0;
	const char *id = http_param(r, "id");
	/* it leaves its sync group, whose key is drawn again */
	if (sync_groups_screen_deleted(r, id) != 0) {
		json_decref(screen);
		return store_reply_error(r, DB_ERROR, "the screen could not leave its sync group");
	}
	db_exec(r->db, "UPDATE screens SET deleted_at = ?, token_hash = NULL WHERE id = ?", "is", (int64_t)time(NULL),
	        id);
	db_exec(r->db, "DELETE FROM pairings WHERE screen_id = ?", "s", id);
	db_notifyf(r->db, "screen:%s", id); /* its waiting long-poll ends with 401 */
	presence_forget(id);
	screens_touch(r->db, r->auth.account_id, id);
	audit_request(r, "screen.deleted", json_string_value(json_object_get(screen, "name")), id);
	json_decref(screen);
	char path[4096];
	if (screenshot_path(r, id, path, sizeof path, false) == 0)
		unlink(path);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

int screens_handle_screenshot_get(struct http_req *r)
{
	json_t *screen;
	if (!load_screen(r, &screen))
		return 0;
	json_decref(screen);
	char path[4096];
	if (screenshot_path(r, http_param(r, "id"), path, sizeof path, false) != 0)
		return http_reply_error(r, 404, "not_found", "no screenshot yet");
	FILE *f = fopen(path, "rb");
	if (!f)
		return http_reply_error(r, 404, "not_found", "no screenshot yet");
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = len > 0 && len < (16 << 20) ? malloc((size_t)len) : NULL;
	bool ok = buf && fread(buf, 1, (size_t)len, f) == (size_t)len;
	fclose(f);
	if (!ok) {
		free(buf);
		return http_reply_error(r, 500, "internal", "cannot read the screenshot");
	}
	http_reply_owned(r, 200, "image/png", buf, (size_t)len);
	return 0;
}
