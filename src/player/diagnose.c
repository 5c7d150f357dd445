/* Network diagnostics of the player; see diagnose.h. */
#include "diagnose.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/strfmt.h"
#include "common/tunnel.h"
#include "config.h"
#include "state.h"
#include "transport.h"

struct target {
	char scheme[8];
	char host[256];
	char port[8];
};

static int parse_url(const char *url, struct target *t)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -1;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		snprintf(t->scheme, sizeof t->scheme, "%s", scheme);
		/* IPv6 literals come bracketed */
		size_t n = strlen(host);
		if (host[0] == '[' && n > 2)
			snprintf(t->host, sizeof t->host, "%.*s", (int)(n - 2), host + 1);
		else
			snprintf(t->host, sizeof t->host, "%s", host);
		snprintf(t->port, sizeof t->port, "%s", port);
		rc = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static int failures;

static void result(const char *check, bool ok, const char *detail, const char *advice)
{
	printf("%-10s %-6s %s\n", check, ok ? "ok" : "FAILED", detail);
	if (!ok) {
		failures++;
		if (advice)
			printf("           network administrator: %s\n", advice);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* TCP connect with a timeout; returns 0 or errno. */
static int tcp_connect(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int err = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else {
			struct pollfd pf = {fd, POLLOUT, 0};
			if (poll(&pf, 1, timeout_ms) != 1) {
				err = ETIMEDOUT;
			} else {
				socklen_t len = sizeof err;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			}
		}
	}
	close(fd);
	return err;
}

struct body {
	char buf[4096];
	size_t len;
	char date[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t len = size * n, room = sizeof b->buf - 1 - b->len;
	memcpy(b->buf + b->len, p, len < room ? len : room);
	b->len += len < room ? len : room;
	b->buf[b->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t len = size * n;
	if (len > 6 && strncasecmp(p, "Date: ", 6) == 0)
		snprintf(b->date, sizeof b->date, "%.*s", (int)(len - 6), p + 6);
	return len;
}

/* One request; returns the curl code and fills status, body, elapsed. */
static CURLcode fetch(const struct player_config *cfg, const char *path, const char *token, long *status,
                      struct body *b, double *elapsed)
{
	CURL *c = curl_easy_init();
	if (!c)
		return CURLE_OUT_OF_MEMORY;
	char url[2048], auth[256];
	if (strfmt(url, sizeof url, "%s%s", cfg->server, path) != 0) {
		curl_easy_cleanup(c);
		return CURLE_URL_MALFORMAT;
	}
	transport_curl_defaults(c, cfg);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
	struct curl_slist *h = NULL;
	if (token && *token) {
		if (strfmt(auth, sizeof auth, "Authorization: Bearer %s", token) == 0) {
			h = curl_slist_append(h, auth);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		}
		sodium_memzero(auth, sizeof auth);
	}
	double start = now_s();
	CURLcode rc = curl_easy_perform(c);
	*elapsed = now_s() - start;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

int diagnose_run(const struct player_config *cfg, const struct player_state *st)
{
	struct target t;
	char detail[512], advice[512];
	failures = 0;
	printf("Vitrine player diagnostics for %s\n\n", cfg->server);
	if (st) { /* what a remote-control guest checks: the console shows the same */
		char fp[TUNNEL_FINGERPRINT_LEN];
		tunnel_fingerprint(st->public_key, fp);
		printf("%-10s %-6s %s\n", "host key", "", fp);
	}
	if (parse_url(cfg->server, &t) != 0 || (strcmp(t.scheme, "https") != 0 && strcmp(t.scheme, "http") != 0)) {
		result("url", false, "the server URL is not an http(s) URL", "check the player's --server setting");
		return 1;
	}
	bool tls = strcmp(t.scheme, "https") == 0;
	const char *proto = tls ? "HTTPS" : "HTTP";
	snprintf(advice, sizeof advice, "allow outbound TCP from this screen to %s port %s (%s)", t.host, t.port,
	         proto);

	/* 1. DNS */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int gai = getaddrinfo(t.host, t.port, &hints, &res);
	if (gai != 0) {
		snprintf(detail, sizeof detail, "cannot resolve %s: %s", t.host, gai_strerror(gai));
		char dns[512];
		snprintf(dns, sizeof dns, "make %s resolvable from this screen (DNS, UDP/TCP port 53)", t.host);
		result("dns", false, detail, dns);
		printf("\n%d check(s) failed.\n", failures);
		return 1;
	}
	snprintf(detail, sizeof detail, "%s resolves", t.host);
	result("dns", true, detail, NULL);

	/* 2. TCP */
	int err = ETIMEDOUT;
	for (struct addrinfo *ai = res; ai && err; ai = ai->ai_next)
		err = tcp_connect(ai, 5000);
	freeaddrinfo(res);
	if (err) {
		snprintf(detail, sizeof detail, "cannot connect to %s port %s: %s", t.host, t.port, strerror(err));
		result("tcp", false, detail, advice);
		printf("\n%d check(s) failed.\n", failures);
		return 1;
	}
	snprintf(detail, sizeof detail, "connected to %s port %s", t.host, t.port);
	result("tcp", true, detail, NULL);

	/* 3. TLS (and HTTP) */
	long status = 0;
	double elapsed = 0;
	struct body b = {0};
	CURLcode rc = fetch(cfg, "/healthz", NULL, &status, &b, &elapsed);
	if (tls) {
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
		    rc == CURLE_SSL_CONNECT_ERROR) {
			snprintf(detail, sizeof detail, "TLS failed: %s", curl_easy_strerror(rc));
			result("tls", false, detail,
			       "the server certificate is not trusted: install the server's CA with --ca, or check "
			       "that no "
			       "proxy intercepts TLS to this host");
		} else if (rc != CURLE_OK) {
			snprintf(detail, sizeof detail, "TLS handshake failed: %s", curl_easy_strerror(rc));
			result("tls", false, detail, advice);
		} else {
			result("tls", true, "certificate verified, TLS 1.2 or later", NULL);
		}
	} else {
		result("tls", true, "skipped: the server URL is plain HTTP (use https in production)", NULL);
	}
	if (rc == CURLE_OK && status == 200 && strstr(b.buf, "\"ok\"")) {
		snprintf(detail, sizeof detail, "GET /healthz answered 200 in %.0f ms", elapsed * 1000);
		result("http", true, detail, NULL);
	} else if (rc == CURLE_OK) {
		snprintf(detail, sizeof detail, "GET /healthz answered HTTP %ld, not a Vitrine server?", status);
		result("http", false, detail, "check that nothing between the screen and the server rewrites requests");
	}

	/* 4. clock offset, from the Date header (1 s resolution) */
	if (rc == CURLE_OK && b.date[0]) {
		char *end = b.date + strlen(b.date);
		while (end > b.date && (end[-1] == '\r' || end[-1] == '\n'))
			*--end = '\0';
		time_t server = curl_getdate(b.date, NULL);
		long offset = server > 0 ? (long)(server - time(NULL)) : 0;
		snprintf(detail, sizeof detail, "offset to the server clock: %+ld s", offset);
		result("clock", server > 0 && labs(offset) <= 60, detail,
		       "allow NTP (UDP port 123) to a time server so the screen's clock is right; schedules and TLS "
		       "need it");
	} else {
		result("clock", false, "the server sent no Date header", NULL);
	}

	/* 5. the long-poll round trip of the device API */
	if (rc == CURLE_OK) {
		struct body p = {0};
		rc = fetch(cfg, "/api/v1/device/instructions?wait=0", st ? st->token : NULL, &status, &p, &elapsed);
		bool paired = st && st->token[0];
		bool ok = rc == CURLE_OK && (status == 200 || (!paired && status == 401));
		snprintf(detail, sizeof detail, "%s: HTTP %ld in %.0f ms%s", "GET /api/v1/device/instructions", status,
		         elapsed * 1000, paired ? "" : " (not paired: 401 expected)");
		result("longpoll", ok, detail,
		       "allow long-lived HTTPS requests (30 s) to the server: proxies must not buffer or cut them");
	}

	/* 6. relays */
	result("relay", true, "skipped: remote control (relays) is not part of this player version", NULL);

	if (failures)
		printf("\n%d check(s) failed.\n", failures);
	else
		printf("\nAll checks passed.\n");
	return failures ? 1 : 0;
}
