/* The nine-digit share code: RFC 1918 address and command port, or a
 * server-brokered number, with a Damm check digit; see code.h. */
#include "share/code.h"

#include <stdio.h>

const uint16_t share_code_ports[SHARE_CODE_PORT_COUNT] = {7385, 29736, 2067, 39458};

/* The private ranges in the order their addresses are numbered. */
static const struct {
	uint32_t base;
	unsigned prefix;
} private_ranges[] = {
    {0x0a000000u, 8},  /* 10.0.0.0/8 */
    {0xac100000u, 12}, /* 172.16.0.0/12 */
    {0xc0a80000u, 16}, /* 192.168.0.0/16 */
};
#define RANGE_COUNT (sizeof private_ranges / sizeof private_ranges[0])

/* Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004). */
static const uint8_t damm_table[10][10] = {
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3}, {4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
    {1, 7, 5, 0, 9, 8, 3, 4, 2, 6}, {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7}, {9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
    {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

int share_code_damm(const char *digits, unsigned count)
{
	unsigned interim = 0;
	for (unsigned i = 0; i < count; i++)
		interim = damm_table[interim][(unsigned)(digits[i] - '0')];
	return (int)interim;
}

static uint32_t range_size(unsigned prefix)
{
	return 1u << (32 - prefix);
}

static bool range_holds(unsigned r, uint32_t ipv4)
{
	uint32_t mask = ~(range_size(private_ranges[r].prefix) - 1);
	return (ipv4 & mask) == private_ranges[r].base;
}

bool share_code_is_private(uint32_t ipv4)
{
	for (unsigned r = 0; r < RANGE_COUNT; r++)
		if (range_holds(r, ipv4))
			return true;
	return false;
}

int share_code_port_index(uint16_t port)
{
	for (int i = 0; i < SHARE_CODE_PORT_COUNT; i++)
		if (share_code_ports[i] == port)
			return i;
	return -1;
}

/* Writes the eight digits of value and their check digit, dashed. */
static void write_code(uint32_t value, char out[SHARE_CODE_TEXT_SIZE])
{
	char digits[SHARE_CODE_DIGITS + 1];
	snprintf(digits, sizeof digits, "%08u", (unsigned)value);
	digits[8] = (char)('0' + share_code_damm(digits, 8));
	snprintf(out, SHARE_CODE_TEXT_SIZE, "%.3s-%.3s-%.3s", digits, digits + 3, digits + 6);
}

bool share_code_direct(uint32_t ipv4, uint16_t port, char out[SHARE_CODE_TEXT_SIZE])
{
	int port_index = share_code_port_index(port);
	if (port_index < 0)
		return false;
	uint32_t first = 0;
	for (unsigned r = 0; r < RANGE_COUNT; r++) {
		if (range_holds(r, ipv4)) {
			uint32_t address_index = first + (ipv4 - private_ranges[r].base);
			write_code(address_index * SHARE_CODE_PORT_COUNT + (uint32_t)port_index, out);
			return true;
		}
		first += range_size(private_ranges[r].prefix);
	}
	return false;
}

bool share_code_brokered(uint32_t index, char out[SHARE_CODE_TEXT_SIZE])
{
	if (index >= SHARE_CODE_BROKERED_COUNT)
		return false;
	write_code(SHARE_CODE_DIRECT_COUNT + index, out);
	return true;
}

enum share_code_status share_code_parse(const char *typed, struct share_code_target *out)
{
	char digits[SHARE_CODE_DIGITS];
	unsigned n = 0;
	for (const char *p = typed; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (*p < '0' || *p > '9' || n == SHARE_CODE_DIGITS)
			return SHARE_CODE_MALFORMED;
		digits[n++] = *p;
	}
	if (n != SHARE_CODE_DIGITS)
		return SHARE_CODE_MALFORMED;
	if (share_code_damm(digits, SHARE_CODE_DIGITS) != 0)
		return SHARE_CODE_BAD_CHECK;
	uint32_t value = 0;
	for (unsigned i = 0; i < 8; i++)
		value = value * 10 + (uint32_t)(digits[i] - '0');
	if (!out)
		return SHARE_CODE_OK;
	*out = (struct share_code_target){0};
	if (value >= SHARE_CODE_DIRECT_COUNT) {
		out->kind = SHARE_CODE_BROKERED;
		out->broker_index = value - SHARE_CODE_DIRECT_COUNT;
		return SHARE_CODE_OK;
	}
	out->kind = SHARE_CODE_DIRECT;
	out->port_index = value % SHARE_CODE_PORT_COUNT;
	out->port = share_code_ports[out->port_index];
	uint32_t address_index = value / SHARE_CODE_PORT_COUNT;
	for (unsigned r = 0; r < RANGE_COUNT; r++) {
		uint32_t size = range_size(private_ranges[r].prefix);
		if (address_index < size) {
			out->ipv4 = private_ranges[r].base + address_index;
			break;
		}
		address_index -= size;
	}
	return SHARE_CODE_OK;
}

const char *share_code_status_message(enum share_code_status status)
{
	switch (status) {
	case SHARE_CODE_OK:
		return "the share code is valid";
	case SHARE_CODE_MALFORMED:
		return "a share code is nine digits, as the display shows it (DDD-DDD-DDD)";
	case SHARE_CODE_BAD_CHECK:
		return "this share code has a mistyped digit (its check digit does not match): "
		       "type it again as the display shows it";
	}
	return "unknown share code status";
}
