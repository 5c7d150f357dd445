/*
 * vitrine-relay: the command line (docs/PROTOCOL.md "Remote control: the
 * relay") around the relay core (relay.c: raw TCP, WebSocket, WebSocket
 * over TLS), its admin port (admin.c) and its link to the server (link.c),
 * on one libuv loop. Started as root (a port below 1024), it binds every
 * listener, then switches to the account of --user before it serves any.
 * SIGTERM or SIGINT closes the listeners, every connection and the link,
 * and the process exits 0.
 *
 *   vitrine-relay --listen HOST:PORT --server-key FILE [--admin-listen HOST:PORT]
 *                 [--ws-listen HOST:PORT [--tls-cert F --tls-key F]] [--ws-plain-listen HOST:PORT]
 *                 [--public-address HOST:PORT] [--session-rate B] [--total-rate B]
 *                 [--server-url URL --relay-id ID --relay-token-file FILE [--server-ca FILE]]
 *                 [--pair-timeout S] [--first-frame-timeout S] [--idle-timeout S]
 *                 [--queue-cap BYTES] [--max-connections N] [--per-address-limit N] [--ws-ping S]
 *                 [--user NAME]
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "admin.h"
#include "common/privdrop.h"
#include "link.h"
#include "relay.h"
#include "server_key.h"
#include "ws.h"

#define KEY_FILE_MAX   256
#define LINK_FINISH_MS 1000

static struct relay *the_relay;
static struct admin *the_admin;
static struct link *the_link;
static uv_signal_t sigterm, sigint;

static void usage(FILE *f)
{
	fputs("usage: vitrine-relay --listen HOST:PORT --server-key FILE [--admin-listen HOST:PORT]\n"
	      "         [--ws-listen HOST:PORT [--tls-cert FILE --tls-key FILE]] [--ws-plain-listen HOST:PORT]\n"
	      "         [--public-address HOST:PORT] [--session-rate BYTES_PER_S] [--total-rate BYTES_PER_S]\n"
	      "         [--server-url URL --relay-id ID --relay-token-file FILE [--server-ca FILE]]\n"
	      "         [--pair-timeout S] [--first-frame-timeout S] [--idle-timeout S]\n"
	      "         [--queue-cap BYTES] [--max-connections N] [--per-address-limit N] [--ws-ping S]\n"
	      "         [--user NAME]\n"
	      "  --server-key FILE: the server's Ed25519 public key, 32 raw bytes or their base64\n"
	      "  --ws-listen: WebSocket (WSS with --tls-cert and --tls-key, PEM; TLS 1.2 or 1.3);\n"
	      "    --ws-plain-listen: a plain WebSocket listener beside it. Any request path.\n"
	      "    --ws-ping S: a ping to each WebSocket client every S s (default 30; 0: none)\n"
	      "  --public-address HOST:PORT: refuse tickets naming another relay (ticket_invalid)\n"
	      "  --session-rate: bytes/s in each direction of a session; --total-rate: all sessions\n"
	      "  --per-address-limit N: connections of one address (IPv4, IPv6 /64) before their\n"
	      "    ticket is checked, at most (default 64); more are closed at once (address_limit)\n"
	      "  --server-url, --relay-id, --relay-token-file: report to the server every 5 s and\n"
	      "    cut the sessions an admin ends (the vr_ token of POST /api/v1/relays);\n"
	      "    --server-ca FILE: the CA of an https server (default: the system's)\n"
	      "  --user NAME: started as root, switch to this account once every port is bound\n",
	      f);
}

/* "HOST:PORT" or "[V6]:PORT" into host and port. */
static int split_host_port(const char *arg, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(arg, ':');
	if (!colon || colon == arg)
		return -1;
	const char *h = arg;
	size_t hlen = (size_t)(colon - arg);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= hostsz)
		return -1;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
}

