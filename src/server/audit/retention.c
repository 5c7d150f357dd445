/*
 * The retention task; see retention.h. Each table is pruned in batches of
 * BATCH rows, one short write transaction each, so the pass never holds
 * the write lock for long. The audit log stays append-only for everything
 * younger than the cutoff: the prune first moves the recorded cutoff
 * forward (table audit_retention; a trigger keeps it at least a day in
 * the past and only moving forward), and the delete trigger lets through
 * only rows older than it.
 */
#include "retention.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "../../common/log.h"
#include "../../common/periodic.h"
#include "../store/db.h"

#define BATCH                5000
#define CHAT_BATCH           200 /* chats per transaction: each takes its messages and events along */
#define DAY_S                86400
#define OPERATOR_EVENTS_DAYS 2
#define MAIL_OUTBOX_DAYS     30 /* sent or failed mails kept this long */

struct retention_settings retention_settings = {
    .audit_days = 365,
    .instructions_days = 30,
    .played_days = 90,
    .chat_days = 365,
    .check_s = 3600,
};

/* A step removes one batch of rows older than cutoff; it returns how many,
 * or -1. */
typedef int64_t (*prune_step)(struct db *db, int64_t cutoff, int64_t now);

/* Runs one step in its own write transaction. */
static int64_t batch(struct db *db, prune_step step, int64_t cutoff, int64_t now)
{
	if (db_begin(db, true) != DB_DONE)
		return -1;
	int64_t n = step(db, cutoff, now);
	if (n < 0) {
		db_rollback(db);
		return -1;
	}
	if (db_commit(db) != DB_DONE)
		return -1;
	return n;
}

static int64_t deleted(struct db *db, int rc)
{
	return rc == DB_DONE ? db_changes(db) : -1;
}

static int64_t audit_step(struct db *db, int64_t cutoff, int64_t now)
{
	(void)now;
	if (db_exec(db, "UPDATE audit_retention SET cutoff = ? WHERE id = 1 AND cutoff < ?", "ii", cutoff, cutoff) !=
	    DB_DONE)
		return -1;
	return deleted(db, db_exec(db,
	                           "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? ORDER BY seq "
	                           "LIMIT ?)",
	                           "ii", cutoff, (int64_t)BATCH));
}

static int64_t instructions_step(struct db *db, int64_t cutoff, int64_t now)
{
	/* a pending instruction is kept until it expires, however old */
	return deleted(db, db_exec(db,
	                           "DELETE FROM instructions WHERE id IN (SELECT id FROM instructions WHERE "
	                           "created_at < ? AND (status IN ('ok','failed') OR expires_at <= ?) LIMIT ?)",
	                           "iii", cutoff, now, (int64_t)BATCH));
}

/* Folds the oldest batch of rows before cutoff into per-day counts, then
 * deletes them. */
static int64_t played_step(struct db *db, int64_t cutoff, int64_t now)
{
	(void)now;
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT MAX(seq) FROM (SELECT seq FROM proof_of_play WHERE started_at < ? "
	                              "ORDER BY seq LIMIT ?) AS batch",
	                              "ii", cutoff, (int64_t)BATCH);
	if (!st)
		return rc == DB_DONE ? 0 : -1;
	bool none = db_col_is_null(st, 0);
	int64_t last = db_col_int(st, 0);
	db_done(st);
	if (none)
		return 0;
	rc = db_exec(db,
	             "INSERT INTO proof_of_play_daily(account_id, screen_id, day, channel_id, zone, item, sha256, "
	             "plays, duration_ms) SELECT account_id, screen_id, started_at - started_at % 86400, channel_id, "
	             "zone, item, sha256, COUNT(*), SUM(duration_ms) FROM proof_of_play WHERE started_at < ? AND "
	             "seq <= ? GROUP BY 1, 2, 3, 4, 5, 6, 7 "
	             "ON CONFLICT(account_id, screen_id, day, channel_id, zone, item, sha256) DO UPDATE SET "
	             "plays = proof_of_play_daily.plays + excluded.plays, "
	             "duration_ms = proof_of_play_daily.duration_ms + excluded.duration_ms",
	             "ii", cutoff, last);
	if (rc != DB_DONE)
		return -1;
	return deleted(db,
	               db_exec(db, "DELETE FROM proof_of_play WHERE started_at < ? AND seq <= ?", "ii", cutoff, last));
}

