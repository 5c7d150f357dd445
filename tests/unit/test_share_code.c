/*
 * Unit tests of src/share/code.c, the nine-digit share code: every RFC 1918
 * address round-trips with each command port, nothing else encodes, every
 * single mistyped digit and every swap of neighbouring digits is refused,
 * and brokered codes fill the numbers above the direct ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "share/code.h"

static uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

static void round_trip_range(uint32_t base, uint32_t size)
{
	char code[SHARE_CODE_TEXT_SIZE];
	struct share_code_target t;
	for (uint32_t i = 0; i < size; i++) {
		uint32_t addr = base + i;
		unsigned port_index = i % SHARE_CODE_PORT_COUNT;
		if (!share_code_direct(addr, share_code_ports[port_index], code))
			fail_msg("no code for %08x", addr);
		if (share_code_parse(code, &t) != SHARE_CODE_OK || t.kind != SHARE_CODE_DIRECT || t.ipv4 != addr ||
		    t.port_index != port_index || t.port != share_code_ports[port_index])
			fail_msg("%08x port %u: %s decodes to %08x port %u", addr, port_index, code, t.ipv4,
			         t.port_index);
	}
}

static void test_every_private_address_round_trips(void **state)
{
	(void)state;
	round_trip_range(ip(10, 0, 0, 0), 1u << 24);
	round_trip_range(ip(172, 16, 0, 0), 1u << 20);
	round_trip_range(ip(192, 168, 0, 0), 1u << 16);
}

static void test_every_port_of_an_address(void **state)
{
	(void)state;
	const uint32_t samples[] = {ip(10, 0, 0, 0),       ip(10, 255, 255, 255), ip(172, 16, 0, 1),
	                            ip(172, 31, 255, 255), ip(192, 168, 0, 0),    ip(192, 168, 255, 255),
	                            ip(192, 168, 1, 20)};
	for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++)
		for (unsigned p = 0; p < SHARE_CODE_PORT_COUNT; p++) {
			char code[SHARE_CODE_TEXT_SIZE];
			struct share_code_target t;
			assert_true(share_code_direct(samples[s], share_code_ports[p], code));
			assert_int_equal(strlen(code), 11);
			assert_true(code[3] == '-' && code[7] == '-');
			assert_int_equal(share_code_parse(code, &t), SHARE_CODE_OK);
			assert_int_equal(t.ipv4, samples[s]);
			assert_int_equal(t.port, share_code_ports[p]);
		}
	/* the first and the last direct codes */
	char code[SHARE_CODE_TEXT_SIZE];
	assert_true(share_code_direct(ip(10, 0, 0, 0), 7385, code));
	assert_string_equal(code, "000-000-000");
	assert_true(share_code_direct(ip(192, 168, 255, 255), 39458, code));
	assert_string_equal(code, "715-653-119"); /* 71565311 */
	/* the example of docs/PROTOCOL.md, worked by hand and by a second implementation */
	assert_true(share_code_direct(ip(192, 168, 1, 20), 29736, code));
	assert_string_equal(code, "713-042-730");
}

static void test_only_private_addresses_and_command_ports(void **state)
{
	(void)state;
	char code[SHARE_CODE_TEXT_SIZE] = "untouched";
	const uint32_t public_or_other[] = {ip(9, 255, 255, 255), ip(11, 0, 0, 0),        ip(172, 15, 255, 255),
	                                    ip(172, 32, 0, 0),    ip(192, 167, 255, 255), ip(192, 169, 0, 0),
	                                    ip(127, 0, 0, 1),     ip(0, 0, 0, 0),         ip(255, 255, 255, 255),
	                                    ip(100, 64, 0, 1),    ip(169, 254, 1, 1),     ip(8, 8, 8, 8)};
	for (size_t i = 0; i < sizeof public_or_other / sizeof public_or_other[0]; i++) {
		assert_false(share_code_is_private(public_or_other[i]));
		assert_false(share_code_direct(public_or_other[i], 7385, code));
	}
	assert_false(share_code_direct(ip(10, 1, 2, 3), 7386, code));
	assert_false(share_code_direct(ip(10, 1, 2, 3), 0, code));
	assert_string_equal(code, "untouched");
	assert_int_equal(share_code_port_index(2067), 2);
	assert_int_equal(share_code_port_index(80), -1);
}

/* Codes spread over the whole number space, direct and brokered. */
static void sample_code(unsigned i, char code[SHARE_CODE_TEXT_SIZE])
{
	uint32_t v = (uint32_t)((i * 2654435761u) % 100000000u);
	if (v < SHARE_CODE_DIRECT_COUNT) {
		struct share_code_target t;
		uint32_t address_index = v / 4;
		uint32_t addr = address_index < (1u << 24) ? ip(10, 0, 0, 0) + address_index
		                : address_index < (1u << 24) + (1u << 20)
		                    ? ip(172, 16, 0, 0) + (address_index - (1u << 24))
		                    : ip(192, 168, 0, 0) + (address_index - (1u << 24) - (1u << 20));
		assert_true(share_code_direct(addr, share_code_ports[v % 4], code));
		assert_int_equal(share_code_parse(code, &t), SHARE_CODE_OK);
	} else {
		assert_true(share_code_brokered(v - SHARE_CODE_DIRECT_COUNT, code));
	}
}

