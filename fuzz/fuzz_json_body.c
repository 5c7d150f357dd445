/*
 * libFuzzer target: JSON request bodies, parsed the way http_json_body()
 * does it (json_loadb with JSON_REJECT_DUPLICATES on the raw bytes). A
 * parsed document must print and parse back to an equal document, so what
 * a handler reads is what the client sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return 0;
	if (!json_is_object(j) && !json_is_array(j))
		abort(); /* without JSON_DECODE_ANY only containers parse */
	char *text = json_dumps(j, JSON_COMPACT);
	if (text) {
		json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, &err);
		if (!again || !json_equal(j, again))
			abort();
		json_decref(again);
		free(text);
	}
	json_decref(j);
	return 0;
}
