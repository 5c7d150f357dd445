/*
 * Sync groups: screens on one LAN that play in step (the API of
 * /api/v1/sync-groups, docs/api.yaml; the manifest's "sync" block and the
 * heartbeat's "sync" object, docs/PROTOCOL.md). The players of a group
 * find each other by UDP multicast, elect the member of the lowest number
 * that is alive as their leader and follow its clock; the server says who
 * is in the group, hands each member the group's secret key in its
 * manifest (sync_blocks.c), and shows what the players report in their
 * heartbeats: state, clock offset and delay to the leader, peers seen.
 *
 * Members are numbered in the order of the "screens" list they were given
 * in; a screen keeps its number while it stays, and one that joins takes
 * the lowest number free. A screen is in at most one group (a UNIQUE
 * column: a second one is a 409 naming the screen and its group). The key
 * is 32 bytes of randombytes_buf, drawn at creation and again on every
 * change of members, including a member's screen being deleted, so a
 * screen that left cannot steer the group; no user ever reads it. Every
 * change recompiles the manifests of the old and the new members in one
 * batch (content_refresh_screen_list), which bumps the versions of those
 * that changed and wakes their long-polls.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/utf8.h"
#include "../audit/audit.h"
#include "../content/content.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "presence.h"
#include "screens.h"

#define MAX_GROUPS    500 /* per account */
#define KEY_HEX_LEN   (SYNC_GROUP_KEY_BYTES * 2)
#define NAME_MAX_BYTE (SYNC_GROUP_NAME_MAX * 4)

static const char *const STATES[] = {"leader", "member", "alone", "locking", NULL};

/* --- the view users read (never the key) --- */

/* The account's groups (id "": all of them, by name; else that one, or an
 * empty list), each with its members by number. NULL when the store
 * failed. */
static json_t *groups_json(struct db *db, const char *account_id, const char *id)
{
	struct db_stmt *st = db_prepare(
	    db, "SELECT g.id, g.name, g.created_at, g.created_by, g.updated_at, m.screen_id, COALESCE(s.name, ''), "
	        "m.member, m.state, m.offset_us, m.delay_us, m.peers, m.reported_at, COALESCE(s.last_seen, 0), "
	        "s.deleted_at FROM sync_groups g LEFT JOIN sync_group_members m ON m.group_id = g.id LEFT JOIN "
	        "screens s ON s.id = m.screen_id WHERE g.account_id = ?1 AND (?2 = '' OR g.id = ?2) ORDER BY "
	        "g.name COLLATE NOCASE, g.id, m.member");
	if (!st)
		return NULL;
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, id);
	json_t *list = json_array(), *g = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (!g || strcmp(json_string_value(json_object_get(g, "id")), db_col_text(st, 0)) != 0) {
			g = json_pack("{s:s, s:s, s:I, s:s, s:I, s:[]}", "id", db_col_text(st, 0), "name",
			              db_col_text(st, 1), "created_at", (json_int_t)db_col_int(st, 2), "created_by",
			              db_col_text(st, 3), "updated_at", (json_int_t)db_col_int(st, 4), "members");
			json_array_append_new(list, g);
		}
		if (db_col_is_null(st, 5))
			continue; /* a group without members */
		const char *sid = db_col_text(st, 5);
		int64_t last_seen = db_col_int(st, 13);
		char ip[64];
		presence_last_seen(sid, last_seen, &last_seen, ip, sizeof ip);
		bool online = screens_online_at(!db_col_is_null(st, 14), last_seen, now);
		bool reported = !db_col_is_null(st, 8);
		const char *state = db_col_text(st, 8);
		json_t *m = json_pack("{s:s, s:s, s:I, s:b, s:b}", "screen_id", sid, "name", db_col_text(st, 6),
		                      "member", (json_int_t)db_col_int(st, 7), "online", online, "leader",
		                      online && reported && strcmp(state, "leader") == 0);
		json_object_set_new(m, "state", reported ? json_string(state) : json_null());
		json_object_set_new(m, "offset_ms",
		                    db_col_is_null(st, 9) ? json_null()
		                                          : json_real((double)db_col_int(st, 9) / 1000.0));
		json_object_set_new(m, "delay_ms",
		                    db_col_is_null(st, 10) ? json_null()
		                                           : json_real((double)db_col_int(st, 10) / 1000.0));
		json_object_set_new(m, "peers",
		                    db_col_is_null(st, 11) ? json_null() : json_integer(db_col_int(st, 11)));
		json_object_set_new(m, "reported_at",
		                    db_col_is_null(st, 12) ? json_null() : json_integer(db_col_int(st, 12)));
		json_array_append_new(json_object_get(g, "members"), m);
	}
	db_done(st);
	if (rc != DB_DONE) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* Replies {"sync_group": ...} with status, or 500 when it cannot be read. */
