/*
 * libFuzzer target: JSON request bodies through json_body_parse(), the
 * project's own guard and parse that every handler's body goes through
 * (http/json_body.c: the depth counted before the parser, duplicates
 * refused, an object at the top). Checks: a body is either refused with a
 * sentence or accepted as an object no deeper than HTTP_JSON_MAX_DEPTH,
 * and an accepted document prints and parses back to an equal one, so
 * what a handler reads is what the client sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/http/json_body.h"
#include "server/http/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth of a parsed document, counted on the tree. */
static int tree_depth(json_t *j)
{
	int max = 0;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach (j, k, v) {
			int d = tree_depth(v);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach (j, i, v) {
			int d = tree_depth(v);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[300] = "";
	json_t *j = json_body_parse((const char *)data, size, msg, sizeof msg);
	if (!j) {
		if (msg[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (!json_is_object(j) || tree_depth(j) > HTTP_JSON_MAX_DEPTH)
		abort();
	char *text = json_dumps(j, JSON_COMPACT);
	if (text) {
		json_error_t err;
		json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, &err);
		if (!again || !json_equal(j, again))
			abort();
		json_decref(again);
		free(text);
	}
	json_decref(j);
	return 0;
}
