/*
 * SQLite backend of the store (db.h): WAL journal, busy timeout, foreign
 * keys, one connection per thread with a small prepared-statement cache.
 * Writers take the lock up front (BEGIN IMMEDIATE) so a read transaction is
 * never upgraded mid-way, which in WAL mode can fail with SQLITE_BUSY
 * without the busy handler being consulted. Which connection a thread uses
 * and when migrations run is store.c's business, not this file's.
 *
 * Failures are told apart by cause: a lock not obtained in time is DB_BUSY
 * (retry shortly), a full disk (SQLITE_FULL, or an I/O error whose errno is
 * ENOSPC/EDQUOT) is DB_FULL (retrying will not help until space is freed),
 * anything else DB_ERROR. A full disk is logged at most every
 * FULL_LOG_EVERY_S seconds, not once per refused request.
 */
#include "db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../../common/log.h"

#define STMT_CACHE       96
#define MAX_NOTIFY       262144 /* keys queued by one transaction (16 MiB) */
#define NOTIFY_KEY_LEN   64
#define FULL_LOG_EVERY_S 10

struct db_stmt {
	sqlite3_stmt *st;
	const char *sql; /* cache key: the caller's string (usually a literal) */
	struct db *db;
};

struct db {
	sqlite3 *h;
	bool in_tx;
	int last_error; /* db_last_error() */
	struct db_stmt cache[STMT_CACHE];
	size_t ncache;
	struct buf notify; /* keys queued by the transaction, NOTIFY_KEY_LEN bytes each */
};

static void (*notify_hook)(const char *, void *);
static void *notify_arg;

void store_set_notify_hook(void (*hook)(const char *key, void *arg), void *arg)
{
	notify_hook = hook;
	notify_arg = arg;
}

struct db *db_open_file(const char *path)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return NULL;
	buf_init(&db->notify, (size_t)MAX_NOTIFY * NOTIFY_KEY_LEN);
	int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_event(LOG_ERROR, "cannot open database", "path", path, "error",
		          db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc), NULL);
		sqlite3_close(db->h);
		free(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (db_exec_script(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	                       "PRAGMA synchronous=NORMAL; PRAGMA trusted_schema=OFF;"
	                       /* REPLACE fires DELETE triggers only with this on:
	                        * the audit log's append-only triggers need it */
	                       "PRAGMA recursive_triggers=ON;") != 0) {
		db_close(db);
		return NULL;
	}
	return db;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	buf_free(&db->notify);
	free(db);
}

int db_exec_script(struct db *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_event(LOG_ERROR, "sql script failed", "error", err ? err : "?", NULL);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static bool disk_full(struct db *db, int rc)
{
	if ((rc & 0xff) == SQLITE_FULL)
		return true;
	int e = sqlite3_system_errno(db->h);
	return (rc & 0xff) == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT);
}

static int map_rc(struct db *db, int rc)
{
	static _Atomic int64_t full_logged_at;
	int r;
	switch (rc & 0xff) {
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_CONSTRAINT:
		r = DB_CONSTRAINT;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_event(LOG_WARN, "database busy", "error", sqlite3_errmsg(db->h), NULL);
		r = DB_BUSY;
		break;
	default:
		if (disk_full(db, rc)) {
			int64_t now = (int64_t)time(NULL), last = atomic_load(&full_logged_at);
			if (now - last >= FULL_LOG_EVERY_S &&
			    atomic_compare_exchange_strong(&full_logged_at, &last, now))
				log_event(LOG_ERROR, "the disk is full: writes are refused until space is freed",
				          "error", sqlite3_errmsg(db->h), NULL);
			r = DB_FULL;
		} else {
			log_event(LOG_ERROR, "database error", "error", sqlite3_errmsg(db->h), NULL);
			r = DB_ERROR;
		}
	}
	db->last_error = r;
	return r;
}

int db_last_error(const struct db *db)
{
	return db->last_error;
}