/* Ended chats (their events go by ON DELETE CASCADE), then the visitors
 * not seen since the cutoff who have no chat left, then old expired bans. */
static int64_t chat_step(struct db *db, int64_t cutoff, int64_t now)
{
	(void)now;
	int64_t total =
	    deleted(db, db_exec(db,
	                        "DELETE FROM chat_chats WHERE id IN (SELECT id FROM chat_chats WHERE state = "
	                        "'ended' AND ended_at < ? LIMIT ?)",
	                        "ii", cutoff, (int64_t)CHAT_BATCH));
	if (total != 0)
		return total;
	total = deleted(db, db_exec(db,
	                            "DELETE FROM chat_visitors WHERE id IN (SELECT v.id FROM chat_visitors v WHERE "
	                            "v.last_seen < ? AND NOT EXISTS (SELECT 1 FROM chat_chats c WHERE c.visitor_id "
	                            "= v.id) LIMIT ?)",
	                            "ii", cutoff, (int64_t)BATCH));
	if (total != 0)
		return total;
	total = deleted(db, db_exec(db,
	                            "DELETE FROM chat_offline_messages WHERE id IN (SELECT id FROM "
	                            "chat_offline_messages WHERE created_at < ? LIMIT ?)",
	                            "ii", cutoff, (int64_t)BATCH));
	if (total != 0)
		return total;
	return deleted(db, db_exec(db,
	                           "DELETE FROM chat_bans WHERE id IN (SELECT id FROM chat_bans WHERE expires_at <> 0 "
	                           "AND expires_at < ? LIMIT ?)",
	                           "ii", cutoff, (int64_t)BATCH));
}

/* mails sent or given up on: their text is a copy of what the chat keeps */
static int64_t mail_step(struct db *db, int64_t cutoff, int64_t now)
{
	(void)now;
	return deleted(db, db_exec(db,
	                           "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE (sent_at > 0 "
	                           "AND sent_at < ?1) OR (failed_at > 0 AND failed_at < ?1) LIMIT ?2)",
	                           "ii", cutoff, (int64_t)BATCH));
}

static int64_t operator_events_step(struct db *db, int64_t cutoff, int64_t now)
{
	(void)now;
	return deleted(db, db_exec(db,
	                           "DELETE FROM chat_operator_events WHERE (user_id, seq) IN (SELECT user_id, seq "
	                           "FROM chat_operator_events WHERE at < ? LIMIT ?)",
	                           "ii", cutoff, (int64_t)BATCH));
}

static int prune(struct db *db, const char *what, prune_step step, unsigned days, int64_t now)
{
	if (days == 0)
		return 0;
	int64_t cutoff = now - (int64_t)days * DAY_S, total = 0, n;
	while ((n = batch(db, step, cutoff, now)) > 0)
		total += n;
	if (total > 0) {
		char count[24];
		snprintf(count, sizeof count, "%" PRId64, total);
		log_event(LOG_INFO, "retention: old rows removed", "table", what, "rows", count, NULL);
	}
	if (n < 0) {
		log_event(LOG_WARN, "retention: pruning failed; will retry", "table", what, NULL);
		return -1;
	}
	return 0;
}

int retention_run_once(struct db *db, int64_t now)
{
	int rc = 0;
	rc |= prune(db, "audit", audit_step, retention_settings.audit_days, now);
	rc |= prune(db, "instructions", instructions_step, retention_settings.instructions_days, now);
	rc |= prune(db, "proof_of_play", played_step, retention_settings.played_days, now);
	rc |= prune(db, "chat", chat_step, retention_settings.chat_days, now);
	rc |= prune(db, "chat_operator_events", operator_events_step, OPERATOR_EVENTS_DAYS, now);
	rc |= prune(db, "mail_outbox", mail_step, MAIL_OUTBOX_DAYS, now);
	return rc ? -1 : 0;
}

static void retention_pass(void *arg)
{
	(void)arg;
	struct db *db = store_db();
	if (db)
		retention_run_once(db, (int64_t)time(NULL));
}

static struct periodic task = PERIODIC_INIT(retention_pass, NULL, 3600);

int retention_start(void)
{
	task.period_s = retention_settings.check_s;
	return periodic_start(&task);
}

void retention_stop(void)
{
	periodic_stop(&task);
}
