/*
 * Unit tests of src/common/channel_schema.c, the one channel validator of
 * the server and the CLI: normalisation (defaults, ids, types from the
 * resolver), every fault with its JSON path, several faults at once, the
 * resolver interface (the store's "no such media", the folder's "file",
 * which the server refuses) and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/channel_schema.h"

#define SHA_IMAGE "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_VIDEO "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA_NONE  "3333333333333333333333333333333333333333333333333333333333333333"

/* A fake store: two media, and a count of questions. */
static int store_calls;
static int store_media(void *ctx, const char *sha, const char *json_path, struct channel_medium *out, char *msg,
                       size_t msgsz)
{
	(void)ctx;
	(void)json_path;
	store_calls++;
	if (strcmp(sha, SHA_IMAGE) == 0) {
		snprintf(out->kind, sizeof out->kind, "image");
		snprintf(out->mime, sizeof out->mime, "image/png");
		out->size = 123;
		return 0;
	}
	if (strcmp(sha, SHA_VIDEO) == 0) {
		snprintf(out->kind, sizeof out->kind, "video");
		snprintf(out->mime, sizeof out->mime, "video/mp4");
		out->size = 4567;
		return 0;
	}
	snprintf(msg, msgsz, "this account has no media %s (upload it first)", sha);
	return -1;
}

/* A fake folder: a.png and v.mp4 exist; it remembers the last path asked. */
static char last_file_path[CHANNEL_PATH_MAX + 16];
static int folder_file(void *ctx, const char *rel, const char *json_path, struct channel_medium *out, char *msg,
                       size_t msgsz)
{
	(void)ctx;
	snprintf(last_file_path, sizeof last_file_path, "%s", json_path);
	if (strcmp(rel, "a.png") == 0 || strcmp(rel, "v.mp4") == 0) {
		snprintf(out->kind, sizeof out->kind, "%s", rel[0] == 'v' ? "video" : "image");
		return 0;
	}
	snprintf(msg, msgsz, "no such file %s in DIR", rel);
	return -1;
}
static int folder_media(void *ctx, const char *sha, const char *json_path, struct channel_medium *out, char *msg,
                        size_t msgsz)
{
	(void)ctx, (void)sha, (void)json_path, (void)out, (void)msg, (void)msgsz;
	return 0; /* asked of the server later: kind unknown */
}

static const struct channel_resolver server = {store_media, NULL, NULL};
static const struct channel_resolver cli = {folder_media, folder_file, NULL};

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		print_error("bad test JSON: %s\n", e.text);
	assert_non_null(j);
	return j;
}

static json_t *valid_on(const struct channel_resolver *res, const char *text)
{
	json_t *body = load(text), *faults = json_array();
	json_t *norm = channel_schema_check(body, res, faults, 20);
	if (!norm) {
		char line[800];
		channel_schema_fault_text(json_array_get(faults, 0), line, sizeof line);
		print_error("refused: %s\n", line);
	}
	assert_non_null(norm);
	assert_int_equal(json_array_size(faults), 0);
	json_decref(body);
	json_decref(faults);
	return norm;
}

/* The faults (as "PATH: MESSAGE" lines joined by '\n') of an invalid body. */
static void faults_of(const struct channel_resolver *res, const char *text, char *out, size_t outsz, size_t max)
{
	json_t *body = load(text), *faults = json_array();
	json_t *norm = channel_schema_check(body, res, faults, max);
	assert_null(norm);
	assert_true(json_array_size(faults) >= 1 && json_array_size(faults) <= max);
	out[0] = '\0';
	size_t i;
	json_t *f;
	json_array_foreach (faults, i, f) {
		char line[800];
		channel_schema_fault_text(f, line, sizeof line);
		snprintf(out + strlen(out), outsz - strlen(out), "%s%s", i ? "\n" : "", line);
	}
	json_decref(body);
	json_decref(faults);
}

