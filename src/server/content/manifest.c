/*
 * Manifests: what one screen needs to play, compiled from its default
 * channel, the schedules aimed at it or its group, and a "play now"
 * override: the bodies of those channels, the schedule rules (evaluated by
 * the player, so they hold offline), and the SHA-256, size and URL of every
 * object. A manifest is versioned by its content: when a change alters a
 * screen's compiled manifest, its version goes up and the screen gets a
 * manifest_changed instruction through its long-poll at once.
 *
 * This file reads the store and keeps versions; the assembling itself is
 * pure, in manifest_compile.c. The store is read in a few set-based
 * queries, never one per zone, item or screen: on PostgreSQL each query is
 * a round trip, and a channel save recompiles the manifest of every screen
 * that plays it inside the PUT. A member of a sync group also gets its
 * group's "sync" block (screens/sync_blocks.c) in its manifest, so a change
 * of the group is a new version too. Also schedules, "play now", and proof
 * of play (what played when).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/calendar.h"
#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "content.h"
#include "manifest_compile.h"

/* A screen's row, as its manifest needs it. */
struct screen_row {
	char id[CODES_ID_LEN + 1], def[CODES_ID_LEN + 1], now_ch[CODES_ID_LEN + 1], group[160];
	int64_t now_until, version;
	char hash[CODES_HASH_HEX_LEN];
};

#define SCREEN_ROW_COLUMNS                                                                                             \
	"id, COALESCE(channel_id,''), COALESCE(play_now_channel,''), play_now_until, group_name, manifest_hash, "      \
	"manifest_version"

static void screen_row_read(struct db_stmt *st, struct screen_row *s)
{
	snprintf(s->id, sizeof s->id, "%s", db_col_text(st, 0));
	snprintf(s->def, sizeof s->def, "%s", db_col_text(st, 1));
	snprintf(s->now_ch, sizeof s->now_ch, "%s", db_col_text(st, 2));
	s->now_until = db_col_int(st, 3);
	snprintf(s->group, sizeof s->group, "%s", db_col_text(st, 4));
	snprintf(s->hash, sizeof s->hash, "%s", db_col_text(st, 5));
	s->version = db_col_int(st, 6);
}

/* Whether the screen's "play now" is in force (its channel may be gone). */
static bool play_now_active(const struct screen_row *s, int64_t now)
{
	return *s->now_ch && s->now_until > now;
}

/* Reads into cache (id -> body, with "id" and "version") those of the
 * channel ids listed that the account has, in one query. */
static int load_channels(struct db *db, const char *account_id, json_t *ids, json_t *cache)
{
	if (json_array_size(ids) == 0)
		return 0;
	char *list = json_dumps(ids, JSON_COMPACT);
	struct db_stmt *st = list ? db_prepare(db, "SELECT id, body, version FROM channels WHERE account_id = ? AND "
	                                           "id IN (SELECT value FROM json_each(CAST(? AS TEXT)))")
	                          : NULL;
	if (!st) {
		free(list);
		return -1;
	}
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, list);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_error_t e;
		json_t *body = json_loads(db_col_text(st, 1), 0, &e);
		if (!body)
			continue;
		json_object_set_new(body, "id", json_string(db_col_text(st, 0)));
		json_object_set_new(body, "version", json_integer(db_col_int(st, 2)));
		json_object_set_new(cache, db_col_text(st, 0), body);
	}
	db_done(st);
	free(list);
	return rc == DB_DONE ? 0 : -1;
}

/* Adds id to a list of channel ids to read (once; "" and NULL: none). */
static void want_channel(json_t *ids, json_t *seen, const char *id)
{
	if (!id || !*id || json_object_get(seen, id))
		return;
	json_object_set_new(seen, id, json_true());
	json_array_append_new(ids, json_string(id));
}

/* A copy of the channel from cache into channels (the manifest's: feeds
 * are added to its items), unless it is there already or gone. */
static void add_channel(json_t *cache, json_t *channels, const char *id)
{
	if (!id || !*id || json_object_get(channels, id))
		return;
	json_t *body = json_object_get(cache, id);
	if (body)
		json_object_set_new(channels, id, json_deep_copy(body));
}

static json_t *days_list(const char *days)
{
	json_t *list = json_array();
	for (const char *d = days; *d; d++)
		json_array_append_new(list, json_integer(*d - '0'));
	return list;
}

static json_t *minutes_text(int64_t m)
{
	char t[8];
	snprintf(t, sizeof t, "%02d:%02d", (int)(m / 60), (int)(m % 60));
	return json_string(t);
}

#define SCHEDULE_ROW_COLUMNS "id, channel_id, days, start_min, end_min, from_date, until_date, priority"

