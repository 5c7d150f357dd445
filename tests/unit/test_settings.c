/*
 * Unit tests of src/common/settings.c: the order of the layers (default,
 * config file, environment, flag: each wins over the one before), the
 * command line read with getopt_long (the settings' flags, --config, the
 * program's own options and operands), and clear refusals: an unknown
 * section or key in the file, a number out of bounds, a URL that is not
 * http(s), a flag without its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/settings.h"
#include "testutil.h"

enum { K_NAME, K_COLOR, K_SIZE, K_SPEED, K_URL, K_COUNT };

static const struct setting table[K_COUNT] = {
    [K_NAME] = {.name = "name", .type = SETTING_TEXT, .def = "dflt", .env = "VT_NAME", .flag = "name", .help = "n"},
    [K_COLOR] = {.name = "color", .type = SETTING_TEXT, .def = "red", .env = "VT_COLOR", .flag = "color", .help = "c"},
    [K_SIZE] = {.name = "size_limit",
                .type = SETTING_UINT,
                .def = "10",
                .env = "VT_SIZE",
                .flag = "size-limit",
                .min = 1,
                .max = 100,
                .help = "s"},
    [K_SPEED] = {.name = "speed", .type = SETTING_UINT, .def = "0", .env = "VT_SPEED", .max = 5, .help = "no flag"},
    [K_URL] = {.name = "url", .type = SETTING_URL, .def = "", .env = "VT_URL", .flag = "url", .help = "u"},
};

struct fixture {
	char dir[256];
	char ini[300];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f || test_tmpdir(f->dir, sizeof f->dir) != 0)
		return -1;
	snprintf(f->ini, sizeof f->ini, "%s/test.ini", f->dir);
	for (int i = 0; i < K_COUNT; i++)
		unsetenv(table[i].env);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	test_rmtree(f->dir);
	free(f);
	for (int i = 0; i < K_COUNT; i++)
		unsetenv(table[i].env);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Runs the whole command line through settings_getopt + settings_load;
 * returns settings_load's result (or -2 on a usage error). */
