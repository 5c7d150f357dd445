/*
 * The relay's link to the server (see link.h): libcurl multi on libuv.
 * Two kinds of transfer: a report (at most one in flight; a new one starts
 * LINK_REPORT_MS after the last, or shortly after a session event) and the
 * cuts long-poll (always one, re-armed at once after an answer, after
 * RETRY_MS after a failure). Answers are read into a bounded buffer.
 * Failures are logged once per change of state, never with the token.
 * Every report carries "boot", drawn when the process starts: the server
 * ends the sessions an earlier run of this relay left open (killed, or
 * crashed) when it sees a new one.
 */
#include "link.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS          2000
#define REFUSED_RETRY_MS  10000
#define SOON_MS           200
#define CUTS_WAIT_S       25
#define CUTS_TIMEOUT_MS   ((CUTS_WAIT_S + 15) * 1000)
#define REPORT_TIMEOUT_MS 15000
#define REPORT_EVENTS     500 /* events per report */
#define ANSWER_MAX        (1 << 20)

enum xfer_kind { XFER_REPORT, XFER_CUTS };

struct xfer {
	struct link *link;
	enum xfer_kind kind;
	CURL *easy;
	struct curl_slist *headers;
	char *answer;
	size_t answer_len;
	bool too_long;
	size_t events_sent;
	uint64_t bytes_at_send;
	struct xfer *prev, *next;
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct link *link;
	struct sock *prev, *next;
};

struct link {
	uv_loop_t *loop;
	struct relay *relay;
	CURLM *multi;
	uv_timer_t curl_timer, report_timer, cuts_timer;
	char *url_report, *url_cuts_base;
	char *auth_header;
	char *ca_file;
	struct relay_event *events; /* a ring */
	size_t ev_head, ev_len;
	uint64_t events_dropped;
	uint64_t bytes_reported; /* bytes counted by the last accepted report */
	int64_t cursor;
	char boot[33]; /* 16 random bytes in hex, this run's */
	bool report_in_flight, report_soon, finishing, stopping;
	struct sock *socks;
	int last_report_ok, last_cuts_ok; /* -1 unknown, 0 failing, 1 fine: for logging changes */
	struct xfer *xfers;
	int open_timers;
};

static void start_cuts(struct link *l);
static void on_report_timer(uv_timer_t *t);

/* --- curl <-> libuv --- */