static int reply_group(struct http_req *r, unsigned status, const char *id)
{
	json_t *list = groups_json(r->db, r->auth.account_id, id);
	json_t *g = json_array_get(list, 0);
	if (!g) {
		json_decref(list);
		return store_reply_error(r, DB_ERROR, "the sync group could not be read");
	}
	json_incref(g);
	json_decref(list);
	return http_reply_json(r, status, json_pack("{s:o}", "sync_group", g));
}

int sync_groups_handle_list(struct http_req *r)
{
	json_t *list = groups_json(r->db, r->auth.account_id, "");
	if (!list)
		return store_reply_error(r, DB_ERROR, "cannot list the sync groups");
	return http_reply_json(r, 200, json_pack("{s:o}", "sync_groups", list));
}

/* The name of the account's group id into name (when not NULL); false
 * after replying 404. */
static bool require_group(struct http_req *r, const char *id, char *name, size_t namesz)
{
	int rc;
	struct db_stmt *st = codes_is_id(id)
	                         ? db_query(r->db, &rc, "SELECT name FROM sync_groups WHERE id = ? AND account_id = ?",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	if (st && name)
		snprintf(name, namesz, "%s", db_col_text(st, 0));
	db_done(st);
	if (!st)
		http_reply_error(r, 404, "not_found", "no such sync group in this account");
	return st != NULL;
}

int sync_groups_handle_get(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!require_group(r, id, NULL, 0))
		return 0;
	return reply_group(r, 200, id);
}

/* --- what a request may give --- */

/* name without the white space around it into out, when it is text of 1
 * to SYNC_GROUP_NAME_MAX characters on one line; false after replying 400. */
static bool name_ok(struct http_req *r, json_t *v, char out[NAME_MAX_BYTE + 1])
{
	const char *s = json_string_value(v);
	bool ok = s && strlen(s) == json_string_length(v);
	if (ok) {
		const char *end = s + strlen(s);
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		long n = 0;
		for (const unsigned char *p = (const unsigned char *)s; ok && p < (const unsigned char *)end; n++) {
			int len = utf8_sequence(p);
			if (len < 0 || *p < 0x20 || *p == 0x7f)
				ok = false;
			else
				p += len;
		}
		ok = ok && n >= 1 && n <= SYNC_GROUP_NAME_MAX;
		if (ok)
			snprintf(out, NAME_MAX_BYTE + 1, "%.*s", (int)(end - s), s);
	}
	if (!ok)
		http_reply_error(r, 400, "invalid_field",
		                 "name must be text of 1 to %d characters on one line (spaces around it are dropped)",
		                 SYNC_GROUP_NAME_MAX);
	return ok;
}

/* Checks a "screens" list: 2 to 64 distinct screen ids of the account's
 * live screens, none of them in another group than group_id ("" for a new
 * group). false after replying 400, or 409 naming the screen and its
 * group. */
