/*
 * Wake hub implementation: a hash table of waiters by key (intrusive doubly
 * linked lists), a binary min-heap of deadlines, and one timer thread that
 * sleeps until the earliest deadline. One mutex guards everything; every
 * operation under it is O(1) or O(log n).
 */
#include "wake.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HUB_BUCKETS 4096

struct wake_hub {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t timer;
	bool stopping;  /* timer thread must exit */
	bool shut_down; /* no more waiting: everybody wakes at once */
	struct wake_waiter *buckets[HUB_BUCKETS];
	struct wake_waiter **heap;
	size_t heap_len, heap_cap;
	size_t suspended;
	uint64_t resumes;
};

uint64_t wake_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % HUB_BUCKETS;
}

/* --- heap of deadlines --- */

static void heap_swap(struct wake_hub *hub, size_t a, size_t b)
{
	struct wake_waiter *t = hub->heap[a];
	hub->heap[a] = hub->heap[b];
	hub->heap[b] = t;
	hub->heap[a]->heap_idx = a;
	hub->heap[b]->heap_idx = b;
}

static void heap_up(struct wake_hub *hub, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (hub->heap[parent]->deadline_ms <= hub->heap[i]->deadline_ms)
			break;
		heap_swap(hub, i, parent);
		i = parent;
	}
}

static void heap_down(struct wake_hub *hub, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < hub->heap_len && hub->heap[l]->deadline_ms < hub->heap[m]->deadline_ms)
			m = l;
		if (r < hub->heap_len && hub->heap[r]->deadline_ms < hub->heap[m]->deadline_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(hub, i, m);
		i = m;
	}
}

static bool heap_push(struct wake_hub *hub, struct wake_waiter *w)
{
	if (hub->heap_len == hub->heap_cap) {
		size_t cap = hub->heap_cap ? hub->heap_cap * 2 : 1024;
		struct wake_waiter **h = realloc(hub->heap, cap * sizeof *h);
		if (!h)
			return false;
		hub->heap = h;
		hub->heap_cap = cap;
	}
	w->heap_idx = hub->heap_len;
	hub->heap[hub->heap_len++] = w;
	heap_up(hub, w->heap_idx);
	return true;
}

static void heap_remove(struct wake_hub *hub, struct wake_waiter *w)
{
	size_t i = w->heap_idx;
	if (i >= hub->heap_len || hub->heap[i] != w)
		return;
	hub->heap_len--;
	if (i != hub->heap_len) {
		hub->heap[i] = hub->heap[hub->heap_len];
		hub->heap[i]->heap_idx = i;
		heap_down(hub, i);
		heap_up(hub, i);
	}
	w->heap_idx = (size_t)-1;
}

/* --- waiters --- */

static void unlink_waiter(struct wake_hub *hub, struct wake_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (hub->buckets[w->bucket] == w)
		hub->buckets[w->bucket] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	heap_remove(hub, w);
}

/* Called with the lock held. */
static void wake_one(struct wake_hub *hub, struct wake_waiter *w, enum wake_reason reason)
{
	unlink_waiter(hub, w);
	w->reason = reason;
	if (w->state == WAITER_SUSPENDED) {
		hub->suspended--;
		hub->resumes++;
		w->state = WAITER_WOKEN;
		MHD_resume_connection(w->conn);
	} else {
		w->state = WAITER_WOKEN;
	}
}

void wake_register(struct wake_hub *hub, struct wake_waiter *w, struct MHD_Connection *conn, const char *key,
                   unsigned timeout_ms)
{
	memset(w, 0, sizeof *w);
	w->conn = conn;
	strncpy(w->key, key, sizeof w->key - 1);
	w->deadline_ms = wake_now_ms() + timeout_ms;
	/* Long waits end on 250 ms ticks: waiters that time out together are
	 * resumed together, and libmicrohttpd walks its suspended list once per
	 * batch instead of once per request. */
	if (timeout_ms >= 5000)
		w->deadline_ms = (w->deadline_ms + 249) / 250 * 250;
	w->heap_idx = (size_t)-1;
	pthread_mutex_lock(&hub->lock);
	if (hub->shut_down) {
		w->state = WAITER_WOKEN;
		w->reason = WAKE_SHUTDOWN;
		pthread_mutex_unlock(&hub->lock);
		return;
	}
	w->bucket = hash_key(w->key);
	w->next = hub->buckets[w->bucket];
	if (w->next)
		w->next->prev = w;
	hub->buckets[w->bucket] = w;
	if (!heap_push(hub, w)) { /* out of memory: behave as an immediate timeout */
		unlink_waiter(hub, w);
		w->state = WAITER_WOKEN;
		w->reason = WAKE_TIMEOUT;
		pthread_mutex_unlock(&hub->lock);
		return;
	}
	w->state = WAITER_REGISTERED;
	bool earliest = w->heap_idx == 0;
	pthread_mutex_unlock(&hub->lock);
	if (earliest)
		pthread_cond_signal(&hub->cond);
}

