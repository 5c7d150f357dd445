/*
 * What a request says: its route parameters, query arguments, headers and
 * cookies (borrowed from MHD for the request's life), and the clock the
 * pipeline times requests with. Used by the pipeline and by the replies.
 */
#include <microhttpd.h>
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
