/*
 * The web console's static files, embedded in the binary at build time
 * (tools/embed.py over web/console/). Served with a strict
 * Content-Security-Policy: the console runs no inline script and talks
 * only to this server.
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
int assets_handle_index(struct http_req *r);
int assets_handle_file(struct http_req *r);
int assets_handle_path(struct http_req *r); /* /assets/vendor/... of any depth */

#endif