static bool screens_ok(struct http_req *r, json_t *list, const char *group_id)
{
	if (!json_is_array(list) || json_array_size(list) < SYNC_GROUP_MIN_SCREENS ||
	    json_array_size(list) > SYNC_GROUP_MAX_SCREENS) {
		http_reply_error(r, 400, "invalid_field", "screens must be a list of %d to %d screen ids",
		                 SYNC_GROUP_MIN_SCREENS, SYNC_GROUP_MAX_SCREENS);
		return false;
	}
	json_t *seen = json_object(), *v;
	size_t i;
	json_array_foreach (list, i, v) {
		const char *sid = json_string_value(v);
		if (!sid || json_string_length(v) == 0 || json_string_length(v) > 64 ||
		    strlen(sid) != json_string_length(v)) {
			json_decref(seen);
			http_reply_error(r, 400, "invalid_field", "screens[%zu] must be a screen id (a string)", i);
			return false;
		}
		if (json_object_get(seen, sid)) {
			json_decref(seen);
			http_reply_error(r, 400, "invalid_field", "screens[%zu]: the screen %s is listed twice", i,
			                 sid);
			return false;
		}
		json_object_set_new(seen, sid, json_true());
	}
	json_decref(seen);
	/* which of them are the account's, and the group each is in, in one query */
	char *text = json_dumps(list, JSON_COMPACT);
	struct db_stmt *st =
	    text ? db_prepare(r->db, "SELECT s.id, s.name, COALESCE(g.id, ''), COALESCE(g.name, '') FROM screens s "
	                             "LEFT JOIN sync_group_members m ON m.screen_id = s.id LEFT JOIN sync_groups g ON "
	                             "g.id = m.group_id WHERE s.account_id = ? AND s.deleted_at IS NULL AND s.id IN "
	                             "(SELECT value FROM json_each(CAST(? AS TEXT)))")
	         : NULL;
	if (!st) {
		free(text);
		store_reply_error(r, DB_ERROR, "the screens could not be read");
		return false;
	}
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, text);
	json_t *found = json_object();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_object_set_new(found, db_col_text(st, 0),
		                    json_pack("[s, s, s]", db_col_text(st, 1), db_col_text(st, 2), db_col_text(st, 3)));
	db_done(st);
	free(text);
	if (rc != DB_DONE) {
		json_decref(found);
		store_reply_error(r, rc, "the screens could not be read");
		return false;
	}
	json_t *unknown = json_array();
	json_array_foreach (list, i, v)
		if (!json_object_get(found, json_string_value(v)))
			json_array_append(unknown, v);
	if (json_array_size(unknown)) {
		char *names = json_dumps(unknown, JSON_COMPACT);
		http_reply_error_extra(r, 400, "unknown_screens", json_pack("{s:o}", "unknown", unknown),
		                       "no such screens in this account: %.300s", names ? names : "");
		free(names);
		json_decref(found);
		return false;
	}
	json_decref(unknown);
	json_array_foreach (list, i, v) {
		json_t *f = json_object_get(found, json_string_value(v));
		const char *in = json_string_value(json_array_get(f, 1));
		if (*in && strcmp(in, group_id) != 0) {
			http_reply_error_extra(r, 409, "conflict",
			                       json_pack("{s:O, s:s, s:O}", "screen_id", v, "sync_group_id", in,
			                                 "sync_group_name", json_array_get(f, 2)),
			                       "the screen \"%s\" (%s) is already in the sync group \"%s\" (%s): a "
			                       "screen is in one sync group at most",
			                       json_string_value(json_array_get(f, 0)), json_string_value(v),
			                       json_string_value(json_array_get(f, 2)), in);
			json_decref(found);
			return false;
		}
	}
	json_decref(found);
	return true;
}

/* Checks a body of name and screens (both required unless partial);
 * false after replying. */
