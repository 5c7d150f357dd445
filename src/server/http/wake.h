/*
 * The wake hub: where suspended requests (long-polls, SSE streams) wait for
 * something to happen to a key such as "device:<id>" or "account:<id>".
 *
 * Whoever changes state writes it to the store first and then notifies the
 * key (db_notify does this after COMMIT); the hub resumes every connection
 * waiting on that key, and the handler, re-entered by MHD, reads the store
 * again. Nothing is delivered that was not stored first, so a wake-up can be
 * lost without losing data.
 *
 * The hub also owns the timers: suspended MHD connections never time out by
 * themselves, so each waiter has a deadline after which it is resumed with
 * WAKE_TIMEOUT.
 *
 * To avoid missing a notification that lands between "check the store" and
 * "suspend", a handler registers first, then checks, then suspends:
 *
 *     wake_register(hub, &w, conn, key, timeout_ms);
 *     if (store has data) { wake_cancel(hub, &w); respond; }
 *     else if (!wake_suspend(hub, &w)) { woken meanwhile: check again }
 *
 * The waiter is caller-owned memory (embedded in the request) and must stay
 * valid until it is woken or cancelled.
 */
#ifndef VITRINE_WAKE_H
#define VITRINE_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct wake_hub;

enum wake_state { WAITER_IDLE, WAITER_REGISTERED, WAITER_SUSPENDED, WAITER_WOKEN };
enum wake_reason { WAKE_NONE, WAKE_EVENT, WAKE_TIMEOUT, WAKE_SHUTDOWN };

#define WAKE_KEY_LEN 64

struct wake_waiter {
	struct MHD_Connection *conn;
	char key[WAKE_KEY_LEN];
	uint64_t deadline_ms;
	enum wake_state state;
	enum wake_reason reason;
	size_t heap_idx;
	unsigned bucket;
	struct wake_waiter *prev, *next;
};

struct wake_hub *wake_hub_create(void);
void wake_hub_destroy(struct wake_hub *hub);

void wake_register(struct wake_hub *hub, struct wake_waiter *w, struct MHD_Connection *conn, const char *key,
                   unsigned timeout_ms);

/* Suspends the connection unless the waiter was woken since it registered.
 * Must run inside the MHD handler or content reader of that connection.
 * Returns true when suspended, false when already woken (w->reason says why). */
bool wake_suspend(struct wake_hub *hub, struct wake_waiter *w);

/* Withdraws a waiter that is registered but not suspended, or forgets one
 * that was woken. Safe to call in any state. */
void wake_cancel(struct wake_hub *hub, struct wake_waiter *w);

/* Wakes every waiter on key; returns how many. */
size_t wake_notify(struct wake_hub *hub, const char *key);

/* Wakes every waiter (each re-checks the store); returns how many. */
size_t wake_notify_all(struct wake_hub *hub);

/* wake_notify shaped as the store's notify hook (arg is the hub); the empty
 * key, which the store sends when it may have missed wake-ups, wakes all. */
void wake_notify_hook(const char *key, void *hub);

/* Wakes all waiters with WAKE_SHUTDOWN; later registrations wake at once. */
void wake_shutdown(struct wake_hub *hub);

size_t wake_suspended_count(struct wake_hub *hub);
uint64_t wake_resumes_total(struct wake_hub *hub);

/* Monotonic clock in milliseconds. */
uint64_t wake_now_ms(void);

#endif
