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

/* IANA IPv4 special-purpose address registry: the blocks not globally
 * reachable (192.0.0.0/24 whole: its two anycast exceptions are of no use
 * to a feed). Multicast and above are refused before this list. */
static const char *const v4_not_global[] = {"0.0.0.0/8",      "10.0.0.0/8",
                                            "100.64.0.0/10",  "127.0.0.0/8",
                                            "169.254.0.0/16", "172.16.0.0/12",
                                            "192.0.0.0/24",   "192.0.2.0/24",
                                            "192.88.99.0/24", "192.168.0.0/16",
                                            "198.18.0.0/15",  "198.51.100.0/24",
                                            "203.0.113.0/24", NULL};

/* IANA IPv6 special-purpose address registry: the blocks inside 2000::/3
 * that are not global unicast (IETF protocol assignments incl. Teredo,
 * benchmarking and ORCHID; documentation; 6to4, which tunnels to any IPv4
 * address, private ones included). */
static const char *const v6_not_global[] = {"2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", NULL};

static bool in_any(const char *const *blocks, const struct cidr *addr)
{
	for (const char *const *b = blocks; *b; b++) {
		struct cidr block;
		if (cidr_parse(*b, &block) == 0 && cidr_contains(&block, addr))
			return true;
	}
	return false;
}

bool cidr_is_global_unicast(const struct cidr *addr)
{
	if (addr->v6)
		return (addr->addr[0] & 0xe0) == 0x20 && !in_any(v6_not_global, addr); /* 2000::/3 */
	return addr->addr[0] < 224 && !in_any(v4_not_global, addr);
}
