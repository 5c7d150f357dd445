/* The kiosk page server; see kiosk.h. Thread-per-connection: the page and
 * its one event stream are the only clients, so a blocking SSE reader that
 * waits on a condition variable is the simplest correct design. */
#include "kiosk.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "common/buf.h"
#include "common/codes.h"
#include "common/log.h"
#include "common/range.h"
#include "common/strfmt.h"
#include "group/group.h"
#include "share/receiver.h"

#include "kiosk_assets.h"

#define KEEPALIVE_S 15

/* An object file found intact, known by its identity on disk: served again
 * without hashing until the file changes. */
struct verified {
	char sha[65];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

#define VERIFIED_MAX 64

struct kiosk {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stopping;
	uint64_t version;
	char code[16], uri[512], status[32], detail[256];
	int64_t identify_until_ms;
	char *qr_svg;
	char objects_dir[1200];
	char *manifest_text; /* the active manifest, as the page gets it */
	json_t *manifest;    /* the same, parsed (object types) */
	int64_t manifest_version;
	struct verified verified[VERIFIED_MAX];
	unsigned verified_next;
	bool damaged;
	int64_t clock_offset_ms; /* server clock minus ours, from heartbeats */
	uint16_t port;
	json_t *plays;                /* posted by the page, taken by the agent */
	struct group *group;          /* the sync group (its clock), or NULL */
	struct share_receiver *share; /* the share receiver, or NULL */
	json_t *transitions;          /* the synced transitions the page reported, newest last */
	/* the remote-control consent prompt, and the answer not yet taken */
	char consent_sid[130], consent_guest[130];
	int64_t consent_until_ms; /* wall clock; 0: no prompt */
	char answer_sid[130];     /* "" when none waits */
	bool answer_accepted;
};

#define MAX_PLAYS_KEPT  20000
#define MAX_TRANSITIONS 512
#define MAX_PLAYED_BODY (256 * 1024)

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SVG of a QR code of text (caller frees), or NULL. */
static char *qr_svg(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q)
		return NULL;
	int w = q->width, margin = 4, size = w + 2 * margin;
	struct buf svg;
	buf_init(&svg, (size_t)w * (size_t)w * 24 + 512);
	int rc = buf_printf(&svg,
	                    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	                    "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
	                    "<path fill=\"#000\" d=\"",
	                    size, size, size, size);
	for (int y = 0; y < w && rc == BUF_OK; y++)
		for (int x = 0; x < w && rc == BUF_OK; x++)
			if (q->data[y * w + x] & 1)
				rc = buf_printf(&svg, "M%d %dh1v1h-1z", x + margin, y + margin);
	if (rc == BUF_OK)
		rc = buf_addstr(&svg, "\"/></svg>");
	QRcode_free(q);
	if (rc != BUF_OK) {
		buf_free(&svg);
		return NULL;
	}
	return buf_take(&svg, NULL);
}

static void bump(struct kiosk *k)
{
	k->version++;
	pthread_cond_broadcast(&k->changed);
}

void kiosk_set_pairing(struct kiosk *k, const char *code, const char *uri)
{
	if (!k)
		return;
	char *svg = code && uri ? qr_svg(uri) : NULL;
	pthread_mutex_lock(&k->lock);
	snprintf(k->code, sizeof k->code, "%s", code ? code : "");
	snprintf(k->uri, sizeof k->uri, "%s", uri ? uri : "");
	free(k->qr_svg);
	k->qr_svg = svg;
	bump(k);
	pthread_mutex_unlock(&k->lock);
}

void kiosk_set_status(struct kiosk *k, const char *status, const char *detail)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	if (strcmp(k->status, status) != 0 || strcmp(k->detail, detail ? detail : "") != 0) {
		snprintf(k->status, sizeof k->status, "%s", status);
		snprintf(k->detail, sizeof k->detail, "%s", detail ? detail : "");
		bump(k);
	}
	pthread_mutex_unlock(&k->lock);
}

