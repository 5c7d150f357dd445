/* Settings from defaults, a config file, the environment and flags; see settings.h. */
#include "settings.h"

#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OPT_CONFIG (2 * SETTINGS_OPT_BASE) /* above every setting's code */

int settings_init(struct settings *s, const char *section, const struct setting *table, size_t count)
{
	memset(s, 0, sizeof *s);
	s->section = section;
	s->table = table;
	s->count = count;
	s->values = calloc(count ? count : 1, sizeof *s->values);
	s->flags = calloc(count ? count : 1, sizeof *s->flags);
	s->sources = calloc(count ? count : 1, sizeof *s->sources);
	if (!s->values || !s->flags || !s->sources) {
		settings_free(s);
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		if (settings_set(s, i, table[i].def ? table[i].def : "", SETTING_FROM_DEFAULT) != 0) {
			settings_free(s);
			return -1;
		}
	return 0;
}

void settings_free(struct settings *s)
{
	for (size_t i = 0; i < s->count; i++) {
		if (s->values)
			free(s->values[i]);
		if (s->flags)
			free(s->flags[i]);
	}
	free(s->values);
	free(s->flags);
	free(s->sources);
	free(s->longopts);
	free(s->shortopts);
	memset(s, 0, sizeof *s);
}

int settings_find(const struct settings *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->table[i].name, name) == 0)
			return (int)i;
	return -1;
}

int settings_set(struct settings *s, size_t i, const char *value, enum setting_source from)
{
	char *v = strdup(value);
	if (!v)
		return -1;
	free(s->values[i]);
	s->values[i] = v;
	s->sources[i] = from;
	return 0;
}

/* --- config file --- */

struct ini_ctx {
	struct settings *s;
	char *err;
	size_t errsz;
	bool failed;
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	if (ctx->failed)
		return 0; /* the first problem is the one reported */
	if (strcmp(section, ctx->s->section) != 0) {
		snprintf(ctx->err, ctx->errsz, "unknown section [%s] (expected [%s])", section, ctx->s->section);
		ctx->failed = true;
		return 0;
	}
	int i = settings_find(ctx->s, name);
	if (i < 0) {
		snprintf(ctx->err, ctx->errsz, "unknown setting \"%s\" in [%s]", name, ctx->s->section);
		ctx->failed = true;
		return 0;
	}
	if (settings_set(ctx->s, (size_t)i, value, SETTING_FROM_FILE) != 0) {
		snprintf(ctx->err, ctx->errsz, "out of memory");
		ctx->failed = true;
		return 0;
	}
	return 1;
}

int settings_load_file(struct settings *s, const char *path, char *err, size_t errsz)
{
	struct ini_ctx ctx = {s, err, errsz, false};
	int rc = ini_parse(path, on_ini, &ctx);
	if (rc == -1) {
		snprintf(err, errsz, "cannot open the config file %s", path);
		return -1;
	}
	if (rc == -2) {
		snprintf(err, errsz, "out of memory reading %s", path);
		return -1;
	}
	if (ctx.failed) {
		size_t n = strlen(err);
		if (rc > 0 && n < errsz)
			snprintf(err + n, errsz - n, " (%s, line %d)", path, rc);
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errsz, "syntax error in %s at line %d", path, rc);
		return -1;
	}
	return 0;
}

/* --- environment --- */

int settings_load_env(struct settings *s)
{
	for (size_t i = 0; i < s->count; i++) {
		const char *v = s->table[i].env ? getenv(s->table[i].env) : NULL;
		if (v && settings_set(s, i, v, SETTING_FROM_ENV) != 0)
			return -1;
	}
	return 0;
}

/* --- command line --- */

static int build_options(struct settings *s, const char *shortopts, const struct option *extra)
{
	size_t n = 0, nextra = 0;
	for (size_t i = 0; i < s->count; i++)
		n += s->table[i].flag != NULL;
	while (extra && extra[nextra].name)
		nextra++;
	s->longopts = calloc(n + nextra + 2, sizeof *s->longopts);
	s->shortopts = malloc(strlen(shortopts ? shortopts : "") + 2);
	if (!s->longopts || !s->shortopts)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < s->count; i++)
		if (s->table[i].flag)
			s->longopts[o++] =
			    (struct option){s->table[i].flag, required_argument, NULL, SETTINGS_OPT_BASE + (int)i};
	s->longopts[o++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	for (size_t i = 0; i < nextra; i++)
		s->longopts[o++] = extra[i];
	/* ':' first: a missing value is told apart from an unknown option */
	s->shortopts[0] = ':';
	strcpy(s->shortopts + 1, shortopts ? shortopts : "");
	return 0;
}

