/*
 * Rollouts: a signed release sent to the screens of a target (a dynamic
 * group, a rule or a list) in phases. The screens are put in a fixed,
 * random-looking order (by a hash of the rollout and screen ids) and a
 * phase takes them up to its cumulative percentage (1 % -> 10 % -> 100 %,
 * at least one screen a phase). A phase's screens get an `update`
 * instruction (only inside the maintenance window, when there is one);
 * each reports its steps (POST /api/v1/device/update-status) and when all
 * of them have finished (committed, failed or rolled back) the next phase
 * starts. As soon as the failures of the phase pass the failure threshold
 * (a percentage of its screens) the rollout pauses itself; an admin may
 * resume it (the failures so far are then accepted), pause it or cancel it.
 *
 * The engine (rollout_advance) runs in the transaction of whatever
 * changed: a creation, a report, a resume; and every 30 seconds for the
 * maintenance windows that open.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/periodic.h"
#include "../../common/power_schedule.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../mdm/mdm.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "../store/tx.h"
#include "updates.h"

#define MAX_PHASES       10
#define DEFAULT_HEALTH_S 120
#define MAX_HEALTH_S     3600
#define UPDATE_TTL_S     (7 * 24 * 3600)
#define WINDOW_PERIOD_S  30

/* The steps a player reports (src/player/update.h); the last three end it. */
static const char *const steps[] = {"accepted", "verified",  "downloading", "downloaded",  "installed", "restarting",
                                    "started",  "committed", "failed",      "rolled_back", NULL};
#define FINISHED       "('committed','failed','rolled_back')"
#define ROLLOUT_ABSENT 100 /* rollout_load: no such rollout (neither DB_DONE nor an error) */
#define FAILURES       "('failed','rolled_back')"

static bool known_step(const char *s)
{
	for (const char *const *p = steps; s && *p; p++)
		if (strcmp(*p, s) == 0)
			return true;
	return false;
}

struct rollout {
	char id[CODES_ID_LEN + 1], account_id[CODES_ID_LEN + 1], release_id[CODES_ID_LEN + 1], state[16];
	json_t *phases, *window;
	int64_t threshold, health_s, phase, accepted_failures;
	bool rollback;
};

static void rollout_release(struct rollout *ro)
{
	json_decref(ro->phases);
	json_decref(ro->window);
	ro->phases = ro->window = NULL;
}

static int rollout_load(struct db *db, const char *id, struct rollout *ro)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, account_id, release_id, state, phases, maintenance_window, "
	                              "failure_threshold, health_s, phase, accepted_failures, rollback FROM rollouts "
	                              "WHERE id = ?",
	                              "s", id);
	if (!st)
		return rc == DB_DONE ? ROLLOUT_ABSENT : rc;
	memset(ro, 0, sizeof *ro);
	snprintf(ro->id, sizeof ro->id, "%s", db_col_text(st, 0));
	snprintf(ro->account_id, sizeof ro->account_id, "%s", db_col_text(st, 1));
	snprintf(ro->release_id, sizeof ro->release_id, "%s", db_col_text(st, 2));
	snprintf(ro->state, sizeof ro->state, "%s", db_col_text(st, 3));
	json_error_t e;
	ro->phases = json_loads(db_col_text(st, 4), 0, &e);
	ro->window = json_loads(db_col_text(st, 5), 0, &e);
	ro->threshold = db_col_int(st, 6);
	ro->health_s = db_col_int(st, 7);
	ro->phase = db_col_int(st, 8);
	ro->accepted_failures = db_col_int(st, 9);
	ro->rollback = db_col_int(st, 10) != 0;
	db_done(st);
	if (!json_is_array(ro->phases))
		ro->phases = json_array();
	if (!json_is_array(ro->window))
		ro->window = json_array();
	return DB_DONE;
}

