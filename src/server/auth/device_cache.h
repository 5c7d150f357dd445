/*
 * The device token cache: what a screen's token stands for (screen id and
 * account), kept in memory by the token's hash so that a screen's requests
 * (every long-poll runs the authentication hook when it starts and again
 * each time it wakes) do not look it up in the store each time.
 *
 * Why a cached answer stays right when a token stops being valid (the
 * screen deleted, a new token given by pairing or recovery):
 *
 * - Every such change queues the wake-up key "screen:<id>" (db_notify) in
 *   its transaction, and the store's notify hook hands that key to
 *   device_cache_notify before it wakes the waiters: after the commit on
 *   this server (before the revoking request is answered), and on every
 *   other server sharing the PostgreSQL database when its listener hears
 *   the NOTIFY (postgres_listen.c). The entries of that screen are dropped,
 *   so its waiting long-poll, woken by the same key, and its next request
 *   look the token up in the store again and get 401.
 * - A lookup that read the store before the revocation committed must not
 *   put its (now stale) answer into the cache after the drop: a lookup
 *   takes the cache's generation before it reads the store
 *   (device_cache_generation) and device_cache_put refuses the answer if
 *   any drop happened since.
 * - A missed key (the PostgreSQL listener lost its connection) comes as
 *   the empty key after the reconnect, and every 2 s while the listener
 *   cannot connect: the empty key drops everything. So a
 *   stale answer lives at most as long as the listener takes to notice a
 *   lost connection and reconnect, exactly as long as a waiting long-poll
 *   would miss its wake-up without the cache.
 * - Entries also expire after DEVICE_CACHE_TTL_S, a bound for whatever
 *   the points above did not think of; it is longer than a long-poll
 *   period (30 s) so an idle screen's polls all hit the cache.
 *
 * A lookup inside an open transaction (whose snapshot may be older than
 * the generation it took) is not cached: the caller checks db_in_tx.
 */
#ifndef VITRINE_AUTH_DEVICE_CACHE_H
#define VITRINE_AUTH_DEVICE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "../../common/codes.h"

#define DEVICE_CACHE_TTL_S 300
#define DEVICE_CACHE_MAX   200000 /* entries; beyond, the cache starts over */

struct device_cache_entry {
	char screen_id[CODES_ID_LEN + 1];
	char account_id[CODES_ID_LEN + 1];
};

/* true and *out filled when token_hash (hex) is cached and not expired at
 * now_ms (monotonic). */
bool device_cache_get(const char *token_hash, int64_t now_ms, struct device_cache_entry *out);

/* The generation to take before reading the store for a lookup. */
uint64_t device_cache_generation(void);

/* Caches token_hash -> e, unless a drop happened since generation (then
 * false and nothing is kept). */
bool device_cache_put(const char *token_hash, const struct device_cache_entry *e, uint64_t generation, int64_t now_ms);

/* Drops the entries of screen_id / every entry. */
void device_cache_forget_screen(const char *screen_id);
void device_cache_clear(void);

/* The store's notify hook calls this with each key: "screen:<id>" drops
 * that screen's entries, the empty key everything, other keys nothing. */
void device_cache_notify(const char *key);

/* Entries held (tests). */
size_t device_cache_count(void);

#endif
