/*
 * Unit tests of src/common/buf.c: appending bytes and formatted text, the
 * NUL after the contents, the cap (refused additions leave the contents
 * intact), reset, truncate, taking ownership, and size arithmetic that
 * would wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void test_empty(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_len(&b), 0);
	assert_string_equal(buf_str(&b), "");
	assert_null(buf_ptr(&b));
	buf_free(&b);
	buf_free(&b); /* twice is harmless */
}

static void test_add_and_nul(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1000);
	assert_int_equal(buf_add(&b, "abc", 3), BUF_OK);
	assert_int_equal(buf_addstr(&b, "def"), BUF_OK);
	assert_int_equal(buf_add(&b, NULL, 0), BUF_OK);
	assert_int_equal(buf_len(&b), 6);
	assert_string_equal(buf_str(&b), "abcdef");
	assert_int_equal(buf_ptr(&b)[6], '\0');
	/* binary data with a NUL inside keeps its length */
	assert_int_equal(buf_add(&b, "x\0y", 3), BUF_OK);
	assert_int_equal(buf_len(&b), 9);
	assert_memory_equal(buf_ptr(&b), "abcdefx\0y", 10);
	buf_free(&b);
}

static void test_growth_many_small(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_add(&b, "0123456789", 10), BUF_OK);
	assert_int_equal(buf_len(&b), 100000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(buf_str(&b)[i], '0' + (int)(i % 10));
	assert_int_equal(buf_str(&b)[100000], '\0');
	buf_free(&b);
}

static void test_printf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), BUF_OK);
	assert_int_equal(buf_printf(&b, ";%05u", 7u), BUF_OK);
	assert_string_equal(buf_str(&b), "n=42;00007");
	/* longer than the internal first attempt */
	char big[1000];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), BUF_OK);
	assert_int_equal(buf_len(&b), 10 + 2 + 999);
	assert_int_equal(buf_str(&b)[10], '[');
	assert_int_equal(buf_str(&b)[1010], ']');
	assert_int_equal(buf_str(&b)[1011], '\0');
	buf_free(&b);
}

static void test_cap_exact_and_over(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_add(&b, "12345678", 8), BUF_OK); /* exactly the cap */
	assert_int_equal(buf_add(&b, "9", 1), BUF_TOO_BIG);
	assert_string_equal(buf_str(&b), "12345678"); /* unchanged */
	assert_int_equal(buf_len(&b), 8);
	buf_reset(&b);
	assert_int_equal(buf_add(&b, "123456789", 9), BUF_TOO_BIG);
	assert_int_equal(buf_len(&b), 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void test_cap_printf(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 300);
	assert_int_equal(buf_addstr(&b, "head:"), BUF_OK);
	char big[400];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), BUF_TOO_BIG);
	assert_string_equal(buf_str(&b), "head:");
	assert_int_equal(buf_printf(&b, "%.*s", 295, big), BUF_OK);
	assert_int_equal(buf_len(&b), 300);
	assert_int_equal(buf_printf(&b, "%c", 'x'), BUF_TOO_BIG);
	assert_int_equal(buf_printf(&b, "%s", ""), BUF_OK);
	buf_free(&b);
}

static void test_zero_cap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_add(&b, "", 0), BUF_OK);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_add(&b, "a", 1), BUF_TOO_BIG);
	buf_free(&b);
}

static void test_no_wrap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, SIZE_MAX); /* clamped */
	assert_int_equal(buf_add(&b, "abc", 3), BUF_OK);
	/* lengths that would wrap len + n + 1 are refused, never allocated */
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), BUF_TOO_BIG);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX - 2), BUF_TOO_BIG);
	assert_int_equal(buf_add(&b, "x", BUF_MAX_LIMIT), BUF_TOO_BIG);
	assert_string_equal(buf_str(&b), "abc");
	buf_free(&b);
}

static void test_reset_keeps_memory(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1000);
	assert_int_equal(buf_addstr(&b, "something long enough"), BUF_OK);
	char *before = buf_ptr(&b);
	buf_reset(&b);
	assert_int_equal(buf_len(&b), 0);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_addstr(&b, "again"), BUF_OK);
	assert_ptr_equal(buf_ptr(&b), before);
	assert_string_equal(buf_str(&b), "again");
	buf_free(&b);
}

static void test_truncate(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_addstr(&b, "hello world"), BUF_OK);
	buf_truncate(&b, 50); /* longer: no-op */
	assert_string_equal(buf_str(&b), "hello world");
	buf_truncate(&b, 5);
	assert_string_equal(buf_str(&b), "hello");
	assert_int_equal(buf_len(&b), 5);
	buf_free(&b);
}

static void test_take(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_addstr(&b, "owned"), BUF_OK);
	size_t len = 0;
	char *s = buf_take(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 5);
	assert_string_equal(s, "owned");
	free(s);
	/* the buffer is empty and usable again */
	assert_int_equal(buf_len(&b), 0);
	assert_null(buf_ptr(&b));
	assert_int_equal(buf_addstr(&b, "next"), BUF_OK);
	assert_string_equal(buf_str(&b), "next");
	buf_free(&b);
	/* an empty buffer gives an empty string, not NULL */
	s = buf_take(&b, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

/* A secret buffer grows by copying (contents kept) and wipes what it
 * resets or truncates. */
static void test_secret(void **state)
{
	(void)state;
	struct buf b;
	buf_init_secret(&b, 1 << 16);
	assert_int_equal(buf_addstr(&b, "vt_token"), BUF_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_printf(&b, "%03d", i), BUF_OK);
	assert_int_equal(buf_len(&b), 8 + 300);
	assert_memory_equal(buf_str(&b), "vt_token000001002", 17);
	assert_memory_equal(buf_str(&b) + 305, "099", 4);
	char *p = buf_ptr(&b);
	buf_truncate(&b, 3);
	assert_string_equal(buf_str(&b), "vt_");
	for (size_t i = 3; i < 308; i++)
		assert_int_equal(p[i], 0);
	buf_reset(&b);
	assert_ptr_equal(buf_ptr(&b), p);
	for (size_t i = 0; i < 308; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(buf_add(&b, "x", 1 << 17), BUF_TOO_BIG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_add_and_nul),
	    cmocka_unit_test(test_growth_many_small),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_cap_exact_and_over),
	    cmocka_unit_test(test_cap_printf),
	    cmocka_unit_test(test_zero_cap),
	    cmocka_unit_test(test_no_wrap),
	    cmocka_unit_test(test_reset_keeps_memory),
	    cmocka_unit_test(test_truncate),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
