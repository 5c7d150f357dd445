/*
 * JSON request bodies: the depth guard and the parse every handler's body
 * goes through (see json_body.h).
 */
#include "json_body.h"

#include <stdbool.h>
#include <stdio.h>

#include "server.h"

int json_body_depth(const char *s, size_t len)
{
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

json_t *json_body_parse(const char *text, size_t len, char *msg, size_t msgsz)
{
	if (len == 0) {
		snprintf(msg, msgsz, "a JSON object body is required");
		return NULL;
	}
	if (json_body_depth(text, len) > HTTP_JSON_MAX_DEPTH) {
		snprintf(msg, msgsz, "JSON nested deeper than %d levels", HTTP_JSON_MAX_DEPTH);
		return NULL;
	}
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(msg, msgsz, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(msg, msgsz, "the body must be a JSON object");
		return NULL;
	}
	return j;
}
