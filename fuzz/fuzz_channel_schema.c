/*
 * libFuzzer target: the channel schema (src/common/channel_schema.c), the
 * bodies of POST/PUT /api/v1/channels and of the CLI's channel.json. A
 * refused body has 1 to max faults, each a path and a message; an accepted
 * one is normalised, and checking its normalised form again (without the
 * members the server adds) gives the same normalised form: validation is
 * idempotent, so a stored channel stays valid. The resolver is a fake
 * store (hashes starting 1 are images, 2 videos, others missing) or, on
 * the input's first byte, a fake folder (the CLI).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/channel_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_media(void *ctx, const char *sha, const char *json_path, struct channel_medium *out, char *msg,
                      size_t msgsz)
{
	(void)ctx;
	if (strlen(sha) != 64 || !json_path || strncmp(json_path, "zones[", 6) != 0)
		abort(); /* the schema checks the hash first and names the item */
	if (sha[0] == '1' || sha[0] == '2') {
		snprintf(out->kind, sizeof out->kind, "%s", sha[0] == '1' ? "image" : "video");
		snprintf(out->mime, sizeof out->mime, "%s", sha[0] == '1' ? "image/png" : "video/mp4");
		out->size = 42;
		return 0;
	}
	snprintf(msg, msgsz, "this account has no media %s (upload it first)", sha);
	return -1;
}

static int fake_file(void *ctx, const char *rel, const char *json_path, struct channel_medium *out, char *msg,
                     size_t msgsz)
{
	(void)ctx, (void)json_path;
	if (!*rel)
		abort();
	if (rel[0] == 'v')
		snprintf(out->kind, sizeof out->kind, "video");
	if (rel[0] == 'x') {
		snprintf(msg, msgsz, "no such file %s", rel);
		return -1;
	}
	return 0;
}

static void strip_added(json_t *norm)
{
	size_t zi, ii;
	json_t *zone, *item;
	json_array_foreach (json_object_get(norm, "zones"), zi, zone)
		json_array_foreach (json_object_get(zone, "items"), ii, item) {
			json_object_del(item, "type");
			json_object_del(item, "mime");
			json_object_del(item, "size");
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const struct channel_resolver store = {fake_media, NULL, NULL};
	static const struct channel_resolver folder = {fake_media, fake_file, NULL};
	const struct channel_resolver *res = data[0] & 1 ? &folder : &store;
	size_t max = (size_t)(data[0] >> 1) % 21 + 1;
	json_error_t e;
	json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &e);
	if (!body)
		return 0;
	json_t *faults = json_array();
	json_t *norm = channel_schema_check(body, res, faults, max);
	if (!norm) {
		if (json_array_size(faults) < 1 || json_array_size(faults) > max)
			abort();
		size_t i;
		json_t *f;
		json_array_foreach (faults, i, f) {
			if (!json_is_string(json_object_get(f, "path")) ||
			    !json_is_string(json_object_get(f, "message")))
				abort();
			char line[1024];
			channel_schema_fault_text(f, line, sizeof line);
		}
	} else {
		if (json_array_size(faults) != 0)
			abort();
		json_t *again_in = json_deep_copy(norm);
		strip_added(again_in);
		json_t *again = channel_schema_check(again_in, res, faults, max);
		if (!again || !json_equal(again, norm))
			abort();
		json_decref(again);
		json_decref(again_in);
		json_decref(norm);
	}
	json_decref(faults);
	json_decref(body);
	return 0;
}
