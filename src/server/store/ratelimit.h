/*
 * Fixed-window rate counters kept in the store, so limits hold across
 * threads, restarts and (later) several servers: "at most N events of kind
 * K for subject S per window W seconds".
 */
#ifndef VITRINE_RATELIMIT_H
#define VITRINE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct db;

/* Events counted so far in the current window (0 if the window expired). */
int64_t ratelimit_count(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now);

/* Counts one event; returns the new count in the window, or -1 on error. */
int64_t ratelimit_hit(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now);

/* Counts n events at once (rows of a batch); the new count, or -1. */
int64_t ratelimit_add(struct db *db, const char *kind, const char *subject, int64_t n, int64_t window_s, int64_t now);

/* Seconds until the current window ends (at least 1): for Retry-After. */
int64_t ratelimit_retry_after(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now);

#endif
