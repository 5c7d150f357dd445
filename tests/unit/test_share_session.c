/*
 * Unit tests of src/share/session.c: the share handshake agrees on the same
 * keys when both sides know the code and the screen key, refuses a sender
 * with a wrong key and a display that is an impostor, and the encrypted
 * records refuse what was altered or sent by someone without the key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "share/session.h"

static uint8_t auth_right[SHARE_AUTH_SIZE], auth_wrong[SHARE_AUTH_SIZE];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (share_auth_key("713042730", "123456", auth_right) != 0 ||
	    share_auth_key("713042730", "123457", auth_wrong) != 0)
		return -1;
	return 0;
}

static void test_auth_key(void **state)
{
	(void)state;
	uint8_t other_code[SHARE_AUTH_SIZE], again[SHARE_AUTH_SIZE];
	assert_int_equal(share_auth_key("000000000", "123456", other_code), 0);
	assert_int_equal(share_auth_key("713042730", "123456", again), 0);
	assert_memory_equal(again, auth_right, SHARE_AUTH_SIZE);
	assert_memory_not_equal(other_code, auth_right, SHARE_AUTH_SIZE);
	assert_memory_not_equal(auth_wrong, auth_right, SHARE_AUTH_SIZE);
	assert_int_equal(share_auth_key("713042730", "12345", again), -1);
	assert_int_equal(share_auth_key("713042730", "1234567", again), -1);
	assert_int_equal(share_auth_key("713042730", "12345a", again), -1);
	char key[SHARE_KEY_DIGITS + 1];
	share_new_screen_key(key);
	assert_int_equal(strlen(key), SHARE_KEY_DIGITS);
	assert_int_equal(strspn(key, "0123456789"), SHARE_KEY_DIGITS);
}

/* One handshake; returns the sender's verdict. */
static int handshake(const uint8_t *display_auth, const uint8_t *sender_auth, struct share_keys *dk,
                     struct share_keys *sk, bool *display_ok)
{
	struct share_display_handshake d;
	struct share_sender_handshake s;
	uint8_t greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE], welcome[SHARE_WELCOME_SIZE];
	share_display_greeting(&d, greeting);
	assert_true(share_sender_hello(&s, sender_auth, greeting, hello));
	*display_ok = share_display_check(&d, display_auth, hello, dk, welcome);
	return share_sender_finish(&s, welcome, sk);
}

static void test_both_sides_agree(void **state)
{
	(void)state;
	struct share_keys dk, sk;
	bool display_ok;
	assert_int_equal(handshake(auth_right, auth_right, &dk, &sk, &display_ok), SHARE_WELCOME_OK);
	assert_true(display_ok);
	assert_memory_equal(&dk, &sk, sizeof dk);
	struct share_keys dk2, sk2;
	assert_int_equal(handshake(auth_right, auth_right, &dk2, &sk2, &display_ok), SHARE_WELCOME_OK);
	assert_memory_not_equal(&dk, &dk2, sizeof dk); /* fresh keys each session */
}

static void test_wrong_key_is_refused(void **state)
{
	(void)state;
	struct share_keys dk, sk;
	bool display_ok;
	assert_int_equal(handshake(auth_right, auth_wrong, &dk, &sk, &display_ok), SHARE_WELCOME_WRONG_KEY);
	assert_false(display_ok);
}

static void test_impostor_display_is_refused(void **state)
{
	(void)state;
	/* a display that does not know the key answers OK with a MAC of its own */
	struct share_display_handshake d;
	struct share_sender_handshake s;
	struct share_keys keys;
	uint8_t greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE], welcome[SHARE_WELCOME_SIZE];
	share_display_greeting(&d, greeting);
	assert_true(share_sender_hello(&s, auth_right, greeting, hello));
	assert_false(share_display_check(&d, auth_wrong, hello, &keys, welcome));
	welcome[0] = SHARE_WELCOME_OK;
	randombytes_buf(welcome + 1, 32);
	assert_int_equal(share_sender_finish(&s, welcome, &keys), -1);
}