static void first_fault(const struct channel_resolver *res, const char *text, const char *want)
{
	char got[4096];
	faults_of(res, text, got, sizeof got, 1);
	if (strncmp(got, want, strlen(want)) != 0)
		print_error("fault \"%s\", wanted \"%s...\"\n", got, want);
	assert_true(strncmp(got, want, strlen(want)) == 0);
}

/* A channel of one 100x100 zone whose only item is ITEM. */
static void item_fault(const struct channel_resolver *res, const char *item, const char *want)
{
	char text[2048];
	snprintf(text, sizeof text,
	         "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"main\",\"x\":0,\"y\":0,\"w\":100,"
	         "\"h\":100,\"items\":[%s]}]}",
	         item);
	first_fault(res, text, want);
}

static void test_normalised(void **state)
{
	(void)state;
	json_t *n = valid_on(
	    &server,
	    "{\"name\":\"Lobby\",\"width\":1920,\"height\":1080,\"id\":\"ignored\",\"zones\":["
	    "{\"name\":\"main\",\"x\":0,\"y\":0,\"w\":1920,\"h\":900,\"id\":\"z\",\"items\":["
	    "{\"media\":\"" SHA_IMAGE "\"},{\"media\":\"" SHA_VIDEO
	    "\"},{\"url\":\"https://example.test/\",\"duration\":30,"
	    "\"transition\":\"slide\"},{\"text\":\"Hello\",\"valid\":{\"from\":\"2026-01-01\",\"days\":[1,7],"
	    "\"start\":\"08:00\",\"end\":\"24:00\"}}]},"
	    "{\"name\":\"ticker\",\"x\":0,\"y\":900,\"w\":1920,\"h\":180,\"z\":5,\"items\":["
	    "{\"rss\":\"https://example.test/feed\"},{\"rss\":\"http://example.test/f2\",\"max_items\":3}]}]}");
	json_t *want =
	    load("{\"name\":\"Lobby\",\"width\":1920,\"height\":1080,\"zones\":["
	         "{\"name\":\"main\",\"x\":0,\"y\":0,\"w\":1920,\"h\":900,\"z\":0,\"items\":["
	         "{\"media\":\"" SHA_IMAGE "\",\"type\":\"image\",\"mime\":\"image/png\",\"size\":123,\"duration\":10,"
	         "\"transition\":\"fade\",\"id\":\"z0i0\"},"
	         "{\"media\":\"" SHA_VIDEO "\",\"type\":\"video\",\"mime\":\"video/mp4\",\"size\":4567,\"duration\":0,"
	         "\"transition\":\"fade\",\"id\":\"z0i1\"},"
	         "{\"url\":\"https://example.test/"
	         "\",\"type\":\"web\",\"duration\":30,\"transition\":\"slide\",\"id\":\"z0i2\"},"
	         "{\"text\":\"Hello\",\"type\":\"text\",\"duration\":10,\"transition\":\"fade\",\"valid\":{\"from\":"
	         "\"2026-01-01\",\"days\":[1,7],\"start\":\"08:00\",\"end\":\"24:00\"},\"id\":\"z0i3\"}]},"
	         "{\"name\":\"ticker\",\"x\":0,\"y\":900,\"w\":1920,\"h\":180,\"z\":5,\"items\":["
	         "{\"rss\":\"https://example.test/feed\",\"type\":\"rss\",\"max_items\":10,\"duration\":10,"
	         "\"transition\":\"fade\",\"id\":\"z1i0\"},"
	         "{\"rss\":\"http://example.test/f2\",\"type\":\"rss\",\"max_items\":3,\"duration\":10,"
	         "\"transition\":\"fade\",\"id\":\"z1i1\"}]}]}");
	if (!json_equal(n, want)) {
		char *got = json_dumps(n, JSON_SORT_KEYS);
		print_error("normalised: %s\n", got);
		free(got);
	}
	assert_true(json_equal(n, want));
	json_decref(n);
	json_decref(want);
}

