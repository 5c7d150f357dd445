/*
 * Content sync of the player. The data folder keeps the active manifest
 * (manifest.json) and the objects it names (objects/<sha256>): the screen
 * plays them with or without a server, also after a reboot.
 *
 * A sync fetches the manifest (If-None-Match: an unchanged manifest costs a
 * 304), checks every object it names (present, right size, right SHA-256),
 * downloads what is missing or damaged, a few at a time, resuming a partial
 * file with an HTTP Range request, verifies each download before moving it
 * into place, and only when every object is present switches to the new
 * manifest (atomic rename) and tells the kiosk page. Objects no manifest
 * needs any more are then deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_internal.h"
#include "common/log.h"
#include "kiosk.h"
#include "state.h"

#define DOWNLOAD_SLOTS    3
#define OBJECT_URL_PREFIX "/api/v1/device/objects/"

struct sync {
	struct agent *a;
	char objects_dir[1100];
	char manifest_path[1100];
	json_t *active; /* the manifest being played */
	int64_t active_version;
	bool wanted; /* a sync should run */
	bool running;
	int64_t next_ms; /* not before (backoff) */
	unsigned failures;
	json_t *pending; /* manifest being completed */
	json_t *queue;   /* objects still to download */
	size_t queued_bytes, downloaded_bytes;
	struct call manifest_call;
	struct call dl[DOWNLOAD_SLOTS];
	char dl_sha[DOWNLOAD_SLOTS][65];
	json_t *acks; /* manifest_changed instruction ids to acknowledge */
	char now_playing[160];
};

static bool is_sha256(const char *s)
{
	return codes_is_sha256(s);
}

/* SHA-256 of a file as hex; -1 if unreadable. */
static int hash_file(const char *path, char out[65], int64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[65536];
	ssize_t n;
	int64_t total = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		crypto_hash_sha256_update(&st, buf, (size_t)n);
		total += n;
	}
	close(fd);
	if (n < 0)
		return -1;
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, digest);
	codes_hex(digest, sizeof digest, out);
	*size = total;
	return 0;
}

static void object_path(struct sync *s, const char *sha, const char *suffix, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s%s", s->objects_dir, sha, suffix);
}

/* Is the cached object present and intact? */
static bool object_ok(struct sync *s, const char *sha, int64_t size)
{
	char path[1200], hex[65];
	int64_t got;
	object_path(s, sha, "", path, sizeof path);
	struct stat sb;
	if (stat(path, &sb) != 0 || sb.st_size != size)
		return false;
	if (hash_file(path, hex, &got) != 0 || strcmp(hex, sha) != 0) {
		log_event(LOG_WARN, "cached object damaged; fetching it again", "sha256", sha, NULL);
		unlink(path);
		return false;
	}
	return true;
}

static void update_now_playing(struct sync *s)
{
	json_t *ch = json_object_get(s->active, "channel");
	const char *name = json_string_value(json_object_get(ch, "name"));
	snprintf(s->now_playing, sizeof s->now_playing, "%s", name ? name : "");
}

struct sync *sync_create(struct agent *a)
{
	struct sync *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->a = a;
	s->acks = json_array();
	snprintf(s->objects_dir, sizeof s->objects_dir, "%s/objects", a->st->dir);
	snprintf(s->manifest_path, sizeof s->manifest_path, "%s/manifest.json", a->st->dir);
	if (mkdir(s->objects_dir, 0700) != 0 && errno != EEXIST)
		log_event(LOG_ERROR, "cannot create the object cache", "dir", s->objects_dir, NULL);
	json_error_t e;
	s->active = json_load_file(s->manifest_path, 0, &e);
	if (s->active) {
		s->active_version = json_integer_value(json_object_get(s->active, "version"));
		update_now_playing(s);
	}
	kiosk_set_content(a->kiosk, s->manifest_path, s->objects_dir);
	kiosk_set_manifest_version(a->kiosk, s->active_version);
	s->wanted = true; /* check at start: the server may have news, the cache may be damaged */
	return s;
}

void sync_destroy(struct sync *s)
{
	if (!s)
		return;
	free_call(s->a, &s->manifest_call);
	for (int i = 0; i < DOWNLOAD_SLOTS; i++) {
		if (s->dl[i].out)
			fclose(s->dl[i].out);
		s->dl[i].out = NULL;
		free_call(s->a, &s->dl[i]);
	}
	json_decref(s->active);
	json_decref(s->pending);
	json_decref(s->queue);
	json_decref(s->acks);
	free(s);
}

void sync_request(struct sync *s, const char *instruction_id)
{
	s->wanted = true;
	if (instruction_id)
		json_array_append_new(s->acks, json_string(instruction_id));
	if (!s->running)
		s->next_ms = 0;
}

