/*
 * Unit tests of src/common/cidr.c: parsing (v4, v6, v4-mapped), prefix
 * bounds, the "host bits set" typo guard, containment and formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cidr.h"

static struct cidr parse_ok(const char *text)
{
	struct cidr c;
	int rc = cidr_parse(text, &c);
	if (rc != 0)
		print_error("cidr_parse refused \"%s\"\n", text);
	assert_int_equal(rc, 0);
	return c;
}

static struct cidr addr_ok(const char *text)
{
	struct cidr c;
	int rc = cidr_parse_addr(text, &c);
	if (rc != 0)
		print_error("cidr_parse_addr refused \"%s\"\n", text);
	assert_int_equal(rc, 0);
	return c;
}

static void refused(const char *text)
{
	struct cidr c;
	int rc = cidr_parse(text, &c);
	if (rc != -1)
		print_error("cidr_parse accepted \"%s\"\n", text);
	assert_int_equal(rc, -1);
}

static void formats_as(const char *text, const char *want)
{
	struct cidr c = parse_ok(text);
	char out[64];
	cidr_format(&c, out, sizeof out);
	assert_string_equal(out, want);
}

static bool contains(const char *block, const char *addr)
{
	struct cidr b = parse_ok(block), a = addr_ok(addr);
	return cidr_contains(&b, &a);
}

static void test_parse_v4(void **state)
{
	(void)state;
	struct cidr c = parse_ok("10.0.0.0/8");
	assert_false(c.v6);
	assert_int_equal(c.prefix, 8);
	const uint8_t want[4] = {10, 0, 0, 0};
	assert_memory_equal(c.addr, want, 4);

	c = parse_ok("192.168.1.7");
	assert_false(c.v6);
	assert_int_equal(c.prefix, 32);

	c = parse_ok("192.168.1.7/32");
	assert_int_equal(c.prefix, 32);
	c = parse_ok("0.0.0.0/0");
	assert_int_equal(c.prefix, 0);
	c = parse_ok("172.16.0.0/12");
	assert_int_equal(c.prefix, 12);
	c = parse_ok("10.0.0.0/008"); /* leading zeros, three digits at most */
	assert_int_equal(c.prefix, 8);

	formats_as("10.0.0.0/8", "10.0.0.0/8");
	formats_as("192.168.1.7", "192.168.1.7/32");
}

static void test_parse_v6(void **state)
{
	(void)state;
	struct cidr c = parse_ok("2001:db8::/32");
	assert_true(c.v6);
	assert_int_equal(c.prefix, 32);
	const uint8_t want[4] = {0x20, 0x01, 0x0d, 0xb8};
	assert_memory_equal(c.addr, want, 4);

	c = parse_ok("::1");
	assert_true(c.v6);
	assert_int_equal(c.prefix, 128);
	c = parse_ok("::/0");
	assert_true(c.v6);
	assert_int_equal(c.prefix, 0);
	c = parse_ok("fe80::/10");
	assert_int_equal(c.prefix, 10);

	formats_as("2001:DB8:0:0::/64", "2001:db8::/64");
	formats_as("::1", "::1/128");
	formats_as("::/0", "::/0");
}

static void test_parse_v4_mapped(void **state)
{
	(void)state;
	/* a v4-mapped address is an IPv4 host */
	struct cidr c = addr_ok("::ffff:10.1.2.3");
	assert_false(c.v6);
	assert_int_equal(c.prefix, 32);
	const uint8_t want[4] = {10, 1, 2, 3};
	assert_memory_equal(c.addr, want, 4);

	/* a v4-mapped block: its prefix counts from bit 96 */
	c = parse_ok("::ffff:10.0.0.0/104");
	assert_false(c.v6);
	assert_int_equal(c.prefix, 8);
	formats_as("::ffff:10.0.0.0/104", "10.0.0.0/8");
	refused("::ffff:10.0.0.0/95");
	refused("::ffff:10.0.0.0/129");
}

static void test_prefix_bounds(void **state)
{
	(void)state;
	refused("10.0.0.0/33");
	refused("10.0.0.0/99");
	refused("10.0.0.0/255");
	refused("10.0.0.0/256");
	refused("10.0.0.0/1000");
	refused("10.0.0.0/-1");
	refused("10.0.0.0/+8");
	refused("10.0.0.0/");
	refused("10.0.0.0/ 8");
	refused("10.0.0.0/8 ");
	refused("10.0.0.0/0x8");
	refused("2001:db8::/129");
	refused("2001:db8::/200");
	parse_ok("2001:db8::/128");
	parse_ok("255.255.255.255/32");
}

