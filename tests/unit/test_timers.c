/*
 * Unit tests of src/player/timers.c (the player's table of timers) and of
 * the pure check of src/player/cache.c (the shape of a manifest).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cache.h"
#include "common/codes.h"
#include "timers.h"

struct counter {
	int runs;
	int64_t answer; /* what the callback returns */
	int64_t last_now;
	struct timers *t;
	int self;
	int64_t set_self_to; /* >= 0: the callback moves its own due time */
};

static int64_t count(void *arg, int64_t now)
{
	struct counter *c = arg;
	c->runs++;
	c->last_now = now;
	if (c->set_self_to >= 0)
		timers_set(c->t, c->self, c->set_self_to);
	return c->answer;
}

static void test_due_timers_run_and_reschedule(void **state)
{
	(void)state;
	struct timers t = {0};
	struct counter a = {.answer = 100, .set_self_to = -1}, b = {.answer = TIMER_PARK, .set_self_to = -1};
	int ia = timers_add(&t, 10, count, &a), ib = timers_add(&t, 50, count, &b);
	assert_true(ia >= 0 && ib >= 0 && ia != ib);
	assert_int_equal(timers_next_due(&t), 10);
	assert_int_equal(timers_run_due(&t, 9), 0);
	assert_int_equal(timers_run_due(&t, 10), 1);
	assert_int_equal(a.runs, 1);
	assert_int_equal(a.last_now, 10);
	assert_int_equal(timers_next_due(&t), 50); /* a is due at 110 */
	assert_int_equal(timers_run_due(&t, 60), 1);
	assert_int_equal(b.runs, 1);
	assert_int_equal(timers_next_due(&t), 110); /* b parked */
	timers_set(&t, ib, 70);
	assert_int_equal(timers_next_due(&t), 70);
	assert_int_equal(timers_run_due(&t, 200), 2);
	assert_int_equal(a.runs, 2);
	assert_int_equal(b.runs, 2);
	assert_int_equal(timers_next_due(&t), 300);
}

static void test_set_sooner_del_and_a_full_table(void **state)
{
	(void)state;
	struct timers t = {0};
	struct counter c = {.answer = TIMER_PARK, .set_self_to = -1};
	int id = timers_add(&t, TIMER_NEVER, count, &c);
	assert_int_equal(timers_next_due(&t), TIMER_NEVER);
	timers_set_sooner(&t, id, 40);
	timers_set_sooner(&t, id, 80); /* later: ignored */
	assert_int_equal(timers_next_due(&t), 40);
	timers_del(&t, id);
	assert_int_equal(timers_next_due(&t), TIMER_NEVER);
	assert_int_equal(timers_run_due(&t, 1000), 0);
	for (int i = 0; i < TIMERS_MAX; i++)
		assert_true(timers_add(&t, 5, count, &c) >= 0);
	assert_int_equal(timers_add(&t, 5, count, &c), -1);
	timers_del(&t, 3);
	assert_int_equal(timers_add(&t, 5, count, &c), 3);
	timers_del(&t, -1); /* ignored */
	timers_set(&t, TIMERS_MAX, 1);
}

static void test_a_callback_that_sets_its_own_due_time_wins(void **state)
{
	(void)state;
	struct timers t = {0};
	struct counter c = {.answer = 5, .set_self_to = 500, .t = &t};
	c.self = timers_add(&t, 0, count, &c);
	assert_int_equal(timers_run_due(&t, 0), 1);
	assert_int_equal(timers_next_due(&t), 500);
	/* a delay of 0 runs on the next turn, not in the same pass */
	c.set_self_to = -1;
	c.answer = 0;
	assert_int_equal(timers_run_due(&t, 500), 1);
	assert_int_equal(c.runs, 2);
	assert_int_equal(timers_next_due(&t), 500);
}

static void test_manifest_shape(void **state)
{
	(void)state;
	static const char sha[] = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
	assert_true(codes_is_sha256(sha));
	assert_false(codes_is_sha256("2C26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"));
	assert_false(codes_is_sha256("../../etc/passwd"));
	assert_false(codes_is_sha256(NULL));
	json_t *good = json_pack("{s:i, s:[{s:s, s:i}]}", "version", 3, "objects", "sha256", sha, "size", 10);
	assert_null(cache_manifest_problem(good));
	json_t *bad[] = {
	    json_pack("[]"),
	    json_pack("{s:[]}", "objects"),
	    json_pack("{s:i, s:i}", "version", 1, "objects", 2),
	    json_pack("{s:i, s:[{s:s, s:i}]}", "version", 1, "objects", "sha256", "x", "size", 1),
	    json_pack("{s:i, s:[{s:s, s:i}]}", "version", 1, "objects", "sha256", sha, "size", -1),
	    json_pack("{s:i, s:[{s:s}]}", "version", 1, "objects", "sha256", sha),
	    json_pack("{s:i, s:[]}", "version", -1, "objects"),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_non_null(bad[i]);
		assert_non_null(cache_manifest_problem(bad[i]));
		json_decref(bad[i]);
	}
	json_decref(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_timers_run_and_reschedule),
	    cmocka_unit_test(test_set_sooner_del_and_a_full_table),
	    cmocka_unit_test(test_a_callback_that_sets_its_own_due_time_wins),
	    cmocka_unit_test(test_manifest_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
