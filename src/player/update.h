/*
 * Over-the-air updates of the player itself (SPEC section 7). An `update`
 * instruction names a release (its id, version, SHA-256 and size); the
 * player then
 *
 *   1. fetches the release's signature file and checks it against the keys
 *      it was given at pairing (DATA/release_keys.json): another key, a bad
 *      signature, fields that differ from the instruction, or a version not
 *      newer than the one running (unless the rollout is a rollback) are
 *      refused;
 *   2. checks the free space, then downloads the release into
 *      DATA/updates/<sha256>.part, resuming with Range after a restart or a
 *      reboot, and verifies its SHA-256 and size;
 *   3. installs it atomically: unpacks the .tar.gz (it holds
 *      bin/vitrine-player) into INSTALL/releases/<version>, then points the
 *      symbolic link INSTALL/current at it with one rename;
 *   4. restarts into INSTALL/current/bin/vitrine-player;
 *   5. the new version has a health-check window: it must reach the server
 *      and play its manifest; then it commits (the older releases but the
 *      previous one are removed), otherwise — the window passes, or it is
 *      started three times without committing — it switches INSTALL/current
 *      back and restarts into the previous version.
 *
 * What happens is kept in DATA/update.json across restarts, and each step
 * is reported to POST /api/v1/device/update-status (queued there until the
 * server took it), so the console shows a rollout's progress per screen.
 */
#ifndef VITRINE_PLAYER_UPDATE_H
#define VITRINE_PLAYER_UPDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct transport;
struct player_state;
struct sync;
struct update;

struct update_ops {
	/* the update instruction's result, for its acknowledgement (stolen) */
	void (*acknowledge)(void *arg, const char *id, bool ok, json_t *result);
};

struct update *update_create(struct transport *t, const struct player_config *cfg, struct player_state *st,
                             struct sync *sync, const struct update_ops *ops, void *arg);
void update_destroy(struct update *u);

/* Keeps the release-signing keys the server gave at pairing (or at a
 * token recovery): a JSON list of base64 Ed25519 public keys. */
void update_save_keys(struct player_state *st, json_t *keys);

/* The screen is paired: pending work (a download, a report) goes on. */
void update_paired(struct update *u);

/* Carries out an `update` instruction (true) or says it is not one (false). */
bool update_execute(struct update *u, const char *id, const char *type, json_t *payload);

/* A heartbeat was answered 200 (with the server's manifest version): the
 * health check learns that the server is reachable. */
void update_note_heartbeat(struct update *u, int64_t manifest_version);

/* Adds what the updater is doing to a heartbeat body. */
void update_heartbeat(struct update *u, json_t *body);

#endif
