/*
 * The account's change counter (screens.h: screens_touch,
 * screens_change_seq): every change the console's live stream must show
 * bumps it and stamps the screen, and the account's streams are woken
 * after commit. Its own file because both the screens' handlers and the
 * presence step (presence.c) tell the console through it.
 */
#include <stdint.h>
#include <stdio.h>

#include "../http/wake.h"
#include "../store/db.h"
#include "screens.h"

void screens_touch(struct db *db, const char *account_id, const char *screen_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "UPDATE accounts SET change_seq = change_seq + 1 WHERE id = ? "
	                              "RETURNING change_seq",
	                              "s", account_id);
	int64_t seq = st ? db_col_int(st, 0) : 0;
	if (st) {
		while (db_step(st) == DB_ROW)
			;
		db_done(st);
	}
	db_exec(db, "UPDATE screens SET change_seq = ? WHERE id = ?", "is", seq, screen_id);
	db_notifyf(db, "account:%s", account_id);
}

int64_t screens_change_seq(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT change_seq FROM accounts WHERE id = ?", "s", account_id);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}