static bool body_ok(struct http_req *r, json_t *body, bool partial, const char *group_id, char name[NAME_MAX_BYTE + 1])
{
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v)
		if (strcmp(key, "name") != 0 && strcmp(key, "screens") != 0) {
			http_reply_error(r, 400, "unknown_field", "unknown field \"%.64s\" (name, screens)", key);
			return false;
		}
	json_t *jn = json_object_get(body, "name"), *js = json_object_get(body, "screens");
	if (!partial && !jn) {
		http_reply_error(r, 400, "invalid_field", "name is required");
		return false;
	}
	if (!partial && !js) {
		http_reply_error(r, 400, "invalid_field", "screens is required (a list of %d to %d screen ids)",
		                 SYNC_GROUP_MIN_SCREENS, SYNC_GROUP_MAX_SCREENS);
		return false;
	}
	return (!jn || name_ok(r, jn, name)) && (!js || screens_ok(r, js, group_id));
}

/* --- writes --- */

static void new_key(char hex[KEY_HEX_LEN + 1])
{
	uint8_t key[SYNC_GROUP_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	codes_hex(key, sizeof key, hex);
	sodium_memzero(key, sizeof key);
}

/* Adds the members of joining ([{"s": screen id, "m": number}]), in one
 * statement. */
static int insert_members(struct db *db, const char *group_id, json_t *joining, int64_t now)
{
	if (json_array_size(joining) == 0)
		return DB_DONE;
	char *text = json_dumps(joining, JSON_COMPACT);
	int rc = text ? db_exec(db,
	                        "INSERT INTO sync_group_members(group_id, screen_id, member, joined_at) SELECT ?, "
	                        "json_extract(j.value, '$.s'), CAST(json_extract(j.value, '$.m') AS BIGINT), ? FROM "
	                        "json_each(CAST(? AS TEXT)) AS j",
	                        "sis", group_id, now, text)
	              : DB_ERROR;
	free(text);
	return rc;
}

/* The screen ids of a group's members, as a JSON list (NULL: the store
 * failed). */
static json_t *member_ids(struct db *db, const char *group_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT screen_id FROM sync_group_members WHERE group_id = ?");
	if (!st)
		return NULL;
	db_bind_text(st, 1, group_id);
	json_t *ids = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(ids, json_string(db_col_text(st, 0)));
	db_done(st);
	if (rc != DB_DONE) {
		json_decref(ids);
		return NULL;
	}
	return ids;
}

/* A DB_CONSTRAINT while writing members: another request put one of the
 * screens in a group meanwhile (the checks saw the store before it). */
static int reply_write_error(struct http_req *r, int rc)
{
	if (rc == DB_CONSTRAINT)
		return http_reply_error(r, 409, "conflict",
		                        "a screen of the list joined another sync group meanwhile: load the groups "
		                        "again");
	return store_reply_error(r, rc, "the sync group could not be saved");
}

int sync_groups_handle_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	char name[NAME_MAX_BYTE + 1];
	if (!body || !body_ok(r, body, false, "", name))
		return 0;
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT COUNT(*) FROM sync_groups WHERE account_id = ?", "s", r->auth.account_id);
	int64_t count = st ? db_col_int(st, 0) : 0;
	db_done(st);
	if (count >= MAX_GROUPS)
		return http_reply_error(r, 409, "too_many_groups", "an account has at most %d sync groups", MAX_GROUPS);
	char id[CODES_ID_LEN + 1], key[KEY_HEX_LEN + 1];
	codes_new_id(id);
	new_key(key);
	int64_t now = (int64_t)time(NULL);
	rc = db_exec(r->db,
	             "INSERT INTO sync_groups(id, account_id, name, secret, created_at, created_by, updated_at) "
	             "VALUES(?,?,?,?,?,?,?)",
	             "ssssisi", id, r->auth.account_id, name, key, now, r->auth.login, now);
	sodium_memzero(key, sizeof key);
	json_t *screens = json_object_get(body, "screens"), *joining = json_array(), *v;
	size_t i;
	json_array_foreach (screens, i, v)
		json_array_append_new(joining, json_pack("{s:O, s:I}", "s", v, "m", (json_int_t)i + 1));
	if (rc == DB_DONE)
		rc = insert_members(r->db, id, joining, now);
	json_decref(joining);
	if (rc != DB_DONE)
		return reply_write_error(r, rc);
	if (content_refresh_screen_list(r->db, r->auth.account_id, screens) != 0)
		return store_reply_error(r, DB_ERROR, "the members' manifests could not be updated");
	char detail[NAME_MAX_BYTE + 64];
	snprintf(detail, sizeof detail, "%s (%zu screens)", name, json_array_size(screens));
	audit_request(r, "sync_group.created", id, detail);
	return reply_group(r, 201, id);
}

