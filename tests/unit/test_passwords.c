/*
 * Unit tests of src/server/auth/passwords.c: the password and login
 * policies, and argon2id hashing (with libsodium's minimum cost so the test
 * stays fast; the policy is what matters here, not the cost).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "server/auth/auth.h"
#include "testutil.h"

static void accepted(const char *password, const char *login)
{
	const char *why = auth_password_problem(password, login);
	if (why)
		print_error("refused \"%s\": %s\n", password, why);
	assert_null(why);
}

static void refused(const char *password, const char *login)
{
	const char *why = auth_password_problem(password, login);
	if (!why)
		print_error("accepted \"%s\"\n", password);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_length(void **state)
{
	(void)state;
	refused("", NULL);
	refused("short", NULL);
	refused("abcdefghi", NULL); /* 9 */
	accepted("abcdefghij", NULL);
	accepted("correct horse battery staple", NULL);

	char buf[300];
	memset(buf, 'a', sizeof buf);
	buf[0] = 'b';
	buf[256] = '\0'; /* 256 bytes: the maximum */
	accepted(buf, NULL);
	buf[256] = 'a';
	buf[257] = '\0'; /* 257 */
	refused(buf, NULL);
}

static void test_equal_to_login(void **state)
{
	(void)state;
	refused("alice.admin", "alice.admin");
	refused("Alice.Admin", "alice.admin");
	refused("ALICE.ADMIN", "alice.admin");
	accepted("alice.admin1", "alice.admin");
	accepted("alice.admin", "bob.builder");
	accepted("alice.admin", NULL);
}

static void test_utf8(void **state)
{
	(void)state;
	refused("abcdefghij\xff", NULL);                    /* never valid */
	refused("abcdefghij\x80", NULL);                    /* lone continuation */
	refused("abcdefghi\xc3", NULL);                     /* truncated 2-byte sequence */
	refused("abcdefghi\xe2\x82", NULL);                 /* truncated 3-byte sequence */
	refused("abcdefghij\xc0\xaf", NULL);                /* overlong '/' */
	refused("abcdefghij\xf5\x80\x80\x80", NULL);        /* beyond U+10FFFF */
	refused("abcdefghi\xc3(", NULL);                    /* bad continuation */
	accepted("abcdefghi\xc3\xa9", NULL);                /* 'e' acute: 10 characters */
	accepted("abcdefgh\xf0\x9f\x94\x91\xc3\xa9", NULL); /* emoji + e acute */
}

static void test_multibyte_counts_once(void **state)
{
	(void)state;
	/* 9 characters in 18 bytes: too short although 18 bytes > 10 */
	refused("\xc3\xa9\xc3\xa0\xc3\xbc\xc3\xb6\xc3\xa7\xc3\xb1\xc3\x9f\xc3\xb8\xc3\xa5", NULL);
	/* 10 characters in 20 bytes */
	accepted("\xc3\xa9\xc3\xa0\xc3\xbc\xc3\xb6\xc3\xa7\xc3\xb1\xc3\x9f\xc3\xb8\xc3\xa5\xc3\xa6", NULL);
	/* 4 emoji (16 bytes) + 5 ASCII = 9 characters */
	refused("\xf0\x9f\x94\x91\xf0\x9f\x94\x92\xf0\x9f\x94\x93\xf0\x9f\x94\x94"
	        "abcde",
	        NULL);
	/* 100 euro signs: 100 characters, but 300 bytes > 256 */
	char euros[301];
	for (int i = 0; i < 100; i++)
		memcpy(euros + 3 * i, "\xe2\x82\xac", 3);
	euros[300] = '\0';
	refused(euros, NULL);
	/* 84 euro signs and "xyz" = 255 bytes (not one repeated character) */
	memcpy(euros + 252, "xyz", 4);
	accepted(euros, NULL);
}

static void test_single_character_repeated(void **state)
{
	(void)state;
	refused("aaaaaaaaaa", NULL);
	refused("0000000000000000", NULL);
	refused("                    ", NULL);
	accepted("aaaaaaaaab", NULL);
	accepted("baaaaaaaaa", NULL);
}

