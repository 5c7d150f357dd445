/*
 * A screen's location (see location.h): the JSON the console's map reads,
 * and the manual point of PATCH /api/v1/screens/{id}. A manual point is
 * kept in 10^-7 degree, so what is read back is the number sent rounded to
 * about a centimetre; a point from the address carries the city, country
 * and accuracy radius the database gives, a manual one none of them.
 */
#include "location.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../audit/audit.h"
#include "../geo/geoip.h"
#include "../http/server.h"
#include "../store/db.h"

json_t *location_json(bool manual, int64_t lat_e7, int64_t lon_e7, const char *ip)
{
	if (manual)
		return json_pack("{s:f, s:f, s:s, s:s, s:s, s:n}", "lat", (double)lat_e7 / LOCATION_E7, "lon",
		                 (double)lon_e7 / LOCATION_E7, "source", "manual", "city", "", "country", "",
		                 "accuracy_km");
	struct geo_place place;
	geo_lookup(ip, &place);
	if (!place.has_location)
		return json_null();
	return json_pack("{s:f, s:f, s:s, s:s, s:s, s:o}", "lat", place.latitude, "lon", place.longitude, "source",
	                 "ip", "city", place.city, "country", place.country, "accuracy_km",
	                 place.accuracy_km ? json_integer(place.accuracy_km) : json_null());
}

static bool refuse(struct http_req *r, const char *code, const char *field, const char *message)
{
	http_reply_error_extra(r, 400, code, json_pack("{s:s}", "field", field), "%s", message);
	return false;
}

/* One coordinate: a finite JSON number within -limit..limit. */
static bool degrees_ok(json_t *v, double limit)
{
	if (!json_is_number(v))
		return false;
	double d = json_number_value(v);
	return isfinite(d) && d >= -limit && d <= limit;
}

bool location_check(struct http_req *r, json_t *value)
{
	if (json_is_null(value))
		return true;
	if (!json_is_object(value))
		return refuse(r, "invalid_field", "location",
		              "location must be {\"lat\": degrees, \"lon\": degrees}, or null to place the screen by "
		              "its address again");
	const char *key;
	json_t *v;
	json_object_foreach (value, key, v) {
		if (strcmp(key, "lat") != 0 && strcmp(key, "lon") != 0) {
			char message[128];
			snprintf(message, sizeof message, "unknown field \"location.%.32s\" (lat, lon)", key);
			return refuse(r, "unknown_field", "location", message);
		}
	}
	if (!degrees_ok(json_object_get(value, "lat"), 90))
		return refuse(r, "invalid_field", "location.lat",
		              "location.lat must be a number of degrees from -90 to 90 (north positive)");
	if (!degrees_ok(json_object_get(value, "lon"), 180))
		return refuse(r, "invalid_field", "location.lon",
		              "location.lon must be a number of degrees from -180 to 180 (east positive)");
	return true;
}

/* Degrees (checked: within -180..180) to the nearest 10^-7 degree, halves away from zero. */
static int64_t to_e7(double degrees)
{
	double scaled = degrees * LOCATION_E7;
	return (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
}

int location_save(struct http_req *r, const char *id, json_t *value)
{
	if (json_is_null(value)) {
		int rc = db_exec(
		    r->db, "UPDATE screens SET location_lat_e7 = NULL, location_lon_e7 = NULL WHERE id = ?", "s", id);
		if (rc == DB_DONE)
			audit_request(r, "screen.location", id, "placed by its address again");
		return rc;
	}
	int64_t lat = to_e7(json_number_value(json_object_get(value, "lat")));
	int64_t lon = to_e7(json_number_value(json_object_get(value, "lon")));
	int rc = db_exec(r->db, "UPDATE screens SET location_lat_e7 = ?, location_lon_e7 = ? WHERE id = ?", "iis", lat,
	                 lon, id);
	if (rc == DB_DONE) {
		char detail[64];
		snprintf(detail, sizeof detail, "set by hand to %.7f, %.7f", (double)lat / LOCATION_E7,
		         (double)lon / LOCATION_E7);
		audit_request(r, "screen.location", id, detail);
	}
	return rc;
}
