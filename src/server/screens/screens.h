/*
 * Screens (SPEC section 2): pairing by a code shown on the screen (the
 * OAuth 2.0 device authorization grant, RFC 8628), device access tokens,
 * instructions delivered by long-poll through the wake hub, heartbeats and
 * screenshots, and the screens pages of the console.
 *
 * Wake keys: "screen:<id>" wakes that screen's long-poll (new instruction,
 * revocation); "account:<id>" wakes the account's live console streams.
 */
#ifndef VITRINE_SCREENS_H
#define VITRINE_SCREENS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct http_req;
struct db;
struct sse_out;

/* How long a pairing code stays valid (setting pairing_ttl_seconds). */
extern unsigned screens_pairing_ttl_s;
#define SCREENS_POLL_INTERVAL_S 5
#define SCREENS_ONLINE_GRACE_S  75 /* a screen is online if seen this recently */
#define SCREENS_MAX_WAIT_S      30
/* the largest log archive a player may upload (collect_logs) */
#define SCREENS_LOGS_MAX_BYTES (16 << 20)
#define SCREENS_LOGS_MAX_TEXT  "16777216"

/* Bumps the account's change counter and stamps the screen with it, then
 * wakes the account's live streams after commit. */
void screens_touch(struct db *db, const char *account_id, const char *screen_id);

/* JSON view of a screen row (by id, within account); NULL if absent. */
json_t *screens_json(struct db *db, const char *account_id, const char *screen_id);

/* Calls fn with the JSON view of every live screen of the account, by name
 * (fn must not keep it: json_incref what it keeps); fn returning non-zero
 * stops the walk. 0, or -1 when the store failed. */
int screens_each(struct db *db, const char *account_id, int (*fn)(json_t *screen, void *arg), void *arg);

/* Appends "screen" events changed after *cursor for the live stream. */
int screens_stream_pull(struct db *db, const char *account_id, int64_t *cursor, struct sse_out *out);
int64_t screens_change_seq(struct db *db, const char *account_id);

/* pairing.c */
/* A new access token for a live screen (into token, shown once); only its
 * hash is stored and the old token stops working. In the caller's
 * transaction. DB_DONE, DB_CONSTRAINT when the screen is deleted, or an
 * error. */
int screens_new_token(struct db *db, const char *screen_id, char token[56]);
int screens_handle_device_pair(struct http_req *r);
int screens_handle_device_token(struct http_req *r);
int screens_handle_pairing_preview(struct http_req *r);
int screens_handle_pairing_confirm(struct http_req *r);

/* instructions.c */
/* True when id is a live screen of the caller's account; else replies 404. */
bool screens_require(struct http_req *r, const char *id);
/* Queues an instruction for a screen and wakes its long-poll after commit.
 * Returns its sequence number (id in id_out), or -1. */
int64_t screens_instruction_add(struct db *db, const char *screen_id, const char *type, const char *payload,
                                int64_t ttl_s, const char *by, char id_out[17]);
/* A checked instruction from a request body {type, payload, ttl}. */
struct screens_instruction {
	const char *type;
	json_t *payload;
	char *payload_text;
	int64_t ttl_s;
	int (*apply)(struct db *db, const char *screen_id, json_t *payload);
};
/* Checks body; false after replying 400/404 with the reason. Release what
 * it filled with screens_instruction_release. */
bool screens_instruction_parse(struct http_req *r, json_t *body, struct screens_instruction *out);
void screens_instruction_release(struct screens_instruction *ins);
/* Applies what the type changes on the screen (a power schedule is kept on
 * the screen too), then queues it, tied to batch_id when not NULL. Returns
 * the sequence number or -1; in the caller's transaction. */
int64_t screens_instruction_queue(struct db *db, const char *screen_id, const struct screens_instruction *ins,
                                  const char *by, const char *batch_id, char id_out[17]);
int screens_handle_instruction_create(struct http_req *r);
int screens_handle_instruction_get(struct http_req *r);
int screens_handle_device_poll(struct http_req *r);
int screens_handle_device_ack(struct http_req *r);

/* device.c */
int screens_handle_device_heartbeat(struct http_req *r);
int screens_handle_device_screenshot(struct http_req *r);
int screens_handle_list(struct http_req *r);
int screens_handle_get(struct http_req *r);
int screens_handle_update(struct http_req *r);
int screens_handle_delete(struct http_req *r);
int screens_handle_screenshot_get(struct http_req *r);

/* played_quota.c: per-screen limits of POST /api/v1/device/played
 * (settings played_per_minute, played_rows_per_hour). True when the batch
 * of rows may be stored; otherwise replies 429 with Retry-After. */
extern unsigned screens_played_per_minute;
extern unsigned screens_played_rows_per_hour;
bool screens_played_admit(struct http_req *r, size_t rows);

#endif