/* The update instruction of the rollout's release (payload text). */
static char *update_payload(struct db *db, const struct rollout *ro)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT name, version, sha256, size FROM releases WHERE id = ?", "s", ro->release_id);
	if (!st)
		return NULL;
	json_t *p =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I}", "rollout_id", ro->id, "release_id", ro->release_id,
	              "name", db_col_text(st, 0), "version", db_col_text(st, 1), "sha256", db_col_text(st, 2), "size",
	              (json_int_t)db_col_int(st, 3), "rollback", ro->rollback, "health_s", (json_int_t)ro->health_s);
	db_done(st);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	return text;
}

static bool in_window(json_t *window, time_t now)
{
	if (json_array_size(window) == 0)
		return true;
	struct tm tm;
	gmtime_r(&now, &tm);
	return power_schedule_on(window, tm.tm_wday == 0 ? 7 : tm.tm_wday, tm.tm_hour * 60 + tm.tm_min);
}

static int send_phase(struct db *db, const struct rollout *ro)
{
	char *payload = update_payload(db, ro);
	if (!payload)
		return DB_ERROR;
	json_error_t e;
	struct screens_instruction ins = {
	    .type = "update", .payload = json_loads(payload, 0, &e), .payload_text = payload, .ttl_s = UPDATE_TTL_S};
	struct db_stmt *st = db_prepare(db, "SELECT screen_id FROM rollout_screens WHERE rollout_id = ? AND phase = ? "
	                                    "AND status = 'waiting'");
	int rc = st ? DB_DONE : DB_ERROR;
	char(*ids)[CODES_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	if (st) {
		db_bind_text(st, 1, ro->id);
		db_bind_int(st, 2, ro->phase);
		while (db_step(st) == DB_ROW) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				void *grown = realloc(ids, cap * sizeof *ids);
				if (!grown) {
					rc = DB_ERROR;
					break;
				}
				ids = grown;
			}
			snprintf(ids[n++], sizeof ids[0], "%s", db_col_text(st, 0));
		}
		db_done(st);
	}
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < n && rc == DB_DONE; i++) {
		char iid[CODES_ID_LEN + 1];
		if (screens_instruction_queue(db, ids[i], &ins, "rollout", NULL, iid) < 0)
			rc = DB_ERROR;
		else
			rc = db_exec(
			    db,
			    "UPDATE rollout_screens SET status = 'sent', instruction_id = ?, updated_at = ? WHERE "
			    "rollout_id = ? AND screen_id = ?",
			    "siss", iid, now, ro->id, ids[i]);
	}
	free(ids);
	json_decref(ins.payload);
	free(payload);
	return rc;
}

static int set_state(struct db *db, struct rollout *ro, const char *state, const char *reason)
{
	snprintf(ro->state, sizeof ro->state, "%s", state);
	return db_exec(db, "UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?", "ssis", state,
	               reason, (int64_t)time(NULL), ro->id);
}

int rollout_advance(struct db *db, const char *id)
{
	struct rollout ro;
	int rc = rollout_load(db, id, &ro);
	if (rc != DB_DONE)
		return rc == ROLLOUT_ABSENT ? DB_DONE : rc;
	for (int guard = 0; guard <= MAX_PHASES && rc == DB_DONE && strcmp(ro.state, "running") == 0; guard++) {
		struct db_stmt *st = db_query(
		    db, &rc,
		    "SELECT COUNT(*), COALESCE(SUM(status IN " FINISHED "), 0), COALESCE(SUM(status IN " FAILURES
		    "), 0), COALESCE(SUM(status = 'waiting'), 0) FROM rollout_screens WHERE rollout_id = ? AND "
		    "phase = ?",
		    "si", ro.id, ro.phase);
		if (!st)
			break;
		int64_t total = db_col_int(st, 0), finished = db_col_int(st, 1), failures = db_col_int(st, 2),
		        waiting = db_col_int(st, 3);
		db_done(st);
		rc = DB_DONE;
		if ((failures - ro.accepted_failures) * 100 > ro.threshold * total) {
			char reason[200];
			snprintf(reason, sizeof reason,
			         "paused by itself: %lld of the %lld screens of phase %lld failed (more than %lld %%)",
			         (long long)failures, (long long)total, (long long)ro.phase + 1,
			         (long long)ro.threshold);
			rc = set_state(db, &ro, "paused", reason);
			if (rc == DB_DONE)
				audit_append(db, ro.account_id, NULL, "", "", "rollout.paused", ro.id, reason);
			break;
		}
		if (waiting > 0) {
			if (in_window(ro.window, time(NULL)))
				rc = send_phase(db, &ro);
			break;
		}
		if (finished < total)
			break; /* the phase is under way */
		if (ro.phase + 1 >= (int64_t)json_array_size(ro.phases)) {
			rc = set_state(db, &ro, "done", "every phase finished");
			break;
		}
		ro.phase++;
		ro.accepted_failures = 0;
		rc = db_exec(db, "UPDATE rollouts SET phase = ?, accepted_failures = 0, updated_at = ? WHERE id = ?",
		             "iis", ro.phase, (int64_t)time(NULL), ro.id);
	}
	if (rc == DB_DONE)
		db_notifyf(db, "account:%s", ro.account_id); /* the console's live view of it */
	rollout_release(&ro);
	return rc;
}

