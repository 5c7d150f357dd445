/* The CLI's HTTP client; see api.h. */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/strfmt.h"

int api_normalize_url(const char *url, char *out, size_t outsz)
{
	if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return -1;
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	const char *host = strstr(url, "://") + 3;
	if (n <= (size_t)(host - url) || n >= outsz)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

/* Frees a header list, wiping it first: it holds the token or the cookie. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *i = h; i; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

int api_open(struct api *a, const char *base, const char *ca)
{
	memset(a, 0, sizeof *a);
	a->easy = curl_easy_init();
	a->base = strdup(base);
	a->ca = ca ? strdup(ca) : NULL;
	if (!a->easy || !a->base || (ca && !a->ca)) {
		api_close(a);
		return -1;
	}
	return 0;
}

void api_close(struct api *a)
{
	if (a->easy)
		curl_easy_cleanup(a->easy);
	free_headers(a->headers);
	free(a->base);
	free(a->ca);
	api_set_token(a, NULL);
	sodium_memzero(a->csrf, sizeof a->csrf);
	sodium_memzero(a->cookie, sizeof a->cookie);
	memset(a, 0, sizeof *a);
}

int api_set_token(struct api *a, const char *token)
{
	if (a->token) {
		sodium_memzero(a->token, strlen(a->token));
		free(a->token);
		a->token = NULL;
	}
	if (token && !(a->token = strdup(token)))
		return -1;
	return 0;
}

void api_resp_free(struct api_resp *r)
{
	buf_free(&r->body); /* wiped: a login or token answer carries secrets */
	json_decref(r->json);
	sodium_memzero(r->cookie, sizeof r->cookie);
	memset(r, 0, sizeof *r);
}

static json_t *error_member(const struct api_resp *r, const char *key)
{
	return json_object_get(json_object_get(r->json, "error"), key);
}

const char *api_error_code(const struct api_resp *r)
{
	return json_string_value(error_member(r, "code"));
}

const char *api_error_message(const struct api_resp *r)
{
	return json_string_value(error_member(r, "message"));
}

/* --- callbacks --- */

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
	struct api_resp *r = userdata;
	size_t len = size * n;
	int rc = buf_add(&r->body, ptr, len);
	if (rc == BUF_TOO_BIG)
		r->too_large = true;
	return rc == BUF_OK ? len : 0; /* 0: curl fails the transfer with CURLE_WRITE_ERROR */
}

/* "Set-Cookie: vitrine_session=VALUE; ..." -> r->cookie = "vitrine_session=VALUE" */
static void take_cookie(struct api_resp *r, const char *v, size_t vl)
{
	static const char session[] = "vitrine_session=";
	if (vl < sizeof session - 1 || strncmp(v, session, sizeof session - 1) != 0)
		return;
	size_t end = sizeof session - 1;
	while (end < vl && v[end] != ';' && v[end] != '\r' && v[end] != '\n' && v[end] != ' ')
		end++;
	r->set_cookie = true;
	r->cookie[0] = '\0';
	if (end > sizeof session - 1 && end < sizeof r->cookie) { /* an empty value clears it */
		memcpy(r->cookie, v, end);
		r->cookie[end] = '\0';
	}
}

static size_t on_header(char *buf, size_t size, size_t n, void *userdata)
{
	struct api_resp *r = userdata;
	size_t len = size * n;
	static const char name[] = "location:", cookie[] = "set-cookie:";
	if (len > sizeof cookie - 1 && strncasecmp(buf, cookie, sizeof cookie - 1) == 0) {
		const char *v = buf + sizeof cookie - 1;
		size_t vl = len - (sizeof cookie - 1);
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		take_cookie(r, v, vl);
	}
	if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
		const char *v = buf + sizeof name - 1;
		size_t vl = len - (sizeof name - 1);
		while (vl > 0 && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl >= sizeof r->location)
			vl = sizeof r->location - 1;
		memcpy(r->location, v, vl);
		r->location[vl] = '\0';
	}
	return len;
}

struct upload_src {
	int fd;
	api_progress_fn progress;
	void *ud;
	uint64_t total;
};

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
	struct upload_src *s = userdata;
	for (;;) {
		ssize_t got = read(s->fd, buf, size * n);
		if (got >= 0)
			return (size_t)got;
		if (errno != EINTR)
			return CURL_READFUNC_ABORT;
	}
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	struct upload_src *s = userdata;
	return lseek(s->fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	struct upload_src *s = userdata;
	if (s->progress)
		s->progress(s->ud, (uint64_t)ulnow, s->total);
	return 0;
}

/* --- requests --- */

