/*
 * The hawkBit DDI device API (Direct Device Integration, PROTOCOL.md
 * "Updates"), so that third-party update clients such as SWUpdate's
 * suricatta take part in Vitrine's rollouts. The tenant is the account id,
 * the controller id the screen id, and the target token the screen's
 * device token (authenticate.c takes "TargetToken" on /ddi/ paths).
 *
 * An action is a screen's row of a rollout (any release, whatever its
 * name: the rollout's admin chose the screens) once it was sent and until
 * it finishes; its numeric id (hawkBit clients expect numbers; a random
 * one, not a row count) is given in ddi_actions when the screen first polls
 * it. Handing the action out marks
 * the screen's pending `update` instruction as handled by DDI, so that a
 * Vitrine player on the same screen does not install it as well. The
 * deployment lists the release file as the one artifact of one chunk
 * ("os"), with its SHA-256 and the SHA-1 and MD5 hawkBit also gives
 * (computed once, releases.c); feedback maps hawkBit's execution and
 * result onto the rollout steps and moves the rollout on exactly as the
 * players' update-status does (rollout_screen_report).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "updates.h"

#define DETAIL_MAX     500 /* bytes of the details kept as the step's detail */
#define FILENAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define OPEN_STEPS     "('sent','accepted','verified','downloading','downloaded','installed','restarting','started')"

unsigned updates_ddi_poll_s = 60;

/* The tenant and controller of the path are the caller's own: false after
 * replying 403 when they are not. */
static bool own_target(struct http_req *r)
{
	const char *tenant = http_param(r, "tenant"), *controller = http_param(r, "controller");
	if (!tenant || strcmp(tenant, r->auth.account_id) != 0) {
		http_reply_error(r, 403, "forbidden", "the tenant is not this screen's account");
		return false;
	}
	if (!controller || strcmp(controller, r->auth.device_id) != 0) {
		http_reply_error(r, 403, "forbidden", "the controller id is not this screen's id");
		return false;
	}
	return true;
}

/* scheme://host of the request, for the links */
static void base_url(struct http_req *r, char *out, size_t outsz)
{
	const char *h = http_header(r, "Host");
	bool ok =
	    h && *h && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(h);
	snprintf(out, outsz, "%s://%s", r->tls ? "https" : "http", ok ? h : "localhost");
}

/* The artifact's file name: the release's, in URL-safe characters, or
 * NAME-VERSION when it has none. */
static void artifact_name(const char *filename, const char *name, const char *version, char *out, size_t outsz)
{
	if (!*filename)
		snprintf(out, outsz, "%s-%s", name, version);
	else
		snprintf(out, outsz, "%s", filename);
	for (char *p = out; *p; p++)
		if (!strchr(FILENAME_CHARS, *p))
			*p = '_';
	if (out[0] == '.')
		out[0] = '_';
}

int ddi_handle_poll(struct http_req *r)
{
	if (!own_target(r))
		return 0;
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT x.rollout_id, x.instruction_id FROM rollout_screens x JOIN rollouts o ON "
	                              "o.id = x.rollout_id WHERE x.screen_id = ? AND o.account_id = ? AND o.state IN "
	                              "('running','paused') AND x.status IN " OPEN_STEPS
	                              " ORDER BY x.updated_at DESC, o.created_at DESC LIMIT 1",
	                              "ss", r->auth.device_id, r->auth.account_id);
	if (!st && rc != DB_DONE)
		return store_reply_error(r, rc, NULL);
	char sleep[16]; /* HH:MM:SS, as hawkBit gives it */
	snprintf(sleep, sizeof sleep, "%02u:%02u:%02u", updates_ddi_poll_s / 3600, updates_ddi_poll_s / 60 % 60,
	         updates_ddi_poll_s % 60);
	json_t *reply = json_pack("{s:{s:{s:s}}, s:{}}", "config", "polling", "sleep", sleep, "_links");
	if (st) {
		char rollout[CODES_ID_LEN + 1], instruction[CODES_ID_LEN + 1];
		snprintf(rollout, sizeof rollout, "%s", db_col_text(st, 0));
		snprintf(instruction, sizeof instruction, "%s", db_col_text(st, 1));
		db_done(st);
		int64_t action = -1;
		st = db_query(r->db, &rc, "SELECT id FROM ddi_actions WHERE rollout_id = ? AND screen_id = ?", "ss",
		              rollout, r->auth.device_id);
		if (st) {
			action = db_col_int(st, 0);
			db_done(st);
			rc = DB_DONE;
		}
		/* a new action: a random number (hawkBit clients keep it in an int), not a row count */
		for (int tries = 0; action < 0 && rc == DB_DONE && tries < 8; tries++) {
			int64_t id = (int64_t)randombytes_uniform(INT32_MAX) + 1;
			rc = db_exec(r->db,
			             "INSERT INTO ddi_actions(id, rollout_id, screen_id, created_at) "
			             "VALUES(?,?,?,?) ON CONFLICT DO NOTHING",
			             "issi", id, rollout, r->auth.device_id, (int64_t)time(NULL));
			if (rc == DB_DONE && db_changes(r->db) == 1)
				action = id;
		}
		/* the update instruction is DDI's now: a player on the screen leaves it */
		if (rc == DB_DONE && *instruction)
			rc =
			    db_exec(r->db,
			            "UPDATE instructions SET status = 'ok', result = '{\"handled_by\":\"ddi\"}', "
			            "acked_at = ? WHERE id = ? AND screen_id = ? AND status IN ('pending','delivered')",
			            "iss", (int64_t)time(NULL), instruction, r->auth.device_id);
		if (rc != DB_DONE || action < 0) {
			json_decref(reply);
			return store_reply_error(r, rc == DB_DONE ? DB_ERROR : rc, "the action could not be read");
		}
		char base[300], href[1024];
		base_url(r, base, sizeof base);
		snprintf(href, sizeof href, "%s/ddi/%s/controller/v1/%s/deploymentBase/%lld?c=%s", base,
		         r->auth.account_id, r->auth.device_id, (long long)action, rollout);
		json_object_set_new(json_object_get(reply, "_links"), "deploymentBase",
		                    json_pack("{s:s}", "href", href));
	}
	if (json_object_size(json_object_get(reply, "_links")) == 0)
		json_object_del(reply, "_links");
	return http_reply_json(r, 200, reply);
}

