/*
 * Content sync of the player (see sync.h). The cache (cache.h) keeps the
 * active manifest and the objects it names: the screen plays them with or
 * without a server, also after a reboot.
 *
 * A sync fetches the manifest (If-None-Match: an unchanged manifest costs a
 * 304), checks every object it names (present, right size, right SHA-256),
 * checks that what is missing fits in the free space of the cache (if not,
 * it starts nothing, deletes partial files, keeps playing what it has and
 * says why in sync_problem()), downloads what is missing or damaged, a few
 * at a time, resuming a partial file with Range and If-Range, verifies each
 * download before moving it into place, and only when every object is
 * present switches to the new manifest (atomic rename) and tells the kiosk
 * page. Objects no manifest needs any more are then deleted. The cache is
 * verified again every hour and whenever the kiosk page server found a
 * damaged object, without asking the server.
 */
#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "common/log.h"
#include "common/strfmt.h"
#include "kiosk.h"
#include "transport.h"

#define DOWNLOAD_SLOTS    3
#define OBJECT_URL_PREFIX "/api/v1/device/objects/"
#define WATCH_PERIOD_MS   2000
#define VERIFY_PERIOD_MS  (3600 * 1000)
#define SPACE_MARGIN      (64 * 1024) /* room kept for state files and the manifest */

struct download {
	struct transport_call call;
	struct sync *s;
	char sha[65];
	FILE *out;
	int64_t have;  /* bytes of the partial file when the request left */
	bool answered; /* the first bytes of the body arrived */
	bool keep;     /* the body is the object's bytes (200/206) */
};

struct sync {
	struct transport *t;
	struct kiosk *kiosk;
	const struct player_config *cfg;
	struct sync_ops ops;
	void *ops_arg;
	char dir[1024];
	char objects_dir[1100];
	json_t *active; /* the manifest being played */
	int64_t active_version;
	bool wanted; /* a sync should run */
	bool running;
	bool verifying;  /* the running sync only checks the active content */
	int64_t next_ms; /* not before (backoff) */
	unsigned failures;
	json_t *pending; /* manifest being completed */
	json_t *queue;   /* objects still to download */
	size_t downloaded_bytes;
	struct transport_call manifest_call;
	struct download dl[DOWNLOAD_SLOTS];
	json_t *acks; /* manifest_changed instruction ids to acknowledge */
	char now_playing[160];
	char problem[256];
	int timer, watch_timer;
	int64_t next_verify_ms;
};

static void update_now_playing(struct sync *s)
{
	json_t *ch = json_object_get(s->active, "channel");
	const char *name = json_string_value(json_object_get(ch, "name"));
	snprintf(s->now_playing, sizeof s->now_playing, "%s", name ? name : "");
}

/* Shows the active manifest on the kiosk page (served from memory: a file
 * damaged on disk later is never what the page gets). */
static void show_active(struct sync *s)
{
	char *text = s->active ? json_dumps(s->active, JSON_COMPACT) : NULL;
	kiosk_set_manifest(s->kiosk, text, s->active_version);
	free(text);
	if (s->ops.manifest_shown)
		s->ops.manifest_shown(s->ops_arg, s->active);
}

static void wake(struct sync *s)
{
	timers_set_sooner(transport_timers(s->t), s->timer, s->next_ms);
}

void sync_request(struct sync *s, const char *instruction_id)
{
	s->wanted = true;
	if (instruction_id)
		json_array_append_new(s->acks, json_string(instruction_id));
	if (!s->running)
		s->next_ms = 0;
	wake(s);
}

void sync_note_version(struct sync *s, int64_t server_version)
{
	if (server_version > s->active_version && !s->running) {
		s->wanted = true;
		wake(s);
	}
}

int64_t sync_active_version(struct sync *s)
{
	return s->active ? s->active_version : 0;
}

const char *sync_now_playing(struct sync *s)
{
	return s->now_playing[0] ? s->now_playing : NULL;
}

