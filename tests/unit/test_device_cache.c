/*
 * Unit tests of src/server/auth/device_cache.c: a cached token answers
 * until it expires; "screen:<id>" drops that screen's tokens only, the
 * empty key every token; a store answer read before a drop is not cached
 * after it (the generation); the cache starts over at its bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/auth/device_cache.h"

static struct device_cache_entry entry(const char *screen, const char *account)
{
	struct device_cache_entry e;
	snprintf(e.screen_id, sizeof e.screen_id, "%s", screen);
	snprintf(e.account_id, sizeof e.account_id, "%s", account);
	return e;
}

static int reset(void **state)
{
	(void)state;
	device_cache_clear();
	return 0;
}

static void test_hit_until_expiry(void **state)
{
	(void)state;
	struct device_cache_entry e = entry("scr1", "acct1"), got;
	assert_false(device_cache_get("h1", 1000, &got));
	assert_true(device_cache_put("h1", &e, device_cache_generation(), 1000));
	assert_true(device_cache_get("h1", 1000 + DEVICE_CACHE_TTL_S * 1000 - 1, &got));
	assert_string_equal(got.screen_id, "scr1");
	assert_string_equal(got.account_id, "acct1");
	assert_false(device_cache_get("h1", 1000 + DEVICE_CACHE_TTL_S * 1000, &got));
	assert_int_equal(device_cache_count(), 0); /* the expired entry went */
}

static void test_screen_key_drops_that_screen_only(void **state)
{
	(void)state;
	struct device_cache_entry a = entry("scrA", "acct"), b = entry("scrB", "acct"), got;
	uint64_t g = device_cache_generation();
	assert_true(device_cache_put("old-token-of-A", &a, g, 0));
	assert_true(device_cache_put("new-token-of-A", &a, g, 0));
	assert_true(device_cache_put("token-of-B", &b, g, 0));
	device_cache_notify("account:acct"); /* not a revocation */
	device_cache_notify("instruction:x");
	assert_int_equal(device_cache_count(), 3);
	device_cache_notify("screen:scrA");
	assert_false(device_cache_get("old-token-of-A", 1, &got));
	assert_false(device_cache_get("new-token-of-A", 1, &got));
	assert_true(device_cache_get("token-of-B", 1, &got));
	assert_string_equal(got.screen_id, "scrB");
	device_cache_notify(""); /* wake-ups may have been missed */
	assert_false(device_cache_get("token-of-B", 1, &got));
	assert_int_equal(device_cache_count(), 0);
}

static void test_an_answer_read_before_a_drop_is_not_cached(void **state)
{
	(void)state;
	struct device_cache_entry a = entry("scrA", "acct"), got;
	uint64_t g = device_cache_generation(); /* a lookup starts, reads the store */
	device_cache_notify("screen:scrA");     /* meanwhile the token is revoked */
	assert_false(device_cache_put("token-of-A", &a, g, 0));
	assert_false(device_cache_get("token-of-A", 1, &got));
	/* an expiry is no drop: it does not spoil other lookups */
	g = device_cache_generation();
	assert_true(device_cache_put("t1", &a, g, 0));
	assert_false(device_cache_get("t1", DEVICE_CACHE_TTL_S * 1000, &got));
	assert_true(device_cache_put("t2", &a, g, 0));
}

static void test_replacing_and_the_bound(void **state)
{
	(void)state;
	struct device_cache_entry a = entry("scrA", "acct"), b = entry("scrB", "acct"), got;
	assert_true(device_cache_put("t", &a, device_cache_generation(), 0));
	assert_true(device_cache_put("t", &b, device_cache_generation(), 0));
	assert_int_equal(device_cache_count(), 1);
	assert_true(device_cache_get("t", 1, &got));
	assert_string_equal(got.screen_id, "scrB");
	device_cache_forget_screen("scrA"); /* the entry moved to B: stays */
	assert_true(device_cache_get("t", 1, &got));
	char h[CODES_ID_LEN + 1];
	for (int i = 0; i < DEVICE_CACHE_MAX; i++) {
		snprintf(h, sizeof h, "h%d", i % 1000000);
		struct device_cache_entry e = entry(h, "acct");
		assert_true(device_cache_put(h, &e, device_cache_generation(), 0));
	}
	assert_true(device_cache_count() <= DEVICE_CACHE_MAX);
	assert_true(device_cache_get(h, 1, &got)); /* the newest is kept */
	assert_string_equal(got.screen_id, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_hit_until_expiry, reset),
	    cmocka_unit_test_setup(test_screen_key_drops_that_screen_only, reset),
	    cmocka_unit_test_setup(test_an_answer_read_before_a_drop_is_not_cached, reset),
	    cmocka_unit_test_setup(test_replacing_and_the_bound, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	device_cache_clear();
	return rc;
}
