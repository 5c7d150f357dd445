/*
 * Channels: a canvas (width x height) of zones (rectangles with a z-order),
 * each with a playlist of items (a medium of the library, a web page, a
 * text/ticker, or an RSS/Atom feed fetched by the server: feeds.c) with a
 * duration, a transition and an optional validity window. A channel body
 * is validated completely before anything is written, by the schema the
 * CLI's publish uses too (src/common/channel_schema.c, the store resolving
 * media), and the error names the JSON path at fault
 * ("zones[1].items[0].duration").
 *
 * Editors change only the zones an admin granted them (editor_grants);
 * the layout itself (zones added, removed or moved) needs the '*' grant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/channel_schema.h"
#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "content.h"

/* The store as the schema's resolver: a medium must be in the account's
 * library; each one found is listed in media_used. */
struct store_media {
	struct db *db;
	const char *account_id;
	json_t *media_used;
};

static int resolve_stored_medium(void *ctx, const char *sha256, const char *json_path, struct channel_medium *out,
                                 char *msg, size_t msgsz)
{
	struct store_media *sm = ctx;
	(void)json_path;
	json_t *m = content_media_json(sm->db, sm->account_id, sha256);
	if (!m) {
		snprintf(msg, msgsz, "this account has no media %s (upload it first)", sha256);
		return -1;
	}
	snprintf(out->kind, sizeof out->kind, "%s", json_string_value(json_object_get(m, "kind")));
	snprintf(out->mime, sizeof out->mime, "%s", json_string_value(json_object_get(m, "mime")));
	out->size = json_integer_value(json_object_get(m, "size"));
	json_array_append_new(sm->media_used, json_string(sha256));
	json_decref(m);
	return 0;
}

/* Validates a whole channel body (src/common/channel_schema.c); returns the
 * normalised body or NULL after replying 400 with the first fault and its
 * JSON path. media_used receives the sha256 of every medium. */
static json_t *check_channel(struct http_req *r, json_t *body, json_t *media_used)
{
	struct store_media sm = {r->db, r->auth.account_id, media_used};
	const struct channel_resolver store = {resolve_stored_medium, NULL, &sm};
	json_t *faults = json_array();
	json_t *norm = faults ? channel_schema_check(body, &store, faults, 1) : NULL;
	if (!norm) {
		json_t *first = json_array_get(faults, 0);
		char text[800];
		channel_schema_fault_text(first, text, sizeof text);
		http_reply_error_extra(
		    r, 400, "invalid_channel",
		    json_pack("{s:s}", "path", first ? json_string_value(json_object_get(first, "path")) : ""), "%s",
		    first ? text : "out of memory");
	}
	json_decref(faults);
	return norm;
}

static json_t *editor_zones(struct http_req *r, const char *channel_id);

static json_t *channel_json(struct db *db, const char *account_id, const char *id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, body, version, created_at, updated_at, updated_by FROM channels "
	                              "WHERE id = ? AND account_id = ?",
	                              "ss", id, account_id);
	if (!st)
		return NULL;
	json_error_t e;
	json_t *body = json_loads(db_col_text(st, 1), 0, &e);
	if (body) {
		json_object_set_new(body, "id", json_string(db_col_text(st, 0)));
		json_object_set_new(body, "version", json_integer(db_col_int(st, 2)));
		json_object_set_new(body, "created_at", json_integer(db_col_int(st, 3)));
		json_object_set_new(body, "updated_at", json_integer(db_col_int(st, 4)));
		json_object_set_new(body, "updated_by", json_string(db_col_text(st, 5)));
	}
	db_done(st);
	return body;
}

/* Whether a normalised channel has an rss item (its feed may be new). */
static bool uses_feed(json_t *channel)
{
	size_t zi, ii;
	json_t *zone, *item;
	json_array_foreach (json_object_get(channel, "zones"), zi, zone)
		json_array_foreach (json_object_get(zone, "items"), ii, item)
			if (json_object_get(item, "rss"))
				return true;
	return false;
}

static int save_media_links(struct db *db, const char *account_id, const char *channel_id, json_t *media_used)
{
	db_exec(db, "DELETE FROM channel_media WHERE channel_id = ?", "s", channel_id);
	size_t i;
	json_t *s;
	json_array_foreach (media_used, i, s) {
		int rc = db_exec(db,
		                 "INSERT INTO channel_media(channel_id, account_id, sha256) VALUES(?,?,?) "
		                 "ON CONFLICT DO NOTHING",
		                 "sss", channel_id, account_id, json_string_value(s));
		if (rc != DB_DONE)
			return -1;
	}
	return 0;
}

