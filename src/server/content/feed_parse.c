/* Feed documents to plain-text items; see feed_parse.h. */
#include "feed_parse.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"

#define COLLECT_DEPTH 16

/* Adds to a capped text (a buf): what does not fit is dropped, never a
 * part of a UTF-8 character. */
static void text_add(struct buf *t, size_t cap, const char *s, size_t n)
{
	size_t room = cap - buf_len(t);
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	(void)buf_add(t, s, n); /* out of memory: the text is shorter */
}

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

/* Elements that do not separate words: no space is put around them. */
static bool inline_element(const xmlNode *n)
{
	static const char *const names[] = {"a",    "abbr",   "b",   "bdi", "bdo",  "cite", "code", "data", "dfn",
	                                    "em",   "font",   "i",   "kbd", "mark", "q",    "s",    "samp", "small",
	                                    "span", "strong", "sub", "sup", "time", "u",    "var",  NULL};
	for (const char *const *nm = names; *nm; nm++)
		if (named(n, *nm))
			return true;
	return false;
}

/* The text and CDATA under n; in the XML, entity references are skipped,
 * never read. Script and style are not text; elements other than inline
 * ones separate words (Atom's xhtml content is elements already). */
static void collect(const xmlNode *n, struct buf *t, size_t cap, int depth)
{
	for (const xmlNode *k = n->children; k && depth < COLLECT_DEPTH; k = k->next) {
		if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content) {
			text_add(t, cap, (const char *)k->content, strlen((const char *)k->content));
		} else if (k->type == XML_ELEMENT_NODE) {
			if (named(k, "script") || named(k, "style"))
				continue;
			bool spaced = !inline_element(k);
			if (spaced)
				text_add(t, cap, " ", 1);
			collect(k, t, cap, depth + 1);
			if (spaced)
				text_add(t, cap, " ", 1);
		}
	}
}

/* In place: whitespace (and no-break spaces) collapsed to one space,
 * control characters dropped, cut to max bytes on a UTF-8 boundary. */
static void clean(char *s, size_t max)
{
	char *w = s;
	bool space = true;
	for (const char *r = s; *r;) {
		unsigned char ch = (unsigned char)*r;
		bool blank = ch <= 0x20 || ch == 0x7f;
		size_t step = 1;
		if (ch == 0xc2 && (unsigned char)r[1] == 0xa0) /* U+00A0, &nbsp; */
			blank = true, step = 2;
		r += step;
		if (blank) {
			if (!space)
				*w++ = ' ';
			space = true;
			continue;
		}
		*w++ = (char)ch;
		space = false;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
	size_t len = (size_t)(w - s);
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
		s[len] = '\0';
	}
}

char *feed_html_text(const char *html, size_t len, size_t max)
{
	/* decoding only shortens, but bytes that are not UTF-8 are read as
	 * Latin-1 (two bytes each in UTF-8), and every element may add spaces */
	size_t cap = 2 * len + 16;
	struct buf t;
	buf_init(&t, cap);
	if (len > 0 && len <= (size_t)INT32_MAX) {
		htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
		                                HTML_PARSE_NONET | HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		                                    HTML_PARSE_NOWARNING | HTML_PARSE_NOIMPLIED);
		if (doc) {
			for (const xmlNode *n = doc->children; n; n = n->next) {
				if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
					text_add(&t, cap, (const char *)n->content, strlen((const char *)n->content));
				else if (n->type == XML_ELEMENT_NODE && !named(n, "script") && !named(n, "style")) {
					text_add(&t, cap, " ", 1);
					collect(n, &t, cap, 0);
				}
			}
			xmlFreeDoc(doc);
		}
	}
	char *text = buf_take(&t, NULL);
	if (text)
		clean(text, max);
	return text;
}

/* The text of the first of names under item that has any (XML text, then
 * plain through the HTML parser when html); NULL if none. */
