/* A publishing folder's channel.json and files; see chfile.h. The limits
 * are the server's (src/server/content/channels.c): checking them here
 * lets the CLI name every fault at once, before uploading anything. */
#include "chfile.h"
#include "common/calendar.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codes.h"

#define MAX_ZONES  32
#define MAX_ITEMS  500
#define MAX_CANVAS 16384
#define HASH_BLOCK (256u * 1024u)

struct check {
	struct chfile *cf;
	const char *dir;
	char path[160];
};

static void fault(struct check *c, const char *member, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fault(struct check *c, const char *member, const char *fmt, ...)
{
	if (json_array_size(c->cf->errors) >= CHFILE_MAX_ERRORS)
		return;
	char msg[600], line[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (member)
		snprintf(line, sizeof line, "%s%s%s: %s", c->path, c->path[0] ? "." : "", member, msg);
	else
		snprintf(line, sizeof line, "%s: %s", c->path[0] ? c->path : "(top)", msg);
	json_array_append_new(c->cf->errors, json_string(line));
}

static const char *type_name(json_t *v)
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
			char shown[64];
			snprintf(shown, sizeof shown, "%.60s", key);
			fault(c, shown, "unknown field (%s)", listed);
			ok = false;
		}
	}
	return ok;
}

/* An integer member within [min, max]. Returns false (after a fault) when
 * it is missing (and required), not an integer or out of range. */
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
		      type_name(v));
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

static bool valid_date(const char *s)
{
	return calendar_valid_date(s);
}
static bool valid_time(const char *s)
{
	return calendar_minutes(s) >= 0;
}

static bool looks_like_video(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (strcasecmp(dot, ".mp4") == 0 || strcasecmp(dot, ".webm") == 0 || strcasecmp(dot, ".m4v") == 0);
}

const struct chfile_file *chfile_find(const struct chfile *cf, const char *rel)
{
	for (size_t i = 0; rel && i < cf->nfiles; i++)
		if (strcmp(cf->files[i].rel, rel) == 0)
			return &cf->files[i];
	return NULL;
}

