/*
 * Routing: each department's FIFO queue (ordered by queue_key; a requeued
 * chat goes before every other), the position told to each waiting
 * visitor when it changes, and auto-assignment.
 *
 * The dispatcher of a department runs inside a write transaction, and the
 * store takes its write lock at BEGIN (BEGIN IMMEDIATE), so at most one
 * dispatcher runs at a time and each sees what the previous one committed:
 * a chat is assigned only while it is still queued (the UPDATE says so), an
 * operator only while online, here (presence.c) and below capacity. With
 * PostgreSQL the same shape needs SELECT ... FOR UPDATE on the department.
 *
 * The sweeper (a thread started by the first chat, operator status or
 * operator stream, one pass a second)
 * requeues the chats of operators whose presence ended and, where the
 * department sets reassign_after_s, chats whose visitor waits longer for
 * an operator's reply; it also dispatches auto-assigning departments that
 * still have a queue (an operator came back).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/log.h"
#include "../http/wake.h"
#include "../store/db.h"
#include "chat.h"

#define MAX_IDS 512

struct idlist {
	char id[MAX_IDS][CODES_ID_LEN + 1];
	size_t n;
};

/* Collects the first column of a query of one text parameter. */
static int collect(struct db *db, const char *sql, const char *arg, struct idlist *out)
{
	out->n = 0;
	struct db_stmt *st = db_prepare(db, sql);
	if (!st)
		return DB_ERROR;
	if (arg)
		db_bind_text(st, 1, arg);
	int rc;
	while ((rc = db_step(st)) == DB_ROW && out->n < MAX_IDS)
		snprintf(out->id[out->n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_done(st);
	return rc < 0 ? rc : DB_DONE;
}

int chat_tell_department(struct db *db, const char *department_id, const char *chat_id)
{
	struct idlist *ops = malloc(sizeof *ops);
	if (!ops)
		return DB_ERROR;
	int rc = collect(db, "SELECT user_id FROM chat_department_operators WHERE department_id = ? ORDER BY user_id",
	                 department_id, ops);
	for (size_t i = 0; rc == DB_DONE && i < ops->n; i++) {
		json_t *chat = chat_chat_json(db, chat_id);
		rc = chat ? chat_op_event(db, ops->id[i], "queue", json_pack("{s:o}", "chat", chat)) : DB_ERROR;
	}
	free(ops);
	return rc;
}

static int positions(struct db *db, const char *department_id)
{
	struct db_stmt *st = db_prepare(db, "SELECT id, position FROM chat_chats WHERE department_id = ? AND "
	                                    "state = 'queued' ORDER BY queue_key LIMIT ?");
	if (!st)
		return DB_ERROR;
	db_bind_text(st, 1, department_id);
	db_bind_int(st, 2, MAX_IDS);
	struct idlist *changed = malloc(sizeof *changed);
	int64_t *pos = malloc(MAX_IDS * sizeof *pos);
	if (!changed || !pos) {
		db_done(st);
		free(changed);
		free(pos);
		return DB_ERROR;
	}
	changed->n = 0;
	int64_t i = 0;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		i++;
		if (db_col_int(st, 1) != i) {
			pos[changed->n] = i;
			snprintf(changed->id[changed->n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
		}
	}
	db_done(st);
	rc = rc < 0 ? rc : DB_DONE;
	for (size_t k = 0; rc == DB_DONE && k < changed->n; k++) {
		rc = db_exec(db, "UPDATE chat_chats SET position = ? WHERE id = ?", "is", pos[k], changed->id[k]);
		if (rc == DB_DONE)
			rc = chat_event_append(db, changed->id[k], "position",
			                       json_pack("{s:I}", "position", (json_int_t)pos[k]), NULL, NULL, NULL,
			                       NULL);
		if (rc == DB_DONE)
			rc = chat_tell_department(db, department_id, changed->id[k]);
	}
	free(changed);
	free(pos);
	return rc;
}

bool chat_assign(struct db *db, const char *chat_id, const char *user_id, const char *how)
{
	int64_t now = (int64_t)time(NULL);
	if (db_exec(db,
	            "UPDATE chat_chats SET state = 'active', operator_id = ?, assigned_at = ?, position = 0, "
	            "waiting_since = ? WHERE id = ? AND state = 'queued'",
	            "siis", user_id, now, now, chat_id) != DB_DONE ||
	    db_changes(db) != 1)
		return false;
	chat_operator_row(db, user_id);
	db_exec(db, "UPDATE chat_operators SET last_assigned_ms = ? WHERE user_id = ?", "is", (int64_t)wake_now_ms(),
	        user_id);
	char name[200];
	chat_user_name(db, user_id, name, sizeof name);
	if (chat_event_append(db, chat_id, "assigned", json_pack("{s:s}", "operator", name), NULL, NULL, NULL, NULL) !=
	    DB_DONE)
		return false;
	json_t *chat = chat_chat_json(db, chat_id);
	if (!chat ||
	    chat_op_event(db, user_id, "assigned", json_pack("{s:o, s:s}", "chat", chat, "how", how)) != DB_DONE)
		return false;
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT department_id FROM chat_chats WHERE id = ?", "s", chat_id);
	char dep[CODES_ID_LEN + 1] = "";
	if (st)
		snprintf(dep, sizeof dep, "%s", db_col_text(st, 0));
	db_done(st);
	return chat_tell_department(db, dep, chat_id) == DB_DONE;
}

/* The operator for department_id's next chat: online, here, below
 * capacity, fewest active chats first, then the longest without one;
 * avoid (the one the chat was taken from) only when nobody else can. */
static bool pick_operator(struct db *db, const char *department_id, const char *avoid, char out[CODES_ID_LEN + 1])
{
	struct db_stmt *st = db_prepare(
	    db, "SELECT o.user_id, o.capacity, (SELECT COUNT(*) FROM chat_chats c WHERE c.operator_id = o.user_id "
	        "AND c.state = 'active') AS n FROM chat_department_operators dop "
	        "JOIN chat_operators o ON o.user_id = dop.user_id JOIN users u ON u.id = o.user_id "
	        "WHERE dop.department_id = ? AND o.status = 'online' AND u.disabled = 0 "
	        "AND u.role IN ('operator', 'admin') ORDER BY n, o.last_assigned_ms, o.user_id");
	if (!st)
		return false;
	db_bind_text(st, 1, department_id);
	int64_t now_ms = (int64_t)wake_now_ms();
	char fallback[CODES_ID_LEN + 1] = "";
	out[0] = '\0';
	while (db_step(st) == DB_ROW) {
		const char *uid = db_col_text(st, 0);
		if (db_col_int(st, 2) >= db_col_int(st, 1) || !chat_presence_here(uid, now_ms))
			continue;
		if (avoid && strcmp(uid, avoid) == 0) {
			snprintf(fallback, sizeof fallback, "%s", uid);
			continue;
		}
		snprintf(out, CODES_ID_LEN + 1, "%s", uid);
		break;
	}
	db_done(st);
	if (!out[0] && fallback[0])
		snprintf(out, CODES_ID_LEN + 1, "%s", fallback);
	return out[0] != '\0';
}

int chat_dispatch(struct db *db, const char *department_id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT auto_assign FROM chat_departments WHERE id = ?", "s", department_id);
	if (!st)
		return rc < 0 ? rc : DB_DONE;
	bool autoassign = db_col_int(st, 0) != 0;
	db_done(st);
	for (int rounds = 0; autoassign && rounds < MAX_IDS; rounds++) {
		st =
		    db_query(db, &rc,
		             "SELECT id, prev_operator_id FROM chat_chats WHERE department_id = ? AND state = 'queued' "
		             "ORDER BY queue_key LIMIT 1",
		             "s", department_id);
		if (!st)
			break;
		char chat[CODES_ID_LEN + 1], prev[CODES_ID_LEN + 1], op[CODES_ID_LEN + 1];
		snprintf(chat, sizeof chat, "%s", db_col_text(st, 0));
		snprintf(prev, sizeof prev, "%s", db_col_text(st, 1));
		db_done(st);
		if (!pick_operator(db, department_id, prev[0] ? prev : NULL, op))
			break;
		if (!chat_assign(db, chat, op, "auto"))
			return DB_ERROR;
	}
	return positions(db, department_id);
}

int chat_requeue(struct db *db, const char *chat_id, const char *reason)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc,
	             "SELECT department_id, COALESCE(operator_id, '') FROM chat_chats WHERE id = ? AND "
	             "state = 'active'",
	             "s", chat_id);
	if (!st)
		return rc < 0 ? rc : DB_DONE;
	char dep[CODES_ID_LEN + 1], op[CODES_ID_LEN + 1];
	snprintf(dep, sizeof dep, "%s", db_col_text(st, 0));
	snprintf(op, sizeof op, "%s", db_col_text(st, 1));
	db_done(st);
	rc = db_exec(db,
	             "UPDATE chat_chats SET state = 'queued', prev_operator_id = ?, operator_id = NULL, "
	             "waiting_since = 0, position = 0, queue_key = (SELECT COALESCE(MIN(queue_key), 0) - 1 FROM "
	             "chat_chats WHERE department_id = ?) WHERE id = ?",
	             "sss", op, dep, chat_id);
	if (rc == DB_DONE)
		rc = chat_calls_end(db, chat_id, op, "requeued");
	if (rc == DB_DONE && op[0])
		rc = chat_op_event(db, op, "unassigned", json_pack("{s:s, s:s}", "chat_id", chat_id, "reason", reason));
	if (rc == DB_DONE)
		rc = chat_dispatch(db, dep);
	return rc;
}

int chat_requeue_operator(struct db *db, const char *user_id, const char *reason)
{
	struct idlist *ids = malloc(sizeof *ids);
	if (!ids)
		return DB_ERROR;
	int rc =
	    collect(db, "SELECT id FROM chat_chats WHERE operator_id = ? AND state = 'active' ORDER BY assigned_at",
	            user_id, ids);
	for (size_t i = 0; rc == DB_DONE && i < ids->n; i++)
		rc = chat_requeue(db, ids->id[i], reason);
	free(ids);
	return rc;
}

int chat_dispatch_operator(struct db *db, const char *user_id)
{
	struct idlist *ids = malloc(sizeof *ids);
	if (!ids)
		return DB_ERROR;
	int rc = collect(db, "SELECT department_id FROM chat_department_operators WHERE user_id = ?", user_id, ids);
	for (size_t i = 0; rc == DB_DONE && i < ids->n; i++)
		rc = chat_dispatch(db, ids->id[i]);
	free(ids);
	return rc;
}

int chat_sweep_once(struct db *db, int64_t now)
{
	struct idlist *ids = malloc(sizeof *ids);
	if (!ids)
		return DB_ERROR;
	/* operators gone for good */
	int rc = collect(db,
	                 "SELECT DISTINCT operator_id FROM chat_chats WHERE state = 'active' AND operator_id IS "
	                 "NOT NULL",
	                 NULL, ids);
	int64_t now_ms = (int64_t)wake_now_ms();
	for (size_t i = 0; rc == DB_DONE && i < ids->n; i++)
		if (!chat_presence_here(ids->id[i], now_ms))
			rc = chat_requeue_operator(db, ids->id[i], "offline");
	/* visitors waiting for a reply longer than their department allows */
	if (rc == DB_DONE) {
		struct db_stmt *st =
		    db_prepare(db, "SELECT c.id FROM chat_chats c JOIN chat_departments d ON d.id = "
		                   "c.department_id WHERE c.state = 'active' AND d.reassign_after_s > 0 "
		                   "AND c.waiting_since > 0 AND c.waiting_since + d.reassign_after_s <= ? "
		                   "LIMIT ?");
		ids->n = 0;
		if (st) {
			db_bind_int(st, 1, now);
			db_bind_int(st, 2, MAX_IDS);
			while (db_step(st) == DB_ROW && ids->n < MAX_IDS)
				snprintf(ids->id[ids->n++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
			db_done(st);
		}
		for (size_t i = 0; rc == DB_DONE && i < ids->n; i++)
			rc = chat_requeue(db, ids->id[i], "no_reply");
	}
	/* queues an operator may take now */
	if (rc == DB_DONE)
		rc = collect(db,
		             "SELECT DISTINCT c.department_id FROM chat_chats c JOIN chat_departments d ON d.id = "
		             "c.department_id WHERE c.state = 'queued' AND d.auto_assign = 1",
		             NULL, ids);
	for (size_t i = 0; rc == DB_DONE && i < ids->n; i++)
		rc = chat_dispatch(db, ids->id[i]);
	free(ids);
	return rc == DB_DONE ? 0 : -1;
}

/* --- the sweeper thread --- */

/* The sweeper has a connection of its own (store_open_connection), not one of
 * store_db()'s, which store_close() closes at shutdown: a sweep still
 * running then keeps a valid connection until the process ends. */
static pthread_mutex_t sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cond = PTHREAD_COND_INITIALIZER;
static pthread_t sweep_thread;
static bool sweep_running, sweep_stopping;
static struct db *sweep_db;

static void sweep_pass(void)
{
	if (!sweep_db && !(sweep_db = store_open_connection()))
		return;
	if (db_begin(sweep_db, true) != DB_DONE)
		return; /* busy: the next pass tries again */
	if (chat_sweep_once(sweep_db, (int64_t)time(NULL)) == 0)
		db_commit(sweep_db);
	else
		db_rollback(sweep_db);
}

static void *sweep_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sweep_lock);
	while (!sweep_stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&sweep_cond, &sweep_lock, &until);
		if (sweep_stopping)
			break;
		pthread_mutex_unlock(&sweep_lock);
		sweep_pass();
		pthread_mutex_lock(&sweep_lock);
	}
	pthread_mutex_unlock(&sweep_lock);
	return NULL;
}

void chat_sweeper_start(const char *data_dir)
{
	pthread_mutex_lock(&sweep_lock);
	if (!sweep_running && !sweep_stopping && data_dir) {
		if (pthread_create(&sweep_thread, NULL, sweep_main, NULL) == 0)
			sweep_running = true;
		else
			log_event(LOG_WARN, "the chat sweeper did not start: dropped operators keep their chats", NULL);
	}
	pthread_mutex_unlock(&sweep_lock);
}

void chat_sweeper_stop(void)
{
	pthread_mutex_lock(&sweep_lock);
	sweep_stopping = true;
	bool join = sweep_running;
	sweep_running = false;
	pthread_cond_broadcast(&sweep_cond);
	pthread_mutex_unlock(&sweep_lock);
	if (join)
		pthread_join(sweep_thread, NULL);
	db_close(sweep_db);
	sweep_db = NULL;
}
