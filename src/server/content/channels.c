/*
 * Channels: a canvas (width x height) of zones (rectangles with a z-order),
 * each with a playlist of items (a medium of the library, a web page, a
 * text/ticker, or an RSS/Atom feed fetched by the server: feeds.c) with a duration, a transition and an optional
 * validity window. A channel body is validated completely before anything is written, and every error names the JSON
 * path at fault ("zones[1].items[0].duration").
 *
 * Editors change only the zones an admin granted them (editor_grants);
 * the layout itself (zones added, removed or moved) needs the '*' grant.
 */
#include <stdarg.h>
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
#include "../store/listquery.h"
#include "content.h"

#define MAX_ZONES  32
#define MAX_ITEMS  500
#define MAX_CANVAS 16384

struct check {
	struct http_req *r;
	char path[160];
	bool failed;
};

static bool fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct check *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_reply_error_extra(c->r, 400, "invalid_channel", json_pack("{s:s}", "path", c->path), "%s: %s", c->path,
	                       msg);
	c->failed = true;
	return false;
}

static bool only_keys(struct check *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			size_t n = strlen(c->path);
			snprintf(c->path + n, sizeof c->path - n, "%s%.40s", n ? "." : "", key);
			return fail(c, "unknown field");
		}
	}
	return true;
}

static bool int_in(struct check *c, json_t *v, const char *name, json_int_t min, json_int_t max, json_int_t *out)
{
	size_t n = strlen(c->path);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(c->path + n, sizeof c->path - n, "%s%s", n ? "." : "", name);
		return fail(c, "must be an integer from %lld to %lld", (long long)min, (long long)max);
	}
	*out = json_integer_value(v);
	return true;
}

static bool valid_date(const char *s)
{
	return calendar_valid_date(s);
}
static bool valid_time(const char *s)
{
	return calendar_minutes(s) >= 0;
}

