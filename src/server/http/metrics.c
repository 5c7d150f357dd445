/* Prometheus counters and histograms; see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "router.h"

#define STATUS_MIN  100
#define STATUS_SPAN 500 /* statuses 100..599 */
static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};
#define NBUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

struct route_metrics {
	_Atomic uint64_t by_status[STATUS_SPAN];
	_Atomic uint64_t buckets[NBUCKETS + 1]; /* +Inf last */
	_Atomic uint64_t sum_us;
};

struct metrics {
	const struct route *routes;
	size_t n_routes;
	_Atomic long open_connections;
	struct route_metrics per_route[]; /* n_routes + 1 */
};

struct metrics *metrics_create(const struct route *routes, size_t n_routes)
{
	struct metrics *m = calloc(1, sizeof *m + (n_routes + 1) * sizeof(struct route_metrics));
	if (!m)
		return NULL;
	m->routes = routes;
	m->n_routes = n_routes;
	return m;
}

void metrics_destroy(struct metrics *m)
{
	free(m);
}

void metrics_request_done(struct metrics *m, size_t route_idx, unsigned status, uint64_t duration_us)
{
	if (route_idx > m->n_routes)
		route_idx = m->n_routes;
	struct route_metrics *rm = &m->per_route[route_idx];
	if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_SPAN)
		atomic_fetch_add_explicit(&rm->by_status[status - STATUS_MIN], 1, memory_order_relaxed);
	double secs = (double)duration_us / 1e6;
	size_t b = 0;
	while (b < NBUCKETS && secs > bucket_bounds[b])
		b++;
	atomic_fetch_add_explicit(&rm->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rm->sum_us, duration_us, memory_order_relaxed);
}

void metrics_connection_delta(struct metrics *m, int delta)
{
	atomic_fetch_add_explicit(&m->open_connections, delta, memory_order_relaxed);
}

long metrics_open_connections(struct metrics *m)
{
	return atomic_load(&m->open_connections);
}

/* The rendered text: a buf capped at METRICS_MAX_BYTES (a few hundred
 * routes x statuses x buckets stay far below it); once a line does not fit
 * the render fails as a whole rather than answering a cut exposition. */
#define METRICS_MAX_BYTES (8u << 20)
struct out {
	struct buf b;
	int failed;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	if (o->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&o->b, fmt, ap) != BUF_OK)
		o->failed = 1;
	va_end(ap);
}

char *metrics_render(struct metrics *m, size_t suspended, uint64_t resumes)
{
	struct out o = {.failed = 0};
	buf_init(&o.b, METRICS_MAX_BYTES);
	outf(&o, "# HELP vitrine_http_requests_total HTTP requests by route and status.\n"
	         "# TYPE vitrine_http_requests_total counter\n");
	for (size_t r = 0; r <= m->n_routes; r++) {
		const char *method = r < m->n_routes ? m->routes[r].method : "";
		const char *pattern = r < m->n_routes ? m->routes[r].pattern : "unmatched";
		for (unsigned s = 0; s < STATUS_SPAN; s++) {
			uint64_t v = atomic_load_explicit(&m->per_route[r].by_status[s], memory_order_relaxed);
			if (v)
				outf(&o, "vitrine_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
				     method, pattern, s + STATUS_MIN, (unsigned long long)v);
		}
	}
	outf(&o, "# HELP vitrine_http_request_duration_seconds Time from request start to response queued.\n"
	         "# TYPE vitrine_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r <= m->n_routes; r++) {
		struct route_metrics *rm = &m->per_route[r];
		uint64_t total = 0;
		for (size_t b = 0; b <= NBUCKETS; b++)
			total += atomic_load_explicit(&rm->buckets[b], memory_order_relaxed);
		if (!total)
			continue;
		const char *method = r < m->n_routes ? m->routes[r].method : "";
		const char *pattern = r < m->n_routes ? m->routes[r].pattern : "unmatched";
		uint64_t cum = 0;
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += atomic_load_explicit(&rm->buckets[b], memory_order_relaxed);
			if (b < NBUCKETS)
				outf(&o,
				     "vitrine_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%"
				     "g\"} %llu\n",
				     method, pattern, bucket_bounds[b], (unsigned long long)cum);
			else
				outf(&o,
				     "vitrine_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+"
				     "Inf\"} %llu\n",
				     method, pattern, (unsigned long long)cum);
		}
		outf(&o, "vitrine_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method,
		     pattern, (double)atomic_load(&rm->sum_us) / 1e6);
		outf(&o, "vitrine_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method,
		     pattern, (unsigned long long)cum);
	}
	outf(&o,
	     "# HELP vitrine_http_open_connections TCP connections currently open.\n"
	     "# TYPE vitrine_http_open_connections gauge\n"
	     "vitrine_http_open_connections %ld\n",
	     metrics_open_connections(m));
	outf(&o,
	     "# HELP vitrine_http_suspended_requests Requests waiting in the wake hub (long-poll, SSE).\n"
	     "# TYPE vitrine_http_suspended_requests gauge\n"
	     "vitrine_http_suspended_requests %zu\n",
	     suspended);
	outf(&o,
	     "# HELP vitrine_http_resumes_total Suspended requests resumed by the wake hub.\n"
	     "# TYPE vitrine_http_resumes_total counter\n"
	     "vitrine_http_resumes_total %llu\n",
	     (unsigned long long)resumes);
	if (o.failed) {
		buf_free(&o.b);
		return NULL;
	}
	return buf_take(&o.b, NULL); /* NULL only when out of memory */
}
