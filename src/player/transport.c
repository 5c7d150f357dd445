/* The player's transport; see transport.h. */
#include "transport.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/strfmt.h"
#include "state.h"

#define MAX_RESPONSE      (1u << 20)
#define BACKOFF_MAX_MS    60000
#define RETRY_AFTER_MAX_S 3600 /* a longer hint is taken as an hour */
#define LOOP_MAX_SLEEP_MS 1000 /* a signal is noticed within a second */

struct transport {
	const struct player_config *cfg;
	struct player_state *st;
	struct transport_events ev;
	void *ev_arg;
	CURLM *multi;
	struct timers timers;
	unsigned failures;
	bool online;
	char last_error[256];
	int64_t started_ms, clock_offset_ms;
	int64_t quiet_until_ms;         /* the server asked for quiet until then */
	struct transport_call *waiting; /* calls held back meanwhile */
};

int64_t transport_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t transport_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t transport_backoff_ms(unsigned failures)
{
	int64_t base = 1000;
	for (unsigned i = 0; i < failures && base < BACKOFF_MAX_MS; i++)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	/* full jitter in [base/2, base): a fleet that lost its server does not
	 * come back in lock step */
	return base / 2 + (int64_t)randombytes_uniform((uint32_t)(base / 2));
}

void transport_curl_defaults(CURL *easy, const struct player_config *cfg)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file && *cfg->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
	char agent[64];
	snprintf(agent, sizeof agent, "vitrine-player/%s", cfg->version);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, agent); /* libcurl copies it */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
}

struct transport *transport_create(const struct player_config *cfg, struct player_state *st,
                                   const struct transport_events *ev, void *ev_arg)
{
	struct transport *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->multi = curl_multi_init();
	if (!t->multi) {
		free(t);
		return NULL;
	}
	t->cfg = cfg;
	t->st = st;
	t->ev = *ev;
	t->ev_arg = ev_arg;
	t->started_ms = transport_mono_ms();
	return t;
}

void transport_destroy(struct transport *t)
{
	if (!t)
		return;
	curl_multi_cleanup(t->multi);
	free(t);
}

struct timers *transport_timers(struct transport *t)
{
	return &t->timers;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
	struct transport_call *c = userdata;
	size_t len = size * n;
	if (c->sink)
		return c->sink(c, ptr, len);
	return buf_add(&c->resp, ptr, len) == BUF_OK ? len : 0; /* 0 makes curl fail the transfer */
}

static int add_header(struct transport_call *c, const char *line)
{
	struct curl_slist *h = curl_slist_append(c->headers, line);
	if (!h)
		return -1;
	c->headers = h;
	return 0;
}

static void unlink_waiting(struct transport_call *c)
{
	if (!c->waiting)
		return;
	for (struct transport_call **p = &c->t->waiting; *p; p = &(*p)->next_waiting)
		if (*p == c) {
			*p = c->next_waiting;
			break;
		}
	c->waiting = false;
	c->next_waiting = NULL;
}

int transport_start(struct transport *t, struct transport_call *c, const struct transport_request *req)
{
	char url[2048];
	if (strfmt(url, sizeof url, "%s%s", t->cfg->server, req->path) != 0 || c->busy)
		return -1;
	if (!c->easy && !(c->easy = curl_easy_init()))
		return -1;
	c->t = t;
	c->local_errno = 0;
	c->sink = req->sink;
	c->what = req->what;
	c->with_token = req->with_token;
	curl_easy_reset(c->easy);
	transport_curl_defaults(c->easy, t->cfg);
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, req->timeout_s);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	if (req->low_speed_time_s) {
		curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME, req->low_speed_time_s);
	}
	if (req->max_recv_speed)
		curl_easy_setopt(c->easy, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)req->max_recv_speed);
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	if (req->with_token) {
		char auth[256];
		int rc =
		    strfmt(auth, sizeof auth, "Authorization: Bearer %s", t->st->token) == 0 ? add_header(c, auth) : -1;
		sodium_memzero(auth, sizeof auth);
		if (rc != 0)
			return -1;
	}
	free(c->body);
	c->body = NULL;
	if (req->body) {
		char ct[128];
		if (strfmt(ct, sizeof ct, "Content-Type: %s", req->content_type) != 0 || add_header(c, ct) != 0 ||
		    !(c->body = malloc(req->body_len ? req->body_len : 1)))
			return -1;
		memcpy(c->body, req->body, req->body_len);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	}
	for (size_t i = 0; i < sizeof req->headers / sizeof req->headers[0] && req->headers[i]; i++)
		if (add_header(c, req->headers[i]) != 0)
			return -1;
	if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	buf_free(&c->resp);
	buf_init(&c->resp, MAX_RESPONSE);
	c->busy = true;
	if (transport_mono_ms() < t->quiet_until_ms) { /* sent when the server's hint has passed */
		c->waiting = true;
		c->next_waiting = t->waiting;
		t->waiting = c;
		return 0;
	}
	c->sent_wall_ms = transport_wall_ms();
	if (curl_multi_add_handle(t->multi, c->easy) != CURLM_OK) {
		c->busy = false;
		return -1;
	}
	return 0;
}