void sync_note_version(struct sync *s, int64_t server_version)
{
	if (server_version > s->active_version && !s->running)
		s->wanted = true;
}

const char *sync_now_playing(struct sync *s)
{
	return s->now_playing[0] ? s->now_playing : NULL;
}

int64_t sync_cache_bytes(struct sync *s)
{
	int64_t total = 0;
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(s->active, "objects"), i, o)
		total += json_integer_value(json_object_get(o, "size"));
	return total;
}

int64_t sync_next_due(struct sync *s)
{
	return s->wanted && !s->running ? s->next_ms : INT64_MAX;
}

static void ack_all(struct sync *s, bool ok, json_t *result)
{
	size_t i;
	json_t *id;
	json_array_foreach (s->acks, i, id)
		queue_ack(s->a, json_string_value(id), ok, json_deep_copy(result), NULL);
	json_array_clear(s->acks);
	json_decref(result);
	state_save(s->a->st);
}

static void fail_sync(struct sync *s, const char *why)
{
	s->running = false;
	s->wanted = true;
	s->failures++;
	s->next_ms = mono_ms() + backoff_ms(s->failures);
	log_event(LOG_WARN, "content sync failed; will retry", "reason", why, NULL);
	json_decref(s->pending);
	s->pending = NULL;
	json_decref(s->queue);
	s->queue = NULL;
}

/* Deletes objects and partial files the active manifest does not need. */
static void collect_garbage(struct sync *s)
{
	DIR *d = opendir(s->objects_dir);
	if (!d)
		return;
	json_t *keep = json_object();
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(s->active, "objects"), i, o)
		json_object_set_new(keep, json_string_value(json_object_get(o, "sha256")), json_true());
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sha[65];
		snprintf(sha, sizeof sha, "%.64s", e->d_name);
		if (json_object_get(keep, sha) && strcmp(e->d_name, sha) == 0)
			continue;
		char path[1400];
		snprintf(path, sizeof path, "%s/%s", s->objects_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	json_decref(keep);
}

static void apply(struct sync *s)
{
	char *text = json_dumps(s->pending, JSON_COMPACT);
	if (!text || state_write_file(s->a->st->dir, "manifest.json", text, strlen(text), 0600) != 0) {
		free(text);
		fail_sync(s, "cannot write manifest.json");
		return;
	}
	free(text);
	int64_t version = json_integer_value(json_object_get(s->pending, "version"));
	bool changed = version != s->active_version;
	json_decref(s->active);
	s->active = s->pending;
	s->pending = NULL;
	s->active_version = version;
	update_now_playing(s);
	collect_garbage(s);
	kiosk_set_manifest_version(s->a->kiosk, version);
	if (changed) {
		char v[24], b[24];
		snprintf(v, sizeof v, "%lld", (long long)version);
		snprintf(b, sizeof b, "%zu", s->downloaded_bytes);
		log_event(LOG_INFO, "new content active", "manifest_version", v, "downloaded_bytes", b, NULL);
	}
	ack_all(s, true,
	        json_pack("{s:I, s:I, s:I}", "version", (json_int_t)version, "objects",
	                  (json_int_t)json_array_size(json_object_get(s->active, "objects")), "downloaded_bytes",
	                  (json_int_t)s->downloaded_bytes));
	json_decref(s->queue);
	s->queue = NULL;
	s->running = false;
	s->failures = 0;
}

static void start_downloads(struct sync *s);

static void on_download(struct agent *a, struct call *c, CURLcode rc, long status)
{
	(void)a;
	struct sync *s = c->owner;
	int slot = (int)(c - s->dl);
	char sha[65];
	snprintf(sha, sizeof sha, "%s", s->dl_sha[slot]);
	s->dl_sha[slot][0] = '\0';
	if (c->out) {
		fclose(c->out);
		c->out = NULL;
	}
	char part[1200], path[1200], hex[65];
	object_path(s, sha, ".part", part, sizeof part);
	object_path(s, sha, "", path, sizeof path);
	if (status == 401) {
		forget_token(s->a);
		fail_sync(s, "token revoked");
		return;
	}
	if (rc == CURLE_RANGE_ERROR || status == 416) { /* the partial file is no good: start over */
		unlink(part);
		fail_sync(s, "the server refused to resume a download");
		return;
	}
	if (rc != CURLE_OK || (status != 200 && status != 206)) {
		note_error(s->a, "download", rc, status);
		fail_sync(s, "a download failed");
		return;
	}
	int64_t size = 0;
	if (hash_file(part, hex, &size) != 0 || strcmp(hex, sha) != 0) {
		unlink(part);
		fail_sync(s, "a downloaded object did not match its SHA-256");
		return;
	}
	if (rename(part, path) != 0) {
		fail_sync(s, "cannot move a download into the cache");
		return;
	}
	start_downloads(s);
}

