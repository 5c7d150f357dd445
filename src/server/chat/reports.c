/*
 * The live chat's reports and search (admins). GET /api/v1/chat/reports
 * ?from&to&by=day|department|operator&tz_offset_min[&format=csv] counts the
 * chats that started in [from, to): all of them, answered (an operator
 * took them), missed (ended before any operator took them), the waiting
 * time until the first operator (mean, 90th percentile, maximum), the
 * handling time from the first operator to the end (mean), and messages;
 * one row per day (at the given UTC offset), department or operator (the
 * one who had the chat last), and the totals. GET /api/v1/chat/search?q=
 * finds chats by what was written in them, the visitor's name, the page,
 * or the address, newest first, with the matching message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../../common/csv.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "chat.h"

#define REPORT_MAX_DAYS   366
#define REPORT_MAX_CHATS  200000
#define REPORT_MAX_GROUPS 1000
#define SEARCH_LIMIT      50

struct group {
	char key[CODES_ID_LEN + 16];
	char label[256];
	int64_t chats, answered, missed, messages, handled, handle_sum;
	int64_t *waits; /* seconds until the first operator, one per answered chat */
	size_t nwaits, capwaits;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static struct group *group_of(struct group *groups, size_t *n, const char *key, const char *label)
{
	/* chats come in time order: a day's are together, so the last group is the likely one */
	if (*n && strcmp(groups[*n - 1].key, key) == 0)
		return &groups[*n - 1];
	for (size_t i = 0; i < *n; i++)
		if (strcmp(groups[i].key, key) == 0)
			return &groups[i];
	if (*n >= REPORT_MAX_GROUPS + 1)
		return NULL;
	struct group *g = &groups[(*n)++];
	memset(g, 0, sizeof *g);
	snprintf(g->key, sizeof g->key, "%s", key);
	snprintf(g->label, sizeof g->label, "%s", label);
	return g;
}

static bool add_wait(struct group *g, int64_t w)
{
	if (g->nwaits == g->capwaits) {
		size_t cap = g->capwaits ? g->capwaits * 2 : 64;
		int64_t *p = realloc(g->waits, cap * sizeof *p);
		if (!p)
			return false;
		g->waits = p;
		g->capwaits = cap;
	}
	g->waits[g->nwaits++] = w;
	return true;
}

static json_t *group_json(struct group *g)
{
	if (g->nwaits)
		qsort(g->waits, g->nwaits, sizeof *g->waits, cmp_i64);
	int64_t sum = 0;
	for (size_t i = 0; i < g->nwaits; i++)
		sum += g->waits[i];
	int64_t p90 = g->nwaits ? g->waits[(g->nwaits * 9 + 9) / 10 - 1] : 0;
	return json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "key", g->key, "label", g->label, "chats",
	    (json_int_t)g->chats, "answered", (json_int_t)g->answered, "missed", (json_int_t)g->missed, "avg_wait_s",
	    (json_int_t)(g->nwaits ? sum / (int64_t)g->nwaits : 0), "p90_wait_s", (json_int_t)p90, "max_wait_s",
	    (json_int_t)(g->nwaits ? g->waits[g->nwaits - 1] : 0), "avg_handle_s",
	    (json_int_t)(g->handled ? g->handle_sum / g->handled : 0), "messages", (json_int_t)g->messages);
}

static bool int_param(struct http_req *r, const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
	const char *v = http_query(r, name);
	if (!v) {
		*out = def;
		return true;
	}
	char *end;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || n < min || n > max) {
		http_reply_error(r, 400, "invalid_parameter", "%s must be a whole number from %lld to %lld", name,
		                 (long long)min, (long long)max);
		return false;
	}
	*out = n;
	return true;
}

