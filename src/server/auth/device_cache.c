/*
 * The device token cache (device_cache.h): entries in two chained hash
 * tables, one by token hash (lookups) and one by screen id (drops), behind
 * one mutex; a generation counter, bumped by every drop, tells a lookup
 * whether its store answer may still be cached.
 */
#include "device_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct entry {
	struct entry *next_hash, *next_screen;
	char hash[CODES_HASH_HEX_LEN];
	struct device_cache_entry e;
	int64_t expires_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *by_hash[BUCKETS], *by_screen[BUCKETS];
static size_t count;
static uint64_t generation;

static unsigned bucket_of(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

/* Under the lock: unlinks x from both chains and frees it. */
static void drop(struct entry *x)
{
	for (struct entry **at = &by_hash[bucket_of(x->hash)]; *at; at = &(*at)->next_hash)
		if (*at == x) {
			*at = x->next_hash;
			break;
		}
	for (struct entry **at = &by_screen[bucket_of(x->e.screen_id)]; *at; at = &(*at)->next_screen)
		if (*at == x) {
			*at = x->next_screen;
			break;
		}
	free(x);
	count--;
}

static struct entry *find(const char *token_hash)
{
	for (struct entry *x = by_hash[bucket_of(token_hash)]; x; x = x->next_hash)
		if (strcmp(x->hash, token_hash) == 0)
			return x;
	return NULL;
}

static void clear_locked(void)
{
	for (unsigned b = 0; b < BUCKETS; b++) {
		for (struct entry *x = by_hash[b], *next; x; x = next) {
			next = x->next_hash;
			free(x);
		}
		by_hash[b] = by_screen[b] = NULL;
	}
	count = 0;
	generation++;
}

bool device_cache_get(const char *token_hash, int64_t now_ms, struct device_cache_entry *out)
{
	pthread_mutex_lock(&lock);
	struct entry *x = find(token_hash);
	bool hit = x && x->expires_ms > now_ms;
	if (hit)
		*out = x->e;
	else if (x)
		drop(x); /* expired: no generation bump, nothing was revoked */
	pthread_mutex_unlock(&lock);
	return hit;
}

uint64_t device_cache_generation(void)
{
	pthread_mutex_lock(&lock);
	uint64_t g = generation;
	pthread_mutex_unlock(&lock);
	return g;
}

bool device_cache_put(const char *token_hash, const struct device_cache_entry *e, uint64_t gen, int64_t now_ms)
{
	if (strlen(token_hash) >= CODES_HASH_HEX_LEN)
		return false;
	pthread_mutex_lock(&lock);
	bool ok = gen == generation;
	if (ok) {
		struct entry *x = find(token_hash);
		if (x)
			drop(x);
		if (count >= DEVICE_CACHE_MAX)
			clear_locked(); /* a crude bound: the fleet fills it again */
		ok = (x = calloc(1, sizeof *x)) != NULL;
		if (ok) {
			snprintf(x->hash, sizeof x->hash, "%s", token_hash);
			x->e = *e;
			x->expires_ms = now_ms + (int64_t)DEVICE_CACHE_TTL_S * 1000;
			unsigned hb = bucket_of(x->hash), sb = bucket_of(x->e.screen_id);
			x->next_hash = by_hash[hb];
			by_hash[hb] = x;
			x->next_screen = by_screen[sb];
			by_screen[sb] = x;
			count++;
		}
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void device_cache_forget_screen(const char *screen_id)
{
	pthread_mutex_lock(&lock);
	generation++;
	for (struct entry *x = by_screen[bucket_of(screen_id)], *next; x; x = next) {
		next = x->next_screen;
		if (strcmp(x->e.screen_id, screen_id) == 0)
			drop(x);
	}
	pthread_mutex_unlock(&lock);
}

void device_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	clear_locked();
	pthread_mutex_unlock(&lock);
}

void device_cache_notify(const char *key)
{
	if (!*key)
		device_cache_clear();
	else if (strncmp(key, "screen:", 7) == 0)
		device_cache_forget_screen(key + 7);
}

size_t device_cache_count(void)
{
	pthread_mutex_lock(&lock);
	size_t n = count;
	pthread_mutex_unlock(&lock);
	return n;
}