/* A schedule rule as the manifest lists it, from SCHEDULE_ROW_COLUMNS at col. */
static json_t *schedule_row(struct db_stmt *st, int col)
{
	json_t *days = days_list(db_col_text(st, col + 2));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:I}", "id", db_col_text(st, col), "channel_id",
	                 db_col_text(st, col + 1), "days", days, "start", minutes_text(db_col_int(st, col + 3)), "end",
	                 minutes_text(db_col_int(st, col + 4)), "from", db_col_text(st, col + 5), "until",
	                 db_col_text(st, col + 6), "priority", (json_int_t)db_col_int(st, col + 7));
}

/* Whether a schedule's target names the screen or its group. */
static bool aims_at(const char *target, const struct screen_row *s)
{
	if (strncmp(target, "screen:", 7) == 0)
		return strcmp(target + 7, s->id) == 0;
	return *s->group && strncmp(target, "group:", 6) == 0 && strcmp(target + 6, s->group) == 0;
}

/* The cached feed of an rss item (manifest_compile.c asks). */
static json_t *stored_feed(void *ctx, const char *url, json_int_t max_items)
{
	return feeds_manifest_json(ctx, url, max_items);
}

/* The manifest of a screen, without its version (manifest_compile.c
 * assembles it): its default channel, its "play now" channel while in
 * force, and those of its schedule rules (borrowed, in order), copied from
 * cache, which holds every one of them the store has; and its sync group's
 * block when it has one (borrowed, NULL: none). */
static json_t *compile_row(const struct screen_row *s, json_t *rules, json_t *cache, json_t *sync,
                           manifest_feed_fn feed, void *feed_ctx)
{
	json_t *channels = json_object();
	add_channel(cache, channels, s->def);
	json_t *play_now = json_null();
	if (play_now_active(s, (int64_t)time(NULL)) && (add_channel(cache, channels, s->now_ch), 1) &&
	    json_object_get(channels, s->now_ch))
		play_now = json_pack("{s:s, s:I}", "channel_id", s->now_ch, "until", (json_int_t)s->now_until);
	json_t *schedule = json_array();
	size_t i;
	json_t *row;
	json_array_foreach (rules, i, row) {
		add_channel(cache, channels, json_string_value(json_object_get(row, "channel_id")));
		json_array_append(schedule, row);
	}
	json_t *m = manifest_assemble(channels, s->def, schedule, play_now, feed, feed_ctx);
	if (m && sync)
		json_object_set(m, "sync", sync);
	return m;
}

/* The manifest of one screen from the store: its schedule rules, then
 * every channel they, its default and its "play now" name, in one query,
 * and its sync group's block. */
static json_t *compile(struct db *db, const char *account_id, const struct screen_row *s)
{
	char t_screen[64], t_group[200];
	snprintf(t_screen, sizeof t_screen, "screen:%s", s->id);
	snprintf(t_group, sizeof t_group, "group:%s", s->group);
	struct db_stmt *st = db_prepare(db, "SELECT " SCHEDULE_ROW_COLUMNS " FROM schedules WHERE account_id = ? AND "
	                                    "(target = ? OR (target = ? AND ? <> '')) ORDER BY priority DESC, id");
	if (!st)
		return NULL;
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, t_screen);
	db_bind_text(st, 3, t_group);
	db_bind_text(st, 4, s->group);
	json_t *rules = json_array(), *ids = json_array(), *seen = json_object(), *cache = json_object();
	json_t *sync = json_object();
	want_channel(ids, seen, s->def);
	if (play_now_active(s, (int64_t)time(NULL)))
		want_channel(ids, seen, s->now_ch);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_t *row = schedule_row(st, 0);
		want_channel(ids, seen, json_string_value(json_object_get(row, "channel_id")));
		json_array_append_new(rules, row);
	}
	db_done(st);
	json_t *m = rc == DB_DONE && load_channels(db, account_id, ids, cache) == 0 &&
	                    screens_sync_blocks(db, account_id, s->id, sync) == 0
	                ? compile_row(s, rules, cache, json_object_get(sync, s->id), stored_feed, db)
	                : NULL;
	json_decref(sync);
	json_decref(rules);
	json_decref(ids);
	json_decref(seen);
	json_decref(cache);
	return m;
}

/* The content hash of a manifest (its compact text with sorted keys). */
static int manifest_hash(json_t *m, char hash[CODES_HASH_HEX_LEN])
{
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -1;
	codes_hash_hex(text, strlen(text), hash);
	free(text);
	return 0;
}

/* Compiles a screen's manifest and, if its content changed, bumps its
 * version and tells the screen. The manifest (without "version") and the
 * current version are handed back when asked for. */