/* ---------- the console's side ---------- */

static bool check_phases(struct http_req *r, json_t *phases)
{
	if (!phases)
		return true;
	json_int_t last = 0;
	size_t i;
	json_t *p;
	bool ok = json_is_array(phases) && json_array_size(phases) >= 1 && json_array_size(phases) <= MAX_PHASES;
	json_array_foreach (phases, i, p) {
		json_int_t v = json_is_integer(p) ? json_integer_value(p) : 0;
		ok = ok && v > last && v <= 100;
		last = v;
	}
	if (!ok || last != 100)
		http_reply_error(r, 400, "invalid_field",
		                 "phases must be 1 to %d rising percentages ending with 100, such as [1, 10, 100]",
		                 MAX_PHASES);
	return ok && last == 100;
}

struct ordered {
	char key[65];
	const char *screen_id;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct ordered *)a)->key, ((const struct ordered *)b)->key);
}

/* Inserts the screens with their phases: the first ceil(N * p / 100) in
 * the order of hash(rollout id, screen id) belong to the phase of p. */
static int assign_phases(struct db *db, const char *rollout_id, json_t *screens, json_t *phases)
{
	size_t n = json_array_size(screens);
	struct ordered *o = calloc(n ? n : 1, sizeof *o);
	if (!o)
		return DB_ERROR;
	for (size_t i = 0; i < n; i++) {
		o[i].screen_id = json_string_value(json_object_get(json_array_get(screens, i), "id"));
		unsigned char h[crypto_hash_sha256_BYTES];
		crypto_hash_sha256_state s;
		crypto_hash_sha256_init(&s);
		crypto_hash_sha256_update(&s, (const unsigned char *)rollout_id, strlen(rollout_id));
		crypto_hash_sha256_update(&s, (const unsigned char *)o[i].screen_id, strlen(o[i].screen_id));
		crypto_hash_sha256_final(&s, h);
		sodium_bin2hex(o[i].key, sizeof o[i].key, h, sizeof h);
	}
	qsort(o, n, sizeof *o, by_key);
	int rc = DB_DONE;
	int64_t now = (int64_t)time(NULL);
	size_t phase = 0;
	for (size_t i = 0; i < n && rc == DB_DONE; i++) {
		while (phase + 1 < json_array_size(phases)) {
			size_t upto = (n * (size_t)json_integer_value(json_array_get(phases, phase)) + 99) / 100;
			if (upto < phase + 1)
				upto = phase + 1; /* at least one screen a phase */
			if (i < upto)
				break;
			phase++;
		}
		rc =
		    db_exec(db, "INSERT INTO rollout_screens(rollout_id, screen_id, phase, updated_at) VALUES(?,?,?,?)",
		            "ssii", rollout_id, o[i].screen_id, (int64_t)phase, now);
	}
	free(o);
	return rc;
}