static void test_host_bits_refused(void **state)
{
	(void)state;
	refused("10.0.0.1/8");
	refused("10.128.0.0/8");
	parse_ok("10.128.0.0/9");
	refused("10.64.0.0/9");
	parse_ok("10.64.0.0/10");
	refused("192.168.1.1/24");
	refused("1.0.0.0/0");
	refused("2001:db8::1/64");
	refused("2001:db8:8000::/32");
	parse_ok("2001:db8:8000::/33");
	refused("::1/0");
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.0/8", "10.0.0.0"));
	assert_true(contains("10.0.0.0/8", "10.255.1.2"));
	assert_false(contains("10.0.0.0/8", "11.0.0.1"));
	assert_false(contains("10.0.0.0/8", "9.255.255.255"));
	assert_true(contains("172.16.0.0/12", "172.31.255.255"));
	assert_false(contains("172.16.0.0/12", "172.32.0.0"));
	assert_false(contains("172.16.0.0/12", "172.15.255.255"));
	assert_true(contains("192.168.1.7", "192.168.1.7"));
	assert_false(contains("192.168.1.7", "192.168.1.8"));
	assert_true(contains("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(contains("2001:db8::/32", "2001:db9::1"));
	assert_true(contains("fe80::/10", "febf::1"));
	assert_false(contains("fe80::/10", "fec0::1"));
	assert_true(contains("::1", "::1"));
	assert_false(contains("::1", "::2"));
}

static void test_v4_mapped_matches_v4_block(void **state)
{
	(void)state;
	assert_true(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_true(contains("10.0.0.0/8", "::FFFF:10.1.2.3"));
	assert_false(contains("10.0.0.0/8", "::ffff:11.1.2.3"));
	assert_true(contains("192.168.1.7", "::ffff:192.168.1.7"));
	assert_true(contains("::ffff:10.0.0.0/104", "10.9.9.9"));
	/* a v4-compatible (not mapped) address is IPv6 */
	assert_false(contains("10.0.0.0/8", "::10.1.2.3"));
}

static void test_families_do_not_mix(void **state)
{
	(void)state;
	assert_false(contains("0.0.0.0/0", "::1"));
	assert_false(contains("0.0.0.0/0", "2001:db8::1"));
	assert_false(contains("::/0", "10.1.2.3"));
	assert_false(contains("::/0", "::ffff:10.1.2.3")); /* mapped counts as v4 */
	/* same leading bytes, other family */
	assert_false(contains("10.0.0.0/8", "a00::1"));
	assert_false(contains("a00::/8", "10.0.0.1"));
}

static void test_zero_prefix_matches_family(void **state)
{
	(void)state;
	const char *v4[] = {"0.0.0.0", "10.1.2.3", "255.255.255.255", "::ffff:1.2.3.4", "127.0.0.1"};
	const char *v6[] = {"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1"};
	for (size_t i = 0; i < 5; i++) {
		assert_true(contains("0.0.0.0/0", v4[i]));
		assert_true(contains("::/0", v6[i]));
	}
}

static void test_garbage_refused(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "/",
	    "/8",
	    "abc",
	    "10",
	    "10.0.0",
	    "10.0.0/8",
	    "10.0.0.0.0",
	    "1.2.3.4.5/32",
	    "256.0.0.0/8",
	    "10.0.0.0/8/8",
	    " 10.0.0.0/8",
	    "10.0.0.0 /8",
	    "10.0.0.0/8\n",
	    "10.0.0.0\n/8",
	    "::ffff::1",
	    "2001:db8:::/32",
	    "2001:db8::g/32",
	    "[::1]/128",
	    "[::1]",
	    "fe80::1%eth0",
	    "localhost",
	    "0x0a000000/8",
	    "10.0.0.0/8abc",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(bad[i]);

	/* too long for the parser's buffer */
	char longtext[200];
	memset(longtext, '1', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	refused(longtext);
	char padded[80] = "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/0";
	refused(padded);

	struct cidr c;
	assert_int_equal(cidr_parse_addr("", &c), -1);
	assert_int_equal(cidr_parse_addr("10.0.0.0/8", &c), -1);
	assert_int_equal(cidr_parse_addr("garbage", &c), -1);
	assert_int_equal(cidr_parse_addr(longtext, &c), -1);
}

static void test_format_roundtrip(void **state)
{
	(void)state;
	const char *texts[] = {"10.0.0.0/8", "0.0.0.0/0",           "1.2.3.4",    "2001:db8::/32", "::/0", "::1",
	                       "fe80::/10",  "::ffff:10.0.0.0/104", "::10.1.2.3", "ffff::/16"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct cidr a = parse_ok(texts[i]), b;
		char out[64];
		cidr_format(&a, out, sizeof out);
		assert_int_equal(cidr_parse(out, &b), 0);
		assert_int_equal(a.v6, b.v6);
		assert_int_equal(a.prefix, b.prefix);
		assert_memory_equal(a.addr, b.addr, 16);
	}
	/* a short buffer truncates safely */
	struct cidr c = parse_ok("2001:db8::/32");
	char small[6];
	cidr_format(&c, small, sizeof small);
	assert_string_equal(small, "2001:");
}

static bool global(const char *addr)
{
	struct cidr a = addr_ok(addr);
	return cidr_is_global_unicast(&a);
}

/* Issue 9: the feed address rule is "global unicast or refused"; each
 * address the old list of bad ranges let through is refused. */
static void test_global_unicast_refuses_the_old_gaps(void **state)
{
	(void)state;
	const char *refused_now[] = {
	    "198.18.0.1",     "198.19.255.254",  /* benchmarking 198.18.0.0/15 */
	    "192.0.0.1",      "192.0.0.170",     /* IETF protocol assignments 192.0.0.0/24 */
	    "64:ff9b::a00:1", "64:ff9b::7f00:1", /* NAT64 64:ff9b::/96 (to 10.0.0.1, 127.0.0.1) */
	    "2002:a00:1::1",  "2002:7f00:1::",   /* 6to4 2002::/16 */
	    "::10.0.0.1",     "::127.0.0.1",     /* IPv4-compatible ::a.b.c.d */
	    "::8.8.8.8",      "fec0::1",         /* site-local fec0::/10 */
	    "fefe::1",
	};
	for (size_t i = 0; i < sizeof refused_now / sizeof refused_now[0]; i++) {
		if (global(refused_now[i]))
			print_error("%s counted as global unicast\n", refused_now[i]);
		assert_false(global(refused_now[i]));
	}
}

static void test_global_unicast_refuses_special_purpose(void **state)
{
	(void)state;
	const char *special[] = {
	    "0.0.0.0",
	    "0.1.2.3",
	    "10.1.2.3",
	    "100.64.0.1",
	    "100.127.255.255",
	    "127.0.0.1",
	    "127.9.9.9",
	    "169.254.1.1",
	    "172.16.0.1",
	    "172.31.255.255",
	    "192.0.2.1",
	    "192.88.99.1",
	    "192.168.1.1",
	    "198.51.100.1",
	    "203.0.113.9",
	    "224.0.0.1",
	    "239.255.255.250",
	    "240.0.0.1",
	    "255.255.255.255",
	    "::ffff:127.0.0.1",
	    "::ffff:10.0.0.1",
	    "::",
	    "::1",
	    "100::1",
	    "2001::1",
	    "2001:2::1",
	    "2001:10::1",
	    "2001:20::1",
	    "2001:db8::1",
	    "3fff::1",
	    "fc00::1",
	    "fd12:3456::1",
	    "fe80::1",
	    "ff02::1",
	    "ff0e::1",
	    "4000::1",
	    "8000::1",
	    "::ffff:0:a00:1",
	    "1::1",
	};
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
		if (global(special[i]))
			print_error("%s counted as global unicast\n", special[i]);
		assert_false(global(special[i]));
	}
}

static void test_global_unicast_allows_the_internet(void **state)
{
	(void)state;
	/* parsed, never contacted */
	const char *ok[] = {"1.1.1.1",        "8.8.8.8",
	                    "9.9.9.9",        "100.63.255.255",
	                    "100.128.0.0",    "172.15.255.255",
	                    "172.32.0.0",     "192.0.1.255",
	                    "192.0.3.0",      "198.17.255.255",
	                    "198.20.0.0",     "223.255.255.254",
	                    "::ffff:8.8.8.8", "2001:4860:4860::8888",
	                    "2a00:1450::1",   "2606:4700::1111",
	                    "2001:200::1",    "3ffe::1"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (!global(ok[i]))
			print_error("%s refused\n", ok[i]);
		assert_true(global(ok[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_v4),
	    cmocka_unit_test(test_parse_v6),
	    cmocka_unit_test(test_parse_v4_mapped),
	    cmocka_unit_test(test_prefix_bounds),
	    cmocka_unit_test(test_host_bits_refused),
	    cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_v4_mapped_matches_v4_block),
	    cmocka_unit_test(test_families_do_not_mix),
	    cmocka_unit_test(test_zero_prefix_matches_family),
	    cmocka_unit_test(test_garbage_refused),
	    cmocka_unit_test(test_format_roundtrip),
	    cmocka_unit_test(test_global_unicast_refuses_the_old_gaps),
	    cmocka_unit_test(test_global_unicast_refuses_special_purpose),
	    cmocka_unit_test(test_global_unicast_allows_the_internet),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
