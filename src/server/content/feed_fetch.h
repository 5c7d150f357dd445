/*
 * Feed fetching: one GET of a feed URL with libcurl, and nothing else
 * (parsing is feed_parse.c, the schedule and cache are feeds.c).
 *
 * Safety: only http(s), at most 3 redirects, 15 s and FEED_MAX_BYTES; no
 * proxy (the check must see the real peer); every connection, redirects
 * included, is refused unless its address is global unicast
 * (cidr_is_global_unicast: the IANA special-purpose registries), unless
 * allow_private.
 */
#ifndef VITRINE_FEED_FETCH_H
#define VITRINE_FEED_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define FEED_MAX_BYTES ((size_t)2 << 20)

struct sockaddr;

/* Whether a feed may connect to this socket address (AF_INET/AF_INET6,
 * global unicast). */
bool feed_address_allowed(const struct sockaddr *sa);

/* Fetches url; on 0, *body (malloc'd, NUL-terminated) and *len hold the
 * document; on -1, err holds a sentence. A transfer stops early when
 * *stop becomes true. */
int feed_fetch(const char *url, bool allow_private, const atomic_bool *stop, char **body, size_t *len, char *err,
               size_t errsz);

#endif