/* The action of the path, with its rollout and release; NULL after
 * replying 404. Columns: rollout id, status, release id, name, version,
 * sha256, size, filename. */
static struct db_stmt *find_action(struct http_req *r)
{
	const char *action = http_param(r, "action");
	char *end = NULL;
	long long id = action && *action ? strtoll(action, &end, 10) : -1;
	int rc = DB_DONE;
	struct db_stmt *st =
	    end && !*end && id > 0
	        ? db_query(
	              r->db, &rc,
	              "SELECT a.rollout_id, x.status, rl.id, rl.name, rl.version, rl.sha256, rl.size, rl.filename "
	              "FROM ddi_actions a JOIN rollout_screens x ON x.rollout_id = a.rollout_id AND x.screen_id = "
	              "a.screen_id JOIN rollouts o ON o.id = a.rollout_id JOIN releases rl ON rl.id = o.release_id "
	              "WHERE a.id = ? AND a.screen_id = ? AND o.account_id = ?",
	              "iss", (int64_t)id, r->auth.device_id, r->auth.account_id)
	        : NULL;
	if (!st) {
		if (rc != DB_DONE)
			store_reply_error(r, rc, NULL);
		else
			http_reply_error(r, 404, "not_found", "no such action for this controller");
	}
	return st;
}

int ddi_handle_deployment(struct http_req *r)
{
	if (!own_target(r))
		return 0;
	struct db_stmt *st = find_action(r);
	if (!st)
		return 0;
	char release[CODES_ID_LEN + 1], name[300], version[100], sha256[65], file[300];
	snprintf(release, sizeof release, "%s", db_col_text(st, 2));
	snprintf(name, sizeof name, "%s", db_col_text(st, 3));
	snprintf(version, sizeof version, "%s", db_col_text(st, 4));
	snprintf(sha256, sizeof sha256, "%s", db_col_text(st, 5));
	int64_t size = db_col_int(st, 6);
	artifact_name(db_col_text(st, 7), name, version, file, sizeof file);
	db_done(st);
	char sha1[41], md5[33];
	if (updates_release_digests(r->db, server_config(r->srv)->data_dir, sha256, true, sha1, md5) != 0)
		return http_reply_error(r, 500, "internal", "the release file could not be read");
	char base[300], href[1400], md5href[1500];
	base_url(r, base, sizeof base);
	snprintf(href, sizeof href, "%s/ddi/%s/controller/v1/%s/softwaremodules/%s/artifacts/%s", base,
	         r->auth.account_id, r->auth.device_id, release, file);
	snprintf(md5href, sizeof md5href, "%s.MD5SUM", href);
	json_t *artifact = json_pack("{s:s, s:{s:s, s:s, s:s}, s:I, s:{s:{s:s}, s:{s:s}}}", "filename", file, "hashes",
	                             "sha1", sha1, "md5", md5, "sha256", sha256, "size", (json_int_t)size, "_links",
	                             "download-http", "href", href, "md5sum-http", "href", md5href);
	json_t *chunk =
	    json_pack("{s:s, s:s, s:s, s:[o]}", "part", "os", "version", version, "name", name, "artifacts", artifact);
	return http_reply_json(r, 200,
	                       json_pack("{s:s, s:{s:s, s:s, s:[o]}}", "id", http_param(r, "action"), "deployment",
	                                 "download", "forced", "update", "forced", "chunks", chunk));
}

