/*
 * The group clock's filter and slew (clock.h).
 */
#include "clock.h"

#include <math.h>
#include <string.h>

void group_clock_init(struct group_clock *c, int64_t local_ns, int64_t guess_ns)
{
	memset(c, 0, sizeof *c);
	c->off_ns = (double)(guess_ns - local_ns);
	c->slewed_ns = local_ns;
}

static void slew_to(struct group_clock *c, int64_t local_ns)
{
	if (local_ns <= c->slewed_ns)
		return;
	double dt = (double)(local_ns - c->slewed_ns);
	c->slewed_ns = local_ns;
	if (!c->following || !c->have_target)
		return;
	double err = (double)c->target_ns - c->off_ns, room = dt * GROUP_CLOCK_SLEW;
	c->off_ns += err > room ? room : err < -room ? -room : err;
}

void group_clock_follow(struct group_clock *c, int64_t local_ns)
{
	slew_to(c, local_ns);
	c->following = true;
	c->have_target = false;
	c->n = 0;
}

void group_clock_free_run(struct group_clock *c, int64_t local_ns)
{
	slew_to(c, local_ns);
	c->following = false;
	c->have_target = false;
	c->n = 0;
}

/* The least-delay sample of the window (none left: no target). */
static void filter(struct group_clock *c, int64_t local_ns)
{
	unsigned kept = 0;
	struct group_clock_sample fresh[GROUP_CLOCK_SAMPLES];
	for (unsigned i = 0; i < c->n; i++)
		if (local_ns - c->s[i].at_ns <= GROUP_CLOCK_WINDOW_NS)
			fresh[kept++] = c->s[i];
	memcpy(c->s, fresh, kept * sizeof fresh[0]);
	c->n = kept;
	bool had = c->have_target;
	c->have_target = kept > 0;
	if (!kept)
		return;
	unsigned best = 0;
	for (unsigned i = 1; i < kept; i++)
		if (c->s[i].delay_ns < c->s[best].delay_ns ||
		    (c->s[i].delay_ns == c->s[best].delay_ns && c->s[i].at_ns > c->s[best].at_ns))
			best = i; /* the shortest round trip; of equals, the newest */
	int64_t theta = c->s[best].theta_ns;
	double moved = (double)(theta - c->target_ns);
	/* once locked, the estimate follows the best sample smoothly: the best
	 * of the window changes now and then, each with its own asymmetry */
	if (c->locked && had && fabs(moved) < (double)GROUP_CLOCK_SMOOTH_MAX_NS)
		c->target_ns += (int64_t)llround(moved * GROUP_CLOCK_SMOOTH);
	else
		c->target_ns = theta;
	c->delay_ns = c->s[best].delay_ns;
}

bool group_clock_sample(struct group_clock *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
	int64_t delay = (t4 - t1) - (t3 - t2);
	if (!c->following || t4 < t1 || t3 < t2 || delay < 0 || delay > GROUP_CLOCK_MAX_DELAY)
		return false;
	slew_to(c, t4);
	/* (t2 - t1) + (t3 - t4) without overflow: both differences are near the offset */
	int64_t theta = (t2 - t1) / 2 + (t3 - t4) / 2;
	struct group_clock_sample s = {.theta_ns = theta, .delay_ns = delay, .at_ns = t4};
	if (c->n < GROUP_CLOCK_SAMPLES) {
		c->s[c->n++] = s;
	} else { /* the oldest goes */
		unsigned oldest = 0;
		for (unsigned i = 1; i < c->n; i++)
			if (c->s[i].at_ns < c->s[oldest].at_ns)
				oldest = i;
		c->s[oldest] = s;
	}
	filter(c, t4);
	double err = (double)c->target_ns - c->off_ns;
	if (!c->locked || fabs(err) > (double)GROUP_CLOCK_STEP_NS) {
		if (c->locked || fabs(err) > (double)GROUP_CLOCK_LOCK_NS / 2) {
			c->off_ns = (double)c->target_ns; /* not locked yet (or lost): step */
			c->steps++;
		}
		c->locked = c->n >= GROUP_CLOCK_LOCK_AFTER && fabs(err) <= (double)GROUP_CLOCK_LOCK_NS;
		c->synced = c->synced || c->locked;
	}
	return true;
}

int64_t group_clock_now(struct group_clock *c, int64_t local_ns)
{
	slew_to(c, local_ns);
	return local_ns + (int64_t)llround(c->off_ns);
}

double group_clock_error_ns(const struct group_clock *c)
{
	return c->following && c->have_target ? c->off_ns - (double)c->target_ns : 0;
}