static int refresh(struct db *db, const char *account_id, const char *screen_id, json_t **manifest_out,
                   int64_t *version_out)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT " SCREEN_ROW_COLUMNS " FROM screens WHERE id = ? AND account_id = ? "
	                              "AND deleted_at IS NULL",
	                              "ss", screen_id, account_id);
	if (!st)
		return rc == DB_DONE ? 0 : -1; /* deleted meanwhile: nothing to tell */
	struct screen_row s;
	screen_row_read(st, &s);
	db_done(st);
	json_t *m = compile(db, account_id, &s);
	if (!m)
		return -1;
	char hash[CODES_HASH_HEX_LEN];
	rc = manifest_hash(m, hash);
	if (manifest_out)
		*manifest_out = m;
	else
		json_decref(m);
	if (rc != 0)
		return -1;
	bool same = strcmp(s.hash, hash) == 0;
	int64_t version = s.version + (same ? 0 : 1);
	if (version_out)
		*version_out = version;
	if (same)
		return 0;
	if (db_exec(db, "UPDATE screens SET manifest_hash = ?, manifest_version = ? WHERE id = ?", "sis", hash, version,
	            screen_id) != DB_DONE)
		return -1;
	char payload[64], id[CODES_ID_LEN + 1];
	snprintf(payload, sizeof payload, "{\"version\":%lld}", (long long)version);
	if (screens_instruction_add(db, screen_id, "manifest_changed", payload, 86400, "vitrine", id) < 0)
		return -1;
	screens_touch(db, account_id, screen_id);
	return 0;
}

int content_refresh_screen(struct db *db, const char *account_id, const char *screen_id)
{
	return refresh(db, account_id, screen_id, NULL, NULL);
}

/* --- many screens at once: a channel saved, a schedule or channel gone,
 * a sync group changed ---
 *
 * A fixed number of queries however many screens: their rows, the
 * account's schedule rules, the channels all of them name, the account's
 * sync groups, then (for the screens whose manifest changed) the account's
 * change counter, their new hashes and versions, and their
 * manifest_changed instructions, each of the last two one statement over a
 * JSON list. The manifests are those refresh() compiles, screen by screen
 * (compile_row); screens with the same channels, rules and sync block
 * share one compilation, and every rss feed is read once. */

struct screen_rows {
	struct screen_row *v;
	size_t n, cap;
};

static struct screen_row *rows_push(struct screen_rows *rows)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct screen_row *v = realloc(rows->v, cap * sizeof *v);
		if (!v)
			return NULL;
		rows->v = v;
		rows->cap = cap;
	}
	return &rows->v[rows->n++];
}

/* The screens that may play the channel: assigned, playing it now, or
 * scheduled to (directly or through their group); channel_id NULL: every
 * screen of the account. */
static int candidate_screens(struct db *db, const char *account_id, const char *channel_id, struct screen_rows *out)
{
	struct db_stmt *st = db_prepare(
	    db, "SELECT " SCREEN_ROW_COLUMNS " FROM screens s WHERE account_id = ? AND deleted_at IS NULL AND (? = '' "
	        "OR s.channel_id = ? OR s.play_now_channel = ? OR EXISTS (SELECT 1 FROM schedules sc WHERE "
	        "sc.account_id = s.account_id AND sc.channel_id = ? AND (sc.target = 'screen:' || s.id OR "
	        "(s.group_name <> '' AND sc.target = 'group:' || s.group_name)))) ORDER BY id");
	if (!st)
		return -1;
	const char *c = channel_id ? channel_id : "";
	db_bind_text(st, 1, account_id);
	for (int i = 2; i <= 5; i++)
		db_bind_text(st, i, c);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct screen_row *s = rows_push(out);
		if (!s) {
			rc = DB_ERROR;
			break;
		}
		screen_row_read(st, s);
	}
	db_done(st);
	return rc == DB_DONE ? 0 : -1;
}

/* Every feed an rss item names, read from the store once per batch. */
struct feed_memo {
	struct db *db;
	json_t *feeds; /* "max_items url" -> feed */
};

static json_t *memo_feed(void *ctx, const char *url, json_int_t max_items)
{
	struct feed_memo *fm = ctx;
	char *key = NULL;
	if (asprintf(&key, "%lld %s", (long long)max_items, url) < 0)
		return feeds_manifest_json(fm->db, url, max_items);
	json_t *feed = json_object_get(fm->feeds, key);
	if (!feed) {
		feed = feeds_manifest_json(fm->db, url, max_items);
		if (feed)
			json_object_set_new(fm->feeds, key, feed);
	}
	free(key);
	return json_incref(feed);
}

/* What a compiled manifest depends on besides the channels' bodies (the
 * same for every screen of the batch): its default channel, its "play now"
 * in force, its schedule rules and its sync block (NULL: none; each
 * member's differs, by its number). */
static char *inputs_key(const struct screen_row *s, json_t *rules, json_t *sync)
{
	json_t *ids = json_array();
	size_t i;
	json_t *row;
	json_array_foreach (rules, i, row)
		json_array_append(ids, json_object_get(row, "id"));
	bool now = play_now_active(s, (int64_t)time(NULL));
	json_t *k = json_pack("[s, s, I, o, O?]", s->def, now ? s->now_ch : "", (json_int_t)(now ? s->now_until : 0),
	                      ids, sync);
	char *text = k ? json_dumps(k, JSON_COMPACT) : NULL;
	json_decref(k);
	return text;
}

