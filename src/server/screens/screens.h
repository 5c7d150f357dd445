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

/* Whether a screen last heard from at last_seen (the store's, or the newer
 * one presence.h knows) counts as online at now; a deleted screen never
 * does. */
static inline bool screens_online_at(bool deleted, int64_t last_seen, int64_t now)
{
	return !deleted && last_seen && now - last_seen <= SCREENS_ONLINE_GRACE_S;
}
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

/* sync_groups.c: sync groups, screens of one LAN that play in step (the
 * players find each other by multicast and follow a leader's clock). A
 * group's members are numbered (the players elect the lowest number
 * alive); its secret key, drawn again whenever the members change, reaches
 * only the members, in the "sync" block of their manifests. */
#define SYNC_GROUP_MIN_SCREENS 2
#define SYNC_GROUP_MAX_SCREENS 64
#define SYNC_GROUP_NAME_MAX    100 /* characters */
#define SYNC_GROUP_KEY_BYTES   32
int sync_groups_handle_list(struct http_req *r);
int sync_groups_handle_get(struct http_req *r);
int sync_groups_handle_create(struct http_req *r);
int sync_groups_handle_update(struct http_req *r);
int sync_groups_handle_delete(struct http_req *r);
/* A screen deleted from the account leaves its group: the member row goes,
 * the key is drawn again and the other members' manifests follow; in the
 * request's transaction. 0, or -1 when the store failed. */
int sync_groups_screen_deleted(struct http_req *r, const char *screen_id);
/* A member renamed: the manifests of its group name it. 0 or -1. */
int sync_groups_screen_renamed(struct db *db, const char *account_id, const char *screen_id);
/* What a heartbeat's "sync" object says, checked by sync_report_parse. */
struct sync_report {
	char group[17]; /* a group id (codes.h: CODES_ID_LEN) */
	char state[8];
	bool has_offset, has_delay, has_peers;
	int64_t offset_us, delay_us, peers;
};
/* Checks a heartbeat's "sync" member (NULL and null: none, *present
 * false); false after replying 400 invalid_field saying what is wrong. */
bool sync_report_parse(struct http_req *r, json_t *sync, struct sync_report *out, bool *present);
/* Keeps the report on the screen's member row when it names the group the
 * screen is in (a report of a group it left is dropped). DB_DONE or an
 * error. */
int sync_report_save(struct db *db, const char *screen_id, const struct sync_report *rep, int64_t now);

/* sync_blocks.c: the manifests' "sync" blocks, read for content/manifest.c
 * in one query. Sets in out (an object) screen id -> {"group", "name",
 * "key", "member", "members", "epoch_ms"} for every member of the
 * account's groups, or (screen_id not NULL) for the members of that
 * screen's group only. 0, or -1 when the store failed. */
int screens_sync_blocks(struct db *db, const char *account_id, const char *screen_id, json_t *out);

/* share_codes.c: brokered share codes. POST /api/v1/device/share-code
 * {"address", "port"} gives the screen its code (the same while it renews
 * it); GET /api/v1/share-codes/{code} (no login, limited per address)
 * answers {"address", "port"}. */
int screens_handle_device_share_code(struct http_req *r);
int screens_handle_share_code_lookup(struct http_req *r);

/* played_quota.c: per-screen limits of POST /api/v1/device/played
 * (settings played_per_minute, played_rows_per_hour). True when the batch
 * of rows may be stored; otherwise replies 429 with Retry-After. */
extern unsigned screens_played_per_minute;
extern unsigned screens_played_rows_per_hour;
bool screens_played_admit(struct http_req *r, size_t rows);

#endif