void kiosk_identify(struct kiosk *k, unsigned seconds)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->identify_until_ms = wall_ms() + (int64_t)seconds * 1000;
	bump(k);
	pthread_mutex_unlock(&k->lock);
}

void kiosk_set_objects_dir(struct kiosk *k, const char *objects_dir)
{
	pthread_mutex_lock(&k->lock);
	if (strfmt(k->objects_dir, sizeof k->objects_dir, "%s", objects_dir) != 0)
		k->objects_dir[0] = '\0'; /* serves nothing rather than another folder */
	pthread_mutex_unlock(&k->lock);
}

bool kiosk_take_damaged(struct kiosk *k)
{
	pthread_mutex_lock(&k->lock);
	bool damaged = k->damaged;
	k->damaged = false;
	pthread_mutex_unlock(&k->lock);
	return damaged;
}

void kiosk_set_manifest(struct kiosk *k, const char *text, int64_t version)
{
	if (!k)
		return;
	json_error_t e;
	json_t *parsed = text ? json_loads(text, 0, &e) : NULL;
	/* the page plays in step on the group clock (/clock); the group's key
	 * stays with the player */
	json_object_del(json_object_get(parsed, "sync"), "key");
	char *copy = parsed ? json_dumps(parsed, JSON_COMPACT) : text ? strdup(text) : NULL;
	pthread_mutex_lock(&k->lock);
	free(k->manifest_text);
	json_decref(k->manifest);
	k->manifest_text = copy;
	k->manifest = parsed;
	if (k->manifest_version != version) {
		k->manifest_version = version;
		bump(k);
	}
	pthread_mutex_unlock(&k->lock);
}

void kiosk_set_clock_offset(struct kiosk *k, int64_t offset_ms)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->clock_offset_ms = offset_ms;
	pthread_mutex_unlock(&k->lock);
}

json_t *kiosk_take_plays(struct kiosk *k)
{
	pthread_mutex_lock(&k->lock);
	json_t *out = k->plays;
	k->plays = json_array();
	pthread_mutex_unlock(&k->lock);
	return out;
}

void kiosk_ask_consent(struct kiosk *k, const char *session_id, const char *guest, unsigned timeout_s)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	snprintf(k->consent_sid, sizeof k->consent_sid, "%s", session_id);
	snprintf(k->consent_guest, sizeof k->consent_guest, "%s", guest);
	k->consent_until_ms = wall_ms() + (int64_t)timeout_s * 1000;
	bump(k);
	pthread_mutex_unlock(&k->lock);
}

bool kiosk_take_consent(struct kiosk *k, char *session_id, size_t sidsz, bool *accepted)
{
	pthread_mutex_lock(&k->lock);
	bool have = k->answer_sid[0] != '\0';
	if (have) {
		snprintf(session_id, sidsz, "%s", k->answer_sid);
		*accepted = k->answer_accepted;
		k->answer_sid[0] = '\0';
	}
	pthread_mutex_unlock(&k->lock);
	return have;
}

bool kiosk_consent_pending(struct kiosk *k)
{
	pthread_mutex_lock(&k->lock);
	if (k->consent_until_ms && wall_ms() > k->consent_until_ms) { /* the countdown ended unanswered */
		k->consent_until_ms = 0;
		k->consent_sid[0] = '\0';
		bump(k);
	}
	bool pending = k->consent_until_ms != 0 || k->answer_sid[0] != '\0';
	pthread_mutex_unlock(&k->lock);
	return pending;
}

/* Called with the lock held. */
static char *state_json(struct kiosk *k)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}", "version", (json_int_t)k->version, "status", k->status,
	                      "detail", k->detail, "identify_until", (json_int_t)k->identify_until_ms, "now",
	                      (json_int_t)(wall_ms() + k->clock_offset_ms), "manifest_version",
	                      (json_int_t)k->manifest_version);
	if (j && k->share)
		json_object_set_new(j, "share", json_true());
	if (j && k->code[0])
		json_object_set_new(j, "pairing", json_pack("{s:s, s:s}", "code", k->code, "uri", k->uri));
	if (j && k->consent_until_ms && k->consent_until_ms > wall_ms())
		json_object_set_new(j, "consent",
		                    json_pack("{s:s, s:s, s:I}", "session_id", k->consent_sid, "guest",
		                              k->consent_guest, "until",
		                              (json_int_t)(k->consent_until_ms + k->clock_offset_ms)));
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