/* The new hashes and versions of the screens listed in changed
 * ([{"s": screen, "h": hash, "v": version}...]), each stamped with the
 * account's change counter as screens_touch does, and a manifest_changed
 * instruction to each as screens_instruction_add queues it. */
static int save_changed(struct db *db, const char *account_id, json_t *changed)
{
	size_t n = json_array_size(changed);
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "UPDATE accounts SET change_seq = change_seq + ? WHERE id = ? "
	                              "RETURNING change_seq",
	                              "is", (int64_t)n, account_id);
	int64_t last = st ? db_col_int(st, 0) : 0;
	if (st) {
		while (db_step(st) == DB_ROW)
			;
		db_done(st);
	}
	if (!last)
		return -1;
	size_t i;
	json_t *c;
	json_array_foreach (changed, i, c) {
		char payload[64], id[CODES_ID_LEN + 1];
		snprintf(payload, sizeof payload, "{\"version\":%lld}",
		         (long long)json_integer_value(json_object_get(c, "v")));
		codes_new_id(id);
		json_object_set_new(c, "c", json_integer((json_int_t)(last - (int64_t)n + 1 + (int64_t)i)));
		json_object_set_new(c, "i", json_string(id));
		json_object_set_new(c, "p", json_string(payload));
	}
	char *list = json_dumps(changed, JSON_COMPACT);
	if (!list)
		return -1;
	int64_t now = (int64_t)time(NULL);
	rc = db_exec(db,
	             "UPDATE screens SET manifest_hash = json_extract(j.value, '$.h'), manifest_version = "
	             "CAST(json_extract(j.value, '$.v') AS BIGINT), next_seq = next_seq + 1, change_seq = "
	             "CAST(json_extract(j.value, '$.c') AS BIGINT) FROM json_each(CAST(? AS TEXT)) AS j "
	             "WHERE screens.id = json_extract(j.value, '$.s')",
	             "s", list);
	if (rc == DB_DONE)
		rc = db_exec(
		    db,
		    "INSERT INTO instructions(id, screen_id, seq, type, payload, created_at, created_by, "
		    "expires_at) SELECT json_extract(j.value, '$.i'), s.id, s.next_seq - 1, 'manifest_changed', "
		    "json_extract(j.value, '$.p'), ?, 'vitrine', ? FROM json_each(CAST(? AS TEXT)) AS j JOIN "
		    "screens s ON s.id = json_extract(j.value, '$.s')",
		    "iis", now, now + 86400, list);
	free(list);
	if (rc != DB_DONE || db_changes(db) != (int64_t)n)
		return -1;
	json_array_foreach (changed, i, c)
		db_notifyf(db, "screen:%s", json_string_value(json_object_get(c, "s"))); /* their long-polls answer */
	db_notifyf(db, "account:%s", account_id);
	return 0;
}

/* The screens listed (a JSON list of ids) that are the account's and not
 * deleted. */
static int listed_screens(struct db *db, const char *account_id, json_t *screen_ids, struct screen_rows *out)
{
	char *list = json_dumps(screen_ids, JSON_COMPACT);
	struct db_stmt *st = list ? db_prepare(db, "SELECT " SCREEN_ROW_COLUMNS " FROM screens WHERE account_id = ? "
	                                           "AND deleted_at IS NULL AND id IN (SELECT value FROM "
	                                           "json_each(CAST(? AS TEXT))) ORDER BY id")
	                          : NULL;
	if (!st) {
		free(list);
		return -1;
	}
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, list);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		struct screen_row *s = rows_push(out);
		if (!s) {
			rc = DB_ERROR;
			break;
		}
		screen_row_read(st, s);
	}
	db_done(st);
	free(list);
	return rc == DB_DONE ? 0 : -1;
}

/* Recompiles the manifests of rows (freed here), saving and telling those
 * that changed. */