/* The new members of a group whose members are now old (screen id ->
 * number) from the list screens: who stays keeps its number, who joins
 * takes the lowest number free, in the order of the list. Fills joining
 * ([{"s", "m"}]) and returns how many of old leave. */
static size_t plan_members(json_t *old, json_t *screens, json_t *joining)
{
	bool used[SYNC_GROUP_MAX_SCREENS * 2 + 2] = {false};
	size_t i, staying = 0;
	json_t *v;
	json_array_foreach (screens, i, v) {
		json_t *n = json_object_get(old, json_string_value(v));
		if (n) {
			staying++;
			json_int_t k = json_integer_value(n);
			if (k >= 1 && k < (json_int_t)(sizeof used / sizeof used[0]))
				used[k] = true;
		}
	}
	json_int_t next = 1;
	json_array_foreach (screens, i, v) {
		if (json_object_get(old, json_string_value(v)))
			continue;
		while (used[next])
			next++;
		used[next] = true;
		json_array_append_new(joining, json_pack("{s:O, s:I}", "s", v, "m", next));
	}
	return json_object_size(old) - staying;
}

int sync_groups_handle_update(struct http_req *r)
{
	json_t *body = http_json_body(r);
	const char *id = http_param(r, "id");
	char old_name[NAME_MAX_BYTE + 1], name[NAME_MAX_BYTE + 1];
	if (!body || !require_group(r, id, old_name, sizeof old_name) || !body_ok(r, body, true, id, name))
		return 0;
	/* the members now: screen id -> number */
	struct db_stmt *st = db_prepare(r->db, "SELECT screen_id, member FROM sync_group_members WHERE group_id = ?");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the sync group could not be read");
	db_bind_text(st, 1, id);
	json_t *old = json_object(), *affected = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		json_object_set_new(old, db_col_text(st, 0), json_integer(db_col_int(st, 1)));
		json_array_append_new(affected, json_string(db_col_text(st, 0)));
	}
	db_done(st);
	int64_t now = (int64_t)time(NULL);
	bool renamed = json_object_get(body, "name") && strcmp(name, old_name) != 0;
	size_t leaving = 0, joined = 0;
	json_t *screens = json_object_get(body, "screens");
	if (rc == DB_DONE && renamed)
		rc = db_exec(r->db, "UPDATE sync_groups SET name = ?, updated_at = ? WHERE id = ?", "sis", name, now,
		             id);
	if (rc == DB_DONE && screens) {
		json_t *joining = json_array();
		leaving = plan_members(old, screens, joining);
		joined = json_array_size(joining);
		if (leaving) {
			char *keep = json_dumps(screens, JSON_COMPACT);
			rc = keep ? db_exec(r->db,
			                    "DELETE FROM sync_group_members WHERE group_id = ? AND screen_id NOT IN "
			                    "(SELECT value FROM json_each(CAST(? AS TEXT)))",
			                    "ss", id, keep)
			          : DB_ERROR;
			free(keep);
		}
		if (rc == DB_DONE)
			rc = insert_members(r->db, id, joining, now);
		json_decref(joining);
		if (rc == DB_DONE && (leaving || joined)) {
			char key[KEY_HEX_LEN + 1];
			new_key(key);
			rc = db_exec(r->db, "UPDATE sync_groups SET secret = ?, updated_at = ? WHERE id = ?", "sis",
			             key, now, id);
			sodium_memzero(key, sizeof key);
		}
		json_array_extend(affected, screens);
	}
	json_decref(old);
	if (rc != DB_DONE) {
		json_decref(affected);
		return reply_write_error(r, rc);
	}
	if ((renamed || leaving || joined) && content_refresh_screen_list(r->db, r->auth.account_id, affected) != 0) {
		json_decref(affected);
		return store_reply_error(r, DB_ERROR, "the members' manifests could not be updated");
	}
	json_decref(affected);
	if (renamed || leaving || joined) {
		char detail[2 * NAME_MAX_BYTE + 128] = "";
		if (renamed)
			snprintf(detail, sizeof detail, "renamed \"%s\" to \"%s\"%s", old_name, name,
			         leaving || joined ? "; " : "");
		if (leaving || joined)
			snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
			         "members: %zu joined, %zu left (new key)", joined, leaving);
		audit_request(r, "sync_group.updated", id, detail);
	}
	return reply_group(r, 200, id);
}

