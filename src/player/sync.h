/*
 * Content sync of the player: keeps the newest complete manifest and its
 * objects in the content cache (cache.h) and tells the kiosk page when it
 * changes. A client of the transport; it tells its owner which
 * manifest_changed instructions to acknowledge through sync_ops, and never
 * calls the agent.
 */
#ifndef VITRINE_PLAYER_SYNC_H
#define VITRINE_PLAYER_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct sync;
struct transport;
struct kiosk;
struct player_config;

struct sync_ops {
	/* Acknowledge instruction `id` (result: owned by the callee). */
	void (*acknowledge)(void *arg, const char *id, bool ok, json_t *result);
	/* The manifest now played (NULL: none), e.g. for its sync group. */
	void (*manifest_shown)(void *arg, const json_t *manifest);
};

struct sync *sync_create(struct transport *t, struct kiosk *k, const struct player_config *cfg, const char *data_dir,
                         const struct sync_ops *ops, void *ops_arg);
void sync_destroy(struct sync *s);
/* A manifest_changed instruction (id acknowledged once applied), or NULL
 * for "check now" (start-up, paired). */
void sync_request(struct sync *s, const char *instruction_id);
/* The heartbeat learnt the server's manifest version. */
void sync_note_version(struct sync *s, int64_t server_version);
/* The version of the active manifest (complete and shown), 0 if none. */
int64_t sync_active_version(struct sync *s);
/* The name of the default channel of the active manifest, or NULL. */
const char *sync_now_playing(struct sync *s);
int64_t sync_cache_bytes(struct sync *s);
/* Why the newest content cannot be applied (a local cause: the cache is
 * full, cannot be written), or NULL. */
const char *sync_problem(struct sync *s);

#endif
