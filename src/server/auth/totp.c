/*
 * TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps) with liboath.
 * Secrets are 160-bit, kept as upper-case base32 (what authenticator apps
 * expect in otpauth:// URIs). A code is accepted one step early or late,
 * and only once: the caller stores the matched step and passes it back.
 */
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_oath(void)
{
	oath_init();
}

void auth_totp_new_secret(char out[40])
{
	pthread_once(&once, init_oath);
	char raw[20], *b32 = NULL;
	size_t len = 0;
	randombytes_buf(raw, sizeof raw);
	out[0] = '\0';
	if (oath_base32_encode(raw, sizeof raw, &b32, &len) == OATH_OK && len < 40) {
		memcpy(out, b32, len);
		out[len] = '\0';
		/* drop padding: 160 bits encode to exactly 32 characters */
		char *eq = strchr(out, '=');
		if (eq)
			*eq = '\0';
	}
	free(b32);
	sodium_memzero(raw, sizeof raw);
}

static int decode(const char *secret_b32, char **raw, size_t *len)
{
	pthread_once(&once, init_oath);
	return oath_base32_decode(secret_b32, strlen(secret_b32), raw, len) == OATH_OK ? 0 : -1;
}

int64_t auth_totp_check(const char *secret_b32, const char *code, int64_t now, int64_t last_step)
{
	if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return -1;
	char *raw = NULL;
	size_t len = 0;
	if (decode(secret_b32, &raw, &len) != 0)
		return -1;
	int pos = 0;
	uint64_t counter = 0;
	int rc = oath_totp_validate3(raw, len, (time_t)now, 30, 0, 1, &pos, &counter, code);
	sodium_memzero(raw, len);
	free(raw);
	if (rc < 0 || (int64_t)counter <= last_step)
		return -1;
	return (int64_t)counter;
}

int auth_totp_code(const char *secret_b32, int64_t now, char out[7])
{
	char *raw = NULL;
	size_t len = 0;
	if (decode(secret_b32, &raw, &len) != 0)
		return -1;
	int rc = oath_totp_generate(raw, len, (time_t)now, 30, 0, 6, out);
	sodium_memzero(raw, len);
	free(raw);
	return rc == OATH_OK ? 0 : -1;
}
