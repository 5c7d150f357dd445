/*
 * Settings of vitrine-server, from four layers, each overriding the one
 * before: built-in defaults, the INI file (--config, section [server]),
 * VITRINE_* environment variables, and command-line flags. Every key is
 * listed once in config.c (name, type and bounds, default, environment
 * name, flag, help); the layers themselves are src/common/settings.c, shared
 * with the player.
 */
#ifndef VITRINE_SERVER_CONFIG_H
#define VITRINE_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "common/settings.h"

enum config_key {
	CFG_DATA,
	CFG_DB,
	CFG_LISTEN,
	CFG_HTTP_LISTEN,
	CFG_TLS_CERT,
	CFG_TLS_KEY,
	CFG_PUBLIC_URL,
	CFG_USER, /* the account to switch to once the sockets are bound (when started as root) */
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
	/* hardening (issue 9): proof-of-play quota and retention */
	CFG_PLAYED_PER_MINUTE,
	CFG_PLAYED_ROWS_PER_HOUR,
	CFG_PLAYED_RETENTION_DAYS,
	CFG_AUDIT_RETENTION_DAYS,
	CFG_INSTRUCTIONS_RETENTION_DAYS,
	CFG_CHAT_RETENTION_DAYS,
	CFG_RETENTION_CHECK_SECONDS,
	/* live chat: new visitors and chats per address and 10 minutes */
	CFG_CHAT_VISITORS_PER_IP,
	CFG_CHAT_CHATS_PER_IP,
	/* remote control: the guest's region for the choice of a relay */
	CFG_GEOIP_DATABASE,
	/* outgoing mail (chat transcripts, offline messages) */
	CFG_SMTP_URL,
	CFG_SMTP_FROM,
	CFG_SMTP_USER,
	CFG_SMTP_PASSWORD,
	CFG_SMTP_TLS,
	/* live chat calls (WebRTC): ICE servers */
	CFG_WEBRTC_STUN_URLS,
	CFG_WEBRTC_TURN_URLS,
	CFG_WEBRTC_TURN_SECRET,
	CFG_WEBRTC_TURN_TTL_SECONDS,
	CFG_WEBRTC_RELAY_ONLY,
	/* the console's map of the screens: its tile server */
	CFG_MAP_TILE_URL,
	CFG_MAP_ATTRIBUTION,
	/* over-the-air updates */
	CFG_RELEASE_MAX_BYTES,
	CFG_DDI_POLL_SECONDS,
	CFG_COUNT
};

struct config {
	struct settings settings; /* indexed by enum config_key */
};

/* Fills defaults. Returns 0, or -1 when out of memory. */
int config_init(struct config *c);
void config_free(struct config *c);
const char *config_get(const struct config *c, enum config_key k);
/* Parses an unsigned setting within bounds; -1 with a sentence in err. */
int config_uint(const struct config *c, enum config_key k, unsigned min, unsigned max, unsigned *out, char *err,
                unsigned errsz);
/* Prints the keys, flags, env names and defaults (for --help). */
void config_print_help(const struct config *c, FILE *out);

#endif
