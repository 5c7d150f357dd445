/*
 * The player agent (see agent.h): the clients of the transport that speak
 * for the screen. Pairing, the instruction long-poll, acknowledgements and
 * screenshots (the work slot), heartbeats and proof of play each have a
 * call slot and a timer; an answer's ops decide when the timer is due
 * again. Content is sync.c's, told by this file what to fetch; sync never
 * calls back here except through the sync_ops it was given.
 */
#include "agent.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "actions.h"
#include "common/codes.h"
#include "common/log.h"
#include "common/strfmt.h"
#include "group/group.h"
#include "kiosk.h"
#include "manage.h"
#include "remote_host.h"
#include "share_broker.h"
#include "state.h"
#include "sync.h"
#include "transport.h"
#include "update.h"

#define MAX_SCREENSHOT       (8u << 20)
#define PLAYED_PERIOD_MS     15000
#define PLAYED_QUOTA_WAIT_MS 60000 /* after a 429: the quota counts per minute */
#define CONSENT_POLL_MS      200   /* while a consent prompt is on the kiosk page */
#define CONSENT_TIMEOUT_MAX  120   /* seconds a prompt may be shown */

volatile sig_atomic_t agent_stop;

/* RECOVERING: the token went bad and a new one is asked for with the
 * pairing key (manage.h); then PAIRED again, or UNPAIRED */
enum phase { UNPAIRED, PAIRING, RECOVERING, PAIRED };

struct agent {
	const struct player_config *cfg;
	struct player_state *st;
	struct kiosk *kiosk;
	struct transport *t;
	struct sync *sync;
	struct remote_host *remote; /* NULL when it could not be set up */
	struct group *group;        /* the sync group (idle while the manifest names none) */
	struct manage *manage;
	struct share_broker *broker; /* the brokered share code, or NULL */
	struct update *update;
	enum phase phase;
	struct transport_call pair, poll, beat, work, played, consent;
	int pair_timer, poll_timer, beat_timer, work_timer, played_timer, consent_timer;
	/* a consent answer from the kiosk page, until the server took it */
	char consent_sid[CODES_ID_LEN + 1];
	bool consent_accepted, consent_waiting;
	char device_code[128];
	int64_t interval_ms, pair_expires_ms;
	int64_t next_work_ms; /* the work slot backs off on its own */
	json_t *plays;        /* proof of play not yet delivered */
	char ack_id[CODES_ID_LEN + 1];
	/* a captured screenshot waiting to be uploaded */
	char *shot;
	size_t shot_len;
	char shot_id[CODES_ID_LEN + 1];
};

static struct timers *T(struct agent *a)
{
	return transport_timers(a->t);
}

static int64_t now_ms(void)
{
	return transport_mono_ms();
}

static const char *error_code(json_t *j)
{
	return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* ---------- what the transport tells its owner ---------- */

static void on_connectivity(void *arg, bool online, const char *detail)
{
	struct agent *a = arg;
	if (online)
		kiosk_set_status(a->kiosk, "online", "");
	else
		kiosk_set_status(a->kiosk, a->phase == PAIRED ? "offline" : "pairing", detail);
}

static void on_token_revoked(void *arg)
{
	struct agent *a = arg;
	if (a->manage && manage_recover(a->manage)) {
		a->phase = RECOVERING;
		kiosk_set_status(a->kiosk, "connecting", "");
		return;
	}
	a->phase = UNPAIRED;
	timers_set(T(a), a->pair_timer, now_ms());
	kiosk_set_status(a->kiosk, "pairing", "");
}

/* ---------- pairing ---------- */

static void token_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	json_t *j = transport_call_json(c);
	const char *code = error_code(j);
	int64_t now = now_ms();
	if (status != 200 && !code) {
		timers_set(T(a), a->pair_timer, now + transport_note_failure(a->t, "pairing", status));
	} else if (status == 200) {
		const char *token = json_string_value(json_object_get(j, "access_token"));
		const char *device_id = json_string_value(json_object_get(j, "device_id"));
		if (token && device_id && transport_save_token(a->t, token, device_id) == 0) {
			log_event(LOG_INFO, "paired", "device_id", device_id, NULL);
			a->phase = PAIRED;
			kiosk_set_pairing(a->kiosk, NULL, NULL);
			kiosk_set_status(a->kiosk, "online", "");
			timers_set(T(a), a->poll_timer, now);
			timers_set(T(a), a->beat_timer, now);
			sync_request(a->sync, NULL);
			update_save_keys(a->st, json_object_get(j, "release_keys"));
			manage_paired(a->manage);
			share_broker_paired(a->broker);
			update_paired(a->update);
		} else {
			log_event(LOG_ERROR, "cannot store the access token", "dir", a->st->dir, NULL);
			a->phase = UNPAIRED;
			timers_set(T(a), a->pair_timer, now + 5000);
		}
		transport_call_wipe(c);
	} else if (strcmp(code, "authorization_pending") == 0) {
		transport_note_success(a->t);
		timers_set(T(a), a->pair_timer, now + a->interval_ms);
	} else if (strcmp(code, "slow_down") == 0) {
		json_t *iv = json_object_get(json_object_get(j, "error"), "interval");
		a->interval_ms = json_is_integer(iv) ? json_integer_value(iv) * 1000 : a->interval_ms + 5000;
		timers_set(T(a), a->pair_timer, now + a->interval_ms);
	} else { /* expired_token or anything else: start again */
		a->phase = UNPAIRED;
		timers_set(T(a), a->pair_timer, now);
	}
	json_decref(j);
}

