/*
 * What the files of http/ share and nobody outside http/ sees: the server
 * object, the work pool, and the steps one file hands to another (the
 * pipeline queues replies made by reply.c, defers to workpool.c, opens
 * transactions through the hooks the server was given).
 */
#ifndef VITRINE_HTTP_INTERNAL_H
#define VITRINE_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "server.h"

#define WORK_QUEUE_CAP 256

struct work_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct http_req *queue[WORK_QUEUE_CAP];
	size_t head, len;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
};

struct server {
	struct server_config cfg;
	const struct route *routes;
	size_t n_routes;
	struct server_hooks hooks;
	struct MHD_Daemon *daemon;
	struct MHD_Daemon *redirect;
	struct wake_hub *hub;
	struct metrics *metrics;
	struct work_pool pool;
	struct deadline_guard *guard;
	_Atomic long in_flight;
	_Atomic size_t body_bytes; /* buffered request bodies, against cfg.body_memory_limit */
	_Atomic bool stopping;     /* SIGTERM: waiting and new requests get 503 + Connection: close */
	char redirect_host[256];   /* where the HTTPS redirect points without public_url ("" : nowhere) */
	uint16_t port, redirect_port;
	int listen_fd, redirect_fd; /* bound by server_bind, until MHD takes them; -1: none */
};

/* Monotonic clock in microseconds. */
uint64_t http_now_us(void);

/* reply.c: replaces r's pending reply (NULL resp means out of memory). */
void reply_set(struct http_req *r, unsigned status, struct MHD_Response *resp, const char *content_type);
/* Queues r's reply with the common headers (a 500 if there is none). */
enum MHD_Result reply_queue(struct http_req *r);
/* A 500 "internal" when a handler returned without replying. */
void reply_missing(struct http_req *r);

/* workpool.c */
int work_pool_start(struct server *srv);
/* Suspends r and queues it for r->deferred; false when the queue is full. */
bool work_pool_submit(struct server *srv, struct http_req *r);
/* Runs what is queued, then joins the threads. */
void work_pool_stop(struct server *srv);

/* deadline.c: a thread that drops connections whose request line and
 * headers, or body, did not arrive in time (slowloris, trickled bodies);
 * MHD's own timeout only counts idleness. */
struct deadline_guard *deadline_guard_start(void);
void deadline_guard_stop(struct deadline_guard *g);
/* MHD's connection notifications: *socket_ctx holds the connection's entry. */
void deadline_conn_opened(struct deadline_guard *g, struct MHD_Connection *conn, void **socket_ctx);
void deadline_conn_closed(struct deadline_guard *g, void **socket_ctx);
/* The connection is dropped at at_ms (wake_now_ms clock); 0: no deadline. */
void deadline_set(struct MHD_Connection *conn, uint64_t at_ms);
/* The same while a body arrives: the connection is also dropped as soon as
 * its client has closed it. */
void deadline_set_body(struct MHD_Connection *conn, uint64_t at_ms);

/* pipeline.c: MHD's callbacks for the API daemon. */
enum MHD_Result pipeline_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload_data, size_t *upload_data_size,
                                    void **con_cls);
void pipeline_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

#endif