/* Validates an item; returns its normalised form (new reference) or NULL. */
static json_t *check_item(struct check *c, struct db *db, const char *account_id, json_t *item, json_t *media_used)
{
	static const char *const keys[] = {"media",      "url",   "text", "rss",  "max_items", "duration",
	                                   "transition", "valid", "id",   "name", NULL};
	if (!json_is_object(item))
		return fail(c, "must be an object"), NULL;
	if (!only_keys(c, item, keys))
		return NULL;
	json_t *media = json_object_get(item, "media"), *url = json_object_get(item, "url"),
	       *text = json_object_get(item, "text"), *rss = json_object_get(item, "rss");
	int kinds = (media != NULL) + (url != NULL) + (text != NULL) + (rss != NULL);
	if (kinds != 1)
		return fail(c, "needs exactly one of \"media\", \"url\", \"text\" or \"rss\""), NULL;
	json_t *out = json_object();
	const char *kind = "text";
	size_t n = strlen(c->path);
	json_t *jmax = json_object_get(item, "max_items");
	if (jmax && !rss) {
		snprintf(c->path + n, sizeof c->path - n, ".max_items");
		json_decref(out);
		return fail(c, "only an \"rss\" item has max_items"), NULL;
	}
	if (media) {
		const char *sha = json_string_value(media);
		json_t *m = content_is_sha256(sha) ? content_media_json(db, account_id, sha) : NULL;
		if (!m) {
			snprintf(c->path + n, sizeof c->path - n, ".media");
			json_decref(out);
			return fail(c, "this account has no media %.64s (upload it first)",
			            sha ? sha : "(not a string)"),
			       NULL;
		}
		json_object_set_new(out, "media", json_string(sha));
		json_object_set(out, "mime", json_object_get(m, "mime"));
		json_object_set(out, "size", json_object_get(m, "size"));
		json_array_append_new(media_used, json_string(sha));
		kind = strcmp(json_string_value(json_object_get(m, "kind")), "image") == 0   ? "image"
		       : strcmp(json_string_value(json_object_get(m, "kind")), "video") == 0 ? "video"
		                                                                             : "html";
		json_object_set_new(out, "type", json_string(kind));
		json_decref(m);
	} else if (url) {
		const char *u = json_string_value(url);
		if (!u || strlen(u) > 2048 || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)) {
			snprintf(c->path + n, sizeof c->path - n, ".url");
			json_decref(out);
			return fail(c, "must be an http(s):// URL of at most 2048 bytes"), NULL;
		}
		json_object_set_new(out, "type", json_string("web"));
		json_object_set(out, "url", url);
	} else if (rss) {
		const char *u = json_string_value(rss);
		if (!u || strlen(u) > 2048 || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)) {
			snprintf(c->path + n, sizeof c->path - n, ".rss");
			json_decref(out);
			return fail(c, "must be an http(s):// URL of at most 2048 bytes"), NULL;
		}
		json_int_t max_items = 10;
		if (jmax && !int_in(c, jmax, "max_items", 1, 50, &max_items)) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, "type", json_string("rss"));
		json_object_set(out, "rss", rss);
		json_object_set_new(out, "max_items", json_integer(max_items));
	} else {
		const char *t = json_string_value(text);
		if (!t || strlen(t) == 0 || strlen(t) > 2000) {
			snprintf(c->path + n, sizeof c->path - n, ".text");
			json_decref(out);
			return fail(c, "must be a text of 1 to 2000 bytes"), NULL;
		}
		json_object_set_new(out, "type", json_string("text"));
		json_object_set(out, "text", text);
	}
	json_int_t duration = 10;
	json_t *jd = json_object_get(item, "duration");
	/* a video may play to its end: duration 0 */
	if (jd && !int_in(c, jd, "duration", strcmp(kind, "video") == 0 ? 0 : 1, 86400, &duration)) {
		json_decref(out);
		return NULL;
	}
	if (!jd && strcmp(kind, "video") == 0)
		duration = 0;
	json_object_set_new(out, "duration", json_integer(duration));
	const char *transition = "fade";
	json_t *jt = json_object_get(item, "transition");
	if (jt) {
		transition = json_string_value(jt);
		if (!transition ||
		    (strcmp(transition, "none") && strcmp(transition, "fade") && strcmp(transition, "slide"))) {
			snprintf(c->path + n, sizeof c->path - n, ".transition");
			json_decref(out);
			return fail(c, "must be \"none\", \"fade\" or \"slide\""), NULL;
		}
	}
	json_object_set_new(out, "transition", json_string(transition));
	json_t *valid = json_object_get(item, "valid");
	if (valid) {
		static const char *const vkeys[] = {"from", "until", "days", "start", "end", NULL};
		snprintf(c->path + n, sizeof c->path - n, ".valid");
		if (!json_is_object(valid) || !only_keys(c, valid, vkeys)) {
			if (!c->failed)
				fail(c, "must be an object with from, until, days, start, end");
			json_decref(out);
			return NULL;
		}
		size_t vn = strlen(c->path);
		const char *dates[] = {"from", "until"}, *times[] = {"start", "end"};
		for (int i = 0; i < 2; i++) {
			json_t *d = json_object_get(valid, dates[i]), *t = json_object_get(valid, times[i]);
			if (d && (!json_is_string(d) || !valid_date(json_string_value(d)))) {
				snprintf(c->path + vn, sizeof c->path - vn, ".%s", dates[i]);
				json_decref(out);
				return fail(c, "must be a date YYYY-MM-DD"), NULL;
			}
			if (t && (!json_is_string(t) || !valid_time(json_string_value(t)))) {
				snprintf(c->path + vn, sizeof c->path - vn, ".%s", times[i]);
				json_decref(out);
				return fail(c, "must be a time HH:MM"), NULL;
			}
		}
		json_t *days = json_object_get(valid, "days");
		if (days) {
			size_t i;
			json_t *d;
			bool ok = json_is_array(days) && json_array_size(days) <= 7;
			json_array_foreach (days, i, d)
				if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 7)
					ok = false;
			if (!ok) {
				snprintf(c->path + vn, sizeof c->path - vn, ".days");
				json_decref(out);
				return fail(c, "must be a list of ISO weekdays (1 = Monday ... 7 = Sunday)"), NULL;
			}
		}
		json_object_set(out, "valid", valid);
		c->path[n] = '\0';
	}
	return out;
}

/* Validates a whole channel body; returns the normalised body or NULL after
 * replying 400. media_used receives the sha256 of every medium. */