static void pairing_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct agent *a = c->owner;
	timers_set(T(a), a->pair_timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops token_ops = {.answered = token_answered, .failed = pairing_failed};

static void pair_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	json_t *j = transport_call_json(c);
	const char *device_code = json_string_value(json_object_get(j, "device_code"));
	const char *user_code = json_string_value(json_object_get(j, "user_code"));
	const char *uri = json_string_value(json_object_get(j, "verification_uri_complete"));
	json_t *interval = json_object_get(j, "interval"), *expires = json_object_get(j, "expires_in");
	if (status != 200 || !device_code || !user_code || strlen(user_code) != 8 ||
	    strlen(device_code) >= sizeof a->device_code) {
		timers_set(T(a), a->pair_timer, now_ms() + transport_note_failure(a->t, "pairing", status));
		json_decref(j);
		return;
	}
	transport_note_success(a->t);
	snprintf(a->device_code, sizeof a->device_code, "%s", device_code);
	a->interval_ms = (json_is_integer(interval) ? json_integer_value(interval) : 5) * 1000;
	a->pair_expires_ms = now_ms() + (json_is_integer(expires) ? json_integer_value(expires) : 600) * 1000;
	timers_set(T(a), a->pair_timer, now_ms() + a->interval_ms);
	a->phase = PAIRING;
	char shown[10];
	snprintf(shown, sizeof shown, "%.4s-%.4s", user_code, user_code + 4);
	printf("PAIRING CODE: %s\n", shown);
	fflush(stdout);
	kiosk_set_pairing(a->kiosk, shown, uri ? uri : "");
	kiosk_set_status(a->kiosk, "pairing", "");
	json_decref(j);
}

static const struct transport_call_ops pair_ops = {.answered = pair_answered, .failed = pairing_failed};

static void os_name(char *out, size_t outsz)
{
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(out, outsz, "%.64s %.64s %.64s", u.sysname, u.release, u.machine);
	else
		snprintf(out, outsz, "unknown");
}

static void post_json(struct agent *a, struct transport_call *c, const char *what, const char *path, const char *text)
{
	struct transport_request req = {.what = what,
	                                .method = "POST",
	                                .path = path,
	                                .body = text,
	                                .body_len = strlen(text),
	                                .content_type = "application/json",
	                                .timeout_s = 30,
	                                .with_token = c != &a->pair};
	if (transport_start(a->t, c, &req) != 0)
		log_event(LOG_ERROR, "cannot start a request", "what", what, NULL);
}

static void start_pairing(struct agent *a)
{
	char os[200], host[128] = "";
	struct utsname u;
	os_name(os, sizeof os);
	if (uname(&u) == 0)
		snprintf(host, sizeof host, "%.64s", u.nodename);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "hardware_id", a->st->hardware_id, "public_key",
	                         a->st->public_key_b64, "os", os, "hostname", host, "version", a->cfg->version);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	a->pair.ops = &pair_ops;
	if (text)
		post_json(a, &a->pair, "pairing", "/api/v1/device/pair", text);
	free(text);
}

