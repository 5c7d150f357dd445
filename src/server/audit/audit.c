/* The append-only audit log; see audit.h. */
#include "audit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../../common/codes.h"
#include "../../common/csv.h"
#include "../../common/log.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/listquery.h"
#include "../store/store_reply.h"
#include "../store/tx.h"

#define AUDIT_PAGE_MAX      500
#define AUDIT_CSV_MAX_ROWS  100000
#define AUDIT_CSV_MAX_BYTES (16u << 20) /* the export is built in memory: at most this */

int audit_append(struct db *db, const char *account_id, const char *actor_id, const char *actor, const char *ip,
                 const char *action, const char *target, const char *detail)
{
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int rc = db_exec(db,
	                 "INSERT INTO audit(id, account_id, at, actor_id, actor, ip, action, target, detail) "
	                 "VALUES(?,?,?,?,?,?,?,?,?)",
	                 "ssissssss", id, account_id, (int64_t)time(NULL), actor_id, actor ? actor : "", ip ? ip : "",
	                 action, target ? target : "", detail ? detail : "");
	if (rc != DB_DONE) {
		log_event(LOG_ERROR, "audit append failed", "action", action, NULL);
		return -1;
	}
	if (account_id) {
		db_notifyf(db, "account:%s", account_id);
	}
	return 0;
}

int audit_request(struct http_req *r, const char *action, const char *target, const char *detail)
{
	struct db *db = r->db ? r->db : store_db();
	if (!db)
		return -1;
	return audit_append(db, r->auth.ok ? r->auth.account_id : NULL, r->auth.ok ? r->auth.user_id : NULL,
	                    r->auth.ok ? r->auth.login : "", r->ip, action, target, detail);
}

struct detached {
	struct http_req *r;
	const char *action, *target, *detail;
};

static int append_detached(struct db *db, void *arg)
{
	struct detached *d = arg;
	struct http_req *r = d->r;
	return audit_append(db, r->auth.ok ? r->auth.account_id : NULL, r->auth.ok ? r->auth.user_id : NULL,
	                    r->auth.ok ? r->auth.login : "", r->ip, d->action, d->target, d->detail);
}

void audit_request_detached(struct http_req *r, const char *action, const char *target, const char *detail)
{
	struct detached d = {r, action, target, detail};
	if (r->db && db_in_tx(r->db)) {
		/* this thread's connection is busy with the request: the entry is
		 * written by audit_request instead and kept only on commit */
		audit_append(r->db, r->auth.ok ? r->auth.account_id : NULL, r->auth.ok ? r->auth.user_id : NULL,
		             r->auth.ok ? r->auth.login : "", r->ip, action, target, detail);
		return;
	}
	store_with_tx(append_detached, &d);
}

static json_t *row_json(struct db_stmt *st)
{
	return json_pack("{s:I, s:s, s:I, s:s?, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)db_col_int(st, 0), "id",
	                 db_col_text(st, 1), "at", (json_int_t)db_col_int(st, 2), "actor_id",
	                 db_col_is_null(st, 3) ? NULL : db_col_text(st, 3), "actor", db_col_text(st, 4), "ip",
	                 db_col_text(st, 5), "action", db_col_text(st, 6), "target", db_col_text(st, 7), "detail",
	                 db_col_text(st, 8));
}

static const char list_sql[] = "SELECT seq, id, at, actor_id, actor, ip, action, target, detail FROM audit "
                               "WHERE account_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?";

/* GET /api/v1/audit[?before&limit&offset&sort&q]: a page of the log, newest
 * first unless sorted, and how many entries match q (total) */
int audit_handle_list(struct http_req *r)
{
	static const struct listquery_column sorts[] = {
	    {"seq", "seq"},
	    {"at", "at"},
	    {"actor", "actor COLLATE NOCASE"},
	    {"action", "action"},
	};
	static const struct listquery_spec spec = {
	    sorts, sizeof sorts / sizeof sorts[0], "seq DESC", "seq", 100, AUDIT_PAGE_MAX};
	int64_t before = INT64_MAX;
	const char *b = http_query(r, "before");
	char *end, sql[1024];
	if (b) {
		before = strtoll(b, &end, 10);
		if (*b == '\0' || *end || before < 0)
			return http_reply_error(r, 400, "invalid_parameter", "before must be a sequence number");
	}
	struct listquery lq;
	if (listquery_from_request(r, &spec, &lq) != 0)
		return 0;
#define AUDIT_MATCHING                                                                                                 \
	" FROM audit WHERE account_id = ?1 AND (?2 = '' OR actor LIKE ?2 ESCAPE '\\' OR "                              \
	"action LIKE ?2 ESCAPE '\\' OR target LIKE ?2 ESCAPE '\\' OR ip LIKE ?2 ESCAPE '\\' OR "                       \
	"detail LIKE ?2 ESCAPE '\\')"
	int n = snprintf(sql, sizeof sql,
	                 "SELECT seq, id, at, actor_id, actor, ip, action, target, detail" AUDIT_MATCHING
	                 " AND seq < ?3 ORDER BY %s LIMIT ?4 OFFSET ?5",
	                 lq.order_by);
	const char *text = n > 0 && (size_t)n < sizeof sql ? listquery_intern(sql) : NULL;
	struct db_stmt *st = text ? db_prepare(r->db, text) : NULL;
	if (!st)
		return http_reply_error(r, 500, "internal", "cannot read the audit log");
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_text(st, 2, lq.like);
	db_bind_int(st, 3, before);
	db_bind_int(st, 4, lq.limit);
	db_bind_int(st, 5, lq.offset);
	json_t *entries = json_array();
	int rc;
	while ((rc = db_step(st)) == DB_ROW)
		json_array_append_new(entries, row_json(st));
	db_done(st);
	if (rc != DB_DONE) {
		json_decref(entries);
		return http_reply_error(r, 500, "internal", "cannot read the audit log");
	}
	st = db_query(r->db, &rc, "SELECT COUNT(*)" AUDIT_MATCHING, "ss", r->auth.account_id, lq.like);
#undef AUDIT_MATCHING
	int64_t total = st ? db_col_int(st, 0) : 0;
	db_done(st);
	http_reply_json(r, 200, json_pack("{s:o, s:I}", "entries", entries, "total", (json_int_t)total));
	return 0;
}

