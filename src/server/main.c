/*
 * vitrine-server: the hub (API, web console, and later the device gateway,
 * connection manager and chat). This file parses the command line, runs
 * `init` (data folder, keys, first admin), `relay-key` (the public key
 * relays check tickets with), `release-key` (the public key players check
 * the server's releases with), `release sign` (signs a release file with
 * that key), `backup DEST` or `restore SRC` (ops/backup.c), or starts the
 * HTTP server -- its ports bound first, then root given up for the `user`
 * setting before the data folder is read -- and stops gracefully on
 * SIGTERM.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/retention.h"
#include "auth/auth.h"
#include "auth/device_cache.h"
#include "chat/chat.h"
#include "common/keyfile.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/release.h"
#include "common/strfmt.h"
#include "config.h"
#include "console_config.h"
#include "content/content.h"
#include "http/server.h"
#include "mail/mail.h"
#include "ops/backup.h"
#include "ops/ops.h"
#include "remote/remote.h"
#include "routes.h"
#include "screens/presence.h"
#include "screens/screens.h"
#include "store/db.h"
#include "store/store_reply.h"
#include "store/tx.h"
#include "updates/updates.h"

#define VITRINE_VERSION "0.1.0"

static void usage(const struct config *cfg)
{
	printf("usage: vitrine-server [options] [init --admin LOGIN [--account NAME]]\n"
	       "       vitrine-server [options] relay-key [--out FILE]\n"
	       "       vitrine-server [options] release-key [--out FILE]\n"
	       "       vitrine-server [options] release sign FILE --name NAME --version V [--out FILE.vsig]\n"
	       "       vitrine-server [options] backup DEST\n"
	       "       vitrine-server [options] restore SRC\n"
	       "\n"
	       "Runs the Vitrine server, or with `init` creates its data folder, keys and\n"
	       "first admin (password from VITRINE_ADMIN_PASSWORD, else generated and\n"
	       "printed once as \"admin password: ...\").\n"
	       "`relay-key` prints the public key (base64, one line) that relays check\n"
	       "remote-control tickets with (vitrine-relay --server-key FILE).\n"
	       "`release-key` prints the server's update-signing public key (base64, one\n"
	       "line): releases it signs are always trusted, and players are given it.\n"
	       "`release sign` signs a release file with that key: it writes the signature\n"
	       "file FILE.vsig to upload with it (vitrine release upload FILE).\n"
	       "`backup` copies the data folder while a server may keep serving it: the\n"
	       "database (one consistent snapshot: SQLite's online backup, or pg_dump for\n"
	       "--db postgresql://...), the media, releases and logs it links, and keys/,\n"
	       "into the new or empty folder DEST, with DEST/backup.json listing each file's\n"
	       "size and SHA-256. `restore` checks every hash of the backup SRC, then\n"
	       "restores it into the empty or absent data folder (and for PostgreSQL into\n"
	       "the empty database of --db); the server can then start on it.\n"
	       "\n"
	       "options:\n"
	       "  --config FILE          INI file with a [server] section\n"
	       "  --admin LOGIN          (init) the first admin's login name\n"
	       "  --account NAME         (init) the first account's name (default Default)\n"
	       "  --out FILE             (relay-key, release-key) write the key to FILE instead of\n"
	       "                         printing it; (release sign) the signature file\n"
	       "  --name NAME            (release sign) the release's name: a-z, 0-9, . _ -\n"
	       "  --version V            (release sign) its version: 1 to 4 numbers, \"1.4.2\"\n"
	       "  --help, --version\n\n");
	config_print_help(cfg, stdout);
}

/* Reads a whole small file (PEM, keys). Caller frees. */
static char *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return chmod(path, 0700);
}