int settings_getopt(struct settings *s, int argc, char **argv, const char *shortopts, const struct option *extra,
                    char *err, size_t errsz)
{
	if (!s->longopts) {
		if (build_options(s, shortopts, extra) != 0) {
			snprintf(err, errsz, "out of memory");
			return '?';
		}
		optind = 0; /* glibc: a fresh scan */
		opterr = 0;
	}
	for (;;) {
		int c = getopt_long(argc, argv, s->shortopts, s->longopts, NULL);
		const char *arg = optind > 0 && optind - 1 < argc ? argv[optind - 1] : "an option";
		if (c == OPT_CONFIG) {
			s->config_path = optarg;
			continue;
		}
		if (c >= SETTINGS_OPT_BASE && (size_t)(c - SETTINGS_OPT_BASE) < s->count) {
			size_t i = (size_t)(c - SETTINGS_OPT_BASE);
			char *v = strdup(optarg);
			if (!v) {
				snprintf(err, errsz, "out of memory");
				return '?';
			}
			free(s->flags[i]);
			s->flags[i] = v; /* the last one wins */
			continue;
		}
		if (c == ':') {
			if (optopt > 0 && optopt < 256)
				snprintf(err, errsz, "-%c needs a value", optopt);
			else
				snprintf(err, errsz, "%s needs a value", arg);
			return '?';
		}
		if (c == '?') {
			if (optopt > 0 && optopt < 256)
				snprintf(err, errsz, "unknown argument \"-%c\" (see --help)", optopt);
			else
				snprintf(err, errsz, "unknown argument \"%s\" (see --help)", arg);
			return '?';
		}
		return c;
	}
}

int settings_load(struct settings *s, char *err, size_t errsz)
{
	if (s->config_path && settings_load_file(s, s->config_path, err, errsz) != 0)
		return -1;
	if (settings_load_env(s) != 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->count; i++)
		if (s->flags[i] && settings_set(s, i, s->flags[i], SETTING_FROM_FLAG) != 0) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
	return settings_check(s, err, errsz);
}

/* --- values --- */

static bool parse_uint(const char *v, uint64_t *out)
{
	if (!*v || strspn(v, "0123456789") != strlen(v))
		return false;
	uint64_t n = 0;
	for (const char *p = v; *p; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

static bool check_url(char *v)
{
	size_t n = strlen(v);
	while (n > 0 && v[n - 1] == '/') /* "https://x/" and "https://x" are the same */
		v[--n] = '\0';
	if (n == 0)
		return true;
	size_t scheme = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
	if (!scheme || n == scheme)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static const char *source_name(enum setting_source from)
{
	switch (from) {
	case SETTING_FROM_FILE:
		return ", from the config file";
	case SETTING_FROM_ENV:
		return ", from the environment";
	case SETTING_FROM_FLAG:
		return ", from the command line";
	default:
		return ", the default";
	}
}

int settings_check(struct settings *s, char *err, size_t errsz)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct setting *t = &s->table[i];
		uint64_t n;
		switch (t->type) {
		case SETTING_UINT:
			if (!parse_uint(s->values[i], &n) || n < t->min || n > t->max) {
				snprintf(err, errsz, "%s must be a number from %llu to %llu (got \"%.40s\"%s)", t->name,
				         (unsigned long long)t->min, (unsigned long long)t->max, s->values[i],
				         source_name(s->sources[i]));
				return -1;
			}
			break;
		case SETTING_URL:
			if (!check_url(s->values[i])) {
				snprintf(err, errsz, "%s must be an http:// or https:// URL (got \"%.80s\"%s)", t->name,
				         s->values[i], source_name(s->sources[i]));
				return -1;
			}
			break;
		case SETTING_TEXT:
			break;
		}
	}
	return 0;
}

const char *settings_get(const struct settings *s, size_t i)
{
	return i < s->count && s->values[i] ? s->values[i] : "";
}

uint64_t settings_uint(const struct settings *s, size_t i)
{
	uint64_t n = 0;
	return parse_uint(settings_get(s, i), &n) ? n : 0;
}

enum setting_source settings_source(const struct settings *s, size_t i)
{
	return s->sources[i];
}

void settings_print_help(const struct settings *s, FILE *out)
{
	fprintf(out,
	        "Settings (each overrides the one before: default, config file section [%s],\n"
	        "environment, flag):\n",
	        s->section);
	fprintf(out, "  %-30s %-22s %-30s %s\n", "flag", "config key", "environment", "default");
	for (size_t i = 0; i < s->count; i++) {
		const struct setting *t = &s->table[i];
		char flag[64] = "-";
		if (t->flag)
			snprintf(flag, sizeof flag, "--%s %s", t->flag, t->metavar ? t->metavar : "VALUE");
		fprintf(out, "  %-30s %-22s %-30s %s\n      %s\n", flag, t->name, t->env ? t->env : "-",
		        t->def && *t->def ? t->def : "(none)", t->help);
	}
}
