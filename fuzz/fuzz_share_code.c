/*
 * libFuzzer target: the share code people type (src/share/code.c). Whatever
 * parses encodes back to the same nine digits; and from an address and a
 * port the input chooses, a code is made exactly for private addresses and
 * command ports, and it parses back to them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "share/code.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void digits_of(const char *text, char out[SHARE_CODE_DIGITS + 1])
{
	size_t n = 0;
	for (const char *p = text; *p; p++)
		if (*p >= '0' && *p <= '9' && n < SHARE_CODE_DIGITS)
			out[n++] = *p;
	out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char typed[64];
	size_t n = size < sizeof typed - 1 ? size : sizeof typed - 1;
	memcpy(typed, data, n);
	typed[n] = '\0';
	struct share_code_target t;
	if (share_code_parse(typed, &t) == SHARE_CODE_OK) {
		char again[SHARE_CODE_TEXT_SIZE], a[SHARE_CODE_DIGITS + 1], b[SHARE_CODE_DIGITS + 1];
		bool made = t.kind == SHARE_CODE_DIRECT ? share_code_direct(t.ipv4, t.port, again)
		                                        : share_code_brokered(t.broker_index, again);
		digits_of(typed, a);
		digits_of(again, b);
		if (!made || strcmp(a, b) != 0)
			abort();
	}
	if (size >= 6) {
		uint32_t ipv4 = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
		uint16_t port = (uint16_t)(data[4] << 8 | data[5]);
		char code[SHARE_CODE_TEXT_SIZE];
		bool made = share_code_direct(ipv4, port, code);
		if (made != (share_code_is_private(ipv4) && share_code_port_index(port) >= 0))
			abort();
		if (made && (share_code_parse(code, &t) != SHARE_CODE_OK || t.kind != SHARE_CODE_DIRECT ||
		             t.ipv4 != ipv4 || t.port != port))
			abort();
	}
	return 0;
}