/* GET /api/v1/channels[?limit&offset&sort&q]: a page of the channels the
 * caller may edit and how many match (total); without parameters all by name */
int content_handle_channels_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {
	    {"name", "name COLLATE NOCASE"},
	    {"updated_at", "updated_at"},
	    {"created_at", "created_at"},
	    {"version", "version"},
	};
	static const struct listquery_spec spec = {sorts, sizeof sorts / sizeof sorts[0], "name", "id", -1, 500};
	struct listquery lq;
	char sql[1024];
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
	bool editor = !(r->auth.role_bit & ROLE_ADMIN);
#define CHANNELS_MATCHING                                                                                              \
	" FROM channels c WHERE account_id = ?1 AND (?2 = 0 OR EXISTS "                                                \
	"(SELECT 1 FROM editor_grants g WHERE g.channel_id = c.id AND g.user_id = ?3)) "                               \
	"AND (?4 = '' OR name LIKE ?4 ESCAPE '\\')"
	int n = snprintf(sql, sizeof sql, "SELECT id" CHANNELS_MATCHING " ORDER BY %s LIMIT ?5 OFFSET ?6", lq.order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot list channels");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, editor);
	db_bind_text(st, 3, r->auth.user_id);
	db_bind_text(st, 4, lq.like);
	db_bind_int(st, 5, lq.limit);
	db_bind_int(st, 6, lq.offset);
	json_t *ids = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_done(st);
	json_t *list = json_array();
	size_t i;
	json_t *id;
	/* how many screens play each channel by default (the console's "Default on"), in one
	 * pass; answered beside the channels, whose objects stay as they were */
	json_t *playing = json_object();
	st = db_prepare(r->db, "SELECT channel_id, COUNT(*) FROM screens WHERE account_id = ? AND deleted_at IS NULL "
	                       "AND channel_id IS NOT NULL GROUP BY channel_id");
	if (st) {
		db_bind_text(st, 1, r->auth.account_id);
		while (db_step(st) == DB_ROW)
			json_object_set_new(playing, db_col_text(st, 0), json_integer(db_col_int(st, 1)));
		db_done(st);
	}
	json_array_foreach (ids, i, id) {
		json_t *ch = channel_json(r->db, r->auth.account_id, json_string_value(id));
		if (!ch)
			continue;
		if (!json_object_get(playing, json_string_value(id)))
			json_object_set_new(playing, json_string_value(id), json_integer(0));
		json_array_append_new(list, ch);
	}
	json_decref(ids);
	int rc;
	st = db_query(r->db, &rc, "SELECT COUNT(*)" CHANNELS_MATCHING, "siss", r->auth.account_id, (int64_t)editor,
	              r->auth.user_id, lq.like);
#undef CHANNELS_MATCHING
	int64_t total = st ? db_col_int(st, 0) : 0;
	db_done(st);
	/* only the channels of this page (the counts of the others are not wanted) */
	json_t *shown = json_object();
	json_array_foreach (list, i, id) {
		const char *cid = json_string_value(json_object_get(id, "id"));
		json_object_set(shown, cid, json_object_get(playing, cid));
	}
	json_decref(playing);
	http_reply_json(
	    r, 200,
	    json_pack("{s:o, s:I, s:o}", "channels", list, "total", (json_int_t)total, "default_screens", shown));
	return 0;
}

int content_handle_channel_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *media_used = json_array();
	json_t *norm = check_channel(r, body, media_used);
	if (!norm) {
		json_decref(media_used);
		return 0;
	}
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	char *text = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
	int64_t now = (int64_t)time(NULL);
	int rc = text ? db_exec(r->db,
	                        "INSERT INTO channels(id, account_id, name, body, created_at, updated_at, updated_by) "
	                        "VALUES(?,?,?,?,?,?,?)",
	                        "ssssiis", id, r->auth.account_id, json_string_value(json_object_get(norm, "name")),
	                        text, now, now, r->auth.login)
	              : DB_ERROR;
	free(text);
	if (rc == DB_CONSTRAINT) {
		http_reply_error(r, 409, "name_taken", "a channel called \"%s\" exists already",
		                 json_string_value(json_object_get(norm, "name")));
		json_decref(norm);
		json_decref(media_used);
		return 0;
	}
	if (rc != DB_DONE || save_media_links(r->db, r->auth.account_id, id, media_used) != 0) {
		json_decref(norm);
		json_decref(media_used);
		return store_reply_error(r, DB_ERROR, "the channel could not be saved");
	}
	if (uses_feed(norm))
		feeds_kick();
	audit_request(r, "channel.created", json_string_value(json_object_get(norm, "name")), id);
	json_decref(norm);
	json_decref(media_used);
	http_reply_json(r, 201, json_pack("{s:o}", "channel", channel_json(r->db, r->auth.account_id, id)));
	return 0;
}

