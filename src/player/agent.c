/* The player agent's event loop; see agent.h. */
#include "agent.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "agent_internal.h"
#include "common/log.h"
#include "kiosk.h"
#include "state.h"

#define MAX_RESPONSE   (1u << 20)
#define MAX_SCREENSHOT (8u << 20)
#define BACKOFF_MAX_MS 60000

volatile sig_atomic_t agent_stop;

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t backoff_ms(unsigned failures)
{
	int64_t base = 1000;
	for (unsigned i = 0; i < failures && base < BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	/* full jitter in [base/2, base): a fleet that lost its server does not
	 * come back in lock step */
	return base / 2 + (int64_t)randombytes_uniform((uint32_t)(base / 2));
}

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
	struct call *c = userdata;
	size_t len = size * n;
	if (c->out)
		return fwrite(ptr, 1, len, c->out);
	if (c->resp_len + len > MAX_RESPONSE)
		return 0; /* makes curl fail the transfer */
	char *b = realloc(c->resp, c->resp_len + len + 1);
	if (!b)
		return 0;
	memcpy(b + c->resp_len, ptr, len);
	c->resp = b;
	c->resp_len += len;
	c->resp[c->resp_len] = '\0';
	return len;
}

void agent_curl_defaults(void *easy, const struct player_config *cfg)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file && *cfg->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "vitrine-player/" PLAYER_VERSION);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* Starts a request on slot c. body (copied) may be NULL for GET. */
int call_start(struct agent *a, struct call *c, const char *method, const char *path, const void *body, size_t body_len,
               const char *content_type, long timeout_s, bool with_token, call_done done)
{
	char url[2048];
	snprintf(url, sizeof url, "%s%s", a->cfg->server, path);
	if (!c->easy && !(c->easy = curl_easy_init()))
		return -1;
	curl_easy_reset(c->easy);
	c->out = NULL;
	agent_curl_defaults(c->easy, a->cfg);
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	if (with_token) {
		char auth[256];
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->st->token);
		c->headers = curl_slist_append(c->headers, auth);
		sodium_memzero(auth, sizeof auth);
	}
	free(c->body);
	c->body = NULL;
	if (body) {
		char ct[128];
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		c->headers = curl_slist_append(c->headers, ct);
		c->body = malloc(body_len ? body_len : 1);
		if (!c->body)
			return -1;
		memcpy(c->body, body, body_len);
		c->body_len = body_len;
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	free(c->resp);
	c->resp = NULL;
	c->resp_len = 0;
	c->done = done;
	c->sent_wall_ms = wall_ms();
	if (curl_multi_add_handle(a->multi, c->easy) != CURLM_OK)
		return -1;
	c->busy = true;
	return 0;
}

json_t *resp_json(struct call *c)
{
	json_error_t e;
	return c->resp ? json_loadb(c->resp, c->resp_len, 0, &e) : NULL;
}

