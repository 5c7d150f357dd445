/*
 * One table of timers for the player's loop (the model: Redis ae.h). A part
 * of the player adds a timer with its first due time and a callback; when
 * the timer is due the loop runs the callback, which answers when it wants
 * to run again: a delay in milliseconds, or TIMER_PARK to wait until
 * someone calls timers_set() (e.g. the handler of the answer it waits for).
 * The loop sleeps until the nearest due time. Times are monotonic
 * milliseconds given by the caller, so the table is pure and testable.
 */
#ifndef VITRINE_PLAYER_TIMERS_H
#define VITRINE_PLAYER_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define TIMERS_MAX  16
#define TIMER_PARK  (-1) /* returned by a callback: no due time until timers_set() */
#define TIMER_NEVER INT64_MAX

typedef int64_t (*timer_fn)(void *arg, int64_t now_ms);

struct timer {
	int64_t due_ms; /* TIMER_NEVER while parked */
	timer_fn fn;
	void *arg;
	bool used;
};

struct timers {
	struct timer slot[TIMERS_MAX];
};

/* Returns the timer's id (>= 0), or -1 when the table is full. */
int timers_add(struct timers *t, int64_t due_ms, timer_fn fn, void *arg);
void timers_del(struct timers *t, int id);
/* Moves a timer's due time (TIMER_NEVER parks it). */
void timers_set(struct timers *t, int id, int64_t due_ms);
/* Moves it only if that makes it due sooner. */
void timers_set_sooner(struct timers *t, int id, int64_t due_ms);
/* Runs every timer due at now_ms (each at most once); returns how many ran. */
int timers_run_due(struct timers *t, int64_t now_ms);
/* The nearest due time, or TIMER_NEVER. */
int64_t timers_next_due(const struct timers *t);

#endif