static void check_done(struct link *l);

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *s = h->data;
	if (s->link->stopping)
		return;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running;
	curl_multi_socket_action(s->link->multi, s->fd, flags, &running);
	check_done(s->link);
}

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void sock_close(struct sock *s)
{
	struct link *l = s->link;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	struct link *l = userp;
	struct sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(l->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->fd = fd;
		s->link = l;
		if (uv_poll_init_socket(l->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->next = l->socks;
		if (l->socks)
			l->socks->prev = s;
		l->socks = s;
		curl_multi_assign(l->multi, fd, s);
	}
	int events = 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
	struct link *l = t->data;
	if (l->stopping)
		return;
	int running;
	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(l);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct link *l = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&l->curl_timer);
	else if (!l->stopping)
		uv_timer_start(&l->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t on_answer(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	if (x->answer_len + len > ANSWER_MAX) {
		x->too_long = true;
		return 0; /* ends the transfer */
	}
	char *grown = realloc(x->answer, x->answer_len + len + 1);
	if (!grown)
		return 0;
	memcpy(grown + x->answer_len, data, len);
	x->answer = grown;
	x->answer_len += len;
	x->answer[x->answer_len] = '\0';
	return len;
}

static void xfer_free(struct xfer *x)
{
	struct link *l = x->link;
	if (x->prev)
		x->prev->next = x->next;
	else
		l->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	curl_multi_remove_handle(l->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->answer);
	free(x);
}

/* body NULL: GET. The body is copied. */
static struct xfer *xfer_start(struct link *l, enum xfer_kind kind, const char *url, const char *body, long timeout_ms)
{
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->link = l;
	x->kind = kind;
	x->easy = curl_easy_init();
	x->headers = curl_slist_append(NULL, l->auth_header);
	if (body && x->headers)
		x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
	if (!x->easy || !x->headers) {
		if (x->easy)
			curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
		free(x);
		return NULL;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	if (l->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, l->ca_file);
	if (body)
		curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body);
	if (curl_multi_add_handle(l->multi, x->easy) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
		free(x);
		return NULL;
	}
	x->next = l->xfers;
	if (l->xfers)
		l->xfers->prev = x;
	l->xfers = x;
	return x;
}

static void log_change(int *state, bool ok, const char *what, long status, CURLcode cc)
{
	if (*state == (int)ok)
		return;
	*state = ok;
	if (ok)
		fprintf(stderr, "vitrine-relay: %s: the server answers\n", what);
	else if (status)
		fprintf(stderr, "vitrine-relay: %s: the server answered %ld%s\n", what, status,
		        status == 401 ? " (wrong --relay-id or token)" : "");
	else
		fprintf(stderr, "vitrine-relay: %s: %s (will retry)\n", what, curl_easy_strerror(cc));
}

/* --- reports --- */

static json_t *event_json(const struct relay_event *ev)
{
	json_t *j = json_pack("{s:s, s:s, s:I}", "session_id", ev->session_id, "event", ev->ended ? "ended" : "started",
	                      "at", (json_int_t)ev->at);
	if (j && ev->ended) {
		json_object_set_new(j, "bytes_guest_to_host", json_integer((json_int_t)ev->bytes_guest_to_host));
		json_object_set_new(j, "bytes_host_to_guest", json_integer((json_int_t)ev->bytes_host_to_guest));
		json_object_set_new(j, "reason", json_string(ev->reason ? ev->reason : "closed"));
	}
	return j;
}

static void start_report(struct link *l)
{
	if (l->report_in_flight || l->stopping)
		return;
	const struct relay_stats *st = relay_stats(l->relay);
	uint64_t bytes = st->bytes_guest_to_host + st->bytes_host_to_guest;
	size_t n = l->ev_len < REPORT_EVENTS ? l->ev_len : REPORT_EVENTS;
	json_t *events = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(events, event_json(&l->events[(l->ev_head + i) % LINK_EVENTS_MAX]));
	json_t *body = json_pack("{s:I, s:I, s:o, s:s}", "sessions", (json_int_t)st->sessions_active, "bytes",
	                         (json_int_t)(bytes - l->bytes_reported), "events", events, "boot", l->boot);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct xfer *x = text ? xfer_start(l, XFER_REPORT, l->url_report, text, REPORT_TIMEOUT_MS) : NULL;
	free(text);
	if (!x)
		return;
	x->events_sent = n;
	x->bytes_at_send = bytes;
	l->report_in_flight = true;
}

static void on_finish_deadline(uv_timer_t *t)
{
	link_stop(t->data);
}

static void report_done(struct link *l, struct xfer *x, long status, CURLcode cc)
{
	l->report_in_flight = false;
	bool ok = cc == CURLE_OK && status == 200;
	log_change(&l->last_report_ok, ok, "report", cc == CURLE_OK ? status : 0, cc);
	if (ok) {
		l->ev_head = (l->ev_head + x->events_sent) % LINK_EVENTS_MAX;
		l->ev_len -= x->events_sent;
		l->bytes_reported = x->bytes_at_send;
		if (l->finishing && l->ev_len) {
			start_report(l); /* the rest of the last events, within the grace */
			return;
		}
		if (l->ev_len && !l->stopping && !l->finishing) { /* more events waiting: the next report now */
			l->report_soon = true;
			uv_timer_start(&l->report_timer, on_report_timer, SOON_MS, LINK_REPORT_MS);
		}
	} else if (cc == CURLE_OK && status == 400 && x->events_sent) {
		/* the server refuses these events for good: say so and drop them */
		fprintf(stderr, "vitrine-relay: report: the server refused %zu events: %.200s\n", x->events_sent,
		        x->answer ? x->answer : "");
		l->ev_head = (l->ev_head + x->events_sent) % LINK_EVENTS_MAX;
		l->ev_len -= x->events_sent;
	}
	if (l->finishing) /* the last report: stop once out of curl's callbacks */
		uv_timer_start(&l->report_timer, on_finish_deadline, 0, 0);
}

static void on_report_timer(uv_timer_t *t)
{
	struct link *l = t->data;
	l->report_soon = false;
	start_report(l);
}

void link_on_event(void *arg, const struct relay_event *ev)
{
	struct link *l = arg;
	if (l->stopping)
		return;
	if (l->ev_len == LINK_EVENTS_MAX) {
		l->ev_head = (l->ev_head + 1) % LINK_EVENTS_MAX; /* the oldest goes */
		l->ev_len--;
		if (l->events_dropped++ == 0)
			fprintf(stderr, "vitrine-relay: more than %d session events unreported: dropping the oldest\n",
			        LINK_EVENTS_MAX);
	}
	l->events[(l->ev_head + l->ev_len) % LINK_EVENTS_MAX] = *ev;
	l->ev_len++;
	if (!l->report_in_flight && !l->report_soon &&
	    !l->finishing) { /* told soon, but not put off by a stream of events */
		l->report_soon = true;
		uv_timer_start(&l->report_timer, on_report_timer, SOON_MS, LINK_REPORT_MS);
	}
}

/* --- cuts --- */

static void on_cuts_timer(uv_timer_t *t)
{
	start_cuts(t->data);
}

static void start_cuts(struct link *l)
{
	if (l->stopping || l->finishing)
		return;
	char url[1200];
	snprintf(url, sizeof url, "%s?wait=%d&after=%" PRId64, l->url_cuts_base, CUTS_WAIT_S, l->cursor);
	if (!xfer_start(l, XFER_CUTS, url, NULL, CUTS_TIMEOUT_MS))
		uv_timer_start(&l->cuts_timer, on_cuts_timer, RETRY_MS, 0);
}

static void cuts_done(struct link *l, struct xfer *x, long status, CURLcode cc)
{
	bool ok = cc == CURLE_OK && status == 200;
	json_t *answer = ok && x->answer ? json_loads(x->answer, 0, NULL) : NULL;
	json_t *end = json_object_get(answer, "end"), *cursor = json_object_get(answer, "cursor");
	ok = ok && json_is_array(end);
	log_change(&l->last_cuts_ok, ok, "cuts", cc == CURLE_OK ? status : 0, cc);
	if (ok) {
		size_t i;
		json_t *sid;
		json_array_foreach (end, i, sid)
			if (json_is_string(sid))
				relay_cut(l->relay, json_string_value(sid));
		if (json_is_integer(cursor) && json_integer_value(cursor) > l->cursor)
			l->cursor = json_integer_value(cursor);
	}
	json_decref(answer);
	if (l->stopping || l->finishing)
		return;
	if (ok)
		start_cuts(l);
	else
		uv_timer_start(&l->cuts_timer, on_cuts_timer,
		               status == 401 || status == 404 ? REFUSED_RETRY_MS : RETRY_MS, 0);
}

static void check_done(struct link *l)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(l->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		long status = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		CURLcode cc = m->data.result;
		if (!x)
			continue;
		if (x->kind == XFER_REPORT)
			report_done(l, x, status, cc);
		else
			cuts_done(l, x, status, cc);
		xfer_free(x);
	}
}

/* --- start and stop --- */

static char *joined(const char *a, const char *b, const char *c, const char *d)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s%s", a, b, c, d);
	return s;
}

struct link *link_start(uv_loop_t *loop, struct relay *relay, const struct link_options *opt, char *err, size_t errsz)
{
	size_t ulen = strlen(opt->server_url);
	while (ulen && opt->server_url[ulen - 1] == '/')
		ulen--;
	if ((strncmp(opt->server_url, "http://", 7) != 0 && strncmp(opt->server_url, "https://", 8) != 0) ||
	    ulen > 512) {
		snprintf(err, errsz, "--server-url must be an http:// or https:// URL of at most 512 characters");
		return NULL;
	}
	if (!codes_is_id(opt->relay_id)) {
		snprintf(err, errsz, "--relay-id must be the relay's id (from POST /api/v1/relays)");
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errsz, "libcurl did not start");
		return NULL;
	}
	struct link *l = calloc(1, sizeof *l);
	char base[520];
	snprintf(base, sizeof base, "%.*s", (int)ulen, opt->server_url);
	if (l) {
		unsigned char boot[16];
		randombytes_buf(boot, sizeof boot);
		sodium_bin2hex(l->boot, sizeof l->boot, boot, sizeof boot);
		l->events = calloc(LINK_EVENTS_MAX, sizeof *l->events);
		l->url_report = joined(base, "/api/v1/relays/", opt->relay_id, "/report");
		l->url_cuts_base = joined(base, "/api/v1/relays/", opt->relay_id, "/cuts");
		l->auth_header = joined("Authorization: Bearer ", opt->token, "", "");
		l->ca_file = opt->ca_file ? joined(opt->ca_file, "", "", "") : NULL;
		l->multi = curl_multi_init();
	}
	if (!l || !l->events || !l->url_report || !l->url_cuts_base || !l->auth_header ||
	    (opt->ca_file && !l->ca_file) || !l->multi) {
		snprintf(err, errsz, "out of memory");
		if (l) {
			if (l->multi)
				curl_multi_cleanup(l->multi);
			free(l->events);
			free(l->url_report);
			free(l->url_cuts_base);
			free(l->auth_header);
			free(l->ca_file);
			free(l);
		}
		return NULL;
	}
	l->loop = loop;
	l->relay = relay;
	l->last_report_ok = l->last_cuts_ok = -1;
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	uv_timer_init(loop, &l->curl_timer);
	uv_timer_init(loop, &l->report_timer);
	uv_timer_init(loop, &l->cuts_timer);
	l->curl_timer.data = l->report_timer.data = l->cuts_timer.data = l;
	uv_timer_start(&l->report_timer, on_report_timer, 0, LINK_REPORT_MS);
	start_cuts(l);
	return l;
}

