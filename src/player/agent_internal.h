/*
 * What the parts of the player agent share (agent.c: the loop, pairing,
 * instructions, heartbeats; sync.c: content). Not a public interface.
 */
#ifndef VITRINE_PLAYER_AGENT_INTERNAL_H
#define VITRINE_PLAYER_AGENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent.h"
#include "common/codes.h"

#define PLAYER_VERSION "0.1.0"

struct sync;
struct call;
struct agent;
typedef void (*call_done)(struct agent *a, struct call *c, CURLcode rc, long status);

struct call {
	CURL *easy;
	struct curl_slist *headers;
	char *resp;
	size_t resp_len;
	char *body;
	size_t body_len;
	bool busy;
	call_done done;
	int64_t sent_wall_ms;
	char ack_id[CODES_ID_LEN + 1];
	FILE *out; /* when set, the response body goes to this file */
	void *owner;
};

enum phase { UNPAIRED, PAIRING, PAIRED };

struct agent {
	const struct player_config *cfg;
	struct player_state *st;
	struct kiosk *kiosk;
	CURLM *multi;
	struct call pair, poll, beat, work, played;
	json_t *plays; /* proof of play not yet delivered */
	int64_t next_played_ms;
	enum phase phase;
	char device_code[128];
	int64_t interval_ms, pair_expires_ms, next_pair_ms, next_token_ms, next_poll_ms, next_beat_ms, next_work_ms;
	unsigned failures;
	int64_t started_ms, clock_offset_ms;
	char last_error[256];
	bool online;
	/* a captured screenshot waiting to be uploaded */
	char *shot;
	size_t shot_len;
	char shot_id[CODES_ID_LEN + 1];
	char then[16]; /* after the current ack: "reboot" or "restart" */
	struct sync *sync;
};

int64_t mono_ms(void);
int64_t wall_ms(void);
int64_t backoff_ms(unsigned failures);
/* Starts a request on slot c (body copied; NULL for GET). */
int call_start(struct agent *a, struct call *c, const char *method, const char *path, const void *body, size_t body_len,
               const char *content_type, long timeout_s, bool with_token, call_done done);
json_t *resp_json(struct call *c);
void free_call(struct agent *a, struct call *c);
void note_error(struct agent *a, const char *what, CURLcode rc, long status);
void note_success(struct agent *a);
void forget_token(struct agent *a);
void queue_ack(struct agent *a, const char *id, bool ok, json_t *result, const char *then);

/* sync.c: keeps the newest complete manifest and its objects in the data
 * folder and tells the kiosk page when it changes */
struct sync *sync_create(struct agent *a);
void sync_destroy(struct sync *s);
/* A manifest_changed instruction (id acknowledged once applied), or NULL
 * for "check now" (start-up, heartbeat saw a newer version). */
void sync_request(struct sync *s, const char *instruction_id);
void sync_note_version(struct sync *s, int64_t server_version);
void sync_schedule(struct sync *s);
int64_t sync_next_due(struct sync *s);
/* The name of the default channel of the active manifest, or NULL. */
const char *sync_now_playing(struct sync *s);
int64_t sync_cache_bytes(struct sync *s);

#endif