int content_handle_channel_get(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *ch = codes_is_id(id) ? channel_json(r->db, r->auth.account_id, id) : NULL;
	if (!ch)
		return http_reply_error(r, 404, "not_found", "no such channel in this account");
	json_t *zones = editor_zones(r, id);
	if (!zones) {
		json_decref(ch);
		return 0;
	}
	json_object_set_new(ch, "editable_zones", zones);
	if (r->auth.role_bit & ROLE_ADMIN) { /* who may edit what, for the grants editor */
		json_t *grants = json_object();
		struct db_stmt *st =
		    db_prepare(r->db, "SELECT g.user_id, u.login, g.zone FROM editor_grants g JOIN users u "
		                      "ON u.id = g.user_id WHERE g.channel_id = ? ORDER BY u.login, g.zone");
		if (st) {
			db_bind_text(st, 1, id);
			while (db_step(st) == DB_ROW) {
				json_t *g = json_object_get(grants, db_col_text(st, 0));
				if (!g) {
					g = json_pack("{s:s, s:s, s:[]}", "user_id", db_col_text(st, 0), "login",
					              db_col_text(st, 1), "zones");
					json_object_set_new(grants, db_col_text(st, 0), g);
				}
				json_array_append_new(json_object_get(g, "zones"), json_string(db_col_text(st, 2)));
			}
			db_done(st);
		}
		json_t *list = json_array();
		const char *k;
		json_t *g;
		json_object_foreach (grants, k, g)
			json_array_append(list, g);
		json_decref(grants);
		json_object_set_new(ch, "grants", list);
	}
	http_reply_json(r, 200, json_pack("{s:o}", "channel", ch));
	return 0;
}

/* The zones an editor may change, or NULL after replying 403. "*" in the
 * returned array means every zone and the layout. */
static json_t *editor_zones(struct http_req *r, const char *channel_id)
{
	json_t *zones = json_array();
	if (r->auth.role_bit & ROLE_ADMIN) {
		json_array_append_new(zones, json_string("*"));
		return zones;
	}
	struct db_stmt *st = db_prepare(r->db, "SELECT zone FROM editor_grants WHERE user_id = ? AND channel_id = ?");
	if (st) {
		db_bind_text(st, 1, r->auth.user_id);
		db_bind_text(st, 2, channel_id);
		while (db_step(st) == DB_ROW)
			json_array_append_new(zones, json_string(db_col_text(st, 0)));
		db_done(st);
	}
	if (json_array_size(zones) == 0) {
		json_decref(zones);
		http_reply_error(r, 403, "forbidden", "you have no zones of this channel to edit");
		return NULL;
	}
	return zones;
}

static bool granted(json_t *zones, const char *zone)
{
	size_t i;
	json_t *z;
	json_array_foreach (zones, i, z)
		if (strcmp(json_string_value(z), "*") == 0 || strcmp(json_string_value(z), zone) == 0)
			return true;
	return false;
}

static json_t *zone_named(json_t *channel, const char *name)
{
	size_t i;
	json_t *z;
	json_array_foreach (json_object_get(channel, "zones"), i, z)
		if (strcmp(json_string_value(json_object_get(z, "name")), name) == 0)
			return z;
	return NULL;
}

/* Refuses (403) a change outside the editor's zones. */
static bool change_allowed(struct http_req *r, json_t *zones, json_t *old, json_t *next)
{
	if (granted(zones, "*"))
		return true;
	static const char *const layout[] = {"name", "width", "height", NULL};
	for (const char *const *k = layout; *k; k++)
		if (!json_equal(json_object_get(old, *k), json_object_get(next, *k)))
			goto layout_changed;
	if (json_array_size(json_object_get(old, "zones")) != json_array_size(json_object_get(next, "zones")))
		goto layout_changed;
	size_t i;
	json_t *nz;
	json_array_foreach (json_object_get(next, "zones"), i, nz) {
		const char *name = json_string_value(json_object_get(nz, "name"));
		json_t *oz = zone_named(old, name);
		if (!oz)
			goto layout_changed;
		static const char *const geo[] = {"x", "y", "w", "h", "z", NULL};
		for (const char *const *k = geo; *k; k++)
			if (!json_equal(json_object_get(oz, *k), json_object_get(nz, *k)))
				goto layout_changed;
		if (!json_equal(json_object_get(oz, "items"), json_object_get(nz, "items")) && !granted(zones, name)) {
			http_reply_error(r, 403, "forbidden", "you may not change the zone \"%s\"", name);
			return false;
		}
	}
	return true;
layout_changed:
	http_reply_error(r, 403, "forbidden", "changing the layout (name, size, zones) needs an admin");
	return false;
}