static int64_t pair_tick(void *arg, int64_t now)
{
	struct agent *a = arg;
	if (a->phase == PAIRED || a->phase == RECOVERING || a->pair.busy)
		return TIMER_PARK;
	if (a->phase == PAIRING && now >= a->pair_expires_ms)
		a->phase = UNPAIRED; /* the code expired: show a new one */
	if (a->phase == PAIRING) {
		char body[200];
		snprintf(body, sizeof body, "{\"device_code\":\"%s\"}", a->device_code);
		a->pair.ops = &token_ops;
		post_json(a, &a->pair, "pairing", "/api/v1/device/token", body);
	} else {
		start_pairing(a);
	}
	return TIMER_PARK;
}

/* ---------- instructions ---------- */

static void queue_ack(struct agent *a, const char *id, bool ok, json_t *result, const char *then)
{
	json_t *ack = json_pack("{s:s, s:s, s:o}", "id", id, "status", ok ? "ok" : "failed", "result",
	                        result ? result : json_object());
	if (then)
		json_object_set_new(ack, "then", json_string(then));
	json_array_append_new(a->st->pending_acks, ack);
	timers_set_sooner(T(a), a->work_timer, a->next_work_ms);
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

static void take_screenshot(struct agent *a, const char *id)
{
	struct action_output out;
	const char *cmd = a->cfg->screenshot_command;
	int rc = cmd && *cmd ? action_run(cmd, -1, 20, MAX_SCREENSHOT, &out) : -1;
	static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (rc == 0 && out.out_len > 8 && memcmp(out.out, png, 8) == 0) {
		free(a->shot);
		a->shot = out.out;
		a->shot_len = out.out_len;
		snprintf(a->shot_id, sizeof a->shot_id, "%s", id);
		timers_set_sooner(T(a), a->work_timer, a->next_work_ms);
		return;
	}
	queue_ack(a, id, false,
	          reason("the screenshot could not be taken: %s", !cmd || !*cmd ? "no screenshot command is configured"
	                                                          : rc == 0    ? "the command did not print a PNG image"
	                                                          : out.err[0] ? out.err
	                                                                       : "the command failed"),
	          NULL);
	if (cmd && *cmd)
		action_output_free(&out);
}

/* remote_consent {session_id, guest, timeout_s}: the prompt goes on the
 * kiosk page; the answer is posted by the consent slot (consent_tick). */
static void ask_consent(struct agent *a, const char *id, json_t *payload)
{
	const char *sid = json_string_value(json_object_get(payload, "session_id"));
	const char *guest = json_string_value(json_object_get(payload, "guest"));
	json_t *timeout = json_object_get(payload, "timeout_s");
	if (!sid || !codes_is_id(sid) || !guest || strlen(guest) > 128 || !json_is_integer(timeout) ||
	    json_integer_value(timeout) < 1 || json_integer_value(timeout) > CONSENT_TIMEOUT_MAX) {
		queue_ack(a, id, false,
		          reason("payload must be {session_id, guest, timeout_s (1-%d)}", CONSENT_TIMEOUT_MAX), NULL);
		return;
	}
	kiosk_ask_consent(a->kiosk, sid, guest, (unsigned)json_integer_value(timeout));
	log_event(LOG_INFO, "remote control consent asked", "session_id", sid, "guest", guest, NULL);
	timers_set(T(a), a->consent_timer, now_ms());
	queue_ack(a, id, true, json_pack("{s:s}", "prompt", "shown"), NULL);
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
		take_screenshot(a, id);
	} else if (strcmp(type, "manifest_changed") == 0) {
		sync_request(a->sync, id); /* acknowledged once the new content is complete */
	} else if (strcmp(type, "remote_session") == 0) {
		char err[256];
		if (remote_host_start(a->remote, payload, err, sizeof err) == 0)
			queue_ack(a, id, true,
			          json_pack("{s:O?}", "session_id", json_object_get(payload, "session_id")), NULL);
		else
			queue_ack(a, id, false, reason("%s", err), NULL);
	} else if (strcmp(type, "remote_consent") == 0) {
		ask_consent(a, id, payload);
	} else if (strcmp(type, "change_channel") == 0) {
		queue_ack(a, id, false, reason("this player version cannot play channels yet"), NULL);
	} else if (update_execute(a->update, id, type, payload)) {
		/* over-the-air update: acknowledged when accepted, then reported step by step */
	} else if (manage_execute(a->manage, id, type, payload)) {
		/* device management: acknowledged through manage_acknowledge */
	} else {
		queue_ack(a, id, false, reason("unknown instruction type \"%s\"", type), NULL);
	}
}

