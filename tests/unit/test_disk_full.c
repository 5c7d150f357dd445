/*
 * Unit tests of what a full disk does to the store (issue 9): SQLite's
 * SQLITE_FULL reaches callers as DB_FULL (not DB_ERROR or DB_BUSY) and is
 * remembered by db_last_error; the long-poll's presence (screens/
 * presence.c) keeps last_seen and delivery marks pending while the store
 * refuses them and writes them once it takes writes again. A full disk is
 * simulated with PRAGMA max_page_count, a refusing store with query_only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "server/screens/presence.h"
#include "server/store/db.h"
#include "testutil.h"

extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

struct fixture {
	char dir[256];
	char path[300];
	struct db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || test_tmpdir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
	f->db = db_open_file(f->path);
	if (!f->db || store_migrate(f->db, store_migrations, store_migrations_count) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

static int64_t number(struct db *db, const char *sql, const char *id)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, sql, "s", id);
	assert_non_null(st);
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

static void test_full_database_is_db_full(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_exec_script(f->db, "CREATE TABLE filler(b BLOB); PRAGMA max_page_count = 1;"), 0);
	/* max_page_count cannot go below the current size: the file is now at its cap */
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_equal(db_last_error(f->db), DB_DONE);
	int rc = db_exec(f->db, "INSERT INTO filler(b) VALUES(zeroblob(1 << 20))", NULL);
	assert_int_equal(rc, DB_FULL);
	assert_int_equal(db_last_error(f->db), DB_FULL);
	db_rollback(f->db);
	assert_int_equal(db_begin(f->db, true), DB_DONE); /* a new transaction starts clean */
	assert_int_equal(db_last_error(f->db), DB_DONE);
	db_rollback(f->db);
}

static void test_presence_waits_for_a_refusing_store(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_exec_script(f->db, "INSERT INTO accounts(id, name, created_at) VALUES('acct', 'A', 1);"
	                                       "INSERT INTO screens(id, account_id, name, hardware_id, public_key, "
	                                       "created_at) VALUES('scr1', 'acct', 'S', 'h', 'k', 1);"
	                                       "INSERT INTO instructions(id, screen_id, seq, type, created_at, "
	                                       "expires_at) VALUES('ins1', 'scr1', 1, 'identify', 1, 99999);"),
	                 0);
	assert_true(presence_seen("scr1", "acct", "192.0.2.7", 1000, 0));  /* it comes online */
	assert_false(presence_seen("scr1", "acct", "192.0.2.8", 1010, 0)); /* and stays online */
	int64_t seen = 0;
	char ip[64] = "";
	assert_true(presence_last_seen("scr1", 0, &seen, ip, sizeof ip));
	assert_int_equal(seen, 1010);
	assert_string_equal(ip, "192.0.2.8");
	assert_false(presence_last_seen("scr1", 2000, &seen, ip, sizeof ip)); /* the store knows newer */
	presence_mark_delivered("ins1", 1010);

	/* the store refuses writes: nothing is written, nothing is dropped */
	assert_int_equal(db_exec_script(f->db, "PRAGMA query_only = ON;"), 0);
	assert_int_not_equal(presence_flush(f->db), DB_DONE);
	assert_int_equal(db_exec_script(f->db, "PRAGMA query_only = OFF;"), 0);
	assert_int_equal(number(f->db, "SELECT last_seen FROM screens WHERE id = ?", "scr1"), 0);
	int64_t seq_before = number(f->db, "SELECT change_seq FROM screens WHERE id = ?", "scr1");

	/* it takes writes again: everything pending goes in one step */
	assert_int_equal(presence_flush(f->db), DB_DONE);
	assert_int_equal(number(f->db, "SELECT last_seen FROM screens WHERE id = ?", "scr1"), 1010);
	assert_int_equal(number(f->db, "SELECT deliveries FROM instructions WHERE id = ?", "ins1"), 1);
	assert_int_equal(number(f->db, "SELECT status = 'delivered' FROM instructions WHERE id = ?", "ins1"), 1);
	/* the console was told it came online (the account's change counter moved) */
	assert_true(number(f->db, "SELECT change_seq FROM screens WHERE id = ?", "scr1") > seq_before);
	/* nothing is left: another step writes nothing */
	assert_int_equal(presence_flush(f->db), DB_DONE);
	assert_int_equal(number(f->db, "SELECT deliveries FROM instructions WHERE id = ?", "ins1"), 1);
}

static void test_presence_forgets_a_deleted_screen(void **state)
{
	(void)state;
	int64_t seen;
	char ip[64];
	presence_seen("gone1", "acct", "192.0.2.9", 5000, 0);
	presence_seen("kept1", "acct", "192.0.2.10", 5000, 0);
	assert_true(presence_last_seen("gone1", 0, &seen, ip, sizeof ip));
	presence_forget("gone1");
	assert_false(presence_last_seen("gone1", 0, &seen, ip, sizeof ip));
	assert_true(presence_last_seen("kept1", 0, &seen, ip, sizeof ip)); /* its neighbours stay */
	assert_string_equal(ip, "192.0.2.10");
	presence_forget("never-seen"); /* nothing to drop: no harm */
}

int main(void)
{
	log_set_level((enum log_level)(LOG_ERROR + 1)); /* failures are expected here */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_full_database_is_db_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_presence_waits_for_a_refusing_store, setup, teardown),
	    cmocka_unit_test(test_presence_forgets_a_deleted_screen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