const char *sync_problem(struct sync *s)
{
	return s->problem[0] ? s->problem : NULL;
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

static void ack_all(struct sync *s, bool ok, json_t *result)
{
	size_t i;
	json_t *id;
	json_array_foreach (s->acks, i, id)
		s->ops.acknowledge(s->ops_arg, json_string_value(id), ok, json_deep_copy(result));
	json_array_clear(s->acks);
	json_decref(result);
}

static void end_download(struct download *d)
{
	if (d->out)
		fclose(d->out);
	d->out = NULL;
	d->sha[0] = '\0';
}

/* Stops the downloads in flight (their partial files stay for a resume). */
static void stop_downloads(struct sync *s)
{
	for (int i = 0; i < DOWNLOAD_SLOTS; i++) {
		transport_call_free(&s->dl[i].call);
		end_download(&s->dl[i]);
	}
}

static void fail_sync_after(struct sync *s, const char *why, int64_t at_least_ms)
{
	s->running = false;
	s->verifying = false;
	s->wanted = true;
	s->failures++;
	int64_t wait = transport_backoff_ms(s->failures);
	s->next_ms = transport_mono_ms() + (at_least_ms > wait ? at_least_ms : wait);
	log_event(LOG_WARN, "content sync failed; will retry", "reason", why, NULL);
	json_decref(s->pending);
	s->pending = NULL;
	json_decref(s->queue);
	s->queue = NULL;
	wake(s);
}

static void fail_sync(struct sync *s, const char *why)
{
	fail_sync_after(s, why, 0);
}

/* A local cause (the disk): reported in the heartbeat, partial files of
 * the content that cannot be completed deleted. */
static void fail_locally(struct sync *s, const char *problem)
{
	if (strcmp(s->problem, problem) != 0)
		log_event(LOG_WARN, "new content cannot be stored; still playing the current content", "reason",
		          problem, NULL);
	snprintf(s->problem, sizeof s->problem, "%s", problem);
	stop_downloads(s);
	json_t *keep = json_object();
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(s->active, "objects"), i, o)
		json_object_set_new(keep, json_string_value(json_object_get(o, "sha256")), json_true());
	cache_collect(s->objects_dir, keep, NULL);
	json_decref(keep);
	ack_all(s, false, json_pack("{s:s}", "reason", problem));
	fail_sync(s, problem);
}

static void apply(struct sync *s)
{
	char *text = json_dumps(s->pending, JSON_COMPACT);
	if (!text || cache_manifest_save(s->dir, text, strlen(text)) != 0) {
		free(text);
		fail_locally(s, "cannot write manifest.json into the content cache");
		return;
	}
	free(text);
	int64_t version = json_integer_value(json_object_get(s->pending, "version"));
	bool changed = version != s->active_version;
	json_decref(s->active);
	s->active = s->pending;
	s->pending = NULL;
	s->active_version = version;
	s->problem[0] = '\0';
	update_now_playing(s);
	if (!s->verifying) { /* a check of the active content leaves partial files of newer content be */
		json_t *keep = json_object();
		size_t i;
		json_t *o;
		json_array_foreach (json_object_get(s->active, "objects"), i, o)
			json_object_set_new(keep, json_string_value(json_object_get(o, "sha256")), json_true());
		cache_collect(s->objects_dir, keep, NULL);
		json_decref(keep);
	}
	s->verifying = false;
	show_active(s);
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
	wake(s); /* a request that came meanwhile */
}

static void start_downloads(struct sync *s);

static void etag_path(struct sync *s, const char *sha, char *out, size_t outsz)
{
	if (cache_object_path(s->objects_dir, sha, ".etag", out, outsz) != 0)
		out[0] = '\0';
}

/* The body of an object download: written to the partial file when it is
 * the object's bytes (a 200 starts the file again: the server did not
 * resume), dropped when it is an error message. */
static size_t on_object_bytes(struct transport_call *c, const char *data, size_t len)
{
	struct download *d = c->owner;
	if (!d->answered) {
		d->answered = true;
		long status = transport_call_status(c);
		d->keep = status == 200 || status == 206;
		if (status == 200 && d->have > 0 && (fflush(d->out) != 0 || ftruncate(fileno(d->out), 0) != 0)) {
			c->local_errno = errno ? errno : EIO;
			return 0;
		}
		const char *etag = d->keep ? transport_call_header(c, "ETag") : NULL;
		char path[1200];
		etag_path(d->s, d->sha, path, sizeof path);
		if (etag && etag[0] == '"' && strlen(etag) < 200 && path[0]) { /* a strong tag: kept for If-Range */
			FILE *f = fopen(path, "w");
			if (f) {
				fputs(etag, f);
				fclose(f);
			}
		}
	}
	if (!d->keep)
		return len;
	size_t w = fwrite(data, 1, len, d->out);
	if (w != len)
		c->local_errno = errno ? errno : EIO;
	return w;
}

/* Closes the partial file; 0, or the errno of a failed write. */
static int close_part(struct download *d)
{
	int err = 0;
	if (d->out && fclose(d->out) != 0)
		err = errno ? errno : EIO;
	d->out = NULL;
	return err;
}

