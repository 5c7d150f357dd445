/*
 * Unit tests of src/common/codes.c: opaque ids, tokens, hashes, constant-time
 * comparison, the user codes people type, and base32 (RFC 4648 vectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/codes.h"

static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool all_in(const char *s, const char *alphabet)
{
	return strspn(s, alphabet) == strlen(s);
}

static void test_new_id(void **state)
{
	(void)state;
	char a[CODES_ID_LEN + 1], b[CODES_ID_LEN + 1];
	codes_new_id(a);
	codes_new_id(b);
	assert_int_equal(strlen(a), CODES_ID_LEN);
	assert_int_equal(strlen(b), CODES_ID_LEN);
	assert_true(all_in(a, base32_alphabet));
	assert_true(codes_is_id(a));
	assert_true(codes_is_id(b));
	assert_string_not_equal(a, b);
	for (int i = 0; i < 200; i++) {
		codes_new_id(a);
		assert_true(codes_is_id(a));
	}
}

static void test_is_id(void **state)
{
	(void)state;
	assert_true(codes_is_id("abcdefghijklmn23"));
	assert_false(codes_is_id(""));
	assert_false(codes_is_id("abcdefghijklmn2"));   /* 15 */
	assert_false(codes_is_id("abcdefghijklmn234")); /* 17 */
	assert_false(codes_is_id("ABCDEFGHIJKLMN23"));  /* upper case */
	assert_false(codes_is_id("abcdefghijklmn01"));  /* 0 and 1 are not base32 */
	assert_false(codes_is_id("abcdefghijklmn89"));
	assert_false(codes_is_id("abcdefghijklmn2/"));
	assert_false(codes_is_id("abcdefg ijklmn23"));
	assert_false(codes_is_id("../../etc/passwd"));
}

static void test_tokens(void **state)
{
	(void)state;
	char a[CODES_TOKEN_LEN], b[CODES_TOKEN_LEN];
	codes_new_token("vs_", a);
	codes_new_token("vs_", b);
	assert_int_equal(strlen(a), 55);
	assert_int_equal(strlen(b), 55);
	assert_memory_equal(a, "vs_", 3);
	assert_true(all_in(a + 3, base32_alphabet));
	assert_string_not_equal(a, b);
	codes_new_token("vt_", a);
	assert_memory_equal(a, "vt_", 3);
	assert_int_equal(strlen(a), CODES_TOKEN_LEN - 1);
}

