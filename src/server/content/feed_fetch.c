/* One feed GET with libcurl; see feed_fetch.h. */
#include "feed_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../common/buf.h"
#include "../../common/cidr.h"

bool feed_address_allowed(const struct sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN];
	const void *a = sa->sa_family == AF_INET    ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
	                : sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                                            : NULL;
	struct cidr addr;
	if (!a || !inet_ntop(sa->sa_family, a, text, sizeof text) || cidr_parse_addr(text, &addr) != 0)
		return false; /* not an IP address */
	return cidr_is_global_unicast(&addr);
}

struct fetch {
	struct buf body; /* capped at FEED_MAX_BYTES */
	bool too_big, refused, allow_private;
	const atomic_bool *stop;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = arg;
	(void)purpose;
	if (!f->allow_private && !feed_address_allowed(&a->addr)) {
		f->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t add = size * n;
	int rc = buf_add(&f->body, p, add);
	if (rc == BUF_TOO_BIG)
		f->too_big = true;
	return rc == BUF_OK ? add : 0;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct fetch *f = arg;
	(void)a, (void)b, (void)c, (void)d;
	return f->stop && atomic_load(f->stop) ? 1 : 0; /* shutting down: abort */
}

int feed_fetch(const char *url, bool allow_private, const atomic_bool *stop, char **body, size_t *len, char *err,
               size_t errsz)
{
	*body = NULL;
	*len = 0;
	struct fetch f = {.allow_private = allow_private, .stop = stop};
	buf_init(&f.body, FEED_MAX_BYTES);
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vitrine-server");
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the address check must see the real peer */
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FEED_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &f);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (f.refused)
		snprintf(err, errsz,
		         "refused: the feed's address is not a public (global unicast) one (see "
		         "feed_allow_private)");
	else if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, errsz, "the feed is larger than 2 MiB");
	else if (rc != CURLE_OK)
		snprintf(err, errsz, "fetch failed: %s", curl_easy_strerror(rc));
	else if (code != 200)
		snprintf(err, errsz, "the feed answered HTTP %ld", code);
	else if (buf_len(&f.body) == 0)
		snprintf(err, errsz, "the feed is empty");
	else if (!(*body = buf_take(&f.body, len)))
		snprintf(err, errsz, "out of memory");
	else
		return 0;
	buf_free(&f.body);
	return -1;
}