static void poll_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	json_t *j = transport_call_json(c);
	json_t *list = json_object_get(j, "instructions");
	if (status != 200 || !json_is_array(list)) {
		timers_set(T(a), a->poll_timer, now_ms() + transport_note_failure(a->t, "instructions", status));
		json_decref(j);
		return;
	}
	transport_note_success(a->t);
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
	/* a long-poll answered 200: the next one may leave at once */
	timers_set(T(a), a->poll_timer, now_ms());
	json_decref(j);
}

static void poll_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct agent *a = c->owner;
	timers_set(T(a), a->poll_timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops poll_ops = {.answered = poll_answered, .failed = poll_failed};

static int64_t poll_tick(void *arg, int64_t now)
{
	(void)now;
	struct agent *a = arg;
	if (a->phase != PAIRED || a->poll.busy)
		return TIMER_PARK;
	char path[128];
	if (strfmt(path, sizeof path, "/api/v1/device/instructions?after=%" PRId64 "&wait=%u", a->st->last_seq,
	           a->cfg->poll_wait_s) != 0)
		return 1000;
	struct transport_request req = {.what = "instructions",
	                                .method = "GET",
	                                .path = path,
	                                .timeout_s = (long)a->cfg->poll_wait_s + 15,
	                                .with_token = true};
	if (transport_start(a->t, &a->poll, &req) != 0)
		return 1000;
	return TIMER_PARK;
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

static void work_again(struct agent *a, int64_t at)
{
	a->next_work_ms = at;
	timers_set(T(a), a->work_timer, at);
}

static void work_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct agent *a = c->owner;
	work_again(a, now_ms() + f->retry_ms);
}

static void ack_answered(struct transport_call *c, long status)
{
	(void)status; /* delivered (or refused for good: 4xx would never succeed either) */
	struct agent *a = c->owner;
	char then[16] = "";
	json_t *first = json_array_get(a->st->pending_acks, 0);
	const char *first_id = json_string_value(json_object_get(first, "id"));
	if (first_id && strcmp(first_id, a->ack_id) == 0) {
		const char *t = json_string_value(json_object_get(first, "then"));
		snprintf(then, sizeof then, "%s", t ? t : "");
		json_array_remove(a->st->pending_acks, 0);
		state_save(a->st);
	}
	work_again(a, now_ms());
	if (*then)
		after_ack(a, then);
}

static const struct transport_call_ops ack_ops = {.answered = ack_answered, .failed = work_failed};

static void screenshot_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	queue_ack(a, a->shot_id, status == 200,
	          status == 200 ? json_pack("{s:I}", "bytes", (json_int_t)a->shot_len)
	                        : reason("the server refused the screenshot (HTTP %s)", status == 413 ? "413" : "4xx"),
	          NULL);
	state_save(a->st);
	free(a->shot);
	a->shot = NULL;
	a->shot_len = 0;
	work_again(a, now_ms());
}

static const struct transport_call_ops screenshot_ops = {.answered = screenshot_answered, .failed = work_failed};

static int64_t work_tick(void *arg, int64_t now)
{
	(void)now;
	struct agent *a = arg;
	if (a->phase != PAIRED || a->work.busy)
		return TIMER_PARK;
	if (a->shot) {
		struct transport_request req = {.what = "screenshot upload",
		                                .method = "POST",
		                                .path = "/api/v1/device/screenshot",
		                                .body = a->shot,
		                                .body_len = a->shot_len,
		                                .content_type = "image/png",
		                                .timeout_s = 60,
		                                .with_token = true};
		a->work.ops = &screenshot_ops;
		transport_start(a->t, &a->work, &req);
		return TIMER_PARK;
	}
	json_t *ack = json_array_get(a->st->pending_acks, 0);
	if (!ack)
		return TIMER_PARK; /* queue_ack() wakes the slot */
	const char *id = json_string_value(json_object_get(ack, "id"));
	if (!id || !codes_is_id(id)) { /* damaged entry: drop it */
		json_array_remove(a->st->pending_acks, 0);
		return 0;
	}
	json_t *body =
	    json_pack("{s:O, s:O}", "status", json_object_get(ack, "status"), "result", json_object_get(ack, "result"));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	char path[128];
	if (strfmt(path, sizeof path, "/api/v1/device/instructions/%s/ack", id) != 0) {
		free(text);
		json_array_remove(a->st->pending_acks, 0);
		return 0;
	}
	snprintf(a->ack_id, sizeof a->ack_id, "%s", id);
	a->work.ops = &ack_ops;
	if (text)
		post_json(a, &a->work, "acknowledgement", path, text);
	free(text);
	return TIMER_PARK;
}

