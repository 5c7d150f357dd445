/*
 * Feed parsing, pure: an RSS 2.0, RSS 1.0 or Atom document (bytes as
 * fetched) becomes at most FEED_MAX_ITEMS items of plain text, {"title",
 * "summary", "link", "published"}. No I/O, no global state besides
 * libxml2's own, so the parser is unit-tested (tests/unit/test_feeds.c)
 * and fuzzed (fuzz/fuzz_feed_parse.c) on its own.
 *
 * Safety: the XML parser never loads the network or a DTD and never
 * substitutes entities (no XXE, no entity expansion bombs): entity
 * references of the XML are skipped, only text and CDATA are read. The
 * text of a title or summary is HTML (escaped or in CDATA, as feeds carry
 * it) and goes through libxml2's HTML parser (no network, recovering,
 * silent), so markup is dropped and HTML entities are decoded:
 * "<p>It&#8217;s caf&eacute;</p>" becomes "It’s café".
 */
#ifndef VITRINE_FEED_PARSE_H
#define VITRINE_FEED_PARSE_H

#include <jansson.h>
#include <stddef.h>

#define FEED_MAX_ITEMS   50
#define FEED_TITLE_MAX   300
#define FEED_SUMMARY_MAX 500
#define FEED_LINK_MAX    2048

/* The items of a feed document (a new reference, maybe empty), or NULL
 * with a sentence in err. */
json_t *feed_parse(const char *doc, size_t len, char *err, size_t errsz);

/* The plain text of an HTML fragment (malloc'd): tags dropped, entities
 * decoded, whitespace collapsed, control characters dropped, cut to at
 * most max bytes on a UTF-8 boundary. NULL only when out of memory. */
char *feed_html_text(const char *html, size_t len, size_t max);

#endif