static int reply_csv(struct http_req *r, json_t *rows, json_t *total, const char *by)
{
	struct buf b;
	buf_init(&b, 8u << 20);
	static const char *const cols[] = {"chats",      "answered",   "missed",       "avg_wait_s",
	                                   "p90_wait_s", "max_wait_s", "avg_handle_s", "messages"};
	const size_t ncols = sizeof cols / sizeof *cols;
	int rc = csv_field(&b, by, false);
	for (size_t c = 0; rc == BUF_OK && c < ncols; c++)
		rc = csv_field(&b, cols[c], c + 1 == ncols);
	size_t i;
	json_t *row;
	json_array_append(rows, total);
	json_array_foreach (rows, i, row) {
		rc = rc == BUF_OK ? csv_field(&b, json_string_value(json_object_get(row, "label")), false) : rc;
		for (size_t c = 0; rc == BUF_OK && c < ncols; c++) {
			char n[24];
			snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(row, cols[c])));
			rc = csv_field(&b, n, c + 1 == ncols);
		}
	}
	size_t len;
	char *csv = rc == BUF_OK ? buf_take(&b, &len) : NULL;
	buf_free(&b);
	if (!csv)
		return http_reply_error(r, 503, "unavailable", "the report does not fit in memory");
	http_reply_owned(r, 200, "text/csv; charset=utf-8", csv, len);
	char disp[80];
	snprintf(disp, sizeof disp, "attachment; filename=\"chat-report-by-%s.csv\"", by);
	return http_reply_header(r, "Content-Disposition", disp);
}

int chat_handle_reports(struct http_req *r)
{
	int64_t now = (int64_t)time(NULL), from, to, tz;
	if (!int_param(r, "to", now + 1, 0, (int64_t)1 << 40, &to) ||
	    !int_param(r, "from", to - 30 * 86400, 0, (int64_t)1 << 40, &from) ||
	    !int_param(r, "tz_offset_min", 0, -840, 840, &tz))
		return 0;
	if (from >= to || to - from > (int64_t)REPORT_MAX_DAYS * 86400)
		return http_reply_error(r, 400, "invalid_parameter", "from must be before to, at most 366 days apart");
	const char *by = http_query(r, "by"), *format = http_query(r, "format");
	by = by ? by : "day";
	if (strcmp(by, "day") != 0 && strcmp(by, "department") != 0 && strcmp(by, "operator") != 0)
		return http_reply_error(r, 400, "invalid_parameter", "by must be day, department or operator");
	if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return http_reply_error(r, 400, "invalid_parameter", "format must be json or csv");
	struct db_stmt *st = db_prepare(
	    r->db, "SELECT c.created_at, c.department_id, COALESCE(d.name, ''), COALESCE(c.operator_id, ''), "
	           "COALESCE(CASE WHEN u.name <> '' THEN u.name ELSE u.login END, ''), c.state, c.ended_at, "
	           "(SELECT MIN(e.at) FROM chat_events e WHERE e.chat_id = c.id AND e.type = 'assigned'), "
	           "(SELECT COUNT(*) FROM chat_events e WHERE e.chat_id = c.id AND e.type = 'message') "
	           "FROM chat_chats c LEFT JOIN chat_departments d ON d.id = c.department_id LEFT JOIN users u ON "
	           "u.id = c.operator_id WHERE c.account_id = ? AND c.created_at >= ? AND c.created_at < ? "
	           "ORDER BY c.created_at LIMIT ?");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the chats could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, from);
	db_bind_int(st, 3, to);
	db_bind_int(st, 4, REPORT_MAX_CHATS + 1);
	struct group *groups = calloc(REPORT_MAX_GROUPS + 1, sizeof *groups), total;
	memset(&total, 0, sizeof total);
	snprintf(total.key, sizeof total.key, "total");
	snprintf(total.label, sizeof total.label, "Total");
	size_t n = 0;
	int64_t rows = 0;
	bool ok = groups != NULL;
	while (ok && db_step(st) == DB_ROW) {
		if (++rows > REPORT_MAX_CHATS) {
			ok = false;
			break;
		}
		int64_t created = db_col_int(st, 0), ended = db_col_int(st, 6);
		bool first_null = db_col_is_null(st, 7);
		int64_t first = db_col_int(st, 7);
		char key[CODES_ID_LEN + 16], label[256];
		if (strcmp(by, "day") == 0) {
			time_t t = (time_t)(created + tz * 60);
			struct tm tm;
			gmtime_r(&t, &tm);
			snprintf(key, sizeof key, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
			snprintf(label, sizeof label, "%s", key);
		} else if (strcmp(by, "department") == 0) {
			snprintf(key, sizeof key, "%s", db_col_text(st, 1));
			snprintf(label, sizeof label, "%s", db_col_text(st, 2));
		} else {
			snprintf(key, sizeof key, "%s", *db_col_text(st, 3) ? db_col_text(st, 3) : "none");
			snprintf(label, sizeof label, "%s", *db_col_text(st, 3) ? db_col_text(st, 4) : "(no operator)");
		}
		struct group *g = group_of(groups, &n, key, label);
		if (!g) {
			ok = false;
			break;
		}
		struct group *both[2] = {g, &total};
		for (int k = 0; k < 2; k++) {
			struct group *x = both[k];
			x->chats++;
			x->messages += db_col_int(st, 8);
			if (!first_null) {
				x->answered++;
				ok = ok && add_wait(x, first > created ? first - created : 0);
				if (ended > 0) {
					x->handled++;
					x->handle_sum += ended > first ? ended - first : 0;
				}
			} else if (strcmp(db_col_text(st, 5), "ended") == 0)
				x->missed++;
		}
	}
	db_done(st);
	json_t *list = json_array(), *tot = NULL;
	for (size_t i = 0; i < n; i++) {
		if (ok)
			json_array_append_new(list, group_json(&groups[i]));
		free(groups[i].waits);
	}
	if (ok)
		tot = group_json(&total);
	free(total.waits);
	free(groups);
	if (!ok) {
		json_decref(list);
		return http_reply_error(r, rows > REPORT_MAX_CHATS ? 413 : 503,
		                        rows > REPORT_MAX_CHATS ? "report_too_large" : "unavailable",
		                        rows > REPORT_MAX_CHATS
		                            ? "more than 200000 chats in the period: choose a shorter one"
		                            : "the report could not be made");
	}
	if (format && strcmp(format, "csv") == 0) {
		int res = reply_csv(r, list, tot, by);
		json_decref(list);
		json_decref(tot);
		return res;
	}
	return http_reply_json(r, 200,
	                       json_pack("{s:I, s:I, s:s, s:I, s:o, s:o}", "from", (json_int_t)from, "to",
	                                 (json_int_t)to, "by", by, "tz_offset_min", (json_int_t)tz, "rows", list,
	                                 "total", tot));
}

