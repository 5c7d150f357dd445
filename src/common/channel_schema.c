/* The one channel validator of the server and the CLI; see channel_schema.h. */
#include "channel_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "codes.h"

struct check {
	const struct channel_resolver *res;
	json_t *faults;
	size_t max_faults;
	size_t count; /* faults found, listed or not */
	char path[CHANNEL_PATH_MAX];
};

/* A fault at path (plus ".member" when given). */
static void fault(struct check *c, const char *member, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fault(struct check *c, const char *member, const char *fmt, ...)
{
	c->count++;
	if (json_array_size(c->faults) >= c->max_faults)
		return;
	char msg[600], path[CHANNEL_PATH_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (member)
		snprintf(path, sizeof path, "%s%s%.60s", c->path, c->path[0] ? "." : "", member);
	else
		snprintf(path, sizeof path, "%s", c->path);
	json_t *f = json_pack("{s:s, s:s}", "path", path, "message", msg);
	if (f)
		json_array_append_new(c->faults, f);
}

void channel_schema_fault_text(json_t *f, char *out, size_t outsz)
{
	const char *path = json_string_value(json_object_get(f, "path"));
	const char *msg = json_string_value(json_object_get(f, "message"));
	snprintf(out, outsz, "%s: %s", path && *path ? path : "(top)", msg ? msg : "invalid");
}

const char *channel_schema_type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static bool is_http_url(const char *u)
{
	return u && strlen(u) <= CHANNEL_MAX_URL && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
}

/* Refuses members other than allowed (a typo must not be silently dropped). */
static bool only_members(struct check *c, json_t *obj, const char *const *allowed, const char *listed)
{
	const char *key;
	json_t *v;
	bool ok = true;
	json_object_foreach (obj, key, v) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				known = true;
		if (!known) {
			fault(c, key, "unknown field (%s)", listed);
			ok = false;
		}
	}
	return ok;
}

/* An integer member within [min, max]; false (after a fault) when it is
 * missing (and required), not an integer or out of range. */
static bool int_member(struct check *c, json_t *obj, const char *key, bool required, json_int_t min, json_int_t max,
                       json_int_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			fault(c, key, "missing (an integer from %lld to %lld)", (long long)min, (long long)max);
		return false;
	}
	if (!json_is_integer(v)) {
		fault(c, key, "must be an integer from %lld to %lld, not %s", (long long)min, (long long)max,
		      channel_schema_type_name(v));
		return false;
	}
	json_int_t n = json_integer_value(v);
	if (n < min || n > max) {
		fault(c, key, "%lld is out of range (%lld to %lld)", (long long)n, (long long)min, (long long)max);
		return false;
	}
	*out = n;
	return true;
}

static void check_valid(struct check *c, json_t *valid)
{
	static const char *const keys[] = {"from", "until", "days", "start", "end", NULL};
	size_t n = strlen(c->path);
	snprintf(c->path + n, sizeof c->path - n, ".valid");
	if (!json_is_object(valid)) {
		fault(c, NULL, "must be an object with from, until, days, start, end, not %s",
		      channel_schema_type_name(valid));
		goto out;
	}
	only_members(c, valid, keys, "valid has from, until, days, start, end");
	const char *dates[] = {"from", "until"}, *times[] = {"start", "end"};
	for (int i = 0; i < 2; i++) {
		json_t *d = json_object_get(valid, dates[i]), *t = json_object_get(valid, times[i]);
		if (d && (!json_is_string(d) || !calendar_valid_date(json_string_value(d))))
			fault(c, dates[i], "must be a date YYYY-MM-DD");
		if (t && (!json_is_string(t) || calendar_minutes(json_string_value(t)) < 0))
			fault(c, times[i], "must be a time HH:MM (00:00 to 24:00)");
	}
	json_t *days = json_object_get(valid, "days");
	if (days) {
		size_t i;
		json_t *d;
		bool ok = json_is_array(days) && json_array_size(days) <= 7;
		json_array_foreach (days, i, d)
			if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 7)
				ok = false;
		if (!ok)
			fault(c, "days", "must be a list of ISO weekdays (1 = Monday ... 7 = Sunday)");
	}
out:
	c->path[n] = '\0';
}

/* Asks the resolver about a medium; false after a fault. */
static bool resolve(struct check *c, bool file, const char *ref, const char *member, struct channel_medium *m)
{
	char json_path[CHANNEL_PATH_MAX + 16], msg[600] = "";
	snprintf(json_path, sizeof json_path, "%s.%s", c->path, member);
	memset(m, 0, sizeof *m);
	m->size = -1;
	int (*fn)(void *, const char *, const char *, struct channel_medium *, char *, size_t) =
	    file ? c->res->file : c->res->media;
	if (!fn)
		return true; /* nothing to ask: the kind stays unknown */
	if (fn(c->res->ctx, ref, json_path, m, msg, sizeof msg) != 0) {
		fault(c, member, "%s", msg[0] ? msg : "cannot be resolved");
		return false;
	}
	return true;
}

