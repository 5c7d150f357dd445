/*
 * libFuzzer target: the router on the server's real route table.
 * Input: "METHOD PATH" (the method is the text before the first space, at
 * most 15 bytes; without a space the method is GET and the input the path).
 * Checks what handlers rely on: a found route really has that method (or is
 * the GET route of a HEAD), and every captured parameter is one non-empty
 * segment that fits ROUTER_PARAM_LEN.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/http/router.h"
#include "server/routes.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level((enum log_level)(LOG_ERROR + 1));
	if (router_validate(server_routes, server_routes_count) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char method[16] = "GET";
	char path[4096];
	const uint8_t *sp = memchr(data, ' ', size < sizeof method ? size : sizeof method);
	if (sp) {
		size_t mlen = (size_t)(sp - data);
		memcpy(method, data, mlen);
		method[mlen] = '\0';
		size -= mlen + 1;
		data = sp + 1;
	}
	if (size >= sizeof path)
		size = sizeof path - 1;
	memcpy(path, data, size);
	path[size] = '\0'; /* an embedded NUL just ends the path, as in MHD */

	const struct route *rt = NULL;
	struct route_params params;
	enum router_match m = router_match(server_routes, server_routes_count, method, path, &rt, &params);
	if (m != ROUTER_FOUND)
		return 0;
	if (rt < server_routes || rt >= server_routes + server_routes_count)
		abort();
	if (strcmp(rt->method, method) != 0 && !(strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0))
		abort();
	if (params.count < 0 || params.count > ROUTER_MAX_PARAMS)
		abort();
	for (int i = 0; i < params.count; i++) {
		const char *v = params.p[i].value;
		size_t n = strnlen(v, ROUTER_PARAM_LEN);
		if (n == 0 || n >= ROUTER_PARAM_LEN || strchr(v, '/') || !strstr(path, v))
			abort();
		if (router_param(&params, params.p[i].name) == NULL)
			abort();
	}
	return 0;
}