static void local_write_failed(struct sync *s, int err)
{
	char problem[256];
	snprintf(problem, sizeof problem, "cannot write into the content cache: %s", strerror(err));
	fail_locally(s, problem);
}

static void on_download_answer(struct transport_call *c, long status)
{
	struct download *d = c->owner;
	struct sync *s = d->s;
	char sha[65], part[1200], path[1200], etag[1200], hex[65];
	snprintf(sha, sizeof sha, "%s", d->sha);
	int err = close_part(d);
	end_download(d);
	cache_object_path(s->objects_dir, sha, ".part", part, sizeof part);
	cache_object_path(s->objects_dir, sha, "", path, sizeof path);
	etag_path(s, sha, etag, sizeof etag);
	if (!s->running)
		return;
	if (err) {
		local_write_failed(s, err);
		return;
	}
	if (status == 416) { /* the partial file is no good: start over */
		unlink(part);
		unlink(etag);
		fail_sync(s, "the server refused to resume a download");
		return;
	}
	if (status != 200 && status != 206) {
		transport_note_failure(s->t, "download", status);
		fail_sync(s, "a download failed");
		return;
	}
	int64_t size = 0;
	if (cache_hash_file(part, hex, &size) != 0 || strcmp(hex, sha) != 0) {
		unlink(part);
		unlink(etag);
		fail_sync(s, "a downloaded object did not match its SHA-256");
		return;
	}
	if (rename(part, path) != 0) {
		local_write_failed(s, errno);
		return;
	}
	unlink(etag);
	start_downloads(s);
}

static void on_download_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct download *d = c->owner;
	struct sync *s = d->s;
	int err = close_part(d);
	end_download(d);
	if (!s->running)
		return;
	if (f->local || err)
		local_write_failed(s, c->local_errno ? c->local_errno : err);
	else
		fail_sync_after(s, "a download failed", f->retry_ms);
}

static void on_download_unauthorized(struct transport_call *c)
{
	struct download *d = c->owner;
	close_part(d);
	end_download(d);
	if (d->s->running)
		fail_sync(d->s, "token revoked");
}

static const struct transport_call_ops download_ops = {
    .answered = on_download_answer, .failed = on_download_failed, .unauthorized = on_download_unauthorized};

static int start_download(struct sync *s, struct download *d, json_t *o)
{
	const char *sha = json_string_value(json_object_get(o, "sha256"));
	char part[1200], url[160], range[64], if_range[256], etag[1200], tag[200] = "";
	if (cache_object_path(s->objects_dir, sha, ".part", part, sizeof part) != 0)
		return -1;
	if (strfmt(url, sizeof url, OBJECT_URL_PREFIX "%s", sha) != 0)
		return -1;
	d->have = cache_part_size(s->objects_dir, sha);
	d->out = fopen(part, "ab");
	if (!d->out)
		return -1;
	struct transport_request req = {.what = "download",
	                                .method = "GET",
	                                .path = url,
	                                .timeout_s = 3600,
	                                .with_token = true,
	                                .sink = on_object_bytes,
	                                .low_speed_time_s = 60, /* slow links are fine; a stalled one is not */
	                                .max_recv_speed = s->cfg->download_rate};
	if (d->have > 0) { /* resume where the last attempt stopped, if the object is still the same */
		etag_path(s, sha, etag, sizeof etag);
		FILE *f = etag[0] ? fopen(etag, "r") : NULL;
		if (!f || !fgets(tag, sizeof tag, f) || tag[0] != '"')
			snprintf(tag, sizeof tag, "\"%s\"", sha); /* the server's tag of an object is its name */
		if (f)
			fclose(f);
		tag[strcspn(tag, "\r\n")] = '\0';
		if (strfmt(range, sizeof range, "Range: bytes=%lld-", (long long)d->have) != 0 ||
		    strfmt(if_range, sizeof if_range, "If-Range: %s", tag) != 0) {
			end_download(d);
			return -1;
		}
		req.headers[0] = range;
		req.headers[1] = if_range;
	}
	d->s = s;
	d->answered = d->keep = false;
	snprintf(d->sha, sizeof d->sha, "%s", sha);
	d->call.ops = &download_ops;
	d->call.owner = d;
	if (transport_start(s->t, &d->call, &req) != 0) {
		end_download(d);
		return -1;
	}
	int64_t size = json_integer_value(json_object_get(o, "size"));
	if (size > d->have)
		s->downloaded_bytes += (size_t)(size - d->have);
	return 0;
}