static int prepare(struct api *a, const char *method, const char *path, long timeout_s, struct api_resp *out)
{
	memset(out, 0, sizeof *out);
	buf_init_secret(&out->body, API_MAX_RESPONSE);
	char url[4096];
	if (strfmt(url, sizeof url, "%s%s", a->base, path) != 0) {
		snprintf(out->errbuf, sizeof out->errbuf, "the request's URL is longer than %zu bytes", sizeof url - 1);
		out->rc = CURLE_URL_MALFORMAT;
		return -1;
	}
	CURL *e = a->easy;
	curl_easy_reset(e);
	free_headers(a->headers);
	a->headers = NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (a->ca) /* added to the system CAs (capath stays the default) */
		curl_easy_setopt(e, CURLOPT_CAINFO, a->ca);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "vitrine-cli/" CLI_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, out->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, out);
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	if (h && a->token) {
		char auth[256];
		if (strfmt(auth, sizeof auth, "Authorization: Bearer %s", a->token) != 0) {
			sodium_memzero(auth, sizeof auth);
			free_headers(h);
			snprintf(out->errbuf, sizeof out->errbuf,
			         "the stored token is too long to be one: log in again");
			out->rc = CURLE_URL_MALFORMAT;
			return -1;
		}
		struct curl_slist *t = curl_slist_append(h, auth);
		sodium_memzero(auth, sizeof auth);
		h = t ? t : (free_headers(h), NULL);
	}
	bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (h && a->cookie[0]) {
		char cookie[sizeof "Cookie: " + sizeof a->cookie]; /* always fits */
		snprintf(cookie, sizeof cookie, "Cookie: %s", a->cookie);
		struct curl_slist *t = curl_slist_append(h, cookie);
		sodium_memzero(cookie, sizeof cookie);
		h = t ? t : (free_headers(h), NULL);
	}
	if (h && a->csrf[0] && !safe) {
		char csrf[sizeof "X-CSRF-Token: " + sizeof a->csrf]; /* always fits */
		snprintf(csrf, sizeof csrf, "X-CSRF-Token: %s", a->csrf);
		struct curl_slist *t = curl_slist_append(h, csrf);
		h = t ? t : (free_headers(h), NULL);
	}
	if (!h)
		return -1;
	a->headers = h;
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	return 0;
}

static int add_header(struct api *a, const char *line)
{
	struct curl_slist *t = curl_slist_append(a->headers, line);
	if (!t)
		return -1;
	a->headers = t;
	return 0;
}

static int perform(struct api *a, struct api_resp *out)
{
	curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->headers);
	out->rc = curl_easy_perform(a->easy);
	free_headers(a->headers);
	a->headers = NULL;
	if (out->rc != CURLE_OK) {
		if (out->too_large)
			snprintf(out->errbuf, sizeof out->errbuf, "the answer is larger than %u MiB",
			         API_MAX_RESPONSE >> 20);
		if (!out->errbuf[0])
			snprintf(out->errbuf, sizeof out->errbuf, "%s", curl_easy_strerror(out->rc));
		return -1;
	}
	curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &out->status);
	if (out->set_cookie)
		memcpy(a->cookie, out->cookie, sizeof a->cookie);
	const char *ct = NULL;
	curl_easy_getinfo(a->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (buf_len(&out->body) > 0 && ct && strstr(ct, "json")) {
		json_error_t jerr;
		out->json = json_loadb(buf_str(&out->body), buf_len(&out->body), 0, &jerr);
	}
	return 0;
}

int api_call(struct api *a, const char *method, const char *path, json_t *body, long timeout_s, struct api_resp *out)
{
	int rc = -1;
	char *text = NULL;
	if (prepare(a, method, path, timeout_s, out) != 0)
		goto fail;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text || add_header(a, "Content-Type: application/json") != 0)
			goto fail;
		curl_easy_setopt(a->easy, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(a->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		curl_easy_setopt(a->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(a->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	rc = perform(a, out);
	goto out;
fail:
	if (out->rc == CURLE_OK) {
		snprintf(out->errbuf, sizeof out->errbuf, "out of memory");
		out->rc = CURLE_OUT_OF_MEMORY;
	}
out:
	if (text) {
		sodium_memzero(text, strlen(text)); /* a login body holds the password */
		api_json_free(text);
	}
	return rc;
}

int api_upload(struct api *a, const struct api_upload_req *up, struct api_resp *out)
{
	struct upload_src src = {.fd = up->fd, .progress = up->progress, .ud = up->ud, .total = up->size};
	if (prepare(a, up->method, up->path, 0, out) != 0 ||
	    lseek(up->fd, 0, SEEK_SET) != 0) { /* prepare fills out first */
		if (out->rc == CURLE_OK) {
			snprintf(out->errbuf, sizeof out->errbuf, "cannot start the upload");
			out->rc = CURLE_READ_ERROR;
		}
		return -1;
	}
	/* the name goes in a header: no control characters, bounded */
	char hdr[256] = "X-Filename: ";
	size_t o = strlen(hdr);
	for (const char *p = up->filename; *p && o + 1 < sizeof hdr; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			hdr[o++] = *p;
	hdr[o] = '\0';
	if (add_header(a, hdr) != 0 || add_header(a, "Content-Type: application/octet-stream") != 0 ||
	    (up->header && add_header(a, up->header) != 0)) {
		snprintf(out->errbuf, sizeof out->errbuf, "out of memory");
		out->rc = CURLE_OUT_OF_MEMORY;
		return -1;
	}
	CURL *e = a->easy;
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L); /* a PUT, unless the method says otherwise */
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, &src);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, &src);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->size);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &src);
	/* no overall timeout for big files; a stalled one fails after 2 minutes */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 120L);
	if (up->max_send_speed > 0)
		curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)up->max_send_speed);
	int rc = perform(a, out);
	/* a refusal sent while the body was still going out can end in a
	 * connection reset: what arrived of it still says why */
	if (rc != 0 && buf_len(&out->body) && !out->json) {
		json_error_t jerr;
		const char *json_at = strstr(buf_str(&out->body), "{\"error\"");
		out->json = json_at ? json_loads(json_at, JSON_DISABLE_EOF_CHECK, &jerr) : NULL;
	}
	return rc;
}
