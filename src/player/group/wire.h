/*
 * The wire format of sync groups on the LAN (docs/PROTOCOL.md, "Sync groups
 * on the LAN"). Every message is one 96-byte UDP datagram, multicast with
 * TTL 1: HELLO on port 16732 (group 239.255.67.32) from every member four
 * times a second, and BEACON, DELAY_REQ and DELAY_RESP on port 16733 (group
 * 239.255.67.33) between the leader and the members. Each message ends with
 * a BLAKE2b MAC keyed with the group's secret (it reaches the members in
 * their manifests), so a device that does not hold the key can neither join
 * nor steer the group. The sender is named by its member number inside the
 * message, never by the source address (a relay or NAT may change it).
 *
 * Pure functions: encode into a buffer, decode and check a datagram.
 */
#ifndef VITRINE_PLAYER_GROUP_WIRE_H
#define VITRINE_PLAYER_GROUP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROUP_WIRE_SIZE      96
#define GROUP_KEY_SIZE       32
#define GROUP_TAG_SIZE       16
#define GROUP_DISCOVERY_PORT 16732
#define GROUP_CLOCK_PORT     16733
#define GROUP_DISCOVERY_ADDR "239.255.67.32"
#define GROUP_CLOCK_ADDR     "239.255.67.33"

enum group_msg_type {
	GROUP_HELLO = 1,      /* I am alive: my state, my view of the leader */
	GROUP_BEACON = 2,     /* the leader's clock (and that it leads) */
	GROUP_DELAY_REQ = 3,  /* a member asks the leader for its clock: t1 */
	GROUP_DELAY_RESP = 4, /* the leader answers: t1 echoed, t2 received, t3 sent */
};

/* What a member says it is (HELLO, BEACON). */
enum group_role {
	GROUP_ALONE = 0,   /* hears no other member: plays on its own clock */
	GROUP_LOCKING = 1, /* follows a leader, clock not settled yet */
	GROUP_MEMBER = 2,  /* follows a leader, clock locked */
	GROUP_LEADER = 3,  /* others follow its clock */
};

/* The sender's clock is the group's: it led others or locked to a leader
 * since it started (a fresh member's own guess is not). */
#define GROUP_FLAG_SYNCED 0x01

struct group_msg {
	uint8_t type;                /* enum group_msg_type */
	uint8_t role;                /* enum group_role of the sender */
	uint8_t flags;               /* GROUP_FLAG_* */
	uint8_t tag[GROUP_TAG_SIZE]; /* which group (a hash of its id) */
	uint32_t sender;             /* member number, 1..N */
	uint32_t leader;             /* the leader the sender follows (0: none) */
	uint32_t target;             /* DELAY_REQ: the leader asked; DELAY_RESP: the member answered */
	uint64_t session;            /* random per start of the sender */
	uint64_t seq;                /* increases with every message of a session */
	int64_t t1, t2, t3;          /* nanoseconds; see docs/PROTOCOL.md for each type */
};

/* The group's tag: BLAKE2b-128 of its id (a cheap filter before the MAC). */
void group_wire_tag(const char *group_id, uint8_t tag[GROUP_TAG_SIZE]);

/* Writes msg, MAC'd with key, into out (GROUP_WIRE_SIZE bytes). */
void group_wire_encode(const struct group_msg *msg, const uint8_t key[GROUP_KEY_SIZE], uint8_t out[GROUP_WIRE_SIZE]);

/* Checks and decodes a datagram: false when it is not exactly one message
 * of this group with a valid MAC under key (nothing is read before the MAC
 * is checked but the length, magic and tag). */
bool group_wire_decode(const uint8_t *data, size_t len, const uint8_t tag[GROUP_TAG_SIZE],
                       const uint8_t key[GROUP_KEY_SIZE], struct group_msg *out);

#endif
