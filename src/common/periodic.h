/*
 * A background task that runs a pass now and then: at start, then every
 * period_s seconds (CLOCK_MONOTONIC), and at once after periodic_kick. The
 * server's retention and its mail sender are such tasks; each keeps one
 * struct periodic made with PERIODIC_INIT(pass, arg, period_s).
 * periodic_kick is safe from any thread at any time, also before the start
 * and after the stop (it then does nothing). periodic_stop waits for the
 * pass in progress and joins.
 */
#ifndef VITRINE_PERIODIC_H
#define VITRINE_PERIODIC_H

#include <pthread.h>
#include <stdbool.h>

struct periodic {
	void (*pass)(void *arg);
	void *arg;
	unsigned period_s;
	/* private */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stopping, kicked;
};

#define PERIODIC_INIT(pass_, arg_, period_s_)                                                                          \
	{                                                                                                              \
		.pass = (pass_), .arg = (arg_), .period_s = (period_s_), .lock = PTHREAD_MUTEX_INITIALIZER             \
	}

/* Starts the thread (a second call while running does nothing). 0, or -1. */
int periodic_start(struct periodic *p);
/* Asks for a pass now (or right after the one in progress). */
void periodic_kick(struct periodic *p);
/* Stops the thread, if running. */
void periodic_stop(struct periodic *p);

#endif
