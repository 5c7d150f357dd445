/*
 * Over-the-air updates (SPEC section 7): signed releases, the keys an
 * account trusts to sign them, and rollouts of a release to screens in
 * phases (rollouts.c), and the hawkBit DDI device API that lets third-party
 * update clients (SWUpdate's suricatta) take part in rollouts (ddi.c).
 *
 * A release is a file (player software or a package) with a detached
 * signature file (src/common/release.h) that binds its name, version,
 * SHA-256 and size under an Ed25519 key. The keys trusted are the server's
 * own release key (DATA/keys/release-signing.secret, always trusted, listed
 * as "builtin"; `vitrine-server release-key` prints it and `vitrine-server
 * release sign` signs with it) and the keys an admin adds to the account.
 *
 * An upload (POST /api/v1/releases) carries the signature file in its
 * X-Release-Signature header: it is parsed and verified, and the size the
 * headers announce checked against the signed one, before any byte of the
 * body is taken. The body then streams to a temporary file under
 * DATA/releases/ while hashed (content/objects.h), and only a file whose
 * SHA-256 is the signed one is moved to DATA/releases/<sha256> and
 * recorded. Screens download releases of their account (Range, ETag) and
 * their signature files, and are given the account's trusted keys when
 * they pair.
 */
#ifndef VITRINE_UPDATES_H
#define VITRINE_UPDATES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/release.h"
#include "../http/router.h"

struct db;
struct http_req;

#define UPDATES_KEY_FILE       "release-signing.secret" /* in DATA/keys/, mode 0600 */
#define UPDATES_BUILTIN_KEY_ID "server"                 /* the id the server's own key is listed under */
#define UPDATES_MAX_KEYS       100                      /* trusted keys an account may add */
/* The largest release any setting allows (the route's body limit); the
 * setting release_max_bytes (default 2 GiB) is the one in force. */
#define UPDATES_RELEASE_LIMIT ((size_t)64 << 30)

/* The setting release_max_bytes: larger releases are refused with 413. */
extern uint64_t updates_release_max_bytes;

/* --- release_keys.c --- */

/* Path of the server's release key file in data_dir. Returns 0 or -1 (too
 * long). */
int updates_key_path(const char *data_dir, char *out, size_t outsz);
/* Loads the public half of the server's release key, creating the key
 * first when it is missing (a new data folder, or one made before
 * releases). The secret half is not kept: the running server never signs.
 * Returns 0, or -1 with a sentence in err. */
int updates_key_load(const char *data_dir, char *err, size_t errsz);
/* The server's release public key in standard base64 (updates_key_load
 * first). */
void updates_key_public_b64(char out[RELEASE_KEY_B64_LEN]);

/* The public keys (base64 strings) the account trusts, the server's first:
 * a new JSON array, what screens are given at pairing. */
json_t *updates_trusted_keys_json(struct db *db, const char *account_id);

int updates_handle_keys_list(struct http_req *r);
int updates_handle_key_create(struct http_req *r);
int updates_handle_key_delete(struct http_req *r);

/* --- releases.c --- */

extern const struct route_stream updates_release_upload;
int updates_handle_release_upload(struct http_req *r);
int updates_handle_releases_list(struct http_req *r);
int updates_handle_release_get(struct http_req *r);
int updates_handle_release_delete(struct http_req *r);
int updates_handle_device_release(struct http_req *r);
int updates_handle_device_release_signature(struct http_req *r);
/* For ddi.c: replies with the file of the account's release id (Range,
 * ETag), or 404/403 when there is none or its key is no longer trusted. */
int updates_serve_release(struct http_req *r, const char *id);
/* For ddi.c: the SHA-1 and MD5 (hex) of the release file sha256, computed
 * once and kept on its rows when keep (the caller's transaction writes).
 * Returns 0, or -1 (file unreadable). */
int updates_release_digests(struct db *db, const char *data_dir, const char *sha256, bool keep, char sha1[41],
                            char md5[33]);

/* Reclaims the disk space of releases: upload temporary files left in
 * DATA/releases/ by a crash (at_start: all of them) and files no release
 * row links. Run once at start, before the server listens. */
void updates_releases_sweep(const char *data_dir, bool at_start);

/* --- rollouts.c --- */

/* Moves a rollout on (sends the next phase, pauses it above its failure
 * threshold, ends it), in the caller's transaction. DB_DONE or an error. */
int rollout_advance(struct db *db, const char *id);
/* Replies with the rollout (phases' progress, screens) and status. */
int updates_reply_rollout(struct http_req *r, const char *id, unsigned status);
int updates_handle_rollout_create(struct http_req *r);
int updates_handle_rollouts_list(struct http_req *r);
int updates_handle_rollout_get(struct http_req *r);
int updates_handle_rollout_command(struct http_req *r);
int updates_handle_device_update_status(struct http_req *r);
/* A screen's report of a step of a rollout's update (one of the steps the
 * players report: accepted ... committed, failed, rolled_back), then
 * rollout_advance; in the caller's transaction. What update-status and
 * the DDI feedback share. DB_DONE, ROLLOUT_SCREEN_ABSENT (no such step, or
 * the screen is not in that rollout) or an error. */
#define ROLLOUT_SCREEN_ABSENT 101
int rollout_screen_report(struct db *db, const char *rollout_id, const char *screen_id, const char *step,
                          const char *detail);
/* --- ddi.c (hawkBit DDI) --- */
/* The setting ddi_poll_seconds: the clients' polling sleep (default 60). */
extern unsigned updates_ddi_poll_s;
int ddi_handle_poll(struct http_req *r);
int ddi_handle_deployment(struct http_req *r);
int ddi_handle_feedback(struct http_req *r);
int ddi_handle_artifact(struct http_req *r);

/* The background pass that sends what waited for a maintenance window. */
int updates_rollouts_start(void);
void updates_rollouts_stop(void);

#endif
