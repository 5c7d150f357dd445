/*
 * The settings of a program (vitrine-server, vitrine-player), from four
 * layers, each overriding the one before:
 *
 *   built-in default -> config file (INI, one section) -> environment -> flag
 *
 * A program describes its settings once, in a table (name, type, default,
 * environment variable, flag, help); this module reads the layers, checks
 * the values against their type and prints the help. The command line is
 * read with getopt_long, before anything else (so --help works even with a
 * broken config file), but the flags it carries are applied last.
 *
 *   struct settings s;
 *   settings_init(&s, "server", table, count);
 *   while ((c = settings_getopt(&s, argc, argv, "h", extra, err, sizeof err)) != -1)
 *           ... the program's own options (extra), '?' on a usage error ...
 *   if (settings_load(&s, err, sizeof err) != 0) ... err is a sentence ...
 *   settings_get(&s, KEY), settings_uint(&s, KEY) ...
 *   settings_free(&s);
 */
#ifndef VITRINE_SETTINGS_H
#define VITRINE_SETTINGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum setting_type {
	SETTING_TEXT, /* any string */
	SETTING_UINT, /* decimal digits only, from min to max */
	SETTING_URL,  /* empty, or an http:// or https:// URL; trailing '/' are dropped */
};

/* Where a setting's value came from. */
enum setting_source { SETTING_FROM_DEFAULT, SETTING_FROM_FILE, SETTING_FROM_ENV, SETTING_FROM_FLAG };

struct setting {
	const char *name; /* key in the config file, and in messages */
	enum setting_type type;
	const char *def;     /* the default, as text ("" for none) */
	const char *env;     /* environment variable, or NULL */
	const char *flag;    /* long option without "--", or NULL */
	const char *metavar; /* what the flag takes, for --help ("HOST:PORT") */
	uint64_t min, max;   /* bounds of a SETTING_UINT */
	const char *help;
};

/* Option codes settings_getopt uses for itself; the program's own options
 * (extra) must use codes below SETTINGS_OPT_BASE. */
#define SETTINGS_OPT_BASE 0x10000

struct settings {
	const char *section; /* of the config file, e.g. "server" */
	const struct setting *table;
	size_t count;
	char **values;                /* owned, one per setting */
	enum setting_source *sources; /* one per setting */
	char **flags;                 /* values given on the command line, applied by settings_load */
	const char *config_path;      /* --config FILE (borrowed from argv), or NULL */
	struct option *longopts;      /* built by the first settings_getopt call */
	char *shortopts;              /* idem */
};

/* Fills the defaults. Returns 0, or -1 when out of memory. */
int settings_init(struct settings *s, const char *section, const struct setting *table, size_t count);
void settings_free(struct settings *s);

/* Index of the setting with this config-file name, or -1. */
int settings_find(const struct settings *s, const char *name);

/* Sets a value by index (no check: settings_check does that). Returns 0 or
 * -1 when out of memory. */
int settings_set(struct settings *s, size_t i, const char *value, enum setting_source from);

/* Reads the INI file path: only the program's section, only known keys.
 * Returns 0, or -1 with a sentence in err (cannot open, syntax error at
 * line N, unknown section, unknown setting). */
int settings_load_file(struct settings *s, const char *path, char *err, size_t errsz);

/* Applies the environment variables that are set (even to ""). Returns 0,
 * or -1 when out of memory. */
int settings_load_env(struct settings *s);

/* Reads the command line like getopt_long: the settings' flags and
 * --config FILE are taken here and kept for settings_load; the program's
 * own options (extra, ended by a zeroed entry; shortopts as for getopt) are
 * returned one by one with optarg set. Returns the option's code, -1 at
 * the end (optind is then the first operand: operands may come anywhere),
 * or '?' with a sentence in err (unknown option, missing value). The first
 * call starts a fresh scan of argv. */
int settings_getopt(struct settings *s, int argc, char **argv, const char *shortopts, const struct option *extra,
                    char *err, size_t errsz);

/* Applies the layers in order -- the config file given by --config (if
 * any), the environment, the flags -- then checks every value. Returns 0,
 * or -1 with a sentence in err. */
int settings_load(struct settings *s, char *err, size_t errsz);

/* Checks every value against its type (and normalises URLs). Returns 0, or
 * -1 with a sentence in err naming the setting. */
int settings_check(struct settings *s, char *err, size_t errsz);

/* The value of setting i: never NULL. */
const char *settings_get(const struct settings *s, size_t i);

/* The value of a SETTING_UINT after a successful settings_check (0 if the
 * text is not a number). */
uint64_t settings_uint(const struct settings *s, size_t i);

enum setting_source settings_source(const struct settings *s, size_t i);

/* Prints every setting: flag, config key, environment variable, default
 * and help, with a line saying the order of the layers. */
void settings_print_help(const struct settings *s, FILE *out);

#endif
