/*
 * The web console's static files, embedded in the binary at build time
 * (tools/embed.py over web/console/). Served with a strict
 * Content-Security-Policy: the console runs no inline script and talks
 * only to this server; the one outside origin it may load from is the map's
 * tile server, for images only (assets_allow_images_from).
 */
#ifndef VITRINE_ASSETS_H
#define VITRINE_ASSETS_H

#include <stddef.h>

struct http_req;

struct embedded_asset {
	const char *name;
	const unsigned char *data;
	size_t len;
};
extern const struct embedded_asset embedded_assets[];
extern const size_t embedded_assets_count;

const struct embedded_asset *assets_find(const char *name);
/* Lets the console's pages load images from source too (a CSP source
 * expression the caller has checked: "https://tile.example.org"; NULL or
 * "": none). Call before the server starts. Returns 0, or -1 when it does
 * not fit (the policy is then the default one). */
int assets_allow_images_from(const char *source);
int assets_handle_index(struct http_req *r);
int assets_handle_file(struct http_req *r);
int assets_handle_path(struct http_req *r); /* /assets/vendor/... of any depth */

#endif
