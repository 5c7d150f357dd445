/*
 * The console's view of the server's settings (see console_config.h). The
 * tile URL is parsed once at start-up by a strict reading of its scheme
 * and authority: what reaches the CSP header is rebuilt from parts that
 * were checked character by character, never copied from the setting.
 */
#include "console_config.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/strfmt.h"
#include "../common/utf8.h"
#include "http/assets.h"
#include "http/server.h"

static const char *map_tile_url = "";
static const char *map_attribution = "";
static struct tile_origin tiles;
static bool have_tiles;

#define FAIL(...)                                                                                                      \
	do {                                                                                                           \
		snprintf(err, errsz, __VA_ARGS__);                                                                     \
		return -1;                                                                                             \
	} while (0)

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.';
}

/* host is [start, end) of the authority before any port. */
static bool host_ok(const char *start, const char *end)
{
	if (start == end)
		return false;
	if (*start == '[') { /* an IPv6 address */
		if (end - start < 3 || end[-1] != ']')
			return false;
		for (const char *p = start + 1; p < end - 1; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		return true;
	}
	if (*start == '.' || *start == '-' || end[-1] == '-')
		return false;
	for (const char *p = start; p < end; p++)
		if (!name_char(*p) || (*p == '.' && p + 1 < end && p[1] == '.'))
			return false;
	return true;
}

int console_config_tile_origin(const char *url, struct tile_origin *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof *out);
	if (strlen(url) > CONSOLE_TILE_URL_MAX)
		FAIL("map_tile_url is longer than %d bytes", CONSOLE_TILE_URL_MAX);
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("\"'<>\\;,`^|", *p))
			FAIL("map_tile_url must be a URL of printable ASCII without spaces, quotes, "
			     "<, >, \\, ;, `, ^, | or commas");
	size_t skip = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
	if (!skip)
		FAIL("map_tile_url must start with https:// or http:// (got \"%.60s\")", url);
	out->tls = skip == 8;
	const char *authority = url + skip, *path = strchr(authority, '/');
	if (!path || !strstr(path, "{z}") || !strstr(path, "{x}") || !strstr(path, "{y}"))
		FAIL("map_tile_url must have {z}, {x} and {y} in its path, as in "
		     "https://tile.openstreetmap.org/{z}/{x}/{y}.png");
	if (memchr(authority, '@', (size_t)(path - authority)))
		FAIL("map_tile_url must not carry a user name or password");
	bool subdomains = strncmp(authority, "{s}.", 4) == 0;
	const char *host = subdomains ? authority + 4 : authority, *host_end = path, *port = NULL;
	const char *colon = *host == '[' ? memchr(host, ']', (size_t)(path - host)) : host;
	if (colon) /* the port's colon comes after an IPv6 address's brackets */
		colon = memchr(colon, ':', (size_t)(path - colon));
	if (colon) {
		host_end = colon;
		port = colon + 1;
	}
	if (!host_ok(host, host_end) || (subdomains && *host == '['))
		FAIL("map_tile_url's host must be a name or an address (a name may start with {s}. for "
		     "subdomains)");
	out->port = out->tls ? 443 : 80;
	if (port) {
		char *end = NULL;
		long n = port < path && isdigit((unsigned char)*port) ? strtol(port, &end, 10) : -1;
		if (n < 1 || n > 65535 || end != path)
			FAIL("map_tile_url's port must be a number from 1 to 65535");
		out->port = (unsigned)n;
	}
	int host_len = (int)(host_end - host);
	if (strfmt(out->host, sizeof out->host, "%s%.*s", subdomains ? "*." : "", host_len, host) != 0 ||
	    strfmt(out->csp_source, sizeof out->csp_source, "%s%s%.*s", out->tls ? "https://" : "http://",
	           subdomains ? "*." : "", (int)(path - host), host) != 0)
		FAIL("map_tile_url's host is longer than 250 bytes");
	return 0;
}

int console_config_set_map(const char *tile_url, const char *attribution, char *err, size_t errsz)
{
	if (strlen(attribution) > CONSOLE_ATTRIBUTION_MAX)
		FAIL("map_attribution is longer than %d bytes", CONSOLE_ATTRIBUTION_MAX);
	for (const unsigned char *p = (const unsigned char *)attribution; *p;) {
		int len = utf8_sequence(p);
		if (len <= 0 || (len == 1 && (*p < 0x20 || *p == 0x7f)))
			FAIL("map_attribution must be UTF-8 text without control characters");
		p += len;
	}
	have_tiles = false;
	if (*tile_url) {
		if (console_config_tile_origin(tile_url, &tiles, err, errsz) != 0)
			return -1;
		have_tiles = true;
	}
	if (assets_allow_images_from(have_tiles ? tiles.csp_source : NULL) != 0)
		FAIL("map_tile_url does not fit in the Content-Security-Policy");
	map_tile_url = tile_url;
	map_attribution = attribution;
	return 0;
}

const struct tile_origin *console_config_tiles(void)
{
	return have_tiles ? &tiles : NULL;
}

int console_config_handle_get(struct http_req *r)
{
	http_reply_json(r, 200,
	                json_pack("{s:{s:s, s:s}}", "map", "tile_url", map_tile_url, "attribution", map_attribution));
	return 0;
}
