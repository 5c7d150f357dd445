/*
 * Signage content (SPEC section 3): the media library, channels (a canvas
 * of zones, each with a playlist), editors' grants, schedules, the
 * manifests compiled per screen, the objects screens download, and proof
 * of play.
 *
 * Objects are content-addressed: data/media/ab/<sha256>, stored once
 * whatever the number of accounts or uploads; an account "has" an object
 * when a media row links it. An upload is streamed to a temporary file
 * while it is hashed, and only a body whose SHA-256 matches the URL is
 * moved into place (rename is atomic), after its fsync and before its row
 * is written (the write lock is never held across the fsync). An upload
 * that would not fit on the disk is refused with 507 from its headers.
 */
#ifndef VITRINE_CONTENT_H
#define VITRINE_CONTENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../http/router.h"

struct http_req;
struct db;

#define CONTENT_MAX_UPLOAD ((size_t)4 << 30) /* 4 GiB per object */

/* media.c */
/* Object bytes queued to screens and object responses, for /metrics. */
extern _Atomic uint64_t content_object_bytes_total, content_object_responses_total;
extern const struct route_stream content_media_upload;
int content_object_path(const char *data_dir, const char *sha256, char *out, size_t outsz);
json_t *content_media_json(struct db *db, const char *account_id, const char *sha256);
int content_handle_media_put(struct http_req *r);
int content_handle_media_get(struct http_req *r);
int content_handle_media_list(struct http_req *r);
int content_handle_media_update(struct http_req *r);
int content_handle_media_delete(struct http_req *r);
int content_handle_media_content(struct http_req *r);
/* The PNG thumbnail (at most 320x320) made when an image is uploaded:
 * data/media/thumbs/<sha256>.png. */
int content_handle_media_thumbnail(struct http_req *r);
int content_handle_device_object(struct http_req *r);
/* Reclaims disk space: upload temporary files left by a crash (at_start:
 * all of them, no upload being live; later those untouched for 15
 * minutes) and objects no media row links. The sweeper runs it once at
 * start (before the server listens), then every every_s seconds in a
 * thread of its own; stop it before store_close. */
void content_media_sweep(const char *data_dir, bool at_start);
int content_media_sweeper_start(const char *data_dir, unsigned every_s);
void content_media_sweeper_stop(void);

/* channels.c */
int content_handle_channels_list(struct http_req *r);
int content_handle_channel_create(struct http_req *r);
int content_handle_channel_get(struct http_req *r);
int content_handle_channel_replace(struct http_req *r);
int content_handle_channel_delete(struct http_req *r);
int content_handle_grants_get(struct http_req *r);
int content_handle_grants_put(struct http_req *r);
int content_handle_screen_channel(struct http_req *r);

/* manifest.c */
/* Recompiles the manifest of every screen of the account that may play
 * channel_id (NULL: every screen) and tells those whose manifest changed
 * (a manifest_changed instruction wakes their long-poll). */
int content_refresh_manifests(struct db *db, const char *account_id, const char *channel_id);
int content_refresh_screen(struct db *db, const char *account_id, const char *screen_id);
/* The same for the screens listed (a JSON list of ids; those not of the
 * account or deleted are skipped), in a fixed number of queries however
 * many they are: what a sync group's change calls for its old and new
 * members. */
int content_refresh_screen_list(struct db *db, const char *account_id, json_t *screen_ids);
int content_handle_device_manifest(struct http_req *r);
int content_handle_schedules_list(struct http_req *r);
int content_handle_schedule_create(struct http_req *r);
int content_handle_schedule_delete(struct http_req *r);
int content_handle_play_now(struct http_req *r);
int content_handle_device_played(struct http_req *r);
int content_handle_proof_of_play(struct http_req *r);

/* feeds.c (the thread; fetching is feed_fetch.c, parsing feed_parse.c) */
/* Told, inside the feed's write transaction, that a feed used by
 * account_id changed (channel_id: NULL); content_refresh_manifests fits. */
typedef int (*feeds_changed_fn)(struct db *db, const char *account_id, const char *channel_id);
/* Starts the thread that fetches the channels' RSS/Atom feeds every
 * refresh_s seconds (allow_private: addresses that are not global unicast
 * may be fetched) and calls changed when a feed's items or error change;
 * feeds_stop() ends it (before store_close). feeds_kick() asks it to fetch
 * the feeds never fetched yet (a channel with a new feed was saved). */
int feeds_start(unsigned refresh_s, bool allow_private, feeds_changed_fn changed);
void feeds_stop(void);
void feeds_kick(void);
/* {"items": [first max_items], "fetched_at", "error"?} of a feed URL. */
json_t *feeds_manifest_json(struct db *db, const char *url, json_int_t max_items);

#endif
