/*
 * Deadlines for slow clients. libmicrohttpd's connection timeout counts
 * idleness only, so a client sending one header byte every few seconds
 * (slowloris) or trickling a body keeps its connection for ever. Each
 * connection has an entry here with the time it must have progressed by
 * (headers in, or body in); a thread looks twice a second and shuts down
 * the socket of any connection past its deadline, which makes MHD close it.
 *
 * A connection receiving a body is also dropped as soon as its client has
 * closed it: libmicrohttpd 0.9.75 (epoll) does not always read again after
 * the last piece of body and the FIN arrive together, and leaves the
 * socket in CLOSE-WAIT until a deadline (about 1 in 8 uploads cut halfway
 * on loopback, measured with test_releases.py), keeping the upload's
 * temporary file and the connection for a minute. A peek that reads the
 * end of the stream (nothing pending, FIN received) tells it.
 *
 * The entry lives in MHD's socket context: made when the connection opens,
 * freed when it closes. MHD notifies the close before it closes the socket,
 * and the scan and the removal hold the same lock, so a socket is never
 * shut down after its number could have been reused.
 */
#include <errno.h>
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
	_Atomic bool body; /* receiving a body: watched for a client that went away */
	struct conn_entry *prev, *next;
};

struct deadline_guard {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn_entry *head;
	bool stopping;
	pthread_t thread;
};

/* Whether the client closed its side and nothing is left to read (or
 * reset the connection). */
static bool client_gone(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void log_count(const char *msg, unsigned n)
{
	if (!n)
		return;
	char text[16];
	snprintf(text, sizeof text, "%u", n);
	log_event(LOG_INFO, msg, "count", text, NULL);
}

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
		unsigned dropped = 0, gone = 0;
		for (struct conn_entry *e = g->head; e; e = e->next) {
			uint64_t at = atomic_load(&e->deadline_ms);
			bool late = at && now > at, closed = at && !late && atomic_load(&e->body) && client_gone(e->fd);
			if (late || closed) {
				atomic_store(&e->deadline_ms, 0);
				shutdown(e->fd, SHUT_RDWR);
				dropped += late;
				gone += closed;
			}
		}
		log_count("dropped connections that were too slow to send their request", dropped);
		log_count("dropped connections whose client went away in the middle of a body", gone);
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

static void set(struct MHD_Connection *conn, uint64_t at_ms, bool body)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_entry *e = ci ? ci->socket_context : NULL;
	if (!e)
		return;
	atomic_store(&e->body, body);
	atomic_store(&e->deadline_ms, at_ms);
}

void deadline_set(struct MHD_Connection *conn, uint64_t at_ms)
{
	set(conn, at_ms, false);
}

void deadline_set_body(struct MHD_Connection *conn, uint64_t at_ms)
{
	set(conn, at_ms, true);
}
