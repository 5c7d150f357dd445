/*
 * Where an address is, approximately: a lookup in a MaxMind DB file
 * (.mmdb: GeoLite2/GeoIP2 Country or City, or any database with the same
 * record layout), setting geoip_database. Remote control chooses the relay
 * nearest to the guest by it; live chat shows operators where a visitor
 * is; the console's map places a screen by its last address. Without the
 * file every lookup finds nothing.
 */
#ifndef VITRINE_GEO_GEOIP_H
#define VITRINE_GEO_GEOIP_H

#include <stdbool.h>
#include <stddef.h>

struct geo_place {
	char country[3];       /* ISO 3166-1 alpha-2, upper case ("DE"), or "" */
	char continent[3];     /* MaxMind continent code ("EU", "NA", ...), or "" */
	char country_name[64]; /* English name ("Germany"), or "" */
	char city[96];         /* English name of the city (City databases), or "" */
	/* location.latitude/longitude (City databases): the centre of the area
	 * the address is in, and location.accuracy_radius, how far from it the
	 * address may be */
	bool has_location;
	double latitude;      /* degrees, -90..90 */
	double longitude;     /* degrees, -180..180 */
	unsigned accuracy_km; /* 0: the database does not say */
};

/* Opens the database at path ("" or NULL: none, lookups find nothing).
 * Returns 0, or -1 with a sentence in err. Call once, before the server
 * answers requests; lookups are then safe from any thread. */
int geo_open(const char *path, char *err, size_t errsz);
/* Closes the database (lookups find nothing afterwards). */
void geo_close(void);
/* The place of an address as the server prints it (r->ip: IPv4 dotted or
 * IPv6). True when its record has a country or continent code (what the
 * relay choice and the chat show). The location is filled whenever the
 * record has one, whatever is returned; out is emptied when there is no
 * database or the address is not in it. */
bool geo_lookup(const char *ip, struct geo_place *out);

#endif
