/*
 * Test-only helper: makes Ed25519 key files and signs remote-control
 * tickets (src/common/ticket.c) the way the server will, so the relay's
 * integration tests (tests/integration/test_relay.py) can drive the real
 * binary without a server.
 *
 *   ticket_tool keygen SECRET_FILE PUBLIC_FILE   (public: base64 text)
 *   ticket_tool sign SECRET_FILE SESSION_ID guest|host EXPIRES_IN_SECONDS
 *     prints the ticket text; EXPIRES_IN_SECONDS may be negative.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int sign(const char *sk_path, const char *sid, const char *role, const char *expires_in)
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	FILE *f = fopen(sk_path, "rb");
	if (!f || fread(sk, 1, sizeof sk, f) != sizeof sk) {
		fprintf(stderr, "ticket_tool: cannot read %s\n", sk_path);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	struct ticket t = {.role = strcmp(role, "host") == 0 ? TICKET_HOST : TICKET_GUEST,
	                   .expires_at = (int64_t)time(NULL) + strtoll(expires_in, NULL, 10)};
	snprintf(t.session_id, sizeof t.session_id, "%s", sid);
	memcpy(t.screen_id, "screenscreen2345", CODES_ID_LEN + 1);
	memcpy(t.user_id, "useruseruseruser", CODES_ID_LEN + 1);
	strcpy(t.relay, "127.0.0.1:1970");
	char text[TICKET_TEXT_MAX];
	if (ticket_sign(&t, sk, text, sizeof text) != 0) {
		fprintf(stderr, "ticket_tool: cannot sign (session id: 16 characters of a-z2-7)\n");
		return 1;
	}
	puts(text);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "keygen") == 0)
		return keygen(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "sign") == 0)
		return sign(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: ticket_tool keygen SECRET PUBLIC | sign SECRET SESSION_ID guest|host EXPIRES_IN\n");
	return 2;
}
