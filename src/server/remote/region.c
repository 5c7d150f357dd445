/*
 * The guest's region from its address (see region.h), with libmaxminddb.
 * The database is opened once at start-up (MMDB_MODE_MMAP) and only read
 * afterwards, which libmaxminddb allows from several threads at once. A
 * record gives country.iso_code and continent.code (GeoLite2/GeoIP2
 * Country and City have both); codes other than two ASCII letters are
 * ignored, so a damaged or odd database cannot put anything else into the
 * relay choice.
 */
#include "region.h"

#include <ctype.h>
#include <errno.h>
#include <maxminddb.h>
#include <stdio.h>
#include <string.h>

static MMDB_s mmdb;
static bool mmdb_open;

int remote_region_open(const char *path, char *err, size_t errsz)
{
	remote_region_close();
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

void remote_region_close(void)
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

bool remote_region_lookup(const char *ip, struct remote_region *out)
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
	return out->country[0] || out->continent[0];
}
