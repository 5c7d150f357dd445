/*
 * Proactive invitations (campaigns): an admin sets, for a site, a rule (the
 * page's path and query match url_pattern, a glob where * is any run of
 * characters; the visitor has been on the page for seconds_on_page) and a
 * message; while an operator of the campaign's department is online, the
 * widget shows the invitation when the rule holds (GET
 * /api/v1/widget/{site}/campaigns), and tells what came of it (POST
 * .../campaigns/{id}/shown|accepted|declined), counted once per visitor.
 * The admin list carries the counts.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define CAMPAIGNS_MAX_PER_ACCOUNT 100
#define CAMPAIGN_PATTERN_MAX      500
#define CAMPAIGN_COLUMNS                                                                                               \
	"c.id, c.site_id, c.department_id, c.name, c.url_pattern, c.seconds_on_page, c.message, c.enabled, "           \
	"c.updated_at, (SELECT COUNT(*) FROM chat_campaign_outcomes o WHERE o.campaign_id = c.id AND o.outcome = "     \
	"'shown'), (SELECT COUNT(*) FROM chat_campaign_outcomes o WHERE o.campaign_id = c.id AND o.outcome = "         \
	"'accepted'), (SELECT COUNT(*) FROM chat_campaign_outcomes o WHERE o.campaign_id = c.id AND o.outcome = "      \
	"'declined')"

static json_t *campaign_json(struct db_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:I}", "id", db_col_text(st, 0),
	                 "site_id", db_col_text(st, 1), "department_id", db_col_text(st, 2), "name", db_col_text(st, 3),
	                 "url_pattern", db_col_text(st, 4), "seconds_on_page", (json_int_t)db_col_int(st, 5), "message",
	                 db_col_text(st, 6), "enabled", db_col_int(st, 7) != 0, "updated_at",
	                 (json_int_t)db_col_int(st, 8), "shown", (json_int_t)db_col_int(st, 9), "accepted",
	                 (json_int_t)db_col_int(st, 10), "declined", (json_int_t)db_col_int(st, 11));
}

static json_t *campaign_load(struct db *db, const char *id)
{
	struct db_stmt *st =
	    db_query(db, NULL, "SELECT " CAMPAIGN_COLUMNS " FROM chat_campaigns c WHERE c.id = ?", "s", id);
	json_t *j = st ? campaign_json(st) : NULL;
	db_done(st);
	return j;
}

int chat_handle_campaigns_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT " CAMPAIGN_COLUMNS " FROM chat_campaigns c WHERE "
	                                       "c.account_id = ? ORDER BY c.name, c.id LIMIT 100");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the campaigns could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW)
		json_array_append_new(list, campaign_json(st));
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "campaigns", list));
}

static bool pattern_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > CAMPAIGN_PATTERN_MAX || (s[0] != '/' && s[0] != '*'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Checks and stores a create (every field but enabled required) or an update. */
static int campaign_apply(struct http_req *r, const char *id, bool create)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jname = json_object_get(body, "name"), *jmsg = json_object_get(body, "message");
	json_t *jsite = json_object_get(body, "site_id"), *jdep = json_object_get(body, "department_id");
	json_t *jpat = json_object_get(body, "url_pattern"), *jsec = json_object_get(body, "seconds_on_page");
	json_t *jon = json_object_get(body, "enabled");
	char why[200];
	if ((create || jname) && !chat_field_ok(jname, "name", 1, 200, false, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if ((create || jmsg) && !chat_field_ok(jmsg, "message", 1, 500, true, why, sizeof why))
		return http_reply_error(r, 400, "invalid_field", "%s", why);
	if ((create || jpat) && !pattern_ok(json_string_value(jpat)))
		return http_reply_error(
		    r, 400, "invalid_field",
		    "url_pattern must be a path pattern of 1 to 500 printable ASCII characters without "
		    "spaces, starting with / or * (* matches any run of characters)");
	if ((create || jsec) &&
	    (!json_is_integer(jsec) || json_integer_value(jsec) < 0 || json_integer_value(jsec) > 3600))
		return http_reply_error(r, 400, "invalid_field", "seconds_on_page must be 0 to 3600");
	if (jon && !json_is_boolean(jon))
		return http_reply_error(r, 400, "invalid_field", "enabled must be true or false");
	/* the site and the department: of the account, the department on the site */
	struct db_stmt *st =
	    db_query(r->db, NULL, "SELECT site_id, department_id FROM chat_campaigns WHERE id = ?", "s", id);
	char site[CODES_ID_LEN + 1] = "", dep[CODES_ID_LEN + 1] = "";
	if (st) {
		snprintf(site, sizeof site, "%s", db_col_text(st, 0));
		snprintf(dep, sizeof dep, "%s", db_col_text(st, 1));
	}
	db_done(st);
	if (create || jsite) {
		const char *s = json_string_value(jsite);
		st = chat_is_id(s) ? db_query(r->db, NULL, "SELECT 1 FROM chat_sites WHERE id = ? AND account_id = ?",
		                              "ss", s, r->auth.account_id)
		                   : NULL;
		db_done(st);
		if (!st)
			return http_reply_error(r, 400, "invalid_field", "site_id: no such site in this account");
		snprintf(site, sizeof site, "%s", s);
	}
	if (create || jdep) {
		const char *d = json_string_value(jdep);
		if (!chat_is_id(d))
			return http_reply_error(r, 400, "invalid_field",
			                        "department_id: no such department on this site");
		snprintf(dep, sizeof dep, "%s", d);
	}
	st = db_query(r->db, NULL,
	              "SELECT 1 FROM chat_department_sites s JOIN chat_departments d ON d.id = s.department_id WHERE "
	              "s.department_id = ? AND s.site_id = ? AND d.account_id = ?",
	              "sss", dep, site, r->auth.account_id);
	db_done(st);
	if (!st)
		return http_reply_error(r, 400, "invalid_field", "department_id: no such department on this site");
	int64_t now = (int64_t)time(NULL);
	int rc;
	if (create) {
		st = db_query(r->db, NULL, "SELECT COUNT(*) FROM chat_campaigns WHERE account_id = ?", "s",
		              r->auth.account_id);
		int64_t count = st ? db_col_int(st, 0) : 0;
		db_done(st);
		if (count >= CAMPAIGNS_MAX_PER_ACCOUNT)
			return http_reply_error(r, 409, "too_many", "an account has at most 100 campaigns");
		rc = db_exec(r->db,
		             "INSERT INTO chat_campaigns(id, account_id, site_id, department_id, name, url_pattern, "
		             "seconds_on_page, message, enabled, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
		             "ssssssisiii", id, r->auth.account_id, site, dep, json_string_value(jname),
		             json_string_value(jpat), (int64_t)json_integer_value(jsec), json_string_value(jmsg),
		             (int64_t)(!jon || json_is_true(jon)), now, now);
	} else {
		rc = db_exec(r->db,
		             "UPDATE chat_campaigns SET site_id = ?, department_id = ?, name = COALESCE(?, name), "
		             "url_pattern = COALESCE(?, url_pattern), message = COALESCE(?, message), updated_at = ? "
		             "WHERE id = ?",
		             "sssssis", site, dep, json_string_value(jname), json_string_value(jpat),
		             json_string_value(jmsg), now, id);
		if (rc == DB_DONE && jsec)
			rc = db_exec(r->db, "UPDATE chat_campaigns SET seconds_on_page = ? WHERE id = ?", "is",
			             (int64_t)json_integer_value(jsec), id);
		if (rc == DB_DONE && jon)
			rc = db_exec(r->db, "UPDATE chat_campaigns SET enabled = ? WHERE id = ?", "is",
			             (int64_t)json_is_true(jon), id);
	}
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the campaign could not be saved");
	audit_request(r, create ? "chat.campaign_created" : "chat.campaign_updated", id, json_string_value(jname));
	return http_reply_json(r, create ? 201 : 200, json_pack("{s:o*}", "campaign", campaign_load(r->db, id)));
}

static bool own_campaign(struct http_req *r, const char *id)
{
	struct db_stmt *st = chat_is_id(id)
	                         ? db_query(r->db, NULL, "SELECT 1 FROM chat_campaigns WHERE id = ? AND account_id = ?",
	                                    "ss", id, r->auth.account_id)
	                         : NULL;
	db_done(st);
	if (!st)
		http_reply_error(r, 404, "not_found", "no such campaign in this account");
	return st != NULL;
}

int chat_handle_campaign_create(struct http_req *r)
{
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	return campaign_apply(r, id, true);
}

int chat_handle_campaign_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	return own_campaign(r, id) ? campaign_apply(r, id, false) : 0;
}

