/*
 * Unit tests of remote-control tickets (src/common/ticket.c): what the
 * server signs, the relay accepts; anything else -- another key, a changed
 * byte, an expired or too long-lived ticket, garbage -- is refused with
 * its code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ticket.h"

static unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

static struct ticket sample(int64_t exp)
{
	struct ticket t = {.role = TICKET_HOST, .expires_at = exp};
	memcpy(t.session_id, "aaaabbbbccccdddd", CODES_ID_LEN + 1);
	memcpy(t.screen_id, "screenscreen2345", CODES_ID_LEN + 1);
	memcpy(t.user_id, "useruseruseruser", CODES_ID_LEN + 1);
	strcpy(t.relay, "relay.example.org:1970");
	return t;
}

static void test_signed_ticket_verifies(void **state)
{
	(void)state;
	struct ticket t = sample(1000 + 30), got;
	char text[TICKET_TEXT_MAX];
	assert_int_equal(ticket_sign(&t, sk, text, sizeof text), 0);
	assert_memory_equal(text, "vt1.", 4);
	assert_int_equal(ticket_verify(text, strlen(text), pk, 1000, &got), TICKET_OK);
	assert_string_equal(got.session_id, t.session_id);
	assert_string_equal(got.screen_id, t.screen_id);
	assert_string_equal(got.user_id, t.user_id);
	assert_string_equal(got.relay, t.relay);
	assert_int_equal(got.role, TICKET_HOST);
	assert_int_equal(got.expires_at, 1030);
	assert_memory_equal(got.nonce, t.nonce, sizeof t.nonce);
	/* two tickets of one session differ by their nonce */
	struct ticket t2 = sample(1030);
	char text2[TICKET_TEXT_MAX];
	assert_int_equal(ticket_sign(&t2, sk, text2, sizeof text2), 0);
	assert_string_not_equal(text, text2);
}

static void test_changed_or_foreign_tickets_are_invalid(void **state)
{
	(void)state;
	struct ticket t = sample(1030);
	char text[TICKET_TEXT_MAX];
	assert_int_equal(ticket_sign(&t, sk, text, sizeof text), 0);
	size_t n = strlen(text);
	for (size_t i = 4; i < n; i += 7) { /* any changed byte */
		char copy[TICKET_TEXT_MAX];
		memcpy(copy, text, n + 1);
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		assert_int_equal(ticket_verify(copy, n, pk, 1000, NULL), TICKET_INVALID);
	}
	unsigned char pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk2, sk2);
	assert_int_equal(ticket_verify(text, n, pk2, 1000, NULL), TICKET_INVALID);
	assert_int_equal(ticket_verify(text, n - 1, pk, 1000, NULL), TICKET_INVALID);
	const char *garbage[] = {"", "vt1.", "vt1..", "vt2.e30.AAAA", "vt1.e30", "GET / HTTP/1.1", "vt1.!!!.???"};
	for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
		assert_int_equal(ticket_verify(garbage[i], strlen(garbage[i]), pk, 1000, NULL), TICKET_INVALID);
	assert_string_equal(ticket_result_code(TICKET_INVALID), "ticket_invalid");
}

static void test_expired_and_long_lived_tickets(void **state)
{
	(void)state;
	struct ticket t = sample(1000);
	char text[TICKET_TEXT_MAX];
	assert_int_equal(ticket_sign(&t, sk, text, sizeof text), 0);
	assert_int_equal(ticket_verify(text, strlen(text), pk, 1000, NULL), TICKET_EXPIRED);
	assert_int_equal(ticket_verify(text, strlen(text), pk, 999, NULL), TICKET_OK);
	assert_string_equal(ticket_result_code(TICKET_EXPIRED), "ticket_expired");
	/* even signed, a life over TICKET_LIFETIME_MAX is not one the server gives */
	struct ticket longer = sample(1000 + TICKET_LIFETIME_MAX + 1);
	assert_int_equal(ticket_sign(&longer, sk, text, sizeof text), 0);
	assert_int_equal(ticket_verify(text, strlen(text), pk, 1000, NULL), TICKET_INVALID);
}

static void test_bad_tickets_are_not_signed(void **state)
{
	(void)state;
	char text[TICKET_TEXT_MAX];
	struct ticket t = sample(1030);
	strcpy(t.session_id, "short");
	assert_int_equal(ticket_sign(&t, sk, text, sizeof text), -1);
	t = sample(1030);
	t.relay[0] = '\0';
	assert_int_equal(ticket_sign(&t, sk, text, sizeof text), -1);
	t = sample(1030);
	assert_int_equal(ticket_sign(&t, sk, text, 20), -1); /* too small */
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signed_ticket_verifies),
	    cmocka_unit_test(test_changed_or_foreign_tickets_are_invalid),
	    cmocka_unit_test(test_expired_and_long_lived_tickets),
	    cmocka_unit_test(test_bad_tickets_are_not_signed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
