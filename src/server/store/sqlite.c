/*
 * SQLite backend of the store (db.h): WAL journal, busy timeout, foreign
 * keys, one connection per thread with a small prepared-statement cache.
 * Writers take the lock up front (BEGIN IMMEDIATE) so a read transaction is
 * never upgraded mid-way, which in WAL mode can fail with SQLITE_BUSY
 * without the busy handler being consulted. Which connection a thread uses
 * and when migrations run is store.c's business, the wake-up queue db.c's,
 * not this file's.
 *
 * Failures are told apart by cause: a lock not obtained in time is DB_BUSY
 * (retry shortly), a full disk (SQLITE_FULL, or an I/O error whose errno is
 * ENOSPC/EDQUOT) is DB_FULL (retrying will not help until space is freed),
 * anything else DB_ERROR. A full disk is logged at most every
 * FULL_LOG_EVERY_S seconds, not once per refused request.
 */
#include "backend.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/log.h"

#define STMT_CACHE       96
#define FULL_LOG_EVERY_S 10

struct sqlite_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
	const char *sql; /* cache key: the caller's string (usually a literal) */
};

struct sqlite_db {
	struct db base;
	sqlite3 *h;
	struct sqlite_stmt cache[STMT_CACHE];
	size_t ncache;
};

static const struct db_backend sqlite_backend;

static struct sqlite_db *conn(struct db *db)
{
	return (struct sqlite_db *)db;
}

static struct sqlite_stmt *stmt(struct db_stmt *st)
{
	return (struct sqlite_stmt *)st;
}

struct db *db_open_file(const char *path)
{
	return sqlite_open(path);
}

struct db *sqlite_open(const char *path)
{
	struct sqlite_db *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	db_base_init(&c->base, &sqlite_backend);
	int rc = sqlite3_open_v2(path, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_event(LOG_ERROR, "cannot open database", "path", path, "error",
		          c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc), NULL);
		sqlite3_close(c->h);
		db_base_free(&c->base);
		free(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->h, 5000);
	if (db_exec_script(&c->base, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	                             "PRAGMA synchronous=NORMAL; PRAGMA trusted_schema=OFF;"
	                             /* REPLACE fires DELETE triggers only with this on:
	                              * the audit log's append-only triggers need it */
	                             "PRAGMA recursive_triggers=ON;") != 0) {
		db_close(&c->base);
		return NULL;
	}
	return &c->base;
}

static void sq_close(struct db *db)
{
	struct sqlite_db *c = conn(db);
	for (size_t i = 0; i < c->ncache; i++)
		sqlite3_finalize(c->cache[i].st);
	sqlite3_close(c->h);
	db_base_free(db);
	free(c);
}

static int sq_exec_script(struct db *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(conn(db)->h, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_event(LOG_ERROR, "sql script failed", "error", err ? err : "?", NULL);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static bool disk_full(sqlite3 *h, int rc)
{
	if ((rc & 0xff) == SQLITE_FULL)
		return true;
	int e = sqlite3_system_errno(h);
	return (rc & 0xff) == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT);
}

static int map_rc(struct db *db, int rc)
{
	static _Atomic int64_t full_logged_at;
	sqlite3 *h = conn(db)->h;
	switch (rc & 0xff) {
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_CONSTRAINT:
		return db_failed(db, DB_CONSTRAINT);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_event(LOG_WARN, "database busy", "error", sqlite3_errmsg(h), NULL);
		return db_failed(db, DB_BUSY);
	default:
		if (disk_full(h, rc)) {
			int64_t now = (int64_t)time(NULL), last = atomic_load(&full_logged_at);
			if (now - last >= FULL_LOG_EVERY_S &&
			    atomic_compare_exchange_strong(&full_logged_at, &last, now))
				log_event(LOG_ERROR, "the disk is full: writes are refused until space is freed",
				          "error", sqlite3_errmsg(h), NULL);
			return db_failed(db, DB_FULL);
		}
		log_event(LOG_ERROR, "database error", "error", sqlite3_errmsg(h), NULL);
		return db_failed(db, DB_ERROR);
	}
}

static int sq_begin(struct db *db, bool write)
{
	int rc = sqlite3_exec(conn(db)->h, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
	return rc == SQLITE_OK ? DB_DONE : map_rc(db, rc);
}

static int sq_commit(struct db *db)
{
	int rc = sqlite3_exec(conn(db)->h, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? DB_DONE : map_rc(db, rc);
}

static void sq_rollback(struct db *db)
{
	sqlite3_exec(conn(db)->h, "ROLLBACK", NULL, NULL, NULL);
}

static struct db_stmt *sq_prepare(struct db *db, const char *sql)
{
	struct sqlite_db *c = conn(db);
	/* the key is the caller's pointer; the text is compared too, since a
	 * caller may format its SQL into a buffer whose address another
	 * caller's different SQL reuses later */
	for (size_t i = 0; i < c->ncache; i++)
		if (c->cache[i].sql == sql) {
			if (strcmp(sqlite3_sql(c->cache[i].st), sql) != 0) {
				sqlite3_finalize(c->cache[i].st);
				c->cache[i] = c->cache[--c->ncache];
				c->cache[c->ncache] = (struct sqlite_stmt){0};
				break;
			}
			sqlite3_reset(c->cache[i].st);
			sqlite3_clear_bindings(c->cache[i].st);
			return &c->cache[i].base;
		}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_event(LOG_ERROR, "sql prepare failed", "error", sqlite3_errmsg(c->h), NULL);
		return NULL;
	}
	size_t slot = c->ncache < STMT_CACHE ? c->ncache++ : (size_t)(((uintptr_t)sql >> 4) % STMT_CACHE);
	if (c->cache[slot].st)
		sqlite3_finalize(c->cache[slot].st);
	c->cache[slot] = (struct sqlite_stmt){.base = {.db = db}, .st = st, .sql = sql};
	return &c->cache[slot].base;
}

static void sq_bind_text(struct db_stmt *st, int idx, const char *text)
{
	if (text)
		sqlite3_bind_text(stmt(st)->st, idx, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt(st)->st, idx);
}

static void sq_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	sqlite3_bind_int64(stmt(st)->st, idx, v);
}

static int sq_step(struct db_stmt *st)
{
	return map_rc(st->db, sqlite3_step(stmt(st)->st));
}

static const char *sq_col_text(struct db_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(stmt(st)->st, col);
	return t ? (const char *)t : "";
}

static bool sq_col_is_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(stmt(st)->st, col) == SQLITE_NULL;
}

static int64_t sq_col_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(stmt(st)->st, col);
}

static void sq_done(struct db_stmt *st)
{
	sqlite3_reset(stmt(st)->st);
}

static int64_t sq_changes(struct db *db)
{
	return sqlite3_changes64(conn(db)->h);
}

static const struct db_backend sqlite_backend = {
    .name = "sqlite",
    .close = sq_close,
    .exec_script = sq_exec_script,
    .exec_native = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_is_null = sq_col_is_null,
    .col_int = sq_col_int,
    .done = sq_done,
    .changes = sq_changes,
};
