/*
 * What the web console learns of the server's settings, by GET
 * /api/v1/console-config: the map's tile URL template and attribution
 * (settings map_tile_url, map_attribution). The tile server is the one
 * place outside this server the console loads anything from, so its origin
 * is checked here and given to the console's Content-Security-Policy
 * (img-src) and to the firewall rules, and nothing else is allowed.
 */
#ifndef VITRINE_CONSOLE_CONFIG_H
#define VITRINE_CONSOLE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct http_req;

#define CONSOLE_TILE_URL_MAX    1024 /* bytes of map_tile_url */
#define CONSOLE_ATTRIBUTION_MAX 512  /* bytes of map_attribution */

/* The server a tile URL template names. */
struct tile_origin {
	bool tls;             /* https:// */
	char host[256];       /* "tile.openstreetmap.org", "*.tile.example.org" for {s}., "[::1]" */
	unsigned port;        /* the URL's, else 443 or 80 */
	char csp_source[300]; /* "https://tile.openstreetmap.org", "http://127.0.0.1:8081" */
};

/*
 * Pure: checks a Leaflet tile URL template (http:// or https://, a host
 * name, IPv4 or [IPv6] address with an optional port and a leading "{s}."
 * for subdomains, a path with {z}, {x} and {y}; nothing that could end a
 * CSP source or a header) and fills out. Returns 0, or -1 with a sentence
 * in err.
 */
int console_config_tile_origin(const char *url, struct tile_origin *out, char *err, size_t errsz);

/*
 * Checks and keeps the map settings (borrowed: they must outlive the
 * server; an empty tile_url means a map without background tiles) and
 * lets the console's CSP load images from the tile server. Call once
 * before the server starts. Returns 0, or -1 with a sentence in err.
 */
int console_config_set_map(const char *tile_url, const char *attribution, char *err, size_t errsz);

/* The tile server of the map, or NULL when there is none. */
const struct tile_origin *console_config_tiles(void);

/* GET /api/v1/console-config */
int console_config_handle_get(struct http_req *r);

#endif
