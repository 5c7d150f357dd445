/*
 * What the player runs on, as it reports it to the server (POST
 * /api/v1/device/inventory): model, host name, OS and kernel, player
 * version, CPU, memory, disks (with free space), network interfaces and
 * their addresses, displays (DRM connectors: connected, resolution), and
 * uptime. Read from /proc, /sys, uname, statvfs and getifaddrs; a part
 * that cannot be read is left out, never guessed.
 */
#ifndef VITRINE_PLAYER_INVENTORY_H
#define VITRINE_PLAYER_INVENTORY_H

#include <jansson.h>

/* The inventory now (version: the player's); data_dir's disk is marked
 * "player_data". */
json_t *inventory_collect(const char *data_dir, const char *version);

/* The parts of an inventory whose change is worth a report: without
 * uptime and available memory, free space rounded to whole percents. */
json_t *inventory_signature(json_t *inventory);

#endif
