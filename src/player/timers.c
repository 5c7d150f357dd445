/* The player's table of timers; see timers.h. */
#include "timers.h"

#include <stddef.h>

int timers_add(struct timers *t, int64_t due_ms, timer_fn fn, void *arg)
{
	for (int i = 0; i < TIMERS_MAX; i++)
		if (!t->slot[i].used) {
			t->slot[i] = (struct timer){.due_ms = due_ms, .fn = fn, .arg = arg, .used = true};
			return i;
		}
	return -1;
}

void timers_del(struct timers *t, int id)
{
	if (id >= 0 && id < TIMERS_MAX)
		t->slot[id] = (struct timer){0};
}

void timers_set(struct timers *t, int id, int64_t due_ms)
{
	if (id >= 0 && id < TIMERS_MAX && t->slot[id].used)
		t->slot[id].due_ms = due_ms;
}

void timers_set_sooner(struct timers *t, int id, int64_t due_ms)
{
	if (id >= 0 && id < TIMERS_MAX && t->slot[id].used && due_ms < t->slot[id].due_ms)
		t->slot[id].due_ms = due_ms;
}

int timers_run_due(struct timers *t, int64_t now_ms)
{
	/* one pass over the table: a callback that makes another timer due
	 * at once (or itself, with delay 0) runs on the next turn of the loop */
	bool due[TIMERS_MAX];
	for (int i = 0; i < TIMERS_MAX; i++)
		due[i] = t->slot[i].used && t->slot[i].due_ms <= now_ms;
	int ran = 0;
	for (int i = 0; i < TIMERS_MAX; i++) {
		if (!due[i] || !t->slot[i].used || t->slot[i].due_ms > now_ms)
			continue;
		struct timer *tm = &t->slot[i];
		tm->due_ms = TIMER_NEVER; /* the callback or its answer may set it again */
		int64_t next = tm->fn(tm->arg, now_ms);
		ran++;
		if (tm->used && next >= 0 && tm->due_ms == TIMER_NEVER)
			tm->due_ms = now_ms + next;
	}
	return ran;
}

int64_t timers_next_due(const struct timers *t)
{
	int64_t next = TIMER_NEVER;
	for (int i = 0; i < TIMERS_MAX; i++)
		if (t->slot[i].used && t->slot[i].due_ms < next)
			next = t->slot[i].due_ms;
	return next;
}