int sync_groups_handle_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	char name[NAME_MAX_BYTE + 1];
	if (!require_group(r, id, name, sizeof name))
		return 0;
	json_t *ids = member_ids(r->db, id);
	int rc = ids ? db_exec(r->db, "DELETE FROM sync_groups WHERE id = ?", "s", id) : DB_ERROR;
	if (rc != DB_DONE) {
		json_decref(ids);
		return store_reply_error(r, rc, "the sync group could not be deleted");
	}
	/* its members' manifests lose their "sync" block */
	rc = content_refresh_screen_list(r->db, r->auth.account_id, ids);
	json_decref(ids);
	if (rc != 0)
		return store_reply_error(r, DB_ERROR, "the members' manifests could not be updated");
	audit_request(r, "sync_group.deleted", id, name);
	return http_reply_empty(r, 204);
}

/* --- what other screen changes do to a group --- */

/* The group of a screen into group_id; false when it is in none, or the
 * store failed (*rc). */
static bool group_of(struct db *db, const char *screen_id, char group_id[CODES_ID_LEN + 1], int *rc)
{
	struct db_stmt *st =
	    db_query(db, rc, "SELECT group_id FROM sync_group_members WHERE screen_id = ?", "s", screen_id);
	if (!st)
		return false;
	snprintf(group_id, CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_done(st);
	*rc = DB_DONE;
	return true;
}

int sync_groups_screen_deleted(struct http_req *r, const char *screen_id)
{
	char gid[CODES_ID_LEN + 1], key[KEY_HEX_LEN + 1];
	int rc;
	if (!group_of(r->db, screen_id, gid, &rc))
		return rc == DB_DONE ? 0 : -1;
	new_key(key);
	rc = db_exec(r->db, "DELETE FROM sync_group_members WHERE screen_id = ?", "s", screen_id);
	if (rc == DB_DONE)
		rc = db_exec(r->db, "UPDATE sync_groups SET secret = ?, updated_at = ? WHERE id = ?", "sis", key,
		             (int64_t)time(NULL), gid);
	sodium_memzero(key, sizeof key);
	json_t *ids = rc == DB_DONE ? member_ids(r->db, gid) : NULL;
	if (!ids || content_refresh_screen_list(r->db, r->auth.account_id, ids) != 0) {
		json_decref(ids);
		return -1;
	}
	json_decref(ids);
	char detail[128];
	snprintf(detail, sizeof detail, "the screen %s was deleted: it left (new key)", screen_id);
	audit_request(r, "sync_group.updated", gid, detail);
	return 0;
}

int sync_groups_screen_renamed(struct db *db, const char *account_id, const char *screen_id)
{
	char gid[CODES_ID_LEN + 1];
	int rc;
	if (!group_of(db, screen_id, gid, &rc))
		return rc == DB_DONE ? 0 : -1;
	json_t *ids = member_ids(db, gid);
	rc = ids ? content_refresh_screen_list(db, account_id, ids) : -1;
	json_decref(ids);
	return rc;
}

/* --- what the players report (the heartbeat's "sync") --- */

/* A JSON number (or null: *has false) within [min, max], in thousandths
 * into *out (microseconds of a millisecond value). */
static bool number_ok(json_t *v, double min, double max, double scale, bool *has, int64_t *out)
{
	*has = false;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_number(v))
		return false;
	double x = json_number_value(v);
	if (!(x >= min && x <= max))
		return false;
	*has = true;
	*out = (int64_t)(x * scale + (x < 0 ? -0.5 : 0.5)); /* rounded, without libm */
	return true;
}

