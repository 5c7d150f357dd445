/*
 * The one answer to a request whose store call failed, chosen by cause
 * (db.h's result codes): a full disk is 507 insufficient_storage (retrying
 * will not help until space is freed on the server), a lock not obtained in
 * time is 503 store_unavailable with Retry-After (retry shortly), anything
 * else 503 store_unavailable (see the server log). Handlers call this
 * instead of writing their own 503, so a full disk never reads as "the
 * database is busy". It lives next to the store, not in http/, which knows
 * nothing of the store.
 */
#ifndef VITRINE_STORE_REPLY_H
#define VITRINE_STORE_REPLY_H

struct http_req;

#define STORE_RETRY_AFTER_S "1" /* Retry-After of a busy store */

/* Replies for a failed store call and returns 0. rc is the call's DB_*
 * result; when it says no more than DB_ERROR (or the caller kept only
 * "it failed", -1), this thread's connection's latest failure
 * (db_last_error) decides. what says what was not done ("the user could
 * not be saved"), or NULL. */
int store_reply_error(struct http_req *r, int rc, const char *what);

/* The same for a transaction the caller did not run itself (the HTTP
 * core's route transaction, through its hooks): this thread's latest
 * failure decides. */
int store_reply_last_error(struct http_req *r);

#endif