static int refresh_rows(struct db *db, const char *account_id, struct screen_rows rows)
{
	if (rows.n == 0)
		return 0;
	/* every rule of the account (few), matched to each screen below */
	struct db_stmt *st = db_prepare(db, "SELECT target, " SCHEDULE_ROW_COLUMNS " FROM schedules WHERE "
	                                    "account_id = ? ORDER BY priority DESC, id");
	if (!st) {
		free(rows.v);
		return -1;
	}
	db_bind_text(st, 1, account_id);
	json_t *targets = json_array(), *rules = json_array(), *ids = json_array(), *seen = json_object();
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_array_append_new(targets, json_string(db_col_text(st, 0)));
		json_array_append_new(rules, schedule_row(st, 1));
	}
	db_done(st);
	/* each screen's rules, and every channel any of them names */
	json_t *per_screen = json_array();
	int64_t now = (int64_t)time(NULL);
	for (size_t k = 0; k < rows.n; k++) {
		const struct screen_row *s = &rows.v[k];
		json_t *mine = json_array();
		size_t i;
		json_t *t;
		json_array_foreach (targets, i, t) {
			if (!aims_at(json_string_value(t), s))
				continue;
			json_t *row = json_array_get(rules, i);
			json_array_append(mine, row);
			want_channel(ids, seen, json_string_value(json_object_get(row, "channel_id")));
		}
		json_array_append_new(per_screen, mine);
		want_channel(ids, seen, s->def);
		if (play_now_active(s, now))
			want_channel(ids, seen, s->now_ch);
	}
	json_t *cache = json_object(), *hashes = json_object(), *changed = json_array(), *sync = json_object();
	struct feed_memo fm = {db, json_object()};
	if (rc != DB_DONE || load_channels(db, account_id, ids, cache) != 0 ||
	    screens_sync_blocks(db, account_id, NULL, sync) != 0)
		rc = DB_ERROR;
	for (size_t k = 0; rc == DB_DONE && k < rows.n; k++) {
		const struct screen_row *s = &rows.v[k];
		json_t *mine = json_array_get(per_screen, k), *block = json_object_get(sync, s->id);
		char *key = inputs_key(s, mine, block);
		const char *hash = key ? json_string_value(json_object_get(hashes, key)) : NULL;
		if (!hash) {
			char h[CODES_HASH_HEX_LEN];
			json_t *m = key ? compile_row(s, mine, cache, block, memo_feed, &fm) : NULL;
			if (!m || manifest_hash(m, h) != 0)
				rc = DB_ERROR;
			else
				json_object_set_new(hashes, key, json_string(h));
			json_decref(m);
			hash = key ? json_string_value(json_object_get(hashes, key)) : NULL;
		}
		if (hash && strcmp(hash, s->hash) != 0)
			json_array_append_new(changed, json_pack("{s:s, s:s, s:I}", "s", s->id, "h", hash, "v",
			                                         (json_int_t)(s->version + 1)));
		free(key);
	}
	if (rc == DB_DONE && json_array_size(changed) > 0 && save_changed(db, account_id, changed) != 0)
		rc = DB_ERROR;
	json_decref(fm.feeds);
	json_decref(sync);
	json_decref(changed);
	json_decref(hashes);
	json_decref(cache);
	json_decref(per_screen);
	json_decref(seen);
	json_decref(ids);
	json_decref(rules);
	json_decref(targets);
	free(rows.v);
	return rc == DB_DONE ? 0 : -1;
}

int content_refresh_manifests(struct db *db, const char *account_id, const char *channel_id)
{
	struct screen_rows rows = {0};
	if (candidate_screens(db, account_id, channel_id, &rows) != 0) {
		free(rows.v);
		return -1;
	}
	return refresh_rows(db, account_id, rows);
}

int content_refresh_screen_list(struct db *db, const char *account_id, json_t *screen_ids)
{
	struct screen_rows rows = {0};
	if (json_array_size(screen_ids) == 0)
		return 0;
	if (listed_screens(db, account_id, screen_ids, &rows) != 0) {
		free(rows.v);
		return -1;
	}
	return refresh_rows(db, account_id, rows);
}

int content_handle_device_manifest(struct http_req *r)
{
	json_t *m = NULL;
	int64_t version = 0;
	if (refresh(r->db, r->auth.account_id, r->auth.device_id, &m, &version) != 0) {
		json_decref(m);
		return store_reply_error(r, DB_ERROR, "the manifest could not be compiled");
	}
	if (!m)
		return http_reply_error(r, 404, "not_found", "this screen has no manifest");
	char etag[48];
	snprintf(etag, sizeof etag, "\"m%lld\"", (long long)version);
	const char *inm = http_header(r, "If-None-Match");
	if (inm && strcmp(inm, etag) == 0) {
		json_decref(m);
		http_reply_empty(r, 304);
		return http_reply_header(r, "ETag", etag);
	}
	json_object_set_new(m, "version", json_integer(version));
	http_reply_json(r, 200, m);
	http_reply_header(r, "ETag", etag);
	return 0;
}

/* --- schedules and play-now --- */

static int parse_hhmm(const char *s)
{
	return calendar_minutes(s);
}

static bool date_ok(const char *s)
{
	return !s || !*s || calendar_valid_date(s);
}