struct stream {
	struct kiosk *k;
	uint64_t sent_version;
	char *pending;
	size_t len, off;
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct stream *s = cls;
	struct kiosk *k = s->k;
	if (s->off == s->len) {
		free(s->pending);
		s->pending = NULL;
		s->off = s->len = 0;
		pthread_mutex_lock(&k->lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += KEEPALIVE_S;
		while (!k->stopping && k->version == s->sent_version)
			if (pthread_cond_timedwait(&k->changed, &k->lock, &until) != 0)
				break;
		if (k->stopping) {
			pthread_mutex_unlock(&k->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (k->version != s->sent_version) {
			char *state = state_json(k);
			s->sent_version = k->version;
			pthread_mutex_unlock(&k->lock);
			if (!state)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			size_t need = strlen(state) + 32;
			s->pending = malloc(need);
			if (s->pending)
				s->len = (size_t)snprintf(s->pending, need, "event: state\ndata: %s\n\n", state);
			free(state);
			if (!s->pending)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		} else {
			pthread_mutex_unlock(&k->lock);
			s->pending = strdup(": keep-alive\n\n");
			if (!s->pending)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->len = strlen(s->pending);
		}
	}
	size_t n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->pending + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	free(s->pending);
	free(s);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const void *data, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'self'; img-src 'self' data: blob: https: http:; media-src 'self' blob: "
	                        "https: http:; frame-src 'self' https: http:; connect-src 'self'");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (dot && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	return "application/octet-stream";
}

struct body {
	struct buf data; /* at most MAX_PLAYED_BODY */
	bool too_big;
};

static void free_body(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	if (*ctx && *ctx != (void *)1) {
		struct body *b = *ctx;
		buf_free(&b->data);
		free(b);
	}
	*ctx = NULL;
}

static enum MHD_Result error_reply(struct MHD_Connection *c, unsigned status, const char *code, const char *msg)
{
	char *text = NULL;
	json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	return reply(c, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

/* The type the manifest gives the object (application/octet-stream if none). */
static void object_mime(struct kiosk *k, const char *sha, char *out, size_t outsz)
{
	snprintf(out, outsz, "application/octet-stream");
	pthread_mutex_lock(&k->lock);
	size_t i;
	json_t *o;
	json_array_foreach (json_object_get(k->manifest, "objects"), i, o) {
		const char *mime = json_string_value(json_object_get(o, "mime"));
		const char *name = json_string_value(json_object_get(o, "sha256"));
		if (mime && name && strcmp(name, sha) == 0 &&
		    strspn(mime, "abcdefghijklmnopqrstuvwxyz0123456789/.+-") == strlen(mime))
			snprintf(out, outsz, "%s", mime);
	}
	pthread_mutex_unlock(&k->lock);
}

static bool same_file(const struct verified *v, const char *sha, const struct stat *sb)
{
	return strcmp(v->sha, sha) == 0 && v->dev == sb->st_dev && v->ino == sb->st_ino && v->size == sb->st_size &&
	       v->mtime.tv_sec == sb->st_mtim.tv_sec && v->mtime.tv_nsec == sb->st_mtim.tv_nsec;
}

/* Is the open object file intact? Hashed once per version of the file. */
static bool object_intact(struct kiosk *k, const char *sha, int fd, const struct stat *sb)
{
	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; i < VERIFIED_MAX; i++)
		if (same_file(&k->verified[i], sha, sb)) {
			pthread_mutex_unlock(&k->lock);
			return true;
		}
	pthread_mutex_unlock(&k->lock);
	char hex[65];
	int64_t size;
	if (cache_hash_fd(fd, hex, &size) != 0 || strcmp(hex, sha) != 0)
		return false;
	pthread_mutex_lock(&k->lock);
	struct verified *v = &k->verified[k->verified_next++ % VERIFIED_MAX];
	snprintf(v->sha, sizeof v->sha, "%s", sha);
	v->dev = sb->st_dev;
	v->ino = sb->st_ino;
	v->size = sb->st_size;
	v->mtime = sb->st_mtim;
	pthread_mutex_unlock(&k->lock);
	return true;
}

static enum MHD_Result serve_object(struct kiosk *k, struct MHD_Connection *c, const char *sha)
{
	if (!codes_is_sha256(sha))
		return error_reply(c, 404, "not_found", "no such object");
	char path[1400];
	pthread_mutex_lock(&k->lock);
	int cut = strfmt(path, sizeof path, "%s/%s", k->objects_dir, sha);
	pthread_mutex_unlock(&k->lock);
	if (cut)
		return error_reply(c, 404, "not_found", "this object is not in the cache");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return error_reply(c, 404, "not_found", "this object is not in the cache");
	}
	if (!object_intact(k, sha, fd, &sb)) {
		close(fd);
		log_event(LOG_WARN, "cached object damaged; fetching it again", "sha256", sha, NULL);
		unlink(path);
		pthread_mutex_lock(&k->lock);
		k->damaged = true;
		pthread_mutex_unlock(&k->lock);
		return error_reply(c, 404, "not_found", "this object was damaged in the cache; it is fetched again");
	}
	uint64_t size = (uint64_t)sb.st_size, from = 0, to = size ? size - 1 : 0;
	int rr = range_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"), size, &from, &to);
	if (rr < 0 || size == 0) {
		close(fd);
		return rr < 0 ? error_reply(c, 416, "range_not_satisfiable", "the range is past the end")
		              : reply(c, 200, "application/octet-stream", "", 0, MHD_RESPMEM_PERSISTENT);
	}
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(to - from + 1, fd, from);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	char etag[72], cr[96], mime[80];
	object_mime(k, sha, mime, sizeof mime);
	snprintf(etag, sizeof etag, "\"%s\"", sha);
	MHD_add_response_header(r, "Content-Type", mime);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* uploaded HTML runs in a sandbox, never with the kiosk page's origin */
	MHD_add_response_header(r, "Content-Security-Policy", "sandbox allow-scripts");
	MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "Accept-Ranges", "bytes");
	MHD_add_response_header(r, "Cache-Control", "private, max-age=31536000, immutable");
	if (rr == 1) {
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)to,
		         (unsigned long long)size);
		MHD_add_response_header(r, "Content-Range", cr);
	}
	enum MHD_Result ret = MHD_queue_response(c, rr == 1 ? 206 : 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result take_played(struct kiosk *k, struct MHD_Connection *c, struct body *b)
{
	json_error_t e;
	json_t *j = b->too_big ? NULL : json_loadb(buf_str(&b->data), buf_len(&b->data), 0, &e);
	json_t *plays = json_object_get(j, "plays");
	if (!json_is_array(plays)) {
		json_decref(j);
		return error_reply(c, 400, "invalid_json", "expected {\"plays\":[...]} of at most 256 KiB");
	}
	pthread_mutex_lock(&k->lock);
	size_t i;
	json_t *p;
	json_array_foreach (plays, i, p)
		if (json_is_object(p) && json_array_size(k->plays) < MAX_PLAYS_KEPT)
			json_array_append(k->plays, p);
	pthread_mutex_unlock(&k->lock);
	json_decref(j);
	static const char ok[] = "{\"ok\":true}";
	return reply(c, 200, "application/json", ok, sizeof ok - 1, MHD_RESPMEM_PERSISTENT);
}

/* The synced transitions the page reports: {"transitions":[{...}]}, the
 * newest MAX_TRANSITIONS kept (GET /transitions shows them: what a
 * technician or a test compares between the screens of a group). */
static enum MHD_Result take_transitions(struct kiosk *k, struct MHD_Connection *c, struct body *b)
{
	json_error_t e;
	json_t *j = b->too_big ? NULL : json_loadb(buf_str(&b->data), buf_len(&b->data), 0, &e);
	json_t *list = json_object_get(j, "transitions");
	if (!json_is_array(list)) {
		json_decref(j);
		return error_reply(c, 400, "invalid_json", "expected {\"transitions\":[...]}");
	}
	pthread_mutex_lock(&k->lock);
	size_t i;
	json_t *t;
	json_array_foreach (list, i, t)
		if (json_is_object(t))
			json_array_append(k->transitions, t);
	while (json_array_size(k->transitions) > MAX_TRANSITIONS)
		json_array_remove(k->transitions, 0);
	pthread_mutex_unlock(&k->lock);
	json_decref(j);
	static const char ok[] = "{\"ok\":true}";
	return reply(c, 200, "application/json", ok, sizeof ok - 1, MHD_RESPMEM_PERSISTENT);
}

/* The group clock for the page: {"group", "state", "member", "leader",
 * "now_ms", "epoch_ms", ...}; {"group": null} when in none. The page
 * measures its own offset to now_ms (the request's round trip is its
 * error bound). */
static char *clock_json(struct kiosk *k)
{
	struct group_view v = {0};
	pthread_mutex_lock(&k->lock); /* kiosk_set_group(NULL) waits for this reading */
	if (k->group)
		group_read(k->group, &v);
	pthread_mutex_unlock(&k->lock);
	if (!v.configured)
		return strdup("{\"group\":null}");
	json_t *j = json_pack("{s:s, s:s, s:i, s:o, s:f, s:f, s:I, s:f, s:f, s:i, s:i}", "group", v.group_id, "state",
	                      group_role_name(v.role), "member", (int)v.member, "leader",
	                      v.leader ? json_integer(v.leader) : json_null(), "now_ms", (double)v.group_ns / 1e6,
	                      "steady_ms", (double)v.local_ns / 1e6, "epoch_ms", (json_int_t)v.epoch_ms, "offset_ms",
	                      v.error_ms, "delay_ms", v.delay_ms, "peers", (int)v.peers, "steps", (int)v.steps);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(j);
	return text;
}

/* The operator's stop and promote of a sender: {"slot": N} (promote: -1
 * shows every sender again). */
static enum MHD_Result take_share_action(struct kiosk *k, struct MHD_Connection *c, struct body *b, bool stop)
{
	json_error_t e;
	json_t *j = b->too_big ? NULL : json_loadb(buf_str(&b->data), buf_len(&b->data), 0, &e);
	json_t *slot = json_object_get(j, "slot");
	bool valid = json_is_integer(slot) && json_integer_value(slot) >= (stop ? 0 : -1) &&
	             json_integer_value(slot) < SHARE_MAX_SENDERS;
	int n = valid ? (int)json_integer_value(slot) : 0;
	json_decref(j);
	if (!valid)
		return error_reply(c, 400, "invalid_json",
		                   stop ? "expected {\"slot\": 0-3}" : "expected {\"slot\": 0-3, or -1 for all}");
	pthread_mutex_lock(&k->lock);
	int rc = !k->share ? -2 : stop ? share_receiver_stop_sender(k->share, n) : share_receiver_promote(k->share, n);
	pthread_mutex_unlock(&k->lock);
	if (rc == -2)
		return error_reply(c, 404, "not_sharing", "this player runs without --share");
	if (rc != 0)
		return error_reply(c, 404, "no_sender", "no sender shares in this slot");
	static const char ok[] = "{\"ok\":true}";
	return reply(c, 200, "application/json", ok, sizeof ok - 1, MHD_RESPMEM_PERSISTENT);
}

/* The page's answer to the consent prompt: {"session_id", "accepted"}. */
static enum MHD_Result take_consent(struct kiosk *k, struct MHD_Connection *c, struct body *b)
{
	json_error_t e;
	json_t *j = b->too_big ? NULL : json_loadb(buf_str(&b->data), buf_len(&b->data), 0, &e);
	const char *sid = json_string_value(json_object_get(j, "session_id"));
	json_t *accepted = json_object_get(j, "accepted");
	if (!sid || !json_is_boolean(accepted)) {
		json_decref(j);
		return error_reply(c, 400, "invalid_json", "expected {\"session_id\":\"...\",\"accepted\":true|false}");
	}
	pthread_mutex_lock(&k->lock);
	bool shown = k->consent_until_ms && wall_ms() <= k->consent_until_ms && strcmp(sid, k->consent_sid) == 0;
	if (shown) {
		snprintf(k->answer_sid, sizeof k->answer_sid, "%s", sid);
		k->answer_accepted = json_is_true(accepted);
		k->consent_until_ms = 0;
		k->consent_sid[0] = '\0';
		bump(k);
	}
	pthread_mutex_unlock(&k->lock);
	json_decref(j);
	if (!shown)
		return error_reply(c, 409, "no_prompt", "this prompt is not shown any more (answered or timed out)");
	static const char ok[] = "{\"ok\":true}";
	return reply(c, 200, "application/json", ok, sizeof ok - 1, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	(void)version;
	struct kiosk *k = cls;
	if (!*ctx) {
		if (strcmp(method, "POST") == 0) {
			struct body *b = calloc(1, sizeof *b);
			if (!b)
				return MHD_NO;
			buf_init(&b->data, MAX_PLAYED_BODY);
			*ctx = b;
		} else {
			*ctx = (void *)1;
		}
		return MHD_YES;
	}
	if (strcmp(method, "POST") == 0) {
		struct body *b = *ctx;
		if (*upload_size) {
			int rc = b->too_big ? BUF_TOO_BIG : buf_add(&b->data, upload, *upload_size);
			if (rc == BUF_NOMEM)
				return MHD_NO;
			if (rc == BUF_TOO_BIG)
				b->too_big = true;
			*upload_size = 0;
			return MHD_YES;
		}
		bool share_action = strcmp(url, "/share/stop") == 0 || strcmp(url, "/share/promote") == 0;
		if (strcmp(url, "/played") == 0 || strcmp(url, "/consent") == 0 || strcmp(url, "/transitions") == 0 ||
		    share_action) {
			/* only the kiosk page itself: a framed web page or HTML medium
			 * could otherwise post fake plays (or a consent) with a no-CORS
			 * request; a JSON content type cannot be sent without CORS */
			const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
			const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
			char own[64];
			snprintf(own, sizeof own, "http://127.0.0.1:%u", k->port);
			if (!ct || strncmp(ct, "application/json", 16) != 0)
				return error_reply(c, 415, "unsupported_type", "send application/json");
			if (origin && strcmp(origin, own) != 0)
				return error_reply(c, 403, "forbidden", "only the kiosk page may post here");
			if (share_action)
				return take_share_action(k, c, b, url[7] == 's');
			return url[1] == 'p'   ? take_played(k, c, b)
			       : url[1] == 't' ? take_transitions(k, c, b)
			                       : take_consent(k, c, b);
		}
	}
	if (strcmp(method, "GET") == 0 && strcmp(url, "/manifest") == 0) {
		pthread_mutex_lock(&k->lock);
		char *text = k->manifest_text ? strdup(k->manifest_text) : NULL;
		pthread_mutex_unlock(&k->lock);
		if (!text)
			return error_reply(c, 404, "no_manifest", "no content has been received yet");
		return reply(c, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(method, "GET") == 0 && strncmp(url, "/objects/", 9) == 0)
		return serve_object(k, c, url + 9);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"read only\"}}";
		return reply(c, 405, "application/json", msg, sizeof msg - 1, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/state") == 0) {
		pthread_mutex_lock(&k->lock);
		char *text = state_json(k);
		pthread_mutex_unlock(&k->lock);
		if (!text)
			return MHD_NO;
		return reply(c, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/clock") == 0 || strcmp(url, "/transitions") == 0) {
		char *text;
		if (url[1] == 'c') {
			text = clock_json(k);
		} else {
			pthread_mutex_lock(&k->lock);
			json_t *j = json_pack("{s:O}", "transitions", k->transitions);
			pthread_mutex_unlock(&k->lock);
			text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
			json_decref(j);
		}
		if (!text)
			return MHD_NO;
		return reply(c, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/share") == 0) {
		pthread_mutex_lock(&k->lock);
		json_t *j = k->share ? share_receiver_status(k->share) : NULL;
		pthread_mutex_unlock(&k->lock);
		if (!j)
			return error_reply(c, 404, "not_sharing", "this player runs without --share");
		char *text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text)
			return MHD_NO;
		return reply(c, 200, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/qr.svg") == 0) {
		pthread_mutex_lock(&k->lock);
		char *svg = k->qr_svg ? strdup(k->qr_svg) : NULL;
		pthread_mutex_unlock(&k->lock);
		if (!svg) {
			static const char none[] = "{\"error\":{\"code\":\"not_found\",\"message\":\"not pairing\"}}";
			return reply(c, 404, "application/json", none, sizeof none - 1, MHD_RESPMEM_PERSISTENT);
		}
		return reply(c, 200, "image/svg+xml", svg, strlen(svg), MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/events") == 0) {
		struct stream *s = calloc(1, sizeof *s);
		if (!s)
			return MHD_NO;
		s->k = k;
		struct MHD_Response *r =
		    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_free);
		if (!r) {
			free(s);
			return MHD_NO;
		}
		MHD_add_response_header(r, "Content-Type", "text/event-stream");
		MHD_add_response_header(r, "Cache-Control", "no-store");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
	for (size_t i = 0; i < kiosk_assets_count; i++)
		if (strcmp(kiosk_assets[i].name, name) == 0)
			return reply(c, 200, type_of(name), kiosk_assets[i].data, kiosk_assets[i].len,
			             MHD_RESPMEM_PERSISTENT);
	static const char nf[] = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such file\"}}";
	return reply(c, 404, "application/json", nf, sizeof nf - 1, MHD_RESPMEM_PERSISTENT);
}

struct kiosk *kiosk_start(const char *listen, char *err, unsigned errsz)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof host) {
		snprintf(err, errsz, "the kiosk address must be 127.0.0.1:PORT");
		return NULL;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		snprintf(err, errsz, "the kiosk page listens on loopback only (127.x.x.x:PORT), not %s", listen);
		return NULL;
	}
	struct kiosk *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->changed, NULL);
	snprintf(k->status, sizeof k->status, "starting");
	k->plays = json_array();
	k->transitions = json_array();
	k->d =
	    MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request,
	                     k, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
	                     MHD_OPTION_NOTIFY_COMPLETED, free_body, NULL, MHD_OPTION_END);
	const union MHD_DaemonInfo *info = k->d ? MHD_get_daemon_info(k->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	k->port = info ? info->port : 0;
	if (!k->d) {
		snprintf(err, errsz, "cannot listen on %s for the kiosk page (in use?)", listen);
		pthread_mutex_destroy(&k->lock);
		pthread_cond_destroy(&k->changed);
		free(k);
		return NULL;
	}
	return k;
}

uint16_t kiosk_port(struct kiosk *k)
{
	return k->port;
}

void kiosk_stop(struct kiosk *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stopping = true;
	pthread_cond_broadcast(&k->changed);
	pthread_mutex_unlock(&k->lock);
	MHD_stop_daemon(k->d);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->changed);
	free(k->qr_svg);
	free(k->manifest_text);
	json_decref(k->manifest);
	json_decref(k->plays);
	json_decref(k->transitions);
	free(k);
}

void kiosk_set_share(struct kiosk *k, struct share_receiver *r)
{
	pthread_mutex_lock(&k->lock);
	k->share = r;
	bump(k);
	pthread_mutex_unlock(&k->lock);
}

void kiosk_set_group(struct kiosk *k, struct group *g)
{
	pthread_mutex_lock(&k->lock);
	k->group = g;
	pthread_mutex_unlock(&k->lock);
}