int updates_handle_rollout_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	static const char *const fields[] = {
	    "release_id", "target", "phases", "failure_threshold", "health_s", "rollback", "maintenance_window", NULL};
	const char *key;
	json_t *v;
	json_object_foreach (body, key, v) {
		const char *const *f = fields;
		while (*f && strcmp(*f, key) != 0)
			f++;
		if (!*f)
			return http_reply_error(
			    r, 400, "unknown_field",
			    "unknown field \"%.64s\" (release_id, target, phases, failure_threshold, "
			    "health_s, rollback, maintenance_window)",
			    key);
	}
	const char *release_id = json_string_value(json_object_get(body, "release_id"));
	json_t *phases = json_object_get(body, "phases"), *threshold = json_object_get(body, "failure_threshold");
	json_t *health = json_object_get(body, "health_s"), *rollback = json_object_get(body, "rollback");
	json_t *window = json_object_get(body, "maintenance_window");
	int rc;
	struct db_stmt *st = release_id && codes_is_id(release_id)
	                         ? db_query(r->db, &rc, "SELECT version FROM releases WHERE id = ? AND account_id = ?",
	                                    "ss", release_id, r->auth.account_id)
	                         : NULL;
	db_done(st);
	if (!st)
		return http_reply_error(r, 404, "not_found", "release_id: no such release in this account");
	if (!check_phases(r, phases))
		return 0;
	if (threshold &&
	    (!json_is_integer(threshold) || json_integer_value(threshold) < 0 || json_integer_value(threshold) > 100))
		return http_reply_error(r, 400, "invalid_field", "failure_threshold must be a percentage (0-100)");
	if (health &&
	    (!json_is_integer(health) || json_integer_value(health) < 5 || json_integer_value(health) > MAX_HEALTH_S))
		return http_reply_error(r, 400, "invalid_field", "health_s must be 5 to %d seconds", MAX_HEALTH_S);
	if (rollback && !json_is_boolean(rollback))
		return http_reply_error(r, 400, "invalid_field", "rollback must be true or false");
	char err[200];
	if (window && power_schedule_check(window, err, sizeof err))
		return http_reply_error(r, 400, "invalid_field", "maintenance_window: %s", err);
	json_t *target = json_object_get(body, "target");
	json_t *screens = mdm_target_screens(r, target);
	if (!screens)
		return 0;
	if (json_array_size(screens) == 0) {
		json_decref(screens);
		return http_reply_error(r, 400, "no_screens", "the target matches no screen of this account");
	}
	/* a rollout to a group takes the group's maintenance window unless it has its own */
	char *window_text = NULL;
	const char *group = json_string_value(json_object_get(target, "group_id"));
	if (!window && group &&
	    (st = db_query(r->db, &rc, "SELECT maintenance_window FROM screen_groups WHERE id = ?", "s", group))) {
		window_text = strdup(db_col_text(st, 0));
		db_done(st);
	} else {
		window_text = window ? json_dumps(window, JSON_COMPACT) : strdup("[]");
	}
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	char *target_text = json_dumps(target, JSON_COMPACT);
	json_t *phase_list = phases ? json_incref(phases) : json_pack("[i]", 100);
	char *phases_text = json_dumps(phase_list, JSON_COMPACT);
	int64_t now = (int64_t)time(NULL);
	rc = target_text && phases_text && window_text
	         ? db_exec(
	               r->db,
	               "INSERT INTO rollouts(id, account_id, release_id, target, phases, failure_threshold, health_s, "
	               "rollback, maintenance_window, state, created_at, created_by, updated_at) "
	               "VALUES(?,?,?,?,?,?,?,?,?,'running',?,?,?)",
	               "sssssiiisisi", id, r->auth.account_id, release_id, target_text, phases_text,
	               threshold ? (int64_t)json_integer_value(threshold) : (int64_t)10,
	               health ? (int64_t)json_integer_value(health) : (int64_t)DEFAULT_HEALTH_S,
	               (int64_t)json_is_true(rollback), window_text, now, r->auth.login, now)
	         : DB_ERROR;
	if (rc == DB_DONE)
		rc = assign_phases(r->db, id, screens, phase_list);
	if (rc == DB_DONE)
		rc = rollout_advance(r->db, id);
	free(target_text);
	free(phases_text);
	free(window_text);
	json_decref(phase_list);
	size_t count = json_array_size(screens);
	json_decref(screens);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the rollout could not be saved");
	char detail[64];
	snprintf(detail, sizeof detail, "%zu screens", count);
	audit_request(r, "rollout.created", id, detail);
	return updates_reply_rollout(r, id, 201);
}

