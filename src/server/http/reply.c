/*
 * Replies: JSON and error bodies, static and owned buffers, files with a
 * strong ETag and a single byte Range, extra headers, and the common headers
 * every reply gets when it is queued.
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/range.h"
#include "../../common/utf8.h"
#include "internal.h"

static const char oom_json[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

void reply_set(struct http_req *r, unsigned status, struct MHD_Response *resp, const char *content_type)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = resp;
	r->status = status;
	if (!resp) { /* out of memory: the caller's reply is lost, say so */
		r->status = 500;
		return;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

int http_reply_static(struct http_req *r, unsigned status, const char *content_type, const void *data, size_t len)
{
	reply_set(r, status, MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT), content_type);
	return 0;
}

int http_reply_owned(struct http_req *r, unsigned status, const char *content_type, char *data, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, data, free);
	if (!resp)
		free(data);
	reply_set(r, status, resp, content_type);
	return 0;
}

int http_reply_file(struct http_req *r, int fd, uint64_t size, const char *content_type, const char *etag)
{
	const char *inm = http_header(r, "If-None-Match");
	if (etag && inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0)) {
		close(fd);
		http_reply_empty(r, 304);
		http_reply_header(r, "ETag", etag);
		return 0;
	}
	uint64_t from = 0, to = size ? size - 1 : 0;
	const char *range = http_header(r, "Range");
	const char *if_range = http_header(r, "If-Range");
	int rr = (if_range && etag && strcmp(if_range, etag) != 0) ? 0 : range_parse(range, size, &from, &to);
	if (rr < 0) {
		close(fd);
		http_reply_error(r, 416, "range_not_satisfiable", "the range starts after the end of the %llu bytes",
		                 (unsigned long long)size);
		char cr[64];
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
		http_reply_header(r, "Content-Range", cr);
		return 0;
	}
	uint64_t len = size ? to - from + 1 : 0;
	struct MHD_Response *resp = size ? MHD_create_response_from_fd_at_offset64(len, fd, from)
	                                 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!size || !resp)
		close(fd);
	reply_set(r, rr == 1 ? 206 : 200, resp, content_type);
	if (!resp)
		return 0;
	r->resp_len = len;
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (etag)
		MHD_add_response_header(resp, "ETag", etag);
	if (rr == 1) {
		char cr[96];
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)to,
		         (unsigned long long)size);
		MHD_add_response_header(resp, "Content-Range", cr);
	}
	return 0;
}

int http_reply_empty(struct http_req *r, unsigned status)
{
	reply_set(r, status, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT), NULL);
	return 0;
}

int http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		http_reply_static(r, 500, "application/json", oom_json, sizeof oom_json - 1);
		return 0;
	}
	http_reply_owned(r, status, "application/json", text, strlen(text));
	return 0;
}

__attribute__((format(printf, 5, 0))) static void reply_error_v(struct http_req *r, unsigned status, const char *code,
                                                                json_t *extra, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* messages quote what the client sent (a path, a field) and may be cut
	 * inside a character: JSON needs valid UTF-8, so each byte that does
	 * not start a valid sequence becomes '?' */
	for (unsigned char *p = (unsigned char *)msg; *p;) {
		int n = utf8_sequence(p);
		if (n < 0)
			*p++ = '?';
		else
			p += n;
	}
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && extra)
		json_object_update(err, extra);
	json_decref(extra);
	http_reply_json(r, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

int http_reply_error(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, NULL, fmt, ap);
	va_end(ap);
	return 0;
}

int http_reply_error_extra(struct http_req *r, unsigned status, const char *code, json_t *extra, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, extra, fmt, ap);
	va_end(ap);
	return 0;
}

int http_refuse(struct http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_v(r, status, code, NULL, fmt, ap);
	va_end(ap);
	http_reply_header(r, "Connection", "close");
	return 0;
}

int http_reply_header(struct http_req *r, const char *name, const char *value)
{
	if (r->resp)
		MHD_add_response_header(r->resp, name, value);
	return 0;
}

void reply_missing(struct http_req *r)
{
	if (!r->resp)
		http_reply_error(r, 500, "internal", "the request produced no response");
}

static void add_common_headers(struct http_req *r)
{
	struct MHD_Response *resp = r->resp;
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (!MHD_get_response_header(resp, "Cache-Control"))
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->tls)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

enum MHD_Result reply_queue(struct http_req *r)
{
	if (!r->resp) {
		r->resp =
		    MHD_create_response_from_buffer(sizeof oom_json - 1, (void *)oom_json, MHD_RESPMEM_PERSISTENT);
		r->status = 500;
		if (!r->resp)
			return MHD_NO;
	}
	add_common_headers(r);
	r->phase = PHASE_QUEUED;
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}
