/* A background task run at start, every period and when kicked; see periodic.h. */
#include "periodic.h"

#include <time.h>

static void *periodic_main(void *arg)
{
	struct periodic *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		p->kicked = false;
		pthread_mutex_unlock(&p->lock);
		p->pass(p->arg);
		pthread_mutex_lock(&p->lock);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += p->period_s;
		while (!p->stopping && !p->kicked && pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0) {
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int periodic_start(struct periodic *p)
{
	pthread_mutex_lock(&p->lock);
	bool running = p->running;
	pthread_mutex_unlock(&p->lock);
	if (running)
		return 0;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&p->lock);
	p->stopping = p->kicked = false;
	p->running = pthread_create(&p->thread, NULL, periodic_main, p) == 0;
	running = p->running;
	pthread_mutex_unlock(&p->lock);
	if (!running)
		pthread_cond_destroy(&p->cond);
	return running ? 0 : -1;
}

void periodic_kick(struct periodic *p)
{
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	if (p->running)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void periodic_stop(struct periodic *p)
{
	pthread_mutex_lock(&p->lock);
	bool running = p->running;
	p->stopping = true;
	if (running)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (!running)
		return;
	pthread_join(p->thread, NULL);
	pthread_mutex_lock(&p->lock);
	p->running = false;
	pthread_mutex_unlock(&p->lock);
	pthread_cond_destroy(&p->cond);
}