static void test_any_altered_hello_byte_is_refused(void **state)
{
	(void)state;
	for (size_t at = 0; at < SHARE_HELLO_SIZE; at++) {
		struct share_display_handshake d;
		struct share_sender_handshake s;
		struct share_keys keys;
		uint8_t greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE], welcome[SHARE_WELCOME_SIZE];
		share_display_greeting(&d, greeting);
		assert_true(share_sender_hello(&s, auth_right, greeting, hello));
		hello[at] ^= 0x01;
		assert_false(share_display_check(&d, auth_right, hello, &keys, welcome));
		assert_int_equal(welcome[0], SHARE_WELCOME_WRONG_KEY);
	}
	/* and a greeting that is none */
	struct share_sender_handshake s;
	uint8_t greeting[SHARE_GREETING_SIZE] = {0}, hello[SHARE_HELLO_SIZE];
	assert_false(share_sender_hello(&s, auth_right, greeting, hello));
	memcpy(greeting, "VSH1", 4); /* a zero public key: low order */
	assert_false(share_sender_hello(&s, auth_right, greeting, hello));
}

static void test_records(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	uint8_t key[32], buf[256];
	randombytes_buf(key, sizeof key);
	struct share_channel tx, rx;
	share_channel_init(&tx, sv[0], key, NULL);
	share_channel_init(&rx, sv[1], NULL, key);
	assert_int_equal(share_channel_send(&tx, "hello", 5), 0);
	assert_int_equal(share_channel_send(&tx, "", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(share_channel_send(&tx, "world!", 6), 0);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(share_channel_recv(&rx, buf, 3), -1); /* larger than cap */
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(share_channel_recv(&tx, buf, sizeof buf), -1); /* a send-only side */
	close(sv[0]);
	close(sv[1]);

	/* the end of the connection before a record */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	share_channel_init(&tx, sv[0], key, NULL);
	share_channel_init(&rx, sv[1], NULL, key);
	assert_int_equal(share_channel_send(&tx, "x", 1), 0);
	close(sv[0]);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), 1);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), 0);
	close(sv[1]);
}

static void test_altered_or_strangers_records_are_refused(void **state)
{
	(void)state;
	uint8_t key[32], stranger[32], buf[64];
	randombytes_buf(key, sizeof key);
	randombytes_buf(stranger, sizeof stranger);
	int sv[2];
	struct share_channel tx, rx;

	/* a stranger who knows only the address sends under its own key */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	share_channel_init(&tx, sv[0], stranger, NULL);
	share_channel_init(&rx, sv[1], NULL, key);
	assert_int_equal(share_channel_send(&tx, "frame", 5), 0);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), -1);
	assert_int_equal(errno, EBADMSG);
	close(sv[0]);
	close(sv[1]);

	/* one flipped bit in a record */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	share_channel_init(&tx, sv[0], key, NULL);
	assert_int_equal(share_channel_send(&tx, "frame", 5), 0);
	uint8_t wire[24 + 4 + 5 + 17];
	assert_int_equal(share_read_all(sv[1], wire, sizeof wire), 0);
	wire[sizeof wire - 3] ^= 0x80;
	int sv2[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	assert_int_equal(share_write_all(sv2[0], wire, sizeof wire), 0);
	share_channel_init(&rx, sv2[1], NULL, key);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), -1);
	assert_int_equal(errno, EBADMSG);

	/* a record length below the tag's is no record */
	int sv3[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv3), 0);
	uint8_t short_rec[24 + 4] = {0};
	memcpy(short_rec, wire, 24);
	short_rec[27] = 3;
	assert_int_equal(share_write_all(sv3[0], short_rec, sizeof short_rec), 0);
	share_channel_init(&rx, sv3[1], NULL, key);
	assert_int_equal(share_channel_recv(&rx, buf, sizeof buf), -1);
	assert_int_equal(errno, EBADMSG);
	for (int i = 0; i < 2; i++) {
		close(sv[i]);
		close(sv2[i]);
		close(sv3[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_key),
	    cmocka_unit_test(test_both_sides_agree),
	    cmocka_unit_test(test_wrong_key_is_refused),
	    cmocka_unit_test(test_impostor_display_is_refused),
	    cmocka_unit_test(test_any_altered_hello_byte_is_refused),
	    cmocka_unit_test(test_records),
	    cmocka_unit_test(test_altered_or_strangers_records_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
