/*
 * libFuzzer target: screen rules (GET /api/v1/screens?rule=, dynamic
 * groups, bulk action targets) come from users. Whatever parses must
 * evaluate without crashing on screens of any shape, and its negation
 * must give the opposite answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/screens/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *screens[3];
	if (!screens[0]) {
		json_error_t e;
		screens[0] = json_loads("{\"name\":\"a\",\"tags\":[\"x\",1,null],\"version\":\"1.2\",\"online\":true,"
		                        "\"inventory\":{\"cpu\":{\"cores\":4},\"disks\":[{\"free_bytes\":1e300}],"
		                        "\"network\":[{\"addresses\":[\"::1\",{}]}]}}",
		                        0, &e);
		screens[1] = json_loads("{\"tags\":\"notalist\",\"inventory\":[],\"version\":7}", 0, &e);
		screens[2] = json_object();
	}
	char text[RULE_MAX_TEXT + 2];
	if (size > RULE_MAX_TEXT + 1)
		size = RULE_MAX_TEXT + 1;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];
	struct rule *r = rule_parse(text, err, sizeof err);
	if (!r) {
		if (!err[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	char negated[RULE_MAX_TEXT + 16];
	snprintf(negated, sizeof negated, "not (%s)", text);
	struct rule *n = rule_parse(negated, err, sizeof err);
	for (size_t i = 0; i < 3; i++) {
		bool m = rule_match(r, screens[i]);
		if (n && rule_match(n, screens[i]) == m)
			abort();
	}
	rule_free(n);
	rule_free(r);
	return 0;
}
