/*
 * What a database backend provides to the store (db.h), and the part of a
 * connection every backend shares. db.c holds the generic calls (the
 * wake-up queue, db_query/db_exec, the transaction bookkeeping) and
 * dispatches the rest through struct db_backend; sqlite.c and postgres.c
 * are the two backends. Only store/ includes this header.
 */
#ifndef VITRINE_STORE_BACKEND_H
#define VITRINE_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "db.h"

#define DB_NOTIFY_KEY_LEN 64

struct db_backend {
	const char *name;
	void (*close)(struct db *db);
	int (*exec_script)(struct db *db, const char *sql); /* portable SQL */
	int (*exec_native)(struct db *db, const char *sql); /* this backend's own SQL */
	/* begin/commit/rollback: the SQL side only; db.c keeps in_tx and the
	 * queue of wake-ups */
	int (*begin)(struct db *db, bool write);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	struct db_stmt *(*prepare)(struct db *db, const char *sql);
	void (*bind_text)(struct db_stmt *st, int idx, const char *text);
	void (*bind_int)(struct db_stmt *st, int idx, int64_t v);
	int (*step)(struct db_stmt *st);
	const char *(*col_text)(struct db_stmt *st, int col);
	bool (*col_is_null)(struct db_stmt *st, int col);
	int64_t (*col_int)(struct db_stmt *st, int col);
	void (*done)(struct db_stmt *st);
	int64_t (*changes)(struct db *db);
	/* Tells the other servers on the same database about keys
	 * (DB_NOTIFY_KEY_LEN bytes each): inside the transaction, so they hear
	 * of them only if it commits. NULL for a backend with no other servers
	 * (SQLite). */
	int (*publish)(struct db *db, const char *keys, size_t nkeys);
};

/* The first member of each backend's connection. */
struct db {
	const struct db_backend *backend;
	bool in_tx;
	int last_error;    /* db_last_error() */
	struct buf notify; /* keys queued by the transaction, DB_NOTIFY_KEY_LEN bytes each */
};

/* The first member of each backend's statement. */
struct db_stmt {
	struct db *db;
};

void db_base_init(struct db *db, const struct db_backend *backend);
void db_base_free(struct db *db);
/* Records rc as the connection's latest failure and returns it. */
int db_failed(struct db *db, int rc);
/* Hands committed keys to the notify hook (db.c). */
void db_deliver(const char *keys, size_t nkeys);

/* The backends' connection openers. */
struct db *sqlite_open(const char *path);
struct db *postgres_open(const char *url);
bool postgres_url(const char *url);

#endif
