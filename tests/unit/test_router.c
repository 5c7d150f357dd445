/*
 * Unit tests of src/server/http/router.c: matching on a small table
 * (exact paths, {param} captures, 404 vs 405, HEAD falling back to GET) and
 * the table validation run at start-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "server/http/router.h"
#include "server/routes.h"

static int h_noop(struct http_req *r)
{
	(void)r;
	return 0;
}

static const struct route table[] = {
    {"GET", "/a", h_noop, AUTH_NONE, 0, 0, 0},                     /* 0 */
    {"GET", "/users/{id}", h_noop, AUTH_USER, 0, 0, 0},            /* 1 */
    {"PATCH", "/users/{id}", h_noop, AUTH_USER, 0, 1024, 0},       /* 2 */
    {"GET", "/users/{id}/keys/{kid}", h_noop, AUTH_USER, 0, 0, 0}, /* 3 */
    {"POST", "/only-post", h_noop, AUTH_NONE, 0, 1024, 0},         /* 4 */
    {"HEAD", "/probe", h_noop, AUTH_NONE, 0, 0, 0},                /* 5 */
    {"GET", "/probe", h_noop, AUTH_NONE, 0, 0, 0},                 /* 6 */
    {"GET", "/files/{name}.txt", h_noop, AUTH_NONE, 0, 0, 0},      /* 7 */
    {"GET", "/", h_noop, AUTH_NONE, 0, 0, 0},                      /* 8 */
};
static const size_t table_n = sizeof table / sizeof table[0];

static enum router_match match(const char *method, const char *path, const struct route **out,
                               struct route_params *params)
{
	return router_match(table, table_n, method, path, out, params);
}

