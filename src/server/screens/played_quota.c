/*
 * The quota of proof-of-play uploads (POST /api/v1/device/played): per
 * screen, at most screens_played_per_minute requests a minute and
 * screens_played_rows_per_hour rows an hour, so one device token cannot
 * fill the disk (a single token once wrote 755,000 rows in 10 s). A player
 * sends one batch every 15 s, so the defaults leave room for catching up
 * after a day offline. Old rows are folded into per-day counts by the
 * retention task (audit/retention.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "../http/server.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "screens.h"

unsigned screens_played_per_minute = 12;
unsigned screens_played_rows_per_hour = 20000;

static int refuse(struct http_req *r, int64_t retry_after, const char *what)
{
	char ra[24];
	snprintf(ra, sizeof ra, "%" PRId64, retry_after);
	http_reply_error(r, 429, "too_many_requests", "this screen sent %s; retry in %s s", what, ra);
	http_reply_header(r, "Retry-After", ra);
	return 0;
}

bool screens_played_admit(struct http_req *r, size_t rows)
{
	int64_t now = (int64_t)time(NULL);
	const char *screen = r->auth.device_id;
	int64_t n = ratelimit_hit(r->db, "played_requests", screen, 60, now);
	if (n < 0) {
		store_reply_error(r, DB_ERROR, NULL);
		return false;
	}
	if (n > (int64_t)screens_played_per_minute) {
		char what[96];
		snprintf(what, sizeof what, "more than %u proof-of-play uploads this minute",
		         screens_played_per_minute);
		refuse(r, ratelimit_retry_after(r->db, "played_requests", screen, 60, now), what);
		return false;
	}
	int64_t so_far = ratelimit_count(r->db, "played_rows", screen, 3600, now);
	if (so_far + (int64_t)rows > (int64_t)screens_played_rows_per_hour) {
		char what[96];
		snprintf(what, sizeof what, "more than %u plays this hour", screens_played_rows_per_hour);
		refuse(r, so_far ? ratelimit_retry_after(r->db, "played_rows", screen, 3600, now) : 3600, what);
		return false;
	}
	if (ratelimit_add(r->db, "played_rows", screen, (int64_t)rows, 3600, now) < 0) {
		store_reply_error(r, DB_ERROR, NULL);
		return false;
	}
	return true;
}