static void test_hash_hex(void **state)
{
	(void)state;
	char h[CODES_HASH_HEX_LEN];
	codes_hash_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	codes_hash_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* the length is honoured, not the NUL */
	codes_hash_hex("abcdef", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hex(void **state)
{
	(void)state;
	const uint8_t raw[] = {0x00, 0x01, 0xab, 0xff};
	char out[9];
	codes_hex(raw, sizeof raw, out);
	assert_string_equal(out, "0001abff");
	codes_hex(raw, 0, out);
	assert_string_equal(out, "");
}

static void test_is_sha256(void **state)
{
	(void)state;
	char h[CODES_HASH_HEX_LEN];
	codes_hash_hex("abc", 3, h);
	assert_true(codes_is_sha256(h));
	assert_true(codes_is_sha256("0000000000000000000000000000000000000000000000000000000000000000"));
	assert_false(codes_is_sha256(NULL));
	assert_false(codes_is_sha256(""));
	/* 63 and 65 digits */
	assert_false(codes_is_sha256("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
	assert_false(codes_is_sha256("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
	/* upper case, a non-hex letter, a path */
	assert_false(codes_is_sha256("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(codes_is_sha256("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(codes_is_sha256("../7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(codes_equal("", ""));
	assert_true(codes_equal("secret", "secret"));
	assert_false(codes_equal("secret", "secreT"));
	assert_false(codes_equal("secret", "secret2"));
	assert_false(codes_equal("secret2", "secret"));
	assert_false(codes_equal("", "x"));
}

static void test_user_codes(void **state)
{
	(void)state;
	char c[CODES_USER_CODE_LEN + 1];
	for (int i = 0; i < 2000; i++) {
		codes_new_user_code(c);
		assert_int_equal(strlen(c), CODES_USER_CODE_LEN);
		assert_true(all_in(c, CODES_USER_CODE_ALPHABET));
		assert_null(strpbrk(c, "0O1I"));
		char n[CODES_USER_CODE_LEN + 1];
		assert_true(codes_normalize_user_code(c, n));
		assert_string_equal(n, c);
	}
	assert_null(strpbrk(CODES_USER_CODE_ALPHABET, "0O1I"));
	assert_int_equal(strlen(CODES_USER_CODE_ALPHABET), 32);
}

static void test_normalize_user_code(void **state)
{
	(void)state;
	char out[CODES_USER_CODE_LEN + 1];
	assert_true(codes_normalize_user_code("abcd-efgh", out));
	assert_string_equal(out, "ABCDEFGH");
	assert_true(codes_normalize_user_code(" AbCd efGH ", out));
	assert_string_equal(out, "ABCDEFGH");
	assert_true(codes_normalize_user_code("2345-6789", out));
	assert_string_equal(out, "23456789");

	assert_false(codes_normalize_user_code("", out));
	assert_false(codes_normalize_user_code("----", out));
	assert_false(codes_normalize_user_code("ABCDEFG", out));   /* 7 */
	assert_false(codes_normalize_user_code("ABCDEFGHJ", out)); /* 9 */
	assert_false(codes_normalize_user_code("ABCDEFGHJKLMNPQRSTUVWXYZ", out));
	assert_false(codes_normalize_user_code("ABCDEFG0", out));
	assert_false(codes_normalize_user_code("ABCDEFGO", out));
	assert_false(codes_normalize_user_code("abcdefgo", out));
	assert_false(codes_normalize_user_code("ABCDEFG1", out));
	assert_false(codes_normalize_user_code("ABCDEFGI", out));
	assert_false(codes_normalize_user_code("ABCD_EFG", out));
	assert_false(codes_normalize_user_code("ABCDEFG\xc3\x89", out)); /* non-ASCII */
	assert_false(codes_normalize_user_code("ABCD\tEFGH", out));
}

static void test_base32_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10, lower case, padding dropped */
	static const struct {
		const char *in, *out;
	} v[] = {
	    {"", ""},
	    {"f", "my"},
	    {"fo", "mzxq"},
	    {"foo", "mzxw6"},
	    {"foob", "mzxw6yq"},
	    {"fooba", "mzxw6ytb"},
	    {"foobar", "mzxw6ytboi"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char out[32];
		size_t n = codes_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), out, sizeof out);
		assert_int_equal(n, strlen(v[i].out));
		assert_string_equal(out, v[i].out);
	}
}

static void test_base32_bounds(void **state)
{
	(void)state;
	char out[11];
	/* "foobar" needs 10 chars + NUL */
	assert_int_equal(codes_base32_encode((const uint8_t *)"foobar", 6, out, 11), 10);
	assert_int_equal(codes_base32_encode((const uint8_t *)"foobar", 6, out, 10), 0);
	assert_int_equal(codes_base32_encode((const uint8_t *)"", 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(codes_base32_encode((const uint8_t *)"f", 1, out, 0), 0);

	/* every byte value survives: 0xff.. encodes to all '7' where full */
	const uint8_t ff[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(codes_base32_encode(ff, 5, out, sizeof out), 8);
	assert_string_equal(out, "77777777");
	const uint8_t zero[5] = {0};
	assert_int_equal(codes_base32_encode(zero, 5, out, sizeof out), 8);
	assert_string_equal(out, "aaaaaaaa");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_id),
	    cmocka_unit_test(test_is_id),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_hash_hex),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_is_sha256),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_user_codes),
	    cmocka_unit_test(test_normalize_user_code),
	    cmocka_unit_test(test_base32_vectors),
	    cmocka_unit_test(test_base32_bounds),
	};
	return cmocka_run_group_tests_name("codes", tests, NULL, NULL);
}
