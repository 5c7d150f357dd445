/*
 * The CLI's HTTP client for the Vitrine API (libcurl, one easy handle per
 * process so requests reuse the connection). It sends JSON bodies, streams
 * uploads from files, keeps the session cookie of a login in memory (only
 * vitrine_session, taken from Set-Cookie; no cookie engine, no cookie
 * file), and adds "Authorization: Bearer" or the session's X-CSRF-Token. TLS is always
 * verified; --ca adds a CA to the system ones. Responses are read into a
 * buffer capped at API_MAX_RESPONSE (src/common/buf.h) and parsed as JSON
 * when they are JSON.
 */
#ifndef VITRINE_CLI_API_H
#define VITRINE_CLI_API_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

#ifndef CLI_VERSION
#define CLI_VERSION "0" /* meson passes the project's version */
#endif

#define API_MAX_RESPONSE      (64u << 20)
#define API_DEFAULT_TIMEOUT_S 60L

struct api {
	CURL *easy;
	char *base;  /* server URL without a trailing '/', owned */
	char *ca;    /* extra CA file or NULL, owned */
	char *token; /* bearer token or NULL, owned (wiped when freed) */
	char csrf[128];
	char cookie[160];           /* "vitrine_session=vs_..." after a login, else "" */
	struct curl_slist *headers; /* of the request under way */
};

struct api_resp {
	CURLcode rc;        /* CURLE_OK when an HTTP answer arrived */
	long status;        /* HTTP status, 0 without an answer */
	struct buf body;    /* the answer's bytes (a secret buffer: wiped when freed) */
	json_t *json;       /* owned, the body parsed when it is JSON */
	char location[512]; /* Location header of a redirect */
	bool too_large;     /* the answer went over API_MAX_RESPONSE */
	bool set_cookie;    /* the answer set (or cleared) vitrine_session */
	char cookie[160];   /* its "name=value", empty when cleared */
	char errbuf[CURL_ERROR_SIZE];
};

/* Called while an upload runs: bytes sent so far of total. */
typedef void (*api_progress_fn)(void *ud, uint64_t sent, uint64_t total);

/* Checks that url is an http(s) URL and copies it without trailing slashes
 * into out. Returns 0, or -1 when it is not a usable server URL. */
int api_normalize_url(const char *url, char *out, size_t outsz);

/* Opens a client for base (a normalized URL). ca may be NULL. Returns 0 or
 * -1 (out of memory). */
int api_open(struct api *a, const char *base, const char *ca);
void api_close(struct api *a);

/* Sets (copies) or clears the bearer token sent with every request. */
int api_set_token(struct api *a, const char *token);

/* Sends METHOD path (path starts with '/', may carry a query) with an
 * optional JSON body. HEAD sends no body and reads none. Returns 0 when an
 * HTTP answer arrived (any status), -1 otherwise; out is filled either way
 * and must be freed with api_resp_free. */
int api_call(struct api *a, const char *method, const char *path, json_t *body, long timeout_s, struct api_resp *out);

/* An upload: the bytes of an open file as a request's body. */
struct api_upload_req {
	const char *method; /* "PUT" (media) or "POST" (releases) */
	const char *path;
	int fd;                   /* read from offset 0 */
	uint64_t size;            /* sent as Content-Length */
	const char *filename;     /* sent as X-Filename (control characters dropped) */
	const char *header;       /* one more "Name: value" header, or NULL */
	int64_t max_send_speed;   /* bytes/s, 0 = unlimited */
	api_progress_fn progress; /* may be NULL */
	void *ud;
};

/* Sends up. Same return convention as api_call; a refusal the server sent
 * while the body was still going out (which can end in a connection reset)
 * is in out->json all the same when it arrived. */
int api_upload(struct api *a, const struct api_upload_req *up, struct api_resp *out);

void api_resp_free(struct api_resp *r);

/* error.code and error.message of an error envelope, or NULL. Borrowed. */
const char *api_error_code(const struct api_resp *r);
const char *api_error_message(const struct api_resp *r);

/* Frees a string made by json_dumps: main.c gives jansson an allocator of
 * its own (one that wipes), so free(3) must not be used on it. */
static inline void api_json_free(void *p)
{
	json_free_t f;
	json_get_alloc_funcs(NULL, &f);
	if (p)
		f(p);
}

#endif
