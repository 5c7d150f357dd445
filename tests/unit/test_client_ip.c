/*
 * Unit tests of src/server/http/client_ip.c: who the client is, from the
 * socket's peer and, behind trusted proxies, from X-Forwarded-For (walked
 * from the right; anything odd makes the client unknown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/http/client_ip.h"

static struct cidr proxies[2];
static size_t n_proxies;

static void trust(const char *a, const char *b)
{
	n_proxies = 0;
	if (a)
		assert_int_equal(cidr_parse(a, &proxies[n_proxies++]), 0);
	if (b)
		assert_int_equal(cidr_parse(b, &proxies[n_proxies++]), 0);
}

static const char *resolve(const char *peer, const char *xff)
{
	static struct client_ip out;
	client_ip_resolve(peer, xff, xff ? strlen(xff) : 0, proxies, n_proxies, &out);
	return out.text;
}

static void peer_without_proxies(void **state)
{
	(void)state;
	trust(NULL, NULL);
	assert_string_equal(resolve("192.0.2.7", NULL), "192.0.2.7");
	/* without trusted proxies the header is ignored */
	assert_string_equal(resolve("192.0.2.7", "203.0.113.9"), "192.0.2.7");
	/* v4-mapped peers are shown as IPv4 */
	assert_string_equal(resolve("::ffff:192.0.2.7", NULL), "192.0.2.7");
	assert_string_equal(resolve("2001:db8::1", NULL), "2001:db8::1");
}

static void header_from_untrusted_peer_is_ignored(void **state)
{
	(void)state;
	trust("10.0.0.0/8", NULL);
	assert_string_equal(resolve("192.0.2.7", "203.0.113.9"), "192.0.2.7");
}

static void walk_from_the_right(void **state)
{
	(void)state;
	trust("10.0.0.0/8", "2001:db8:ffff::/48");
	assert_string_equal(resolve("10.0.0.1", "203.0.113.9"), "203.0.113.9");
	/* a client-supplied left part cannot win over the proxies' own hops */
	assert_string_equal(resolve("10.0.0.1", "1.2.3.4, 203.0.113.9, 10.0.0.2"), "203.0.113.9");
	/* spaces and tabs around items */
	assert_string_equal(resolve("10.0.0.1", " \t198.51.100.3\t "), "198.51.100.3");
	/* every hop trusted: the leftmost is the client */
	assert_string_equal(resolve("10.0.0.1", "10.1.1.1,10.2.2.2"), "10.1.1.1");
	assert_string_equal(resolve("10.0.0.1", "2001:db8::5"), "2001:db8::5");
	assert_string_equal(resolve("10.0.0.1", NULL), "10.0.0.1");
}

static void odd_lists_make_the_client_unknown(void **state)
{
	(void)state;
	trust("10.0.0.0/8", NULL);
	static const char *bad[] = {"not-an-ip",
	                            "203.0.113.9,",
	                            ", 10.0.0.5",
	                            "203.0.113.9:80",
	                            "[2001:db8::1]",
	                            "1.2.3.4/8",
	                            "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct client_ip out;
		client_ip_resolve("10.0.0.1", bad[i], strlen(bad[i]), proxies, n_proxies, &out);
		if (strcmp(out.text, "unknown") != 0)
			print_error("X-Forwarded-For \"%s\" gave %s\n", bad[i], out.text);
		assert_string_equal(out.text, "unknown");
		assert_true(out.addr.v6);
		assert_int_equal(out.addr.prefix, 128);
	}
	/* a list longer than the bound */
	struct client_ip out;
	client_ip_resolve("10.0.0.1", "1.2.3.4", CLIENT_IP_XFF_MAX + 1, proxies, n_proxies, &out);
	assert_string_equal(out.text, "unknown");
	/* a NUL inside an item is not cut short into an address */
	static const char nul[] = "203.0.113.9\0junk";
	client_ip_resolve("10.0.0.1", nul, sizeof nul - 1, proxies, n_proxies, &out);
	assert_string_equal(out.text, "unknown");
	/* the list is read by length, not up to a NUL */
	client_ip_resolve("10.0.0.1", "203.0.113.9xyz", 11, proxies, n_proxies, &out);
	assert_string_equal(out.text, "203.0.113.9");
}

static void unparsable_peer_is_kept_as_text(void **state)
{
	(void)state;
	trust("10.0.0.0/8", NULL);
	assert_string_equal(resolve("", "203.0.113.9"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(peer_without_proxies),
	    cmocka_unit_test(header_from_untrusted_peer_is_ignored),
	    cmocka_unit_test(walk_from_the_right),
	    cmocka_unit_test(odd_lists_make_the_client_unknown),
	    cmocka_unit_test(unparsable_peer_is_kept_as_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
