/*
 * Server-Sent Events: a stream is an MHD callback response whose reader
 * pulls events from the store (through the transaction hooks) whenever the
 * wake hub says its key changed, sends a keep-alive comment every 15 s, and
 * ends when the pull says so or the server stops.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/strfmt.h"
#include "internal.h"

#define SSE_KEEPALIVE_MS 15000
#define SSE_MAX_BUFFER   (1u << 20)

struct sse_stream {
	struct server *srv;
	struct MHD_Connection *conn;
	char key[WAKE_KEY_LEN];
	int (*pull)(void *state, struct db *db, struct sse_out *out);
	void *state;
	void (*free_state)(void *state);
	struct sse_out out;
	size_t sent;
	bool ending;
	struct wake_waiter waiter;
};

int sse_append(struct sse_out *out, const char *event, const char *id, const char *data)
{
	/* data must not contain newlines: callers send compact JSON */
	if (strchr(data, '\n') || buf_printf(&out->buf, "%s%s%sevent: %s\ndata: %s\n\n", id ? "id: " : "", id ? id : "",
	                                     id ? "\n" : "", event, data) != BUF_OK)
		return -1;
	out->len = buf_len(&out->buf);
	return 0;
}

int sse_append_json(struct sse_out *out, const char *event, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	int rc = text ? sse_append(out, event, NULL, text) : -1;
	free(text);
	return rc;
}

static ssize_t sse_copy(struct sse_stream *s, char *buf, size_t max)
{
	size_t n = s->out.len - s->sent;
	if (n > max)
		n = max;
	memcpy(buf, buf_str(&s->out.buf) + s->sent, n);
	s->sent += n;
	if (s->sent == s->out.len) {
		buf_reset(&s->out.buf);
		s->sent = s->out.len = 0;
	}
	return (ssize_t)n;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct sse_stream *s = cls;
	if (s->out.len > s->sent)
		return sse_copy(s, buf, max);
	if (s->ending)
		return MHD_CONTENT_READER_END_OF_STREAM;
	const struct server_hooks *h = &s->srv->hooks;
	for (int spins = 0; spins < 100; spins++) {
		if (s->waiter.state == WAITER_WOKEN) {
			enum wake_reason why = s->waiter.reason;
			s->waiter.state = WAITER_IDLE;
			if (why == WAKE_SHUTDOWN) {
				/* the server is stopping: reconnect later, not at once */
				static const char later[] = "retry: " HTTP_RETRY_AFTER_S "000\n\n";
				s->ending = true;
				if (max < sizeof later - 1)
					return MHD_CONTENT_READER_END_OF_STREAM;
				memcpy(buf, later, sizeof later - 1);
				return (ssize_t)(sizeof later - 1);
			}
			if (why == WAKE_TIMEOUT) {
				static const char ka[] = ": keep-alive\n\n";
				if (max < sizeof ka - 1)
					return 0;
				memcpy(buf, ka, sizeof ka - 1);
				return (ssize_t)(sizeof ka - 1);
			}
		}
		wake_register(s->srv->hub, &s->waiter, s->conn, s->key, SSE_KEEPALIVE_MS);
		struct db *db = h->tx_begin(false);
		int rc = -1;
		if (db) {
			rc = s->pull(s->state, db, &s->out);
			h->tx_end(db, false); /* read only */
		}
		if (rc < 0) {
			wake_cancel(s->srv->hub, &s->waiter);
			s->ending = true;
			return s->out.len > s->sent ? sse_copy(s, buf, max) : MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (s->out.len > s->sent) {
			wake_cancel(s->srv->hub, &s->waiter);
			return sse_copy(s, buf, max);
		}
		if (wake_suspend(s->srv->hub, &s->waiter))
			return 0;
	}
	return 0;
}

static void sse_free(void *cls)
{
	struct sse_stream *s = cls;
	wake_cancel(s->srv->hub, &s->waiter);
	if (s->free_state)
		s->free_state(s->state);
	buf_free(&s->out.buf);
	free(s);
}

int http_stream(struct http_req *r, const char *key, int (*pull)(void *state, struct db *db, struct sse_out *out),
                void *state, void (*free_state)(void *state))
{
	struct sse_stream *s = calloc(1, sizeof *s);
	if (!s || strfmt(s->key, sizeof s->key, "%s", key) != 0) {
		if (free_state)
			free_state(state);
		if (s)
			http_reply_error(r, 500, "internal", "the stream's wake-up key does not fit");
		else
			http_reply_error(r, 503, "unavailable", "out of memory");
		free(s);
		return 0;
	}
	s->srv = r->srv;
	s->conn = r->conn;
	s->pull = pull;
	s->state = state;
	s->free_state = free_state;
	/* the first bytes tell the browser how long to wait before reconnecting */
	buf_init(&s->out.buf, SSE_MAX_BUFFER);
	if (buf_addstr(&s->out.buf, "retry: 3000\n\n") == BUF_OK)
		s->out.len = buf_len(&s->out.buf);
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_reader, s, sse_free);
	if (!resp) {
		sse_free(s);
		http_reply_error(r, 503, "unavailable", "out of memory");
		return 0;
	}
	reply_set(r, 200, resp, "text/event-stream");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return 0;
}
