/*
 * Unit tests of src/server/auth/challenge.c: the proof-of-work login
 * challenge. Challenges are made at a low difficulty (8 bits, ~256 hashes)
 * so brute-forcing the answer here takes microseconds.
 */
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/codes.h"
#include "server/auth/auth.h"
#include "testutil.h"

#define NOW  ((int64_t)1700000000)
#define EASY 8

/* Finds a solution with at least `bits` zero bits (or, when below is set,
 * one with fewer than `bits`). */
static void solve(const char *challenge, unsigned bits, bool below, char out[32])
{
	for (uint64_t i = 0; i < (1u << 26); i++) {
		snprintf(out, 32, "%" PRIu64, i);
		unsigned z = auth_challenge_zero_bits(challenge, out);
		if (below ? z < bits : z >= bits)
			return;
	}
	fail_msg("no solution found for %s", challenge);
}

static enum challenge_verdict verify(const char *login, const char *challenge, const char *solution,
                                     unsigned min_difficulty, int64_t now)
{
	char nonce[32] = "";
	int64_t expires = 0;
	return auth_challenge_verify(login, challenge, solution, min_difficulty, now, nonce, &expires);
}

static void test_difficulty(void **state)
{
	(void)state;
	for (unsigned f = 0; f < AUTH_FAILURES_BEFORE_CHALLENGE; f++)
		assert_int_equal(auth_challenge_difficulty(f), 0);
	assert_int_equal(auth_challenge_difficulty(5), 16);
	assert_int_equal(auth_challenge_difficulty(6), 17);
	assert_int_equal(auth_challenge_difficulty(7), 18);
	assert_int_equal(auth_challenge_difficulty(10), 21);
	assert_int_equal(auth_challenge_difficulty(11), 22);
	assert_int_equal(auth_challenge_difficulty(12), 22);
	assert_int_equal(auth_challenge_difficulty(1000), 22);
	assert_int_equal(auth_challenge_difficulty(1000000), 22);
}

static void test_zero_bits(void **state)
{
	(void)state;
	/* SHA-256("abc:") and friends computed independently: count the bits
	 * by hand from the digest and compare */
	const char *sols[] = {"", "0", "1", "hello", "12345678"};
	for (size_t i = 0; i < sizeof sols / sizeof sols[0]; i++) {
		char input[64];
		snprintf(input, sizeof input, "abc:%s", sols[i]);
		uint8_t h[crypto_hash_sha256_BYTES];
		crypto_hash_sha256(h, (const uint8_t *)input, strlen(input));
		unsigned bits = 0;
		for (size_t b = 0; b < 256; b++) {
			if (h[b / 8] & (0x80 >> (b % 8)))
				break;
			bits++;
		}
		assert_int_equal(auth_challenge_zero_bits("abc", sols[i]), bits);
	}
}

static void test_make_solve_ok(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	assert_true(strlen(ch) < AUTH_CHALLENGE_MAX_LEN);
	assert_memory_equal(ch, "v1.", 3);
	solve(ch, EASY, false, sol);

	char nonce[32] = "";
	int64_t expires = 0;
	assert_int_equal(auth_challenge_verify("alice", ch, sol, EASY, NOW, nonce, &expires), CHALLENGE_OK);
	assert_int_equal(expires, NOW + AUTH_CHALLENGE_TTL_S);
	assert_int_equal(strlen(nonce), CODES_ID_LEN);
	assert_non_null(strstr(ch, nonce)); /* the id is part of the challenge */

	/* an easier requirement is fine; the verdict does not depend on it */
	assert_int_equal(verify("alice", ch, sol, 0, NOW), CHALLENGE_OK);
	/* still valid until the last second */
	assert_int_equal(verify("alice", ch, sol, EASY, NOW + AUTH_CHALLENGE_TTL_S), CHALLENGE_OK);

	/* two challenges differ (fresh ids) */
	char ch2[AUTH_CHALLENGE_MAX_LEN];
	auth_challenge_make("alice", EASY, NOW, ch2);
	assert_string_not_equal(ch, ch2);
}

