/* Serving the embedded console files; see assets.h. */
#include "assets.h"

#include <stdio.h>
#include <string.h>

#include "../../common/strfmt.h"
#include "server.h"

/* 'wasm-unsafe-eval' lets libsodium.js compile its WebAssembly (no JS eval);
 * ws: and wss: let the remote control page reach the relay's WebSocket, whose
 * host the page learns only from the session (the bytes are end-to-end
 * encrypted; docs/SECURITY.md) */
#define CSP_HEAD "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:"
#define CSP_TAIL "; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
static const char csp_default[] = CSP_HEAD CSP_TAIL;
static char csp_with_images[1024];
static const char *csp = csp_default;

int assets_allow_images_from(const char *source)
{
	csp = csp_default;
	if (!source || !*source)
		return 0;
	if (strfmt(csp_with_images, sizeof csp_with_images, "%s %s%s", CSP_HEAD, source, CSP_TAIL) != 0)
		return -1;
	csp = csp_with_images;
	return 0;
}

const struct embedded_asset *assets_find(const char *name)
{
	for (size_t i = 0; i < embedded_assets_count; i++)
		if (strcmp(embedded_assets[i].name, name) == 0)
			return &embedded_assets[i];
	return NULL;
}

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

static void serve(struct http_req *r, const struct embedded_asset *a)
{
	http_reply_static(r, 200, content_type(a->name), a->data, a->len);
	http_reply_header(r, "Content-Security-Policy", csp);
	http_reply_header(r, "X-Frame-Options", "DENY");
	http_reply_header(r, "Cache-Control", "no-cache");
}

int assets_handle_index(struct http_req *r)
{
	const struct embedded_asset *a = assets_find("index.html");
	if (!a)
		return http_reply_error(r, 404, "not_found", "the console is not built into this binary");
	serve(r, a);
	return 0;
}

/* GET /assets/{name} and /assets/{folder}/{name} (the console's ES modules
 * live in folders: views/, channel-editor/) */
int assets_handle_file(struct http_req *r)
{
	const char *folder = http_param(r, "folder"), *name = http_param(r, "name");
	char path[256];
	if (folder && name) {
		int n = snprintf(path, sizeof path, "%s/%s", folder, name);
		name = n > 0 && (size_t)n < sizeof path ? path : NULL;
	}
	const struct embedded_asset *a = name ? assets_find(name) : NULL;
	if (!a || strcmp(name, "index.html") == 0)
		return http_reply_error(r, 404, "not_found", "no such console file");
	serve(r, a);
	return 0;
}

/* GET /assets/vendor/...: the vendored browser libraries keep their own
 * folder trees (noVNC's core/util/, vendor/pako/lib/zlib/), deeper than one
 * folder; the name is the path itself, looked up exactly */
int assets_handle_path(struct http_req *r)
{
	static const char prefix[] = "/assets/";
	const char *name = strncmp(r->path, prefix, sizeof prefix - 1) == 0 ? r->path + sizeof prefix - 1 : NULL;
	const struct embedded_asset *a = name ? assets_find(name) : NULL;
	if (!a)
		return http_reply_error(r, 404, "not_found", "no such console file");
	serve(r, a);
	return 0;
}
