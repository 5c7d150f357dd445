/* Fixed-window rate counters; see ratelimit.h. */
#include "ratelimit.h"

#include "db.h"

int64_t ratelimit_count(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT count FROM rate_counters WHERE kind = ? AND subject = ? AND window_start > ?",
	             "ssi", kind, subject, now - window_s);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}

int64_t ratelimit_add(struct db *db, const char *kind, const char *subject, int64_t n, int64_t window_s, int64_t now)
{
	if (db_exec(db,
	            "INSERT INTO rate_counters(kind, subject, count, window_start) VALUES(?,?,?,?) "
	            "ON CONFLICT(kind, subject) DO UPDATE SET "
	            "count = CASE WHEN rate_counters.window_start <= ? THEN excluded.count "
	            "ELSE rate_counters.count + excluded.count END, "
	            "window_start = CASE WHEN rate_counters.window_start <= ? THEN excluded.window_start "
	            "ELSE rate_counters.window_start END",
	            "ssiiii", kind, subject, n, now, now - window_s, now - window_s) != DB_DONE)
		return -1;
	return ratelimit_count(db, kind, subject, window_s, now);
}

int64_t ratelimit_hit(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now)
{
	return ratelimit_add(db, kind, subject, 1, window_s, now);
}

int64_t ratelimit_retry_after(struct db *db, const char *kind, const char *subject, int64_t window_s, int64_t now)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT window_start FROM rate_counters WHERE kind = ? AND subject = ? AND "
	                              "window_start > ?",
	                              "ssi", kind, subject, now - window_s);
	int64_t left = st ? db_col_int(st, 0) + window_s - now : 0;
	db_done(st);
	return left > 0 ? left : 1;
}
