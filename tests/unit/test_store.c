/*
 * Unit tests of the SQLite store (src/server/store/sqlite.c, migrate.c):
 * migrations are all-or-nothing per step and idempotent, the built-in list
 * applies on a fresh database, the audit table is append-only, and
 * db_notify delivers only after a commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
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
	if (!f->db)
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

static bool table_exists(struct db *db, const char *name)
{
	int rc;
	struct db_stmt *st =
	    db_query(db, &rc, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", "s", name);
	assert_non_null(st);
	bool yes = db_col_int(st, 0) > 0;
	db_done(st);
	return yes;
}

static int64_t count_rows(struct db *db, const char *sql)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, sql, NULL);
	assert_non_null(st);
	int64_t n = db_col_int(st, 0);
	db_done(st);
	return n;
}

static const struct migration two[] = {
    {1, "widgets", "CREATE TABLE widgets(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
    {2, "gadgets",
     "CREATE TABLE gadgets(id INTEGER PRIMARY KEY, widget_id INTEGER REFERENCES widgets(id));"
     "CREATE INDEX gadgets_widget ON gadgets(widget_id);"},
};

static void test_migrate_custom(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	assert_true(table_exists(f->db, "widgets"));
	assert_true(table_exists(f->db, "gadgets"));
	assert_true(table_exists(f->db, "schema_migrations"));
	assert_int_equal(store_schema_version(f->db), 2);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM schema_migrations"), 2);

	/* again: nothing to do, nothing applied twice */
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	assert_int_equal(store_schema_version(f->db), 2);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM schema_migrations"), 2);

	/* a reopened connection sees the same version */
	struct db *again = db_open_file(f->path);
	assert_non_null(again);
	assert_int_equal(store_schema_version(again), 2);
	assert_int_equal(store_migrate(again, two, 2), 0);
	db_close(again);
}

static void test_migrate_one_at_a_time(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, two, 1), 0);
	assert_int_equal(store_schema_version(f->db), 1);
	assert_true(table_exists(f->db, "widgets"));
	assert_false(table_exists(f->db, "gadgets"));
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	assert_int_equal(store_schema_version(f->db), 2);
	assert_true(table_exists(f->db, "gadgets"));
}

static void test_migrate_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO widgets(name) VALUES('kept')", NULL), DB_DONE);

	const struct migration three[] = {
	    two[0],
	    two[1],
	    {3, "broken",
	     "CREATE TABLE half_done(x INTEGER);"
	     "INSERT INTO widgets(name) VALUES('from the broken migration');"
	     "CREATE TABLEX oops(;"},
	};
	assert_int_equal(store_migrate(f->db, three, 3), -1);
	assert_int_equal(store_schema_version(f->db), 2);
	assert_false(table_exists(f->db, "half_done"));
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM widgets"), 1);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM schema_migrations"), 2);
	assert_false(db_in_tx(f->db));

	/* the connection is still usable and a fixed migration 3 applies */
	const struct migration fixed[] = {
	    two[0],
	    two[1],
	    {3, "fixed", "CREATE TABLE half_done(x INTEGER);"},
	};
	assert_int_equal(store_migrate(f->db, fixed, 3), 0);
	assert_int_equal(store_schema_version(f->db), 3);
	assert_true(table_exists(f->db, "half_done"));
}

static void test_migrate_failure_in_the_middle(void **state)
{
	struct fixture *f = *state;
	/* 1 applies, 2 fails, 3 must not run */
	const struct migration list[] = {
	    two[0],
	    {2, "bad", "CREATE TABLE t2(x); SELECT no_such_function();"},
	    {3, "never", "CREATE TABLE t3(x);"},
	};
	assert_int_equal(store_migrate(f->db, list, 3), -1);
	assert_int_equal(store_schema_version(f->db), 1);
	assert_false(table_exists(f->db, "t2"));
	assert_false(table_exists(f->db, "t3"));
}