int content_handle_channel_replace(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *id = http_param(r, "id");
	json_t *old = codes_is_id(id) ? channel_json(r->db, r->auth.account_id, id) : NULL;
	if (!old)
		return http_reply_error(r, 404, "not_found", "no such channel in this account");
	json_t *zones = editor_zones(r, id);
	json_t *media_used = json_array();
	json_t *norm = zones ? check_channel(r, body, media_used) : NULL;
	if (!norm || !change_allowed(r, zones, old, norm)) {
		json_decref(old);
		json_decref(zones);
		json_decref(norm);
		json_decref(media_used);
		return 0;
	}
	json_decref(zones);
	/* an unchanged body is not a new version */
	static const char *const meta[] = {"id", "version", "created_at", "updated_at", "updated_by", NULL};
	for (const char *const *k = meta; *k; k++)
		json_object_del(old, *k);
	bool same = json_equal(old, norm);
	json_decref(old);
	if (same) {
		json_decref(norm);
		json_decref(media_used);
		return http_reply_json(
		    r, 200,
		    json_pack("{s:o, s:b}", "channel", channel_json(r->db, r->auth.account_id, id), "changed", 0));
	}
	char *text = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = text ? db_exec(r->db,
	                        "UPDATE channels SET name = ?, body = ?, version = version + 1, updated_at = ?, "
	                        "updated_by = ? WHERE id = ?",
	                        "ssiss", json_string_value(json_object_get(norm, "name")), text, (int64_t)time(NULL),
	                        r->auth.login, id)
	              : DB_ERROR;
	free(text);
	if (rc == DB_CONSTRAINT) {
		http_reply_error(r, 409, "name_taken", "another channel is called \"%s\"",
		                 json_string_value(json_object_get(norm, "name")));
		json_decref(norm);
		json_decref(media_used);
		return 0;
	}
	if (rc != DB_DONE || save_media_links(r->db, r->auth.account_id, id, media_used) != 0 ||
	    content_refresh_manifests(r->db, r->auth.account_id, id) != 0) {
		json_decref(norm);
		json_decref(media_used);
		return store_reply_error(r, DB_ERROR, "the channel could not be saved");
	}
	if (uses_feed(norm))
		feeds_kick();
	audit_request(r, "channel.updated", json_string_value(json_object_get(norm, "name")), id);
	json_decref(norm);
	json_decref(media_used);
	http_reply_json(r, 200,
	                json_pack("{s:o, s:b}", "channel", channel_json(r->db, r->auth.account_id, id), "changed", 1));
	return 0;
}

int content_handle_channel_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *ch = codes_is_id(id) ? channel_json(r->db, r->auth.account_id, id) : NULL;
	if (!ch)
		return http_reply_error(r, 404, "not_found", "no such channel in this account");
	db_exec(r->db, "UPDATE screens SET channel_id = NULL WHERE channel_id = ? AND account_id = ?", "ss", id,
	        r->auth.account_id);
	db_exec(r->db,
	        "UPDATE screens SET play_now_channel = NULL, play_now_until = 0 WHERE play_now_channel = ? AND "
	        "account_id = ?",
	        "ss", id, r->auth.account_id);
	db_exec(r->db, "DELETE FROM channels WHERE id = ?", "s", id);
	if (content_refresh_manifests(r->db, r->auth.account_id, NULL) != 0) {
		json_decref(ch);
		return store_reply_error(r, DB_ERROR, "the screens could not be updated");
	}
	audit_request(r, "channel.deleted", json_string_value(json_object_get(ch, "name")), id);
	json_decref(ch);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

/* PUT /api/v1/channels/{id}/grants {"grants":[{"user_id","zones":["*"|name...]}]} */
/* GET /api/v1/channels/{id}/grants: the grants in force, one entry per editor
 * (by login), in the shape PUT takes */