/* ---------- heartbeat ---------- */

static void beat_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	json_t *j = transport_call_json(c);
	json_t *st = json_object_get(j, "server_time");
	if (status == 200 && json_is_integer(st)) {
		transport_note_server_time(a->t, c, json_integer_value(st));
		kiosk_set_clock_offset(a->kiosk, transport_clock_offset_ms(a->t));
		json_t *mv = json_object_get(j, "manifest_version");
		if (json_is_integer(mv))
			sync_note_version(a->sync, json_integer_value(mv));
		update_note_heartbeat(a->update, json_is_integer(mv) ? json_integer_value(mv) : 0);
		transport_note_success(a->t);
	} else {
		transport_note_failure(a->t, "heartbeat", status);
	}
	json_decref(j);
}

static void beat_failed(struct transport_call *c, const struct transport_failure *f)
{
	(void)c; /* counted by the transport; the next beat leaves on its period */
	(void)f;
}

static const struct transport_call_ops beat_ops = {.answered = beat_answered, .failed = beat_failed};

static int64_t beat_tick(void *arg, int64_t now)
{
	(void)now;
	struct agent *a = arg;
	if (a->phase != PAIRED)
		return TIMER_PARK; /* pairing sets it again */
	if (a->beat.busy)
		return 1000;
	char os[200];
	os_name(os, sizeof os);
	const char *playing = sync_now_playing(a->sync);
	/* a local problem with the content says more than the last network error */
	const char *problem = sync_problem(a->sync);
	json_t *body = json_pack("{s:s, s:I, s:I, s:s?, s:I, s:s, s:s, s:I}", "version", a->cfg->version, "uptime_s",
	                         (json_int_t)(transport_uptime_ms(a->t) / 1000), "clock_offset_ms",
	                         (json_int_t)transport_clock_offset_ms(a->t), "now_playing", playing, "cache_bytes",
	                         (json_int_t)sync_cache_bytes(a->sync), "last_error",
	                         problem ? problem : transport_last_error(a->t), "os", os, "last_seq",
	                         (json_int_t)a->st->last_seq);
	if (body && !playing)
		json_object_set_new(body, "now_playing", json_null());
	if (body) {
		manage_heartbeat(a->manage, body);
		group_heartbeat(a->group, body);
		update_heartbeat(a->update, body);
	}
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text)
		post_json(a, &a->beat, "heartbeat", "/api/v1/device/heartbeat", text);
	free(text);
	return (int64_t)a->cfg->heartbeat_s * 1000;
}

/* ---------- proof of play ---------- */

static void played_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner;
	if (status == 429) { /* over the screen's proof-of-play quota: the batch waits for the next minute */
		timers_set(T(a), a->played_timer, now_ms() + PLAYED_QUOTA_WAIT_MS);
		return;
	}
	json_array_clear(a->plays); /* delivered, or refused for good (another 4xx) */
	timers_set(T(a), a->played_timer, now_ms() + PLAYED_PERIOD_MS);
}

static void played_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct agent *a = c->owner; /* the batch stays and goes with the next attempt */
	timers_set(T(a), a->played_timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops played_ops = {.answered = played_answered, .failed = played_failed};

static int64_t played_tick(void *arg, int64_t now)
{
	(void)now;
	struct agent *a = arg;
	if (a->phase != PAIRED)
		return PLAYED_PERIOD_MS;
	if (a->played.busy)
		return TIMER_PARK;
	json_t *fresh = kiosk_take_plays(a->kiosk);
	if (fresh && json_array_size(a->plays) < 10000)
		json_array_extend(a->plays, fresh);
	json_decref(fresh);
	if (json_array_size(a->plays) == 0)
		return PLAYED_PERIOD_MS;
	while (json_array_size(a->plays) > 1000) /* the server takes 1000 a request */
		json_array_remove(a->plays, 0);
	json_t *body = json_pack("{s:O}", "plays", a->plays);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text)
		post_json(a, &a->played, "proof of play", "/api/v1/device/played", text);
	free(text);
	return TIMER_PARK;
}

