/*
 * Presence: what a screen's long-poll observes, kept in memory so that
 * waiting for instructions never needs a write. A poll records "seen now,
 * from this address" here and the instructions it hands out as delivered;
 * a background step writes both to the store in one short transaction every
 * PRESENCE_FLUSH_S seconds (at once when a screen comes online or an
 * instruction is delivered, so the console hears of it within
 * milliseconds): one write transaction a second for the whole fleet,
 * however many screens poll, and the store's last_seen at most about a
 * second behind (each server of a shared database writes what its own
 * polls saw; MAX keeps the newest). When the store refuses (a full disk, a busy lock) nothing
 * is dropped: the entries stay pending and the next step retries them,
 * while the console's views read last_seen through presence_last_seen, so
 * a screen that keeps polling stays online. Only what the store has not
 * taken yet is lost by a crash (at most a few seconds of last_seen and
 * "delivered" marks; an undelivered-looking instruction is delivered again,
 * which the at-least-once protocol allows).
 */
#ifndef VITRINE_SCREENS_PRESENCE_H
#define VITRINE_SCREENS_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define PRESENCE_FLUSH_S   1
#define PRESENCE_MAX_MARKS 65536 /* "delivered" marks waiting; beyond, marks are dropped */

/* Records that screen_id (of account_id) was heard from ip at now.
 * store_last_seen is the store's last_seen for it. Returns true when the
 * screen had been offline (not seen for SCREENS_ONLINE_GRACE_S); the
 * background step then tells the console (screens_touch). */
bool presence_seen(const char *screen_id, const char *account_id, const char *ip, int64_t now, int64_t store_last_seen);

/* presence_seen for a screen heard from within SCREENS_ONLINE_GRACE_S
 * (so still online whatever the store holds): records it and returns
 * true, without the store's last_seen. false when it is not known so
 * recently: nothing is recorded, the caller reads the store and calls
 * presence_seen. */
bool presence_seen_again(const char *screen_id, const char *account_id, const char *ip, int64_t now);

/* Drops what is kept of screen_id (a deleted screen); a last_seen not
 * written yet is dropped with it. */
void presence_forget(const char *screen_id);

/* The newest last_seen (and its address) known for screen_id, when it is
 * newer than store_last_seen; otherwise false and nothing is written. */
bool presence_last_seen(const char *screen_id, int64_t store_last_seen, int64_t *last_seen, char *ip, size_t ipsz);

/* Queues "instruction id was delivered at at" (status delivered, one
 * more delivery). */
void presence_mark_delivered(const char *instruction_id, int64_t at);

/* Writes what is pending in one write transaction on db. Returns DB_DONE,
 * or the store's failure (everything then stays pending). */
int presence_flush(struct db *db);

/* Starts / stops the background step; stop writes what is left. */
int presence_start(void);
void presence_stop(void);

#endif
