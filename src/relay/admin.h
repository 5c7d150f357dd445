/*
 * vitrine-relay's admin port (--admin-listen): GET /healthz (200 "ok") and
 * GET /metrics (Prometheus text of relay_stats), one request per
 * connection, answered by a minimal hand-written HTTP/1.1 responder on the
 * relay's own libuv loop. Anything else gets 404 or 400.
 */
#ifndef VITRINE_RELAY_ADMIN_H
#define VITRINE_RELAY_ADMIN_H

#include <stddef.h>
#include <uv.h>

#include "relay.h"

struct admin;

struct admin *admin_start(uv_loop_t *loop, const char *host, int port, const struct relay *relay, char *err,
                          size_t errsz);
void admin_stop(struct admin *a);
void admin_free(struct admin *a);

/* The /metrics text of st into out; returns its length (cut at outsz-1). */
size_t admin_render_metrics(const struct relay_stats *st, char *out, size_t outsz);

#endif
