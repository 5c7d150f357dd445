/*
 * The listener of the PostgreSQL backend: one thread with a connection of
 * its own (never shared, never through a pooler: LISTEN belongs to a
 * session) that LISTENs on the servers' channel and hands every key
 * another server committed to the store's notify hook, which wakes the
 * long-polls and streams waiting on it here. Keys sent by this process's
 * own connections are skipped: db_commit delivered them already.
 *
 * Nothing is missed across a lost connection: after every reconnect the
 * listener delivers the empty key, which wakes every waiter to re-check
 * the store; while it cannot connect it does the same every
 * DEGRADED_WAKE_MS, so a waiter learns of a change at most that late.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/monotonic.h"
#include "backend.h"
#include "postgres.h"

#define DEGRADED_WAKE_MS 2000
#define RETRY_MIN_MS     100
#define RETRY_MAX_MS     2000

static pthread_t listener;
static bool listening;
static int stop_pipe[2] = {-1, -1};
static char *listen_url;

/* Waits up to ms for the stop pipe (true: stop) or, if fd >= 0, for fd. */
static bool wait_for(int fd, int ms)
{
	struct pollfd p[2] = {{.fd = stop_pipe[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
	int n = poll(p, fd >= 0 ? 2 : 1, ms);
	return n > 0 && (p[0].revents & POLLIN);
}

static PGconn *connect_and_listen(void)
{
	PGconn *h = postgres_connect(listen_url, true);
	if (!h)
		return NULL;
	PGresult *res = PQexec(h, "LISTEN " POSTGRES_CHANNEL);
	bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		PQfinish(h);
		return NULL;
	}
	return h;
}

static void *listen_main(void *arg)
{
	(void)arg;
	PGconn *h = NULL;
	int retry_ms = RETRY_MIN_MS;
	bool was_connected = false, told_down = false;
	int64_t woke_all_at = 0;
	for (;;) {
		if (!h) {
			if ((h = connect_and_listen())) {
				if (was_connected || told_down)
					log_event(LOG_INFO, "PostgreSQL listener reconnected", NULL);
				retry_ms = RETRY_MIN_MS;
				told_down = false;
				/* whatever was sent while nobody listened: everybody re-checks */
				if (was_connected)
					db_deliver("", 1);
				was_connected = true;
			} else {
				if (!told_down)
					log_event(LOG_WARN, "PostgreSQL listener cannot connect; retrying", NULL);
				told_down = true;
				int64_t now = monotonic_ms();
				if (now - woke_all_at >= DEGRADED_WAKE_MS) {
					db_deliver("", 1);
					woke_all_at = now;
				}
				if (wait_for(-1, retry_ms))
					break;
				retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
				continue;
			}
		}
		if (wait_for(PQsocket(h), 1000))
			break;
		if (!PQconsumeInput(h) || PQstatus(h) != CONNECTION_OK) {
			log_event(LOG_WARN, "PostgreSQL listener lost its connection", NULL);
			PQfinish(h);
			h = NULL;
			continue;
		}
		PGnotify *n;
		while ((n = PQnotifies(h))) {
			if (!postgres_own_pid(n->be_pid) && strlen(n->extra) < DB_NOTIFY_KEY_LEN)
				db_deliver(n->extra, 1);
			PQfreemem(n);
		}
	}
	PQfinish(h);
	return NULL;
}

int postgres_listen_start(const char *url)
{
	if (listening)
		return 0;
	if (pipe(stop_pipe) != 0 || !(listen_url = strdup(url))) {
		log_event(LOG_ERROR, "cannot start the PostgreSQL listener", "error", strerror(errno), NULL);
		return -1;
	}
	if (pthread_create(&listener, NULL, listen_main, NULL) != 0) {
		log_event(LOG_ERROR, "cannot start the PostgreSQL listener", NULL);
		return -1;
	}
	listening = true;
	return 0;
}

void postgres_listen_stop(void)
{
	if (!listening)
		return;
	ssize_t w = write(stop_pipe[1], "x", 1);
	(void)w;
	pthread_join(listener, NULL);
	listening = false;
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stop_pipe[0] = stop_pipe[1] = -1;
	free(listen_url);
	listen_url = NULL;
}
