/*
 * The group clock of one member: group time = local steady time (CLOCK_
 * MONOTONIC) + an offset. A member that follows a leader measures the
 * leader's clock with NTP-style exchanges (t1 sent, t2 received by the
 * leader, t3 sent by the leader, t4 received); each gives an offset
 * estimate ((t2 - t1) + (t3 - t4)) / 2 and a round-trip delay
 * (t4 - t1) - (t3 - t2). Of the last samples (a few seconds), the one with
 * the least delay wins (NTP's clock filter: its asymmetry, the error of the
 * estimate, is the smallest); samples with impossible delays are dropped.
 * Once locked, the estimate moves a quarter of the way to each new best,
 * so that the change of the best sample does not shake the clock.
 *
 * The offset steps to the estimate only until the clock has locked (or when
 * it is wrong by more than GROUP_CLOCK_STEP_NS); once locked it slews at
 * most GROUP_CLOCK_SLEW of real time (0.8 ms in a 16.7 ms frame), so a
 * playing screen never jumps. The leader's clock runs free from the value
 * it had. Pure: the caller passes every time, so it is unit-tested.
 */
#ifndef VITRINE_PLAYER_GROUP_CLOCK_H
#define VITRINE_PLAYER_GROUP_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define GROUP_CLOCK_SAMPLES       16
#define GROUP_CLOCK_WINDOW_NS     (8 * INT64_C(1000000000)) /* samples older than this are forgotten */
#define GROUP_CLOCK_STEP_NS       (500 * INT64_C(1000000))  /* a locked clock this wrong steps */
#define GROUP_CLOCK_LOCK_NS       (5 * INT64_C(1000000))    /* within this of the estimate: locked */
#define GROUP_CLOCK_LOCK_AFTER    4                         /* samples needed before locking */
#define GROUP_CLOCK_MAX_DELAY     (1000 * INT64_C(1000000)) /* a round trip longer than this is no sample */
#define GROUP_CLOCK_SLEW          0.05                      /* most slewing per unit of real time */
#define GROUP_CLOCK_SMOOTH        0.25                      /* a locked estimate moves this much of the way */
#define GROUP_CLOCK_SMOOTH_MAX_NS (50 * INT64_C(1000000))   /* further than this: taken at once */

struct group_clock_sample {
	int64_t theta_ns; /* leader's group time minus our local time */
	int64_t delay_ns;
	int64_t at_ns; /* local time of t4 */
};

struct group_clock {
	double off_ns;     /* group = local + off */
	int64_t slewed_ns; /* local time up to which off has been slewed */
	bool following;    /* measuring a leader (else running free) */
	bool locked;       /* off is the leader's clock, not a guess */
	bool synced;       /* it has been the group's clock since it started (led or locked) */
	int64_t target_ns; /* the filtered estimate of the leader's offset (valid when have_target) */
	int64_t delay_ns;  /* the round trip of that estimate */
	bool have_target;
	struct group_clock_sample s[GROUP_CLOCK_SAMPLES];
	unsigned n;
	unsigned steps; /* how often off stepped (for the status) */
};

/* Starts running free at guess_ns of group time (a fresh member's guess:
 * its wall clock). */
void group_clock_init(struct group_clock *c, int64_t local_ns, int64_t guess_ns);
/* Starts following a (new) leader: the samples of the old one go; the
 * offset stays and is slewed to the new leader's if it is close. */
void group_clock_follow(struct group_clock *c, int64_t local_ns);
/* Stops following: runs free from the current value (a leader, or alone). */
void group_clock_free_run(struct group_clock *c, int64_t local_ns);
/* One exchange with the leader (t1, t4 local; t2, t3 the leader's group
 * time). Returns false when the sample was dropped. */
bool group_clock_sample(struct group_clock *c, int64_t t1, int64_t t2, int64_t t3, int64_t t4);
/* Group time at local_ns (local_ns must not go back): applies the slew up
 * to local_ns. */
int64_t group_clock_now(struct group_clock *c, int64_t local_ns);
/* Our group clock minus the leader's, as last estimated (0 when running
 * free or with no estimate). */
double group_clock_error_ns(const struct group_clock *c);

#endif
