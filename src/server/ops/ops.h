/* Operations endpoints: /healthz and Prometheus /metrics. */
#ifndef VITRINE_OPS_H
#define VITRINE_OPS_H

#include <stddef.h>

#include "../../common/cidr.h"

struct http_req;

#define OPS_MAX_METRICS_ALLOW 16
/* Who may scrape /metrics (default: loopback only). */
extern struct cidr ops_metrics_allow[OPS_MAX_METRICS_ALLOW];
extern size_t ops_metrics_allow_count;

int ops_handle_healthz(struct http_req *r);
int ops_handle_metrics(struct http_req *r);
/* GET /api/v1/firewall: every host, port and protocol that screens and
 * browsers need, generated from the running configuration. */
int ops_handle_firewall(struct http_req *r);

#endif