static int csv_row(struct buf *row, struct db_stmt *st)
{
	char when[32];
	time_t at = (time_t)db_col_int(st, 2);
	struct tm tm;
	gmtime_r(&at, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_reset(row);
	int rc = buf_printf(row, "%" PRId64 ",%s,", db_col_int(st, 0), when);
	for (int col = 4; col <= 8 && rc == BUF_OK; col++)
		rc = csv_field(row, db_col_text(st, col), col == 8);
	return rc;
}

/* GET /api/v1/audit.csv[?before=SEQ&limit=N]: the newest entries first, built
 * in a buffer of at most AUDIT_CSV_MAX_BYTES. An export that would not fit
 * is refused whole (422 export_too_large, never cut short), saying how
 * many of the newest rows fit and where the next part starts. */
int audit_handle_csv(struct http_req *r)
{
	int64_t before = INT64_MAX, limit = AUDIT_CSV_MAX_ROWS;
	const char *b = http_query(r, "before"), *l = http_query(r, "limit");
	char *end;
	if (b && (before = strtoll(b, &end, 10), *b == '\0' || *end || before < 0))
		return http_reply_error(r, 400, "invalid_parameter", "before must be a sequence number");
	if (l && (limit = strtoll(l, &end, 10), *l == '\0' || *end || limit < 1 || limit > AUDIT_CSV_MAX_ROWS))
		return http_reply_error(r, 400, "invalid_parameter", "limit must be between 1 and %d",
		                        AUDIT_CSV_MAX_ROWS);
	struct db_stmt *st = db_prepare(r->db, list_sql);
	if (!st)
		return store_reply_error(r, DB_ERROR, "the audit log could not be read");
	struct buf out, row;
	buf_init(&out, AUDIT_CSV_MAX_BYTES);
	buf_init(&row, AUDIT_CSV_MAX_BYTES);
	int added = buf_addstr(&out, "seq,time_utc,actor,ip,action,target,detail\r\n"), rc = DB_DONE;
	int64_t rows = 0, last_seq = 0;
	db_bind_text(st, 1, r->auth.account_id);
	db_bind_int(st, 2, before);
	db_bind_int(st, 3, limit);
	while (added == BUF_OK && (rc = db_step(st)) == DB_ROW) {
		added = csv_row(&row, st);
		if (added == BUF_OK)
			added = buf_add(&out, buf_str(&row), buf_len(&row));
		if (added == BUF_OK) {
			rows++;
			last_seq = db_col_int(st, 0);
		}
	}
	db_done(st);
	buf_free(&row);
	if (added != BUF_OK) {
		buf_free(&out);
		if (added == BUF_NOMEM)
			return http_reply_error(r, 503, "unavailable", "out of memory");
		return http_reply_error_extra(
		    r, 422, "export_too_large",
		    json_pack("{s:I, s:I, s:I}", "max_bytes", (json_int_t)AUDIT_CSV_MAX_BYTES, "rows_that_fit",
		              (json_int_t)rows, "next_before", (json_int_t)last_seq),
		    "the export would be larger than %u MiB: export it in parts, newest first: ?limit=%" PRId64
		    " (the rows that fit), then ?before=%" PRId64 " for the older ones",
		    AUDIT_CSV_MAX_BYTES >> 20, rows, last_seq);
	}
	if (rc != DB_DONE) {
		buf_free(&out);
		return store_reply_error(r, rc, "the audit log could not be read");
	}
	size_t len;
	char *csv = buf_take(&out, &len);
	if (!csv)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	http_reply_owned(r, 200, "text/csv; charset=utf-8", csv, len);
	http_reply_header(r, "Content-Disposition", "attachment; filename=\"audit.csv\"");
	if (strcmp(r->method, "HEAD") != 0)
		audit_request(r, "audit.export", "", "");
	return 0;
}

int audit_stream_pull(struct db *db, const char *account_id, int64_t *cursor, struct sse_out *out)
{
	struct db_stmt *st =
	    db_prepare(db, "SELECT seq, id, at, actor_id, actor, ip, action, target, detail FROM audit "
	                   "WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT 100");
	if (!st)
		return -1;
	db_bind_text(st, 1, account_id);
	db_bind_int(st, 2, *cursor);
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (sse_append_json(out, "audit", row_json(st)) != 0)
			break;
		*cursor = db_col_int(st, 0);
	}
	db_done(st);
	return rc == DB_ERROR ? -1 : 0;
}

int64_t audit_last_seq(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT COALESCE(MAX(seq),0) FROM audit WHERE account_id = ?", "s", account_id);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}
