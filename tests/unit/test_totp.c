/*
 * Unit tests of src/server/auth/totp.c: secrets, the +-1 step window, replay
 * refusal, and the RFC 6238 SHA-1 test vectors (6-digit form).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "server/auth/auth.h"

/* base32 of the RFC 6238 SHA-1 secret "12345678901234567890" */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define T0         ((int64_t)1700000015) /* mid-step: 1700000015 / 30 = 56666667 */

static void test_new_secret(void **state)
{
	(void)state;
	char a[40], b[40];
	auth_totp_new_secret(a);
	auth_totp_new_secret(b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strlen(b), 32);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	assert_string_not_equal(a, b);
	/* the secret works with the rest of the module */
	char code[7];
	assert_int_equal(auth_totp_code(a, T0, code), 0);
	assert_int_equal(strlen(code), 6);
}

static void test_rfc6238_vectors(void **state)
{
	(void)state;
	/* RFC 6238 appendix B, SHA-1, truncated to the last 6 digits */
	static const struct {
		int64_t t;
		const char *code;
	} v[] = {
	    {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
	    {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char code[7] = "";
		assert_int_equal(auth_totp_code(RFC_SECRET, v[i].t, code), 0);
		assert_string_equal(code, v[i].code);
		assert_int_equal(auth_totp_check(RFC_SECRET, v[i].code, v[i].t, 0), v[i].t / 30);
	}
}

static void test_code_then_check(void **state)
{
	(void)state;
	char secret[40], code[7];
	auth_totp_new_secret(secret);
	assert_int_equal(auth_totp_code(secret, T0, code), 0);
	int64_t step = auth_totp_check(secret, code, T0, 0);
	assert_int_equal(step, T0 / 30);
	/* any moment inside the same step */
	assert_int_equal(auth_totp_check(secret, code, (T0 / 30) * 30, 0), step);
	assert_int_equal(auth_totp_check(secret, code, (T0 / 30) * 30 + 29, 0), step);
}

static void test_replay_refused(void **state)
{
	(void)state;
	char code[7];
	assert_int_equal(auth_totp_code(RFC_SECRET, T0, code), 0);
	int64_t step = auth_totp_check(RFC_SECRET, code, T0, 0);
	assert_int_equal(step, T0 / 30);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, T0, step), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, T0 + 1, step), -1);
	/* a later step was used already: an older code cannot come back */
	assert_int_equal(auth_totp_check(RFC_SECRET, code, T0, step + 1), -1);
	/* the next step's code is still fine */
	char next[7];
	assert_int_equal(auth_totp_code(RFC_SECRET, T0 + 30, next), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, next, T0 + 30, step), step + 1);
}

static void test_window(void **state)
{
	(void)state;
	char prev[7], next[7], cur[7], far_past[7], far_future[7];
	assert_int_equal(auth_totp_code(RFC_SECRET, T0 - 30, prev), 0);
	assert_int_equal(auth_totp_code(RFC_SECRET, T0 + 30, next), 0);
	assert_int_equal(auth_totp_code(RFC_SECRET, T0, cur), 0);
	assert_int_equal(auth_totp_code(RFC_SECRET, T0 - 60, far_past), 0);
	assert_int_equal(auth_totp_code(RFC_SECRET, T0 + 60, far_future), 0);
	/* the fixed secret and time make these codes distinct (checked, so a
	 * coincidence cannot make the test lie) */
	assert_string_not_equal(far_past, cur);
	assert_string_not_equal(far_past, prev);
	assert_string_not_equal(far_past, next);
	assert_string_not_equal(far_future, cur);
	assert_string_not_equal(far_future, prev);
	assert_string_not_equal(far_future, next);

	/* one step early or late: accepted, and the step says which */
	assert_int_equal(auth_totp_check(RFC_SECRET, prev, T0, 0), T0 / 30 - 1);
	assert_int_equal(auth_totp_check(RFC_SECRET, next, T0, 0), T0 / 30 + 1);
	/* two steps away: refused */
	assert_int_equal(auth_totp_check(RFC_SECRET, far_past, T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, far_future, T0, 0), -1);
}

static void test_bad_input(void **state)
{
	(void)state;
	char code[7];
	assert_int_equal(auth_totp_code(RFC_SECRET, T0, code), 0);
	char bad[16];
	assert_int_equal(auth_totp_check(RFC_SECRET, "", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "12345", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "1234567", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "12345a", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "-12345", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, " 12345", T0, 0), -1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "12 345", T0, 0), -1);
	snprintf(bad, sizeof bad, "%s ", code); /* trailing space */
	assert_int_equal(auth_totp_check(RFC_SECRET, bad, T0, 0), -1);
	snprintf(bad, sizeof bad, "0%s", code); /* 7 digits */
	assert_int_equal(auth_totp_check(RFC_SECRET, bad, T0, 0), -1);
	/* the right code with a broken secret */
	assert_int_equal(auth_totp_check("not base32!", code, T0, 0), -1);
	assert_int_equal(auth_totp_code("not base32!", T0, code), -1);
	/* and the right code is still right */
	assert_int_equal(auth_totp_code(RFC_SECRET, T0, code), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, code, T0, 0), T0 / 30);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_secret),      cmocka_unit_test(test_rfc6238_vectors),
	    cmocka_unit_test(test_code_then_check), cmocka_unit_test(test_replay_refused),
	    cmocka_unit_test(test_window),          cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests_name("totp", tests, NULL, NULL);
}