/* {total, waiting, sent, in_progress, committed, failed} of a phase (or all when phase < 0) */
static json_t *counts(struct db *db, const char *id, int64_t phase)
{
	struct db_stmt *st =
	    db_prepare(db, "SELECT COUNT(*), COALESCE(SUM(status = 'waiting'), 0), "
	                   "COALESCE(SUM(status = 'sent'), 0), COALESCE(SUM(status = 'committed'), 0), "
	                   "COALESCE(SUM(status IN " FAILURES "), 0) FROM rollout_screens WHERE "
	                   "rollout_id = ? AND (? < 0 OR phase = ?)");
	json_t *c = NULL;
	if (st) {
		db_bind_text(st, 1, id);
		db_bind_int(st, 2, phase);
		db_bind_int(st, 3, phase);
		if (db_step(st) == DB_ROW) {
			int64_t total = db_col_int(st, 0), waiting = db_col_int(st, 1), sent = db_col_int(st, 2),
			        done = db_col_int(st, 3), failed = db_col_int(st, 4);
			c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)total, "waiting",
			              (json_int_t)waiting, "sent", (json_int_t)sent, "in_progress",
			              (json_int_t)(total - waiting - sent - done - failed), "committed",
			              (json_int_t)done, "failed", (json_int_t)failed);
		}
		db_done(st);
	}
	return c ? c : json_object();
}

static json_t *rollout_json(struct db *db, struct db_stmt *st)
{
	json_error_t e;
	json_t *target = json_loads(db_col_text(st, 2), 0, &e), *phases = json_loads(db_col_text(st, 3), 0, &e);
	json_t *window = json_loads(db_col_text(st, 7), 0, &e);
	const char *id = db_col_text(st, 0);
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:b, s:o, s:s, s:I, s:s, s:I, s:s, s:I, s:o}", "id", id,
	                      "release_id", db_col_text(st, 1), "target", target ? target : json_object(), "phases",
	                      phases ? phases : json_array(), "failure_threshold", (json_int_t)db_col_int(st, 4),
	                      "health_s", (json_int_t)db_col_int(st, 5), "rollback", db_col_int(st, 6) != 0,
	                      "maintenance_window", window ? window : json_array(), "state", db_col_text(st, 8),
	                      "phase", (json_int_t)db_col_int(st, 9), "reason", db_col_text(st, 10), "created_at",
	                      (json_int_t)db_col_int(st, 11), "created_by", db_col_text(st, 12), "updated_at",
	                      (json_int_t)db_col_int(st, 13), "counts", counts(db, id, -1));
	if (j)
		json_object_set_new(
		    j, "release", json_pack("{s:s, s:s}", "name", db_col_text(st, 14), "version", db_col_text(st, 15)));
	return j;
}

#define ROLLOUT_SELECT                                                                                                 \
	"SELECT o.id, o.release_id, o.target, o.phases, o.failure_threshold, o.health_s, o.rollback, "                 \
	"o.maintenance_window, o.state, o.phase, o.reason, o.created_at, o.created_by, o.updated_at, r.name, "         \
	"r.version FROM rollouts o JOIN releases r ON r.id = o.release_id "

