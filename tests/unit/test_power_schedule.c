/*
 * Unit tests of src/common/power_schedule.c: checking schedules (the
 * sentences name the bad period) and deciding on/off, past midnight and on
 * the days given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/power_schedule.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	assert_non_null(j);
	return j;
}

static void bad(const char *text, const char *expect)
{
	json_t *j = load(text);
	char err[200];
	const char *why = power_schedule_check(j, err, sizeof err);
	if (!why || !strstr(why, expect))
		print_error("schedule %s: got \"%s\", wanted \"%s\"\n", text, why ? why : "(accepted)", expect);
	assert_non_null(why);
	assert_non_null(strstr(why, expect));
	/* a schedule that does not check never darkens the screen */
	assert_true(power_schedule_on(j, 1, 0));
	json_decref(j);
}

static void test_check(void **state)
{
	(void)state;
	char err[200];
	json_t *ok =
	    load("[{\"days\":[1,2,3,4,5],\"on\":\"07:30\",\"off\":\"19:00\"},{\"on\":\"22:00\",\"off\":\"02:00\"}]");
	assert_null(power_schedule_check(ok, err, sizeof err));
	json_decref(ok);
	bad("{}", "list");
	bad("[1]", "period 0 must be an object");
	bad("[{\"on\":\"7:30\",\"off\":\"19:00\"}]", "HH:MM");
	bad("[{\"on\":\"24:00\",\"off\":\"19:00\"}]", "HH:MM");
	bad("[{\"on\":\"07:60\",\"off\":\"19:00\"}]", "HH:MM");
	bad("[{\"on\":\"07:00\"}]", "HH:MM");
	bad("[{\"on\":\"07:00\",\"off\":\"07:00\"}]", "same time");
	bad("[{\"on\":\"07:00\",\"off\":\"08:00\",\"days\":[]}]", "weekdays");
	bad("[{\"on\":\"07:00\",\"off\":\"08:00\",\"days\":[1,1]}]", "weekdays");
	bad("[{\"on\":\"07:00\",\"off\":\"08:00\",\"days\":[8]}]", "weekdays");
	bad("[{\"on\":\"07:00\",\"off\":\"08:00\",\"when\":1}]", "unknown field \"when\"");
	bad("[{\"on\":\"07:00\",\"off\":\"08:00\"},{\"on\":\"x\",\"off\":\"08:00\"}]", "period 1");
}

static void test_on_and_off(void **state)
{
	(void)state;
	json_t *empty = load("[]");
	assert_true(power_schedule_on(empty, 3, 600)); /* no schedule: always on */
	json_decref(empty);
	json_t *office = load("[{\"days\":[1,2,3,4,5],\"on\":\"07:30\",\"off\":\"19:00\"}]");
	assert_false(power_schedule_on(office, 1, 7 * 60 + 29));
	assert_true(power_schedule_on(office, 1, 7 * 60 + 30));
	assert_true(power_schedule_on(office, 5, 18 * 60 + 59));
	assert_false(power_schedule_on(office, 5, 19 * 60));
	assert_false(power_schedule_on(office, 6, 12 * 60)); /* Saturday */
	json_decref(office);
	json_t *night = load("[{\"days\":[5],\"on\":\"22:00\",\"off\":\"02:00\"}]");
	assert_true(power_schedule_on(night, 5, 23 * 60));
	assert_true(power_schedule_on(night, 6, 60)); /* Friday's period runs into Saturday */
	assert_false(power_schedule_on(night, 6, 2 * 60));
	assert_false(power_schedule_on(night, 5, 60)); /* Thursday had none */
	json_decref(night);
	json_t *sunday = load("[{\"days\":[7],\"on\":\"23:00\",\"off\":\"01:00\"}]");
	assert_true(power_schedule_on(sunday, 1, 30)); /* Sunday's into Monday */
	json_decref(sunday);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_check), cmocka_unit_test(test_on_and_off)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
