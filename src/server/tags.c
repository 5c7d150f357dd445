/*
 * The tags rule shared by screens and media (see tags.h).
 */
#include "tags.h"

#include <string.h>

#include "http/server.h"

bool tags_check(struct http_req *r, json_t *tags)
{
	if (!json_is_array(tags) || json_array_size(tags) > 32) {
		http_reply_error(r, 400, "invalid_field", "tags must be an array of at most 32 strings");
		return false;
	}
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 64 ||
		    strchr(json_string_value(t), '"')) {
			http_reply_error(r, 400, "invalid_field", "tags[%zu] must be 1-64 characters without quotes",
			                 i);
			return false;
		}
	}
	return true;
}