static const char *error_code(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

void note_error(struct agent *a, const char *what, CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		snprintf(a->last_error, sizeof a->last_error, "%s: %s", what, curl_easy_strerror(rc));
	else
		snprintf(a->last_error, sizeof a->last_error, "%s: HTTP %ld", what, status);
	a->failures++;
	if (a->online || a->failures == 1)
		log_event(LOG_WARN, "server unreachable, backing off", "detail", a->last_error, NULL);
	a->online = false;
	kiosk_set_status(a->kiosk, a->phase == PAIRED ? "offline" : "pairing", a->last_error);
}

void note_success(struct agent *a)
{
	a->failures = 0;
	if (!a->online && a->phase == PAIRED) {
		log_event(LOG_INFO, "connected to the server", "server", a->cfg->server, NULL);
		kiosk_set_status(a->kiosk, "online", "");
	}
	a->online = a->phase == PAIRED;
}

void forget_token(struct agent *a)
{
	log_event(LOG_WARN, "the server revoked this screen's token; pairing again", NULL);
	state_forget_token(a->st);
	a->phase = UNPAIRED;
	a->next_pair_ms = mono_ms();
	a->online = false;
	kiosk_set_status(a->kiosk, "pairing", "");
}

/* ---------- pairing ---------- */

static void on_token(struct agent *a, struct call *c, CURLcode rc, long status)
{
	json_t *j = resp_json(c);
	const char *code = error_code(j);
	if (rc != CURLE_OK || status >= 500 || (status != 200 && !code)) {
		note_error(a, "pairing", rc, status);
		a->next_token_ms = mono_ms() + backoff_ms(a->failures);
	} else if (status == 200) {
		const char *token = json_string_value(json_object_get(j, "access_token"));
		const char *device_id = json_string_value(json_object_get(j, "device_id"));
		if (token && device_id && state_save_token(a->st, token, device_id) == 0) {
			log_event(LOG_INFO, "paired", "device_id", device_id, NULL);
			a->phase = PAIRED;
			a->failures = 0;
			kiosk_set_pairing(a->kiosk, NULL, NULL);
			kiosk_set_status(a->kiosk, "online", "");
			a->online = true;
			a->next_poll_ms = a->next_beat_ms = mono_ms();
			sync_request(a->sync, NULL);
		} else {
			log_event(LOG_ERROR, "cannot store the access token", "dir", a->st->dir, NULL);
			a->phase = UNPAIRED;
			a->next_pair_ms = mono_ms() + 5000;
		}
		sodium_memzero(c->resp, c->resp_len);
	} else if (strcmp(code, "authorization_pending") == 0) {
		a->failures = 0;
		a->next_token_ms = mono_ms() + a->interval_ms;
	} else if (strcmp(code, "slow_down") == 0) {
		json_t *iv = json_object_get(json_object_get(j, "error"), "interval");
		a->interval_ms = json_is_integer(iv) ? json_integer_value(iv) * 1000 : a->interval_ms + 5000;
		a->next_token_ms = mono_ms() + a->interval_ms;
	} else { /* expired_token or anything else: start again */
		a->phase = UNPAIRED;
		a->next_pair_ms = mono_ms();
	}
	json_decref(j);
}

static void on_pair(struct agent *a, struct call *c, CURLcode rc, long status)
{
	json_t *j = resp_json(c);
	const char *device_code = json_string_value(json_object_get(j, "device_code"));
	const char *user_code = json_string_value(json_object_get(j, "user_code"));
	const char *uri = json_string_value(json_object_get(j, "verification_uri_complete"));
	json_t *interval = json_object_get(j, "interval"), *expires = json_object_get(j, "expires_in");
	if (rc != CURLE_OK || status != 200 || !device_code || !user_code || strlen(user_code) != 8 ||
	    strlen(device_code) >= sizeof a->device_code) {
		note_error(a, "pairing", rc, status);
		a->next_pair_ms = mono_ms() + backoff_ms(a->failures);
		json_decref(j);
		return;
	}
	a->failures = 0;
	snprintf(a->device_code, sizeof a->device_code, "%s", device_code);
	a->interval_ms = (json_is_integer(interval) ? json_integer_value(interval) : 5) * 1000;
	a->pair_expires_ms = mono_ms() + (json_is_integer(expires) ? json_integer_value(expires) : 600) * 1000;
	a->next_token_ms = mono_ms() + a->interval_ms;
	a->phase = PAIRING;
	char shown[10];
	snprintf(shown, sizeof shown, "%.4s-%.4s", user_code, user_code + 4);
	printf("PAIRING CODE: %s\n", shown);
	fflush(stdout);
	kiosk_set_pairing(a->kiosk, shown, uri ? uri : "");
	kiosk_set_status(a->kiosk, "pairing", "");
	json_decref(j);
}

static void os_name(char *out, size_t outsz)
{
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(out, outsz, "%.64s %.64s %.64s", u.sysname, u.release, u.machine);
	else
		snprintf(out, outsz, "unknown");
}

static void start_pairing(struct agent *a)
{
	char os[200], host[128] = "";
	struct utsname u;
	os_name(os, sizeof os);
	if (uname(&u) == 0)
		snprintf(host, sizeof host, "%.64s", u.nodename);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "hardware_id", a->st->hardware_id, "public_key",
	                         a->st->public_key_b64, "os", os, "hostname", host, "version", PLAYER_VERSION);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text)
		call_start(a, &a->pair, "POST", "/api/v1/device/pair", text, strlen(text), "application/json", 30,
		           false, on_pair);
	free(text);
}