/* Fills idle download slots; applies the manifest when all is present. */
static void start_downloads(struct sync *s)
{
	if (!s->running || !s->queue)
		return;
	for (int i = 0; i < DOWNLOAD_SLOTS; i++) {
		if (s->dl[i].call.busy || json_array_size(s->queue) == 0)
			continue;
		if (start_download(s, &s->dl[i], json_array_get(s->queue, 0)) != 0) {
			fail_sync(s, "cannot start a download");
			return;
		}
		json_array_remove(s->queue, 0);
	}
	bool busy = false;
	for (int i = 0; i < DOWNLOAD_SLOTS; i++)
		busy |= s->dl[i].call.busy;
	if (!busy && json_array_size(s->queue) == 0)
		apply(s);
}

static void human_bytes(int64_t n, char *out, size_t outsz)
{
	if (n >= 10 * 1024 * 1024)
		snprintf(out, outsz, "%lld MiB", (long long)(n / (1024 * 1024)));
	else if (n >= 10 * 1024)
		snprintf(out, outsz, "%lld KiB", (long long)(n / 1024));
	else
		snprintf(out, outsz, "%lld bytes", (long long)n);
}

/* Checks the manifest's objects, queues what is missing or damaged, and
 * checks that it fits. 0, or -1 with the reason in why. */
static int plan(struct sync *s, json_t *manifest, bool collect, char *why, size_t whysz, bool *local)
{
	const char *problem = cache_manifest_problem(manifest);
	*local = false;
	if (problem) {
		snprintf(why, whysz, "%s", problem);
		return -1;
	}
	json_t *objects = json_object_get(manifest, "objects");
	json_t *keep = json_object(), *parts = json_object();
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(s->active, "objects"), i, o)
		json_object_set_new(keep, json_string_value(json_object_get(o, "sha256")), json_true());
	json_array_foreach (objects, i, o) {
		json_object_set_new(keep, json_string_value(json_object_get(o, "sha256")), json_true());
		json_object_set_new(parts, json_string_value(json_object_get(o, "sha256")), json_true());
	}
	/* partial files of content nobody wants any more free their space first
	 * (not when checking the active content: a newer one may be half-way) */
	if (collect)
		cache_collect(s->objects_dir, keep, parts);
	json_decref(keep);
	json_decref(parts);
	json_decref(s->queue);
	s->queue = json_array();
	s->downloaded_bytes = 0;
	int64_t need = 0;
	json_array_foreach (objects, i, o) {
		const char *sha = json_string_value(json_object_get(o, "sha256"));
		int64_t size = json_integer_value(json_object_get(o, "size"));
		if (!cache_object_ok(s->objects_dir, sha, size)) {
			json_array_append(s->queue, o);
			int64_t have = cache_part_size(s->objects_dir, sha);
			need += size > have ? size - have : 0;
		}
	}
	int64_t free_bytes = cache_free_bytes(s->objects_dir);
	if (need > 0 && free_bytes >= 0 && need + SPACE_MARGIN > free_bytes) {
		char n[32], f[32];
		human_bytes(need, n, sizeof n);
		human_bytes(free_bytes, f, sizeof f);
		snprintf(why, whysz, "not enough space in the content cache: the new content needs %s more, %s free", n,
		         f);
		*local = true;
		return -1;
	}
	return 0;
}

static void start_pending(struct sync *s, json_t *m, bool collect)
{
	char why[256];
	bool local;
	if (plan(s, m, collect, why, sizeof why, &local) != 0) {
		json_decref(m);
		if (local)
			fail_locally(s, why);
		else
			fail_sync(s, "the manifest is malformed");
		return;
	}
	json_decref(s->pending);
	s->pending = m;
	start_downloads(s);
}

static void on_manifest_answer(struct transport_call *c, long status)
{
	struct sync *s = c->owner;
	json_t *m = NULL;
	if (status == 304 && s->active) {
		m = json_deep_copy(s->active); /* unchanged: still check the cache */
	} else if (status == 200) {
		m = transport_call_json(c);
	} else if (status == 404) {
		s->running = false; /* no content assigned yet */
		s->problem[0] = '\0';
		ack_all(s, true, json_pack("{s:s}", "note", "no content is assigned to this screen"));
		wake(s);
		return;
	} else {
		transport_note_failure(s->t, "manifest", status);
		fail_sync(s, "the manifest could not be fetched");
		return;
	}
	if (!m) {
		fail_sync(s, "the manifest is malformed");
		return;
	}
	start_pending(s, m, true);
}

