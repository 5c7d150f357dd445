/* Device management on the player; see manage.h. */
#include "manage.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "common/codes.h"
#include "common/log.h"
#include "common/power_schedule.h"
#include "common/strfmt.h"
#include "inventory.h"
#include "logs_archive.h"
#include "state.h"
#include "timers.h"
#include "transport.h"
#include "update.h"

#define INVENTORY_CHECK_MS (5 * 60 * 1000)
#define POWER_CHECK_MS     15000
#define RECOVER_GAP_MS     60000
#define LOGS_DEFAULT_BYTES (4u << 20)
#define POWER_FILE         "power.json"

enum recovery { REC_IDLE, REC_CHALLENGE, REC_PROOF };

struct manage {
	struct transport *t;
	const struct player_config *cfg;
	struct player_state *st;
	const struct manage_ops *ops;
	void *arg;
	struct transport_call inv, logs, config, key, rec;
	int inv_timer, power_timer;
	json_t *reported; /* signature of the last inventory the server took */
	json_t *schedule; /* the display power schedule */
	int display;      /* -1 unknown, 0 off, 1 on: what the commands last set */
	int override;     /* -1 none, else a display_power state kept until the schedule turns */
	int scheduled;    /* what the schedule said at the last check (-1 never) */
	char logs_id[CODES_ID_LEN + 1];
	enum recovery rec_step;
	int64_t rec_last_ms;
	bool send_key, fetch_config;
};

static int64_t now_ms(void)
{
	return transport_mono_ms();
}

static struct timers *T(struct manage *m)
{
	return transport_timers(m->t);
}

static void post(struct manage *m, struct transport_call *c, const char *what, const char *method, const char *path,
                 const char *body, size_t len, const char *type, bool with_token)
{
	struct transport_request req = {.what = what,
	                                .method = method,
	                                .path = path,
	                                .body = body,
	                                .body_len = len,
	                                .content_type = type,
	                                .timeout_s = 60,
	                                .with_token = with_token};
	if (transport_start(m->t, c, &req) != 0)
		log_event(LOG_ERROR, "cannot start a request", "what", what, NULL);
}

static void post_json(struct manage *m, struct transport_call *c, const char *what, const char *method,
                      const char *path, json_t *body, bool with_token)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text)
		post(m, c, what, method, path, text, strlen(text), "application/json", with_token);
	free(text);
}

static json_t *reason(const char *text)
{
	return json_pack("{s:s}", "reason", text);
}

/* ---------- inventory ---------- */

static void inv_answered(struct transport_call *c, long status)
{
	struct manage *m = c->owner;
	json_t *j = transport_call_json(c);
	if (status != 200) {
		log_event(LOG_WARN, "the server did not take the inventory", "detail",
		          json_string_value(json_object_get(json_object_get(j, "error"), "message")), NULL);
		json_decref(m->reported);
		m->reported = NULL; /* again at the next check */
	}
	json_decref(j);
}

static void inv_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct manage *m = c->owner;
	json_decref(m->reported);
	m->reported = NULL;
	timers_set(T(m), m->inv_timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops inv_ops = {.answered = inv_answered, .failed = inv_failed};

static int64_t inv_tick(void *arg, int64_t now)
{
	(void)now;
	struct manage *m = arg;
	if (!transport_paired(m->t))
		return TIMER_PARK; /* manage_paired sets it */
	if (m->inv.busy)
		return 1000;
	json_t *inv = inventory_collect(m->st->dir, m->cfg->version);
	json_t *sig = inventory_signature(inv);
	if (m->reported && json_equal(sig, m->reported)) {
		json_decref(sig);
		json_decref(inv);
		return INVENTORY_CHECK_MS;
	}
	json_decref(m->reported);
	m->reported = sig;
	post_json(m, &m->inv, "inventory", "POST", "/api/v1/device/inventory", inv, true);
	return INVENTORY_CHECK_MS;
}

/* ---------- display power ---------- */

static void local_time(int *weekday, int *minute)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	*weekday = tm.tm_wday == 0 ? 7 : tm.tm_wday;
	*minute = tm.tm_hour * 60 + tm.tm_min;
}

/* Runs the command for state on (1) or off (0); true when it succeeded. */
static bool switch_display(struct manage *m, int on, char *err, size_t errsz)
{
	const char *cmd = on ? m->cfg->display_on_command : m->cfg->display_off_command;
	if (!cmd || !*cmd) {
		snprintf(err, errsz, "no display_%s_command is configured on this player", on ? "on" : "off");
		return false;
	}
	struct action_output out;
	int rc = action_run(cmd, -1, 20, 4096, &out);
	if (rc != 0)
		snprintf(err, errsz, "%s", out.err[0] ? out.err : "the display command failed");
	action_output_free(&out);
	if (rc == 0) {
		m->display = on;
		log_event(LOG_INFO, on ? "display on" : "display off", NULL);
	}
	return rc == 0;
}