static void test_exact(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("GET", "/a", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[0]);
	assert_int_equal(p.count, 0);
	assert_int_equal(match("GET", "/", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[8]);

	assert_int_equal(match("GET", "/b", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/A", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/aa", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "a", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("get", "/a", &rt, &p), ROUTER_BAD_METHOD); /* methods are case-sensitive */
}

static void test_param_capture(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("GET", "/users/abc123", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[1]);
	assert_int_equal(p.count, 1);
	assert_string_equal(router_param(&p, "id"), "abc123");
	assert_null(router_param(&p, "kid"));
	assert_null(router_param(&p, ""));

	assert_int_equal(match("PATCH", "/users/x", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[2]);
	assert_string_equal(router_param(&p, "id"), "x");

	assert_int_equal(match("GET", "/users/u1/keys/k2", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[3]);
	assert_int_equal(p.count, 2);
	assert_string_equal(router_param(&p, "id"), "u1");
	assert_string_equal(router_param(&p, "kid"), "k2");

	/* a param takes its whole segment: a literal suffix after it in the
	 * same segment can never match */
	assert_int_equal(match("GET", "/files/readme.txt", &rt, &p), ROUTER_NOT_FOUND);

	/* percent-escapes and dots are captured verbatim; one segment only */
	assert_int_equal(match("GET", "/users/a%2Fb", &rt, &p), ROUTER_FOUND);
	assert_string_equal(router_param(&p, "id"), "a%2Fb");
	assert_int_equal(match("GET", "/users/..", &rt, &p), ROUTER_FOUND);
	assert_string_equal(router_param(&p, "id"), "..");
	assert_int_equal(match("GET", "/users/a/b", &rt, &p), ROUTER_NOT_FOUND);
}

static void test_param_non_empty(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("GET", "/users/", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/users", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/users//keys/k", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/users/u/keys/", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("PATCH", "/users/", &rt, &p), ROUTER_NOT_FOUND);
}

static void test_trailing_slash(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("GET", "/a/", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/users/abc/", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "/users/u/keys/k/", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("GET", "//a", &rt, &p), ROUTER_NOT_FOUND);
}

static void test_bad_method(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("DELETE", "/users/abc", &rt, &p), ROUTER_BAD_METHOD);
	assert_int_equal(match("POST", "/a", &rt, &p), ROUTER_BAD_METHOD);
	assert_int_equal(match("GET", "/only-post", &rt, &p), ROUTER_BAD_METHOD);
	assert_int_equal(match("PUT", "/users/u/keys/k", &rt, &p), ROUTER_BAD_METHOD);
	/* an unknown path is 404 whatever the method */
	assert_int_equal(match("DELETE", "/nothing", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("BREW", "/nothing", &rt, &p), ROUTER_NOT_FOUND);
	assert_int_equal(match("BREW", "/a", &rt, &p), ROUTER_BAD_METHOD);
}

static void test_head_falls_back_to_get(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(match("HEAD", "/a", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[0]);
	assert_int_equal(match("HEAD", "/users/q", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[1]);
	assert_string_equal(router_param(&p, "id"), "q");
	assert_int_equal(match("HEAD", "/users/u9/keys/k9", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[3]);
	assert_string_equal(router_param(&p, "kid"), "k9");
	/* an explicit HEAD route wins over the GET one */
	assert_int_equal(match("HEAD", "/probe", &rt, &p), ROUTER_FOUND);
	assert_ptr_equal(rt, &table[5]);
	/* no GET route: HEAD is not allowed */
	assert_int_equal(match("HEAD", "/only-post", &rt, &p), ROUTER_BAD_METHOD);
	assert_int_equal(match("HEAD", "/nothing", &rt, &p), ROUTER_NOT_FOUND);
}

static void test_param_length(void **state)
{
	(void)state;
	const struct route *rt = NULL;
	struct route_params p;
	char path[ROUTER_PARAM_LEN + 64];
	strcpy(path, "/users/");
	size_t base = strlen(path);

	/* ROUTER_PARAM_LEN - 1 characters fit (with the NUL) */
	memset(path + base, 'x', ROUTER_PARAM_LEN - 1);
	path[base + ROUTER_PARAM_LEN - 1] = '\0';
	assert_int_equal(match("GET", path, &rt, &p), ROUTER_FOUND);
	assert_int_equal(strlen(router_param(&p, "id")), ROUTER_PARAM_LEN - 1);

	/* ROUTER_PARAM_LEN characters are refused */
	memset(path + base, 'x', ROUTER_PARAM_LEN);
	path[base + ROUTER_PARAM_LEN] = '\0';
	assert_int_equal(match("GET", path, &rt, &p), ROUTER_NOT_FOUND);

	/* and much longer ones too, with a second param after */
	char longer[2048];
	memset(longer, 'y', sizeof longer);
	memcpy(longer, "/users/", 7);
	strcpy(longer + 1500, "/keys/k");
	assert_int_equal(match("GET", longer, &rt, &p), ROUTER_NOT_FOUND);
}

static void test_too_many_params(void **state)
{
	(void)state;
	static const struct route many[] = {
	    {"GET", "/{a}/{b}/{c}/{d}", h_noop, AUTH_NONE, 0, 0, 0},
	    {"GET", "/{a}/{b}/{c}/{d}/{e}", h_noop, AUTH_NONE, 0, 0, 0},
	};
	const struct route *rt = NULL;
	struct route_params p;
	assert_int_equal(router_match(many, 2, "GET", "/1/2/3/4", &rt, &p), ROUTER_FOUND);
	assert_int_equal(p.count, ROUTER_MAX_PARAMS);
	assert_string_equal(router_param(&p, "d"), "4");
	/* more params than ROUTER_MAX_PARAMS never match (and never overflow) */
	assert_int_equal(router_match(many, 2, "GET", "/1/2/3/4/5", &rt, &p), ROUTER_NOT_FOUND);
}

static void test_validate(void **state)
{
	(void)state;
	assert_int_equal(router_validate(table, table_n), 0);
	assert_int_equal(router_validate(table, 0), 0);

	static const struct route dup[] = {
	    {"GET", "/x", h_noop, AUTH_NONE, 0, 0, 0},
	    {"POST", "/x", h_noop, AUTH_NONE, 0, 0, 0},
	    {"GET", "/x", h_noop, AUTH_USER, 0, 0, 0},
	};
	assert_int_equal(router_validate(dup, 2), 0); /* same path, other method */
	assert_int_equal(router_validate(dup, 3), -1);

	static const struct route unclosed[] = {{"GET", "/x/{id", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(unclosed, 1), -1);
	static const struct route stray_close[] = {{"GET", "/x/id}", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(stray_close, 1), -1);
	static const struct route nested[] = {{"GET", "/x/{a{b}}", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(nested, 1), -1);
	static const struct route slash_in_param[] = {{"GET", "/x/{a/b}", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(slash_in_param, 1), -1);
	static const struct route no_slash[] = {{"GET", "x/{id}", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(no_slash, 1), -1);
	static const struct route empty[] = {{"GET", "", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(empty, 1), -1);
	static const struct route good[] = {{"GET", "/x/{id}/y/{other}", h_noop, AUTH_NONE, 0, 0, 0}};
	assert_int_equal(router_validate(good, 1), 0);
}

/* The server's own table must pass the check it runs at start-up, and
 * every route must be reachable with a concrete path. */
static void test_server_table(void **state)
{
	(void)state;
	assert_true(server_routes_count > 0);
	assert_int_equal(router_validate(server_routes, server_routes_count), 0);
	for (size_t i = 0; i < server_routes_count; i++) {
		const struct route *want = &server_routes[i];
		char path[512];
		size_t o = 0;
		for (const char *c = want->pattern; *c && o < sizeof path - 8; c++) {
			if (*c == '{') {
				memcpy(path + o, "abcdefghijklmn23", 16);
				o += 16;
				c = strchr(c, '}');
				continue;
			}
			path[o++] = *c;
		}
		path[o] = '\0';
		const struct route *rt = NULL;
		struct route_params p;
		assert_int_equal(router_match(server_routes, server_routes_count, want->method, path, &rt, &p),
		                 ROUTER_FOUND);
		assert_ptr_equal(rt, want);
		assert_non_null(want->handler);
		/* a route with a body limit must not be a GET */
		if (strcmp(want->method, "GET") == 0)
			assert_int_equal(want->body_limit, 0);
	}
}

int main(void)
{
	log_set_level((enum log_level)(LOG_ERROR + 1)); /* validation failures are expected here */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact),           cmocka_unit_test(test_param_capture),
	    cmocka_unit_test(test_param_non_empty), cmocka_unit_test(test_trailing_slash),
	    cmocka_unit_test(test_bad_method),      cmocka_unit_test(test_head_falls_back_to_get),
	    cmocka_unit_test(test_param_length),    cmocka_unit_test(test_too_many_params),
	    cmocka_unit_test(test_validate),        cmocka_unit_test(test_server_table),
	};
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
