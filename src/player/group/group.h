/*
 * The player's part in a sync group (docs/PROTOCOL.md, "Sync groups on the
 * LAN"): a thread of its own, so that network timing never waits for the
 * agent's HTTP work. When the manifest names a group, it joins the group's
 * two multicast addresses, says HELLO four times a second, elects the
 * leader (the lowest member number among those alive whose clocks are the
 * group's; at start, when nobody's is, the lowest alive), and either leads
 * (beacons, answers delay requests with its clock) or follows (measures
 * the leader's clock and slews its own to it: clock.h). With nobody heard
 * for two seconds it plays alone on its own clock, and says so in the
 * heartbeat. The kiosk page reads the group clock through group_read().
 */
#ifndef VITRINE_PLAYER_GROUP_GROUP_H
#define VITRINE_PLAYER_GROUP_GROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

struct group;

struct group_view {
	bool configured; /* the manifest names a group */
	char group_id[64];
	uint32_t member; /* our number */
	uint32_t leader; /* 0: none (alone) */
	enum group_role role;
	int64_t group_ns; /* the group clock at the time of the reading */
	int64_t local_ns; /* this machine's steady clock (CLOCK_MONOTONIC) at that time */
	double error_ms;  /* our clock minus the leader's, as last measured */
	double delay_ms;  /* the round trip of that measurement */
	unsigned peers;   /* members heard in the last two seconds, not counting us */
	unsigned steps;   /* how often our clock stepped instead of slewing */
	int64_t epoch_ms; /* the group's epoch (the manifest's epoch_ms) */
};

/* interface: "" (the system's multicast route), an interface name or an
 * IPv4 address of the LAN. NULL + err when the setting is wrong. */
struct group *group_create(const char *interface, char *err, size_t errsz);
void group_destroy(struct group *g);

/* The manifest's "sync" object (NULL: in no group). A malformed one is
 * logged and treated as none. */
void group_configure(struct group *g, const json_t *sync);

/* The state now (the clock read at this moment). */
void group_read(struct group *g, struct group_view *v);

/* Adds "sync" to a heartbeat body when in a group. */
void group_heartbeat(struct group *g, json_t *body);

const char *group_role_name(enum group_role role);

#endif