/* ---------- instructions ---------- */

void queue_ack(struct agent *a, const char *id, bool ok, json_t *result, const char *then)
{
	json_t *ack = json_pack("{s:s, s:s, s:o}", "id", id, "status", ok ? "ok" : "failed", "result",
	                        result ? result : json_object());
	if (then)
		json_object_set_new(ack, "then", json_string(then));
	json_array_append_new(a->st->pending_acks, ack);
}

static json_t *reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *reason(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "reason", msg);
}

static void run_command(struct agent *a, const char *id, const char *command, int level, const char *what)
{
	struct action_output out;
	if (!command || !*command) {
		queue_ack(a, id, false, reason("no %s command is configured on this player", what), NULL);
		return;
	}
	int rc = action_run(command, level, 20, 4096, &out);
	if (rc == 0)
		queue_ack(a, id, true, level >= 0 ? json_pack("{s:i}", "level", level) : NULL, NULL);
	else
		queue_ack(a, id, false,
		          json_pack("{s:s, s:i}", "reason", out.err[0] ? out.err : "the command failed", "exit_status",
		                    out.exit_status),
		          NULL);
	action_output_free(&out);
}

static void execute(struct agent *a, json_t *ins)
{
	const char *id = json_string_value(json_object_get(ins, "id"));
	const char *type = json_string_value(json_object_get(ins, "type"));
	json_t *payload = json_object_get(ins, "payload");
	if (!id || !type)
		return;
	log_event(LOG_INFO, "instruction", "type", type, "id", id, NULL);
	if (strcmp(type, "identify") == 0) {
		kiosk_identify(a->kiosk, 10);
		queue_ack(a, id, true, json_pack("{s:i}", "seconds", 10), NULL);
	} else if (strcmp(type, "reboot") == 0) {
		queue_ack(a, id, true, json_pack("{s:s}", "note", "rebooting after this acknowledgement"), "reboot");
	} else if (strcmp(type, "restart_player") == 0) {
		queue_ack(a, id, true, json_pack("{s:s}", "note", "restarting after this acknowledgement"), "restart");
	} else if (strcmp(type, "set_volume") == 0 || strcmp(type, "set_brightness") == 0) {
		json_t *level = json_object_get(payload, "level");
		if (!json_is_integer(level) || json_integer_value(level) < 0 || json_integer_value(level) > 100) {
			queue_ack(a, id, false, reason("payload.level must be 0-100"), NULL);
			return;
		}
		bool volume = type[4] == 'v';
		run_command(a, id, volume ? a->cfg->volume_command : a->cfg->brightness_command,
		            (int)json_integer_value(level), volume ? "volume" : "brightness");
	} else if (strcmp(type, "screenshot") == 0) {
		struct action_output out;
		const char *cmd = a->cfg->screenshot_command;
		int rc = cmd && *cmd ? action_run(cmd, -1, 20, MAX_SCREENSHOT, &out) : -1;
		static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
		if (rc == 0 && out.out_len > 8 && memcmp(out.out, png, 8) == 0) {
			free(a->shot);
			a->shot = out.out;
			a->shot_len = out.out_len;
			snprintf(a->shot_id, sizeof a->shot_id, "%s", id);
		} else {
			queue_ack(a, id, false,
			          reason("the screenshot could not be taken: %s",
			                 !cmd || !*cmd ? "no screenshot command is configured"
			                 : rc == 0     ? "the command did not print a PNG image"
			                 : out.err[0]  ? out.err
			                               : "the command failed"),
			          NULL);
			if (cmd && *cmd)
				action_output_free(&out);
		}
	} else if (strcmp(type, "manifest_changed") == 0) {
		sync_request(a->sync, id); /* acknowledged once the new content is complete */
	} else if (strcmp(type, "change_channel") == 0) {
		queue_ack(a, id, false, reason("this player version cannot play channels yet"), NULL);
	} else {
		queue_ack(a, id, false, reason("unknown instruction type \"%s\"", type), NULL);
	}
}

