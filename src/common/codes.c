/* Random ids, tokens and typed codes; see codes.h. */
#include "codes.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t codes_base32_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t need = (len * 8 + 4) / 5;
	if (outsz < need + 1)
		return 0;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return o;
}

void codes_new_id(char out[CODES_ID_LEN + 1])
{
	uint8_t raw[10];
	randombytes_buf(raw, sizeof raw);
	codes_base32_encode(raw, sizeof raw, out, CODES_ID_LEN + 1);
}

bool codes_is_id(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!memchr(b32, s[n], 32) || n >= CODES_ID_LEN)
			return false;
	return n == CODES_ID_LEN;
}

void codes_new_token(const char *prefix3, char out[CODES_TOKEN_LEN])
{
	uint8_t raw[CODES_TOKEN_BYTES];
	randombytes_buf(raw, sizeof raw);
	memcpy(out, prefix3, 3);
	codes_base32_encode(raw, sizeof raw, out + 3, CODES_TOKEN_LEN - 3);
	sodium_memzero(raw, sizeof raw);
}

void codes_hex(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

bool codes_is_sha256(const char *s)
{
	return s && strlen(s) == 2 * crypto_hash_sha256_BYTES && strspn(s, "0123456789abcdef") == strlen(s);
}

void codes_hash_hex(const char *s, size_t len, char out[CODES_HASH_HEX_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)s, len);
	codes_hex(h, sizeof h, out);
}

bool codes_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}

void codes_new_user_code(char out[CODES_USER_CODE_LEN + 1])
{
	static const char alpha[] = CODES_USER_CODE_ALPHABET; /* 32 symbols */
	for (int i = 0; i < CODES_USER_CODE_LEN; i++)
		out[i] = alpha[randombytes_uniform(32)];
	out[CODES_USER_CODE_LEN] = '\0';
}

bool codes_normalize_user_code(const char *in, char out[CODES_USER_CODE_LEN + 1])
{
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		char c = (char)toupper((unsigned char)*p);
		if (!strchr(CODES_USER_CODE_ALPHABET, c) || c == '\0' || n >= CODES_USER_CODE_LEN)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == CODES_USER_CODE_LEN;
}
