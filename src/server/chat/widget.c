/*
 * What every widget request goes through, and the widget's own files.
 *
 * A widget request names its site in the path. Its Origin must be one of
 * the site's domains (the page the widget runs on) or this server's own
 * origin (the chat frame page, GET /chat/{site}, which only the site's
 * domains may frame: CSP frame-ancestors); a missing, "null" or other
 * Origin is 403 origin_not_allowed, and only allowed origins get CORS
 * headers. One exception for the frame page's own reads: a browser sends
 * no Origin on a same-origin GET, but it does send "Sec-Fetch-Site:
 * same-origin" (a header no page script may set), which is taken as this
 * server's own origin. Calls after POST .../visitor carry the visitor token
 * ("Authorization: Bearer vv_...", or ?token= for an EventSource, which
 * cannot send headers); a token of another site is 401 invalid_token.
 *
 * The files come from web/widget.js and web/chat/ (the web part), embedded
 * at build time under their paths from the repository root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/buf.h"
#include "../http/assets.h"
#include "../http/server.h"
#include "../store/db.h"
#include "chat.h"

extern const struct embedded_asset chat_web_assets[];
extern const size_t chat_web_assets_count;

/* By path from the repository root ("web/chat/index.html"). */
static const struct embedded_asset *web_find(const char *path)
{
	for (size_t i = 0; i < chat_web_assets_count; i++)
		if (strcmp(chat_web_assets[i].name, path) == 0)
			return &chat_web_assets[i];
	return NULL;
}

static bool origin_ok(struct http_req *r, const struct chat_site *s, const char *origin)
{
	return origin && *origin && strcmp(origin, "null") != 0 && strlen(origin) < 256 &&
	       (chat_site_origin_allowed(s, origin) || http_origin_is_own(r, origin));
}

static void cors(struct http_req *r, const char *origin)
{
	if (!origin || !*origin)
		return;
	http_reply_header(r, "Access-Control-Allow-Origin", origin);
	http_reply_header(r, "Vary", "Origin");
}

bool chat_widget_begin(struct http_req *r, struct chat_widget *w, bool need_token)
{
	memset(w, 0, sizeof *w);
	if (!chat_site_load(r->db, http_param(r, "site"), &w->site)) {
		http_reply_error(r, 404, "not_found", "no such site");
		return false;
	}
	const char *origin = http_header(r, "Origin"), *fetch_site = http_header(r, "Sec-Fetch-Site");
	bool same_origin_read = !origin && fetch_site && strcmp(fetch_site, "same-origin") == 0 &&
	                        (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0);
	if (same_origin_read) {
		w->origin[0] = '\0'; /* no CORS headers: the reader is this server's own page */
	} else if (!origin_ok(r, &w->site, origin)) {
		chat_site_free(&w->site);
		http_reply_error(r, 403, "origin_not_allowed",
		                 "this page's origin is not one of the site's domains (a missing Origin is refused "
		                 "too)");
		return false;
	} else {
		snprintf(w->origin, sizeof w->origin, "%s", origin);
	}
	if (!need_token)
		return true;
	const char *authz = http_header(r, "Authorization"), *token = NULL;
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0)
		token = authz + 7;
	else if (!authz)
		token = http_query(r, "token");
	bool ok = token && chat_token_check(&w->site, token, w->visitor_id);
	if (ok) {
		int rc;
		struct db_stmt *st = db_query(r->db, &rc, "SELECT 1 FROM chat_visitors WHERE id = ? AND site_id = ?",
		                              "ss", w->visitor_id, w->site.id);
		ok = st != NULL;
		db_done(st);
	}
	if (!ok) {
		http_reply_error(r, 401, "invalid_token",
		                 "a visitor token of this site is needed (\"Authorization: Bearer vv_...\", from POST "
		                 "/api/v1/widget/{site}/visitor)");
		cors(r, w->origin);
		chat_site_free(&w->site);
		return false;
	}
	return true;
}

