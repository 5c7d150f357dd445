/*
 * Where an address is (see geoip.h), with libmaxminddb. The database is
 * opened once at start-up (MMDB_MODE_MMAP) and only read afterwards, which
 * libmaxminddb allows from several threads at once. A record gives
 * country.iso_code and continent.code (GeoLite2/GeoIP2 Country and City
 * have both), country.names.en and city.names.en, and City's
 * location.latitude, location.longitude and location.accuracy_radius;
 * codes other than two ASCII letters are ignored, names that are not valid
 * UTF-8 without control characters or do not fit are left out, and a
 * location that is not two finite doubles within range is no location, so
 * a damaged or odd database cannot put anything else into the relay
 * choice or the console.
 */
#include "geoip.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <maxminddb.h>
#include <stdio.h>
#include <string.h>

#include "../../common/utf8.h"

static MMDB_s mmdb;
static bool mmdb_open;

int geo_open(const char *path, char *err, size_t errsz)
{
	geo_close();
	if (!path || !*path)
		return 0;
	int rc = MMDB_open(path, MMDB_MODE_MMAP, &mmdb);
	if (rc != MMDB_SUCCESS) {
		snprintf(err, errsz, "geoip_database %s: %s%s%s", path, MMDB_strerror(rc),
		         rc == MMDB_IO_ERROR ? ": " : "", rc == MMDB_IO_ERROR ? strerror(errno) : "");
		return -1;
	}
	mmdb_open = true;
	return 0;
}

void geo_close(void)
{
	if (mmdb_open)
		MMDB_close(&mmdb);
	mmdb_open = false;
}

/* Copies a two-letter code, upper-cased; anything else leaves out "". */
static void code_of(MMDB_entry_s *entry, const char *outer, const char *inner, char out[3])
{
	MMDB_entry_data_s d;
	out[0] = '\0';
	if (MMDB_get_value(entry, &d, outer, inner, NULL) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
		return;
	const char *s = d.utf8_string;
	if (!isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) || (unsigned char)s[0] > 0x7f ||
	    (unsigned char)s[1] > 0x7f)
		return;
	out[0] = (char)toupper((unsigned char)s[0]);
	out[1] = (char)toupper((unsigned char)s[1]);
	out[2] = '\0';
}

/* Copies a name (path outer.names.en) that is clean UTF-8 and fits; anything else leaves out "". */
static void name_of(MMDB_entry_s *entry, const char *outer, char *out, size_t outsz)
{
	MMDB_entry_data_s d;
	out[0] = '\0';
	if (MMDB_get_value(entry, &d, outer, "names", "en", NULL) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size == 0 || d.data_size >= outsz)
		return;
	memcpy(out, d.utf8_string, d.data_size);
	out[d.data_size] = '\0';
	for (const unsigned char *p = (const unsigned char *)out; *p;) {
		int len = utf8_sequence(p);
		if (len <= 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			out[0] = '\0';
			return;
		}
		p += len;
	}
}

/* A double at location.<name> within -limit..limit, or false. */
static bool degrees_of(MMDB_entry_s *entry, const char *name, double limit, double *out)
{
	MMDB_entry_data_s d;
	if (MMDB_get_value(entry, &d, "location", name, NULL) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_DOUBLE || !isfinite(d.double_value) || fabs(d.double_value) > limit)
		return false;
	*out = d.double_value;
	return true;
}

/* location.latitude/longitude, and accuracy_radius (km; a uint16 in GeoIP2, a uint32 accepted too). */
static void location_of(MMDB_entry_s *entry, struct geo_place *out)
{
	if (!degrees_of(entry, "latitude", 90, &out->latitude) ||
	    !degrees_of(entry, "longitude", 180, &out->longitude)) {
		out->latitude = out->longitude = 0;
		return;
	}
	out->has_location = true;
	MMDB_entry_data_s d;
	if (MMDB_get_value(entry, &d, "location", "accuracy_radius", NULL) != MMDB_SUCCESS || !d.has_data)
		return;
	uint32_t km = d.type == MMDB_DATA_TYPE_UINT16 ? d.uint16 : d.type == MMDB_DATA_TYPE_UINT32 ? d.uint32 : 0;
	if (km <= 20038) /* half the equator: anything more says nothing */
		out->accuracy_km = (unsigned)km;
}

bool geo_lookup(const char *ip, struct geo_place *out)
{
	memset(out, 0, sizeof *out);
	if (!mmdb_open || !ip || !*ip)
		return false;
	int gai_error = 0, mmdb_error = 0;
	MMDB_lookup_result_s res = MMDB_lookup_string(&mmdb, ip, &gai_error, &mmdb_error);
	if (gai_error != 0 || mmdb_error != MMDB_SUCCESS || !res.found_entry)
		return false;
	code_of(&res.entry, "country", "iso_code", out->country);
	code_of(&res.entry, "continent", "code", out->continent);
	name_of(&res.entry, "country", out->country_name, sizeof out->country_name);
	name_of(&res.entry, "city", out->city, sizeof out->city);
	location_of(&res.entry, out);
	return out->country[0] || out->continent[0];
}
