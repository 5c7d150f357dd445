/*
 * CIDR blocks (IPv4 and IPv6) for allowlists and trusted proxies. An IPv4
 * address also matches an IPv4 block when it arrives as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d), as it does on dual-stack sockets.
 */
#ifndef VITRINE_CIDR_H
#define VITRINE_CIDR_H

#include <stdbool.h>
#include <stdint.h>

struct cidr {
	uint8_t addr[16]; /* IPv4 is stored in the first 4 bytes */
	uint8_t prefix;   /* 0..32 or 0..128 */
	bool v6;
};

/* Parses "a.b.c.d/nn", "x::y/nn" or a bare address (host block). Host bits
 * beyond the prefix must be zero ("10.0.0.1/8" is refused: it is almost
 * always a typo). Returns 0 or -1. */
int cidr_parse(const char *text, struct cidr *out);

/* Parses a single address (v4, v6 or v4-mapped v6) into a host block. */
int cidr_parse_addr(const char *text, struct cidr *out);

bool cidr_contains(const struct cidr *block, const struct cidr *addr);

/* Whether a host address is global unicast: one that the IANA
 * special-purpose registries (RFC 6890 and successors) do not mark as not
 * globally reachable. An allow rule: IPv6 must be inside 2000::/3, the
 * only block IANA allocates global unicast from (so ::/128, ::1, ::a.b.c.d,
 * 64:ff9b::/96, fc00::/7, fe80::/10, fec0::/10 and ff00::/8 are refused by
 * construction), and outside its special blocks (2001::/23, 2001:db8::/32,
 * 2002::/16 6to4, 3fff::/20); IPv4 (or IPv4-mapped) must be below
 * 224.0.0.0 (no multicast, reserved or broadcast) and outside the
 * special-purpose blocks that are not globally reachable. */
bool cidr_is_global_unicast(const struct cidr *addr);

/* Canonical text form into out (at least 50 bytes). */
void cidr_format(const struct cidr *c, char *out, unsigned outsz);

#endif