static void on_poll(struct agent *a, struct call *c, CURLcode rc, long status)
{
	json_t *j = resp_json(c);
	if (status == 401) {
		json_decref(j);
		forget_token(a);
		return;
	}
	json_t *list = json_object_get(j, "instructions");
	if (rc != CURLE_OK || status != 200 || !json_is_array(list)) {
		note_error(a, "instructions", rc, status);
		a->next_poll_ms = mono_ms() + backoff_ms(a->failures);
		json_decref(j);
		return;
	}
	note_success(a);
	size_t i;
	json_t *ins;
	bool changed = false;
	json_array_foreach (list, i, ins) {
		json_t *seq = json_object_get(ins, "seq");
		if (!json_is_integer(seq) || json_integer_value(seq) <= a->st->last_seq)
			continue; /* done already: a redelivery */
		execute(a, ins);
		a->st->last_seq = json_integer_value(seq);
		changed = true;
	}
	if (changed && state_save(a->st) != 0)
		log_event(LOG_ERROR, "cannot save the player state", "dir", a->st->dir, NULL);
	a->next_poll_ms = mono_ms();
	json_decref(j);
}

/* ---------- acknowledgements and uploads (the work slot) ---------- */

static void after_ack(struct agent *a, const char *then)
{
	if (strcmp(then, "reboot") == 0) {
		struct action_output out;
		if (action_run(a->cfg->reboot_command, -1, 30, 4096, &out) != 0)
			log_event(LOG_ERROR, "reboot command failed", "detail", out.err, NULL);
		action_output_free(&out);
	} else if (strcmp(then, "restart") == 0 && a->cfg->argv) {
		log_event(LOG_INFO, "restarting the player", NULL);
		execv("/proc/self/exe", a->cfg->argv);
		log_event(LOG_ERROR, "cannot restart the player", NULL);
	}
}

static void on_ack(struct agent *a, struct call *c, CURLcode rc, long status)
{
	if (status == 401) {
		forget_token(a);
		return;
	}
	if (rc != CURLE_OK || status >= 500) {
		note_error(a, "acknowledgement", rc, status);
		a->next_work_ms = mono_ms() + backoff_ms(a->failures);
		return;
	}
	/* delivered (or refused for good: 4xx would never succeed either) */
	char then[16] = "";
	json_t *first = json_array_get(a->st->pending_acks, 0);
	if (first && strcmp(json_string_value(json_object_get(first, "id")), c->ack_id) == 0) {
		const char *t = json_string_value(json_object_get(first, "then"));
		snprintf(then, sizeof then, "%s", t ? t : "");
		json_array_remove(a->st->pending_acks, 0);
		state_save(a->st);
	}
	a->next_work_ms = mono_ms();
	if (*then)
		after_ack(a, then);
}

static void on_screenshot(struct agent *a, struct call *c, CURLcode rc, long status)
{
	(void)c;
	if (status == 401) {
		forget_token(a);
		return;
	}
	if (rc != CURLE_OK || status >= 500) {
		note_error(a, "screenshot upload", rc, status);
		a->next_work_ms = mono_ms() + backoff_ms(a->failures);
		return;
	}
	queue_ack(a, a->shot_id, status == 200,
	          status == 200 ? json_pack("{s:I}", "bytes", (json_int_t)a->shot_len)
	                        : reason("the server refused the screenshot (HTTP %s)", status == 413 ? "413" : "4xx"),
	          NULL);
	state_save(a->st);
	free(a->shot);
	a->shot = NULL;
	a->shot_len = 0;
	a->next_work_ms = mono_ms();
}

static void start_work(struct agent *a)
{
	if (a->shot) {
		call_start(a, &a->work, "POST", "/api/v1/device/screenshot", a->shot, a->shot_len, "image/png", 60,
		           true, on_screenshot);
		return;
	}
	json_t *ack = json_array_get(a->st->pending_acks, 0);
	if (!ack)
		return;
	const char *id = json_string_value(json_object_get(ack, "id"));
	if (!id || !codes_is_id(id)) { /* damaged entry: drop it */
		json_array_remove(a->st->pending_acks, 0);
		return;
	}
	json_t *body =
	    json_pack("{s:O, s:O}", "status", json_object_get(ack, "status"), "result", json_object_get(ack, "result"));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	char path[128];
	snprintf(path, sizeof path, "/api/v1/device/instructions/%s/ack", id);
	snprintf(a->work.ack_id, sizeof a->work.ack_id, "%s", id);
	if (text)
		call_start(a, &a->work, "POST", path, text, strlen(text), "application/json", 30, true, on_ack);
	free(text);
}