void chat_widget_done(struct http_req *r, struct chat_widget *w)
{
	cors(r, w->origin);
	chat_site_free(&w->site);
}

/* OPTIONS on the widget routes: the CORS preflight of a cross-origin
 * request with "Authorization" or a JSON body. */
int chat_handle_widget_preflight(struct http_req *r)
{
	struct chat_widget w;
	if (!chat_widget_begin(r, &w, false))
		return 0;
	http_reply_empty(r, 204);
	http_reply_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
	http_reply_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID");
	http_reply_header(r, "Access-Control-Max-Age", "600");
	chat_widget_done(r, &w);
	return 0;
}

/* GET /widget.js: public (it is pasted into other sites' pages). */
int chat_handle_widget_js(struct http_req *r)
{
	const struct embedded_asset *a = web_find("web/widget.js");
	if (!a)
		return http_reply_error(r, 404, "not_found", "the widget is not built into this server");
	http_reply_static(r, 200, "text/javascript; charset=utf-8", a->data, a->len);
	http_reply_header(r, "Cache-Control", "no-cache");
	http_reply_header(r, "Access-Control-Allow-Origin", "*");
	return 0;
}

static const char *frame_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (dot && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (dot && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot && strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (dot && strcmp(dot, ".png") == 0)
		return "image/png";
	return "application/octet-stream";
}

/* CSP frame-ancestors of a site: each domain on http and https (a domain
 * without a port on any port). */
static int frame_csp(const struct chat_site *s, struct buf *b)
{
	if (buf_addstr(b, "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	                  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors") != BUF_OK)
		return -1;
	size_t i, n = 0;
	json_t *d;
	json_array_foreach (s->domains, i, d) {
		const char *dom = json_string_value(d);
		if (!dom)
			continue;
		bool port = dom[0] == '[' ? strstr(dom, "]:") != NULL : strchr(dom, ':') != NULL;
		if (buf_printf(b, " http://%s%s https://%s%s", dom, port ? "" : ":*", dom, port ? "" : ":*") != BUF_OK)
			return -1;
		n++;
	}
	if (n == 0 && buf_addstr(b, " 'none'") != BUF_OK)
		return -1;
	return 0;
}

/* GET /chat/{site}: the chat frame page. */
int chat_handle_frame(struct http_req *r)
{
	struct chat_site s;
	if (!chat_site_load(r->db, http_param(r, "site"), &s))
		return http_reply_error(r, 404, "not_found", "no such site");
	const struct embedded_asset *a = web_find("web/chat/index.html");
	struct buf csp;
	buf_init(&csp, 16384);
	if (!a || frame_csp(&s, &csp) != 0) {
		buf_free(&csp);
		chat_site_free(&s);
		return http_reply_error(r, 500, "internal", "the chat page could not be made");
	}
	http_reply_static(r, 200, "text/html; charset=utf-8", a->data, a->len);
	http_reply_header(r, "Content-Security-Policy", buf_str(&csp));
	http_reply_header(r, "Cache-Control", "no-cache");
	buf_free(&csp);
	chat_site_free(&s);
	return 0;
}

/* GET /chat/assets/{name}: the frame page's other files (web/chat/NAME). */
int chat_handle_frame_asset(struct http_req *r)
{
	const char *name = http_param(r, "name");
	char path[300];
	if (!name || strstr(name, "..") || snprintf(path, sizeof path, "web/chat/%s", name) >= (int)sizeof path)
		return http_reply_error(r, 404, "not_found", "no such chat file");
	const struct embedded_asset *a = web_find(path);
	if (!a || strcmp(name, "index.html") == 0)
		return http_reply_error(r, 404, "not_found", "no such chat file");
	http_reply_static(r, 200, frame_type(name), a->data, a->len);
	http_reply_header(r, "Cache-Control", "no-cache");
	return 0;
}