static void test_tampered(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32], bad[AUTH_CHALLENGE_MAX_LEN];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	size_t n = strlen(ch);

	/* flip the last hex digit of the MAC */
	strcpy(bad, ch);
	bad[n - 1] = bad[n - 1] == '0' ? '1' : '0';
	assert_int_equal(verify("alice", bad, sol, EASY, NOW), CHALLENGE_FORGED);

	/* lower the difficulty in the body: the MAC no longer matches */
	char body_exp[32];
	snprintf(body_exp, sizeof body_exp, "v1.%" PRId64 ".%u.", NOW + AUTH_CHALLENGE_TTL_S, EASY);
	assert_memory_equal(ch, body_exp, strlen(body_exp));
	strcpy(bad, ch);
	bad[strlen(body_exp) - 2] = '1'; /* difficulty 8 -> 1 */
	char weak[32];
	solve(bad, 1, false, weak);
	assert_int_equal(verify("alice", bad, weak, 0, NOW), CHALLENGE_FORGED);

	/* push the expiry: forged too */
	strcpy(bad, ch);
	bad[3] = bad[3] == '9' ? '8' : '9';
	assert_int_equal(verify("alice", bad, sol, EASY, NOW), CHALLENGE_FORGED);

	/* change the id */
	strcpy(bad, ch);
	char *id = strchr(strchr(strchr(bad, '.') + 1, '.') + 1, '.') + 1;
	id[0] = id[0] == 'a' ? 'b' : 'a';
	assert_int_equal(verify("alice", bad, sol, EASY, NOW), CHALLENGE_FORGED);

	/* the MAC in upper case is not the MAC */
	strcpy(bad, ch);
	for (char *p = strrchr(bad, '.') + 1; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	if (strcmp(bad, ch) != 0)
		assert_int_equal(verify("alice", bad, sol, EASY, NOW), CHALLENGE_FORGED);
}

static void test_bound_to_login(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	assert_int_equal(verify("bob", ch, sol, EASY, NOW), CHALLENGE_FORGED);
	assert_int_equal(verify("alice2", ch, sol, EASY, NOW), CHALLENGE_FORGED);
	assert_int_equal(verify("alic", ch, sol, EASY, NOW), CHALLENGE_FORGED);
	assert_int_equal(verify("", ch, sol, EASY, NOW), CHALLENGE_FORGED);
	/* logins compare case-insensitively, and so does the binding */
	assert_int_equal(verify("ALICE", ch, sol, EASY, NOW), CHALLENGE_OK);
	assert_int_equal(verify("Alice", ch, sol, EASY, NOW), CHALLENGE_OK);

	char ch2[AUTH_CHALLENGE_MAX_LEN];
	auth_challenge_make("Bob.Builder", EASY, NOW, ch2);
	solve(ch2, EASY, false, sol);
	assert_int_equal(verify("bob.builder", ch2, sol, EASY, NOW), CHALLENGE_OK);
}

static void test_secret_matters(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	uint8_t saved[AUTH_SECRET_BYTES];
	memcpy(saved, auth_settings.secret, sizeof saved);
	auth_settings.secret[0] ^= 1;
	assert_int_equal(verify("alice", ch, sol, EASY, NOW), CHALLENGE_FORGED);
	memcpy(auth_settings.secret, saved, sizeof saved);
	assert_int_equal(verify("alice", ch, sol, EASY, NOW), CHALLENGE_OK);
}

static void test_expired(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	assert_int_equal(verify("alice", ch, sol, EASY, NOW + AUTH_CHALLENGE_TTL_S + 1), CHALLENGE_EXPIRED);
	assert_int_equal(verify("alice", ch, sol, EASY, NOW + 86400), CHALLENGE_EXPIRED);

	/* made long ago */
	auth_challenge_make("alice", EASY, NOW - 3600, ch);
	solve(ch, EASY, false, sol);
	assert_int_equal(verify("alice", ch, sol, EASY, NOW), CHALLENGE_EXPIRED);
}

static void test_too_easy(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	assert_int_equal(verify("alice", ch, sol, EASY + 1, NOW), CHALLENGE_TOO_EASY);
	assert_int_equal(verify("alice", ch, sol, 22, NOW), CHALLENGE_TOO_EASY);
	/* even a solution good enough for the higher difficulty: what counts is
	 * the difficulty the challenge was issued at */
	char strong[32];
	solve(ch, EASY + 2, false, strong);
	assert_int_equal(verify("alice", ch, strong, EASY + 1, NOW), CHALLENGE_TOO_EASY);
}

static void test_wrong_solution(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, true, sol);
	assert_true(auth_challenge_zero_bits(ch, sol) < EASY);
	assert_int_equal(verify("alice", ch, sol, EASY, NOW), CHALLENGE_WRONG);
	/* difficulty 0 accepts anything non-empty */
	auth_challenge_make("alice", 0, NOW, ch);
	assert_int_equal(verify("alice", ch, "x", 0, NOW), CHALLENGE_OK);
}