static int parse_number(const char *flag, const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = v ? strtoull(v, &end, 10) : 0;
	if (!v || errno || *end || end == v || v[0] == '-' || n == 0 || n > max) {
		fprintf(stderr, "vitrine-relay: %s wants a whole number from 1 to %llu\n", flag, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int read_key_file(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "vitrine-relay: --server-key %s: %s\n", path, strerror(errno));
		return -1;
	}
	unsigned char buf[KEY_FILE_MAX];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (n == sizeof buf || server_key_parse(buf, n, pk) != 0) {
		fprintf(
		    stderr,
		    "vitrine-relay: --server-key %s: not an Ed25519 public key (want 32 raw bytes or their base64)\n",
		    path);
		return -1;
	}
	return 0;
}

static void on_stop_signal(uv_signal_t *sig, int signum)
{
	(void)sig;
	(void)signum;
	relay_stop(the_relay);
	if (the_admin)
		admin_stop(the_admin);
	if (the_link)
		link_finish(the_link, LINK_FINISH_MS); /* the ends the stop made are reported */
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
}

/* Many idle sessions are many descriptors: take what the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#define TOKEN_FILE_MAX 256

/* The vr_ token from path into out (whitespace around it dropped). */
static int read_token_file(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "vitrine-relay: --relay-token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	char buf[TOKEN_FILE_MAX];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	size_t start = 0;
	while (start < n && strchr(" \t\r\n", buf[start]))
		start++;
	while (n > start && strchr(" \t\r\n", buf[n - 1]))
		n--;
	bool ok = n < sizeof buf && n - start > 3 && n - start < outsz && memcmp(buf + start, "vr_", 3) == 0;
	for (size_t i = start; ok && i < n; i++)
		ok = (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f;
	if (ok) {
		memcpy(out, buf + start, n - start);
		out[n - start] = '\0';
	}
	sodium_memzero(buf, sizeof buf);
	if (!ok)
		fprintf(stderr, "vitrine-relay: --relay-token-file %s: want the relay's vr_... token on one line\n",
		        path);
	return ok ? 0 : -1;
}

/* Parses a HOST:PORT flag value; prints the error. */
static int host_port_arg(const char *flag, const char *v, char *host, size_t hostsz, int *port)
{
	if (split_host_port(v, host, hostsz, port) != 0) {
		fprintf(stderr, "vitrine-relay: %s %s: want HOST:PORT\n", flag, v);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *listen = NULL, *admin_listen = NULL, *key_path = NULL, *ws_listen = NULL, *ws_plain = NULL;
	const char *tls_cert = NULL, *tls_key = NULL, *public_address = NULL;
	const char *server_url = NULL, *relay_id = NULL, *token_file = NULL, *server_ca = NULL, *user = NULL;
	struct relay_options opt = {
	    .first_frame_timeout_ms = 5000,
	    .pair_timeout_ms = 30000,
	    .idle_timeout_ms = 300000,
	    .queue_cap = 256 * 1024,
	    .max_connections = 20000,
	    .per_address_limit = 64,
	    .ws_ping_ms = 30000,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long long n;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (!v) {
			fprintf(stderr, "vitrine-relay: %s: unknown option or missing value\n", a);
			usage(stderr);
			return 2;
		} else if (strcmp(a, "--listen") == 0) {
			listen = v;
		} else if (strcmp(a, "--admin-listen") == 0) {
			admin_listen = v;
		} else if (strcmp(a, "--server-key") == 0) {
			key_path = v;
		} else if (strcmp(a, "--ws-listen") == 0) {
			ws_listen = v;
		} else if (strcmp(a, "--ws-plain-listen") == 0) {
			ws_plain = v;
		} else if (strcmp(a, "--tls-cert") == 0) {
			tls_cert = v;
		} else if (strcmp(a, "--tls-key") == 0) {
			tls_key = v;
		} else if (strcmp(a, "--server-url") == 0) {
			server_url = v;
		} else if (strcmp(a, "--relay-id") == 0) {
			relay_id = v;
		} else if (strcmp(a, "--relay-token-file") == 0) {
			token_file = v;
		} else if (strcmp(a, "--server-ca") == 0) {
			server_ca = v;
		} else if (strcmp(a, "--user") == 0) {
			user = v;
		} else if (strcmp(a, "--public-address") == 0) {
			public_address = v;
		} else if (strcmp(a, "--session-rate") == 0) {
			if (parse_number(a, v, 1ull << 40, &n) != 0)
				return 2;
			opt.session_rate = n;
		} else if (strcmp(a, "--total-rate") == 0) {
			if (parse_number(a, v, 1ull << 40, &n) != 0)
				return 2;
			opt.total_rate = n;
		} else if (strcmp(a, "--pair-timeout") == 0) {
			if (parse_number(a, v, 86400, &n) != 0)
				return 2;
			opt.pair_timeout_ms = n * 1000;
		} else if (strcmp(a, "--first-frame-timeout") == 0) {
			if (parse_number(a, v, 3600, &n) != 0)
				return 2;
			opt.first_frame_timeout_ms = n * 1000;
		} else if (strcmp(a, "--ws-ping") == 0) {
			if (strcmp(v, "0") == 0)
				opt.ws_ping_ms = 0;
			else if (parse_number(a, v, 3600, &n) != 0)
				return 2;
			else
				opt.ws_ping_ms = n * 1000;
		} else if (strcmp(a, "--idle-timeout") == 0) {
			if (parse_number(a, v, 86400, &n) != 0)
				return 2;
			opt.idle_timeout_ms = n * 1000;
		} else if (strcmp(a, "--queue-cap") == 0) {
			if (parse_number(a, v, 64ull * 1024 * 1024, &n) != 0)
				return 2;
			opt.queue_cap = (size_t)n;
		} else if (strcmp(a, "--max-connections") == 0) {
			if (parse_number(a, v, 1000000, &n) != 0)
				return 2;
			opt.max_connections = (unsigned)n;
		} else if (strcmp(a, "--per-address-limit") == 0) {
			if (parse_number(a, v, 1000000, &n) != 0 || n == 0) {
				fprintf(stderr, "vitrine-relay: --per-address-limit must be 1 or more\n");
				return 2;
			}
			opt.per_address_limit = (unsigned)n;
		} else {
			fprintf(stderr, "vitrine-relay: %s: unknown option\n", a);
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (!listen || !key_path) {
		fprintf(stderr, "vitrine-relay: --listen and --server-key are required\n");
		usage(stderr);
		return 2;
	}
	if (!tls_cert != !tls_key) {
		fprintf(stderr, "vitrine-relay: --tls-cert and --tls-key go together\n");
		return 2;
	}
	if (tls_cert && !ws_listen) {
		fprintf(stderr, "vitrine-relay: --tls-cert and --tls-key are for --ws-listen (WSS)\n");
		return 2;
	}
	if ((server_url || relay_id || token_file) && !(server_url && relay_id && token_file)) {
		fprintf(stderr, "vitrine-relay: --server-url, --relay-id and --relay-token-file go together\n");
		return 2;
	}
	char host[256], admin_host[256], ws_host[256], plain_host[256], pub_host[256], err[512];
	int port, admin_port = 0, ws_port = 0, plain_port = 0, pub_port = 0;
	if (host_port_arg("--listen", listen, host, sizeof host, &port) != 0 ||
	    (admin_listen &&
	     host_port_arg("--admin-listen", admin_listen, admin_host, sizeof admin_host, &admin_port) != 0) ||
	    (ws_listen && host_port_arg("--ws-listen", ws_listen, ws_host, sizeof ws_host, &ws_port) != 0) ||
	    (ws_plain && host_port_arg("--ws-plain-listen", ws_plain, plain_host, sizeof plain_host, &plain_port) != 0))
		return 2;
	if (public_address) {
		if (strlen(public_address) >= sizeof opt.public_address ||
		    host_port_arg("--public-address", public_address, pub_host, sizeof pub_host, &pub_port) != 0 ||
		    pub_port == 0)
			return 2;
		memcpy(opt.public_address, public_address, strlen(public_address) + 1);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "vitrine-relay: libsodium did not start\n");
		return 1;
	}
	if (read_key_file(key_path, opt.server_pk) != 0)
		return 2;
	char token[TOKEN_FILE_MAX];
	if (token_file && read_token_file(token_file, token, sizeof token) != 0)
		return 2;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_priority_t prio = NULL;
	if (tls_cert && ws_tls_load(tls_cert, tls_key, &cred, &prio, err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-relay: %s\n", err);
		return 2;
	}
	raise_fd_limit();
	uv_loop_t *loop = uv_default_loop();
	the_relay = relay_create(loop, &opt);
	int rc = the_relay ? 0 : -1;
	if (!the_relay)
		snprintf(err, sizeof err, "out of memory");
	if (rc == 0)
		rc = relay_listen(the_relay, RELAY_TCP, host, port, NULL, NULL, err, sizeof err);
	if (rc == 0 && ws_listen)
		rc =
		    relay_listen(the_relay, cred ? RELAY_WSS : RELAY_WS, ws_host, ws_port, cred, prio, err, sizeof err);
	if (rc == 0 && ws_plain)
		rc = relay_listen(the_relay, RELAY_WS, plain_host, plain_port, NULL, NULL, err, sizeof err);
	if (rc == 0 && server_url) {
		struct link_options lo = {
		    .server_url = server_url, .relay_id = relay_id, .token = token, .ca_file = server_ca};
		the_link = link_start(loop, the_relay, &lo, err, sizeof err);
		sodium_memzero(token, sizeof token);
		rc = the_link ? 0 : -1;
		if (the_link)
			relay_set_event_hook(the_relay, link_on_event, the_link);
	}
	if (rc == 0 && admin_listen) {
		the_admin = admin_start(loop, admin_host, admin_port, the_relay, err, sizeof err);
		rc = the_admin ? 0 : -1;
	}
	/* every port is bound: root is given up before the first connection is
	 * accepted (the loop has not run yet) */
	char why[400];
	if (rc == 0 && user && privdrop_to(user, why, sizeof why) != 0) {
		snprintf(err, sizeof err, "--user: %s", why);
		rc = -1;
	} else if (rc == 0 && !user && privdrop_is_root()) {
		fprintf(stderr, "vitrine-relay: warning: running as root: start with --user NAME so that the relay "
		                "gives up root once its ports are bound\n");
	}
	if (rc != 0) {
		fprintf(stderr, "vitrine-relay: %s\n", err);
		if (the_link)
			link_stop(the_link);
		if (the_relay) {
			relay_stop(the_relay);
			uv_run(loop, UV_RUN_DEFAULT);
			relay_free(the_relay);
		}
		if (the_link)
			link_free(the_link);
		return 1;
	}
	uv_signal_init(loop, &sigterm);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&sigint, on_stop_signal, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "vitrine-relay: listening on %s (tcp)%s%s%s%s%s%s%s%s\n", listen, ws_listen ? ", " : "",
	        ws_listen ? ws_listen : "", ws_listen ? (cred ? " (wss)" : " (ws)") : "", ws_plain ? ", " : "",
	        ws_plain ? ws_plain : "", ws_plain ? " (ws)" : "", admin_listen ? ", admin on " : "",
	        admin_listen ? admin_listen : "");
	uv_run(loop, UV_RUN_DEFAULT);
	relay_free(the_relay);
	if (the_admin)
		admin_free(the_admin);
	if (the_link)
		link_free(the_link);
	uv_loop_close(loop);
	if (cred) {
		gnutls_priority_deinit(prio);
		gnutls_certificate_free_credentials(cred);
	}
	fprintf(stderr, "vitrine-relay: stopped\n");
	return 0;
}