/* ---------- remote-control consent ---------- */

static void consent_answered(struct transport_call *c, long status)
{
	struct agent *a = c->owner; /* 2xx: taken; 4xx (the server gave up waiting): never will be */
	log_event(status / 100 == 2 ? LOG_INFO : LOG_WARN, "remote control consent delivered", "session_id",
	          a->consent_sid, "answer", a->consent_accepted ? "allowed" : "refused", "status",
	          status / 100 == 2 ? "taken" : "refused by the server", NULL);
	a->consent_waiting = false;
	timers_set(T(a), a->consent_timer, now_ms());
}

static void consent_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct agent *a = c->owner; /* the server waits 30 s for it: try again soon, the answer stays */
	timers_set(T(a), a->consent_timer, now_ms() + (f->retry_ms < 2000 ? f->retry_ms : 2000));
}

static const struct transport_call_ops consent_ops = {.answered = consent_answered, .failed = consent_failed};

static int64_t consent_tick(void *arg, int64_t now)
{
	(void)now;
	struct agent *a = arg;
	if (a->consent.busy)
		return TIMER_PARK;
	if (!a->consent_waiting)
		a->consent_waiting =
		    kiosk_take_consent(a->kiosk, a->consent_sid, sizeof a->consent_sid, &a->consent_accepted);
	if (a->consent_waiting && a->phase == PAIRED) {
		char path[128], body[32];
		if (strfmt(path, sizeof path, "/api/v1/device/remote-sessions/%s/consent", a->consent_sid) != 0) {
			a->consent_waiting = false;
			return 0;
		}
		snprintf(body, sizeof body, "{\"accepted\":%s}", a->consent_accepted ? "true" : "false");
		post_json(a, &a->consent, "remote control consent", path, body);
		return TIMER_PARK;
	}
	return kiosk_consent_pending(a->kiosk) ? CONSENT_POLL_MS : TIMER_PARK;
}

/* ---------- content sync acknowledgements ---------- */

static void sync_acknowledge(void *arg, const char *id, bool ok, json_t *result)
{
	struct agent *a = arg;
	queue_ack(a, id, ok, result, NULL);
	state_save(a->st);
}

/* ---------- device management ---------- */

static void manifest_shown(void *arg, const json_t *manifest)
{
	struct agent *a = arg;
	if (a->group)
		group_configure(a->group, json_object_get(manifest, "sync"));
}

static void manage_acknowledge(void *arg, const char *id, bool ok, json_t *result)
{
	struct agent *a = arg;
	queue_ack(a, id, ok, result, NULL);
	state_save(a->st);
}

static void manage_recovered(void *arg, bool ok)
{
	struct agent *a = arg;
	int64_t now = now_ms();
	if (!ok) {
		a->phase = UNPAIRED;
		timers_set(T(a), a->pair_timer, now);
		kiosk_set_status(a->kiosk, "pairing", "");
		return;
	}
	a->phase = PAIRED;
	kiosk_set_status(a->kiosk, "online", "");
	timers_set(T(a), a->poll_timer, now);
	timers_set(T(a), a->beat_timer, now);
	timers_set(T(a), a->work_timer, now);
	sync_request(a->sync, NULL);
	manage_paired(a->manage);
	share_broker_paired(a->broker);
	update_paired(a->update);
}

/* ---------- the loop ---------- */