static void test_top_level_faults(void **state)
{
	(void)state;
	first_fault(&server, "[1]", "(top): must be a JSON object (the channel), not a list");
	first_fault(&server, "{\"width\":10,\"height\":10,\"zones\":[]}", "name: must be a string of 1 to 128 bytes");
	first_fault(&server, "{\"name\":\"c\",\"width\":\"1920\",\"height\":10,\"zones\":[]}",
	            "width: must be an integer from 1 to 16384, not a string");
	first_fault(&server, "{\"name\":\"c\",\"width\":0,\"height\":10,\"zones\":[]}",
	            "width: 0 is out of range (1 to 16384)");
	first_fault(&server, "{\"name\":\"c\",\"width\":10,\"zones\":[]}",
	            "height: missing (an integer from 1 to 16384)");
	first_fault(&server, "{\"name\":\"c\",\"width\":10,\"height\":10,\"zones\":[]}",
	            "zones: must be a list of 1 to 32 zones");
	first_fault(&server, "{\"name\":\"c\",\"width\":10,\"height\":10,\"colour\":1,\"zones\":[]}",
	            "colour: unknown field (a channel has name, width, height, zones)");
}

static void test_zone_faults(void **state)
{
	(void)state;
	first_fault(&server,
	            "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":50,\"y\":0,\"w\":60,"
	            "\"h\":10,\"items\":[]}]}",
	            "zones[0].w: the zone is outside the canvas: from x=50 it is 60 wide and ends at 110, past the "
	            "canvas width 100");
	first_fault(&server,
	            "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":100,\"w\":1,"
	            "\"h\":1,\"items\":[]}]}",
	            "zones[0].y: 100 is out of range (0 to 99)");
	first_fault(&server,
	            "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":0,\"w\":1,"
	            "\"h\":1,\"items\":[]},{\"name\":\"a\",\"x\":0,\"y\":0,\"w\":1,\"h\":1,\"items\":[]}]}",
	            "zones[1].name: another zone is already called \"a\"");
	first_fault(&server,
	            "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":0,\"w\":1,"
	            "\"h\":1}]}",
	            "zones[0].items: must be a list of at most 500 items (missing)");
	first_fault(&server, "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[7]}",
	            "zones[0]: must be an object, not an integer");
	first_fault(&server,
	            "{\"name\":\"c\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":0,\"w\":1,"
	            "\"h\":1,\"z\":1001,\"items\":[]}]}",
	            "zones[0].z: 1001 is out of range (-1000 to 1000)");
}

