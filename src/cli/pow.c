/* The proof of work of the login challenge; see pow.h. */
#include "pow.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool leading_zero_bits(const unsigned char *digest, unsigned difficulty)
{
	unsigned full = difficulty / 8, rest = difficulty % 8;
	for (unsigned i = 0; i < full; i++)
		if (digest[i] != 0)
			return false;
	return rest == 0 || (digest[full] >> (8 - rest)) == 0;
}

int pow_solve(const char *challenge, unsigned difficulty, char out[24])
{
	if (difficulty > POW_MAX_DIFFICULTY)
		return -1;
	/* the prefix "challenge:" is hashed once; each try continues a copy */
	crypto_hash_sha256_state prefix, st;
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&prefix);
	crypto_hash_sha256_update(&prefix, (const unsigned char *)challenge, strlen(challenge));
	crypto_hash_sha256_update(&prefix, (const unsigned char *)":", 1);
	uint64_t limit = (uint64_t)1 << (difficulty + 8);
	for (uint64_t n = 0; n < limit; n++) {
		char s[24];
		int len = snprintf(s, sizeof s, "%llu", (unsigned long long)n);
		st = prefix;
		crypto_hash_sha256_update(&st, (const unsigned char *)s, (unsigned long long)len);
		crypto_hash_sha256_final(&st, digest);
		if (leading_zero_bits(digest, difficulty)) {
			memcpy(out, s, (size_t)len + 1);
			return 0;
		}
	}
	return -1;
}
