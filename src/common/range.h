/*
 * HTTP byte ranges (RFC 9110 section 14): the single-range forms a player
 * or browser sends to resume a download or seek in a video.
 */
#ifndef VITRINE_RANGE_H
#define VITRINE_RANGE_H

#include <stdint.h>

/* Parses "bytes=A-B", "bytes=A-" or "bytes=-N" against a resource of size
 * bytes. Returns 1 with [*from, *to] for a satisfiable range, 0 when the
 * header is absent or ignored (several ranges, bad syntax: send it all),
 * -1 when unsatisfiable (416). */
int range_parse(const char *header, uint64_t size, uint64_t *from, uint64_t *to);

#endif
