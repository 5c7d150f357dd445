/*
 * Unit tests of src/common/strfmt.c: a text that fits is written whole and
 * accepted; one byte too long is refused (and still NUL-terminated), so a
 * cut path or URL is never used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/strfmt.h"

static void test_fits(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(strfmt(out, sizeof out, "%s/%s", "data", "keys"), 0);
	assert_string_equal(out, "data/keys");
	/* exactly 15 characters + NUL */
	assert_int_equal(strfmt(out, sizeof out, "%s", "123456789012345"), 0);
	assert_string_equal(out, "123456789012345");
	assert_int_equal(strfmt(out, sizeof out, "%s", ""), 0);
	assert_string_equal(out, "");
}

static void test_cut_is_refused(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(strfmt(out, sizeof out, "%s", "1234567890123456"), -1);
	assert_int_equal(strlen(out), 15); /* terminated, but refused */
	assert_int_equal(strfmt(out, sizeof out, "/api/v1/screens/%s/channel", "abcdefghijklmnop"), -1);
	char none[1];
	assert_int_equal(strfmt(none, sizeof none, "%s", "x"), -1);
	assert_int_equal(none[0], '\0');
	assert_int_equal(strfmt(none, sizeof none, "%s", ""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fits),
	    cmocka_unit_test(test_cut_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
