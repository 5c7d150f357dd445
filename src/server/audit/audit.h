/*
 * The audit log: an append-only record of security-relevant events (who,
 * what, from where, when), per account. Rows cannot be updated, replaced
 * or deleted (triggers refuse it), except that the retention task
 * (retention.c) deletes rows older than the cutoff it records first. Admins read it page by page, live over SSE, or as
 * CSV. Writers append inside their own transaction; the append wakes the
 * account's live streams (key "account:<id>") after commit.
 */
#ifndef VITRINE_AUDIT_H
#define VITRINE_AUDIT_H

#include <stdint.h>

struct db;
struct http_req;

/* Appends an entry. actor_id may be NULL (anonymous, system). Returns 0 or
 * -1. detail is free text (never a secret). */
int audit_append(struct db *db, const char *account_id, const char *actor_id, const char *actor, const char *ip,
                 const char *action, const char *target, const char *detail);

/* Appends an entry for the request's caller. */
int audit_request(struct http_req *r, const char *action, const char *target, const char *detail);

/* Appends in a transaction of its own: for events that must be kept even
 * when the request's transaction is rolled back (denials). */
void audit_request_detached(struct http_req *r, const char *action, const char *target, const char *detail);

int audit_handle_list(struct http_req *r);
int audit_handle_csv(struct http_req *r);

/* For the live stream (live/): appends "audit" events after *cursor. */
struct sse_out;
int audit_stream_pull(struct db *db, const char *account_id, int64_t *cursor, struct sse_out *out);
int64_t audit_last_seq(struct db *db, const char *account_id);

#endif