static void test_item_faults(void **state)
{
	(void)state;
	item_fault(&server, "{\"media\":\"" SHA_IMAGE "\",\"duration\":0}",
	           "zones[0].items[0].duration: 0 is out of range (1 to 86400)");
	item_fault(&server, "{\"media\":\"" SHA_IMAGE "\",\"duration\":1.5}",
	           "zones[0].items[0].duration: must be an integer from 1 to 86400, not a number with a fraction");
	item_fault(&server, "{\"url\":\"ftp://x\"}",
	           "zones[0].items[0].url: must be an http:// or https:// URL of at most 2048 bytes");
	item_fault(&server, "{\"rss\":\"file:///etc/passwd\"}",
	           "zones[0].items[0].rss: must be an http:// or https:// URL of at most 2048 bytes");
	item_fault(&server, "{\"rss\":\"https://x/f\",\"max_items\":51}",
	           "zones[0].items[0].max_items: 51 is out of range (1 to 50)");
	item_fault(&server, "{\"text\":\"t\",\"max_items\":5}",
	           "zones[0].items[0].max_items: only an \"rss\" item has max_items");
	item_fault(&server, "{\"text\":\"\"}", "zones[0].items[0].text: must be a text of 1 to 2000 bytes");
	item_fault(&server, "{\"text\":\"a\",\"url\":\"https://x\"}",
	           "zones[0].items[0]: needs exactly one of \"media\", \"url\", \"text\" or \"rss\", not several");
	item_fault(&server, "{\"duration\":5}",
	           "zones[0].items[0]: needs exactly one of \"media\", \"url\", \"text\" or \"rss\"");
	item_fault(&server, "{\"text\":\"a\",\"transition\":\"wipe\"}",
	           "zones[0].items[0].transition: must be \"none\", \"fade\" or \"slide\"");
	item_fault(&server, "{\"text\":\"a\",\"valid\":{\"days\":[0]}}",
	           "zones[0].items[0].valid.days: must be a list of ISO weekdays");
	item_fault(&server, "{\"text\":\"a\",\"valid\":{\"from\":\"2025-02-29\"}}",
	           "zones[0].items[0].valid.from: must be a date YYYY-MM-DD");
	item_fault(&server, "{\"text\":\"a\",\"valid\":{\"end\":\"24:01\"}}",
	           "zones[0].items[0].valid.end: must be a time HH:MM (00:00 to 24:00)");
	item_fault(&server, "{\"text\":\"a\",\"valid\":{\"when\":1}}",
	           "zones[0].items[0].valid.when: unknown field (valid has from, until, days, start, end)");
	item_fault(&server, "{\"text\":\"a\",\"valid\":[]}",
	           "zones[0].items[0].valid: must be an object with from, until, days, start, end, not a list");
	item_fault(&server, "\"text\"", "zones[0].items[0]: must be an object, not a string");
	item_fault(&server, "{\"media\":\"ABC\"}",
	           "zones[0].items[0].media: must be the SHA-256 of a medium (64 lower-case hex digits)");
}

/* The resolver decides what a medium is; the store says what is missing. */
static void test_store_resolver(void **state)
{
	(void)state;
	store_calls = 0;
	item_fault(&server, "{\"media\":\"" SHA_NONE "\"}",
	           "zones[0].items[0].media: this account has no media " SHA_NONE " (upload it first)");
	assert_int_equal(store_calls, 1);
	/* a malformed hash never reaches the store */
	store_calls = 0;
	item_fault(&server, "{\"media\":\"" SHA_NONE "x\"}", "zones[0].items[0].media: must be the SHA-256");
	assert_int_equal(store_calls, 0);
	/* "file" is the CLI's: the server refuses it */
	item_fault(&server, "{\"file\":\"a.png\"}",
	           "zones[0].items[0].file: unknown field (an item has one of media, "
	           "url, text, rss, and max_items, duration, transition, valid)");
	/* a video may play to its end; an image may not */
	json_t *n =
	    valid_on(&server, "{\"name\":\"c\",\"width\":10,\"height\":10,\"zones\":[{\"name\":\"a\",\"x\":0,"
	                      "\"y\":0,\"w\":10,\"h\":10,\"items\":[{\"media\":\"" SHA_VIDEO "\",\"duration\":0}]}]}");
	json_decref(n);
}

static void test_folder_resolver(void **state)
{
	(void)state;
	json_t *n =
	    valid_on(&cli, "{\"name\":\"c\",\"width\":10,\"height\":10,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":0,"
	                   "\"w\":10,\"h\":10,\"items\":[{\"file\":\"a.png\"},{\"file\":\"v.mp4\",\"duration\":0},"
	                   "{\"media\":\"" SHA_NONE "\",\"duration\":0}]}]}");
	json_decref(n);
	assert_string_equal(last_file_path, "zones[0].items[1].file");
	item_fault(&cli, "{\"file\":\"b.png\"}", "zones[0].items[0].file: no such file b.png in DIR");
	item_fault(&cli, "{\"file\":\"a.png\",\"duration\":0}", "zones[0].items[0].duration: 0 is out of range (1 to");
	item_fault(&cli, "{\"file\":\"\"}", "zones[0].items[0].file: must be a path relative to the folder, not empty");
	item_fault(&cli, "{\"file\":3}",
	           "zones[0].items[0].file: must be a path relative to the folder, not an integer");
	item_fault(
	    &cli, "{\"file\":\"a.png\",\"media\":\"" SHA_NONE "\"}",
	    "zones[0].items[0]: needs exactly one of \"file\", \"media\", \"url\", \"text\" or \"rss\", not several");
	item_fault(&cli, "{\"media\":\"x\"}",
	           "zones[0].items[0].media: must be the SHA-256 of a medium (64 lower-case "
	           "hex digits); for a file of the folder use \"file\"");
}

