/*
 * What a request says: its route parameters, query arguments, headers and
 * cookies (borrowed from MHD for the request's life), and the clock the
 * pipeline times requests with. Used by the pipeline and by the replies.
 */
#include <microhttpd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

uint64_t http_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *http_param(struct http_req *r, const char *name)
{
	return router_param(&r->params, name);
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

bool http_origin_is_own(struct http_req *r, const char *origin)
{
	if (!origin)
		return false;
	const char *pub = r->srv->cfg.public_url; /* the struct, not server_config(): no call into daemon.c */
	if (pub && *pub) {
		const char *host = strstr(pub, "://");
		const char *slash = host ? strchr(host + 3, '/') : NULL;
		size_t n = slash ? (size_t)(slash - pub) : strlen(pub);
		if (strlen(origin) == n && strncasecmp(origin, pub, n) == 0)
			return true;
	}
	const char *host = http_header(r, "Host");
	if (!host || !*host)
		return false;
	const char *rest = strncasecmp(origin, "https://", 8) == 0  ? origin + 8
	                   : strncasecmp(origin, "http://", 7) == 0 ? origin + 7
	                                                            : NULL;
	return rest && strcasecmp(rest, host) == 0;
}