static int64_t power_tick(void *arg, int64_t now)
{
	(void)now;
	struct manage *m = arg;
	if (json_array_size(m->schedule) == 0 && m->override < 0)
		return POWER_CHECK_MS; /* no schedule: the display is left as it is */
	int weekday, minute;
	local_time(&weekday, &minute);
	int want = power_schedule_on(m->schedule, weekday, minute) ? 1 : 0;
	if (want != m->scheduled && m->scheduled >= 0)
		m->override = -1; /* the schedule turned: a manual switch lasts until then */
	m->scheduled = want;
	if (m->override >= 0)
		want = m->override;
	char err[256];
	if (want != m->display && !switch_display(m, want, err, sizeof err))
		log_event(LOG_ERROR, "cannot switch the display", "detail", err, NULL);
	return POWER_CHECK_MS;
}

static void set_schedule(struct manage *m, json_t *schedule, bool save)
{
	json_decref(m->schedule);
	m->schedule = json_incref(schedule);
	m->scheduled = -1;
	m->override = -1;
	if (save) {
		char *text = json_dumps(schedule, JSON_COMPACT);
		if (!text || state_write_file(m->st->dir, POWER_FILE, text, strlen(text), 0600) != 0)
			log_event(LOG_ERROR, "cannot save the power schedule", NULL);
		free(text);
	}
	timers_set(T(m), m->power_timer, now_ms());
}

static void load_schedule(struct manage *m)
{
	char path[1200], err[200];
	json_error_t e;
	bool present = strfmt(path, sizeof path, "%s/%s", m->st->dir, POWER_FILE) == 0 && access(path, F_OK) == 0;
	json_t *s = present ? json_load_file(path, 0, &e) : NULL;
	if (present && (!s || power_schedule_check(s, err, sizeof err))) {
		char aside[1220];
		if (strfmt(aside, sizeof aside, "%s.damaged", path) == 0)
			rename(path, aside);
		state_note_restored(m->st, POWER_FILE, "damaged", "the power schedule is asked of the server");
		m->fetch_config = true;
		json_decref(s);
		s = NULL;
	}
	m->schedule = s ? s : json_array();
}

/* ---------- collected logs ---------- */

static void logs_answered(struct transport_call *c, long status)
{
	struct manage *m = c->owner;
	json_t *j = transport_call_json(c);
	const char *id = json_string_value(json_object_get(j, "id"));
	if (status == 201 && id)
		m->ops->acknowledge(m->arg, m->logs_id, true,
		                    json_pack("{s:s, s:O?}", "log_id", id, "size", json_object_get(j, "size")));
	else
		m->ops->acknowledge(m->arg, m->logs_id, false,
		                    reason(status == 413 ? "the server refused the archive as too large"
		                                         : "the server refused the logs"));
	json_decref(j);
}

static void logs_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct manage *m = c->owner;
	char msg[300];
	snprintf(msg, sizeof msg, "the logs could not be uploaded: %s", f->detail ? f->detail : "network error");
	m->ops->acknowledge(m->arg, m->logs_id, false, reason(msg));
}

static const struct transport_call_ops logs_ops = {.answered = logs_answered, .failed = logs_failed};

static void collect_logs(struct manage *m, const char *id, json_t *payload)
{
	if (m->logs.busy) {
		m->ops->acknowledge(m->arg, id, false, reason("another log upload is under way; ask again later"));
		return;
	}
	json_t *max = json_object_get(payload, "max_bytes");
	size_t max_bytes =
	    json_is_integer(max) && json_integer_value(max) >= 4096 && json_integer_value(max) <= (16 << 20)
	        ? (size_t)json_integer_value(max)
	        : LOGS_DEFAULT_BYTES;
	json_t *inv = inventory_collect(m->st->dir, m->cfg->version);
	char *archive = NULL, err[200], path[128];
	size_t len = 0;
	int rc = logs_archive_build(m->st->dir, m->cfg->logs_command, inv, max_bytes, &archive, &len, err, sizeof err);
	json_decref(inv);
	if (rc != 0 || strfmt(path, sizeof path, "/api/v1/device/logs?instruction=%s", id) != 0) {
		free(archive);
		m->ops->acknowledge(m->arg, id, false, reason(rc != 0 ? err : "bad instruction id"));
		return;
	}
	snprintf(m->logs_id, sizeof m->logs_id, "%s", id);
	log_event(LOG_INFO, "uploading logs", "instruction", id, NULL);
	post(m, &m->logs, "logs upload", "POST", path, archive, len, "application/gzip", true);
	free(archive);
}

