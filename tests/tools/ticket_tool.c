/*
 * Test-only helper: makes Ed25519 key files and signs remote-control
 * tickets (src/common/ticket.c) the way the server will, so the relay's
 * integration tests (tests/integration/test_relay.py) can drive the real
 * binary without a server.
 *
 *   ticket_tool keygen SECRET_FILE PUBLIC_FILE   (public: base64 text)
 *   ticket_tool sign SECRET_FILE SESSION_ID guest|host EXPIRES_IN_SECONDS
 *     prints the ticket text; EXPIRES_IN_SECONDS may be negative.
 *   ticket_tool sign-many SECRET_FILE COUNT EXPIRES_IN_SECONDS
 *     prints COUNT lines "SESSION_ID GUEST_TICKET HOST_TICKET" (fresh
 *     session ids; for bench/relay's thousands of sessions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codes.h"
#include "common/ticket.h"

static int keygen(const char *sk_path, const char *pk_path)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)];
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	FILE *s = fopen(sk_path, "wb"), *p = fopen(pk_path, "w");
	int ok = s && p && fwrite(sk, 1, sizeof sk, s) == sizeof sk && fprintf(p, "%s\n", b64) > 0;
	if (s)
		ok = fclose(s) == 0 && ok;
	if (p)
		ok = fclose(p) == 0 && ok;
	return ok ? 0 : 1;
}

static int read_secret(const char *sk_path, unsigned char sk[crypto_sign_SECRETKEYBYTES])
{
	FILE *f = fopen(sk_path, "rb");
	if (!f || fread(sk, 1, crypto_sign_SECRETKEYBYTES, f) != crypto_sign_SECRETKEYBYTES) {
		fprintf(stderr, "ticket_tool: cannot read %s\n", sk_path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int sign_with(const unsigned char *sk, const char *sid, const char *role, const char *expires_in,
                     char text[TICKET_TEXT_MAX])
{
	struct ticket t = {.role = strcmp(role, "host") == 0 ? TICKET_HOST : TICKET_GUEST,
	                   .expires_at = (int64_t)time(NULL) + strtoll(expires_in, NULL, 10)};
	snprintf(t.session_id, sizeof t.session_id, "%s", sid);
	memcpy(t.screen_id, "screenscreen2345", CODES_ID_LEN + 1);
	memcpy(t.user_id, "useruseruseruser", CODES_ID_LEN + 1);
	strcpy(t.relay, "127.0.0.1:1970");
	if (ticket_sign(&t, sk, text, TICKET_TEXT_MAX) != 0) {
		fprintf(stderr, "ticket_tool: cannot sign (session id: 16 characters of a-z2-7)\n");
		return -1;
	}
	return 0;
}

static int sign(const char *sk_path, const char *sid, const char *role, const char *expires_in)
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char text[TICKET_TEXT_MAX];
	if (read_secret(sk_path, sk) != 0 || sign_with(sk, sid, role, expires_in, text) != 0)
		return 1;
	puts(text);
	return 0;
}

static int sign_many(const char *sk_path, const char *count, const char *expires_in)
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	long n = strtol(count, NULL, 10);
	if (n <= 0 || n > 1000000 || read_secret(sk_path, sk) != 0)
		return 1;
	char guest[TICKET_TEXT_MAX], host[TICKET_TEXT_MAX], sid[CODES_ID_LEN + 1];
	for (long i = 0; i < n; i++) {
		codes_new_id(sid);
		if (sign_with(sk, sid, "guest", expires_in, guest) != 0 ||
		    sign_with(sk, sid, "host", expires_in, host) != 0)
			return 1;
		printf("%s %s %s\n", sid, guest, host);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "keygen") == 0)
		return keygen(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "sign-many") == 0)
		return sign_many(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: ticket_tool keygen SECRET PUBLIC | sign SECRET SESSION_ID guest|host EXPIRES_IN\n"
	                "       | sign-many SECRET COUNT EXPIRES_IN\n");
	return 2;
}
