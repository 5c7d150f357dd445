/*
 * The share code: the nine digits a display shows so that a laptop can find
 * it on the LAN ("DDD-DDD-DDD"). The first eight digits are a number V; the
 * ninth is V's Damm check digit, which refuses every single mistyped digit
 * and every swap of two neighbouring digits.
 *
 *   V < SHARE_CODE_DIRECT_COUNT   a direct code: V = address_index * 4 +
 *                                 port_index, where address_index numbers
 *                                 the RFC 1918 addresses (10/8 first, then
 *                                 172.16/12, then 192.168/16: 17,891,328 of
 *                                 them) and port_index picks one of the four
 *                                 command ports (share_code_ports).
 *   V >= SHARE_CODE_DIRECT_COUNT  a brokered code: V - SHARE_CODE_DIRECT_COUNT
 *                                 is a number the server handed to a display
 *                                 on any other address; only the server can
 *                                 resolve it.
 *
 * Eight digits hold 26.6 bits, so the 32 bits of an arbitrary IPv4 address
 * do not fit: only the private ranges are encoded, which is where a
 * display sits on a school or office LAN. Pure functions, no allocation.
 */
#ifndef VITRINE_SHARE_CODE_H
#define VITRINE_SHARE_CODE_H

#include <stdbool.h>
#include <stdint.h>

#define SHARE_CODE_DIGITS         9
#define SHARE_CODE_TEXT_SIZE      12 /* "DDD-DDD-DDD" + NUL */
#define SHARE_CODE_PORT_COUNT     4
#define SHARE_CODE_ADDRESSES      17891328u /* 2^24 + 2^20 + 2^16 */
#define SHARE_CODE_DIRECT_COUNT   (SHARE_CODE_ADDRESSES * SHARE_CODE_PORT_COUNT)
#define SHARE_CODE_BROKERED_COUNT (100000000u - SHARE_CODE_DIRECT_COUNT)

/* The command ports a receiver tries in this order; the code says which. */
extern const uint16_t share_code_ports[SHARE_CODE_PORT_COUNT];

enum share_code_kind { SHARE_CODE_DIRECT, SHARE_CODE_BROKERED };

struct share_code_target {
	enum share_code_kind kind;
	uint32_t ipv4;         /* direct: the address, host byte order */
	uint16_t port;         /* direct: share_code_ports[port_index] */
	unsigned port_index;   /* direct: 0..3 */
	uint32_t broker_index; /* brokered: 0 .. SHARE_CODE_BROKERED_COUNT-1 */
};

enum share_code_status {
	SHARE_CODE_OK,
	SHARE_CODE_MALFORMED, /* not nine digits (spaces and dashes aside) */
	SHARE_CODE_BAD_CHECK, /* nine digits whose check digit is wrong */
};

/* True for an address (host byte order) of 10/8, 172.16/12 or 192.168/16. */
bool share_code_is_private(uint32_t ipv4);

/* The index of port in share_code_ports, or -1 when it is none of them. */
int share_code_port_index(uint16_t port);

/* Writes the direct code of (ipv4, port) as "DDD-DDD-DDD" into out. False
 * (out untouched) when ipv4 is not private or port is not a command port. */
bool share_code_direct(uint32_t ipv4, uint16_t port, char out[SHARE_CODE_TEXT_SIZE]);

/* Writes the brokered code number index; false when index is out of range. */
bool share_code_brokered(uint32_t index, char out[SHARE_CODE_TEXT_SIZE]);

/* Reads what someone typed: nine digits, with any spaces or dashes between
 * them. On SHARE_CODE_OK fills *out (which may be NULL to only check). */
enum share_code_status share_code_parse(const char *typed, struct share_code_target *out);

/* A sentence for a status, for the person who typed the code. */
const char *share_code_status_message(enum share_code_status status);

/* The Damm check digit (0..9) of a string of decimal digits. */
int share_code_damm(const char *digits, unsigned count);

#endif