/* ---------- heartbeat ---------- */

static void on_beat(struct agent *a, struct call *c, CURLcode rc, long status)
{
	if (status == 401) {
		forget_token(a);
		return;
	}
	json_t *j = resp_json(c);
	json_t *st = json_object_get(j, "server_time");
	if (rc == CURLE_OK && status == 200 && json_is_integer(st)) {
		int64_t now = wall_ms();
		a->clock_offset_ms = json_integer_value(st) - (c->sent_wall_ms + now) / 2;
		kiosk_set_clock_offset(a->kiosk, a->clock_offset_ms);
		json_t *mv = json_object_get(j, "manifest_version");
		if (json_is_integer(mv))
			sync_note_version(a->sync, json_integer_value(mv));
		note_success(a);
	} else {
		note_error(a, "heartbeat", rc, status);
	}
	json_decref(j);
}

static void start_beat(struct agent *a)
{
	char os[200];
	os_name(os, sizeof os);
	const char *playing = sync_now_playing(a->sync);
	json_t *body = json_pack("{s:s, s:I, s:I, s:s?, s:I, s:s, s:s, s:I}", "version", PLAYER_VERSION, "uptime_s",
	                         (json_int_t)((mono_ms() - a->started_ms) / 1000), "clock_offset_ms",
	                         (json_int_t)a->clock_offset_ms, "now_playing", playing, "cache_bytes",
	                         (json_int_t)sync_cache_bytes(a->sync), "last_error", a->last_error, "os", os,
	                         "last_seq", (json_int_t)a->st->last_seq);
	if (body && !playing)
		json_object_set_new(body, "now_playing", json_null());
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text)
		call_start(a, &a->beat, "POST", "/api/v1/device/heartbeat", text, strlen(text), "application/json", 30,
		           true, on_beat);
	free(text);
}

/* ---------- proof of play ---------- */

static void on_played(struct agent *a, struct call *c, CURLcode rc, long status)
{
	(void)c;
	if (status == 401) {
		forget_token(a);
		return;
	}
	if (rc != CURLE_OK || status >= 500) {
		note_error(a, "proof of play", rc, status);
		a->next_played_ms = mono_ms() + backoff_ms(a->failures);
		return; /* the batch stays and goes with the next attempt */
	}
	json_array_clear(a->plays); /* delivered, or refused for good (4xx) */
	a->next_played_ms = mono_ms() + 15000;
}

static void start_played(struct agent *a)
{
	json_t *fresh = kiosk_take_plays(a->kiosk);
	if (fresh && json_array_size(a->plays) < 10000)
		json_array_extend(a->plays, fresh);
	json_decref(fresh);
	if (json_array_size(a->plays) == 0) {
		a->next_played_ms = mono_ms() + 15000;
		return;
	}
	while (json_array_size(a->plays) > 1000) /* the server takes 1000 a request */
		json_array_remove(a->plays, 0);
	json_t *body = json_pack("{s:O}", "plays", a->plays);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text)
		call_start(a, &a->played, "POST", "/api/v1/device/played", text, strlen(text), "application/json", 30,
		           true, on_played);
	free(text);
}

/* ---------- the loop ---------- */