int updates_reply_rollout(struct http_req *r, const char *id, unsigned status)
{
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, ROLLOUT_SELECT "WHERE o.id = ? AND o.account_id = ?", "ss", id, r->auth.account_id);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such rollout in this account");
	json_t *j = rollout_json(r->db, st);
	db_done(st);
	json_t *phases = json_array();
	for (size_t i = 0; i < json_array_size(json_object_get(j, "phases")); i++) {
		json_t *c = counts(r->db, id, (int64_t)i);
		json_object_set(c, "percent", json_array_get(json_object_get(j, "phases"), i));
		json_array_append_new(phases, c);
	}
	json_object_set_new(j, "phase_progress", phases);
	struct db_stmt *ss = db_prepare(r->db, "SELECT x.screen_id, s.name, x.phase, x.status, x.detail, x.updated_at "
	                                       "FROM rollout_screens x JOIN screens s ON s.id = x.screen_id WHERE "
	                                       "x.rollout_id = ? ORDER BY x.phase, s.name COLLATE NOCASE LIMIT 1000");
	json_t *list = json_array();
	if (ss) {
		db_bind_text(ss, 1, id);
		while (db_step(ss) == DB_ROW)
			json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "screen_id",
			                                      db_col_text(ss, 0), "name", db_col_text(ss, 1), "phase",
			                                      (json_int_t)db_col_int(ss, 2), "status",
			                                      db_col_text(ss, 3), "detail", db_col_text(ss, 4),
			                                      "updated_at", (json_int_t)db_col_int(ss, 5)));
		db_done(ss);
	}
	json_object_set_new(j, "screens", list);
	http_reply_json(r, status, json_pack("{s:o}", "rollout", j));
	return 0;
}

int updates_handle_rollouts_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, ROLLOUT_SELECT "WHERE o.account_id = ? ORDER BY o.created_at DESC, o.id "
	                                                      "LIMIT 100");
	if (!st)
		return store_reply_error(r, DB_ERROR, "cannot list the rollouts");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, rollout_json(r->db, st));
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o}", "rollouts", list));
	return 0;
}

int updates_handle_rollout_get(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!codes_is_id(id))
		return http_reply_error(r, 404, "not_found", "no such rollout in this account");
	return updates_reply_rollout(r, id, 200);
}

/* POST /api/v1/rollouts/{id}/{pause,resume,cancel} */
int updates_handle_rollout_command(struct http_req *r)
{
	const char *id = http_param(r, "id"), *command = http_param(r, "command");
	struct rollout ro;
	int rc = codes_is_id(id) ? rollout_load(r->db, id, &ro) : ROLLOUT_ABSENT;
	if (rc == DB_DONE && strcmp(ro.account_id, r->auth.account_id) != 0) {
		rollout_release(&ro);
		rc = ROLLOUT_ABSENT;
	}
	if (rc != DB_DONE)
		return rc == ROLLOUT_ABSENT ? http_reply_error(r, 404, "not_found", "no such rollout in this account")
		                            : store_reply_error(r, rc, NULL);
	bool ended = strcmp(ro.state, "done") == 0 || strcmp(ro.state, "cancelled") == 0;
	if (ended) {
		rollout_release(&ro);
		return http_reply_error(r, 409, "rollout_ended", "the rollout is %s already", ro.state);
	}
	if (strcmp(command, "pause") == 0) {
		rc = set_state(r->db, &ro, "paused", "paused by an admin");
	} else if (strcmp(command, "resume") == 0) {
		int qrc;
		struct db_stmt *st =
		    db_query(r->db, &qrc,
		             "SELECT COUNT(*) FROM rollout_screens WHERE rollout_id = ? AND phase = ? AND "
		             "status IN " FAILURES,
		             "si", ro.id, ro.phase);
		int64_t failures = st ? db_col_int(st, 0) : 0;
		db_done(st);
		rc =
		    db_exec(r->db,
		            "UPDATE rollouts SET state = 'running', reason = '', accepted_failures = ?, updated_at = ? "
		            "WHERE id = ?",
		            "iis", failures, (int64_t)time(NULL), ro.id);
		if (rc == DB_DONE)
			rc = rollout_advance(r->db, ro.id);
	} else if (strcmp(command, "cancel") == 0) {
		rc = set_state(r->db, &ro, "cancelled", "cancelled by an admin");
		if (rc == DB_DONE)
			rc = db_exec(
			    r->db,
			    "UPDATE rollout_screens SET status = 'cancelled', updated_at = ? WHERE rollout_id = ? AND "
			    "status = 'waiting'",
			    "is", (int64_t)time(NULL), ro.id);
	} else {
		rollout_release(&ro);
		return http_reply_error(r, 404, "not_found", "a rollout can be paused, resumed or cancelled");
	}
	rollout_release(&ro);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the rollout could not be changed");
	char action[32];
	snprintf(action, sizeof action, "rollout.%s", command);
	audit_request(r, action, id, "");
	db_notifyf(r->db, "account:%s", r->auth.account_id);
	return updates_reply_rollout(r, id, 200);
}

