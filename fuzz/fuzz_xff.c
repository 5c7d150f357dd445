/*
 * libFuzzer target: the X-Forwarded-For walk (src/server/http/client_ip.c)
 * against fixed trusted proxies. The first byte picks the peer; the rest is
 * the joined header list. Whatever comes out must be a single address (or
 * "unknown" as ::/128) whose text parses back to the same address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/client_ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr trusted[3];
	static bool ready;
	if (!ready) {
		if (cidr_parse("10.0.0.0/8", &trusted[0]) || cidr_parse("2001:db8::/32", &trusted[1]) ||
		    cidr_parse("127.0.0.1/32", &trusted[2]))
			abort();
		ready = true;
	}
	static const char *peers[] = {"10.0.0.1", "127.0.0.1", "2001:db8::7", "192.0.2.1", "::ffff:10.1.2.3", ""};
	if (size == 0)
		return 0;
	const char *peer = peers[data[0] % (sizeof peers / sizeof peers[0])];
	struct client_ip out;
	client_ip_resolve(peer, (const char *)data + 1, size - 1, trusted, 3, &out);
	if (!memchr(out.text, '\0', sizeof out.text))
		abort();
	if (strcmp(out.text, "unknown") == 0) {
		if (!out.addr.v6 || out.addr.prefix != 128)
			abort();
		return 0;
	}
	if (out.text[0] == '\0')
		return 0; /* the empty peer stays empty */
	struct cidr again;
	if (cidr_parse_addr(out.text, &again) != 0 || again.v6 != out.addr.v6 ||
	    memcmp(again.addr, out.addr.addr, sizeof again.addr) != 0)
		abort();
	return 0;
}
