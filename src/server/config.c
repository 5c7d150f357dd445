/* Settings of vitrine-server; see config.h. */
#include "config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key_info {
	const char *name;
	const char *env;
	const char *def;
	const char *help;
};

static const struct key_info keys[CFG_COUNT] = {
    [CFG_DATA] = {"data", "VITRINE_DATA", "var", "data folder (SQLite database, keys, media)"},
    [CFG_LISTEN] = {"listen", "VITRINE_LISTEN", "127.0.0.1:8080", "HOST:PORT of the API and console"},
    [CFG_HTTP_LISTEN] = {"http_listen", "VITRINE_HTTP_LISTEN", "",
                         "HOST:PORT of a plain-HTTP listener that redirects to HTTPS (with TLS)"},
    [CFG_TLS_CERT] = {"tls_cert", "VITRINE_TLS_CERT", "", "PEM certificate chain; enables HTTPS"},
    [CFG_TLS_KEY] = {"tls_key", "VITRINE_TLS_KEY", "", "PEM private key of tls_cert"},
    [CFG_PUBLIC_URL] = {"public_url", "VITRINE_PUBLIC_URL", "", "URL users and players reach the server at"},
    [CFG_THREADS] = {"threads", "VITRINE_THREADS", "2", "network threads (libmicrohttpd pool)"},
    [CFG_WORKERS] = {"workers", "VITRINE_WORKERS", "2", "password-hashing workers (64 MiB each at work)"},
    [CFG_CONNECTION_LIMIT] = {"connection_limit", "VITRINE_CONNECTION_LIMIT", "19000",
                              "open connections at most (capped by RLIMIT_NOFILE)"},
    [CFG_SESSION_IDLE_MINUTES] = {"session_idle_minutes", "VITRINE_SESSION_IDLE_MINUTES", "30",
                                  "console sessions end after this much inactivity"},
    [CFG_SESSION_MAX_HOURS] = {"session_max_hours", "VITRINE_SESSION_MAX_HOURS", "12",
                               "console sessions end this long after login"},
    [CFG_TRUSTED_PROXIES] = {"trusted_proxies", "VITRINE_TRUSTED_PROXIES", "",
                             "comma-separated CIDRs whose X-Forwarded-For is believed"},
    [CFG_METRICS_ALLOW] = {"metrics_allow", "VITRINE_METRICS_ALLOW", "127.0.0.0/8,::1/128",
                           "comma-separated CIDRs allowed to read /metrics"},
    [CFG_LOG_LEVEL] = {"log_level", "VITRINE_LOG_LEVEL", "info", "debug, info, warn or error"},
    [CFG_PAIRING_TTL_SECONDS] = {"pairing_ttl_seconds", "VITRINE_PAIRING_TTL_SECONDS", "600",
                                 "how long a screen's pairing code stays valid"},
    [CFG_FEED_REFRESH_SECONDS] = {"feed_refresh_seconds", "VITRINE_FEED_REFRESH_SECONDS", "300",
                                  "how often the RSS/Atom feeds of channels are fetched again"},
    [CFG_FEED_ALLOW_PRIVATE] = {"feed_allow_private", "VITRINE_FEED_ALLOW_PRIVATE", "0",
                                "1: feeds may be fetched from loopback and private addresses"},
    [CFG_PER_IP_CONNECTION_LIMIT] = {"per_ip_connection_limit", "VITRINE_PER_IP_CONNECTION_LIMIT", "256",
                                     "open connections per client address (0: none; off behind trusted_proxies)"},
    [CFG_BODY_MEMORY_MB] = {"body_memory_mb", "VITRINE_BODY_MEMORY_MB", "128",
                            "MiB of request bodies held in memory at once; past it 503 + Retry-After"},
    [CFG_HEADER_TIMEOUT_SECONDS] = {"header_timeout_seconds", "VITRINE_HEADER_TIMEOUT_SECONDS", "30",
                                    "a request's line and headers must arrive within this"},
    [CFG_BODY_TIMEOUT_SECONDS] = {"body_timeout_seconds", "VITRINE_BODY_TIMEOUT_SECONDS", "30",
                                  "a body must arrive within this plus 1 s per 16 KiB"},
};

void config_init(struct config *c)
{
	for (int i = 0; i < CFG_COUNT; i++)
		c->values[i] = strdup(keys[i].def);
}

void config_free(struct config *c)
{
	for (int i = 0; i < CFG_COUNT; i++) {
		free(c->values[i]);
		c->values[i] = NULL;
	}
}

int config_set(struct config *c, const char *name, const char *value)
{
	for (int i = 0; i < CFG_COUNT; i++)
		if (strcmp(keys[i].name, name) == 0) {
			char *v = strdup(value);
			if (!v)
				return -1;
			free(c->values[i]);
			c->values[i] = v;
			return 0;
		}
	return -1;
}

const char *config_get(const struct config *c, enum config_key k)
{
	return c->values[k] ? c->values[k] : "";
}

struct ini_ctx {
	struct config *c;
	char *err;
	unsigned errsz;
	int failed;
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	if (strcmp(section, "server") != 0) {
		snprintf(ctx->err, ctx->errsz, "unknown section [%s] (expected [server])", section);
		ctx->failed = 1;
		return 0;
	}
	if (config_set(ctx->c, name, value) != 0) {
		snprintf(ctx->err, ctx->errsz, "unknown setting \"%s\" in [server]", name);
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

int config_load_file(struct config *c, const char *path, char *err, unsigned errsz)
{
	struct ini_ctx ctx = {c, err, errsz, 0};
	int rc = ini_parse(path, on_ini, &ctx);
	if (rc == -1) {
		snprintf(err, errsz, "cannot open the config file %s", path);
		return -1;
	}
	if (ctx.failed)
		return -1;
	if (rc > 0) {
		snprintf(err, errsz, "syntax error in %s at line %d", path, rc);
		return -1;
	}
	return 0;
}

void config_load_env(struct config *c)
{
	for (int i = 0; i < CFG_COUNT; i++) {
		const char *v = getenv(keys[i].env);
		if (v)
			config_set(c, keys[i].name, v);
	}
}

int config_uint(const struct config *c, enum config_key k, unsigned min, unsigned max, unsigned *out, char *err,
                unsigned errsz)
{
	const char *v = config_get(c, k);
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*v == '\0' || *end || n < min || n > max) {
		snprintf(err, errsz, "%s must be a number from %u to %u (got \"%.40s\")", keys[k].name, min, max, v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

void config_print_help(void)
{
	printf("Settings (config file section [server] / environment / default):\n");
	for (int i = 0; i < CFG_COUNT; i++)
		printf("  %-22s %-30s %s\n  %22s %s\n", keys[i].name, keys[i].env,
		       *keys[i].def ? keys[i].def : "(none)", "", keys[i].help);
}