void transport_call_free(struct transport_call *c)
{
	if (c->easy) {
		if (c->waiting)
			unlink_waiting(c);
		else if (c->busy)
			curl_multi_remove_handle(c->t->multi, c->easy);
		curl_easy_cleanup(c->easy);
	}
	curl_slist_free_all(c->headers);
	buf_free(&c->resp);
	free(c->body);
	const struct transport_call_ops *ops = c->ops;
	void *owner = c->owner;
	memset(c, 0, sizeof *c);
	c->ops = ops;
	c->owner = owner;
}

json_t *transport_call_json(struct transport_call *c)
{
	json_error_t e;
	return buf_len(&c->resp) ? json_loadb(buf_str(&c->resp), buf_len(&c->resp), 0, &e) : NULL;
}

long transport_call_status(struct transport_call *c)
{
	long status = 0;
	if (c->easy)
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

const char *transport_call_header(struct transport_call *c, const char *name)
{
	struct curl_header *h = NULL;
	if (!c->easy || curl_easy_header(c->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return NULL;
	return h->value;
}

void transport_call_wipe(struct transport_call *c)
{
	if (buf_ptr(&c->resp))
		sodium_memzero(buf_ptr(&c->resp), buf_len(&c->resp));
}

static void note_error(struct transport *t, const char *what, const char *detail)
{
	snprintf(t->last_error, sizeof t->last_error, "%s: %s", what, detail);
	t->failures++;
	if (t->online || t->failures == 1)
		log_event(LOG_WARN, "server unreachable, backing off", "detail", t->last_error, NULL);
	t->online = false;
	if (t->ev.connectivity)
		t->ev.connectivity(t->ev_arg, false, t->last_error);
}

int64_t transport_note_failure(struct transport *t, const char *what, long status)
{
	char detail[32];
	snprintf(detail, sizeof detail, "HTTP %ld", status);
	note_error(t, what, detail);
	return transport_backoff_ms(t->failures);
}

void transport_note_success(struct transport *t)
{
	t->failures = 0;
	bool paired = transport_paired(t);
	if (!t->online && paired) {
		log_event(LOG_INFO, "connected to the server", "server", t->cfg->server, NULL);
		if (t->ev.connectivity)
			t->ev.connectivity(t->ev_arg, true, "");
	}
	t->online = paired;
}

const char *transport_last_error(const struct transport *t)
{
	return t->last_error;
}

bool transport_online(const struct transport *t)
{
	return t->online;
}

bool transport_paired(const struct transport *t)
{
	return t->st->token[0] != '\0';
}

int transport_save_token(struct transport *t, const char *token, const char *device_id)
{
	if (state_save_token(t->st, token, device_id) != 0)
		return -1;
	t->failures = 0;
	t->online = true;
	return 0;
}

void transport_forget_token(struct transport *t)
{
	if (!transport_paired(t))
		return; /* several calls may learn it at once: tell the owner once */
	log_event(LOG_WARN, "the server revoked this screen's token; pairing again", NULL);
	state_forget_token(t->st);
	t->online = false;
	if (t->ev.token_revoked)
		t->ev.token_revoked(t->ev_arg);
}

void transport_note_server_time(struct transport *t, const struct transport_call *c, int64_t server_ms)
{
	t->clock_offset_ms = server_ms - (c->sent_wall_ms + transport_wall_ms()) / 2;
}

int64_t transport_clock_offset_ms(const struct transport *t)
{
	return t->clock_offset_ms;
}

int64_t transport_uptime_ms(const struct transport *t)
{
	return transport_mono_ms() - t->started_ms;
}

/* A 503 (or 429) with Retry-After: no call leaves before the hint has
 * passed, plus up to half of it again as jitter. */
static void note_retry_after(struct transport *t, struct transport_call *c, long status)
{
	curl_off_t after = 0;
	if ((status != 503 && status != 429) || curl_easy_getinfo(c->easy, CURLINFO_RETRY_AFTER, &after) != CURLE_OK ||
	    after <= 0)
		return;
	if (after > RETRY_AFTER_MAX_S)
		after = RETRY_AFTER_MAX_S;
	int64_t hint_ms = (int64_t)after * 1000;
	int64_t until = transport_mono_ms() + hint_ms + (int64_t)randombytes_uniform((uint32_t)(hint_ms / 2 + 1));
	if (until > t->quiet_until_ms) {
		t->quiet_until_ms = until;
		char s[24];
		snprintf(s, sizeof s, "%lld", (long long)after);
		log_event(LOG_INFO, "the server asked for quiet; waiting", "retry_after_s", s, NULL);
	}
}

static void finish(struct transport *t, struct transport_call *c, CURLcode rc, long status)
{
	const struct transport_call_ops *ops = c->ops;
	if (rc == CURLE_OK && status == 401 && c->with_token) {
		transport_forget_token(t);
		if (ops->unauthorized)
			ops->unauthorized(c);
		return;
	}
	if (rc == CURLE_WRITE_ERROR && c->local_errno) {
		struct transport_failure f = {.local = true,
		                              .status = status,
		                              .retry_ms = transport_backoff_ms(1),
		                              .detail = strerror(c->local_errno)};
		ops->failed(c, &f);
		return;
	}
	if (rc != CURLE_OK || status >= 500) {
		char detail[160];
		if (rc != CURLE_OK)
			snprintf(detail, sizeof detail, "%s", curl_easy_strerror(rc));
		else
			snprintf(detail, sizeof detail, "HTTP %ld", status);
		note_retry_after(t, c, rc == CURLE_OK ? status : 0);
		note_error(t, c->what, detail);
		int64_t retry = transport_backoff_ms(t->failures), quiet = t->quiet_until_ms - transport_mono_ms();
		struct transport_failure f = {
		    .status = rc == CURLE_OK ? status : 0, .retry_ms = quiet > retry ? quiet : retry, .detail = detail};
		ops->failed(c, &f);
		return;
	}
	ops->answered(c, status);
}

/* Sends the calls held back while the server asked for quiet. */
static void release_waiting(struct transport *t)
{
	if (!t->waiting || transport_mono_ms() < t->quiet_until_ms)
		return;
	struct transport_call *c = t->waiting;
	t->waiting = NULL;
	while (c) {
		struct transport_call *next = c->next_waiting;
		c->waiting = false;
		c->next_waiting = NULL;
		c->sent_wall_ms = transport_wall_ms();
		if (curl_multi_add_handle(t->multi, c->easy) != CURLM_OK) {
			c->busy = false;
			struct transport_failure f = {.retry_ms = transport_backoff_ms(t->failures + 1),
			                              .detail = "cannot start the request"};
			c->ops->failed(c, &f);
		}
		c = next;
	}
}

int transport_run(struct transport *t, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		timers_run_due(&t->timers, transport_mono_ms());
		release_waiting(t);
		int still = 0;
		curl_multi_perform(t->multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(t->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct transport_call *c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(t->multi, msg->easy_handle);
			c->busy = false;
			finish(t, c, rc, status);
		}
		timers_run_due(&t->timers, transport_mono_ms());
		int64_t now = transport_mono_ms(), wake = timers_next_due(&t->timers);
		if (t->waiting && t->quiet_until_ms < wake)
			wake = t->quiet_until_ms;
		int64_t sleep_ms = wake <= now ? 0 : wake - now;
		if (sleep_ms > LOOP_MAX_SLEEP_MS)
			sleep_ms = LOOP_MAX_SLEEP_MS;
		int numfds;
		curl_multi_poll(t->multi, NULL, 0, (int)sleep_ms, &numfds);
	}
	return 0;
}