/* Fills idle download slots; applies the manifest when all is present. */
static void start_downloads(struct sync *s)
{
	if (!s->running || !s->queue)
		return;
	for (int i = 0; i < DOWNLOAD_SLOTS; i++) {
		if (s->dl[i].busy || json_array_size(s->queue) == 0)
			continue;
		json_t *o = json_array_get(s->queue, 0);
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		char part[1200], url[160];
		object_path(s, sha, ".part", part, sizeof part);
		snprintf(url, sizeof url, OBJECT_URL_PREFIX "%s", sha);
		struct stat sb;
		curl_off_t have = stat(part, &sb) == 0 ? (curl_off_t)sb.st_size : 0;
		FILE *out = fopen(part, "ab");
		if (!out) {
			fail_sync(s, "cannot write into the object cache");
			return;
		}
		if (call_start(s->a, &s->dl[i], "GET", url, NULL, 0, NULL, 3600, true, on_download) != 0) {
			fclose(out);
			fail_sync(s, "cannot start a download");
			return;
		}
		s->dl[i].out = out;
		s->dl[i].owner = s;
		snprintf(s->dl_sha[i], sizeof s->dl_sha[i], "%s", sha);
		if (have > 0) /* resume where the last attempt stopped */
			curl_easy_setopt(s->dl[i].easy, CURLOPT_RESUME_FROM_LARGE, have);
		/* slow links are fine; a stalled one is not */
		curl_easy_setopt(s->dl[i].easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(s->dl[i].easy, CURLOPT_LOW_SPEED_TIME, 60L);
		if (s->a->cfg->download_rate)
			curl_easy_setopt(s->dl[i].easy, CURLOPT_MAX_RECV_SPEED_LARGE,
			                 (curl_off_t)s->a->cfg->download_rate);
		s->downloaded_bytes += (size_t)(json_integer_value(json_object_get(o, "size")) - have);
		json_array_remove(s->queue, 0);
	}
	bool busy = false;
	for (int i = 0; i < DOWNLOAD_SLOTS; i++)
		busy |= s->dl[i].busy;
	if (!busy && json_array_size(s->queue) == 0)
		apply(s);
}

/* Checks the manifest's objects; queues what is missing or damaged. */
static bool plan(struct sync *s, json_t *manifest)
{
	json_t *objects = json_object_get(manifest, "objects");
	if (!json_is_array(objects) || !json_is_integer(json_object_get(manifest, "version")))
		return false;
	json_decref(s->queue);
	s->queue = json_array();
	s->downloaded_bytes = 0;
	size_t i;
	json_t *o;
	json_array_foreach (objects, i, o) {
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		json_t *size = json_object_get(o, "size");
		if (!is_sha256(sha) || !json_is_integer(size) || json_integer_value(size) < 0)
			return false;
		if (!object_ok(s, sha, json_integer_value(size)))
			json_array_append(s->queue, o);
	}
	return true;
}

static void on_manifest(struct agent *a, struct call *c, CURLcode rc, long status)
{
	(void)a;
	struct sync *s = c->owner;
	if (status == 401) {
		forget_token(s->a);
		fail_sync(s, "token revoked");
		return;
	}
	json_t *m = NULL;
	if (rc == CURLE_OK && status == 304 && s->active) {
		m = json_deep_copy(s->active); /* unchanged: still check the cache */
	} else if (rc == CURLE_OK && status == 200) {
		m = resp_json(c);
	} else if (rc == CURLE_OK && status == 404) {
		s->running = false; /* no content assigned yet */
		ack_all(s, true, json_pack("{s:s}", "note", "no content is assigned to this screen"));
		return;
	} else {
		note_error(s->a, "manifest", rc, status);
		fail_sync(s, "the manifest could not be fetched");
		return;
	}
	if (!m || !plan(s, m)) {
		json_decref(m);
		fail_sync(s, "the manifest is malformed");
		return;
	}
	s->pending = m;
	start_downloads(s);
}

void sync_schedule(struct sync *s)
{
	if (!s->wanted || s->running || mono_ms() < s->next_ms || s->a->phase != PAIRED || s->manifest_call.busy)
		return;
	s->wanted = false;
	s->running = true;
	if (call_start(s->a, &s->manifest_call, "GET", "/api/v1/device/manifest", NULL, 0, NULL, 60, true,
	               on_manifest) != 0) {
		fail_sync(s, "cannot start the manifest request");
		return;
	}
	s->manifest_call.owner = s;
	if (s->active) {
		char inm[64];
		snprintf(inm, sizeof inm, "If-None-Match: \"m%lld\"", (long long)s->active_version);
		s->manifest_call.headers = curl_slist_append(s->manifest_call.headers, inm);
		curl_easy_setopt(s->manifest_call.easy, CURLOPT_HTTPHEADER, s->manifest_call.headers);
	}
}
