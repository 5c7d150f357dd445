/*
 * The account's change counter (screens.h: screens_touch,
 * screens_change_seq): every change the console's live stream must show
 * stamps the screen with a number above every other screen's of its
 * account, and the account's streams are woken after commit. Its own file
 * because both the screens' handlers and the presence step (presence.c)
 * tell the console through it.
 *
 * The counter is not a row of its own: the account's counter is the
 * highest change_seq of its screens (deleted ones included; screens are
 * never removed), found through the index screens_account(account_id,
 * change_seq). So a change writes only the screen's own row, and screens
 * of one account do not all update one hot account row (which on
 * PostgreSQL every writer of the account would lock and rewrite).
 * accounts.change_seq, which the counter was until schema 28, is no longer
 * written: it is read as a floor, so a value a client saw before the
 * upgrade is never handed out again.
 *
 * The numbers increase in commit order because write transactions run one
 * at a time (SQLite's writer lock; on PostgreSQL the advisory lock every
 * writer takes, with READ COMMITTED, so the MAX sees every earlier commit):
 * a stream that has sent up to N never misses a later change. They are
 * per account as before, and only increase.
 */
#include <stdint.h>
#include <stdio.h>

#include "../http/wake.h"
#include "../store/db.h"
#include "screens.h"

/* the account's counter: ?1 the account id (the SQL binds it twice) */
#define ACCOUNT_SEQ                                                                                                    \
	"MAX(COALESCE((SELECT MAX(s.change_seq) FROM screens s WHERE s.account_id = ?), 0), "                          \
	"COALESCE((SELECT a.change_seq FROM accounts a WHERE a.id = ?), 0))"

void screens_touch(struct db *db, const char *account_id, const char *screen_id)
{
	db_exec(db, "UPDATE screens SET change_seq = 1 + " ACCOUNT_SEQ " WHERE id = ?", "sss", account_id, account_id,
	        screen_id);
	db_notifyf(db, "account:%s", account_id);
}

int64_t screens_change_seq(struct db *db, const char *account_id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT " ACCOUNT_SEQ, "ss", account_id, account_id);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}