int agent_run(const struct player_config *cfg, struct player_state *st, struct kiosk *kiosk)
{
	struct agent a = {.cfg = cfg, .st = st, .kiosk = kiosk};
	struct transport_call *calls[] = {&a.pair, &a.poll, &a.beat, &a.work, &a.played, &a.consent};
	int status = 1;
	static const struct transport_events events = {.connectivity = on_connectivity,
	                                               .token_revoked = on_token_revoked};
	static const struct sync_ops sync_ops = {.acknowledge = sync_acknowledge, .manifest_shown = manifest_shown};
	static const struct manage_ops manage_ops = {.acknowledge = manage_acknowledge, .recovered = manage_recovered};
	static const struct update_ops update_ops = {.acknowledge = manage_acknowledge};
	a.t = transport_create(cfg, st, &events, &a);
	a.plays = json_array();
	if (!a.t || !a.plays)
		goto out;
	/* a follow-up action is never replayed from disk (no reboot loops) */
	size_t i;
	json_t *ack;
	json_array_foreach (st->pending_acks, i, ack)
		json_object_del(ack, "then");
	a.phase = transport_paired(a.t) ? PAIRED : UNPAIRED;
	for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++)
		calls[k]->owner = &a;
	a.poll.ops = &poll_ops;
	a.beat.ops = &beat_ops;
	a.played.ops = &played_ops;
	a.work.ops = &ack_ops;
	a.pair.ops = &pair_ops;
	a.consent.ops = &consent_ops;
	int64_t now = now_ms(), paired_now = a.phase == PAIRED ? now : TIMER_NEVER;
	a.next_work_ms = now;
	a.pair_timer = timers_add(T(&a), a.phase == PAIRED ? TIMER_NEVER : now, pair_tick, &a);
	a.poll_timer = timers_add(T(&a), paired_now, poll_tick, &a);
	a.beat_timer = timers_add(T(&a), paired_now, beat_tick, &a);
	a.work_timer = timers_add(T(&a), paired_now, work_tick, &a);
	a.played_timer = timers_add(T(&a), now + PLAYED_PERIOD_MS, played_tick, &a);
	a.consent_timer = timers_add(T(&a), TIMER_NEVER, consent_tick, &a);
	char why[256];
	a.group = group_create(cfg->sync_interface, why, sizeof why);
	if (!a.group) {
		log_event(LOG_ERROR, "sync groups cannot run", "reason", why, NULL);
		goto out;
	}
	kiosk_set_group(kiosk, a.group);
	a.sync = sync_create(a.t, kiosk, cfg, st->dir, &sync_ops, &a);
	a.manage = manage_create(a.t, cfg, st, &manage_ops, &a);
	a.broker = share_broker_create(a.t, cfg->share);
	if (a.phase == PAIRED)
		share_broker_paired(a.broker);
	a.update = a.sync ? update_create(a.t, cfg, st, a.sync, &update_ops, &a) : NULL;
	if (a.update && a.phase == PAIRED)
		update_paired(a.update);
	if (a.manage && a.phase == PAIRED) {
		manage_paired(a.manage);
	} else if (a.manage && st->need_token && manage_recover(a.manage)) {
		a.phase = RECOVERING; /* the token file was damaged: prove the key instead of pairing again */
		timers_set(T(&a), a.pair_timer, TIMER_NEVER);
	}
	struct remote_host_config rcfg = {.vnc_command = cfg->vnc_command,
	                                  .vnc_server = cfg->vnc_server,
	                                  .vnc_password_file = cfg->vnc_password_file,
	                                  .relay_ca = cfg->relay_ca,
	                                  .run_dir = st->dir,
	                                  .host_sk = st->secret_key};
	a.remote = remote_host_create(&rcfg);
	if (!a.remote)
		log_event(LOG_ERROR, "remote control cannot be set up (out of memory?)", NULL);
	if (!a.sync || !a.manage || !a.update || a.pair_timer < 0 || a.poll_timer < 0 || a.beat_timer < 0 ||
	    a.work_timer < 0 || a.played_timer < 0 || a.consent_timer < 0)
		goto out;
	kiosk_set_status(kiosk, a.phase == PAIRED ? "connecting" : "pairing", "");
	status = transport_run(a.t, &agent_stop);
out:
	kiosk_set_group(kiosk, NULL);
	group_destroy(a.group);
	remote_host_destroy(a.remote);
	update_destroy(a.update);
	share_broker_destroy(a.broker);
	manage_destroy(a.manage);
	sync_destroy(a.sync);
	for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++)
		if (calls[k]->t)
			transport_call_free(calls[k]);
	transport_destroy(a.t);
	json_decref(a.plays);
	free(a.shot);
	sodium_memzero(a.device_code, sizeof a.device_code);
	return status;
}