static void test_builtin_migrations(void **state)
{
	struct fixture *f = *state;
	assert_true(store_migrations_count > 0);
	int last = 0;
	for (size_t i = 0; i < store_migrations_count; i++) {
		/* versions strictly increase, names and SQL are present */
		assert_true(store_migrations[i].version > last);
		last = store_migrations[i].version;
		assert_non_null(store_migrations[i].name);
		assert_true(strlen(store_migrations[i].sql) > 0);
	}
	assert_int_equal(store_migrate(f->db, store_migrations, store_migrations_count), 0);
	assert_int_equal(store_schema_version(f->db), last);
	assert_true(table_exists(f->db, "accounts"));
	assert_true(table_exists(f->db, "users"));
	assert_true(table_exists(f->db, "sessions"));
	assert_true(table_exists(f->db, "audit"));
	assert_int_equal(store_migrate(f->db, store_migrations, store_migrations_count), 0);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM schema_migrations"), (int64_t)store_migrations_count);
	/* the schema is sound */
	int rc;
	struct db_stmt *st = db_query(f->db, &rc, "PRAGMA integrity_check", NULL);
	assert_non_null(st);
	assert_string_equal(db_col_text(st, 0), "ok");
	db_done(st);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void test_audit_append_only(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, store_migrations, store_migrations_count), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO audit(id, account_id, at, actor, ip, action) VALUES(?,?,?,?,?,?)",
	                         "ssisss", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", (int64_t)1700000000, "alice",
	                         "127.0.0.1", "login"),
	                 DB_DONE);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM audit"), 1);

	assert_int_not_equal(db_exec(f->db, "UPDATE audit SET action='nothing'", NULL), DB_DONE);
	assert_int_not_equal(db_exec(f->db, "UPDATE audit SET at=0 WHERE id=?", "s", "aaaaaaaaaaaaaaaa"), DB_DONE);
	assert_int_not_equal(db_exec(f->db, "DELETE FROM audit", NULL), DB_DONE);
	assert_int_not_equal(db_exec(f->db, "DELETE FROM audit WHERE id=?", "s", "aaaaaaaaaaaaaaaa"), DB_DONE);
	/* nor by an UPSERT (its UPDATE fires the trigger) */
	assert_int_not_equal(db_exec(f->db,
	                             "INSERT INTO audit(id, account_id, at, actor, ip, action) "
	                             "VALUES('aaaaaaaaaaaaaaaa', NULL, 0, 'x', 'x', 'x') "
	                             "ON CONFLICT(id) DO UPDATE SET action='forged'",
	                             NULL),
	                     DB_DONE);

	/* the same inside a transaction, which stays usable */
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_not_equal(db_exec(f->db, "DELETE FROM audit", NULL), DB_DONE);
	db_rollback(f->db);

	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM audit"), 1);
	int rc;
	struct db_stmt *st = db_query(f->db, &rc, "SELECT action, at FROM audit", NULL);
	assert_non_null(st);
	assert_string_equal(db_col_text(st, 0), "login");
	assert_int_equal(db_col_int(st, 1), 1700000000);
	db_done(st);
}

/* REPLACE resolves a conflict by deleting the old row, and SQLite fires
 * DELETE triggers for that only with PRAGMA recursive_triggers=ON; without
 * it an entry can be rewritten. db_open_file() turns it on for every
 * connection. */
static void test_audit_replace_refused(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, store_migrations, store_migrations_count), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO audit(id, account_id, at, actor, ip, action) VALUES(?,?,?,?,?,?)",
	                         "ssisss", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", (int64_t)1700000000, "alice",
	                         "127.0.0.1", "login"),
	                 DB_DONE);
	int rc1 = db_exec(f->db,
	                  "REPLACE INTO audit(seq, id, account_id, at, actor, ip, action) "
	                  "SELECT seq, id, account_id, at, actor, ip, 'forged' FROM audit",
	                  NULL);
	int rc2 = db_exec(f->db,
	                  "INSERT OR REPLACE INTO audit(id, account_id, at, actor, ip, action) "
	                  "VALUES('aaaaaaaaaaaaaaaa', NULL, 0, 'mallory', '10.0.0.1', 'forged')",
	                  NULL);
	int rc;
	struct db_stmt *st = db_query(f->db, &rc, "SELECT action, actor, count(*) FROM audit", NULL);
	assert_non_null(st);
	bool rewritten = strcmp(db_col_text(st, 0), "login") != 0 || strcmp(db_col_text(st, 1), "alice") != 0;
	int64_t rows = db_col_int(st, 2);
	db_done(st);
	assert_int_not_equal(rc1, DB_DONE);
	assert_int_not_equal(rc2, DB_DONE);
	assert_false(rewritten);
	assert_int_equal(rows, 1);
}

static int notified;
static char last_key[64];

