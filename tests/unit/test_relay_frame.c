/*
 * Unit tests of the relay's pure parts: the first frame
 * (src/relay/first_frame.c) -- complete, partial, too long, empty, with
 * the session's bytes after it -- its status lines, and the server key
 * file forms (src/relay/server_key.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/first_frame.h"
#include "relay/server_key.h"

static void test_frames(void **state)
{
	(void)state;
	const char *text;
	size_t tlen, flen;
	const uint8_t ok[] = {0, 3, 'a', 'b', 'c', 'x', 'y'};
	assert_int_equal(first_frame_parse(ok, sizeof ok, &text, &tlen, &flen), FIRST_FRAME_OK);
	assert_int_equal(tlen, 3);
	assert_int_equal(flen, 5); /* "xy" belongs to the session */
	assert_memory_equal(text, "abc", 3);
	for (size_t n = 0; n < 5; n++)
		assert_int_equal(first_frame_parse(ok, n, &text, &tlen, &flen), FIRST_FRAME_NEED_MORE);
	const uint8_t empty[] = {0, 0, 'a'};
	assert_int_equal(first_frame_parse(empty, sizeof empty, &text, &tlen, &flen), FIRST_FRAME_BAD);
	const uint8_t too_long[] = {(TICKET_TEXT_MAX + 1) >> 8, (TICKET_TEXT_MAX + 1) & 0xff};
	assert_int_equal(first_frame_parse(too_long, sizeof too_long, &text, &tlen, &flen), FIRST_FRAME_BAD);
	const uint8_t longest[] = {TICKET_TEXT_MAX >> 8, TICKET_TEXT_MAX & 0xff};
	assert_int_equal(first_frame_parse(longest, sizeof longest, &text, &tlen, &flen), FIRST_FRAME_NEED_MORE);
	const uint8_t http[] = "GET / HTTP/1.1\r\n";
	assert_int_equal(first_frame_parse(http, sizeof http - 1, &text, &tlen, &flen), FIRST_FRAME_BAD);
}

static void test_status_lines(void **state)
{
	(void)state;
	char line[64];
	assert_int_equal(first_frame_status("", line), 7);
	assert_string_equal(line, "paired\n");
	assert_int_equal(first_frame_status("ticket_replayed", line), strlen("error ticket_replayed\n"));
	assert_string_equal(line, "error ticket_replayed\n");
}

static void test_server_key_forms(void **state)
{
	(void)state;
	unsigned char raw[crypto_sign_PUBLICKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(server_key_parse(raw, sizeof raw, pk), 0);
	assert_memory_equal(pk, raw, sizeof raw);
	const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	for (size_t v = 0; v < 2; v++) {
		char b64[80], file[90];
		sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, variants[v]);
		snprintf(file, sizeof file, "  %s\n", b64);
		memset(pk, 0, sizeof pk);
		assert_int_equal(server_key_parse((const unsigned char *)file, strlen(file), pk), 0);
		assert_memory_equal(pk, raw, sizeof raw);
	}
	const char *bad[] = {"", "not a key\n", "AAAA\n",
	                     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\n"}; /* 36 bytes */
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(server_key_parse((const unsigned char *)bad[i], strlen(bad[i]), pk), -1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frames),
	    cmocka_unit_test(test_status_lines),
	    cmocka_unit_test(test_server_key_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
