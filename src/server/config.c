/* Settings of vitrine-server; see config.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define TEXT(name_, env_, def_, flag_, metavar_, help_)                                                                \
	{                                                                                                              \
		.name = name_, .type = SETTING_TEXT, .def = def_, .env = env_, .flag = flag_, .metavar = metavar_,     \
		.help = help_                                                                                          \
	}
#define UINT(name_, env_, def_, min_, max_, help_)                                                                     \
	{                                                                                                              \
		.name = name_, .type = SETTING_UINT, .def = def_, .env = env_, .min = min_, .max = max_, .help = help_ \
	}

static const struct setting keys[CFG_COUNT] = {
    [CFG_DATA] = TEXT("data", "VITRINE_DATA", "var", "data", "DIR", "data folder (SQLite database, keys, media)"),
    [CFG_DB] = TEXT("db", "VITRINE_DB", "sqlite:", "db", "URL",
                    "database: sqlite: (vitrine.db in the data folder) or a postgresql:// URI"),
    [CFG_LISTEN] =
        TEXT("listen", "VITRINE_LISTEN", "127.0.0.1:8080", "listen", "HOST:PORT", "HOST:PORT of the API and console"),
    [CFG_HTTP_LISTEN] = TEXT("http_listen", "VITRINE_HTTP_LISTEN", "", "http-listen", "HOST:PORT",
                             "HOST:PORT of a plain-HTTP listener that redirects to HTTPS (with TLS)"),
    [CFG_TLS_CERT] =
        TEXT("tls_cert", "VITRINE_TLS_CERT", "", "tls-cert", "FILE", "PEM certificate chain; enables HTTPS"),
    [CFG_TLS_KEY] = TEXT("tls_key", "VITRINE_TLS_KEY", "", "tls-key", "FILE", "PEM private key of tls_cert"),
    [CFG_PUBLIC_URL] = {.name = "public_url",
                        .type = SETTING_URL,
                        .def = "",
                        .env = "VITRINE_PUBLIC_URL",
                        .flag = "public-url",
                        .metavar = "URL",
                        .help = "URL users and players reach the server at (links, QR codes)"},
    [CFG_USER] = TEXT("user", "VITRINE_USER", "", "user", "NAME",
                      "started as root: switch to this account once the ports are bound (it owns the data folder)"),
    [CFG_THREADS] = UINT("threads", "VITRINE_THREADS", "2", 1, 64, "network threads (libmicrohttpd pool)"),
    [CFG_WORKERS] = UINT("workers", "VITRINE_WORKERS", "2", 1, 16, "password-hashing workers (64 MiB each at work)"),
    [CFG_CONNECTION_LIMIT] = UINT("connection_limit", "VITRINE_CONNECTION_LIMIT", "19000", 16, 1000000,
                                  "open connections at most (capped by RLIMIT_NOFILE)"),
    [CFG_SESSION_IDLE_MINUTES] = UINT("session_idle_minutes", "VITRINE_SESSION_IDLE_MINUTES", "30", 1, 7 * 24 * 60,
                                      "console sessions end after this much inactivity"),
    [CFG_SESSION_MAX_HOURS] = UINT("session_max_hours", "VITRINE_SESSION_MAX_HOURS", "12", 1, 24 * 30,
                                   "console sessions end this long after login"),
    [CFG_TRUSTED_PROXIES] = TEXT("trusted_proxies", "VITRINE_TRUSTED_PROXIES", "", NULL, NULL,
                                 "comma-separated CIDRs whose X-Forwarded-For is believed"),
    [CFG_METRICS_ALLOW] = TEXT("metrics_allow", "VITRINE_METRICS_ALLOW", "127.0.0.0/8,::1/128", NULL, NULL,
                               "comma-separated CIDRs allowed to read /metrics"),
    [CFG_LOG_LEVEL] =
        TEXT("log_level", "VITRINE_LOG_LEVEL", "info", "log-level", "LEVEL", "debug, info, warn or error"),
    [CFG_PAIRING_TTL_SECONDS] = UINT("pairing_ttl_seconds", "VITRINE_PAIRING_TTL_SECONDS", "600", 1, 3600,
                                     "how long a screen's pairing code stays valid"),
    [CFG_FEED_REFRESH_SECONDS] = UINT("feed_refresh_seconds", "VITRINE_FEED_REFRESH_SECONDS", "300", 5, 7 * 86400,
                                      "how often the RSS/Atom feeds of channels are fetched again"),
    [CFG_FEED_ALLOW_PRIVATE] = UINT("feed_allow_private", "VITRINE_FEED_ALLOW_PRIVATE", "0", 0, 1,
                                    "1: feeds may be fetched from loopback and private addresses"),
    [CFG_PER_IP_CONNECTION_LIMIT] =
        UINT("per_ip_connection_limit", "VITRINE_PER_IP_CONNECTION_LIMIT", "256", 0, 1000000,
             "open connections per client address (0: none; not applied behind trusted_proxies)"),
    [CFG_BODY_MEMORY_MB] = UINT("body_memory_mb", "VITRINE_BODY_MEMORY_MB", "128", 16, 65536,
                                "MiB of request bodies held in memory at once; past it 503 + Retry-After"),
    [CFG_HEADER_TIMEOUT_SECONDS] = UINT("header_timeout_seconds", "VITRINE_HEADER_TIMEOUT_SECONDS", "30", 1, 3600,
                                        "a request's line and headers must arrive within this"),
    [CFG_BODY_TIMEOUT_SECONDS] = UINT("body_timeout_seconds", "VITRINE_BODY_TIMEOUT_SECONDS", "30", 1, 3600,
                                      "a body must arrive within this plus 1 s per 16 KiB"),
    /* hardening: proof-of-play quota and retention */
    [CFG_PLAYED_PER_MINUTE] = UINT("played_per_minute", "VITRINE_PLAYED_PER_MINUTE", "12", 1, 100000,
                                   "proof-of-play uploads a screen may send per minute (then 429)"),
    [CFG_PLAYED_ROWS_PER_HOUR] = UINT("played_rows_per_hour", "VITRINE_PLAYED_ROWS_PER_HOUR", "20000", 1, 100000000,
                                      "proof-of-play rows a screen may send per hour (then 429)"),
    [CFG_PLAYED_RETENTION_DAYS] = UINT("played_retention_days", "VITRINE_PLAYED_RETENTION_DAYS", "90", 0, 36500,
                                       "proof of play older than this is kept as per-day counts only (0: keep)"),
    [CFG_AUDIT_RETENTION_DAYS] = UINT("audit_retention_days", "VITRINE_AUDIT_RETENTION_DAYS", "365", 0, 36500,
                                      "audit entries older than this are deleted (0: keep forever)"),
    [CFG_INSTRUCTIONS_RETENTION_DAYS] =
        UINT("instructions_retention_days", "VITRINE_INSTRUCTIONS_RETENTION_DAYS", "30", 0, 36500,
             "done or expired instructions older than this are deleted (0: keep)"),
    [CFG_CHAT_RETENTION_DAYS] = UINT("chat_retention_days", "VITRINE_CHAT_RETENTION_DAYS", "365", 0, 36500,
                                     "chats ended longer ago are deleted with their messages (0: keep)"),
    [CFG_RETENTION_CHECK_SECONDS] = UINT("retention_check_seconds", "VITRINE_RETENTION_CHECK_SECONDS", "3600", 1, 86400,
                                         "how often the retention task prunes old rows"),
    /* live chat */
    [CFG_CHAT_VISITORS_PER_IP] = UINT("chat_visitors_per_ip", "VITRINE_CHAT_VISITORS_PER_IP", "100", 1, 10000000,
                                      "new chat visitors one address may start per 10 minutes"),
    [CFG_CHAT_CHATS_PER_IP] = UINT("chat_chats_per_ip", "VITRINE_CHAT_CHATS_PER_IP", "30", 1, 10000000,
                                   "new chats one address may start per 10 minutes"),
    /* remote control */
    [CFG_GEOIP_DATABASE] = TEXT("geoip_database", "VITRINE_GEOIP_DATABASE", "", "geoip-database", "FILE",
                                "MaxMind .mmdb (GeoLite2 Country/City): nearest relay, where visitors and screens are"),
    /* outgoing mail */
    [CFG_SMTP_URL] = TEXT("smtp_url", "VITRINE_SMTP_URL", "", "smtp-url", "URL",
                          "smtp://HOST:PORT or smtps://HOST:PORT of the mail relay; empty: no mail"),
    [CFG_SMTP_FROM] = TEXT("smtp_from", "VITRINE_SMTP_FROM", "", "smtp-from", "ADDRESS", "sender address of mails"),
    [CFG_SMTP_USER] = TEXT("smtp_user", "VITRINE_SMTP_USER", "", NULL, NULL, "SMTP login (with smtp_password)"),
    [CFG_SMTP_PASSWORD] = TEXT("smtp_password", "VITRINE_SMTP_PASSWORD", "", NULL, NULL,
                               "SMTP password (config file or environment only)"),
    [CFG_SMTP_TLS] =
        TEXT("smtp_tls", "VITRINE_SMTP_TLS", "try", "smtp-tls", "MODE", "STARTTLS on smtp://: try, require or off"),
    /* live chat calls */
    [CFG_WEBRTC_STUN_URLS] = TEXT("webrtc_stun_urls", "VITRINE_WEBRTC_STUN_URLS", "", "webrtc-stun-urls", "URLS",
                                  "STUN servers of chat calls (stun:host:port, comma-separated)"),
    [CFG_WEBRTC_TURN_URLS] = TEXT("webrtc_turn_urls", "VITRINE_WEBRTC_TURN_URLS", "", "webrtc-turn-urls", "URLS",
                                  "TURN servers of chat calls (turn:host:port?transport=udp, comma-separated)"),
    [CFG_WEBRTC_TURN_SECRET] = TEXT("webrtc_turn_secret", "VITRINE_WEBRTC_TURN_SECRET", "", NULL, NULL,
                                    "the TURN servers' shared secret (coturn static-auth-secret; file or env only)"),
    [CFG_WEBRTC_TURN_TTL_SECONDS] = UINT("webrtc_turn_ttl_seconds", "VITRINE_WEBRTC_TURN_TTL_SECONDS", "3600", 60,
                                         86400, "lifetime of the TURN credentials given for a call"),
    [CFG_WEBRTC_RELAY_ONLY] = UINT("webrtc_relay_only", "VITRINE_WEBRTC_RELAY_ONLY", "0", 0, 1,
                                   "1: calls go through the TURN relays only (peers never see each other's address)"),
    /* the console's map of the screens */
    [CFG_MAP_TILE_URL] =
        TEXT("map_tile_url", "VITRINE_MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "map-tile-url",
             "URL", "tile URL template of the console's map ({z}/{x}/{y}; empty: no background)"),
    [CFG_MAP_ATTRIBUTION] = TEXT("map_attribution", "VITRINE_MAP_ATTRIBUTION", "\u00a9 OpenStreetMap contributors",
                                 "map-attribution", "TEXT", "credit shown on the map for its tiles"),
    /* over-the-air updates */
    [CFG_RELEASE_MAX_BYTES] = UINT("release_max_bytes", "VITRINE_RELEASE_MAX_BYTES", "2147483648", 1,
                                   (uint64_t)64 << 30, "bytes a release may have at most (larger uploads: 413)"),
    [CFG_DDI_POLL_SECONDS] = UINT("ddi_poll_seconds", "VITRINE_DDI_POLL_SECONDS", "60", 1, 86400,
                                  "how often hawkBit DDI clients are told to poll (config.polling.sleep)"),
};

int config_init(struct config *c)
{
	return settings_init(&c->settings, "server", keys, CFG_COUNT);
}

void config_free(struct config *c)
{
	settings_free(&c->settings);
}

const char *config_get(const struct config *c, enum config_key k)
{
	return settings_get(&c->settings, k);
}

int config_uint(const struct config *c, enum config_key k, unsigned min, unsigned max, unsigned *out, char *err,
                unsigned errsz)
{
	const char *v = config_get(c, k);
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || n < min || n > max) {
		snprintf(err, errsz, "%s must be a number from %u to %u (got \"%.40s\")", keys[k].name, min, max, v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

void config_print_help(const struct config *c, FILE *out)
{
	settings_print_help(&c->settings, out);
}