/* UTF-8 as RFC 3629 defines it: no overlong forms, no UTF-16 surrogates. */
static void test_utf8_strict(void **state)
{
	(void)state;
	const char *bad[] = {
	    "abcdefghi\xed\xa0\x80",     /* U+D800, a surrogate */
	    "abcdefghi\xe0\x80\xaf",     /* overlong '/' in 3 bytes */
	    "abcdefghi\xf0\x80\x80\xaf", /* overlong '/' in 4 bytes */
	    "abcdefghi\xf4\x90\x80\x80", /* U+110000 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(bad[i], NULL);
}

/* "must not repeat a single character" is about characters, not bytes. */
static void test_single_multibyte_character_repeated(void **state)
{
	(void)state;
	const char *ten_e_acute = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	refused(ten_e_acute, NULL);
}

static void test_login_policy(void **state)
{
	(void)state;
	assert_null(auth_login_problem("ab"));
	assert_null(auth_login_problem("alice"));
	assert_null(auth_login_problem("alice.admin@example.com"));
	assert_null(auth_login_problem("A_b-c.9"));
	char login[80];
	memset(login, 'x', sizeof login);
	login[64] = '\0';
	assert_null(auth_login_problem(login));
	login[64] = 'x';
	login[65] = '\0';
	assert_non_null(auth_login_problem(login));

	assert_non_null(auth_login_problem(""));
	assert_non_null(auth_login_problem("a"));
	assert_non_null(auth_login_problem("bad name"));
	assert_non_null(auth_login_problem("bad/name"));
	assert_non_null(auth_login_problem("semi;colon"));
	assert_non_null(auth_login_problem("quote'"));
	assert_non_null(auth_login_problem("new\nline"));
	assert_non_null(auth_login_problem("j\xc3\xbcrgen"));
}

static void test_hash_verify(void **state)
{
	(void)state;
	char h1[crypto_pwhash_STRBYTES], h2[crypto_pwhash_STRBYTES];
	assert_int_equal(auth_password_hash("correct horse battery", h1), 0);
	assert_int_equal(auth_password_hash("correct horse battery", h2), 0);
	assert_memory_equal(h1, "$argon2id$", 10);
	assert_string_not_equal(h1, h2); /* salted */
	assert_true(auth_password_verify(h1, "correct horse battery"));
	assert_true(auth_password_verify(h2, "correct horse battery"));
	assert_false(auth_password_verify(h1, "correct horse batterY"));
	assert_false(auth_password_verify(h1, "correct horse battery "));
	assert_false(auth_password_verify(h1, ""));
	assert_false(auth_password_verify("", "correct horse battery"));
	assert_false(auth_password_verify("$argon2id$garbage", "correct horse battery"));

	/* multibyte passwords hash their bytes */
	const char *pw = "p\xc3\xa4ssw\xc3\xb6rd-\xe2\x82\xac";
	assert_int_equal(auth_password_hash(pw, h1), 0);
	assert_true(auth_password_verify(h1, pw));
	assert_false(auth_password_verify(h1, "passw\xc3\xb6rd-\xe2\x82\xac"));
}

static void test_generate(void **state)
{
	(void)state;
	char a[17], b[17];
	auth_password_generate(a);
	auth_password_generate(b);
	assert_int_equal(strlen(a), 16);
	assert_string_not_equal(a, b);
	assert_null(auth_password_problem(a, "admin"));
	assert_null(strpbrk(a, "0O1lI")); /* easy to read aloud */
}

/* One session-expiry rule for the request hook and the live streams:
 * idle too long, or too long since login; exactly at the limit still
 * counts as alive. */
static void test_session_expiry_rule(void **state)
{
	(void)state;
	unsigned idle = auth_settings.session_idle_s, max = auth_settings.session_max_s;
	auth_settings.session_idle_s = 1800;
	auth_settings.session_max_s = 43200;
	int64_t t0 = 1700000000;
	assert_false(auth_session_expired(t0, t0, t0));
	assert_false(auth_session_expired(t0, t0, t0 + 1800));
	assert_true(auth_session_expired(t0, t0, t0 + 1801));
	assert_false(auth_session_expired(t0, t0 + 43000, t0 + 43200));
	assert_true(auth_session_expired(t0, t0 + 43200, t0 + 43201));
	auth_settings.session_idle_s = idle;
	auth_settings.session_max_s = max;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	auth_settings.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
	auth_settings.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_equal_to_login),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_multibyte_counts_once),
	    cmocka_unit_test(test_single_character_repeated),
	    cmocka_unit_test(test_utf8_strict),
	    cmocka_unit_test(test_single_multibyte_character_repeated),
	    cmocka_unit_test(test_login_policy),
	    cmocka_unit_test(test_hash_verify),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_session_expiry_rule),
	};
	return cmocka_run_group_tests_name("passwords", tests, NULL, NULL);
}
