/*
 * Transactions for the HTTP server's hooks and for background jobs (see
 * tx.h), on top of the per-thread connections of sqlite.c.
 */
#include "tx.h"

#include "db.h"

struct db *store_tx_begin(bool write)
{
	struct db *db = store_db();
	if (!db || db_begin(db, write) != DB_DONE)
		return NULL;
	return db;
}

int store_tx_end(struct db *db, bool commit)
{
	if (!db || !db_in_tx(db))
		return 0;
	if (!commit) {
		db_rollback(db);
		return 0;
	}
	return db_commit(db) == DB_DONE ? 0 : -1;
}

int store_with_tx(int (*fn)(struct db *db, void *arg), void *arg)
{
	struct db *db = store_db();
	if (!db || db_begin(db, true) != DB_DONE)
		return -1;
	int rc = fn(db, arg);
	if (rc < 0) {
		db_rollback(db);
		return rc;
	}
	if (db_commit(db) != DB_DONE)
		return -1;
	return rc;
}