int content_handle_schedules_list(struct http_req *r)
{
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT id, target, channel_id, days, start_min, end_min, from_date, "
	                      "until_date, priority FROM schedules WHERE account_id = ? ORDER BY priority "
	                      "DESC, created_at");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list schedules");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:I}", "id", db_col_text(st, 0), "target",
		                    db_col_text(st, 1), "channel_id", db_col_text(st, 2), "days",
		                    days_list(db_col_text(st, 3)), "start", minutes_text(db_col_int(st, 4)), "end",
		                    minutes_text(db_col_int(st, 5)), "from", db_col_text(st, 6), "until",
		                    db_col_text(st, 7), "priority", (json_int_t)db_col_int(st, 8)));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "schedules", list));
	return 0;
}

int content_handle_schedule_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *target = json_string_value(json_object_get(body, "target"));
	const char *cid = json_string_value(json_object_get(body, "channel_id"));
	int rc;
	if (!target || (strncmp(target, "screen:", 7) != 0 && strncmp(target, "group:", 6) != 0) ||
	    strlen(target) > 140)
		return http_reply_error(r, 400, "invalid_field", "target must be \"screen:<id>\" or \"group:<name>\"");
	if (strncmp(target, "screen:", 7) == 0) {
		struct db_stmt *st = codes_is_id(target + 7) ? db_query(r->db, &rc,
		                                                        "SELECT 1 FROM screens WHERE id = ? AND "
		                                                        "account_id = ? AND deleted_at IS NULL",
		                                                        "ss", target + 7, r->auth.account_id)
		                                             : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field", "target: no such screen in this account");
	}
	struct db_stmt *st = cid && codes_is_id(cid)
	                         ? db_query(r->db, &rc, "SELECT 1 FROM channels WHERE id = ? AND account_id = ?", "ss",
	                                    cid, r->auth.account_id)
	                         : NULL;
	db_done(st);
	if (!st)
		return http_reply_error(r, 400, "invalid_field", "channel_id: no such channel in this account");
	char days[8] = "1234567";
	json_t *jd = json_object_get(body, "days");
	if (jd) {
		size_t i, n = 0;
		json_t *d;
		if (!json_is_array(jd) || json_array_size(jd) == 0 || json_array_size(jd) > 7)
			return http_reply_error(r, 400, "invalid_field", "days must be a list of ISO weekdays 1-7");
		json_array_foreach (jd, i, d) {
			if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 7)
				return http_reply_error(r, 400, "invalid_field",
				                        "days[%zu] must be 1 (Monday) to 7 (Sunday)", i);
			days[n++] = (char)('0' + json_integer_value(d));
		}
		days[n] = '\0';
	}
	json_t *js = json_object_get(body, "start"), *je = json_object_get(body, "end");
	int start = js ? parse_hhmm(json_string_value(js)) : 0, end = je ? parse_hhmm(json_string_value(je)) : 1440;
	if (start < 0 || end < 0 || start >= end)
		return http_reply_error(r, 400, "invalid_field", "start and end must be HH:MM with start before end");
	const char *from = json_string_value(json_object_get(body, "from")),
	           *until = json_string_value(json_object_get(body, "until"));
	json_t *jf = json_object_get(body, "from"), *jun = json_object_get(body, "until");
	if ((jf && !json_is_string(jf)) || (jun && !json_is_string(jun)) || !date_ok(from) || !date_ok(until))
		return http_reply_error(r, 400, "invalid_field", "from and until must be dates YYYY-MM-DD");
	if (from && until && *from && *until && strcmp(from, until) > 0)
		return http_reply_error(r, 400, "invalid_field", "from must be on or before until");
	json_t *jp = json_object_get(body, "priority");
	if (jp && (!json_is_integer(jp) || llabs(json_integer_value(jp)) > 1000))
		return http_reply_error(r, 400, "invalid_field", "priority must be an integer from -1000 to 1000");
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	if (db_exec(r->db,
	            "INSERT INTO schedules(id, account_id, target, channel_id, days, start_min, end_min, from_date, "
	            "until_date, priority, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
	            "sssssiissii", id, r->auth.account_id, target, cid, days, (int64_t)start, (int64_t)end,
	            from ? from : "", until ? until : "", jp ? (int64_t)json_integer_value(jp) : (int64_t)0,
	            (int64_t)time(NULL)) != DB_DONE ||
	    content_refresh_manifests(r->db, r->auth.account_id, cid) != 0)
		return store_reply_error(r, DB_ERROR, "the schedule could not be saved");
	audit_request(r, "schedule.created", target, id);
	http_reply_json(r, 201, json_pack("{s:{s:s}}", "schedule", "id", id));
	return 0;
}

int content_handle_schedule_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!codes_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such schedule");
	db_exec(r->db, "DELETE FROM schedules WHERE id = ? AND account_id = ?", "ss", id, r->auth.account_id);
	if (db_changes(r->db) != 1)
		return http_reply_error(r, 404, "not_found", "no such schedule");
	if (content_refresh_manifests(r->db, r->auth.account_id, NULL) != 0)
		return store_reply_error(r, DB_ERROR, "the screens could not be updated");
	audit_request(r, "schedule.deleted", id, "");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