int chat_handle_search(struct http_req *r)
{
	const char *q = http_query(r, "q");
	size_t n = q ? strlen(q) : 0;
	if (n < 2 || n > 200)
		return http_reply_error(r, 400, "invalid_parameter", "q must be 2 to 200 characters");
	static const struct listquery_spec spec = {
	    .default_order = "created_at DESC", .default_limit = SEARCH_LIMIT, .max_limit = SEARCH_LIMIT};
	struct listquery lq;
	char err[160];
	if (listquery_parse(&lq, &spec, NULL, NULL, NULL, q, err, sizeof err) != 0)
		return http_reply_error(r, 400, "invalid_parameter", "%s", err);
	const char *like = lq.like;
	struct db_stmt *st = db_prepare(
	    r->db,
	    "SELECT id, hit FROM (SELECT c.id, c.created_at, c.visitor_name, v.page_url, c.ip, (SELECT "
	    "json_extract(e.data, '$.text') FROM chat_events e WHERE e.chat_id = c.id AND e.type = 'message' AND "
	    "json_extract(e.data, '$.text') LIKE ?2 ESCAPE '\\' ORDER BY e.seq LIMIT 1) AS hit FROM chat_chats c "
	    "LEFT JOIN chat_visitors v ON v.id = c.visitor_id WHERE c.account_id = ?1) AS found WHERE hit IS NOT NULL "
	    "OR visitor_name LIKE ?2 ESCAPE '\\' OR page_url LIKE ?2 ESCAPE '\\' OR ip LIKE ?2 ESCAPE '\\' "
	    "ORDER BY created_at DESC, id LIMIT ?3");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the chats could not be searched");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, like);
	db_bind_int(st, 3, SEARCH_LIMIT);
	char ids[SEARCH_LIMIT][CODES_ID_LEN + 1];
	json_t *hits = json_array();
	size_t k = 0;
	while (k < SEARCH_LIMIT && db_step(st) == DB_ROW) {
		snprintf(ids[k++], CODES_ID_LEN + 1, "%s", db_col_text(st, 0));
		json_array_append_new(hits, db_col_is_null(st, 1) ? json_null() : json_string(db_col_text(st, 1)));
	}
	db_done(st);
	json_t *out = json_array();
	for (size_t i = 0; i < k; i++) {
		json_t *c = chat_chat_json(r->db, ids[i]);
		if (!c)
			continue;
		json_object_set(c, "match", json_array_get(hits, i));
		json_array_append_new(out, c);
	}
	json_decref(hits);
	return http_reply_json(r, 200, json_pack("{s:o}", "chats", out));
}