static void on_notify(const char *key, void *arg)
{
	(void)arg;
	notified++;
	snprintf(last_key, sizeof last_key, "%s", key);
}

static void test_notify_after_commit(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	notified = 0;
	last_key[0] = '\0';
	store_set_notify_hook(on_notify, NULL);

	/* committed: delivered once, after COMMIT */
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_equal(db_exec(f->db, "INSERT INTO widgets(name) VALUES('a')", NULL), DB_DONE);
	db_notify(f->db, "device:one");
	db_notify(f->db, "device:one"); /* the same key twice: once */
	assert_int_equal(notified, 0);
	assert_int_equal(db_commit(f->db), DB_DONE);
	assert_int_equal(notified, 1);
	assert_string_equal(last_key, "device:one");

	/* rolled back: never delivered, not even by the next commit */
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	db_notify(f->db, "device:two");
	db_rollback(f->db);
	assert_int_equal(notified, 1);
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_equal(db_commit(f->db), DB_DONE);
	assert_int_equal(notified, 1);

	/* several keys in one transaction */
	assert_int_equal(db_begin(f->db, false), DB_DONE);
	db_notify(f->db, "k1");
	db_notify(f->db, "k2");
	db_notify(f->db, "k3");
	assert_int_equal(notified, 1);
	assert_int_equal(db_commit(f->db), DB_DONE);
	assert_int_equal(notified, 4);
	assert_string_equal(last_key, "k3");

	/* outside a transaction (autocommit): at once */
	db_notify(f->db, "k4");
	assert_int_equal(notified, 5);

	/* a failed COMMIT delivers nothing: make one fail with a deferred
	 * foreign key violation */
	assert_int_equal(db_exec_script(f->db, "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
	                                       "CREATE TABLE child(pid INTEGER REFERENCES parent(id) "
	                                       "DEFERRABLE INITIALLY DEFERRED);"),
	                 0);
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_equal(db_exec(f->db, "INSERT INTO child(pid) VALUES(42)", NULL), DB_DONE);
	db_notify(f->db, "k5");
	assert_int_not_equal(db_commit(f->db), DB_DONE);
	assert_false(db_in_tx(f->db));
	assert_int_equal(notified, 5);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM child"), 0);

	store_set_notify_hook(NULL, NULL);
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_migrate(f->db, two, 2), 0);
	assert_false(db_in_tx(f->db));
	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_true(db_in_tx(f->db));
	assert_int_equal(db_begin(f->db, true), DB_ERROR); /* no nesting */
	assert_int_equal(db_exec(f->db, "INSERT INTO widgets(name) VALUES(?)", "s", "rolled back"), DB_DONE);
	db_rollback(f->db);
	assert_false(db_in_tx(f->db));
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM widgets"), 0);
	assert_int_equal(db_commit(f->db), DB_ERROR); /* nothing to commit */

	assert_int_equal(db_begin(f->db, true), DB_DONE);
	assert_int_equal(db_exec(f->db, "INSERT INTO widgets(name) VALUES(?)", "s", "kept"), DB_DONE);
	assert_int_equal(db_changes(f->db), 1);
	assert_int_equal(db_commit(f->db), DB_DONE);
	assert_int_equal(count_rows(f->db, "SELECT count(*) FROM widgets"), 1);

	/* constraint errors are told apart */
	assert_int_equal(db_exec(f->db, "INSERT INTO widgets(id, name) VALUES(1, NULL)", NULL), DB_CONSTRAINT);
	/* NULL binding and text columns */
	int rc;
	struct db_stmt *st = db_query(f->db, &rc, "SELECT ?, ? IS NULL", "s", (const char *)NULL);
	assert_non_null(st);
	assert_true(db_col_is_null(st, 0));
	assert_string_equal(db_col_text(st, 0), "");
	db_done(st);
	/* no row */
	st = db_query(f->db, &rc, "SELECT name FROM widgets WHERE id = ?", "i", (int64_t)999);
	assert_null(st);
	assert_int_equal(rc, DB_DONE);
	/* bad SQL is an error, not a crash */
	st = db_query(f->db, &rc, "SELEKT 1", NULL);
	assert_null(st);
	assert_int_equal(rc, DB_ERROR);
}

int main(void)
{
	log_set_level((enum log_level)(LOG_ERROR + 1)); /* failures are expected here */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrate_custom, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_failure_rolls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_failure_in_the_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_builtin_migrations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_append_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_replace_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_after_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
