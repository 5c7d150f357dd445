/*
 * Prometheus metrics of the HTTP server: requests by route and status, a
 * latency histogram per route, open connections and suspended requests.
 * Counters are lock-free atomics indexed by route; rendering takes a
 * snapshot. Route index n_routes stands for "no route matched".
 */
#ifndef VITRINE_METRICS_H
#define VITRINE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct route;
struct metrics;

struct metrics *metrics_create(const struct route *routes, size_t n_routes);
void metrics_destroy(struct metrics *m);

void metrics_request_done(struct metrics *m, size_t route_idx, unsigned status, uint64_t duration_us);
void metrics_connection_delta(struct metrics *m, int delta);
long metrics_open_connections(struct metrics *m);

/* Renders the text exposition format; extra gauges are appended by the
 * caller. Returns a malloc'd string the caller frees, or NULL. */
char *metrics_render(struct metrics *m, size_t suspended, uint64_t resumes);

#endif