/* Checks "file": the path is relative and names a regular file of DIR. */
static void check_file(struct check *c, const char *rel)
{
	if (!*rel || rel[0] == '/' || strlen(rel) > 1024) {
		fault(c, "file", "must be a path relative to %s (not empty, not absolute)", c->dir);
		return;
	}
	if (chfile_find(c->cf, rel))
		return;
	char *path = NULL;
	if (asprintf(&path, "%s/%s", c->dir, rel) < 0) {
		fault(c, "file", "out of memory");
		return;
	}
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			fault(c, "file", "no such file %s in %s", rel, c->dir);
		else
			fault(c, "file", "cannot read %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	if (!S_ISREG(sb.st_mode)) {
		fault(c, "file", "%s is not a regular file", path);
		free(path);
		return;
	}
	if (access(path, R_OK) != 0) {
		fault(c, "file", "cannot read %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	struct chfile_file *grown = realloc(c->cf->files, (c->cf->nfiles + 1) * sizeof *grown);
	if (!grown) {
		free(path);
		fault(c, "file", "out of memory");
		return;
	}
	c->cf->files = grown;
	struct chfile_file *f = &grown[c->cf->nfiles];
	memset(f, 0, sizeof *f);
	f->rel = strdup(rel);
	f->path = path;
	f->size = (uint64_t)sb.st_size;
	if (asprintf(&f->json_path, "%s.file", c->path) < 0)
		f->json_path = NULL;
	if (!f->rel || !f->json_path) {
		free(f->rel);
		free(f->path);
		free(f->json_path);
		fault(c, "file", "out of memory");
		return;
	}
	c->cf->nfiles++;
}

static void check_valid(struct check *c, json_t *valid)
{
	static const char *const keys[] = {"from", "until", "days", "start", "end", NULL};
	size_t n = strlen(c->path);
	snprintf(c->path + n, sizeof c->path - n, ".valid");
	if (!json_is_object(valid)) {
		fault(c, NULL, "must be an object with from, until, days, start, end, not %s", type_name(valid));
		goto out;
	}
	only_members(c, valid, keys, "valid has from, until, days, start, end");
	const char *dates[] = {"from", "until"}, *times[] = {"start", "end"};
	for (int i = 0; i < 2; i++) {
		json_t *d = json_object_get(valid, dates[i]), *t = json_object_get(valid, times[i]);
		if (d && (!json_is_string(d) || !valid_date(json_string_value(d))))
			fault(c, dates[i], "must be a date YYYY-MM-DD");
		if (t && (!json_is_string(t) || !valid_time(json_string_value(t))))
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

static void check_item(struct check *c, json_t *item)
{
	static const char *const keys[] = {"media",      "file",  "url", "text", "duration",
	                                   "transition", "valid", "id",  "name", NULL};
	if (!json_is_object(item)) {
		fault(c, NULL, "must be an object, not %s", type_name(item));
		return;
	}
	only_members(c, item, keys, "an item has one of media, file, url, text, and duration, transition, valid");
	json_t *media = json_object_get(item, "media"), *file = json_object_get(item, "file"),
	       *url = json_object_get(item, "url"), *text = json_object_get(item, "text");
	int kinds = (media != NULL) + (file != NULL) + (url != NULL) + (text != NULL);
	if (kinds != 1) {
		fault(c, NULL, "needs exactly one of \"file\", \"media\", \"url\" or \"text\"%s",
		      kinds ? ", not several" : "");
		return;
	}
	bool may_be_video = false;
	if (media) {
		const char *sha = json_string_value(media);
		if (!codes_is_sha256(sha)) {
			fault(c, "media",
			      "must be the SHA-256 of a medium (64 lower-case hex digits); for a file of the "
			      "folder use \"file\"");
		} else {
			struct chfile_media_ref *grown = realloc(c->cf->media, (c->cf->nmedia + 1) * sizeof *grown);
			if (grown) {
				c->cf->media = grown;
				snprintf(grown[c->cf->nmedia].sha256, sizeof grown->sha256, "%s", sha);
				snprintf(grown[c->cf->nmedia].json_path, sizeof grown->json_path, "%s.media", c->path);
				c->cf->nmedia++;
			}
		}
		may_be_video = true; /* the server knows its kind */
	} else if (file) {
		if (!json_is_string(file))
			fault(c, "file", "must be a path relative to %s, not %s", c->dir, type_name(file));
		else {
			check_file(c, json_string_value(file));
			may_be_video = looks_like_video(json_string_value(file));
		}
	} else if (url) {
		const char *u = json_string_value(url);
		if (!u || strlen(u) > 2048 || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
			fault(c, "url", "must be an http:// or https:// URL of at most 2048 bytes");
	} else {
		const char *t = json_string_value(text);
		if (!t || !*t || strlen(t) > 2000)
			fault(c, "text", "must be a text of 1 to 2000 bytes");
	}
	json_int_t duration;
	if (json_object_get(item, "duration"))
		int_member(c, item, "duration", false, may_be_video ? 0 : 1, 86400, &duration);
	json_t *tr = json_object_get(item, "transition");
	const char *t = json_string_value(tr);
	if (tr && (!t || (strcmp(t, "none") && strcmp(t, "fade") && strcmp(t, "slide"))))
		fault(c, "transition", "must be \"none\", \"fade\" or \"slide\"");
	json_t *valid = json_object_get(item, "valid");
	if (valid)
		check_valid(c, valid);
}

static void check_zone(struct check *c, json_t *zone, size_t zi, json_int_t width, json_int_t height,
                       json_t *zone_names)
{
	static const char *const keys[] = {"name", "x", "y", "w", "h", "z", "items", "id", NULL};
	if (!json_is_object(zone)) {
		fault(c, NULL, "must be an object, not %s", type_name(zone));
		return;
	}
	only_members(c, zone, keys, "a zone has name, x, y, w, h, z, items");
	const char *name = json_string_value(json_object_get(zone, "name"));
	if (!name || !*name || strlen(name) > 64) {
		fault(c, "name", "must be a string of 1 to 64 bytes");
	} else if (json_object_get(zone_names, name)) {
		fault(c, "name", "another zone is already called \"%s\"", name);
	} else {
		json_object_set_new(zone_names, name, json_true());
	}
	json_int_t x = 0, y = 0, w, h, z;
	bool x_ok = width > 0 && int_member(c, zone, "x", true, 0, width - 1, &x);
	bool y_ok = height > 0 && int_member(c, zone, "y", true, 0, height - 1, &y);
	if (width > 0 && x_ok && int_member(c, zone, "w", true, 1, MAX_CANVAS, &w) && x + w > width)
		fault(c, "w",
		      "the zone is outside the canvas: from x=%lld it is %lld wide and ends at %lld, past the "
		      "canvas width %lld",
		      (long long)x, (long long)w, (long long)(x + w), (long long)width);
	if (height > 0 && y_ok && int_member(c, zone, "h", true, 1, MAX_CANVAS, &h) && y + h > height)
		fault(c, "h",
		      "the zone is outside the canvas: from y=%lld it is %lld high and ends at %lld, past the "
		      "canvas height %lld",
		      (long long)y, (long long)h, (long long)(y + h), (long long)height);
	if (json_object_get(zone, "z"))
		int_member(c, zone, "z", false, -1000, 1000, &z);
	json_t *items = json_object_get(zone, "items");
	if (!json_is_array(items) || json_array_size(items) > MAX_ITEMS) {
		fault(c, "items", "must be a list of at most %d items%s%s", MAX_ITEMS, items ? ", not " : " (missing)",
		      items ? (json_is_array(items) ? "a longer one" : type_name(items)) : "");
		return;
	}
	size_t ii;
	json_t *item;
	json_array_foreach (items, ii, item) {
		snprintf(c->path, sizeof c->path, "zones[%zu].items[%zu]", zi, ii);
		check_item(c, item);
	}
}

int chfile_load(const char *dir, struct chfile *cf)
{
	memset(cf, 0, sizeof *cf);
	cf->errors = json_array();
	if (!cf->errors)
		return -1;
	struct check c = {.cf = cf, .dir = dir};
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, CHFILE_NAME);
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(cf->problem, sizeof cf->problem, "%s is not a folder", dir);
		return -1;
	}
	json_error_t jerr;
	cf->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!cf->doc) {
		if (access(path, F_OK) != 0)
			snprintf(cf->problem, sizeof cf->problem, "no %s in %s (the channel's description goes there)",
			         CHFILE_NAME, dir);
		else
			snprintf(cf->problem, sizeof cf->problem, "%s: line %d, column %d: %s", path, jerr.line,
			         jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(cf->doc)) {
		snprintf(cf->problem, sizeof cf->problem, "%s must hold a JSON object (the channel), not %s", path,
		         type_name(cf->doc));
		return -1;
	}
	static const char *const keys[] = {"name", "width", "height", "zones", "id", NULL};
	only_members(&c, cf->doc, keys, "a channel has name, width, height, zones");
	const char *name = json_string_value(json_object_get(cf->doc, "name"));
	if (!name || !*name || strlen(name) > 128)
		fault(&c, "name", "must be a string of 1 to 128 bytes (the channel's name)");
	json_int_t width = 0, height = 0;
	if (!int_member(&c, cf->doc, "width", true, 1, MAX_CANVAS, &width))
		width = 0;
	if (!int_member(&c, cf->doc, "height", true, 1, MAX_CANVAS, &height))
		height = 0;
	json_t *zones = json_object_get(cf->doc, "zones");
	if (!json_is_array(zones) || json_array_size(zones) == 0 || json_array_size(zones) > MAX_ZONES) {
		fault(&c, "zones", "must be a list of 1 to %d zones", MAX_ZONES);
		return -1;
	}
	json_t *zone_names = json_object();
	size_t zi;
	json_t *zone;
	json_array_foreach (zones, zi, zone) {
		snprintf(c.path, sizeof c.path, "zones[%zu]", zi);
		check_zone(&c, zone, zi, width, height, zone_names);
	}
	json_decref(zone_names);
	return json_array_size(cf->errors) ? -1 : 0;
}

int chfile_hash(struct chfile *cf)
{
	unsigned char *buf = malloc(HASH_BLOCK);
	if (!buf) {
		json_array_append_new(cf->errors, json_string("out of memory"));
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < cf->nfiles && rc == 0; i++) {
		struct chfile_file *f = &cf->files[i];
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s: cannot read %s: %s", f->json_path, f->path, strerror(errno));
			json_array_append_new(cf->errors, json_string(msg));
			if (fd >= 0)
				close(fd);
			rc = -1;
			break;
		}
		crypto_hash_sha256_state st;
		crypto_hash_sha256_init(&st);
		uint64_t total = 0;
		for (;;) {
			ssize_t got = read(fd, buf, HASH_BLOCK);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				char msg[600];
				snprintf(msg, sizeof msg, "%s: cannot read %s: %s", f->json_path, f->path,
				         strerror(errno));
				json_array_append_new(cf->errors, json_string(msg));
				rc = -1;
				break;
			}
			if (got == 0)
				break;
			crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
			total += (uint64_t)got;
		}
		close(fd);
		unsigned char digest[crypto_hash_sha256_BYTES];
		crypto_hash_sha256_final(&st, digest);
		codes_hex(digest, sizeof digest, f->sha256);
		f->size = total;
	}
	free(buf);
	return rc;
}

json_t *chfile_server_body(const struct chfile *cf)
{
	json_t *body = json_deep_copy(cf->doc), *zone, *item;
	size_t zi, ii;
	json_array_foreach (json_object_get(body, "zones"), zi, zone) {
		json_array_foreach (json_object_get(zone, "items"), ii, item) {
			const struct chfile_file *f = chfile_find(cf, json_string_value(json_object_get(item, "file")));
			if (!f)
				continue;
			json_object_set_new(item, "media", json_string(f->sha256));
			json_object_del(item, "file");
		}
	}
	return body;
}

void chfile_free(struct chfile *cf)
{
	for (size_t i = 0; i < cf->nfiles; i++) {
		free(cf->files[i].rel);
		free(cf->files[i].path);
		free(cf->files[i].json_path);
	}
	free(cf->files);
	free(cf->media);
	json_decref(cf->doc);
	json_decref(cf->errors);
	memset(cf, 0, sizeof *cf);
}