int db_begin(struct db *db, bool write)
{
	if (db->in_tx)
		return DB_ERROR;
	db->last_error = DB_DONE;
	int rc = sqlite3_exec(db->h, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return map_rc(db, rc);
	db->in_tx = true;
	buf_reset(&db->notify);
	return DB_DONE;
}

int db_commit(struct db *db)
{
	if (!db->in_tx)
		return DB_ERROR;
	int rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = map_rc(db, rc);
		db_rollback(db);
		return r;
	}
	db->in_tx = false;
	db->last_error = DB_DONE; /* what failed inside was handled: nothing is left to explain */
	const char *keys = buf_str(&db->notify);
	if (notify_hook)
		for (size_t at = 0; at < buf_len(&db->notify); at += NOTIFY_KEY_LEN)
			notify_hook(keys + at, notify_arg);
	buf_reset(&db->notify);
	return DB_DONE;
}

void db_rollback(struct db *db)
{
	if (!db->in_tx)
		return;
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	db->in_tx = false;
	buf_reset(&db->notify);
}

bool db_in_tx(const struct db *db)
{
	return db->in_tx;
}

void db_notify(struct db *db, const char *key)
{
	if (!db->in_tx) {
		if (notify_hook)
			notify_hook(key, notify_arg);
		return;
	}
	size_t n = strlen(key), queued = buf_len(&db->notify);
	if (n >= NOTIFY_KEY_LEN) {
		log_event(LOG_WARN, "notification key too long", "key", key, NULL);
		return;
	}
	/* a repeat of the last key is dropped; other repeats only cost a wake-up
	 * of nobody, so the queue is not searched */
	if (queued && strcmp(buf_str(&db->notify) + queued - NOTIFY_KEY_LEN, key) == 0)
		return;
	char slot[NOTIFY_KEY_LEN] = {0};
	memcpy(slot, key, n);
	if (buf_add(&db->notify, slot, sizeof slot) != BUF_OK)
		log_event(LOG_ERROR, "notification dropped (queue full)", "key", key, NULL);
}

void db_notifyf(struct db *db, const char *fmt, ...)
{
	char key[NOTIFY_KEY_LEN];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof key) {
		log_event(LOG_ERROR, "notification key too long: dropped", "format", fmt, NULL);
		return;
	}
	db_notify(db, key);
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
	for (size_t i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].st);
			sqlite3_clear_bindings(db->cache[i].st);
			return &db->cache[i];
		}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		log_event(LOG_ERROR, "sql prepare failed", "error", sqlite3_errmsg(db->h), NULL);
		return NULL;
	}
	size_t slot = db->ncache < STMT_CACHE ? db->ncache++ : (size_t)(((uintptr_t)sql >> 4) % STMT_CACHE);
	if (db->cache[slot].st)
		sqlite3_finalize(db->cache[slot].st);
	db->cache[slot] = (struct db_stmt){.st = st, .sql = sql, .db = db};
	return &db->cache[slot];
}

void db_bind_text(struct db_stmt *st, int idx, const char *text)
{
	if (text)
		sqlite3_bind_text(st->st, idx, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->st, idx);
}

void db_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	sqlite3_bind_int64(st->st, idx, v);
}

int db_step(struct db_stmt *st)
{
	return map_rc(st->db, sqlite3_step(st->st));
}

const char *db_col_text(struct db_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st->st, col);
	return t ? (const char *)t : "";
}

bool db_col_is_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

int64_t db_col_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(st->st, col);
}

void db_done(struct db_stmt *st)
{
	if (st)
		sqlite3_reset(st->st);
}

int64_t db_changes(struct db *db)
{
	return sqlite3_changes64(db->h);
}

static struct db_stmt *prepare_bind(struct db *db, const char *sql, const char *types, va_list ap)
{
	struct db_stmt *st = db_prepare(db, sql);
	if (!st)
		return NULL;
	for (int i = 0; types && types[i]; i++) {
		if (types[i] == 's')
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		else
			db_bind_int(st, i + 1, va_arg(ap, int64_t));
	}
	return st;
}

struct db_stmt *db_query(struct db *db, int *rc, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = prepare_bind(db, sql, types, ap);
	va_end(ap);
	int r = st ? db_step(st) : DB_ERROR;
	if (rc)
		*rc = r;
	if (r == DB_ROW)
		return st;
	db_done(st);
	return NULL;
}

int db_exec(struct db *db, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = prepare_bind(db, sql, types, ap);
	va_end(ap);
	if (!st)
		return DB_ERROR;
	int r;
	while ((r = db_step(st)) == DB_ROW)
		;
	db_done(st);
	return r;
}
