/*
 * Settings of vitrine-server, from four layers, each overriding the one
 * before: built-in defaults, the INI file (--config, section [server]),
 * VITRINE_* environment variables, and command-line flags. Every key is
 * listed once in config.c with its environment name and its help text.
 */
#ifndef VITRINE_SERVER_CONFIG_H
#define VITRINE_SERVER_CONFIG_H

#include <stdbool.h>

enum config_key {
	CFG_DATA,
	CFG_LISTEN,
	CFG_HTTP_LISTEN,
	CFG_TLS_CERT,
	CFG_TLS_KEY,
	CFG_PUBLIC_URL,
	CFG_THREADS,
	CFG_WORKERS,
	CFG_CONNECTION_LIMIT,
	CFG_SESSION_IDLE_MINUTES,
	CFG_SESSION_MAX_HOURS,
	CFG_TRUSTED_PROXIES,
	CFG_METRICS_ALLOW,
	CFG_LOG_LEVEL,
	CFG_PAIRING_TTL_SECONDS,
	CFG_FEED_REFRESH_SECONDS,
	CFG_FEED_ALLOW_PRIVATE,
	CFG_PER_IP_CONNECTION_LIMIT,
	CFG_BODY_MEMORY_MB,
	CFG_HEADER_TIMEOUT_SECONDS,
	CFG_BODY_TIMEOUT_SECONDS,
	CFG_COUNT
};

struct config {
	char *values[CFG_COUNT]; /* owned strings */
};

/* Fills defaults. */
void config_init(struct config *c);
void config_free(struct config *c);
/* Loads an INI file; returns 0, or -1 with a sentence in err. */
int config_load_file(struct config *c, const char *path, char *err, unsigned errsz);
/* Applies VITRINE_* variables. */
void config_load_env(struct config *c);
/* Sets by INI name (also used for flags). Returns -1 for an unknown key. */
int config_set(struct config *c, const char *name, const char *value);
const char *config_get(const struct config *c, enum config_key k);
/* Parses an unsigned setting within bounds; -1 with a sentence in err. */
int config_uint(const struct config *c, enum config_key k, unsigned min, unsigned max, unsigned *out, char *err,
                unsigned errsz);
/* Prints the keys, env names and defaults (for --help). */
void config_print_help(void);

#endif
