/*
 * libFuzzer target: manifest compilation (src/server/content/manifest_compile.c)
 * on whatever the store could hold: {"channels": {id: body}, "default": id,
 * "schedule": [...], "play_now": ...}, each channel first through the
 * channel schema (as the server stores it) when it passes, else as is.
 * The manifest always exists; each object is listed once, is a medium of
 * some channel and has the device URL of its hash; every rss item of a
 * channel carries a feed; the same input gives the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/channel_schema.h"
#include "server/content/manifest_compile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *fake_feed(void *ctx, const char *url, json_int_t max_items)
{
	(void)ctx;
	if (!url || max_items < 0)
		abort();
	return json_pack("{s:[], s:I}", "items", "fetched_at", max_items);
}

static int any_media(void *ctx, const char *sha, const char *json_path, struct channel_medium *out, char *msg,
                     size_t msgsz)
{
	(void)ctx, (void)json_path, (void)msg, (void)msgsz;
	snprintf(out->kind, sizeof out->kind, "%s", sha[0] < '8' ? "image" : "video");
	snprintf(out->mime, sizeof out->mime, "%s", sha[0] < '8' ? "image/png" : "video/mp4");
	out->size = sha[1];
	return 0;
}

static json_t *input_channels(json_t *in)
{
	static const struct channel_resolver store = {any_media, NULL, NULL};
	json_t *channels = json_object(), *faults = json_array();
	const char *id;
	json_t *body;
	json_object_foreach (json_object_get(in, "channels"), id, body) {
		json_t *norm = channel_schema_check(body, &store, faults, 1);
		json_object_set_new(channels, id, norm ? norm : json_deep_copy(body));
	}
	json_decref(faults);
	return channels;
}

static char *compile(json_t *in)
{
	const char *def = json_string_value(json_object_get(in, "default"));
	json_t *schedule = json_deep_copy(json_object_get(in, "schedule"));
	json_t *play_now = json_deep_copy(json_object_get(in, "play_now"));
	json_t *m = manifest_assemble(input_channels(in), def, schedule, play_now, fake_feed, NULL);
	if (!m)
		abort();
	/* objects: once each, of some channel, with their URL */
	json_t *seen = json_object();
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(m, "objects"), i, o) {
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		char url[128];
		if (!sha || json_object_get(seen, sha))
			abort();
		json_object_set_new(seen, sha, json_true());
		snprintf(url, sizeof url, "/api/v1/device/objects/%s", sha);
		if (strcmp(json_string_value(json_object_get(o, "url")), url) != 0)
			abort();
	}
	const char *cid;
	json_t *ch;
	json_object_foreach (json_object_get(m, "channels"), cid, ch) {
		size_t zi, ii;
		json_t *zone, *item;
		json_array_foreach (json_object_get(ch, "zones"), zi, zone) {
			json_array_foreach (json_object_get(zone, "items"), ii, item) {
				const char *sha = json_string_value(json_object_get(item, "media"));
				if (sha && strlen(sha) == 64 && !json_object_get(seen, sha))
					abort();
				if (json_is_object(item) && json_is_string(json_object_get(item, "rss")) &&
				    !json_object_get(item, "feed"))
					abort();
			}
		}
	}
	json_decref(seen);
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t e;
	json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
	if (!json_is_object(in)) {
		json_decref(in);
		return 0;
	}
	char *a = compile(in), *b = compile(in);
	if (!a != !b || (a && strcmp(a, b) != 0))
		abort();
	free(a);
	free(b);
	json_decref(in);
	return 0;
}
