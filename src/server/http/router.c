/* Route matching; see router.h. Linear over a few dozen routes: matching
 * costs far less than parsing the request that precedes it. */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "../../common/log.h"

/* Matches pattern against path; captures params. */
static bool match_path(const char *pattern, const char *path, struct route_params *params)
{
	params->count = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			const char *end = strchr(s, '/');
			size_t vlen = end ? (size_t)(end - s) : strlen(s);
			size_t nlen = (size_t)(close - p - 1);
			if (vlen == 0 || vlen >= ROUTER_PARAM_LEN || params->count == ROUTER_MAX_PARAMS ||
			    nlen >= sizeof params->p[0].name)
				return false;
			memcpy(params->p[params->count].name, p + 1, nlen);
			params->p[params->count].name[nlen] = '\0';
			memcpy(params->p[params->count].value, s, vlen);
			params->p[params->count].value[vlen] = '\0';
			params->count++;
			p = close + 1;
			s += vlen;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

enum router_match router_match(const struct route *routes, size_t n, const char *method, const char *path,
                               const struct route **out, struct route_params *params)
{
	bool path_seen = false;
	const struct route *get_for_head = NULL;
	struct route_params tmp, head_params;
	for (size_t i = 0; i < n; i++) {
		if (!match_path(routes[i].pattern, path, &tmp))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			*out = &routes[i];
			*params = tmp;
			return ROUTER_FOUND;
		}
		if (!get_for_head && strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0) {
			get_for_head = &routes[i];
			head_params = tmp;
		}
		path_seen = true;
	}
	if (get_for_head) { /* HEAD of a GET route: MHD sends the headers only */
		*out = get_for_head;
		*params = head_params;
		return ROUTER_FOUND;
	}
	return path_seen ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

const char *router_param(const struct route_params *params, const char *name)
{
	for (int i = 0; i < params->count; i++)
		if (strcmp(params->p[i].name, name) == 0)
			return params->p[i].value;
	return NULL;
}

int router_validate(const struct route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *pat = routes[i].pattern;
		if (pat[0] != '/') {
			log_event(LOG_ERROR, "route pattern must start with /", "pattern", pat, NULL);
			return -1;
		}
		int depth = 0;
		for (const char *c = pat; *c; c++) {
			if (*c == '{')
				depth++;
			else if (*c == '}')
				depth--;
			if (depth < 0 || depth > 1 || (depth == 1 && *c == '/')) {
				log_event(LOG_ERROR, "route pattern has a broken {param}", "pattern", pat, NULL);
				return -1;
			}
		}
		if (depth != 0) {
			log_event(LOG_ERROR, "route pattern has an unclosed {param}", "pattern", pat, NULL);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(routes[i].method, routes[j].method) == 0 &&
			    strcmp(routes[i].pattern, routes[j].pattern) == 0) {
				log_event(LOG_ERROR, "duplicate route", "method", routes[i].method, "pattern", pat,
				          NULL);
				return -1;
			}
	}
	return 0;
}