static void test_malformed(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], sol[32];
	auth_challenge_make("alice", EASY, NOW, ch);
	solve(ch, EASY, false, sol);
	const char *mac = strrchr(ch, '.') + 1;
	char bad[512];

	assert_int_equal(verify("alice", "", sol, 0, NOW), CHALLENGE_MALFORMED);
	assert_int_equal(verify("alice", ch, "", 0, NOW), CHALLENGE_MALFORMED);
	char longsol[80];
	memset(longsol, '7', 65);
	longsol[65] = '\0';
	assert_int_equal(verify("alice", ch, longsol, 0, NOW), CHALLENGE_MALFORMED);

	/* too long */
	memset(bad, 'v', AUTH_CHALLENGE_MAX_LEN);
	bad[AUTH_CHALLENGE_MAX_LEN] = '\0';
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	memset(bad, '.', 400);
	bad[400] = '\0';
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);

	/* wrong number of parts */
	assert_int_equal(verify("alice", "v1", sol, 0, NOW), CHALLENGE_MALFORMED);
	assert_int_equal(verify("alice", ".", sol, 0, NOW), CHALLENGE_MALFORMED);
	assert_int_equal(verify("alice", "....", sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.8.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.8.abcdefghijklmn23");
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);

	/* wrong version */
	snprintf(bad, sizeof bad, "v2%s", ch + 2);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "V1%s", ch + 2);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);

	/* non-digits in expiry or difficulty */
	snprintf(bad, sizeof bad, "v1.17000003x0.8.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.-1700000300.8.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.x.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.+8.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300. 8.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	/* numbers too long to be honest */
	snprintf(bad, sizeof bad, "v1.99999999999999999999.8.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.100.abcdefghijklmn23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);

	/* a bad id or a MAC of the wrong length */
	snprintf(bad, sizeof bad, "v1.1700000300.8.ABCDEFGHIJKLMN23.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "v1.1700000300.8.short.%s", mac);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "%.*s", (int)strlen(ch) - 1, ch);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
	snprintf(bad, sizeof bad, "%s0", ch);
	assert_int_equal(verify("alice", bad, sol, 0, NOW), CHALLENGE_MALFORMED);
}

/* "v1.E.D.ID.MAC" has exactly five non-empty parts: extra parts or stray
 * dots make another string (another hash input) for the same challenge. */
static void test_malformed_part_count(void **state)
{
	(void)state;
	char ch[AUTH_CHALLENGE_MAX_LEN], bad[2][AUTH_CHALLENGE_MAX_LEN + 16], sol[2][32];
	auth_challenge_make("alice", 4, NOW, ch);
	snprintf(bad[0], sizeof bad[0], "%s.extra", ch);
	snprintf(bad[1], sizeof bad[1], ".%s.", ch);
	enum challenge_verdict v[2];
	for (int i = 0; i < 2; i++) {
		solve(bad[i], 4, false, sol[i]);
		v[i] = verify("alice", bad[i], sol[i], 4, NOW);
	}
	assert_int_equal(v[0], CHALLENGE_MALFORMED);
	assert_int_equal(v[1], CHALLENGE_MALFORMED);
	char dbl[AUTH_CHALLENGE_MAX_LEN + 16];
	snprintf(dbl, sizeof dbl, "v1..%s", ch + 3);
	assert_int_equal(verify("alice", dbl, sol[0], 4, NOW), CHALLENGE_MALFORMED);
}

static void test_difficulty_never_wraps(void **state)
{
	(void)state;
	assert_int_equal(auth_challenge_difficulty(UINT_MAX), 22);
	assert_int_equal(auth_challenge_difficulty(UINT_MAX - 3), 22);
}

/* The hashing gate (login_gate.c): fair shares per address and network,
 * a proof of work to go over one's share, a lane no flood can fill, and
 * the reserved lane for known clients. */
static void test_gate_fair_shares(void **state)
{
	(void)state;
	struct login_ticket t[LOGIN_GATE_GENERAL + LOGIN_GATE_KNOWN + 8];
	size_t n = 0;
	for (int i = 0; i < LOGIN_GATE_PER_ADDRESS; i++)
		assert_int_equal(login_gate_enter("10.0.0.1", false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	struct login_ticket extra;
	assert_int_equal(login_gate_enter("10.0.0.1", false, false, &extra), LOGIN_GATE_SHARE_USED);
	assert_int_equal(login_gate_enter("::ffff:10.0.0.1", false, false, &extra), LOGIN_GATE_SHARE_USED);
	assert_int_equal(login_gate_enter("10.0.0.1", false, true, &t[n++]), LOGIN_GATE_ADMITTED);
	/* the same /24: the network's share */
	while (n < LOGIN_GATE_PER_PREFIX)
		assert_int_equal(login_gate_enter("10.0.0.2", false, true, &t[n++]), LOGIN_GATE_ADMITTED);
	assert_true(login_gate_busy());
	assert_int_equal(login_gate_enter("10.0.0.3", false, false, &extra), LOGIN_GATE_SHARE_USED);
	/* one IPv6 /64 is one address */
	assert_int_equal(login_gate_enter("2001:db8:0:1::1", false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	assert_int_equal(login_gate_enter("2001:db8:0:1::2", false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	assert_int_equal(login_gate_enter("2001:db8:0:1:ffff::3", false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	assert_int_equal(login_gate_enter("2001:db8:0:1::4", false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	assert_int_equal(login_gate_enter("2001:db8:0:1::5", false, false, &extra), LOGIN_GATE_SHARE_USED);
	/* fill the general lane from many networks: then nobody gets in there */
	for (unsigned i = 0; n < LOGIN_GATE_GENERAL; i++) {
		char ip[32];
		snprintf(ip, sizeof ip, "192.0.%u.1", i);
		assert_int_equal(login_gate_enter(ip, false, false, &t[n++]), LOGIN_GATE_ADMITTED);
	}
	assert_int_equal(login_gate_enter("198.51.100.1", false, true, &extra), LOGIN_GATE_FULL);
	/* known clients have their own lane */
	for (int i = 0; i < LOGIN_GATE_KNOWN; i++) {
		assert_int_equal(login_gate_enter("198.51.100.1", true, false, &t[n]), LOGIN_GATE_ADMITTED);
		assert_int_equal(t[n++].lane, LOGIN_LANE_KNOWN);
	}
	assert_int_equal(login_gate_enter("198.51.100.1", true, false, &extra), LOGIN_GATE_FULL);
	/* leaving gives the place back, once */
	login_gate_leave(&t[0]);
	login_gate_leave(&t[0]);
	assert_int_equal(login_gate_enter("198.51.100.1", false, false, &extra), LOGIN_GATE_ADMITTED);
	assert_int_equal(login_gate_enter("198.51.100.2", false, false, &t[0]), LOGIN_GATE_FULL);
	login_gate_leave(&extra);
	for (size_t i = 1; i < n; i++)
		login_gate_leave(&t[i]);
	assert_false(login_gate_busy());
}

/* The device cookie of known clients (known_client.c). */
static void test_known_client_cookie(void **state)
{
	(void)state;
	char cookie[AUTH_KNOWN_CLIENT_MAX_LEN], id[CODES_ID_LEN + 1], other[CODES_ID_LEN + 1];
	auth_known_client_make("useraaaaaaaaaaaa", NOW, cookie);
	assert_true(strlen(cookie) < AUTH_KNOWN_CLIENT_MAX_LEN);
	assert_true(auth_known_client_check(cookie, "useraaaaaaaaaaaa", NOW, id));
	assert_true(codes_is_id(id));
	assert_false(auth_known_client_check(cookie, "userbbbbbbbbbbbb", NOW, other));
	assert_false(auth_known_client_check(cookie, "", NOW, other));
	assert_false(auth_known_client_check(cookie, "useraaaaaaaaaaaa", NOW + 181 * 86400, other));
	char bad[AUTH_KNOWN_CLIENT_MAX_LEN + 8];
	snprintf(bad, sizeof bad, "%s", cookie);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	assert_false(auth_known_client_check(bad, "useraaaaaaaaaaaa", NOW, other));
	snprintf(bad, sizeof bad, "%s.x", cookie);
	assert_false(auth_known_client_check(bad, "useraaaaaaaaaaaa", NOW, other));
	assert_false(auth_known_client_check("k1..aaaaaaaaaaaaaaaa.00", "useraaaaaaaaaaaa", NOW, other));
	assert_false(auth_known_client_check(NULL, "useraaaaaaaaaaaa", NOW, other));
	/* another id each time */
	char second[AUTH_KNOWN_CLIENT_MAX_LEN];
	auth_known_client_make("useraaaaaaaaaaaa", NOW, second);
	assert_true(auth_known_client_check(second, "useraaaaaaaaaaaa", NOW, other));
	assert_string_not_equal(id, other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < AUTH_SECRET_BYTES; i++)
		auth_settings.secret[i] = (uint8_t)(0xa0 + i);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_difficulty),
	    cmocka_unit_test(test_zero_bits),
	    cmocka_unit_test(test_make_solve_ok),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_bound_to_login),
	    cmocka_unit_test(test_secret_matters),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_too_easy),
	    cmocka_unit_test(test_wrong_solution),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_malformed_part_count),
	    cmocka_unit_test(test_difficulty_never_wraps),
	    cmocka_unit_test(test_gate_fair_shares),
	    cmocka_unit_test(test_known_client_cookie),
	};
	return cmocka_run_group_tests_name("challenge", tests, NULL, NULL);
}
