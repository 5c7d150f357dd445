/*
 * Unit tests of src/server/store/listquery.c: the defaults of a route,
 * limits and offsets in range, whitelisted sort columns (ascending and
 * descending, with the tiebreak), LIKE wildcards escaped in q, the
 * sentence given back for every bad value, and one lasting pointer per
 * SQL text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/store/listquery.h"

static const struct listquery_column columns[] = {
    {"name", "name COLLATE NOCASE"},
    {"last_seen", "last_seen"},
};
static const struct listquery_spec spec = {columns, 2, "name", "id", -1, 500};

static void defaults_answer_as_before(void **unused)
{
	(void)unused;
	struct listquery lq;
	char err[256];
	assert_int_equal(listquery_parse(&lq, &spec, NULL, NULL, NULL, NULL, err, sizeof err), 0);
	assert_int_equal(lq.limit, -1);
	assert_int_equal(lq.offset, 0);
	assert_false(lq.sorted);
	assert_string_equal(lq.order_by, "name");
	assert_string_equal(lq.like, "");
}

static void limit_offset_and_sort(void **unused)
{
	(void)unused;
	struct listquery lq;
	char err[256];
	assert_int_equal(listquery_parse(&lq, &spec, "50", "100", "-last_seen", "", err, sizeof err), 0);
	assert_int_equal(lq.limit, 50);
	assert_int_equal(lq.offset, 100);
	assert_true(lq.sorted);
	assert_string_equal(lq.order_by, "last_seen DESC, id DESC");
	assert_int_equal(listquery_parse(&lq, &spec, "500", "0", "name", NULL, err, sizeof err), 0);
	assert_string_equal(lq.order_by, "name COLLATE NOCASE ASC, id ASC");
}

static void q_escapes_like_wildcards(void **unused)
{
	(void)unused;
	struct listquery lq;
	char err[256];
	assert_int_equal(listquery_parse(&lq, &spec, NULL, NULL, NULL, "50%_off\\", err, sizeof err), 0);
	assert_string_equal(lq.like, "%50\\%\\_off\\\\%");
	char longest[LISTQUERY_Q_MAX + 1];
	memset(longest, '%', LISTQUERY_Q_MAX);
	longest[LISTQUERY_Q_MAX] = '\0';
	assert_int_equal(listquery_parse(&lq, &spec, NULL, NULL, NULL, longest, err, sizeof err), 0);
	assert_int_equal(strlen(lq.like), 2 * LISTQUERY_Q_MAX + 2);
}

static void refused(const char *limit, const char *offset, const char *sort, const char *q, const char *says)
{
	struct listquery lq;
	char err[256] = "";
	int rc = listquery_parse(&lq, &spec, limit, offset, sort, q, err, sizeof err);
	if (rc != -1 || !strstr(err, says))
		print_error("limit=%s offset=%s sort=%s: rc %d, \"%s\"\n", limit ? limit : "-", offset ? offset : "-",
		            sort ? sort : "-", rc, err);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, says));
}

static void bad_values_are_explained(void **unused)
{
	(void)unused;
	refused("0", NULL, NULL, NULL, "limit must be a whole number from 1 to 500");
	refused("501", NULL, NULL, NULL, "limit");
	refused("-5", NULL, NULL, NULL, "limit");
	refused("10x", NULL, NULL, NULL, "limit");
	refused("", NULL, NULL, NULL, "limit");
	refused("99999999999999999999", NULL, NULL, NULL, "limit");
	refused(NULL, "-1", NULL, NULL, "offset must be a whole number");
	refused(NULL, "1e3", NULL, NULL, "offset");
	refused(NULL, NULL, "name; DROP TABLE screens", NULL, "sort must be one of name, -name, last_seen, -last_seen");
	refused(NULL, NULL, "--name", NULL, "sort must be one of");
	refused(NULL, NULL, "", NULL, "sort must be one of");
	char big[LISTQUERY_Q_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(NULL, NULL, NULL, big, "q must be at most 200 bytes");
}

static void intern_gives_one_pointer_per_text(void **unused)
{
	(void)unused;
	char a[64], b[64];
	snprintf(a, sizeof a, "SELECT 1 ORDER BY %s", "name ASC");
	snprintf(b, sizeof b, "SELECT 1 ORDER BY %s", "name ASC");
	const char *first = listquery_intern(a), *again = listquery_intern(b);
	assert_non_null(first);
	assert_ptr_equal(first, again); /* db_prepare's cache is keyed by the address */
	assert_ptr_not_equal(first, a);
	assert_string_equal(first, a);
	snprintf(b, sizeof b, "SELECT 1 ORDER BY %s", "name DESC");
	assert_ptr_not_equal(listquery_intern(b), first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_answer_as_before),         cmocka_unit_test(limit_offset_and_sort),
	    cmocka_unit_test(q_escapes_like_wildcards),          cmocka_unit_test(bad_values_are_explained),
	    cmocka_unit_test(intern_gives_one_pointer_per_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