static void schedule(struct agent *a)
{
	int64_t now = mono_ms();
	if (a->phase == UNPAIRED && !a->pair.busy && now >= a->next_pair_ms) {
		start_pairing(a);
	} else if (a->phase == PAIRING && !a->pair.busy) {
		if (now >= a->pair_expires_ms) {
			a->phase = UNPAIRED; /* the code expired: show a new one */
			a->next_pair_ms = now;
		} else if (now >= a->next_token_ms) {
			char body[200];
			snprintf(body, sizeof body, "{\"device_code\":\"%s\"}", a->device_code);
			call_start(a, &a->pair, "POST", "/api/v1/device/token", body, strlen(body), "application/json",
			           30, false, on_token);
		}
	}
	if (a->phase != PAIRED)
		return;
	if (!a->poll.busy && now >= a->next_poll_ms) {
		char path[128];
		snprintf(path, sizeof path, "/api/v1/device/instructions?after=%" PRId64 "&wait=%u", a->st->last_seq,
		         a->cfg->poll_wait_s);
		call_start(a, &a->poll, "GET", path, NULL, 0, NULL, (long)a->cfg->poll_wait_s + 15, true, on_poll);
	}
	if (!a->beat.busy && now >= a->next_beat_ms) {
		a->next_beat_ms = now + (int64_t)a->cfg->heartbeat_s * 1000;
		start_beat(a);
	}
	if (!a->work.busy && now >= a->next_work_ms)
		start_work(a);
	if (!a->played.busy && now >= a->next_played_ms)
		start_played(a);
	sync_schedule(a->sync);
}

static int64_t next_timer(struct agent *a)
{
	int64_t t = mono_ms() + 1000, now = mono_ms();
	int64_t cand[] = {
	    a->phase == UNPAIRED ? a->next_pair_ms : INT64_MAX, a->phase == PAIRING ? a->next_token_ms : INT64_MAX,
	    a->phase == PAIRED && !a->poll.busy ? a->next_poll_ms : INT64_MAX,
	    a->phase == PAIRED && !a->beat.busy ? a->next_beat_ms : INT64_MAX,
	    /* the work slot wakes the loop only when there is work */
	    a->phase == PAIRED && !a->work.busy && (a->shot || json_array_size(a->st->pending_acks)) ? a->next_work_ms
	                                                                                             : INT64_MAX,
	    a->phase == PAIRED && !a->played.busy ? a->next_played_ms : INT64_MAX,
	    a->phase == PAIRED ? sync_next_due(a->sync) : INT64_MAX};
	for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++)
		if (cand[i] < t)
			t = cand[i];
	return t > now ? t - now : 0;
}

void free_call(struct agent *a, struct call *c)
{
	if (c->easy) {
		if (c->busy)
			curl_multi_remove_handle(a->multi, c->easy);
		curl_easy_cleanup(c->easy);
	}
	curl_slist_free_all(c->headers);
	free(c->resp);
	free(c->body);
	memset(c, 0, sizeof *c);
}

int agent_run(const struct player_config *cfg, struct player_state *st, struct kiosk *kiosk)
{
	struct agent a = {.cfg = cfg, .st = st, .kiosk = kiosk};
	a.multi = curl_multi_init();
	if (!a.multi)
		return 1;
	a.started_ms = mono_ms();
	/* a follow-up action is never replayed from disk (no reboot loops) */
	size_t i;
	json_t *ack;
	json_array_foreach (st->pending_acks, i, ack)
		json_object_del(ack, "then");
	a.phase = st->token[0] ? PAIRED : UNPAIRED;
	a.plays = json_array();
	a.next_played_ms = mono_ms() + 15000;
	a.sync = sync_create(&a);
	if (!a.sync) {
		curl_multi_cleanup(a.multi);
		json_decref(a.plays);
		return 1;
	}
	kiosk_set_status(kiosk, a.phase == PAIRED ? "connecting" : "pairing", "");
	while (!agent_stop) {
		schedule(&a);
		int still = 0;
		curl_multi_perform(a.multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(a.multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct call *c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(a.multi, msg->easy_handle);
			c->busy = false;
			c->done(&a, c, rc, status);
		}
		schedule(&a);
		int numfds;
		curl_multi_poll(a.multi, NULL, 0, (int)next_timer(&a), &numfds);
	}
	free_call(&a, &a.pair);
	free_call(&a, &a.poll);
	free_call(&a, &a.beat);
	free_call(&a, &a.work);
	free_call(&a, &a.played);
	sync_destroy(a.sync);
	json_decref(a.plays);
	free(a.shot);
	curl_multi_cleanup(a.multi);
	sodium_memzero(a.device_code, sizeof a.device_code);
	return 0;
}
