/*
 * The generic work pool: a few threads and a bounded queue for slow CPU
 * work (password hashing) that must not run on the network threads. A
 * deferred request is suspended while it waits; its job replies and the
 * worker resumes the connection so the reply is queued by its own thread.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

static void *worker_main(void *arg)
{
	struct server *srv = arg;
	struct work_pool *p = &srv->pool;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->len == 0 && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->len == 0 && p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		struct http_req *r = p->queue[p->head];
		p->head = (p->head + 1) % WORK_QUEUE_CAP;
		p->len--;
		pthread_mutex_unlock(&p->lock);

		if (r->deferred(r) < 0 || !r->resp)
			reply_missing(r);
		r->phase = PHASE_READY;
		MHD_resume_connection(r->conn);
	}
}

int http_defer(struct http_req *r, int (*fn)(struct http_req *r))
{
	r->deferred = fn;
	return 0;
}

int work_pool_start(struct server *srv)
{
	struct work_pool *p = &srv->pool;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threads = calloc(srv->cfg.workers, sizeof *p->threads);
	if (!p->threads)
		return -1;
	for (unsigned i = 0; i < srv->cfg.workers; i++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, srv) == 0)
			p->nthreads++;
	return 0;
}

bool work_pool_submit(struct server *srv, struct http_req *r)
{
	struct work_pool *p = &srv->pool;
	pthread_mutex_lock(&p->lock);
	if (p->len == WORK_QUEUE_CAP || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	r->phase = PHASE_DEFERRED;
	MHD_suspend_connection(r->conn);
	p->queue[(p->head + p->len) % WORK_QUEUE_CAP] = r;
	p->len++;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_signal(&p->cond);
	return true;
}

void work_pool_stop(struct server *srv)
{
	struct work_pool *p = &srv->pool;
	if (!p->threads)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_broadcast(&p->cond);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}