/* ---------- restoring from the server ---------- */

static void config_answered(struct transport_call *c, long status)
{
	struct manage *m = c->owner;
	json_t *j = transport_call_json(c);
	json_t *cfg = json_object_get(j, "config");
	json_t *seq = json_object_get(cfg, "last_acked_seq"), *schedule = json_object_get(cfg, "power_schedule");
	const char *device_id = json_string_value(json_object_get(cfg, "device_id"));
	char err[200];
	if (status == 200 && json_is_integer(seq) && device_id && codes_is_id(device_id)) {
		m->fetch_config = false;
		if (json_integer_value(seq) > m->st->last_seq)
			m->st->last_seq = json_integer_value(seq);
		if (strcmp(m->st->device_id, device_id) != 0) {
			snprintf(m->st->device_id, sizeof m->st->device_id, "%s", device_id);
			state_write_file(m->st->dir, "device_id", device_id, strlen(device_id), 0600);
		}
		state_save(m->st);
		if (schedule && !power_schedule_check(schedule, err, sizeof err) && !json_equal(schedule, m->schedule))
			set_schedule(m, schedule, true);
		log_event(LOG_INFO, "configuration restored from the server", NULL);
	}
	json_decref(j);
}

static void quiet_failed(struct transport_call *c, const struct transport_failure *f)
{
	(void)c; /* tried again at the next manage_paired (start, pairing, recovery) or inventory check */
	(void)f;
}

static const struct transport_call_ops config_ops = {.answered = config_answered, .failed = quiet_failed};

static void key_answered(struct transport_call *c, long status)
{
	struct manage *m = c->owner;
	if (status == 200) {
		m->send_key = false;
		log_event(LOG_INFO, "the new pairing key is registered with the server", NULL);
	}
}

static const struct transport_call_ops key_ops = {.answered = key_answered, .failed = quiet_failed};

static void restore_due(struct manage *m)
{
	if (m->send_key && !m->key.busy) {
		post_json(m, &m->key, "key registration", "PUT", "/api/v1/device/key",
		          json_pack("{s:s}", "public_key", m->st->public_key_b64), true);
	}
	if (m->fetch_config && !m->config.busy) {
		struct transport_request req = {.what = "configuration",
		                                .method = "GET",
		                                .path = "/api/v1/device/config",
		                                .timeout_s = 30,
		                                .with_token = true};
		transport_start(m->t, &m->config, &req);
	}
}

static void rec_answered(struct transport_call *c, long status)
{
	struct manage *m = c->owner;
	json_t *j = transport_call_json(c);
	if (m->rec_step == REC_CHALLENGE && status == 200) {
		const char *challenge = json_string_value(json_object_get(j, "challenge"));
		char message[256], sig64[128];
		unsigned char sig[crypto_sign_BYTES];
		int n = challenge ? snprintf(message, sizeof message, "vitrine-recover-1\n%s\n%s", challenge,
		                             m->st->public_key_b64)
		                  : -1;
		if (n > 0 && (size_t)n < sizeof message) {
			crypto_sign_detached(sig, NULL, (const unsigned char *)message, (size_t)n, m->st->secret_key);
			sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
			m->rec_step = REC_PROOF;
			post_json(m, &m->rec, "recovery", "POST", "/api/v1/device/recover",
			          json_pack("{s:s, s:s, s:s}", "public_key", m->st->public_key_b64, "challenge",
			                    challenge, "signature", sig64),
			          false);
			json_decref(j);
			return;
		}
	} else if (m->rec_step == REC_PROOF && status == 200) {
		const char *token = json_string_value(json_object_get(j, "access_token"));
		const char *device_id = json_string_value(json_object_get(j, "device_id"));
		if (token && device_id && codes_is_id(device_id) && transport_save_token(m->t, token, device_id) == 0) {
			update_save_keys(m->st, json_object_get(j, "release_keys"));
			transport_call_wipe(c);
			json_decref(j);
			m->rec_step = REC_IDLE;
			m->st->need_token = false;
			m->fetch_config = true; /* the last instruction done, the schedule */
			state_note_restored(m->st, "token", "refused or damaged", "recovered with the pairing key");
			m->ops->recovered(m->arg, true);
			return;
		}
	}
	log_event(LOG_WARN, "the token could not be recovered; pairing again", "status",
	          status == 404 ? "no paired screen has this key" : "refused", NULL);
	transport_call_wipe(c);
	json_decref(j);
	m->rec_step = REC_IDLE;
	m->st->need_token = false;
	m->ops->recovered(m->arg, false);
}

