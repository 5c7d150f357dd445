/*
 * The store: the one interface every area uses to reach the database. It
 * hides the backend (SQLite in the data folder, or a PostgreSQL server
 * several Vitrine servers share), so areas write portable SQL with '?'
 * placeholders (see postgres_sql.c for the few spellings that are
 * rewritten, and postgres.c for the SQLite functions PostgreSQL gets).
 *
 * Each thread gets its own connection (store_db()), opened lazily. A
 * transaction is explicit: db_begin(write) ... db_commit()/db_rollback().
 * Statements returned by db_prepare()/db_query() belong to the connection's
 * cache: never finalize them; call db_done() when finished reading rows.
 *
 * Wake-ups: db_notify(key) inside a transaction queues a notification that
 * is delivered to the notify hook only after COMMIT succeeds (and dropped
 * on rollback); on PostgreSQL it also reaches the other servers on the
 * database (NOTIFY in the transaction, LISTEN in postgres_listen.c). The
 * hook may get the empty key: wake-ups may have been missed (a listener
 * reconnected), every waiter should re-check the store.
 */
#ifndef VITRINE_STORE_DB_H
#define VITRINE_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

enum db_result {
	DB_DONE = 0,        /* no (more) rows / statement completed */
	DB_ROW = 1,         /* a row is available */
	DB_ERROR = -1,      /* anything unexpected: already logged */
	DB_CONSTRAINT = -2, /* a UNIQUE/CHECK/FOREIGN KEY constraint failed */
	DB_BUSY = -3,       /* lock not obtained within the busy timeout */
	DB_FULL = -4,       /* the disk (or quota) is full: nothing was written */
};

struct migration {
	int version;
	const char *name;
	const char *sql;            /* portable */
	const char *postgresql_sql; /* PostgreSQL only, after sql (NULL: none) */
};

/* Opens (creating if needed) the store named by db_url ("sqlite:", NULL or
 * "": vitrine.db in data_dir) and applies pending migrations. Returns 0 or
 * -1 (logged). */
int store_open(const char *data_dir, const char *db_url);
void store_close(void);

/* Called with each key queued by db_notify, after its transaction commits. */
void store_set_notify_hook(void (*hook)(const char *key, void *arg), void *arg);

/* This thread's connection, or NULL if it could not be opened (logged). */
struct db *store_db(void);

/* A new connection to the open store that is nobody's thread connection
 * (a background task's own; the caller closes it with db_close), or NULL. */
struct db *store_open_connection(void);

/* Applies the given migrations in order, each in its own transaction.
 * Exposed for tests; store_open() calls it with the built-in list. */
int store_migrate(struct db *db, const struct migration *list, size_t count);
int store_schema_version(struct db *db);

/* Opens a connection to an explicit SQLite file (tests, backup). */
struct db *db_open_file(const char *path);
void db_close(struct db *db);

int db_begin(struct db *db, bool write);
int db_commit(struct db *db);
void db_rollback(struct db *db);
bool db_in_tx(const struct db *db);

struct db_stmt *db_prepare(struct db *db, const char *sql);
void db_bind_text(struct db_stmt *st, int idx, const char *text); /* NULL binds NULL */
void db_bind_int(struct db_stmt *st, int idx, int64_t v);
int db_step(struct db_stmt *st);
const char *db_col_text(struct db_stmt *st, int col); /* "" for NULL */
bool db_col_is_null(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
void db_done(struct db_stmt *st);

/* Prepares sql, binds args by the type string ('s' const char *, 'i'
 * int64_t) and steps once. Returns the statement positioned on the first row
 * (caller reads then db_done()), or NULL when there is no row or on error;
 * *rc (if given) receives the step result. */
struct db_stmt *db_query(struct db *db, int *rc, const char *sql, const char *types, ...);

/* Prepares, binds, runs to completion. Returns DB_DONE or an error code. */
int db_exec(struct db *db, const char *sql, const char *types, ...);

/* The result of this connection's latest failure since its last
 * db_begin or successful db_commit (DB_BUSY, DB_FULL, DB_CONSTRAINT or
 * DB_ERROR), or DB_DONE when nothing failed: for callers that only kept
 * "it failed" (store_reply.h). */
int db_last_error(const struct db *db);

/* Rows changed by the last INSERT/UPDATE/DELETE on this connection. */
int64_t db_changes(struct db *db);

/* Queues a wake-up for key, delivered after commit. */
void db_notify(struct db *db, const char *key);
/* db_notify of a formatted key ("screen:%s"); a key that does not fit is
 * logged and dropped, never cut (a cut key would wake somebody else). */
void db_notifyf(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs raw SQL (several statements, no parameters): migrations, pragmas. */
int db_exec_script(struct db *db, const char *sql);

/* "sqlite" or "postgresql". */
const char *db_backend_name(const struct db *db);

/* Runs sql as db_exec_script does, untranslated, when db's backend is the
 * one named (else does nothing and returns 0). */
int db_exec_native(struct db *db, const char *backend, const char *sql);

#endif
