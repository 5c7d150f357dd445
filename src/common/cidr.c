/* CIDR parsing and matching; see cidr.h. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unmap_v4(struct cidr *c)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (c->v6 && memcmp(c->addr, mapped, 12) == 0 && c->prefix >= 96) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->prefix = (uint8_t)(c->prefix - 96);
		c->v6 = false;
	}
}

int cidr_parse_addr(const char *text, struct cidr *out)
{
	memset(out, 0, sizeof *out);
	if (strlen(text) >= 64)
		return -1;
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->v6 = true;
		out->prefix = 128;
		unmap_v4(out);
		return 0;
	}
	return -1;
}

int cidr_parse(const char *text, struct cidr *out)
{
	char buf[64];
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, text, n + 1);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		*slash = '\0';
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		for (const char *q = p; *q; q++)
			if (*q < '0' || *q > '9')
				return -1;
		prefix = strtol(p, NULL, 10);
	}
	if (cidr_parse_addr(buf, out) != 0)
		return -1;
	unsigned max = out->v6 ? 128 : 32;
	if (prefix >= 0) {
		/* a v4-mapped v6 address was unmapped: its prefix counts from 96 */
		bool was_mapped = !out->v6 && strchr(buf, ':');
		if (was_mapped)
			prefix -= 96;
		if (prefix < 0 || prefix > (long)max)
			return -1;
		out->prefix = (uint8_t)prefix;
	}
	/* host bits must be zero */
	for (unsigned bit = out->prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

bool cidr_contains(const struct cidr *block, const struct cidr *addr)
{
	if (block->v6 != addr->v6)
		return false;
	unsigned full = block->prefix / 8, rest = block->prefix % 8;
	if (memcmp(block->addr, addr->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (block->addr[full] & mask) == (addr->addr[full] & mask);
}

void cidr_format(const struct cidr *c, char *out, unsigned outsz)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, a, sizeof a);
	snprintf(out, outsz, "%s/%u", a, c->prefix);
}