int chat_handle_campaign_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	if (!own_campaign(r, id))
		return 0;
	int rc = db_exec(r->db, "DELETE FROM chat_campaigns WHERE id = ?", "s", id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the campaign could not be removed");
	audit_request(r, "chat.campaign_deleted", id, NULL);
	return http_reply_empty(r, 204);
}

/* --- the widget's side --- */

int chat_campaigns_for_site(struct http_req *r, const struct chat_widget *w)
{
	json_t *deps = chat_site_departments(r->db, w->site.id), *list = json_array();
	struct db_stmt *st = db_prepare(r->db, "SELECT id, department_id, url_pattern, seconds_on_page, message FROM "
	                                       "chat_campaigns WHERE site_id = ? AND enabled = 1 ORDER BY "
	                                       "seconds_on_page, id LIMIT 100");
	if (st) {
		db_bind_text(st, 1, w->site.id);
		while (db_step(st) == DB_ROW) {
			bool online = false;
			size_t i;
			json_t *d;
			json_array_foreach (deps, i, d)
				online = online || (strcmp(json_string_value(json_object_get(d, "id")),
				                           db_col_text(st, 1)) == 0 &&
				                    json_is_true(json_object_get(d, "online")));
			if (online)
				json_array_append_new(
				    list,
				    json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", db_col_text(st, 0), "department_id",
				              db_col_text(st, 1), "url_pattern", db_col_text(st, 2), "seconds_on_page",
				              (json_int_t)db_col_int(st, 3), "message", db_col_text(st, 4)));
		}
		db_done(st);
	}
	json_decref(deps);
	return http_reply_json(r, 200, json_pack("{s:o}", "campaigns", list));
}

int chat_campaign_outcome(struct http_req *r, const struct chat_widget *w)
{
	const char *id = http_param(r, "id"), *outcome = http_param(r, "outcome");
	if (!outcome ||
	    (strcmp(outcome, "shown") != 0 && strcmp(outcome, "accepted") != 0 && strcmp(outcome, "declined") != 0))
		return http_reply_error(r, 404, "not_found", "the outcome is shown, accepted or declined");
	struct db_stmt *st = chat_is_id(id)
	                         ? db_query(r->db, NULL, "SELECT 1 FROM chat_campaigns WHERE id = ? AND site_id = ?",
	                                    "ss", id, w->site.id)
	                         : NULL;
	db_done(st);
	if (!st)
		return http_reply_error(r, 404, "not_found", "no such campaign on this site");
	int rc = db_exec(r->db,
	                 "INSERT INTO chat_campaign_outcomes(campaign_id, visitor_id, outcome, at) VALUES(?,?,?,?) ON "
	                 "CONFLICT DO NOTHING",
	                 "sssi", id, w->visitor_id, outcome, (int64_t)time(NULL));
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the outcome could not be saved");
	return http_reply_empty(r, 204);
}