static void on_manifest_failed(struct transport_call *c, const struct transport_failure *f)
{
	fail_sync_after(c->owner, "the manifest could not be fetched", f->retry_ms);
}

static void on_manifest_unauthorized(struct transport_call *c)
{
	fail_sync(c->owner, "token revoked");
}

static const struct transport_call_ops manifest_ops = {
    .answered = on_manifest_answer, .failed = on_manifest_failed, .unauthorized = on_manifest_unauthorized};

static int64_t sync_tick(void *arg, int64_t now)
{
	struct sync *s = arg;
	if (!s->wanted || s->running || s->manifest_call.busy || !transport_paired(s->t))
		return TIMER_PARK; /* sync_request() and the answers wake it */
	if (now < s->next_ms)
		return s->next_ms - now;
	s->wanted = false;
	s->running = true;
	char inm[64];
	struct transport_request req = {.what = "manifest",
	                                .method = "GET",
	                                .path = "/api/v1/device/manifest",
	                                .timeout_s = 60,
	                                .with_token = true};
	if (s->active) {
		if (strfmt(inm, sizeof inm, "If-None-Match: \"m%lld\"", (long long)s->active_version) == 0)
			req.headers[0] = inm;
	}
	if (transport_start(s->t, &s->manifest_call, &req) != 0)
		fail_sync(s, "cannot start the manifest request");
	return TIMER_PARK;
}

/* Checks the cache against the active manifest without asking the server;
 * fetches what is missing or damaged. While a sync runs, one more is asked
 * for after it (the damage may be in what it already checked). */
static void verify_cache(struct sync *s)
{
	if (!transport_paired(s->t))
		return; /* pairing asks for a sync, which checks everything */
	if (s->running || !s->active) {
		s->wanted = true;
		wake(s);
		return;
	}
	s->running = true;
	s->verifying = true;
	start_pending(s, json_deep_copy(s->active), false);
}

static int64_t watch_tick(void *arg, int64_t now)
{
	struct sync *s = arg;
	bool damaged = kiosk_take_damaged(s->kiosk);
	if (damaged || now >= s->next_verify_ms) {
		s->next_verify_ms = now + VERIFY_PERIOD_MS;
		verify_cache(s);
	}
	return WATCH_PERIOD_MS;
}

struct sync *sync_create(struct transport *t, struct kiosk *k, const struct player_config *cfg, const char *data_dir,
                         const struct sync_ops *ops, void *ops_arg)
{
	struct sync *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->t = t;
	s->kiosk = k;
	s->cfg = cfg;
	s->ops = *ops;
	s->ops_arg = ops_arg;
	s->acks = json_array();
	s->manifest_call.ops = &manifest_ops;
	s->manifest_call.owner = s;
	if (!s->acks || strfmt(s->dir, sizeof s->dir, "%s", data_dir) != 0 ||
	    strfmt(s->objects_dir, sizeof s->objects_dir, "%s/objects", data_dir) != 0) {
		json_decref(s->acks);
		free(s);
		return NULL;
	}
	if (mkdir(s->objects_dir, 0700) != 0 && errno != EEXIST)
		log_event(LOG_ERROR, "cannot create the object cache", "dir", s->objects_dir, NULL);
	s->active = cache_manifest_load(s->dir);
	if (s->active) {
		s->active_version = json_integer_value(json_object_get(s->active, "version"));
		update_now_playing(s);
	}
	kiosk_set_objects_dir(k, s->objects_dir);
	show_active(s);
	s->wanted = true; /* check at start: the server may have news, the cache may be damaged */
	int64_t now = transport_mono_ms();
	s->next_verify_ms = now + VERIFY_PERIOD_MS;
	s->timer = timers_add(transport_timers(t), now, sync_tick, s);
	s->watch_timer = timers_add(transport_timers(t), now + WATCH_PERIOD_MS, watch_tick, s);
	if (s->timer < 0 || s->watch_timer < 0) {
		sync_destroy(s);
		return NULL;
	}
	return s;
}

void sync_destroy(struct sync *s)
{
	if (!s)
		return;
	timers_del(transport_timers(s->t), s->timer);
	timers_del(transport_timers(s->t), s->watch_timer);
	transport_call_free(&s->manifest_call);
	stop_downloads(s);
	json_decref(s->active);
	json_decref(s->pending);
	json_decref(s->queue);
	json_decref(s->acks);
	free(s);
}
