/*
 * Unit tests of manifest compilation (src/server/content/manifest_compile.c):
 * the channels a screen may play and its default, each object once with
 * its size, type and URL, the cached feed in every rss item (with its
 * max_items), schedule and play-now carried as given, and a manifest that
 * changes exactly when what the screen plays changes (its version is the
 * hash of this text).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/content/manifest_compile.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		print_error("bad test JSON: %s\n", e.text);
	assert_non_null(j);
	return j;
}

/* A fake feed cache: the title says which URL and how many were asked. */
static int feed_calls;
static const char *feed_title = "cached";
static json_t *fake_feed(void *ctx, const char *url, json_int_t max_items)
{
	(void)ctx;
	feed_calls++;
	return json_pack("{s:[{s:s, s:s}], s:I, s:I}", "items", "title", feed_title, "url", url, "max", max_items,
	                 "fetched_at", (json_int_t)1700000000);
}

static json_t *two_channels(void)
{
	return load("{\"c1\":{\"name\":\"One\",\"version\":3,\"zones\":[{\"name\":\"main\",\"items\":["
	            "{\"media\":\"" SHA_A "\",\"type\":\"image\",\"mime\":\"image/png\",\"size\":10,\"id\":\"z0i0\"},"
	            "{\"media\":\"" SHA_B "\",\"type\":\"video\",\"mime\":\"video/mp4\",\"size\":20,\"id\":\"z0i1\"},"
	            "{\"rss\":\"https://example.test/feed\",\"type\":\"rss\",\"max_items\":3,\"id\":\"z0i2\"}]}]},"
	            "\"c2\":{\"name\":\"Two\",\"version\":1,\"zones\":[{\"name\":\"main\",\"items\":["
	            "{\"media\":\"" SHA_A "\",\"type\":\"image\",\"mime\":\"image/png\",\"size\":10,\"id\":\"z0i0\"},"
	            "{\"text\":\"hi\",\"type\":\"text\",\"id\":\"z0i1\"}]}]}}");
}

static void test_objects_once_with_urls(void **state)
{
	(void)state;
	feed_calls = 0;
	json_t *m = manifest_assemble(two_channels(), "c1", json_array(), json_null(), fake_feed, NULL);
	assert_non_null(m);
	json_t *objects = json_object_get(m, "objects");
	assert_int_equal(json_array_size(objects), 2);
	json_t *want = load("[{\"sha256\":\"" SHA_A "\",\"size\":10,\"mime\":\"image/png\",\"url\":"
	                    "\"/api/v1/device/objects/" SHA_A "\"},{\"sha256\":\"" SHA_B "\",\"size\":20,\"mime\":"
	                    "\"video/mp4\",\"url\":\"/api/v1/device/objects/" SHA_B "\"}]");
	assert_true(json_equal(objects, want));
	json_decref(want);
	assert_string_equal(json_string_value(json_object_get(m, "default_channel")), "c1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "channel"), "name")), "One");
	assert_int_equal(json_object_size(json_object_get(m, "channels")), 2);
	assert_true(json_is_null(json_object_get(m, "play_now")));
	assert_null(json_object_get(m, "version")); /* the store's business */
	json_decref(m);
}

static void test_feed_in_rss_items(void **state)
{
	(void)state;
	feed_calls = 0;
	json_t *m = manifest_assemble(two_channels(), "c1", json_array(), json_null(), fake_feed, NULL);
	assert_int_equal(feed_calls, 1);
	json_t *item = json_array_get(
	    json_object_get(
	        json_array_get(json_object_get(json_object_get(json_object_get(m, "channels"), "c1"), "zones"), 0),
	        "items"),
	    2);
	json_t *feed = json_object_get(item, "feed");
	assert_non_null(feed);
	json_t *first = json_array_get(json_object_get(feed, "items"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "url")), "https://example.test/feed");
	assert_int_equal(json_integer_value(json_object_get(feed, "max")), 3);
	/* the default channel is the same body: it carries the feed too */
	assert_true(json_equal(json_object_get(m, "channel"), json_object_get(json_object_get(m, "channels"), "c1")));
	json_decref(m);
	/* no max_items: 10; no feed callback: no "feed" */
	json_t *ch = load("{\"c\":{\"zones\":[{\"items\":[{\"rss\":\"https://x.test/f\"}]}]}}");
	m = manifest_assemble(ch, "c", json_array(), json_null(), fake_feed, NULL);
	char *text = json_dumps(m, JSON_COMPACT);
	assert_non_null(strstr(text, "\"max\":10"));
	free(text);
	json_decref(m);
	m = manifest_assemble(load("{\"c\":{\"zones\":[{\"items\":[{\"rss\":\"https://x.test/f\"}]}]}}"), "c",
	                      json_array(), json_null(), NULL, NULL);
	text = json_dumps(m, JSON_COMPACT);
	assert_null(strstr(text, "\"feed\""));
	free(text);
	json_decref(m);
}

