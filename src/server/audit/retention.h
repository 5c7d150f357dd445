/*
 * Retention: what the store forgets, and when. A background task prunes,
 * every retention_check_seconds, the audit log (audit_retention_days),
 * finished or expired instructions (instructions_retention_days), and
 * folds proof-of-play rows older than played_retention_days into per-day
 * counts (table proof_of_play_daily), and forgets live chats ended more
 * than chat_retention_days ago (with their messages and events), visitors
 * not seen for as long who have no chat left, and bans expired as long
 * ago. A setting of 0 days keeps forever. Operators' stream events (only
 * there to resume a stream; the chat's own history is in chat_events) are
 * kept two days.
 */
#ifndef VITRINE_RETENTION_H
#define VITRINE_RETENTION_H

#include <stdint.h>

struct db;

struct retention_settings {
	unsigned audit_days;
	unsigned instructions_days;
	unsigned played_days;
	unsigned chat_days;
	unsigned check_s; /* how often the task runs */
};
extern struct retention_settings retention_settings;

/* One pass at time now; returns 0 or -1 (logged). For the task and tests. */
int retention_run_once(struct db *db, int64_t now);

/* Starts / stops the background task (stop waits for it). */
int retention_start(void);
void retention_stop(void);

#endif