static void test_a_mistyped_digit_is_refused(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 5000; i++) {
		char code[SHARE_CODE_TEXT_SIZE];
		sample_code(i, code);
		for (unsigned pos = 0; pos < 11; pos++) {
			if (code[pos] == '-')
				continue;
			for (char d = '0'; d <= '9'; d++) {
				if (d == code[pos])
					continue;
				char typo[SHARE_CODE_TEXT_SIZE];
				memcpy(typo, code, sizeof typo);
				typo[pos] = d;
				if (share_code_parse(typo, NULL) != SHARE_CODE_BAD_CHECK)
					fail_msg("%s typed as %s was accepted", code, typo);
			}
		}
	}
}

static void test_swapped_neighbours_are_refused(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		char code[SHARE_CODE_TEXT_SIZE], digits[SHARE_CODE_DIGITS + 1];
		sample_code(i, code);
		snprintf(digits, sizeof digits, "%.3s%.3s%.3s", code, code + 4, code + 8);
		for (unsigned pos = 0; pos + 1 < SHARE_CODE_DIGITS; pos++) {
			if (digits[pos] == digits[pos + 1])
				continue;
			char swapped[SHARE_CODE_DIGITS + 1];
			memcpy(swapped, digits, sizeof swapped);
			swapped[pos] = digits[pos + 1];
			swapped[pos + 1] = digits[pos];
			if (share_code_parse(swapped, NULL) != SHARE_CODE_BAD_CHECK)
				fail_msg("%s typed as %s was accepted", digits, swapped);
		}
	}
}

static void test_brokered_codes(void **state)
{
	(void)state;
	char code[SHARE_CODE_TEXT_SIZE];
	struct share_code_target t;
	const uint32_t indexes[] = {0, 1, 12345, SHARE_CODE_BROKERED_COUNT - 1};
	for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
		assert_true(share_code_brokered(indexes[i], code));
		assert_int_equal(share_code_parse(code, &t), SHARE_CODE_OK);
		assert_int_equal(t.kind, SHARE_CODE_BROKERED);
		assert_int_equal(t.broker_index, indexes[i]);
	}
	assert_true(share_code_brokered(0, code));
	assert_string_equal(code, "715-653-124");
	assert_true(share_code_brokered(SHARE_CODE_BROKERED_COUNT - 1, code));
	assert_string_equal(code, "999-999-999");
	assert_false(share_code_brokered(SHARE_CODE_BROKERED_COUNT, code));
}

static void test_what_people_type(void **state)
{
	(void)state;
	char code[SHARE_CODE_TEXT_SIZE], loose[32];
	struct share_code_target t;
	assert_true(share_code_direct(ip(192, 168, 1, 20), 29736, code));
	snprintf(loose, sizeof loose, " %.3s %.3s  %.3s ", code, code + 4, code + 8);
	assert_int_equal(share_code_parse(loose, &t), SHARE_CODE_OK);
	assert_int_equal(t.ipv4, ip(192, 168, 1, 20));
	snprintf(loose, sizeof loose, "%.3s%.3s%.3s", code, code + 4, code + 8);
	assert_int_equal(share_code_parse(loose, &t), SHARE_CODE_OK);
	const char *malformed[] = {"",  "12345678",    "1234567890", "12345678a", "123.456.789", "１２３４５６７８９",
	                           "-", "123-456-78x", "0x1234567"};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
		assert_int_equal(share_code_parse(malformed[i], &t), SHARE_CODE_MALFORMED);
	assert_non_null(strstr(share_code_status_message(SHARE_CODE_BAD_CHECK), "mistyped"));
	assert_non_null(strstr(share_code_status_message(SHARE_CODE_MALFORMED), "nine digits"));
}

static void test_damm_reference(void **state)
{
	(void)state;
	/* the worked example of Damm's algorithm: 572 has check digit 4 */
	assert_int_equal(share_code_damm("572", 3), 4);
	assert_int_equal(share_code_damm("5724", 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_private_address_round_trips),
	    cmocka_unit_test(test_every_port_of_an_address),
	    cmocka_unit_test(test_only_private_addresses_and_command_ports),
	    cmocka_unit_test(test_a_mistyped_digit_is_refused),
	    cmocka_unit_test(test_swapped_neighbours_are_refused),
	    cmocka_unit_test(test_brokered_codes),
	    cmocka_unit_test(test_what_people_type),
	    cmocka_unit_test(test_damm_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
