/*
 * Where a guest is, for the choice of a relay (issue 10: "the nearest
 * healthy shared relay by the guest's region"): a lookup of the client's
 * address in a MaxMind DB file (.mmdb, e.g. GeoLite2-Country or -City),
 * setting geoip_database. Without the file every lookup finds nothing and
 * relays are chosen by load alone.
 */
#ifndef VITRINE_REMOTE_REGION_H
#define VITRINE_REMOTE_REGION_H

#include <stdbool.h>
#include <stddef.h>

struct remote_region {
	char country[3];   /* ISO 3166-1 alpha-2, upper case ("DE"), or "" */
	char continent[3]; /* MaxMind continent code ("EU", "NA", ...), or "" */
};

/* Opens the database at path ("" or NULL: none, lookups find nothing).
 * Returns 0, or -1 with a sentence in err. Call once, before the server
 * answers requests; lookups are then safe from any thread. */
int remote_region_open(const char *path, char *err, size_t errsz);
/* Closes the database (lookups find nothing afterwards). */
void remote_region_close(void);
/* The region of an address as the server prints it (r->ip: IPv4 dotted or
 * IPv6). False, with out emptied, when there is no database, the address
 * is not in it, or its record has neither code. */
bool remote_region_lookup(const char *ip, struct remote_region *out);

#endif