void link_finish(struct link *l, unsigned grace_ms)
{
	if (l->finishing || l->stopping)
		return;
	l->finishing = true;
	uv_timer_stop(&l->cuts_timer);
	for (struct xfer *x = l->xfers, *next; x; x = next) {
		next = x->next;
		if (x->kind == XFER_CUTS)
			xfer_free(x);
	}
	if (!l->ev_len && !l->report_in_flight) {
		link_stop(l);
		return;
	}
	if (!l->report_in_flight)
		start_report(l);
	uv_timer_start(&l->report_timer, on_finish_deadline, grace_ms, 0);
}

void link_stop(struct link *l)
{
	if (l->stopping)
		return;
	l->stopping = true;
	while (l->xfers)
		xfer_free(l->xfers);
	curl_multi_cleanup(l->multi); /* closes the connections it kept */
	l->multi = NULL;
	while (l->socks)
		sock_close(l->socks);
	uv_close((uv_handle_t *)&l->curl_timer, NULL);
	uv_close((uv_handle_t *)&l->report_timer, NULL);
	uv_close((uv_handle_t *)&l->cuts_timer, NULL);
}

void link_free(struct link *l)
{
	curl_global_cleanup();
	sodium_memzero(l->auth_header, strlen(l->auth_header));
	free(l->auth_header);
	free(l->events);
	free(l->url_report);
	free(l->url_cuts_base);
	free(l->ca_file);
	free(l);
}
