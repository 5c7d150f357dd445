/*
 * libFuzzer target: CIDR parsing (allowlists, trusted proxies, addresses
 * from X-Forwarded-For). Whatever parses must be self-consistent: the
 * prefix is in range, host bits are zero, the block contains itself, and
 * the canonical text form parses back to the same block and prints the
 * same again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_die(const struct cidr *a, const struct cidr *b)
{
	if (a->v6 != b->v6 || a->prefix != b->prefix || memcmp(a->addr, b->addr, sizeof a->addr) != 0)
		abort();
}

static void check_block(const struct cidr *c)
{
	unsigned max = c->v6 ? 128 : 32;
	if (c->prefix > max)
		abort();
	if (!c->v6)
		for (size_t i = 4; i < sizeof c->addr; i++)
			if (c->addr[i])
				abort();
	if (!cidr_contains(c, c))
		abort();
	char out[64], again[64];
	cidr_format(c, out, sizeof out);
	struct cidr d;
	if (cidr_parse(out, &d) != 0)
		abort();
	same_or_die(c, &d);
	cidr_format(&d, again, sizeof again);
	if (strcmp(out, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256];
	if (size >= sizeof text)
		size = sizeof text - 1;
	memcpy(text, data, size);
	text[size] = '\0';

	struct cidr block, addr;
	bool have_block = cidr_parse(text, &block) == 0;
	if (have_block) {
		check_block(&block);
		/* host bits beyond the prefix are zero */
		unsigned max = block.v6 ? 128 : 32;
		for (unsigned bit = block.prefix; bit < max; bit++)
			if (block.addr[bit / 8] & (0x80 >> (bit % 8)))
				abort();
	}
	if (cidr_parse_addr(text, &addr) == 0) {
		if (addr.prefix != (addr.v6 ? 128 : 32))
			abort();
		check_block(&addr);
		/* a bare address is also a valid host block */
		struct cidr host;
		if (cidr_parse(text, &host) != 0)
			abort();
		same_or_die(&addr, &host);
	}
	/* "BLOCK ADDR": containment never crashes and agrees with itself */
	char *sp = strchr(text, ' ');
	if (sp) {
		*sp = '\0';
		struct cidr b, a;
		if (cidr_parse(text, &b) == 0 && cidr_parse_addr(sp + 1, &a) == 0) {
			bool in = cidr_contains(&b, &a);
			if (in && b.v6 != a.v6)
				abort();
			if (b.prefix == 0 && b.v6 == a.v6 && !in)
				abort();
		}
	}
	return 0;
}
