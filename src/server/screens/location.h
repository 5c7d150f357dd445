/*
 * Where a screen is, for the console's map (SPEC section 7): the point an
 * admin set by hand (PATCH /api/v1/screens/{id} "location"), else the
 * place of the address the screen was last seen from in geoip_database.
 * The second is looked up each time a screen's JSON is built rather than
 * stored: the database is mapped in memory and a lookup costs about a
 * microsecond, and nothing can go stale when the address or the database
 * changes. Internal to the screens area.
 */
#ifndef VITRINE_SCREENS_LOCATION_H
#define VITRINE_SCREENS_LOCATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct http_req;

/* Degrees are kept as integers of 10^-7 degree (migration 0025). */
#define LOCATION_E7 10000000.0

/* The "location" member of a screen's JSON (new reference): the manual
 * point when manual is true (lat_e7, lon_e7), else the place of ip in the
 * geoip database, else JSON null. */
json_t *location_json(bool manual, int64_t lat_e7, int64_t lon_e7, const char *ip);

/* Checks the "location" field of a PATCH body: {"lat": degrees, "lon":
 * degrees} or null. True when it may be saved; otherwise it has replied 400
 * naming the field ("location.lat"). */
bool location_check(struct http_req *r, json_t *value);

/* Saves a checked "location" field for screen id (null: back to the
 * address's location) and audits it as screen.location. Returns DB_DONE or
 * the store's error. */
int location_save(struct http_req *r, const char *id, json_t *value);

#endif
