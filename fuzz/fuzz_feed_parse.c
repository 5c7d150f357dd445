/*
 * libFuzzer target: feed parsing (src/server/content/feed_parse.c), the
 * bytes a feed server sends. Whatever parses gives at most FEED_MAX_ITEMS
 * items of four strings within their limits, with no control character;
 * the HTML-to-text step alone keeps within its limit on any input too.
 */
#include <libxml/parser.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/content/feed_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void plain_or_die(const char *s, size_t max)
{
	if (!s || strlen(s) > max)
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		xmlInitParser();
		ready = 1;
	}
	char err[256] = "";
	json_t *items = feed_parse((const char *)data, size, err, sizeof err);
	if (!items && !err[0])
		abort();
	if (items) {
		if (json_array_size(items) > FEED_MAX_ITEMS)
			abort();
		size_t i;
		json_t *item;
		json_array_foreach (items, i, item) {
			plain_or_die(json_string_value(json_object_get(item, "title")), FEED_TITLE_MAX);
			plain_or_die(json_string_value(json_object_get(item, "summary")), FEED_SUMMARY_MAX);
			plain_or_die(json_string_value(json_object_get(item, "link")), FEED_LINK_MAX);
			plain_or_die(json_string_value(json_object_get(item, "published")), 100);
		}
		json_decref(items);
	}
	char *text = feed_html_text((const char *)data, size, FEED_SUMMARY_MAX);
	if (!text)
		abort();
	plain_or_die(text, FEED_SUMMARY_MAX);
	free(text);
	return 0;
}
