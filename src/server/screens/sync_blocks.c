/*
 * The "sync" block of a member's manifest (docs/PROTOCOL.md, "Sync
 * groups"): its group's id, name and secret key, the member's own number,
 * every member (number, screen id, name) and the group's epoch. Read here
 * for content/manifest.c, which puts the block into the manifest it
 * compiles, so the manifest's hash, and with it its version, changes when
 * the group does (new key, members, names). One query whatever the number
 * of groups: a save that recompiles every screen of the account reads all
 * of them at once. Read only: the groups themselves are sync_groups.c's.
 */
#include <string.h>

#include "../store/db.h"
#include "screens.h"

int screens_sync_blocks(struct db *db, const char *account_id, const char *screen_id, json_t *out)
{
	struct db_stmt *st = db_prepare(
	    db, "SELECT g.id, g.name, g.secret, g.created_at, m.member, m.screen_id, s.name FROM sync_groups g "
	        "JOIN sync_group_members m ON m.group_id = g.id JOIN screens s ON s.id = m.screen_id WHERE "
	        "g.account_id = ?1 AND s.deleted_at IS NULL AND (?2 = '' OR g.id IN (SELECT o.group_id FROM "
	        "sync_group_members o WHERE o.screen_id = ?2)) ORDER BY g.id, m.member");
	if (!st)
		return -1;
	db_bind_text(st, 1, account_id);
	db_bind_text(st, 2, screen_id ? screen_id : "");
	json_t *groups = json_object(), *numbers = json_object(); /* group id -> block; screen id -> [group, n] */
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		const char *gid = db_col_text(st, 0);
		json_t *g = json_object_get(groups, gid);
		if (!g) {
			g = json_pack("{s:s, s:s, s:s, s:[], s:I}", "group", gid, "name", db_col_text(st, 1), "key",
			              db_col_text(st, 2), "members", "epoch_ms", (json_int_t)db_col_int(st, 3) * 1000);
			json_object_set_new(groups, gid, g);
		}
		json_int_t n = (json_int_t)db_col_int(st, 4);
		json_array_append_new(json_object_get(g, "members"),
		                      json_pack("{s:I, s:s, s:s}", "member", n, "screen_id", db_col_text(st, 5), "name",
		                                db_col_text(st, 6)));
		json_object_set_new(numbers, db_col_text(st, 5), json_pack("[s, I]", gid, n));
	}
	db_done(st);
	const char *sid;
	json_t *at;
	json_object_foreach (numbers, sid, at) {
		json_t *block = json_deep_copy(json_object_get(groups, json_string_value(json_array_get(at, 0))));
		json_object_set(block, "member", json_array_get(at, 1));
		json_object_set_new(out, sid, block);
	}
	json_decref(numbers);
	json_decref(groups);
	return rc == DB_DONE ? 0 : -1;
}
