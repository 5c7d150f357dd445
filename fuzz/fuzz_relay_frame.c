/*
 * Fuzz target: the relay's first frame (src/relay/first_frame.c) and the
 * ticket it carries (src/common/ticket.c ticket_verify), as a client's
 * first bytes reach them: any input must be parsed or refused, never read
 * past its end or crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/ticket.h"
#include "relay/first_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	static int ready;
	if (!ready) {
		unsigned char sk[crypto_sign_SECRETKEYBYTES];
		if (sodium_init() < 0)
			return 0;
		crypto_sign_keypair(pk, sk);
		ready = 1;
	}
	const char *text;
	size_t tlen, flen;
	if (first_frame_parse(data, size, &text, &tlen, &flen) == FIRST_FRAME_OK) {
		if (tlen > TICKET_TEXT_MAX || flen > size || (const uint8_t *)text + tlen > data + size)
			__builtin_trap();
		struct ticket t;
		ticket_verify(text, tlen, pk, 1000, &t);
	}
	/* the same bytes as a ticket alone */
	ticket_verify((const char *)data, size, pk, 1000, NULL);
	char line[64];
	first_frame_status(size ? "ticket_invalid" : "", line);
	return 0;
}