static void rec_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct manage *m = c->owner;
	(void)f; /* the network: pairing (which retries with back-off) takes over */
	m->rec_step = REC_IDLE;
	m->ops->recovered(m->arg, false);
}

static const struct transport_call_ops rec_ops = {.answered = rec_answered, .failed = rec_failed};

bool manage_recover(struct manage *m)
{
	int64_t now = now_ms();
	if (m->rec_step != REC_IDLE || m->rec.busy || (m->rec_last_ms && now - m->rec_last_ms < RECOVER_GAP_MS))
		return false;
	m->rec_last_ms = now;
	m->rec_step = REC_CHALLENGE;
	log_event(LOG_INFO, "asking the server for a new token with the pairing key", NULL);
	post(m, &m->rec, "recovery", "POST", "/api/v1/device/challenge", "", 0, "application/json", false);
	return true;
}

/* ---------- the agent's side ---------- */

struct manage *manage_create(struct transport *t, const struct player_config *cfg, struct player_state *st,
                             const struct manage_ops *ops, void *arg)
{
	struct manage *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->t = t;
	m->cfg = cfg;
	m->st = st;
	m->ops = ops;
	m->arg = arg;
	m->display = -1;
	m->override = -1;
	m->scheduled = -1;
	m->send_key = st->need_key_sent;
	m->fetch_config = st->need_config;
	struct transport_call *calls[] = {&m->inv, &m->logs, &m->config, &m->key, &m->rec};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		calls[i]->owner = m;
	m->inv.ops = &inv_ops;
	m->logs.ops = &logs_ops;
	m->config.ops = &config_ops;
	m->key.ops = &key_ops;
	m->rec.ops = &rec_ops;
	load_schedule(m);
	m->inv_timer = timers_add(T(m), TIMER_NEVER, inv_tick, m);
	m->power_timer = timers_add(T(m), now_ms(), power_tick, m);
	if (m->inv_timer < 0 || m->power_timer < 0) {
		manage_destroy(m);
		return NULL;
	}
	return m;
}

void manage_destroy(struct manage *m)
{
	if (!m)
		return;
	struct transport_call *calls[] = {&m->inv, &m->logs, &m->config, &m->key, &m->rec};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (calls[i]->t)
			transport_call_free(calls[i]);
	json_decref(m->reported);
	json_decref(m->schedule);
	free(m);
}

void manage_paired(struct manage *m)
{
	json_decref(m->reported);
	m->reported = NULL; /* a (new) pairing: the server hears the inventory again */
	timers_set(T(m), m->inv_timer, now_ms());
	restore_due(m);
}

bool manage_execute(struct manage *m, const char *id, const char *type, json_t *payload)
{
	char err[256];
	if (strcmp(type, "collect_logs") == 0) {
		collect_logs(m, id, payload);
	} else if (strcmp(type, "display_power") == 0) {
		json_t *on = json_object_get(payload, "on");
		if (!json_is_boolean(on)) {
			m->ops->acknowledge(m->arg, id, false, reason("payload.on must be true or false"));
		} else if (switch_display(m, json_is_true(on), err, sizeof err)) {
			m->override = json_is_true(on);
			m->ops->acknowledge(m->arg, id, true, json_pack("{s:b}", "on", json_is_true(on)));
		} else {
			m->ops->acknowledge(m->arg, id, false, reason(err));
		}
	} else if (strcmp(type, "power_schedule") == 0) {
		json_t *schedule = json_object_get(payload, "schedule");
		if (power_schedule_check(schedule, err, sizeof err)) {
			m->ops->acknowledge(m->arg, id, false, reason(err));
		} else {
			set_schedule(m, schedule, true);
			power_tick(m, now_ms());
			m->ops->acknowledge(m->arg, id, true,
			                    json_pack("{s:I, s:s}", "periods", (json_int_t)json_array_size(schedule),
			                              "display",
			                              m->display == 1   ? "on"
			                              : m->display == 0 ? "off"
			                                                : "unchanged"));
		}
	} else {
		return false;
	}
	return true;
}

void manage_heartbeat(struct manage *m, json_t *body)
{
	json_object_set_new(body, "display_power",
	                    json_string(m->display == 1   ? "on"
	                                : m->display == 0 ? "off"
	                                                  : "unknown"));
	if (json_array_size(m->st->restored))
		json_object_set(body, "restored", m->st->restored);
	restore_due(m); /* what failed before is tried again with the heartbeat */
}
