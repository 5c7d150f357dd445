/*
 * store_reply_error (store_reply.h): maps a store failure to its HTTP
 * answer in one place.
 */
#include "store_reply.h"

#include "../http/server.h"
#include "db.h"

int store_reply_error(struct http_req *r, int rc, const char *what)
{
	if (rc != DB_FULL && rc != DB_BUSY) {
		/* no connection at all: the database is away, not broken */
		struct db *db = store_db();
		int last = db ? db_last_error(db) : DB_BUSY;
		if (last == DB_FULL || last == DB_BUSY)
			rc = last;
	}
	if (rc == DB_FULL)
		return http_reply_error(r, 507, "insufficient_storage",
		                        "the server's disk is full; %s. Free space on the server's disk, then retry",
		                        what ? what : "the change could not be saved");
	if (rc == DB_BUSY) {
		http_reply_error(r, 503, "store_unavailable", "the database is busy; %s; retry shortly",
		                 what ? what : "the request could not be served");
		http_reply_header(r, "Retry-After", STORE_RETRY_AFTER_S);
		return 0;
	}
	return http_reply_error(r, 503, "store_unavailable", "the database failed; %s (see the server log)",
	                        what ? what : "the request could not be served");
}

int store_reply_last_error(struct http_req *r)
{
	return store_reply_error(r, DB_ERROR, NULL);
}
