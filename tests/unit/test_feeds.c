/*
 * Unit tests of the feed parser (src/server/content/feed_parse.c): RSS 2.0,
 * RSS 1.0 and Atom items, HTML text with its entities decoded (issue 8:
 * "<p>It&#8217;s caf&eacute;</p>" must reach screens as "It’s café"),
 * limits, links, and documents that are not feeds or carry XML entities
 * (never substituted); and the address gate of feed connections
 * (feed_fetch.c: global unicast only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "server/content/feed_fetch.h"
#include "server/content/feed_parse.h"

static json_t *parse_ok(const char *doc)
{
	char err[256] = "";
	json_t *items = feed_parse(doc, strlen(doc), err, sizeof err);
	if (!items)
		print_error("feed_parse refused: %s\n", err);
	assert_non_null(items);
	return items;
}

static const char *member(json_t *items, size_t i, const char *key)
{
	json_t *item = json_array_get(items, i);
	assert_non_null(item);
	const char *v = json_string_value(json_object_get(item, key));
	assert_non_null(v);
	return v;
}

static void refused_with(const char *doc, const char *want)
{
	char err[256] = "";
	json_t *items = feed_parse(doc, strlen(doc), err, sizeof err);
	assert_null(items);
	assert_non_null(strstr(err, want));
}

static void test_rss2(void **state)
{
	(void)state;
	json_t *items = parse_ok("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title>"
	                         "<item><title>First</title><link>https://example.test/1</link>"
	                         "<description>One</description><pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate>"
	                         "</item><item><title>Second</title><link>javascript:alert(1)</link></item>"
	                         "<item><link>https://example.test/none</link></item></channel></rss>");
	assert_int_equal(json_array_size(items), 2); /* an item with neither title nor summary is left out */
	assert_string_equal(member(items, 0, "title"), "First");
	assert_string_equal(member(items, 0, "summary"), "One");
	assert_string_equal(member(items, 0, "link"), "https://example.test/1");
	assert_string_equal(member(items, 0, "published"), "Mon, 30 Nov 2026 10:00:00 GMT");
	assert_string_equal(member(items, 1, "link"), ""); /* only http(s) links */
	assert_string_equal(member(items, 1, "summary"), "");
	json_decref(items);
}

static void test_rss1(void **state)
{
	(void)state;
	json_t *items = parse_ok("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
	                         "xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"
	                         "<channel><title>c</title></channel><item><title>R1</title>"
	                         "<dc:date>2026-11-30</dc:date></item></rdf:RDF>");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(member(items, 0, "title"), "R1");
	assert_string_equal(member(items, 0, "published"), "2026-11-30");
	json_decref(items);
}

static void test_atom(void **state)
{
	(void)state;
	json_t *items = parse_ok(
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>f</title>"
	    "<entry><title type=\"html\">A &amp;amp; B</title><link rel=\"self\" href=\"https://example.test/self\"/>"
	    "<link href=\"https://example.test/a\"/><updated>2026-11-30T10:00:00Z</updated>"
	    "<summary type=\"html\">&lt;b&gt;bold&lt;/b&gt; and &lt;i&gt;it&lt;/i&gt;alic</summary></entry>"
	    "<entry><title>X</title><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
	    "<p>para one</p><p>para two</p></div></content></entry></feed>");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(member(items, 0, "title"), "A & B");
	assert_string_equal(member(items, 0, "link"), "https://example.test/a");
	assert_string_equal(member(items, 0, "published"), "2026-11-30T10:00:00Z");
	assert_string_equal(member(items, 0, "summary"), "bold and italic");
	assert_string_equal(member(items, 1, "summary"), "para one para two");
	json_decref(items);
}

/* Issue 8 item 6: HTML entities reach screens decoded. */
static void test_html_entities_are_decoded(void **state)
{
	(void)state;
	/* escaped HTML, as RSS descriptions carry it */
	json_t *items = parse_ok("<rss><channel><item><title>It&amp;#8217;s caf&amp;eacute;</title>"
	                         "<description>&lt;p&gt;It&amp;#8217;s caf&amp;eacute;&lt;/p&gt;</description>"
	                         "</item><item><title>CDATA</title><description><![CDATA[<p>It&#8217;s "
	                         "caf&eacute;</p><p>5&nbsp;&lt;&nbsp;6 &amp; &quot;q&quot; &#x263A;</p>"
	                         "<script>alert(1)</script><style>p{}</style>]]></description></item>"
	                         "</channel></rss>");
	assert_string_equal(member(items, 0, "summary"), "It\u2019s caf\u00e9");
	assert_string_equal(member(items, 0, "title"), "It\u2019s caf\u00e9");
	assert_string_equal(member(items, 1, "summary"), "It\u2019s caf\u00e9 5 < 6 & \"q\" \u263a");
	json_decref(items);

	char *t = feed_html_text("<p>It&#8217;s caf&eacute;</p>", 29, 500);
	assert_string_equal(t, "It\u2019s caf\u00e9");
	free(t);
	t = feed_html_text("plain &amp; simple, a < b", 25, 500);
	assert_string_equal(t, "plain & simple, a < b");
	free(t);
	t = feed_html_text("<ul><li>one</li><li>two</li></ul>x<b>y</b>z<br>w", 48, 500);
	assert_string_equal(t, "one two xyz w");
	free(t);
	t = feed_html_text("", 0, 500);
	assert_string_equal(t, "");
	free(t);
	t = feed_html_text("&unknown; &#0; &#xD800; \x01tab\there", 34, 500);
	assert_non_null(t);
	assert_null(strchr(t, '\x01'));
	assert_null(strchr(t, '\t'));
	free(t);
}

