/*
 * The channel schema (docs/PROTOCOL.md, "Channels"), once for the server
 * (POST/PUT /api/v1/channels: src/server/content/channels.c) and the CLI's
 * `vitrine publish` (src/cli/chfile.c), so both give the same answer and
 * the same sentences for the same body. A channel is a canvas (width x
 * height) of 1 to CHANNEL_MAX_ZONES zones (rectangles inside it, with a
 * z-order and a unique name), each with a playlist of at most
 * CHANNEL_MAX_ITEMS items: a medium of the library ("media": its SHA-256),
 * a web page ("url"), a text ("text") or an RSS/Atom feed ("rss", with
 * "max_items"); and, for the CLI only, a file of the publishing folder
 * ("file"). Each item has a duration, a transition and an optional validity
 * window.
 *
 * What a medium is (its kind, type and size) is the resolver's business:
 * the server looks in the store, the CLI at the folder (and later asks the
 * server). Every fault names its JSON path ("zones[1].items[0].duration");
 * the check goes on after a fault, so the CLI can list many at once.
 */
#ifndef VITRINE_CHANNEL_SCHEMA_H
#define VITRINE_CHANNEL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CHANNEL_MAX_ZONES    32
#define CHANNEL_MAX_ITEMS    500
#define CHANNEL_MAX_CANVAS   16384
#define CHANNEL_MAX_URL      2048
#define CHANNEL_MAX_TEXT     2000
#define CHANNEL_MAX_DURATION 86400
#define CHANNEL_PATH_MAX     192

/* What a resolver knows of a medium: kind "image", "video", "html", or ""
 * when it cannot tell yet (the CLI, before asking the server); mime "" and
 * size -1 when unknown. */
struct channel_medium {
	char kind[16];
	char mime[128];
	json_int_t size;
};

struct channel_resolver {
	/* A "media" member, already checked to be 64 lower-case hex digits.
	 * 0 with *out filled, or -1 with a sentence in msg (the fault of
	 * json_path, e.g. "this account has no media ..."). */
	int (*media)(void *ctx, const char *sha256, const char *json_path, struct channel_medium *out, char *msg,
	             size_t msgsz);
	/* A "file" member (a non-empty string); NULL: "file" is no member of
	 * an item (the server). Same contract as media. */
	int (*file)(void *ctx, const char *rel, const char *json_path, struct channel_medium *out, char *msg,
	            size_t msgsz);
	void *ctx;
};

/* Checks a channel body. Returns its normalised form (a new reference:
 * defaults filled in, ids "z<zone>i<item>", "type" and, for media, "mime"
 * and "size") when it is valid; otherwise NULL, with up to max_faults
 * faults {"path", "message"} appended to faults. */
json_t *channel_schema_check(json_t *body, const struct channel_resolver *res, json_t *faults, size_t max_faults);

/* "PATH: MESSAGE" of a fault into out ("(top)" for the body itself). */
void channel_schema_fault_text(json_t *fault, char *out, size_t outsz);

/* How a JSON value is named in a fault: "an object", "a list", "a string"... */
const char *channel_schema_type_name(json_t *v);

#endif