bool wake_suspend(struct wake_hub *hub, struct wake_waiter *w)
{
	pthread_mutex_lock(&hub->lock);
	bool suspended = false;
	if (w->state == WAITER_REGISTERED) {
		MHD_suspend_connection(w->conn);
		w->state = WAITER_SUSPENDED;
		hub->suspended++;
		suspended = true;
	}
	pthread_mutex_unlock(&hub->lock);
	return suspended;
}

void wake_cancel(struct wake_hub *hub, struct wake_waiter *w)
{
	pthread_mutex_lock(&hub->lock);
	if (w->state == WAITER_REGISTERED) {
		unlink_waiter(hub, w);
		w->state = WAITER_IDLE;
	} else if (w->state == WAITER_WOKEN) {
		w->state = WAITER_IDLE;
	}
	/* WAITER_SUSPENDED cannot be cancelled: only a wake resumes it */
	pthread_mutex_unlock(&hub->lock);
}

size_t wake_notify(struct wake_hub *hub, const char *key)
{
	size_t n = 0;
	unsigned b = hash_key(key);
	pthread_mutex_lock(&hub->lock);
	struct wake_waiter *w = hub->buckets[b];
	while (w) {
		struct wake_waiter *next = w->next;
		if (strcmp(w->key, key) == 0) {
			wake_one(hub, w, WAKE_EVENT);
			n++;
		}
		w = next;
	}
	pthread_mutex_unlock(&hub->lock);
	return n;
}

size_t wake_notify_all(struct wake_hub *hub)
{
	size_t n = 0;
	pthread_mutex_lock(&hub->lock);
	for (unsigned b = 0; b < HUB_BUCKETS; b++)
		for (struct wake_waiter *w = hub->buckets[b], *next; w; w = next) {
			next = w->next;
			wake_one(hub, w, WAKE_EVENT);
			n++;
		}
	pthread_mutex_unlock(&hub->lock);
	return n;
}

void wake_shutdown(struct wake_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub->shut_down = true;
	while (hub->heap_len > 0)
		wake_one(hub, hub->heap[0], WAKE_SHUTDOWN);
	pthread_mutex_unlock(&hub->lock);
}

size_t wake_suspended_count(struct wake_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	size_t n = hub->suspended;
	pthread_mutex_unlock(&hub->lock);
	return n;
}

uint64_t wake_resumes_total(struct wake_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	uint64_t n = hub->resumes;
	pthread_mutex_unlock(&hub->lock);
	return n;
}

static void *timer_main(void *arg)
{
	struct wake_hub *hub = arg;
	pthread_mutex_lock(&hub->lock);
	while (!hub->stopping) {
		uint64_t now = wake_now_ms();
		while (hub->heap_len > 0 && hub->heap[0]->deadline_ms <= now)
			wake_one(hub, hub->heap[0], WAKE_TIMEOUT);
		if (hub->heap_len == 0) {
			pthread_cond_wait(&hub->cond, &hub->lock);
			continue;
		}
		uint64_t until = hub->heap[0]->deadline_ms;
		struct timespec ts = {.tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L};
		pthread_cond_timedwait(&hub->cond, &hub->lock, &ts);
	}
	pthread_mutex_unlock(&hub->lock);
	return NULL;
}

struct wake_hub *wake_hub_create(void)
{
	struct wake_hub *hub = calloc(1, sizeof *hub);
	if (!hub)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&hub->lock, NULL);
	pthread_cond_init(&hub->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&hub->timer, NULL, timer_main, hub) != 0) {
		pthread_cond_destroy(&hub->cond);
		pthread_mutex_destroy(&hub->lock);
		free(hub);
		return NULL;
	}
	return hub;
}

void wake_hub_destroy(struct wake_hub *hub)
{
	if (!hub)
		return;
	pthread_mutex_lock(&hub->lock);
	hub->stopping = true;
	pthread_mutex_unlock(&hub->lock);
	pthread_cond_signal(&hub->cond);
	pthread_join(hub->timer, NULL);
	pthread_cond_destroy(&hub->cond);
	pthread_mutex_destroy(&hub->lock);
	free(hub->heap);
	free(hub);
}

void wake_notify_hook(const char *key, void *hub)
{
	if (*key)
		wake_notify(hub, key);
	else
		wake_notify_all(hub);
}
