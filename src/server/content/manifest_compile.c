/* Assembling a screen's manifest from what the store holds; see
 * manifest_compile.h. */
#include "manifest_compile.h"

#include <stdio.h>
#include <string.h>

#include "../../common/strfmt.h"

/* Every object of every channel, once, in the order first met. */
static json_t *objects_of(json_t *channels)
{
	json_t *objects = json_array(), *seen = json_object();
	const char *cid;
	json_t *ch;
	json_object_foreach (channels, cid, ch) {
		size_t zi, ii;
		json_t *zone, *item;
		json_array_foreach (json_object_get(ch, "zones"), zi, zone) {
			json_array_foreach (json_object_get(zone, "items"), ii, item) {
				const char *sha = json_string_value(json_object_get(item, "media"));
				if (!sha || strlen(sha) != 64 || json_object_get(seen, sha))
					continue;
				json_object_set_new(seen, sha, json_true());
				char url[128]; /* sha is 64 characters: it fits */
				if (strfmt(url, sizeof url, "/api/v1/device/objects/%s", sha) != 0)
					continue;
				json_t *size = json_object_get(item, "size"), *mime = json_object_get(item, "mime");
				json_array_append_new(objects, json_pack("{s:s, s:O, s:O, s:s}", "sha256", sha, "size",
				                                         size ? size : json_null(), "mime",
				                                         mime ? mime : json_null(), "url", url));
			}
		}
	}
	json_decref(seen);
	return objects;
}

/* rss items carry the cached feed: a new feed is a new manifest */
static void add_feeds(json_t *channels, manifest_feed_fn feed, void *ctx)
{
	const char *cid;
	json_t *ch;
	json_object_foreach (channels, cid, ch) {
		size_t zi, ii;
		json_t *zone, *item;
		json_array_foreach (json_object_get(ch, "zones"), zi, zone) {
			json_array_foreach (json_object_get(zone, "items"), ii, item) {
				const char *url = json_string_value(json_object_get(item, "rss"));
				json_t *max = json_object_get(item, "max_items");
				json_int_t n = json_is_integer(max) ? json_integer_value(max) : 10;
				if (url && json_is_object(item))
					json_object_set_new(item, "feed", feed(ctx, url, n < 0 ? 0 : n));
			}
		}
	}
}

json_t *manifest_assemble(json_t *channels, const char *default_id, json_t *schedule, json_t *play_now,
                          manifest_feed_fn feed, void *feed_ctx)
{
	if (!json_is_object(channels)) {
		json_decref(channels);
		channels = json_object();
	}
	json_t *objects = objects_of(channels);
	if (feed)
		add_feeds(channels, feed, feed_ctx);
	json_t *def_body = default_id && *default_id ? json_object_get(channels, default_id) : NULL;
	return json_pack("{s:O, s:o, s:s?, s:o, s:o, s:o}", "channel", def_body ? def_body : json_null(), "channels",
	                 channels, "default_channel", def_body ? default_id : NULL, "schedule",
	                 schedule ? schedule : json_array(), "play_now", play_now ? play_now : json_null(), "objects",
	                 objects);
}
