/*
 * The kiosk page server: a tiny libmicrohttpd server on 127.0.0.1 that
 * serves web/player/ (embedded) to the screen's kiosk browser, the page's
 * state as JSON, the pairing QR code as SVG, and a Server-Sent Events
 * stream that pushes every state change (pairing code, status, identify)
 * to the page at once. It listens on loopback only: nothing outside the
 * machine can reach it.
 */
#ifndef VITRINE_PLAYER_KIOSK_H
#define VITRINE_PLAYER_KIOSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiosk;

/* listen: "127.0.0.1:PORT" (PORT 0 picks one). NULL + err on failure. */
struct kiosk *kiosk_start(const char *listen, char *err, unsigned errsz);
uint16_t kiosk_port(struct kiosk *k);
void kiosk_stop(struct kiosk *k);

/* code NULL clears the pairing display. */
void kiosk_set_pairing(struct kiosk *k, const char *code, const char *uri);
void kiosk_set_status(struct kiosk *k, const char *status, const char *detail);
void kiosk_identify(struct kiosk *k, unsigned seconds);

/* Where the object cache is (set once at start). Objects are verified
 * (SHA-256) before they are served: a damaged one is deleted, logged, and
 * reported by kiosk_take_damaged(). */
void kiosk_set_objects_dir(struct kiosk *k, const char *objects_dir);
/* Was a damaged object found since the last call? */
bool kiosk_take_damaged(struct kiosk *k);
/* The server's clock minus ours: the page's clock ("now") follows the
 * server, so schedules switch on time even when the screen's clock is off. */
void kiosk_set_clock_offset(struct kiosk *k, int64_t offset_ms);
/* The active manifest (JSON text, copied; NULL for none), served from
 * memory; when its version changes the page reloads it. */
void kiosk_set_manifest(struct kiosk *k, const char *text, int64_t version);
/* Remote-control consent: the page shows "Allow remote control by GUEST?"
 * with Allow / Refuse and a countdown of timeout_s; a new prompt replaces
 * the one shown. The page posts the answer to /consent; the agent takes it
 * with kiosk_take_consent (true when an answer came: sid and *accepted
 * set). No answer before the countdown ends: the prompt goes, nothing is
 * taken. */
void kiosk_ask_consent(struct kiosk *k, const char *session_id, const char *guest, unsigned timeout_s);
bool kiosk_take_consent(struct kiosk *k, char *session_id, size_t sidsz, bool *accepted);
/* Is a prompt shown or an answer waiting? */
bool kiosk_consent_pending(struct kiosk *k);

/* The sync group whose clock GET /clock shows the page (set once at start,
 * before the group goes; NULL: none). */
struct group;
void kiosk_set_group(struct kiosk *k, struct group *g);

/* The share receiver whose code and key the page shows (GET /share), and
 * whose senders the operator stops or promotes (POST /share/stop,
 * /share/promote with {"slot": N}); NULL: none. Set NULL before stopping it. */
struct share_receiver;
void kiosk_set_share(struct kiosk *k, struct share_receiver *r);

/* The proof-of-play entries the page posted since the last call (a JSON
 * array the caller owns). */
struct json_t;
struct json_t *kiosk_take_plays(struct kiosk *k);

#endif