static void test_default_schedule_and_play_now(void **state)
{
	(void)state;
	json_t *schedule = load("[{\"id\":\"s1\",\"channel_id\":\"c2\",\"days\":[1,2],\"start\":\"08:00\",\"end\":"
	                        "\"12:00\",\"from\":\"\",\"until\":\"\",\"priority\":5}]");
	json_t *keep = json_deep_copy(schedule);
	json_t *play_now = load("{\"channel_id\":\"c2\",\"until\":1900000000}");
	/* no default channel: "channel" and "default_channel" null */
	json_t *m = manifest_assemble(two_channels(), "", schedule, play_now, fake_feed, NULL);
	assert_true(json_is_null(json_object_get(m, "channel")));
	assert_true(json_is_null(json_object_get(m, "default_channel")));
	assert_true(json_equal(json_object_get(m, "schedule"), keep));
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "play_now"), "channel_id")), "c2");
	json_decref(m);
	/* a default that is not among the channels (deleted) is no default */
	m = manifest_assemble(two_channels(), "gone", keep, json_null(), fake_feed, NULL);
	assert_true(json_is_null(json_object_get(m, "channel")));
	assert_true(json_is_null(json_object_get(m, "default_channel")));
	json_decref(m);
	/* nothing to play: an empty, well-formed manifest */
	m = manifest_assemble(json_object(), "", json_array(), json_null(), fake_feed, NULL);
	json_t *want = load("{\"channel\":null,\"default_channel\":null,\"channels\":{},\"schedule\":[],\"play_now\":"
	                    "null,\"objects\":[]}");
	assert_true(json_equal(m, want));
	json_decref(want);
	json_decref(m);
	/* bad input from the store is survived */
	m = manifest_assemble(load("[1]"), NULL, NULL, NULL, fake_feed, NULL);
	assert_non_null(m);
	assert_int_equal(json_object_size(json_object_get(m, "channels")), 0);
	json_decref(m);
	m = manifest_assemble(load("{\"c\":{\"zones\":[{\"items\":[{\"media\":\"short\"},{\"media\":7},3,"
	                           "{\"rss\":5}]},\"x\"]}}"),
	                      "c", json_array(), json_null(), fake_feed, NULL);
	assert_non_null(m);
	assert_int_equal(json_array_size(json_object_get(m, "objects")), 0);
	json_decref(m);
}

static char *dump(json_t *m)
{
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	assert_non_null(text);
	return text;
}

/* The version is the hash of the text: same input, same text; a changed
 * feed or channel, another text. */
static void test_changes_exactly_when_content_changes(void **state)
{
	(void)state;
	feed_title = "cached";
	char *a = dump(manifest_assemble(two_channels(), "c1", json_array(), json_null(), fake_feed, NULL));
	char *b = dump(manifest_assemble(two_channels(), "c1", json_array(), json_null(), fake_feed, NULL));
	assert_string_equal(a, b);
	feed_title = "breaking";
	char *c = dump(manifest_assemble(two_channels(), "c1", json_array(), json_null(), fake_feed, NULL));
	assert_string_not_equal(a, c);
	feed_title = "cached";
	json_t *ch = two_channels();
	json_object_set_new(json_object_get(ch, "c2"), "version", json_integer(2));
	char *d = dump(manifest_assemble(ch, "c1", json_array(), json_null(), fake_feed, NULL));
	assert_string_not_equal(a, d);
	free(a);
	free(b);
	free(c);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_objects_once_with_urls),
	    cmocka_unit_test(test_feed_in_rss_items),
	    cmocka_unit_test(test_default_schedule_and_play_now),
	    cmocka_unit_test(test_changes_exactly_when_content_changes),
	};
	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