static void test_limits(void **state)
{
	(void)state;
	/* a long title is cut on a character boundary */
	char doc[8192];
	size_t n = (size_t)snprintf(doc, sizeof doc, "<rss><channel><item><title>");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n, "\u00e9");
	snprintf(doc + n, sizeof doc - n, "</title></item></channel></rss>");
	json_t *items = parse_ok(doc);
	const char *title = member(items, 0, "title");
	assert_true(strlen(title) <= FEED_TITLE_MAX);
	assert_true(strlen(title) >= FEED_TITLE_MAX - 1);
	assert_int_equal(strlen(title) % 2, 0); /* whole two-byte characters */
	json_decref(items);

	/* at most FEED_MAX_ITEMS items */
	size_t cap = 100000;
	char *big = malloc(cap);
	assert_non_null(big);
	n = (size_t)snprintf(big, cap, "<rss><channel>");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(big + n, cap - n, "<item><title>t%d</title></item>", i);
	snprintf(big + n, cap - n, "</channel></rss>");
	items = parse_ok(big);
	assert_int_equal(json_array_size(items), FEED_MAX_ITEMS);
	assert_string_equal(member(items, 49, "title"), "t49");
	json_decref(items);
	free(big);
}

static void test_not_feeds(void **state)
{
	(void)state;
	refused_with("", "not well-formed");
	refused_with("<rss><channel><item>", "not well-formed");
	refused_with("not xml at all", "not well-formed");
	refused_with("<html><body>hi</body></html>", "not an RSS or Atom feed");
	json_t *empty = parse_ok("<rss><channel><title>quiet</title></channel></rss>");
	assert_int_equal(json_array_size(empty), 0);
	json_decref(empty);
}

/* XML entities are never substituted: no XXE, no billion laughs. */
static void test_xml_entities_not_substituted(void **state)
{
	(void)state;
	json_t *items = parse_ok("<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">"
	                         "<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
	                         "<rss><channel><item><title>a&xxe;b</title><description>&lol2;</description>"
	                         "</item></channel></rss>");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(member(items, 0, "title"), "ab");
	assert_string_equal(member(items, 0, "summary"), "");
	json_decref(items);
}

static bool allowed(const char *addr)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1)
		v6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", addr);
	return feed_address_allowed((const struct sockaddr *)&ss);
}

/* The gate every feed connection passes (curl's open-socket callback): the
 * socket address as curl gives it, v4, v6 and v4-mapped v6. */
static void test_feed_addresses(void **state)
{
	(void)state;
	const char *refused[] = {"127.0.0.1",
	                         "10.0.0.1",
	                         "192.168.1.1",
	                         "169.254.169.254",
	                         "198.18.0.1",
	                         "192.0.0.1",
	                         "100.64.0.1",
	                         "0.0.0.0",
	                         "::1",
	                         "::",
	                         "::ffff:127.0.0.1",
	                         "::ffff:169.254.169.254",
	                         "64:ff9b::a9fe:a9fe",
	                         "2002:a9fe:a9fe::1",
	                         "::127.0.0.1",
	                         "fec0::1",
	                         "fe80::1",
	                         "fd00::1",
	                         "ff02::1"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		if (allowed(refused[i]))
			print_error("%s allowed\n", refused[i]);
		assert_false(allowed(refused[i]));
	}
	/* parsed, never contacted */
	assert_true(allowed("93.184.215.14"));
	assert_true(allowed("::ffff:93.184.215.14"));
	assert_true(allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c"));
	/* not an IP socket */
	struct sockaddr_un un;
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	assert_false(feed_address_allowed((const struct sockaddr *)&un));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rss2),
	    cmocka_unit_test(test_rss1),
	    cmocka_unit_test(test_atom),
	    cmocka_unit_test(test_html_entities_are_decoded),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_not_feeds),
	    cmocka_unit_test(test_xml_entities_not_substituted),
	    cmocka_unit_test(test_feed_addresses),
	};
	return cmocka_run_group_tests_name("feeds", tests, NULL, NULL);
}