/* Validates an item; its normalised form (new reference) or NULL. */
static json_t *check_item(struct check *c, json_t *item)
{
	static const char *const keys[] = {"media",    "file",       "url",   "text", "rss",  "max_items",
	                                   "duration", "transition", "valid", "id",   "name", NULL};
	bool files = c->res && c->res->file;
	if (!json_is_object(item)) {
		fault(c, NULL, "must be an object, not %s", channel_schema_type_name(item));
		return NULL;
	}
	size_t before = c->count;
	const char *listed = files ? "an item has one of media, file, url, text, rss, and max_items, duration, "
	                             "transition, valid"
	                           : "an item has one of media, url, text, rss, and max_items, duration, "
	                             "transition, valid";
	only_members(c, item, keys, listed);
	if (!files && json_object_get(item, "file")) /* the CLI's member, resolved before a body is sent */
		fault(c, "file", "unknown field (%s)", listed);
	json_t *media = json_object_get(item, "media"), *url = json_object_get(item, "url"),
	       *text = json_object_get(item, "text"), *rss = json_object_get(item, "rss");
	json_t *file = files ? json_object_get(item, "file") : NULL;
	int kinds = (media != NULL) + (file != NULL) + (url != NULL) + (text != NULL) + (rss != NULL);
	if (kinds != 1) {
		fault(c, NULL, "needs exactly one of %s\"url\", \"text\" or \"rss\"%s",
		      files ? "\"file\", \"media\", " : "\"media\", ", kinds ? ", not several" : "");
		return NULL;
	}
	json_t *out = json_object();
	const char *type = "text";
	bool may_be_video = false;
	json_t *jmax = json_object_get(item, "max_items");
	if (jmax && !rss)
		fault(c, "max_items", "only an \"rss\" item has max_items");
	if (media || file) {
		const char *member = media ? "media" : "file";
		const char *ref = json_string_value(media ? media : file);
		struct channel_medium m;
		may_be_video = true; /* until the resolver tells: no second fault for duration 0 */
		type = NULL;
		if (media && !codes_is_sha256(ref)) {
			fault(c, "media", "must be the SHA-256 of a medium (64 lower-case hex digits)%s",
			      files ? "; for a file of the folder use \"file\"" : "");
		} else if (file && (!ref || !*ref)) {
			fault(c, "file", "must be a path relative to the folder, not %s",
			      ref ? "empty" : channel_schema_type_name(file));
		} else if (resolve(c, file != NULL, ref, member, &m)) {
			json_object_set_new(out, member, json_string(ref));
			type = strcmp(m.kind, "image") == 0   ? "image"
			       : strcmp(m.kind, "video") == 0 ? "video"
			       : strcmp(m.kind, "html") == 0  ? "html"
			                                      : NULL;
			may_be_video = !type || strcmp(type, "video") == 0;
			if (type)
				json_object_set_new(out, "type", json_string(type));
			if (m.mime[0])
				json_object_set_new(out, "mime", json_string(m.mime));
			if (m.size >= 0)
				json_object_set_new(out, "size", json_integer(m.size));
		}
	} else if (url) {
		if (!is_http_url(json_string_value(url)))
			fault(c, "url", "must be an http:// or https:// URL of at most %d bytes", CHANNEL_MAX_URL);
		type = "web";
		json_object_set_new(out, "type", json_string(type));
		json_object_set(out, "url", url);
	} else if (rss) {
		if (!is_http_url(json_string_value(rss)))
			fault(c, "rss", "must be an http:// or https:// URL of at most %d bytes", CHANNEL_MAX_URL);
		json_int_t max_items = 10;
		if (jmax)
			int_member(c, item, "max_items", false, 1, 50, &max_items);
		type = "rss";
		json_object_set_new(out, "type", json_string(type));
		json_object_set(out, "rss", rss);
		json_object_set_new(out, "max_items", json_integer(max_items));
	} else {
		const char *t = json_string_value(text);
		if (!t || !*t || strlen(t) > CHANNEL_MAX_TEXT)
			fault(c, "text", "must be a text of 1 to %d bytes", CHANNEL_MAX_TEXT);
		json_object_set_new(out, "type", json_string("text"));
		json_object_set(out, "text", text);
	}
	json_int_t duration = may_be_video && type && strcmp(type, "video") == 0 ? 0 : 10;
	if (json_object_get(item, "duration"))
		int_member(c, item, "duration", false, may_be_video ? 0 : 1, CHANNEL_MAX_DURATION, &duration);
	json_object_set_new(out, "duration", json_integer(duration));
	json_t *tr = json_object_get(item, "transition");
	const char *t = tr ? json_string_value(tr) : "fade";
	if (!t || (strcmp(t, "none") && strcmp(t, "fade") && strcmp(t, "slide")))
		fault(c, "transition", "must be \"none\", \"fade\" or \"slide\"");
	else
		json_object_set_new(out, "transition", json_string(t));
	json_t *valid = json_object_get(item, "valid");
	if (valid) {
		check_valid(c, valid);
		json_object_set(out, "valid", valid);
	}
	if (c->count != before) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Validates a zone; its normalised form (new reference) or NULL. */
static json_t *check_zone(struct check *c, json_t *zone, size_t zi, json_int_t width, json_int_t height,
                          json_t *zone_names)
{
	static const char *const keys[] = {"name", "x", "y", "w", "h", "z", "items", "id", NULL};
	if (!json_is_object(zone)) {
		fault(c, NULL, "must be an object, not %s", channel_schema_type_name(zone));
		return NULL;
	}
	size_t before = c->count;
	only_members(c, zone, keys, "a zone has name, x, y, w, h, z, items");
	const char *name = json_string_value(json_object_get(zone, "name"));
	if (!name || !*name || strlen(name) > 64)
		fault(c, "name", "must be a string of 1 to 64 bytes");
	else if (json_object_get(zone_names, name))
		fault(c, "name", "another zone is already called \"%s\"", name);
	else
		json_object_set_new(zone_names, name, json_true());
	json_int_t x = 0, y = 0, w = 0, h = 0, z = (json_int_t)zi;
	bool x_ok = width > 0 && int_member(c, zone, "x", true, 0, width - 1, &x);
	bool y_ok = height > 0 && int_member(c, zone, "y", true, 0, height - 1, &y);
	if (width > 0 && x_ok && int_member(c, zone, "w", true, 1, CHANNEL_MAX_CANVAS, &w) && x + w > width)
		fault(c, "w",
		      "the zone is outside the canvas: from x=%lld it is %lld wide and ends at %lld, past the "
		      "canvas width %lld",
		      (long long)x, (long long)w, (long long)(x + w), (long long)width);
	if (height > 0 && y_ok && int_member(c, zone, "h", true, 1, CHANNEL_MAX_CANVAS, &h) && y + h > height)
		fault(c, "h",
		      "the zone is outside the canvas: from y=%lld it is %lld high and ends at %lld, past the "
		      "canvas height %lld",
		      (long long)y, (long long)h, (long long)(y + h), (long long)height);
	if (json_object_get(zone, "z"))
		int_member(c, zone, "z", false, -1000, 1000, &z);
	json_t *items = json_object_get(zone, "items");
	if (!json_is_array(items) || json_array_size(items) > CHANNEL_MAX_ITEMS) {
		fault(c, "items", "must be a list of at most %d items%s%s", CHANNEL_MAX_ITEMS,
		      items ? ", not " : " (missing)",
		      items ? (json_is_array(items) ? "a longer one" : channel_schema_type_name(items)) : "");
		return NULL;
	}
	json_t *out = json_pack("{s:s?, s:I, s:I, s:I, s:I, s:I, s:[]}", "name", name, "x", x, "y", y, "w", w, "h", h,
	                        "z", z, "items");
	json_t *out_items = json_object_get(out, "items");
	size_t ii;
	json_t *item;
	json_array_foreach (items, ii, item) {
		snprintf(c->path, sizeof c->path, "zones[%zu].items[%zu]", zi, ii);
		json_t *oi = check_item(c, item);
		if (!oi)
			continue;
		char id[48];
		snprintf(id, sizeof id, "z%zui%zu", zi, ii);
		json_object_set_new(oi, "id", json_string(id));
		json_array_append_new(out_items, oi);
	}
	if (c->count != before) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *channel_schema_check(json_t *body, const struct channel_resolver *res, json_t *faults, size_t max_faults)
{
	static const struct channel_resolver none = {0};
	struct check c = {.res = res ? res : &none, .faults = faults, .max_faults = max_faults};
	if (!json_is_object(body)) {
		fault(&c, NULL, "must be a JSON object (the channel), not %s",
		      body ? channel_schema_type_name(body) : "nothing");
		return NULL;
	}
	static const char *const keys[] = {"name", "width", "height", "zones", "id", NULL};
	only_members(&c, body, keys, "a channel has name, width, height, zones");
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || !*name || strlen(name) > 128)
		fault(&c, "name", "must be a string of 1 to 128 bytes (the channel's name)");
	json_int_t width = 0, height = 0;
	if (!int_member(&c, body, "width", true, 1, CHANNEL_MAX_CANVAS, &width))
		width = 0;
	if (!int_member(&c, body, "height", true, 1, CHANNEL_MAX_CANVAS, &height))
		height = 0;
	json_t *zones = json_object_get(body, "zones");
	if (!json_is_array(zones) || json_array_size(zones) == 0 || json_array_size(zones) > CHANNEL_MAX_ZONES) {
		fault(&c, "zones", "must be a list of 1 to %d zones", CHANNEL_MAX_ZONES);
		return NULL;
	}
	json_t *out = json_pack("{s:s?, s:I, s:I, s:[]}", "name", name, "width", width, "height", height, "zones");
	json_t *out_zones = json_object_get(out, "zones"), *zone_names = json_object();
	size_t zi;
	json_t *zone;
	json_array_foreach (zones, zi, zone) {
		snprintf(c.path, sizeof c.path, "zones[%zu]", zi);
		json_t *oz = check_zone(&c, zone, zi, width, height, zone_names);
		if (oz)
			json_array_append_new(out_zones, oz);
	}
	json_decref(zone_names);
	if (c.count || !out) {
		json_decref(out);
		return NULL;
	}
	return out;
}