/* POST /api/v1/screens/{id}/play-now {"channel_id", "until"}: overrides the
 * schedule until the given time; DELETE ends it. */
int content_handle_play_now(struct http_req *r)
{
	const char *sid = http_param(r, "id");
	if (!screens_require(r, sid))
		return 0;
	int rc;
	struct db_stmt *st;
	const char *cid = NULL;
	int64_t until = 0, now = (int64_t)time(NULL);
	if (strcmp(r->method, "POST") == 0) {
		json_t *body = http_json_body(r);
		if (!body)
			return 0;
		cid = json_string_value(json_object_get(body, "channel_id"));
		json_t *ju = json_object_get(body, "until");
		st = cid && codes_is_id(cid)
		         ? db_query(r->db, &rc, "SELECT 1 FROM channels WHERE id = ? AND account_id = ?", "ss", cid,
		                    r->auth.account_id)
		         : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field", "channel_id: no such channel in this account");
		if (!json_is_integer(ju) || json_integer_value(ju) <= now || json_integer_value(ju) > now + 366 * 86400)
			return http_reply_error(r, 400, "invalid_field",
			                        "until must be a Unix time in the coming year");
		until = json_integer_value(ju);
	}
	db_exec(r->db, "UPDATE screens SET play_now_channel = ?, play_now_until = ? WHERE id = ?", "sis", cid, until,
	        sid);
	if (content_refresh_screen(r->db, r->auth.account_id, sid) != 0)
		return store_reply_error(r, DB_ERROR, "the screen could not be updated");
	audit_request(r, cid ? "screen.play_now" : "screen.play_now_ended", sid, cid ? cid : "");
	http_reply_json(r, 200, json_pack("{s:s?, s:I}", "channel_id", cid, "until", (json_int_t)until));
	return 0;
}

/* --- proof of play --- */

int content_handle_device_played(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *plays = json_object_get(body, "plays");
	if (!json_is_array(plays) || json_array_size(plays) > 1000)
		return http_reply_error(r, 400, "invalid_field", "plays must be a list of at most 1000 entries");
	if (!screens_played_admit(r, json_array_size(plays)))
		return 0;
	size_t i;
	json_t *p;
	int64_t now = (int64_t)time(NULL);
	json_array_foreach (plays, i, p) {
		json_t *at = json_object_get(p, "started_at"), *dur = json_object_get(p, "duration_ms");
		const char *fields[] = {"channel_id", "zone", "item", "sha256"};
		const char *vals[4];
		for (int k = 0; k < 4; k++) {
			json_t *v = json_object_get(p, fields[k]);
			vals[k] = json_is_string(v) && json_string_length(v) <= 128 ? json_string_value(v) : "";
		}
		if (!json_is_integer(at) || json_integer_value(at) < now - 90 * 86400 ||
		    json_integer_value(at) > now + 86400 || !json_is_integer(dur) || json_integer_value(dur) < 0 ||
		    json_integer_value(dur) > 86400000)
			return http_reply_error(
			    r, 400, "invalid_field",
			    "plays[%zu]: started_at (Unix s, within 90 days) and duration_ms are required", i);
		if (db_exec(
		        r->db,
		        "INSERT INTO proof_of_play(account_id, screen_id, channel_id, zone, item, sha256, started_at, "
		        "duration_ms) VALUES(?,?,?,?,?,?,?,?)",
		        "ssssssii", r->auth.account_id, r->auth.device_id, vals[0], vals[1], vals[2], vals[3],
		        (int64_t)json_integer_value(at), (int64_t)json_integer_value(dur)) != DB_DONE)
			return store_reply_error(r, DB_ERROR, "the plays could not be saved");
	}
	http_reply_json(r, 200, json_pack("{s:I}", "recorded", (json_int_t)json_array_size(plays)));
	return 0;
}

/* GET /api/v1/reports/plays?screen_id=&sha256=&from=&to=&format=csv */
/* Per-day counts (?group=day): the raw rows of recent days and the counts
 * that retention folded old rows into (proof_of_play_daily), added up, so
 * the report reads the same before and after the fold. */
