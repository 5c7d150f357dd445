/*
 * libFuzzer target: proof-of-work challenge verification, which reads two
 * strings straight from an unauthenticated login request.
 * Input: "LOGIN\nCHALLENGE\nSOLUTION[\nMIN_DIFFICULTY]". The server secret
 * is 32 zero bytes so the seed corpus can hold validly signed challenges
 * (fuzz/corpus/challenge, made by fuzz/make_challenge_seeds.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/codes.h"
#include "common/log.h"
#include "server/auth/auth.h"

#define NOW ((int64_t)1700000000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	log_set_level((enum log_level)(LOG_ERROR + 1));
	memset(auth_settings.secret, 0, sizeof auth_settings.secret);
	return 0;
}

/* Copies the next '\n'-terminated field of data into out (truncated). */
static void field(const uint8_t **data, size_t *size, char *out, size_t outsz)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	size_t c = n < outsz - 1 ? n : outsz - 1;
	memcpy(out, *data, c);
	out[c] = '\0';
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char login[160], challenge[512], solution[256], mind[16];
	field(&data, &size, login, sizeof login);
	field(&data, &size, challenge, sizeof challenge);
	field(&data, &size, solution, sizeof solution);
	field(&data, &size, mind, sizeof mind);
	unsigned min_difficulty = (unsigned)strtoul(mind, NULL, 10) % 64;

	char nonce[32] = "";
	int64_t expires = 0;
	enum challenge_verdict v =
	    auth_challenge_verify(login, challenge, solution, min_difficulty, NOW, nonce, &expires);
	if (v > CHALLENGE_WRONG)
		abort();
	if (v == CHALLENGE_OK) {
		if (!codes_is_id(nonce) || expires < NOW || !strstr(challenge, nonce))
			abort();
		if (auth_challenge_zero_bits(challenge, solution) < min_difficulty)
			abort();
	}

	/* a fresh challenge for this (arbitrary) login at difficulty 0 accepts
	 * any well-sized solution, and only for the same login */
	char made[AUTH_CHALLENGE_MAX_LEN];
	auth_challenge_make(login, 0, NOW, made);
	size_t slen = strlen(solution);
	if (slen >= 1 && slen <= 64) {
		if (auth_challenge_verify(login, made, solution, 0, NOW, nonce, &expires) != CHALLENGE_OK)
			abort();
		char other[sizeof login + 1];
		memcpy(other, login, sizeof login);
		strcat(other, "x");
		if (auth_challenge_verify(other, made, solution, 0, NOW, nonce, &expires) != CHALLENGE_FORGED)
			abort();
	}
	return 0;
}
