/*
 * /healthz answers 200 while the server can reach its store (503 when it
 * cannot), for load balancers and systemd. /metrics renders the HTTP
 * server's counters in Prometheus text format; it is limited to the
 * metrics_allow networks since route counts are operational detail.
 */
#include "ops.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../content/content.h"

#include "../http/server.h"
#include "../store/db.h"

struct cidr ops_metrics_allow[OPS_MAX_METRICS_ALLOW];
size_t ops_metrics_allow_count;

void ops_handle_healthz(struct http_req *r)
{
	struct db *db = store_db();
	int rc = DB_ERROR;
	struct db_stmt *st = db ? db_query(db, &rc, "SELECT 1", NULL) : NULL;
	db_done(st);
	if (!st) {
		http_reply_error(r, 503, "store_unavailable", "the database cannot be reached");
		return;
	}
	static const char ok[] = "{\"status\":\"ok\"}";
	http_reply_static(r, 200, "application/json", ok, sizeof ok - 1);
}

void ops_handle_metrics(struct http_req *r)
{
	bool allowed = false;
	for (size_t i = 0; i < ops_metrics_allow_count; i++)
		if (cidr_contains(&ops_metrics_allow[i], &r->ip_addr))
			allowed = true;
	if (!allowed) {
		http_reply_error(r, 403, "forbidden", "metrics are not served to %s (see metrics_allow)", r->ip);
		return;
	}
	char *http = server_render_metrics(r->srv), *text = NULL;
	if (!http || asprintf(&text,
			      "%s# HELP vitrine_device_object_bytes_total Object bytes queued to screens.\n"
			      "# TYPE vitrine_device_object_bytes_total counter\n"
			      "vitrine_device_object_bytes_total %llu\n"
			      "# HELP vitrine_device_object_responses_total Object responses (200 or 206) to screens.\n"
			      "# TYPE vitrine_device_object_responses_total counter\n"
			      "vitrine_device_object_responses_total %llu\n",
			      http, (unsigned long long)atomic_load(&content_object_bytes_total),
			      (unsigned long long)atomic_load(&content_object_responses_total)) < 0) {
		free(http);
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	free(http);
	http_reply_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
}