/* ---------- the players' side ---------- */

int rollout_screen_report(struct db *db, const char *rollout_id, const char *screen_id, const char *step,
                          const char *detail)
{
	if (!known_step(step) || !codes_is_id(rollout_id))
		return ROLLOUT_SCREEN_ABSENT;
	/* a cancelled screen stays cancelled */
	int rc = db_exec(db,
	                 "UPDATE rollout_screens SET status = ?, detail = ?, updated_at = ? WHERE "
	                 "rollout_id = ? AND screen_id = ? AND status <> 'cancelled'",
	                 "ssiss", step, detail ? detail : "", (int64_t)time(NULL), rollout_id, screen_id);
	if (rc != DB_DONE)
		return rc;
	if (db_changes(db) == 0)
		return ROLLOUT_SCREEN_ABSENT;
	return rollout_advance(db, rollout_id);
}

int updates_handle_device_update_status(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *rollout = json_string_value(json_object_get(body, "rollout_id"));
	const char *step = json_string_value(json_object_get(body, "step"));
	const char *detail = json_string_value(json_object_get(body, "detail"));
	if (!known_step(step))
		return http_reply_error(r, 400, "invalid_field",
		                        "step must be one of accepted, verified, downloading, downloaded, installed, "
		                        "restarting, started, committed, failed, rolled_back");
	if (detail && strlen(detail) > 500)
		return http_reply_error(r, 400, "invalid_field", "detail must be at most 500 bytes");
	if (!rollout) { /* an update not sent by a rollout: nothing to record */
		http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
		return 0;
	}
	int rc = rollout_screen_report(r->db, rollout, r->auth.device_id, step, detail);
	if (rc == ROLLOUT_SCREEN_ABSENT)
		return http_reply_error(r, 404, "not_found", "this screen is not in that rollout");
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the report could not be saved");
	screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

/* ---------- maintenance windows ---------- */

static int advance_running(struct db *db, void *arg)
{
	(void)arg;
	struct db_stmt *st = db_prepare(db, "SELECT id FROM rollouts WHERE state = 'running' LIMIT 1000");
	if (!st)
		return DB_ERROR;
	char ids[64][CODES_ID_LEN + 1];
	size_t n = 0;
	while (n < 64 && db_step(st) == DB_ROW)
		snprintf(ids[n++], sizeof ids[0], "%s", db_col_text(st, 0));
	db_done(st);
	int rc = DB_DONE;
	for (size_t i = 0; i < n && rc == DB_DONE; i++)
		rc = rollout_advance(db, ids[i]);
	return rc;
}

static void window_pass(void *arg)
{
	(void)arg;
	store_with_tx(advance_running, NULL);
}

static struct periodic windows = PERIODIC_INIT(window_pass, NULL, WINDOW_PERIOD_S);

int updates_rollouts_start(void)
{
	return periodic_start(&windows);
}

void updates_rollouts_stop(void)
{
	periodic_stop(&windows);
}