/* hawkBit's execution and result as a rollout step (rollouts.c), or NULL. */
static const char *step_of(const char *execution, const char *finished)
{
	if (!execution)
		return NULL;
	if (strcmp(execution, "closed") == 0)
		return finished && strcmp(finished, "failure") == 0 ? "failed" : "committed";
	if (strcmp(execution, "rejected") == 0 || strcmp(execution, "canceled") == 0)
		return "failed";
	if (finished && strcmp(finished, "failure") == 0)
		return "failed";
	if (strcmp(execution, "scheduled") == 0 || strcmp(execution, "resumed") == 0)
		return "accepted";
	if (strcmp(execution, "proceeding") == 0 || strcmp(execution, "download") == 0)
		return "downloading";
	if (strcmp(execution, "downloaded") == 0)
		return "downloaded";
	return NULL;
}

/* The details (strings) joined with "; ", cut at DETAIL_MAX bytes on a
 * character boundary. */
static void join_details(json_t *details, char *out, size_t outsz)
{
	size_t len = 0, i;
	json_t *d;
	out[0] = 0;
	json_array_foreach (details, i, d) {
		const char *s = json_string_value(d);
		if (!s)
			continue;
		int n = snprintf(out + len, outsz - len, "%s%s", len ? "; " : "", s);
		if (n < 0 || (size_t)n >= outsz - len) {
			len = outsz - 1;
			break;
		}
		len += (size_t)n;
	}
	while (len > 0 && ((unsigned char)out[len] & 0xC0) == 0x80)
		len--;
	out[len] = 0;
}

int ddi_handle_feedback(struct http_req *r)
{
	if (!own_target(r))
		return 0;
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *status = json_object_get(body, "status");
	const char *execution = json_string_value(json_object_get(status, "execution"));
	const char *finished = json_string_value(json_object_get(json_object_get(status, "result"), "finished"));
	const char *step = step_of(execution, finished);
	if (!step)
		return http_reply_error(r, 400, "invalid_field",
		                        "status.execution must be one of closed, proceeding, canceled, scheduled, "
		                        "rejected, resumed, downloaded, download");
	struct db_stmt *st = find_action(r);
	if (!st)
		return 0;
	char rollout[CODES_ID_LEN + 1];
	snprintf(rollout, sizeof rollout, "%s", db_col_text(st, 0));
	db_done(st);
	char detail[DETAIL_MAX + 1];
	join_details(json_object_get(status, "details"), detail, sizeof detail);
	int rc = rollout_screen_report(r->db, rollout, r->auth.device_id, step, detail);
	if (rc == ROLLOUT_SCREEN_ABSENT)
		return http_reply_error(r, 404, "not_found", "this screen is not in that rollout");
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the feedback could not be saved");
	screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	return http_reply_empty(r, 200);
}

int ddi_handle_artifact(struct http_req *r)
{
	if (!own_target(r))
		return 0;
	const char *release = http_param(r, "module"), *wanted = http_param(r, "filename");
	if (!codes_is_id(release))
		return http_reply_error(r, 404, "not_found", "no such software module");
	int rc;
	struct db_stmt *st = db_query(r->db, &rc,
	                              "SELECT name, version, filename, sha256 FROM releases WHERE id = ? AND "
	                              "account_id = ?",
	                              "ss", release, r->auth.account_id);
	if (!st)
		return rc == DB_DONE ? http_reply_error(r, 404, "not_found", "no such software module")
		                     : store_reply_error(r, rc, NULL);
	char file[300], sha256[65];
	artifact_name(db_col_text(st, 2), db_col_text(st, 0), db_col_text(st, 1), file, sizeof file);
	snprintf(sha256, sizeof sha256, "%s", db_col_text(st, 3));
	db_done(st);
	size_t n = strlen(file);
	if (wanted && strncmp(wanted, file, n) == 0 && strcmp(wanted + n, ".MD5SUM") == 0) {
		char sha1[41], md5[33];
		/* a read transaction: computed again when deploymentBase has not kept them yet */
		if (updates_release_digests(r->db, server_config(r->srv)->data_dir, sha256, false, sha1, md5) != 0)
			return http_reply_error(r, 500, "internal", "the release file could not be read");
		size_t cap = n + 64;
		char *text = malloc(cap);
		if (!text)
			return http_reply_error(r, 503, "unavailable", "out of memory");
		snprintf(text, cap, "%s  %s\n", md5, file); /* the md5sum(1) line hawkBit serves */
		return http_reply_owned(r, 200, "text/plain", text, strlen(text));
	}
	if (!wanted || strcmp(wanted, file) != 0)
		return http_reply_error(r, 404, "not_found", "no such artifact in this software module");
	return updates_serve_release(r, release);
}