static char *field(const xmlNode *item, const char *const *names, size_t cap, bool html, size_t max)
{
	for (const char *const *nm = names; *nm; nm++)
		for (const xmlNode *k = item->children; k; k = k->next) {
			if (!named(k, *nm))
				continue;
			struct buf t;
			buf_init(&t, cap);
			collect(k, &t, cap, 0);
			size_t len;
			char *out = buf_take(&t, &len);
			if (out && html) {
				char *plain = feed_html_text(out, len, max);
				free(out);
				out = plain;
			} else if (out) {
				clean(out, max);
			}
			if (!out)
				return NULL;
			if (*out)
				return out;
			free(out);
		}
	return NULL;
}

/* An http(s) URL with no control character or space in it (a link is
 * shown and followed as is). */
static bool http_url(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static char *item_link(const xmlNode *item)
{
	char *link = NULL;
	for (const xmlNode *k = item->children; k && !link; k = k->next) {
		if (!named(k, "link"))
			continue;
		xmlChar *href = xmlGetNoNsProp(k, (const xmlChar *)"href");
		xmlChar *rel = xmlGetNoNsProp(k, (const xmlChar *)"rel");
		if (href && (!rel || strcmp((const char *)rel, "alternate") == 0))
			link = strdup((const char *)href);
		xmlFree(href);
		xmlFree(rel);
	}
	if (!link) {
		static const char *const names[] = {"link", NULL};
		link = field(item, names, FEED_LINK_MAX, false, FEED_LINK_MAX);
	}
	if (link && (strlen(link) > FEED_LINK_MAX || !http_url(link))) {
		free(link);
		link = NULL;
	}
	return link;
}

static void add_item(json_t *items, const xmlNode *item)
{
	static const char *const titles[] = {"title", NULL};
	static const char *const summaries[] = {"description", "summary", "content", "encoded", NULL};
	static const char *const dates[] = {"pubDate", "published", "updated", "date", NULL};
	char *title = field(item, titles, 4096, true, FEED_TITLE_MAX);
	char *summary = field(item, summaries, 16384, true, FEED_SUMMARY_MAX);
	char *date = field(item, dates, 100, false, 100);
	char *link = item_link(item);
	if (title || summary) {
		/* json_string refuses invalid UTF-8: such a field is left empty */
		json_t *t = json_string(title ? title : ""), *s = json_string(summary ? summary : "");
		json_t *l = json_string(link ? link : ""), *d = json_string(date ? date : "");
		json_array_append_new(items, json_pack("{s:o, s:o, s:o, s:o}", "title", t ? t : json_string(""),
		                                       "summary", s ? s : json_string(""), "link",
		                                       l ? l : json_string(""), "published", d ? d : json_string("")));
	}
	free(title);
	free(summary);
	free(date);
	free(link);
}

json_t *feed_parse(const char *doc, size_t len, char *err, size_t errsz)
{
	json_t *items = NULL;
	if (len > (size_t)INT32_MAX) {
		snprintf(err, errsz, "the feed is too large");
		return NULL;
	}
	xmlDoc *xml =
	    xmlReadMemory(doc, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNode *root = xml ? xmlDocGetRootElement(xml) : NULL;
	if (!root) {
		snprintf(err, errsz, "the feed is not well-formed XML");
		goto out;
	}
	if (!named(root, "rss") && !named(root, "feed") && !named(root, "RDF")) {
		snprintf(err, errsz, "the document is not an RSS or Atom feed");
		goto out;
	}
	items = json_array();
	if (!items) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	/* RSS 2.0: rss/channel/item; RSS 1.0: RDF/item; Atom: feed/entry */
	for (xmlNode *n = root->children; n && json_array_size(items) < FEED_MAX_ITEMS; n = n->next) {
		if (named(n, "item") || named(n, "entry"))
			add_item(items, n);
		else if (named(n, "channel"))
			for (xmlNode *k = n->children; k && json_array_size(items) < FEED_MAX_ITEMS; k = k->next)
				if (named(k, "item"))
					add_item(items, k);
	}
out:
	xmlFreeDoc(xml);
	return items;
}
