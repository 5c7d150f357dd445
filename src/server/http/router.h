/*
 * The router: a table of "METHOD /path/{param}" routes, matched segment by
 * segment. A {param} matches exactly one non-empty segment. Each route also
 * carries its policy (who may call it, body limit, transaction mode), which
 * the server enforces before the handler runs, so no handler can forget it.
 */
#ifndef VITRINE_ROUTER_H
#define VITRINE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct http_req;
/* A handler replies (http_reply_*), defers (http_defer), waits (http_wait)
 * or streams (http_stream), and returns what that call returned: 0. A
 * negative return without a reply becomes a 500 "internal" error. */
typedef int (*http_handler)(struct http_req *r);

enum route_auth {
	AUTH_NONE,   /* public */
	AUTH_USER,   /* session cookie (+CSRF on writes) or user API token */
	AUTH_DEVICE, /* device access token */
};

/* role bits for route.roles; 0 means every authenticated user */
#define ROLE_ADMIN    (1u << 0)
#define ROLE_EDITOR   (1u << 1)
#define ROLE_OPERATOR (1u << 2)
#define ROLE_SUPPORT  (1u << 3)

enum route_flags {
	ROUTE_TX_READ = 1 << 0,    /* wrap the handler in a read transaction */
	ROUTE_TX_WRITE = 1 << 1,   /* wrap the handler in a write transaction */
	ROUTE_PW_CHANGE = 1 << 2,  /* callable while a password change is pending */
	ROUTE_ANY_ORIGIN = 1 << 3, /* skip the account IP allowlist (logout) */
};

/* A route whose body is streamed to the handler instead of buffered (media
 * uploads): begin runs when the headers have arrived and the caller is
 * authenticated, chunk for every piece of body; either may reply to refuse
 * the upload at once. The route's handler then runs at the end as usual. */
struct route_stream {
	int (*begin)(struct http_req *r);
	int (*chunk)(struct http_req *r, const char *data, size_t len);
};

struct route {
	const char *method;
	const char *pattern;
	http_handler handler;
	enum route_auth auth;
	unsigned roles;
	size_t body_limit; /* 0: no body accepted */
	unsigned flags;
	const struct route_stream *stream; /* NULL: the body is buffered */
};

#define ROUTER_MAX_PARAMS 4
#define ROUTER_PARAM_LEN  256

struct route_params {
	int count;
	struct {
		char name[32];
		char value[ROUTER_PARAM_LEN];
	} p[ROUTER_MAX_PARAMS];
};

enum router_match {
	ROUTER_FOUND,
	ROUTER_NOT_FOUND,
	ROUTER_BAD_METHOD, /* the path exists with another method */
};

/* Finds the route for method+path among routes[0..n). On ROUTER_FOUND,
 * *out points into the table and params holds the captured segments. */
enum router_match router_match(const struct route *routes, size_t n, const char *method, const char *path,
                               const struct route **out, struct route_params *params);

/* Value of a captured parameter, or NULL. */
const char *router_param(const struct route_params *params, const char *name);

/* Checks a route table: every pattern starts with '/', params are closed,
 * and no two routes share method+pattern. Returns 0 or -1 (logged). */
int router_validate(const struct route *routes, size_t n);

#endif