int content_handle_grants_get(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *ch = codes_is_id(id) ? channel_json(r->db, r->auth.account_id, id) : NULL;
	if (!ch)
		return http_reply_error(r, 404, "not_found", "no such channel in this account");
	json_decref(ch);
	struct db_stmt *st = db_prepare(r->db, "SELECT g.user_id, u.login, g.zone FROM editor_grants g JOIN users u ON "
	                                       "u.id = g.user_id WHERE g.channel_id = ? AND u.account_id = ? "
	                                       "ORDER BY u.login, g.user_id, g.zone");
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot read the grants");
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, r->auth.account_id);
	json_t *grants = json_array(), *last = NULL;
	while (db_step(st) == DB_ROW) {
		const char *uid = db_col_text(st, 0);
		if (!last || strcmp(json_string_value(json_object_get(last, "user_id")), uid) != 0) {
			last = json_pack("{s:s, s:s, s:[]}", "user_id", uid, "login", db_col_text(st, 1), "zones");
			json_array_append_new(grants, last);
		}
		json_array_append_new(json_object_get(last, "zones"), json_string(db_col_text(st, 2)));
	}
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "grants", grants));
	return 0;
}

int content_handle_grants_put(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *id = http_param(r, "id");
	json_t *ch = codes_is_id(id) ? channel_json(r->db, r->auth.account_id, id) : NULL;
	if (!ch)
		return http_reply_error(r, 404, "not_found", "no such channel in this account");
	json_t *grants = json_object_get(body, "grants");
	if (!json_is_array(grants) || json_array_size(grants) > 1000) {
		json_decref(ch);
		return http_reply_error(r, 400, "invalid_field", "grants must be a list of {user_id, zones}");
	}
	db_exec(r->db, "DELETE FROM editor_grants WHERE channel_id = ?", "s", id);
	size_t i;
	json_t *g;
	json_array_foreach (grants, i, g) {
		const char *uid = json_string_value(json_object_get(g, "user_id"));
		json_t *zones = json_object_get(g, "zones");
		int rc;
		struct db_stmt *st =
		    uid && codes_is_id(uid)
		        ? db_query(r->db, &rc, "SELECT role FROM users WHERE id = ? AND account_id = ?", "ss", uid,
		                   r->auth.account_id)
		        : NULL;
		bool editor = st && strcmp(db_col_text(st, 0), "editor") == 0;
		db_done(st);
		if (!editor || !json_is_array(zones) || json_array_size(zones) == 0) {
			json_decref(ch);
			return http_reply_error(
			    r, 400, "invalid_field",
			    "grants[%zu]: user_id must be an editor of this account and zones a non-empty "
			    "list",
			    i);
		}
		size_t k;
		json_t *z;
		json_array_foreach (zones, k, z) {
			const char *zn = json_string_value(z);
			if (!zn || (strcmp(zn, "*") != 0 && !zone_named(ch, zn))) {
				json_decref(ch);
				return http_reply_error(r, 400, "invalid_field", "grants[%zu].zones[%zu]: no such zone",
				                        i, k);
			}
			db_exec(
			    r->db,
			    "INSERT INTO editor_grants(user_id, channel_id, zone) VALUES(?,?,?) ON CONFLICT DO NOTHING",
			    "sss", uid, id, zn);
		}
	}
	audit_request(r, "channel.grants_changed", json_string_value(json_object_get(ch, "name")), id);
	json_decref(ch);
	http_reply_json(r, 200, json_pack("{s:O}", "grants", grants));
	return 0;
}

/* PUT /api/v1/screens/{id}/channel {"channel_id"} (null clears) */
int content_handle_screen_channel(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *sid = http_param(r, "id");
	if (!screens_require(r, sid))
		return 0;
	json_t *jc = json_object_get(body, "channel_id");
	const char *cid = json_string_value(jc);
	if (!json_is_null(jc) && !(cid && codes_is_id(cid))) {
		return http_reply_error(r, 400, "invalid_field", "channel_id must be a channel id or null");
	}
	if (cid) {
		json_t *ch = channel_json(r->db, r->auth.account_id, cid);
		if (!ch)
			return http_reply_error(r, 404, "not_found", "no such channel in this account");
		json_decref(ch);
	}
	db_exec(r->db, "UPDATE screens SET channel_id = ? WHERE id = ?", "ss", cid, sid);
	if (content_refresh_screen(r->db, r->auth.account_id, sid) != 0)
		return store_reply_error(r, DB_ERROR, "the screen could not be updated");
	audit_request(r, "screen.channel_set", sid, cid ? cid : "none");
	http_reply_json(r, 200, json_pack("{s:s, s:s?}", "screen_id", sid, "channel_id", cid));
	return 0;
}