static json_t *check_channel(struct http_req *r, json_t *body, json_t *media_used)
{
	static const char *const keys[] = {"name", "width", "height", "zones", "id", NULL};
	static const char *const zkeys[] = {"name", "x", "y", "w", "h", "z", "items", "id", NULL};
	struct check c = {.r = r};
	if (!only_keys(&c, body, keys))
		return NULL;
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || strlen(name) == 0 || strlen(name) > 128) {
		snprintf(c.path, sizeof c.path, "name");
		return fail(&c, "must be a string of 1 to 128 bytes"), NULL;
	}
	json_int_t width = 0, height = 0;
	if (!int_in(&c, json_object_get(body, "width"), "width", 1, MAX_CANVAS, &width) ||
	    !int_in(&c, json_object_get(body, "height"), "height", 1, MAX_CANVAS, &height))
		return NULL;
	json_t *zones = json_object_get(body, "zones");
	if (!json_is_array(zones) || json_array_size(zones) == 0 || json_array_size(zones) > MAX_ZONES) {
		snprintf(c.path, sizeof c.path, "zones");
		return fail(&c, "must be a list of 1 to %d zones", MAX_ZONES), NULL;
	}
	json_t *out = json_pack("{s:s, s:I, s:I, s:[]}", "name", name, "width", width, "height", height, "zones");
	json_t *out_zones = json_object_get(out, "zones");
	size_t zi;
	json_t *zone;
	json_array_foreach (zones, zi, zone) {
		snprintf(c.path, sizeof c.path, "zones[%zu]", zi);
		if (!json_is_object(zone) || !only_keys(&c, zone, zkeys)) {
			if (!c.failed)
				fail(&c, "must be an object");
			json_decref(out);
			return NULL;
		}
		const char *zname = json_string_value(json_object_get(zone, "name"));
		if (!zname || !*zname || strlen(zname) > 64) {
			snprintf(c.path + strlen(c.path), sizeof c.path - strlen(c.path), ".name");
			json_decref(out);
			return fail(&c, "must be a string of 1 to 64 bytes"), NULL;
		}
		for (size_t k = 0; k < zi; k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(out_zones, k), "name")), zname) ==
			    0) {
				snprintf(c.path + strlen(c.path), sizeof c.path - strlen(c.path), ".name");
				json_decref(out);
				return fail(&c, "another zone is already called \"%s\"", zname), NULL;
			}
		json_int_t x = 0, y = 0, w = 0, h = 0, z = (json_int_t)zi;
		if (!int_in(&c, json_object_get(zone, "x"), "x", 0, width - 1, &x) ||
		    !int_in(&c, json_object_get(zone, "y"), "y", 0, height - 1, &y) ||
		    !int_in(&c, json_object_get(zone, "w"), "w", 1, width - x, &w) ||
		    !int_in(&c, json_object_get(zone, "h"), "h", 1, height - y, &h) ||
		    (json_object_get(zone, "z") && !int_in(&c, json_object_get(zone, "z"), "z", -1000, 1000, &z))) {
			json_decref(out);
			return NULL;
		}
		json_t *items = json_object_get(zone, "items");
		if (!json_is_array(items) || json_array_size(items) > MAX_ITEMS) {
			snprintf(c.path + strlen(c.path), sizeof c.path - strlen(c.path), ".items");
			json_decref(out);
			return fail(&c, "must be a list of at most %d items", MAX_ITEMS), NULL;
		}
		json_t *oz = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:[]}", "name", zname, "x", x, "y", y, "w", w,
		                       "h", h, "z", z, "items");
		json_array_append_new(out_zones, oz);
		size_t ii;
		json_t *item;
		json_array_foreach (items, ii, item) {
			snprintf(c.path, sizeof c.path, "zones[%zu].items[%zu]", zi, ii);
			json_t *oi = check_item(&c, r->db, r->auth.account_id, item, media_used);
			if (!oi) {
				json_decref(out);
				return NULL;
			}
			char id[48];
			snprintf(id, sizeof id, "z%ui%u", (unsigned)zi, (unsigned)ii);
			json_object_set_new(oi, "id", json_string(id));
			json_array_append_new(json_object_get(oz, "items"), oi);
		}
	}
	return out;
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
	char err[256], sql[1024];
	if (listquery_parse(&lq, &spec, http_query(r, "limit"), http_query(r, "offset"), http_query(r, "sort"),
	                    http_query(r, "q"), err, sizeof err) != 0)
		return http_reply_error(r, 400, "invalid_parameter", "%s", err);
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
		return http_reply_error(r, 503, "store_unavailable", "the channel could not be saved");
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
		return http_reply_error(r, 503, "store_unavailable", "the channel could not be saved");
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
		return http_reply_error(r, 503, "store_unavailable", "the screens could not be updated");
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
		return http_reply_error(r, 503, "store_unavailable", "the screen could not be updated");
	audit_request(r, "screen.channel_set", sid, cid ? cid : "none");
	http_reply_json(r, 200, json_pack("{s:s, s:s?}", "screen_id", sid, "channel_id", cid));
	return 0;
}