bool sync_report_parse(struct http_req *r, json_t *sync, struct sync_report *out, bool *present)
{
	memset(out, 0, sizeof *out);
	*present = false;
	if (!sync || json_is_null(sync))
		return true;
	if (!json_is_object(sync)) {
		http_reply_error(r, 400, "invalid_field",
		                 "sync must be an object {group, state, leader, offset_ms, delay_ms, peers}");
		return false;
	}
	const char *group = json_string_value(json_object_get(sync, "group"));
	if (!group || !codes_is_id(group)) {
		http_reply_error(r, 400, "invalid_field", "sync.group must be the id of the screen's sync group");
		return false;
	}
	snprintf(out->group, sizeof out->group, "%s", group);
	const char *state = json_string_value(json_object_get(sync, "state"));
	const char *const *s = STATES;
	while (state && *s && strcmp(*s, state) != 0)
		s++;
	if (!state || !*s) {
		http_reply_error(r, 400, "invalid_field", "sync.state must be one of leader, member, alone, locking");
		return false;
	}
	snprintf(out->state, sizeof out->state, "%s", *s);
	json_t *leader = json_object_get(sync, "leader");
	if (leader && !json_is_null(leader) &&
	    (!json_is_integer(leader) || json_integer_value(leader) < 1 || json_integer_value(leader) > 1000)) {
		http_reply_error(r, 400, "invalid_field", "sync.leader must be the leader's member number, or null");
		return false;
	}
	if (!number_ok(json_object_get(sync, "offset_ms"), -1e12, 1e12, 1000.0, &out->has_offset, &out->offset_us)) {
		http_reply_error(r, 400, "invalid_field",
		                 "sync.offset_ms must be a number of milliseconds (at most 10^12 either way), or null");
		return false;
	}
	if (!number_ok(json_object_get(sync, "delay_ms"), 0, 1e9, 1000.0, &out->has_delay, &out->delay_us)) {
		http_reply_error(r, 400, "invalid_field",
		                 "sync.delay_ms must be a number of milliseconds from 0 to 10^9, or null");
		return false;
	}
	json_t *peers = json_object_get(sync, "peers");
	if (peers && !json_is_null(peers) &&
	    (!json_is_integer(peers) || json_integer_value(peers) < 0 || json_integer_value(peers) > 1000)) {
		http_reply_error(r, 400, "invalid_field", "sync.peers must be an integer from 0 to 1000, or null");
		return false;
	}
	out->has_peers = peers && !json_is_null(peers);
	out->peers = out->has_peers ? (int64_t)json_integer_value(peers) : 0;
	*present = true;
	return true;
}

int sync_report_save(struct db *db, const char *screen_id, const struct sync_report *rep, int64_t now)
{
	struct db_stmt *st = db_prepare(db, "UPDATE sync_group_members SET state = ?, offset_us = ?, delay_us = ?, "
	                                    "peers = ?, reported_at = ? WHERE screen_id = ? AND group_id = ?");
	if (!st)
		return DB_ERROR;
	db_bind_text(st, 1, rep->state);
	if (rep->has_offset)
		db_bind_int(st, 2, rep->offset_us);
	else
		db_bind_text(st, 2, NULL);
	if (rep->has_delay)
		db_bind_int(st, 3, rep->delay_us);
	else
		db_bind_text(st, 3, NULL);
	if (rep->has_peers)
		db_bind_int(st, 4, rep->peers);
	else
		db_bind_text(st, 4, NULL);
	db_bind_int(st, 5, now);
	db_bind_text(st, 6, screen_id);
	db_bind_text(st, 7, rep->group);
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		;
	db_done(st);
	return rc;
}
