/*
 * Numbered schema migrations. Each migration runs in its own transaction
 * together with the bump of schema_migrations, so a failure leaves the
 * database exactly at the previous version. The SQL files live in
 * store/migrations/ and are embedded at build time (migrations_gen.c).
 */
#include <stdio.h>
#include <time.h>

#include "../../common/log.h"
#include "db.h"

int store_schema_version(struct db *db)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", NULL);
	if (!st)
		return -1;
	int v = (int)db_col_int(st, 0);
	db_done(st);
	return v;
}

int store_migrate(struct db *db, const struct migration *list, size_t count)
{
	if (db_exec_script(db, "CREATE TABLE IF NOT EXISTS schema_migrations("
	                       "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)") != 0)
		return -1;
	int current = store_schema_version(db);
	if (current < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		const struct migration *m = &list[i];
		if (m->version <= current)
			continue;
		if (db_begin(db, true) != DB_DONE)
			return -1;
		/* another server on the same database may have applied it meanwhile */
		int now_at = store_schema_version(db);
		if (now_at >= m->version) {
			db_rollback(db);
			current = now_at;
			continue;
		}
		if (db_exec_script(db, m->sql) != 0 ||
		    (m->postgresql_sql && db_exec_native(db, "postgresql", m->postgresql_sql) != 0) ||
		    db_exec(db, "INSERT INTO schema_migrations(version,name,applied_at) VALUES(?,?,?)", "isi",
		            (int64_t)m->version, m->name, (int64_t)time(NULL)) != DB_DONE) {
			db_rollback(db);
			log_event(LOG_ERROR, "migration failed", "name", m->name, NULL);
			return -1;
		}
		if (db_commit(db) != DB_DONE)
			return -1;
		char v[16];
		snprintf(v, sizeof v, "%d", m->version);
		log_event(LOG_INFO, "migration applied", "version", v, "name", m->name, NULL);
		current = m->version;
	}
	return 0;
}
