/*
 * Unit tests of the sync group's pure parts: the wire format
 * (src/player/group/wire.c: round trip, MAC, forgeries and strangers
 * refused) and the group clock (src/player/group/clock.c: the first lock
 * steps, the least-delay sample wins, a locked clock only slews, at most
 * 5 % of real time, and a leader runs free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "group/clock.h"
#include "group/wire.h"

#define MS INT64_C(1000000)
#define S  (1000 * MS)

static const uint8_t key[GROUP_KEY_SIZE] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                            17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct group_msg sample_msg(void)
{
	struct group_msg m = {.type = GROUP_DELAY_RESP,
	                      .role = GROUP_LEADER,
	                      .flags = GROUP_FLAG_SYNCED,
	                      .sender = 1,
	                      .leader = 1,
	                      .target = 3,
	                      .session = UINT64_C(0x0123456789abcdef),
	                      .seq = 42,
	                      .t1 = -5,
	                      .t2 = INT64_C(1764800000000000000),
	                      .t3 = INT64_C(1764800000000000123)};
	group_wire_tag("0f8e5c2a-group", m.tag);
	return m;
}

static void test_wire_round_trip(void **state)
{
	(void)state;
	struct group_msg m = sample_msg(), back;
	uint8_t out[GROUP_WIRE_SIZE];
	group_wire_encode(&m, key, out);
	assert_true(group_wire_decode(out, sizeof out, m.tag, key, &back));
	assert_memory_equal(&m, &back, sizeof m);
}

static void test_wire_refuses_forgeries_and_strangers(void **state)
{
	(void)state;
	struct group_msg m = sample_msg(), back;
	uint8_t out[GROUP_WIRE_SIZE], other_key[GROUP_KEY_SIZE], other_tag[GROUP_TAG_SIZE];
	memcpy(other_key, key, sizeof key);
	other_key[0] ^= 1;
	group_wire_tag("another-group", other_tag);
	group_wire_encode(&m, other_key, out); /* a stranger with its own key */
	assert_false(group_wire_decode(out, sizeof out, m.tag, key, &back));
	group_wire_encode(&m, key, out);
	assert_false(group_wire_decode(out, sizeof out, other_tag, key, &back)); /* another group's */
	assert_false(group_wire_decode(out, sizeof out - 1, m.tag, key, &back)); /* short */
	for (size_t i = 0; i < GROUP_WIRE_SIZE; i++) {                           /* any bit changed */
		uint8_t bad[GROUP_WIRE_SIZE];
		memcpy(bad, out, sizeof bad);
		bad[i] ^= 0x10;
		assert_false(group_wire_decode(bad, sizeof bad, m.tag, key, &back));
	}
	m.sender = 0; /* nobody */
	group_wire_encode(&m, key, out);
	assert_false(group_wire_decode(out, sizeof out, m.tag, key, &back));
}

/* One exchange with a leader whose clock is ours + theta, one-way delays
 * up and down. */
static void exchange(struct group_clock *c, int64_t local, int64_t theta, int64_t up, int64_t down)
{
	int64_t t1 = local, t2 = local + up + theta, t3 = t2 + 100000, t4 = t1 + up + 100000 + down;
	assert_true(group_clock_sample(c, t1, t2, t3, t4));
}

static void test_clock_steps_to_lock_then_slews(void **state)
{
	(void)state;
	struct group_clock c;
	int64_t local = 1000 * S, leader_off = 3 * S; /* we are 3 s behind the leader */
	group_clock_init(&c, local, local);
	group_clock_follow(&c, local);
	assert_false(c.locked);
	for (int i = 0; i < GROUP_CLOCK_LOCK_AFTER; i++, local += 250 * MS)
		exchange(&c, local, leader_off, 2 * MS, 2 * MS);
	assert_true(c.locked);
	assert_true(c.synced);
	int64_t g = group_clock_now(&c, local);
	assert_true(llabs(g - (local + leader_off)) < MS / 10);
	/* the leader's clock moves 100 ms: a locked clock slews, 5 % of real time at most */
	leader_off += 100 * MS;
	unsigned steps = c.steps;
	exchange(&c, local, leader_off, 2 * MS, 2 * MS);
	int64_t before = group_clock_now(&c, local + 10 * MS); /* after the answer came */
	int64_t after = group_clock_now(&c, local + 110 * MS);
	assert_true(after - before <= 100 * MS + 5 * MS + 1);
	assert_true(after - before >= 100 * MS + 5 * MS - 1);
	/* a small move (1 ms) is followed smoothly, never faster than the slew */
	leader_off += 1 * MS;
	int64_t last = group_clock_now(&c, local + 110 * MS), at = local + 110 * MS;
	for (int i = 0; i < 40; i++) {
		local += 250 * MS;
		exchange(&c, local, leader_off, 2 * MS, 2 * MS);
		int64_t now = group_clock_now(&c, local + 5 * MS);
		assert_true((double)(now - last) <= (double)(local + 5 * MS - at) * (1 + GROUP_CLOCK_SLEW) + 1);
		last = now;
		at = local + 5 * MS;
	}
	after = group_clock_now(&c, local + 1 * S);
	assert_true(llabs(after - (local + 1 * S + leader_off)) < MS / 10);
	assert_int_equal(c.steps, steps);
}

static void test_clock_least_delay_sample_wins(void **state)
{
	(void)state;
	struct group_clock c;
	int64_t local = 50 * S;
	group_clock_init(&c, local, local);
	group_clock_follow(&c, local);
	/* asymmetric delays bias an estimate by half their difference: the
	 * shortest round trip (1 ms each way) must be the one kept */
	exchange(&c, local, 0, 12 * MS, 2 * MS);
	exchange(&c, local += 250 * MS, 0, 2 * MS, 9 * MS);
	exchange(&c, local += 250 * MS, 0, 1 * MS, 1 * MS);
	exchange(&c, local += 250 * MS, 0, 8 * MS, 3 * MS);
	assert_int_equal(c.target_ns, 0);
	assert_int_equal(c.delay_ns, 2 * MS);
	/* impossible samples are dropped */
	assert_false(group_clock_sample(&c, local, 0, 0, local - 1));
	assert_false(group_clock_sample(&c, local, 0, 2 * S, local + S));
}

static void test_clock_leader_runs_free(void **state)
{
	(void)state;
	struct group_clock c;
	int64_t local = 7 * S;
	group_clock_init(&c, local, local + 5 * S);
	assert_int_equal(group_clock_now(&c, local + S), local + 6 * S);
	group_clock_follow(&c, local);
	exchange(&c, local, 2 * S, MS, MS);
	group_clock_free_run(&c, local);
	int64_t g = group_clock_now(&c, local);
	assert_int_equal(group_clock_now(&c, local + 10 * S), g + 10 * S);
	assert_true(group_clock_error_ns(&c) == 0);
	assert_false(group_clock_sample(&c, local, 0, 0, local + MS)); /* no longer following */
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_round_trip),
	    cmocka_unit_test(test_wire_refuses_forgeries_and_strangers),
	    cmocka_unit_test(test_clock_steps_to_lock_then_slews),
	    cmocka_unit_test(test_clock_least_delay_sample_wins),
	    cmocka_unit_test(test_clock_leader_runs_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
