/*
 * Deadlines for slow clients. libmicrohttpd's connection timeout counts
 * idleness only, so a client sending one header byte every few seconds
 * (slowloris) or trickling a body keeps its connection for ever. Each
 * connection has an entry here with the time it must have progressed by
 * (headers in, or body in); a thread looks twice a second and shuts down
 * the socket of any connection past its deadline, which makes MHD close it.
 *
 * The entry lives in MHD's socket context: made when the connection opens,
 * freed when it closes. MHD notifies the close before it closes the socket,
 * and the scan and the removal hold the same lock, so a socket is never
 * shut down after its number could have been reused.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "../../common/log.h"
#include "internal.h"

#define SCAN_EVERY_MS 500

struct conn_entry {
	int fd;
	_Atomic uint64_t deadline_ms;
	struct conn_entry *prev, *next;
};

struct deadline_guard {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn_entry *head;
	bool stopping;
	pthread_t thread;
};

static void *guard_main(void *arg)
{
	struct deadline_guard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SCAN_EVERY_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
		uint64_t now = wake_now_ms();
		unsigned dropped = 0;
		for (struct conn_entry *e = g->head; e; e = e->next) {
			uint64_t at = atomic_load(&e->deadline_ms);
			if (at && now > at) {
				atomic_store(&e->deadline_ms, 0);
				shutdown(e->fd, SHUT_RDWR);
				dropped++;
			}
		}
		if (dropped) {
			char n[16];
			snprintf(n, sizeof n, "%u", dropped);
			log_event(LOG_INFO, "dropped connections that were too slow to send their request", "count", n,
			          NULL);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct deadline_guard *deadline_guard_start(void)
{
	struct deadline_guard *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
		free(g);
		return NULL;
	}
	return g;
}

void deadline_guard_stop(struct deadline_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	/* entries of connections still open belong to MHD's close notices */
	free(g);
}

void deadline_conn_opened(struct deadline_guard *g, struct MHD_Connection *conn, void **socket_ctx)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct conn_entry *e = ci ? calloc(1, sizeof *e) : NULL;
	*socket_ctx = e;
	if (!e)
		return;
	e->fd = ci->connect_fd;
	pthread_mutex_lock(&g->lock);
	e->next = g->head;
	if (g->head)
		g->head->prev = e;
	g->head = e;
	pthread_mutex_unlock(&g->lock);
}

void deadline_conn_closed(struct deadline_guard *g, void **socket_ctx)
{
	struct conn_entry *e = *socket_ctx;
	if (!e)
		return;
	pthread_mutex_lock(&g->lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		g->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	*socket_ctx = NULL;
	pthread_mutex_unlock(&g->lock);
	free(e);
}

void deadline_set(struct MHD_Connection *conn, uint64_t at_ms)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_entry *e = ci ? ci->socket_context : NULL;
	if (e)
		atomic_store(&e->deadline_ms, at_ms);
}
