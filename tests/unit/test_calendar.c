/*
 * Unit tests of src/common/calendar.c: dates that exist and times of day,
 * digits only, as channels, schedules and the CLI accept them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/calendar.h"

static void test_dates(void **state)
{
	(void)state;
	assert_true(calendar_valid_date("2026-11-23"));
	assert_true(calendar_valid_date("2024-02-29"));  /* leap year */
	assert_true(calendar_valid_date("2000-02-29"));  /* divisible by 400 */
	assert_false(calendar_valid_date("2100-02-29")); /* divisible by 100 only */
	assert_false(calendar_valid_date("2025-02-29"));
	assert_false(calendar_valid_date("2025-02-31"));
	assert_false(calendar_valid_date("2025-04-31"));
	assert_false(calendar_valid_date("2025-13-01"));
	assert_false(calendar_valid_date("2025-00-10"));
	assert_false(calendar_valid_date("2025-1-10"));
	assert_false(calendar_valid_date("2025-01- 9"));
	assert_false(calendar_valid_date("+025-01-09"));
	assert_false(calendar_valid_date("2025/01/09"));
	assert_false(calendar_valid_date(""));
	assert_false(calendar_valid_date(NULL));
}

static void test_times(void **state)
{
	(void)state;
	assert_int_equal(calendar_minutes("00:00"), 0);
	assert_int_equal(calendar_minutes("09:30"), 570);
	assert_int_equal(calendar_minutes("23:59"), 1439);
	assert_int_equal(calendar_minutes("24:00"), 1440);
	assert_int_equal(calendar_minutes("24:01"), -1);
	assert_int_equal(calendar_minutes("12:60"), -1);
	assert_int_equal(calendar_minutes(" 9:30"), -1);
	assert_int_equal(calendar_minutes("+1:00"), -1);
	assert_int_equal(calendar_minutes("9:30"), -1);
	assert_int_equal(calendar_minutes("09-30"), -1);
	assert_int_equal(calendar_minutes(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
