/*
 * Manifest compilation, pure: given the channels a screen may play, its
 * default channel, its schedule rows and its "play now" override (all read
 * from the store by manifest.c), assembles the manifest the screen gets:
 * the channels, the list of objects to download (each SHA-256 once, with
 * its size, type and URL) and, in every rss item, the cached feed (asked
 * of a callback: the server's is feeds_manifest_json). No store, no
 * clock, so it is unit-tested (tests/unit/test_manifest.c) and fuzzed
 * (fuzz/fuzz_manifest.c) alone.
 */
#ifndef VITRINE_MANIFEST_COMPILE_H
#define VITRINE_MANIFEST_COMPILE_H

#include <jansson.h>

/* The feed of an rss item for the manifest (a new reference), e.g.
 * {"items": [...], "fetched_at": N}. */
typedef json_t *(*manifest_feed_fn)(void *ctx, const char *url, json_int_t max_items);

/* {"channel", "channels", "default_channel"?, "schedule", "play_now",
 * "objects"} (no "version": that is the store's). Takes the references of
 * channels (channel id -> body), schedule (a list) and play_now (an object
 * or null); default_id "" or an id missing from channels means no default
 * channel. feed may be NULL (rss items then get no "feed"). */
json_t *manifest_assemble(json_t *channels, const char *default_id, json_t *schedule, json_t *play_now,
                          manifest_feed_fn feed, void *feed_ctx);

#endif
