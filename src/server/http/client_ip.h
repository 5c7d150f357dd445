/*
 * Who the client is: the socket's peer address, or, when that peer is a
 * trusted proxy, the address its X-Forwarded-For list names. Pure (no
 * libmicrohttpd, no store) so it is unit-tested and fuzzed on its own.
 *
 * The list is walked from the right, taking the first address that is not
 * itself a trusted proxy. Several header lines count as one comma-joined
 * list (RFC 9110). A list that is too long or holds anything that is not an
 * address makes the client "unknown" (::/128), which no allowlist matches.
 */
#ifndef VITRINE_HTTP_CLIENT_IP_H
#define VITRINE_HTTP_CLIENT_IP_H

#include <stddef.h>

#include "../../common/cidr.h"

#define CLIENT_IP_XFF_MAX  4096 /* bytes of the joined X-Forwarded-For list */
#define CLIENT_IP_TEXT_LEN 64

struct client_ip {
	char text[CLIENT_IP_TEXT_LEN]; /* printable: IPv4 dotted, IPv6, or "unknown" */
	struct cidr addr;              /* as a /32 or /128 */
};

/* peer: the socket's address as text (v4-mapped IPv6 is shown as IPv4);
 * "" or unparsable leaves the client unknown-but-peer ("" text). xff: the
 * joined list (not necessarily NUL-terminated) of xff_len bytes, NULL when
 * the request has none; xff_len > CLIENT_IP_XFF_MAX means "too long". */
void client_ip_resolve(const char *peer, const char *xff, size_t xff_len, const struct cidr *trusted, size_t n_trusted,
                       struct client_ip *out);

#endif
