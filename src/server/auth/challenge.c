/*
 * Proof-of-work login challenges (the CAPTCHA-equivalent of SPEC 1).
 *
 * After 5 consecutive failures for a login name or a source address, a
 * login must carry the answer to a challenge: find a string S such that
 * SHA-256(challenge ":" S) starts with `difficulty` zero bits. Each further
 * failure adds a bit, doubling the expected work: the attacker is slowed
 * exponentially, while the real user (whose browser solves it in about a
 * second at the base difficulty) is never locked out.
 *
 * A challenge is stateless and signed: "v1.EXPIRES.DIFFICULTY.ID.MAC" with
 * MAC = HMAC-SHA-256(server secret, "v1.EXPIRES.DIFFICULTY.ID" "|" login),
 * so it is bound to one login name and cannot be forged or made easier;
 * the ID of an answered challenge is stored until expiry so it cannot be
 * replayed.
 */
#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/codes.h"
#include "auth.h"

#define BASE_DIFFICULTY 16
#define MAX_DIFFICULTY  22

unsigned auth_challenge_difficulty(unsigned failures)
{
	if (failures < AUTH_FAILURES_BEFORE_CHALLENGE)
		return 0;
	unsigned extra = failures - AUTH_FAILURES_BEFORE_CHALLENGE;
	if (extra >= MAX_DIFFICULTY - BASE_DIFFICULTY)
		return MAX_DIFFICULTY;
	return BASE_DIFFICULTY + extra;
}

static void mac_hex(const char *body, const char *login, char out[65])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, auth_settings.secret, sizeof auth_settings.secret);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, strlen(body));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"|", 1);
	/* case-insensitive binding: logins are compared that way */
	for (const char *p = login; *p; p++) {
		uint8_t c = (uint8_t)tolower((unsigned char)*p);
		crypto_auth_hmacsha256_update(&st, &c, 1);
	}
	crypto_auth_hmacsha256_final(&st, mac);
	codes_hex(mac, sizeof mac, out);
}

void auth_challenge_make(const char *login, unsigned difficulty, int64_t now, char *out)
{
	char id[CODES_ID_LEN + 1], body[112], mac[65];
	codes_new_id(id);
	snprintf(body, sizeof body, "v1.%" PRId64 ".%u.%s", now + AUTH_CHALLENGE_TTL_S, difficulty, id);
	mac_hex(body, login, mac);
	snprintf(out, AUTH_CHALLENGE_MAX_LEN, "%s.%s", body, mac);
}

unsigned auth_challenge_zero_bits(const char *challenge, const char *solution)
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)challenge, strlen(challenge));
	crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)solution, strlen(solution));
	crypto_hash_sha256_final(&st, h);
	unsigned bits = 0;
	for (size_t i = 0; i < sizeof h; i++) {
		if (h[i] == 0) {
			bits += 8;
			continue;
		}
		bits += (unsigned)__builtin_clz(h[i]) - 24;
		break;
	}
	return bits;
}

enum challenge_verdict auth_challenge_verify(const char *login, const char *challenge, const char *solution,
                                             unsigned min_difficulty, int64_t now, char nonce_id[32], int64_t *expires)
{
	size_t clen = strlen(challenge);
	if (clen == 0 || clen >= AUTH_CHALLENGE_MAX_LEN || strlen(solution) == 0 || strlen(solution) > 64)
		return CHALLENGE_MALFORMED;
	char copy[AUTH_CHALLENGE_MAX_LEN];
	memcpy(copy, challenge, clen + 1);
	/* v1 . expires . difficulty . id . mac */
	char *parts[5];
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ".", &save); tok && n < 5; tok = strtok_r(NULL, ".", &save))
		parts[n++] = tok;
	if (n != 5 || strcmp(parts[0], "v1") != 0 || strlen(parts[4]) != 64 || !codes_is_id(parts[3]))
		return CHALLENGE_MALFORMED;
	for (int i = 1; i <= 2; i++)
		for (const char *p = parts[i]; *p; p++)
			if (*p < '0' || *p > '9')
				return CHALLENGE_MALFORMED;
	if (strlen(parts[1]) > 12 || strlen(parts[2]) > 2)
		return CHALLENGE_MALFORMED;
	char body[112], mac[65], rebuilt[AUTH_CHALLENGE_MAX_LEN];
	snprintf(body, sizeof body, "v1.%s.%s.%s", parts[1], parts[2], parts[3]);
	/* strtok_r skips empty fields and stops after five: only the exact
	 * canonical form is accepted */
	snprintf(rebuilt, sizeof rebuilt, "%s.%s", body, parts[4]);
	if (strcmp(rebuilt, challenge) != 0)
		return CHALLENGE_MALFORMED;
	mac_hex(body, login, mac);
	if (!codes_equal(mac, parts[4]))
		return CHALLENGE_FORGED;
	int64_t exp = strtoll(parts[1], NULL, 10);
	if (exp < now)
		return CHALLENGE_EXPIRED;
	unsigned difficulty = (unsigned)strtoul(parts[2], NULL, 10);
	if (difficulty < min_difficulty)
		return CHALLENGE_TOO_EASY;
	if (auth_challenge_zero_bits(challenge, solution) < difficulty)
		return CHALLENGE_WRONG;
	snprintf(nonce_id, 32, "%s", parts[3]);
	*expires = exp;
	return CHALLENGE_OK;
}
