/*
 * Unit tests of src/server/screens/rule.c: the screen rule language —
 * precedence, negation over fields with several values, numbers against
 * text, natural order of versions, byte fields in MiB, and the error
 * messages (with the character where the rule went wrong) and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/screens/rule.h"

static json_t *screen(void)
{
	json_error_t e;
	json_t *s =
	    json_loads("{\"id\":\"aaaa\",\"name\":\"Lobby 1\",\"group\":\"hall\",\"tags\":[\"lobby\",\"north\"],"
	               "\"online\":true,\"last_ip\":\"10.1.2.3\",\"version\":\"1.4.2\","
	               "\"inventory\":{\"model\":\"Raspberry Pi 5\",\"os\":{\"kernel\":\"6.1.0-17-arm64\"},"
	               "\"cpu\":{\"cores\":4,\"arch\":\"aarch64\"},\"memory\":{\"total_bytes\":8589934592},"
	               "\"disks\":[{\"free_bytes\":1073741824},{\"free_bytes\":52428800}],"
	               "\"network\":[{\"name\":\"eth0\",\"addresses\":[\"10.1.2.3\",\"fe80::1\"]}],"
	               "\"displays\":[{\"name\":\"HDMI-A-1\",\"resolution\":\"1920x1080\"}]}}",
	               0, &e);
	assert_non_null(s);
	return s;
}

static bool matches(const char *text)
{
	char err[256];
	struct rule *r = rule_parse(text, err, sizeof err);
	if (!r)
		print_error("rule_parse refused \"%s\": %s\n", text, err);
	assert_non_null(r);
	json_t *s = screen();
	bool m = rule_match(r, s);
	json_decref(s);
	rule_free(r);
	return m;
}

static void refused(const char *text, const char *expect)
{
	char err[256] = "";
	struct rule *r = rule_parse(text, err, sizeof err);
	if (r || !strstr(err, expect))
		print_error("rule \"%s\": got \"%s\", wanted \"%s\"\n", text, r ? "(accepted)" : err, expect);
	assert_null(r);
	assert_non_null(strstr(err, expect));
}

static void test_comparisons(void **state)
{
	(void)state;
	assert_true(matches("name = \"Lobby 1\""));
	assert_true(matches("name = \"lobby 1\"")); /* case-insensitive */
	assert_false(matches("name = Lobby"));
	assert_true(matches("name ~ lob"));
	assert_true(matches("name !~ office"));
	assert_true(matches("group = hall"));
	assert_true(matches("online = true"));
	assert_true(matches("model ~ \"pi 5\""));
	assert_true(matches("arch = aarch64 and cores >= 4 and cores < 5"));
	assert_true(matches("memory_mb = 8192"));
	assert_true(matches("ip ~ 10.1."));
	assert_true(matches("resolution = 1920x1080"));
}

static void test_versions_compare_naturally(void **state)
{
	(void)state;
	assert_true(matches("version < 1.10"));
	assert_true(matches("version > 1.4.1"));
	assert_true(matches("version >= 1.4.2 and version <= 1.4.2"));
	assert_false(matches("version < 1.4"));
	assert_true(matches("kernel > 6.1.0-9-arm64")); /* 17 > 9, not "1" < "9" */
}

static void test_fields_with_several_values(void **state)
{
	(void)state;
	assert_true(matches("tag = lobby"));
	assert_true(matches("tag = north"));
	assert_false(matches("tag = south"));
	assert_true(matches("tag != south"));
	assert_false(matches("tag != lobby"));       /* none of the tags is lobby: false */
	assert_true(matches("disk_free_mb < 100"));  /* one disk has 50 MiB free */
	assert_true(matches("disk_free_mb > 1000")); /* and another 1 GiB */
	assert_true(matches("address = fe80::1"));
	assert_true(matches("interface = eth0"));
	/* a field the screen has not reported: only the negations hold */
	assert_false(matches("hostname = x"));
	assert_true(matches("hostname != x"));
	assert_false(matches("uptime_s > 0"));
}

static void test_precedence_and_grouping(void **state)
{
	(void)state;
	assert_true(matches("tag = south or tag = lobby and online = true"));
	assert_false(matches("(tag = south or tag = lobby) and online = false"));
	assert_true(matches("not tag = south"));
	assert_true(matches("not (tag = south or name = x)"));
	assert_true(matches("NOT tag = south AND Tag = LOBBY"));
	assert_true(matches("tag+=+lobby+and+cores+>=+4")); /* + is a space (form encoding) */
	assert_true(matches("name = \"Lobby 1\" and name != \"Lobby+1\""));
}

static void test_errors_say_where(void **state)
{
	(void)state;
	refused("", "empty");
	refused("   ", "empty");
	refused("colour = red", "unknown field \"colour\"");
	refused("tag", "expected an operator");
	refused("tag ==", "expected a value");
	refused("tag = ", "expected a value");
	refused("tag = a b", "at character 9");
	refused("(tag = a", "expected \")\"");
	refused("tag = \"open", "not closed");
	refused("tag = a and", "expected a field name");
	refused("= a", "expected a field name");
	char deep[200] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "(");
	strcat(deep, "tag = a");
	refused(deep, "nests too deep");
	char longrule[RULE_MAX_TEXT + 10];
	memset(longrule, 'a', sizeof longrule - 1);
	longrule[sizeof longrule - 1] = '\0';
	refused(longrule, "at most");
	char many[RULE_MAX_TEXT] = "tag = a";
	for (int i = 0; i < 40; i++)
		strcat(many, " or tag = b");
	refused(many, "too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_comparisons),
	    cmocka_unit_test(test_versions_compare_naturally),
	    cmocka_unit_test(test_fields_with_several_values),
	    cmocka_unit_test(test_precedence_and_grouping),
	    cmocka_unit_test(test_errors_say_where),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