static int reply_daily_plays(struct http_req *r, const char *screen, const char *sha, int64_t f, int64_t t)
{
	struct db_stmt *st = db_prepare(
	    r->db, "SELECT screen_id, day, channel_id, zone, item, sha256, SUM(plays), SUM(duration_ms) FROM ("
	           "SELECT screen_id, started_at - started_at % 86400 AS day, channel_id, zone, item, sha256, "
	           "1 AS plays, duration_ms FROM proof_of_play WHERE account_id = ?1 AND (?2 = '' OR screen_id = ?2) "
	           "AND (?3 = '' OR sha256 = ?3) AND started_at >= ?4 AND started_at <= ?5 "
	           "UNION ALL SELECT screen_id, day, channel_id, zone, item, sha256, plays, duration_ms FROM "
	           "proof_of_play_daily WHERE account_id = ?1 AND (?2 = '' OR screen_id = ?2) AND (?3 = '' OR "
	           "sha256 = ?3) AND day >= ?4 - ?4 % 86400 AND day <= ?5) AS plays_by_day GROUP BY 1, 2, 3, 4, 5, 6 "
	           "ORDER BY 2, 1, 3, 4, 5 LIMIT 100000");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot read proof of play");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, screen ? screen : "");
	db_bind_text(st, 3, sha ? sha : "");
	db_bind_int(st, 4, f);
	db_bind_int(st, 5, t);
	json_t *days = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(days, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "screen_id",
		                                      db_col_text(st, 0), "day", (json_int_t)db_col_int(st, 1),
		                                      "channel_id", db_col_text(st, 2), "zone", db_col_text(st, 3),
		                                      "item", db_col_text(st, 4), "sha256", db_col_text(st, 5), "plays",
		                                      (json_int_t)db_col_int(st, 6), "duration_ms",
		                                      (json_int_t)db_col_int(st, 7)));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "days", days));
}

int content_handle_proof_of_play(struct http_req *r)
{
	const char *screen = http_query(r, "screen_id"), *sha = http_query(r, "sha256");
	const char *from = http_query(r, "from"), *to = http_query(r, "to"), *format = http_query(r, "format");
	const char *group = http_query(r, "group");
	int64_t f = from ? strtoll(from, NULL, 10) : 0, t = to ? strtoll(to, NULL, 10) : INT64_MAX;
	bool csv = format && strcmp(format, "csv") == 0;
	if (group && strcmp(group, "day") != 0)
		return http_reply_error(r, 400, "invalid_parameter",
		                        "group must be \"day\" (or absent: one row per play)");
	if (group) {
		if (csv)
			return http_reply_error(r, 400, "invalid_parameter", "group=day is answered in JSON only");
		return reply_daily_plays(r, screen, sha, f, t);
	}
	struct db_stmt *st =
	    db_prepare(r->db, "SELECT p.screen_id, COALESCE(s.name,''), p.channel_id, p.zone, p.item, "
	                      "p.sha256, COALESCE(m.filename,''), p.started_at, p.duration_ms FROM "
	                      "proof_of_play p LEFT JOIN screens s ON s.id = p.screen_id LEFT JOIN media m "
	                      "ON m.account_id = p.account_id AND m.sha256 = p.sha256 WHERE p.account_id = ? "
	                      "AND (? = '' OR p.screen_id = ?) AND (? = '' OR p.sha256 = ?) AND "
	                      "p.started_at >= ? AND p.started_at <= ? ORDER BY p.started_at LIMIT 100000");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot read proof of play");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, screen ? screen : "");
	db_bind_text(st, 3, screen ? screen : "");
	db_bind_text(st, 4, sha ? sha : "");
	db_bind_text(st, 5, sha ? sha : "");
	db_bind_int(st, 6, f);
	db_bind_int(st, 7, t);
	json_t *rows = json_array();
	char *buf = NULL;
	size_t len = 0;
	FILE *out = csv ? open_memstream(&buf, &len) : NULL;
	if (out)
		fputs("screen_id,screen,channel_id,zone,item,sha256,filename,started_at,duration_ms\r\n", out);
	while (db_step(st) == DB_ROW) {
		if (out) {
			for (int k = 0; k < 7; k++) {
				const char *v = db_col_text(st, k);
				fputc('"', out);
				if (*v == '=' || *v == '+' || *v == '-' || *v == '@' || *v == '\t' || *v == '\r')
					fputc('\'', out);
				for (; *v; v++) {
					if (*v == '"')
						fputc('"', out);
					fputc(*v, out);
				}
				fputs("\",", out);
			}
			fprintf(out, "%lld,%lld\r\n", (long long)db_col_int(st, 7), (long long)db_col_int(st, 8));
		} else {
			json_array_append_new(rows,
			                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "screen_id",
			                                db_col_text(st, 0), "screen", db_col_text(st, 1), "channel_id",
			                                db_col_text(st, 2), "zone", db_col_text(st, 3), "item",
			                                db_col_text(st, 4), "sha256", db_col_text(st, 5), "filename",
			                                db_col_text(st, 6), "started_at", (json_int_t)db_col_int(st, 7),
			                                "duration_ms", (json_int_t)db_col_int(st, 8)));
		}
	}
	db_done(st);
	if (out) {
		json_decref(rows);
		fclose(out);
		http_reply_owned(r, 200, "text/csv; charset=utf-8", buf, len);
		return http_reply_header(r, "Content-Disposition", "attachment; filename=\"proof-of-play.csv\"");
	}
	http_reply_json(r, 200, json_pack("{s:o}", "plays", rows));
	return 0;
}