/* The CLI lists several faults at once, up to its maximum. */
static void test_several_faults(void **state)
{
	(void)state;
	const char *body = "{\"name\":\"\",\"width\":100,\"height\":100,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":2000,"
	                   "\"w\":10,\"h\":10,\"colour\":\"red\",\"items\":[{\"text\":\"\"},{\"url\":\"x\"}]}]}";
	char got[4096];
	faults_of(&cli, body, got, sizeof got, 20);
	assert_non_null(strstr(got, "name: must be a string"));
	assert_non_null(strstr(got, "zones[0].colour: unknown field"));
	assert_non_null(strstr(got, "zones[0].y: 2000 is out of range"));
	assert_non_null(strstr(got, "zones[0].items[0].text:"));
	assert_non_null(strstr(got, "zones[0].items[1].url:"));
	faults_of(&cli, body, got, sizeof got, 2);
	assert_null(strchr(strchr(got, '\n') + 1, '\n')); /* two lines */
}

static void test_limits(void **state)
{
	(void)state;
	/* 33 zones, 501 items */
	char *text = malloc(200000);
	assert_non_null(text);
	size_t n = (size_t)sprintf(text, "{\"name\":\"c\",\"width\":10,\"height\":10,\"zones\":[");
	for (int i = 0; i < 33; i++)
		n += (size_t)sprintf(text + n, "%s{\"name\":\"z%d\",\"x\":0,\"y\":0,\"w\":1,\"h\":1,\"items\":[]}",
		                     i ? "," : "", i);
	sprintf(text + n, "]}");
	first_fault(&server, text, "zones: must be a list of 1 to 32 zones");
	n = (size_t)sprintf(
	    text, "{\"name\":\"c\",\"width\":10,\"height\":10,\"zones\":[{\"name\":\"a\",\"x\":0,\"y\":0,\"w\":1,"
	          "\"h\":1,\"items\":[");
	for (int i = 0; i < 501; i++)
		n += (size_t)sprintf(text + n, "%s{\"text\":\"t\"}", i ? "," : "");
	sprintf(text + n, "]}]}");
	first_fault(&server, text, "zones[0].items: must be a list of at most 500 items, not a longer one");
	/* 500 items are fine */
	strcpy(strstr(text, ",{\"text\":\"t\"}]}]}"), "]}]}");
	json_t *norm = valid_on(&server, text);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(norm, "zones"), 0), "items")),
	                 500);
	json_decref(norm);
	free(text);
	/* a long unknown key is cut in the path */
	char key[300];
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	char body[600];
	snprintf(body, sizeof body, "{\"%s\":1,\"name\":\"c\",\"width\":1,\"height\":1,\"zones\":[]}", key);
	char got[4096];
	faults_of(&server, body, got, sizeof got, 1);
	assert_true(strlen(got) < 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalised),     cmocka_unit_test(test_top_level_faults),
	    cmocka_unit_test(test_zone_faults),    cmocka_unit_test(test_item_faults),
	    cmocka_unit_test(test_store_resolver), cmocka_unit_test(test_folder_resolver),
	    cmocka_unit_test(test_several_faults), cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("channel_schema", tests, NULL, NULL);
}
