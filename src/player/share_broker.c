/* The brokered share code of the display; see share_broker.h. */
#include "share_broker.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "share/receiver.h"
#include "transport.h"

#define RENEW_MS   (6 * 3600 * 1000LL) /* the server keeps a code 24 h */
#define REFUSED_MS (10 * 60 * 1000LL)  /* after a 4xx: the server's answer will not change soon */

struct share_broker {
	struct transport *t;
	struct share_receiver *r;
	struct transport_call call;
	int timer;
	char address[INET_ADDRSTRLEN];
	uint16_t port;
};

static void answered(struct transport_call *c, long status)
{
	struct share_broker *b = c->owner;
	json_t *j = transport_call_json(c);
	const char *code = json_string_value(json_object_get(j, "code"));
	int rc = status == 200 && code ? share_receiver_set_code(b->r, code) : -1;
	if (rc == 1) {
		printf("SHARE CODE: %s\n", code);
		fflush(stdout);
		log_event(LOG_INFO, "share: the server gave this display its share code", "code", code, NULL);
	} else if (rc < 0) {
		log_event(LOG_WARN, "share: the server gave no share code", "detail",
		          json_string_value(json_object_get(json_object_get(j, "error"), "message")), NULL);
	}
	json_decref(j);
	timers_set(transport_timers(b->t), b->timer, transport_mono_ms() + (rc >= 0 ? RENEW_MS : REFUSED_MS));
}

static void failed(struct transport_call *c, const struct transport_failure *f)
{
	struct share_broker *b = c->owner;
	timers_set(transport_timers(b->t), b->timer, transport_mono_ms() + f->retry_ms);
}

static const struct transport_call_ops ops = {.answered = answered, .failed = failed};

static int64_t tick(void *arg, int64_t now)
{
	(void)now;
	struct share_broker *b = arg;
	if (!transport_paired(b->t))
		return TIMER_PARK; /* share_broker_paired sets it */
	if (b->call.busy)
		return 1000;
	json_t *body = json_pack("{s:s, s:i}", "address", b->address, "port", (int)b->port);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct transport_request req = {.what = "share code",
	                                .method = "POST",
	                                .path = "/api/v1/device/share-code",
	                                .body = text,
	                                .body_len = text ? strlen(text) : 0,
	                                .content_type = "application/json",
	                                .timeout_s = 60,
	                                .with_token = true};
	if (!text || transport_start(b->t, &b->call, &req) != 0)
		log_event(LOG_ERROR, "cannot start a request", "what", "share code", NULL);
	free(text);
	return TIMER_PARK; /* answered or failed sets it */
}

struct share_broker *share_broker_create(struct transport *t, struct share_receiver *r)
{
	char address[INET_ADDRSTRLEN];
	uint16_t port;
	if (!r || !share_receiver_brokered(r, address, &port))
		return NULL;
	struct share_broker *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->t = t;
	b->r = r;
	memcpy(b->address, address, sizeof address);
	b->port = port;
	b->call.ops = &ops;
	b->call.owner = b;
	b->timer = timers_add(transport_timers(t), TIMER_NEVER, tick, b);
	log_event(LOG_INFO, "share: this display's address is not private; the server will give its share code",
	          "address", address, NULL);
	return b;
}

void share_broker_paired(struct share_broker *b)
{
	if (b)
		timers_set(transport_timers(b->t), b->timer, transport_mono_ms());
}

void share_broker_destroy(struct share_broker *b)
{
	if (!b)
		return;
	if (b->call.t)
		transport_call_free(&b->call);
	timers_del(transport_timers(b->t), b->timer);
	free(b);
}