static int parse(struct settings *s, int argc, char **argv, char *err, size_t errsz)
{
	assert_int_equal(settings_init(s, "test", table, K_COUNT), 0);
	static const struct option own[] = {{"verbose", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
	int c;
	while ((c = settings_getopt(s, argc, argv, "v", own, err, errsz)) != -1)
		if (c == '?')
			return -2;
	return settings_load(s, err, errsz);
}

static void test_defaults(void **state)
{
	(void)state;
	struct settings s;
	char err[256] = "";
	char *argv[] = {"prog", NULL};
	assert_int_equal(parse(&s, 1, argv, err, sizeof err), 0);
	assert_string_equal(settings_get(&s, K_NAME), "dflt");
	assert_int_equal(settings_uint(&s, K_SIZE), 10);
	assert_string_equal(settings_get(&s, K_URL), "");
	assert_int_equal(settings_source(&s, K_NAME), SETTING_FROM_DEFAULT);
	settings_free(&s);
}

/* name is set by all four layers, color by three, size by two, speed by
 * the file only: each takes the value of its highest layer. */
static void test_precedence(void **state)
{
	struct fixture *f = *state;
	write_file(f->ini, "[test]\nname = from-file\ncolor = blue\nsize_limit = 20\nspeed = 3\n");
	setenv("VT_NAME", "from-env", 1);
	setenv("VT_COLOR", "green", 1);
	struct settings s;
	char err[256] = "";
	/* the flag comes before --config on the line and still wins */
	char *argv[] = {"prog", "--name", "from-flag", "--config", f->ini, NULL};
	assert_int_equal(parse(&s, 5, argv, err, sizeof err), 0);
	assert_string_equal(settings_get(&s, K_NAME), "from-flag");
	assert_int_equal(settings_source(&s, K_NAME), SETTING_FROM_FLAG);
	assert_string_equal(settings_get(&s, K_COLOR), "green");
	assert_int_equal(settings_source(&s, K_COLOR), SETTING_FROM_ENV);
	assert_int_equal(settings_uint(&s, K_SIZE), 20);
	assert_int_equal(settings_source(&s, K_SIZE), SETTING_FROM_FILE);
	assert_int_equal(settings_uint(&s, K_SPEED), 3);
	assert_string_equal(settings_get(&s, K_URL), "");
	assert_int_equal(settings_source(&s, K_URL), SETTING_FROM_DEFAULT);
	settings_free(&s);
}

static void test_env_over_default_and_empty_env(void **state)
{
	(void)state;
	setenv("VT_NAME", "", 1); /* set to empty still counts */
	setenv("VT_SIZE", "42", 1);
	struct settings s;
	char err[256] = "";
	char *argv[] = {"prog", NULL};
	assert_int_equal(parse(&s, 1, argv, err, sizeof err), 0);
	assert_string_equal(settings_get(&s, K_NAME), "");
	assert_int_equal(settings_uint(&s, K_SIZE), 42);
	settings_free(&s);
}

static void test_flags_forms_and_operands(void **state)
{
	(void)state;
	struct settings s;
	char err[256] = "";
	assert_int_equal(settings_init(&s, "test", table, K_COUNT), 0);
	static const struct option own[] = {{"verbose", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
	char *argv[] = {"prog", "run", "--size-limit=7", "-v", "--name", "a", "--name", "b", "extra", NULL};
	int verbose = 0, c;
	while ((c = settings_getopt(&s, 9, argv, "v", own, err, sizeof err)) != -1) {
		assert_int_equal(c, 'v');
		verbose++;
	}
	assert_int_equal(verbose, 1);
	/* operands may be anywhere; getopt_long moves them to the end */
	assert_int_equal(9 - optind, 2);
	assert_string_equal(argv[optind], "run");
	assert_string_equal(argv[optind + 1], "extra");
	assert_int_equal(settings_load(&s, err, sizeof err), 0);
	assert_int_equal(settings_uint(&s, K_SIZE), 7);
	assert_string_equal(settings_get(&s, K_NAME), "b"); /* the last flag wins */
	settings_free(&s);
}

static void test_usage_errors(void **state)
{
	(void)state;
	struct settings s;
	char err[256] = "";
	char *unknown[] = {"prog", "--bogus", NULL};
	assert_int_equal(parse(&s, 2, unknown, err, sizeof err), -2);
	assert_string_equal(err, "unknown argument \"--bogus\" (see --help)");
	settings_free(&s);
	char *missing[] = {"prog", "--name", NULL};
	assert_int_equal(parse(&s, 2, missing, err, sizeof err), -2);
	assert_string_equal(err, "--name needs a value");
	settings_free(&s);
	/* a setting without a flag is not an option */
	char *noflag[] = {"prog", "--speed", "1", NULL};
	assert_int_equal(parse(&s, 3, noflag, err, sizeof err), -2);
	settings_free(&s);
}

static void test_file_errors(void **state)
{
	struct fixture *f = *state;
	struct settings s;
	char err[256] = "";
	char *argv[] = {"prog", "--config", f->ini, NULL};

	write_file(f->ini, "[test]\nname = x\nnosuch = 1\n");
	assert_int_equal(parse(&s, 3, argv, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown setting \"nosuch\" in [test]"));
	assert_non_null(strstr(err, "line 3"));
	settings_free(&s);

	write_file(f->ini, "[other]\nname = x\n");
	assert_int_equal(parse(&s, 3, argv, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown section [other] (expected [test])"));
	settings_free(&s);

	write_file(f->ini, "[test]\nthis is not ini\n");
	assert_int_equal(parse(&s, 3, argv, err, sizeof err), -1);
	assert_non_null(strstr(err, "syntax error"));
	settings_free(&s);

	char *absent[] = {"prog", "--config", "/nonexistent/vitrine.ini", NULL};
	assert_int_equal(parse(&s, 3, absent, err, sizeof err), -1);
	assert_string_equal(err, "cannot open the config file /nonexistent/vitrine.ini");
	settings_free(&s);
}

static void test_numbers(void **state)
{
	(void)state;
	struct settings s;
	char err[256] = "";
	const char *bad[] = {"0", "101", "-1", "+5", " 5", "5x", "", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("VT_SIZE", bad[i], 1);
		char *argv[] = {"prog", NULL};
		assert_int_equal(parse(&s, 1, argv, err, sizeof err), -1);
		assert_non_null(strstr(err, "size_limit must be a number from 1 to 100"));
		assert_non_null(strstr(err, "from the environment"));
		settings_free(&s);
	}
	setenv("VT_SIZE", "100", 1);
	char *argv[] = {"prog", NULL};
	assert_int_equal(parse(&s, 1, argv, err, sizeof err), 0);
	assert_int_equal(settings_uint(&s, K_SIZE), 100);
	settings_free(&s);
}

static void test_urls(void **state)
{
	(void)state;
	struct settings s;
	char err[256] = "";
	char *slash[] = {"prog", "--url", "https://example.org//", NULL};
	assert_int_equal(parse(&s, 3, slash, err, sizeof err), 0);
	assert_string_equal(settings_get(&s, K_URL), "https://example.org");
	settings_free(&s);
	const char *bad[] = {"ftp://example.org", "example.org", "https://", "http://a b", "https:///"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *argv[] = {"prog", "--url", (char *)bad[i], NULL};
		assert_int_equal(parse(&s, 3, argv, err, sizeof err), -1);
		assert_non_null(strstr(err, "url must be an http:// or https:// URL"));
		settings_free(&s);
	}
}

static void test_help_lists_everything(void **state)
{
	struct fixture *f = *state;
	char path[320];
	snprintf(path, sizeof path, "%s/help.txt", f->dir);
	FILE *out = fopen(path, "w+");
	assert_non_null(out);
	struct settings s;
	assert_int_equal(settings_init(&s, "test", table, K_COUNT), 0);
	settings_print_help(&s, out);
	rewind(out);
	char text[4096];
	size_t n = fread(text, 1, sizeof text - 1, out);
	text[n] = '\0';
	fclose(out);
	for (int i = 0; i < K_COUNT; i++) {
		assert_non_null(strstr(text, table[i].name));
		assert_non_null(strstr(text, table[i].env));
	}
	assert_non_null(strstr(text, "--size-limit"));
	assert_non_null(strstr(text, "[test]"));
	settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_over_default_and_empty_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags_forms_and_operands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help_lists_everything, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
