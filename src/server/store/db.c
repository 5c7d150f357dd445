/*
 * The backend-independent half of the store's calls (db.h): transaction
 * bookkeeping, the queue of wake-ups a transaction delivers after it
 * commits, and db_query/db_exec on top of prepare/bind/step. Everything
 * that talks to a database goes through the connection's struct
 * db_backend (backend.h): SQLite (sqlite.c) or PostgreSQL (postgres.c).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../../common/log.h"
#include "backend.h"

#define MAX_NOTIFY 262144 /* keys queued by one transaction (16 MiB) */

typedef void (*notify_fn)(const char *key, void *arg);

/* set once before serving, read by every committing thread and by the
 * PostgreSQL listener */
static _Atomic(notify_fn) notify_hook;
static _Atomic(void *) notify_arg;

void store_set_notify_hook(void (*hook)(const char *key, void *arg), void *arg)
{
	atomic_store(&notify_arg, arg);
	atomic_store(&notify_hook, hook);
}

void db_deliver(const char *keys, size_t nkeys)
{
	notify_fn hook = atomic_load(&notify_hook);
	void *arg = atomic_load(&notify_arg);
	if (hook)
		for (size_t i = 0; i < nkeys; i++)
			hook(keys + i * DB_NOTIFY_KEY_LEN, arg);
}

void db_base_init(struct db *db, const struct db_backend *backend)
{
	db->backend = backend;
	db->in_tx = false;
	db->last_error = DB_DONE;
	buf_init(&db->notify, (size_t)MAX_NOTIFY * DB_NOTIFY_KEY_LEN);
}

void db_base_free(struct db *db)
{
	buf_free(&db->notify);
}

int db_failed(struct db *db, int rc)
{
	db->last_error = rc;
	return rc;
}

void db_close(struct db *db)
{
	if (db)
		db->backend->close(db);
}

int db_exec_script(struct db *db, const char *sql)
{
	return db->backend->exec_script(db, sql);
}

const char *db_backend_name(const struct db *db)
{
	return db->backend->name;
}

int db_exec_native(struct db *db, const char *backend, const char *sql)
{
	if (strcmp(db->backend->name, backend) != 0)
		return 0;
	return db->backend->exec_native(db, sql);
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
	int rc = db->backend->begin(db, write);
	if (rc != DB_DONE)
		return rc;
	db->in_tx = true;
	buf_reset(&db->notify);
	return DB_DONE;
}

int db_commit(struct db *db)
{
	if (!db->in_tx)
		return DB_ERROR;
	size_t nkeys = buf_len(&db->notify) / DB_NOTIFY_KEY_LEN;
	int rc = DB_DONE;
	if (nkeys && db->backend->publish)
		rc = db->backend->publish(db, buf_str(&db->notify), nkeys);
	if (rc == DB_DONE)
		rc = db->backend->commit(db);
	if (rc != DB_DONE) {
		db_rollback(db);
		return rc;
	}
	db->in_tx = false;
	db->last_error = DB_DONE; /* what failed inside was handled: nothing is left to explain */
	db_deliver(buf_str(&db->notify), nkeys);
	buf_reset(&db->notify);
	return DB_DONE;
}

void db_rollback(struct db *db)
{
	if (!db->in_tx)
		return;
	db->backend->rollback(db);
	db->in_tx = false;
	buf_reset(&db->notify);
}

bool db_in_tx(const struct db *db)
{
	return db->in_tx;
}

void db_notify(struct db *db, const char *key)
{
	size_t n = strlen(key), queued = buf_len(&db->notify);
	if (n >= DB_NOTIFY_KEY_LEN) {
		log_event(LOG_WARN, "notification key too long", "key", key, NULL);
		return;
	}
	char slot[DB_NOTIFY_KEY_LEN] = {0};
	memcpy(slot, key, n);
	if (!db->in_tx) {
		/* outside a transaction: on its own, as if committed now */
		if (db->backend->publish)
			db->backend->publish(db, slot, 1);
		db_deliver(slot, 1);
		return;
	}
	/* a repeat of the last key is dropped; other repeats only cost a wake-up
	 * of nobody, so the queue is not searched */
	if (queued && strcmp(buf_str(&db->notify) + queued - DB_NOTIFY_KEY_LEN, key) == 0)
		return;
	if (buf_add(&db->notify, slot, sizeof slot) != BUF_OK)
		log_event(LOG_ERROR, "notification dropped (queue full)", "key", key, NULL);
}

void db_notifyf(struct db *db, const char *fmt, ...)
{
	char key[DB_NOTIFY_KEY_LEN];
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
	return db->backend->prepare(db, sql);
}

void db_bind_text(struct db_stmt *st, int idx, const char *text)
{
	st->db->backend->bind_text(st, idx, text);
}

void db_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	st->db->backend->bind_int(st, idx, v);
}

int db_step(struct db_stmt *st)
{
	return st->db->backend->step(st);
}

const char *db_col_text(struct db_stmt *st, int col)
{
	return st->db->backend->col_text(st, col);
}

bool db_col_is_null(struct db_stmt *st, int col)
{
	return st->db->backend->col_is_null(st, col);
}

int64_t db_col_int(struct db_stmt *st, int col)
{
	return st->db->backend->col_int(st, col);
}

void db_done(struct db_stmt *st)
{
	if (st)
		st->db->backend->done(st);
}

int64_t db_changes(struct db *db)
{
	return db->backend->changes(db);
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