static int secret_path(const char *data, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/keys/server.secret", data);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int cmd_init(const char *data, const char *db_url, const char *login, const char *account)
{
	char path[4096], keys[4096];
	if (!login) {
		fprintf(stderr, "vitrine-server: init needs --admin LOGIN\n");
		return 2;
	}
	const char *problem = auth_login_problem(login);
	if (problem) {
		fprintf(stderr, "vitrine-server: %s\n", problem);
		return 2;
	}
	if (strfmt(keys, sizeof keys, "%s/keys", data) != 0 || secret_path(data, path, sizeof path) != 0) {
		fprintf(stderr, "vitrine-server: the data folder's path is too long: %s\n", data);
		return 2;
	}
	if (make_dir(data) != 0 || make_dir(keys) != 0) {
		fprintf(stderr, "vitrine-server: cannot create the data folder %s: %s\n", data, strerror(errno));
		return 1;
	}
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "vitrine-server: %s is already initialised (found %s)\n", data, path);
		return 1;
	}
	char generated[17] = "";
	const char *password = getenv("VITRINE_ADMIN_PASSWORD");
	if (password && *password) {
		if ((problem = auth_password_problem(password, login))) {
			fprintf(stderr, "vitrine-server: VITRINE_ADMIN_PASSWORD: %s\n", problem);
			return 2;
		}
	} else {
		auth_password_generate(generated);
		password = generated;
	}
	if (store_open(data, db_url) != 0) {
		fprintf(stderr, "vitrine-server: cannot create the database of %s\n", data);
		return 1;
	}
	int rc = auth_bootstrap(store_db(), account, login, password);
	store_close();
	if (rc != 0) {
		fprintf(stderr, "vitrine-server: cannot create the first admin%s\n",
		        rc == -2 ? " (it exists already)" : "");
		return 1;
	}
	uint8_t secret[AUTH_SECRET_BYTES];
	randombytes_buf(secret, sizeof secret);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, secret, sizeof secret) != (ssize_t)sizeof secret || fsync(fd) != 0) {
		fprintf(stderr, "vitrine-server: cannot write %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	sodium_memzero(secret, sizeof secret);
	char err[512];
	int krc = remote_key_load(data, err, sizeof err);
	remote_key_forget();
	if (krc == 0)
		krc = updates_key_load(data, err, sizeof err);
	if (krc != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 1;
	}
	printf("initialised %s: account \"%s\", admin \"%s\"\n", data, account, login);
	if (*generated)
		printf("admin password: %s\n", generated);
	fflush(stdout);
	sodium_memzero(generated, sizeof generated);
	return 0;
}

/* 0 when data is initialised, else 1 after saying how to do it. */
static int check_initialised(const char *data)
{
	char path[4096];
	if (secret_path(data, path, sizeof path) == 0 && access(path, F_OK) == 0)
		return 0;
	fprintf(stderr, "vitrine-server: %s is not initialised: run `vitrine-server --data %s init --admin LOGIN`\n",
	        data, data);
	return 1;
}

/* Prints a public key (one line), or writes it to out. */
static int print_key(const char *b64, const char *out)
{
	if (!out) {
		printf("%s\n", b64);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	FILE *f = fopen(out, "w");
	if (!f || fprintf(f, "%s\n", b64) < 0 || fclose(f) != 0) {
		fprintf(stderr, "vitrine-server: cannot write %s: %s\n", out, strerror(errno));
		return 1;
	}
	return 0;
}

/* relay-key [--out FILE]: the public key relays check tickets with; the
 * key pair is made on the way when the data folder has none yet. */
static int cmd_relay_key(const char *data, const char *out)
{
	char err[512];
	if (check_initialised(data) != 0)
		return 1;
	if (remote_key_load(data, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 1;
	}
	char b64[REMOTE_KEY_B64LEN];
	remote_key_public_b64(b64);
	remote_key_forget();
	return print_key(b64, out);
}

/* release-key [--out FILE]: the public key of the server's releases, made
 * on the way (as relay-key does) for data folders older than releases. */
static int cmd_release_key(const char *data, const char *out)
{
	char err[512], b64[RELEASE_KEY_B64_LEN];
	if (check_initialised(data) != 0)
		return 1;
	if (updates_key_load(data, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 1;
	}
	updates_key_public_b64(b64);
	return print_key(b64, out);
}

/* release sign FILE --name NAME --version V [--out FILE.vsig]: signs a
 * release file with the server's release key. */
static int cmd_release_sign(const char *data, const char *file, const char *name, const char *version, const char *out)
{
	if (!name || !version) {
		fprintf(stderr, "vitrine-server: release sign needs --name NAME and --version V (see --help)\n");
		return 2;
	}
	char path[4096], err[512], written[4096];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	if (check_initialised(data) != 0)
		return 1;
	if (updates_key_path(data, path, sizeof path) != 0) {
		fprintf(stderr, "vitrine-server: the data folder's path is too long: %s\n", data);
		return 1;
	}
	if (keyfile_load(path, sk, err, sizeof err) != 0) { /* made on first use in older data folders */
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 1;
	}
	struct release_signature sig;
	int rc = release_sign_file(file, name, version, sk, out, &sig, written, sizeof written, err, sizeof err);
	sodium_memzero(sk, sizeof sk);
	if (rc != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 1;
	}
	printf("signed %s %s (%llu bytes, sha256 %s) with the server's release key: %s\n", sig.name, sig.version,
	       (unsigned long long)sig.size, sig.sha256, written);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int parse_cidr_list(const char *text, struct cidr *out, size_t max, size_t *count, const char *what)
{
	char buf[2048];
	if (strfmt(buf, sizeof buf, "%s", text) != 0) {
		fprintf(stderr, "vitrine-server: %s is longer than %zu bytes\n", what, sizeof buf - 1);
		return -1;
	}
	*count = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (*count == max || cidr_parse(tok, &out[*count]) != 0) {
			fprintf(stderr, "vitrine-server: %s: \"%s\" is not a CIDR block (or too many)\n", what, tok);
			return -1;
		}
		(*count)++;
	}
	return 0;
}

/* Whether the account the server runs as may use path: read and write
 * it, and enter it when it is a folder. A missing path is fine (it is made
 * later, or the folder is not initialised: said later). */
static bool usable(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT;
	if (S_ISLNK(st.st_mode))
		return true; /* what it points at is checked where it is used */
	int mode = R_OK | W_OK | (S_ISDIR(st.st_mode) ? X_OK : 0);
	return faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0;
}

/* Whether the account the server runs as may use the data folder: the
 * folder itself, what is in it and what is in keys/. A folder made by root
 * (`init` run as root) for a server that runs as another account is the
 * usual mistake: the sentence says how to fix it. 0, or 1 after it. */
static int check_data_folder(const char *data)
{
	char me[128], path[4096], bad[4096] = "";
	const char *subdirs[] = {"", "keys"};
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0] && !*bad; i++) {
		if (strfmt(path, sizeof path, "%s%s%s", data, *subdirs[i] ? "/" : "", subdirs[i]) != 0)
			break;
		if (!usable(path)) {
			snprintf(bad, sizeof bad, "%s", path);
			break;
		}
		DIR *d = opendir(path);
		for (struct dirent *e; d && (e = readdir(d)) && !*bad;) {
			char entry[4096];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    strfmt(entry, sizeof entry, "%s/%s", path, e->d_name) != 0)
				continue;
			if (!usable(entry))
				snprintf(bad, sizeof bad, "%s", entry);
		}
		if (d)
			closedir(d);
	}
	if (!*bad)
		return 0;
	privdrop_whoami(me, sizeof me);
	bool top = strcmp(bad, data) == 0;
	fprintf(stderr,
	        "vitrine-server: the data folder %s is not writable by the user %s%s%s%s: give it to that user, "
	        "e.g. chown -R %s: %s\n",
	        data, me, top ? "" : " (", top ? "" : bad, top ? "" : " is not)", me, data);
	return 1;
}

/* Gives up root once the ports are bound, for the account of the `user`
 * setting, or warns that the server keeps running as root; then checks the
 * data folder is the account's. 0, or 1 after a sentence on stderr. */
static int become_user(const struct config *cfg, const char *data)
{
	const char *user = config_get(cfg, CFG_USER);
	char err[512];
	if (*user) {
		if (privdrop_to(user, err, sizeof err) != 0) {
			fprintf(stderr, "vitrine-server: --user: %s\n", err);
			return 1;
		}
		log_event(LOG_INFO, "running as an unprivileged user", "user", user, NULL);
	} else if (privdrop_is_root()) {
		log_event(LOG_WARN,
		          "running as root: start with --user NAME (the account that owns the data folder) so that "
		          "the server gives up root once its ports are bound",
		          NULL);
	}
	return check_data_folder(data);
}

/* The store's notify hook: a key first drops what the device token cache
 * holds of it (a revocation), then wakes the waiters, which authenticate
 * again against the store. */
static void notify_hook(const char *key, void *hub)
{
	device_cache_notify(key);
	wake_notify_hook(key, hub);
}

static int cmd_run(struct config *cfg)
{
	const char *data = config_get(cfg, CFG_DATA);
	char err[256], path[4096];
	struct server_config sc = {0};
	sc.data_dir = data;
	sc.listen = config_get(cfg, CFG_LISTEN);
	sc.http_listen = config_get(cfg, CFG_HTTP_LISTEN);
	/* "https://x/" and "https://x" are the same public URL: the settings
	 * drop trailing slashes */
	sc.public_url = config_get(cfg, CFG_PUBLIC_URL);
	unsigned idle_min, max_h, feed_every, feed_private, body_mb;
	if (config_uint(cfg, CFG_THREADS, 1, 64, &sc.threads, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_WORKERS, 1, 16, &sc.workers, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_CONNECTION_LIMIT, 16, 1000000, &sc.connection_limit, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_SESSION_IDLE_MINUTES, 1, 7 * 24 * 60, &idle_min, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_SESSION_MAX_HOURS, 1, 24 * 30, &max_h, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_PAIRING_TTL_SECONDS, 1, 3600, &screens_pairing_ttl_s, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_FEED_REFRESH_SECONDS, 5, 7 * 86400, &feed_every, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_FEED_ALLOW_PRIVATE, 0, 1, &feed_private, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_PER_IP_CONNECTION_LIMIT, 0, 1000000, &sc.per_ip_connection_limit, err, sizeof err) !=
	        0 ||
	    config_uint(cfg, CFG_BODY_MEMORY_MB, 16, 65536, &body_mb, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_HEADER_TIMEOUT_SECONDS, 1, 3600, &sc.header_timeout_s, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_BODY_TIMEOUT_SECONDS, 1, 3600, &sc.body_timeout_s, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 2;
	}
	sc.body_memory_limit = (size_t)body_mb << 20;
	/* hardening (issue 9): proof-of-play quota and retention */
	if (config_uint(cfg, CFG_PLAYED_PER_MINUTE, 1, 100000, &screens_played_per_minute, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_PLAYED_ROWS_PER_HOUR, 1, 100000000, &screens_played_rows_per_hour, err, sizeof err) !=
	        0 ||
	    config_uint(cfg, CFG_PLAYED_RETENTION_DAYS, 0, 100000, &retention_settings.played_days, err, sizeof err) !=
	        0 ||
	    config_uint(cfg, CFG_AUDIT_RETENTION_DAYS, 0, 100000, &retention_settings.audit_days, err, sizeof err) !=
	        0 ||
	    config_uint(cfg, CFG_INSTRUCTIONS_RETENTION_DAYS, 0, 100000, &retention_settings.instructions_days, err,
	                sizeof err) != 0 ||
	    config_uint(cfg, CFG_CHAT_RETENTION_DAYS, 0, 100000, &retention_settings.chat_days, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_RETENTION_CHECK_SECONDS, 1, 7 * 86400, &retention_settings.check_s, err, sizeof err) !=
	        0 ||
	    config_uint(cfg, CFG_CHAT_VISITORS_PER_IP, 1, 10000000, &chat_visitors_per_ip, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_CHAT_CHATS_PER_IP, 1, 10000000, &chat_chats_per_ip, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		return 2;
	}
	if (parse_cidr_list(config_get(cfg, CFG_TRUSTED_PROXIES), sc.trusted_proxies, HTTP_MAX_PROXIES,
	                    &sc.n_trusted_proxies, "trusted_proxies") != 0 ||
	    parse_cidr_list(config_get(cfg, CFG_METRICS_ALLOW), ops_metrics_allow, OPS_MAX_METRICS_ALLOW,
	                    &ops_metrics_allow_count, "metrics_allow") != 0)
		return 2;
	enum log_level level;
	if (log_level_parse(config_get(cfg, CFG_LOG_LEVEL), &level) != 0) {
		fprintf(stderr, "vitrine-server: log_level must be debug, info, warn or error\n");
		return 2;
	}
	log_set_level(level);

	const char *cert = config_get(cfg, CFG_TLS_CERT), *key = config_get(cfg, CFG_TLS_KEY);
	char *cert_pem = NULL, *key_pem = NULL;
	if (*cert || *key) {
		if (!*cert || !*key) {
			fprintf(stderr, "vitrine-server: --tls-cert and --tls-key go together\n");
			return 2;
		}
		cert_pem = read_file(cert, 1 << 20, NULL);
		key_pem = read_file(key, 1 << 20, NULL);
		if (!cert_pem || !key_pem) {
			fprintf(stderr, "vitrine-server: cannot read %s\n", cert_pem ? key : cert);
			free(cert_pem);
			free(key_pem);
			return 1;
		}
		sc.tls_cert_pem = cert_pem;
		sc.tls_key_pem = key_pem;
	} else if (*sc.http_listen) {
		fprintf(stderr, "vitrine-server: --http-listen redirects to HTTPS and needs --tls-cert/--tls-key\n");
		return 2;
	}

	if (backup_restore_unfinished(data)) {
		fprintf(stderr,
		        "vitrine-server: %s holds a restore that did not finish (%s/" BACKUP_RESTORE_MARKER
		        "): remove the folder and run `vitrine-server --data %s restore SRC` again\n",
		        data, data, data);
		free(cert_pem);
		free(key_pem);
		return 1;
	}

	/* signals are taken by sigwait() in this thread only: blocked before
	 * the first thread (the wake hub's timer) is made */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the ports are bound first (as root, a port below 1024), then root is
	 * given up before the data folder is read or a request served */
	struct server_hooks hooks = {.authenticate = auth_authenticate,
	                             .tx_begin = store_tx_begin,
	                             .tx_end = store_tx_end,
	                             .tx_failed = store_reply_last_error};
	struct server *srv = server_create(&sc, server_routes, server_routes_count, &hooks);
	if (!srv)
		fprintf(stderr, "vitrine-server: cannot set up the HTTP server (out of memory?)\n");
	if (!srv || server_bind(srv) != 0 || become_user(cfg, data) != 0) {
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		return 1;
	}

	size_t slen = 0;
	char *secret = secret_path(data, path, sizeof path) == 0 ? read_file(path, AUTH_SECRET_BYTES, &slen) : NULL;
	if (!secret || slen != AUTH_SECRET_BYTES) {
		fprintf(stderr,
		        "vitrine-server: %s is not initialised: run `vitrine-server --data %s init --admin LOGIN`\n",
		        data, data);
		free(secret);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		return 1;
	}
	memcpy(auth_settings.secret, secret, AUTH_SECRET_BYTES);
	sodium_memzero(secret, slen);
	free(secret);
	/* made here for folders older than remote control, or than releases */
	if (remote_key_load(data, err, sizeof err) != 0 || updates_key_load(data, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		remote_key_forget();
		return 1;
	}
	updates_release_max_bytes = settings_uint(&cfg->settings, CFG_RELEASE_MAX_BYTES);
	updates_ddi_poll_s = (unsigned)settings_uint(&cfg->settings, CFG_DDI_POLL_SECONDS);
	if (mail_configure(config_get(cfg, CFG_SMTP_URL), config_get(cfg, CFG_SMTP_FROM),
	                   config_get(cfg, CFG_SMTP_USER), config_get(cfg, CFG_SMTP_PASSWORD),
	                   config_get(cfg, CFG_SMTP_TLS), err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		remote_key_forget();
		return 2;
	}
	unsigned turn_ttl = 3600, relay_only = 0;
	if (config_uint(cfg, CFG_WEBRTC_TURN_TTL_SECONDS, 60, 86400, &turn_ttl, err, sizeof err) != 0 ||
	    config_uint(cfg, CFG_WEBRTC_RELAY_ONLY, 0, 1, &relay_only, err, sizeof err) != 0 ||
	    chat_calls_configure(config_get(cfg, CFG_WEBRTC_STUN_URLS), config_get(cfg, CFG_WEBRTC_TURN_URLS),
	                         config_get(cfg, CFG_WEBRTC_TURN_SECRET), turn_ttl, relay_only != 0, err,
	                         sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		remote_key_forget();
		return 2;
	}
	if (console_config_set_map(config_get(cfg, CFG_MAP_TILE_URL), config_get(cfg, CFG_MAP_ATTRIBUTION), err,
	                           sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		remote_key_forget();
		return 2;
	}
	if (geo_open(config_get(cfg, CFG_GEOIP_DATABASE), err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		server_destroy(srv);
		free(cert_pem);
		free(key_pem);
		remote_key_forget();
		return 1;
	}
	auth_settings.session_idle_s = idle_min * 60;
	auth_settings.session_max_s = max_h * 3600;
	auth_settings.tls = cert_pem != NULL;

	int status = 1;
	if (store_open(data, config_get(cfg, CFG_DB)) != 0) {
		fprintf(stderr, "vitrine-server: cannot open the database of %s\n", data);
		goto out;
	}
	if (content_media_sweeper_start(data, 600) != 0)
		log_event(LOG_WARN, "the disk sweeper did not start: crash leftovers stay until the next start", NULL);
	updates_releases_sweep(data, true);
	if (server_start(srv) != 0)
		goto out;
	store_set_notify_hook(notify_hook, server_hub(srv));
	if (feeds_start(feed_every, feed_private != 0, content_refresh_manifests) != 0)
		log_event(LOG_WARN, "the feed refresher did not start: RSS/Atom items stay empty", NULL);
	if (retention_start() != 0)
		log_event(LOG_WARN, "the retention task did not start: old rows are kept", NULL);
	if (mail_start() != 0)
		log_event(LOG_WARN, "the mail sender did not start: mails wait in the outbox", NULL);
	if (updates_rollouts_start() != 0)
		log_event(LOG_WARN,
		          "the rollout window task did not start: rollouts waiting for a maintenance window "
		          "go on only when a screen reports",
		          NULL);
	if (presence_start() != 0)
		log_event(LOG_WARN, "the presence step did not start: last_seen is written only by heartbeats", NULL);
	char port[16];
	snprintf(port, sizeof port, "%u", server_port(srv));
	log_event(LOG_INFO, "vitrine-server listening", "version", VITRINE_VERSION, "listen", sc.listen, "port", port,
	          "tls", cert_pem ? "on" : "off", NULL);
	server_run_until_signal(srv);
	status = 0;
out:
	feeds_stop(); /* it writes to the store and wakes screens */
	content_media_sweeper_stop();
	retention_stop();
	mail_stop();
	updates_rollouts_stop();
	store_set_notify_hook(NULL, NULL);
	server_destroy(srv);
	presence_stop(); /* after the last poll: writes what they saw */
	store_close();
	if (status == 0)
		log_event(LOG_INFO, "stopped", NULL);
	free(cert_pem);
	free(key_pem);
	remote_key_forget();
	geo_close();
	return status;
}

enum { OPT_HELP = 'h', OPT_VERSION = 1, OPT_ADMIN, OPT_ACCOUNT, OPT_OUT, OPT_NAME, OPT_RELEASE_VERSION };

/* The commands and how many operands each takes (its name included). */
static const struct command {
	const char *name;
	int operands;
} commands[] = {{"init", 1}, {"relay-key", 1}, {"release-key", 1}, {"release", 3}, {"backup", 2}, {"restore", 2}};

/* `release sign` takes --version V, which is otherwise --version alone. */
static bool signing_a_release(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "release") == 0)
			for (int k = i + 1; k < argc; k++)
				if (strcmp(argv[k], "sign") == 0)
					return true;
	return false;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "vitrine-server: libsodium failed to initialise\n");
		return 1;
	}
	struct config cfg;
	if (config_init(&cfg) != 0) {
		fprintf(stderr, "vitrine-server: out of memory\n");
		return 1;
	}
	bool signing = signing_a_release(argc, argv);
	const struct option own[] = {{"help", no_argument, NULL, OPT_HELP},
	                             signing ? (struct option){"version", required_argument, NULL, OPT_RELEASE_VERSION}
	                                     : (struct option){"version", no_argument, NULL, OPT_VERSION},
	                             {"admin", required_argument, NULL, OPT_ADMIN},
	                             {"account", required_argument, NULL, OPT_ACCOUNT},
	                             {"out", required_argument, NULL, OPT_OUT},
	                             {"name", required_argument, NULL, OPT_NAME},
	                             {NULL, 0, NULL, 0}};
	const char *admin = NULL, *account = NULL, *out = NULL, *name = NULL, *version = NULL;
	char err[512];
	int status = 0, c;
	while ((c = settings_getopt(&cfg.settings, argc, argv, "h", own, err, sizeof err)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(&cfg);
			goto done;
		case OPT_VERSION:
			printf("vitrine-server %s\n", VITRINE_VERSION);
			goto done;
		case OPT_ADMIN:
			admin = optarg;
			break;
		case OPT_ACCOUNT:
			account = optarg;
			break;
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_RELEASE_VERSION:
			version = optarg;
			break;
		default:
			fprintf(stderr, "vitrine-server: %s\n", err);
			status = 2;
			goto done;
		}
	}
	const char *command = optind < argc ? argv[optind] : "";
	int operands = 0;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(command, commands[i].name) == 0)
			operands = commands[i].operands;
	bool init = strcmp(command, "init") == 0, relay_key = strcmp(command, "relay-key") == 0;
	bool release_key = strcmp(command, "release-key") == 0, release = strcmp(command, "release") == 0;
	bool backup = strcmp(command, "backup") == 0, restore = strcmp(command, "restore") == 0;
	if ((backup || restore) && argc - optind < 2) {
		fprintf(stderr, "vitrine-server: %s needs the folder %s (see --help)\n", command,
		        backup ? "DEST to write the backup into" : "SRC of the backup to restore");
		status = 2;
		goto done;
	}
	if (release && (argc - optind < 2 || strcmp(argv[optind + 1], "sign") != 0)) {
		fprintf(stderr, "vitrine-server: release takes the subcommand sign (see --help)\n");
		status = 2;
		goto done;
	}
	if (release && argc - optind < 3) {
		fprintf(stderr, "vitrine-server: release sign needs the FILE to sign (see --help)\n");
		status = 2;
		goto done;
	}
	if (optind + operands < argc) {
		fprintf(stderr, "vitrine-server: unknown argument \"%s\" (see --help)\n", argv[optind + operands]);
		status = 2;
		goto done;
	}
	if (!relay_key && !release_key && !release && out) {
		fprintf(stderr,
		        "vitrine-server: --out goes with relay-key, release-key and release sign (see --help)\n");
		status = 2;
		goto done;
	}
	if (!release && (name || version)) {
		fprintf(stderr, "vitrine-server: --name and --version V go with release sign (see --help)\n");
		status = 2;
		goto done;
	}
	if (!init && (admin || account)) {
		fprintf(stderr, "vitrine-server: --admin and --account go with init (see --help)\n");
		status = 2;
		goto done;
	}
	if (settings_load(&cfg.settings, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: %s\n", err);
		status = 2;
		goto done;
	}
	/* the commands other than the server run as that account too, so that
	 * what they write (init's data folder, a key file) is its own */
	if ((init || relay_key || release_key || release || backup || restore) && *config_get(&cfg, CFG_USER) &&
	    privdrop_to(config_get(&cfg, CFG_USER), err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-server: --user: %s\n", err);
		status = 1;
	} else if (init) {
		if (!account)
			account = "Default";
		if (strlen(account) == 0 || strlen(account) > 128) {
			fprintf(stderr, "vitrine-server: --account must have 1 to 128 characters\n");
			status = 2;
		} else {
			status = cmd_init(config_get(&cfg, CFG_DATA), config_get(&cfg, CFG_DB), admin, account);
		}
	} else if (relay_key) {
		status = cmd_relay_key(config_get(&cfg, CFG_DATA), out);
	} else if (release_key) {
		status = cmd_release_key(config_get(&cfg, CFG_DATA), out);
	} else if (release) {
		status = cmd_release_sign(config_get(&cfg, CFG_DATA), argv[optind + 2], name, version, out);
	} else if (backup) {
		status = check_initialised(config_get(&cfg, CFG_DATA)) != 0
		             ? 1
		             : backup_run(config_get(&cfg, CFG_DATA), config_get(&cfg, CFG_DB), argv[optind + 1],
		                          VITRINE_VERSION);
	} else if (restore) {
		status = backup_restore(config_get(&cfg, CFG_DATA), config_get(&cfg, CFG_DB), argv[optind + 1]);
	} else {
		status = cmd_run(&cfg);
	}
done:
	config_free(&cfg);
	return status;
}
