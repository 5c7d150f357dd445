/*
 * Remote-control tickets: the short-lived permission the server signs for
 * each side of one remote session (a guest -- the support user's viewer --
 * and a host -- the screen), and the relay verifies offline with the
 * server's Ed25519 public key before it pairs the two sides.
 *
 * Text form (one line, URL-safe, at most TICKET_TEXT_MAX bytes):
 *   "vt1." base64url(payload) "." base64url(signature)
 * payload: compact JSON {"sid","role","relay","exp","screen","user","nonce"}
 *   sid, screen, user: ids; role: "guest" or "host"; relay: the relay's
 *   host:port the ticket is for; exp: Unix seconds; nonce: 16 random bytes
 *   in base64url. signature: Ed25519 over "vitrine-ticket-v1" NUL payload.
 * A ticket lives at most TICKET_LIFETIME_MAX seconds. Single use is the
 * relay's part (it remembers what it has seen until it expires).
 */
#ifndef VITRINE_TICKET_H
#define VITRINE_TICKET_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "codes.h"

#define TICKET_TEXT_MAX     1024
#define TICKET_LIFETIME_MAX 60 /* seconds */
#define TICKET_RELAY_MAX    256
#define TICKET_NONCE_BYTES  16

enum ticket_role { TICKET_GUEST, TICKET_HOST };

struct ticket {
	char session_id[CODES_ID_LEN + 1];
	enum ticket_role role;
	char relay[TICKET_RELAY_MAX];
	int64_t expires_at;
	char screen_id[CODES_ID_LEN + 1];
	char user_id[CODES_ID_LEN + 1];
	unsigned char nonce[TICKET_NONCE_BYTES];
};

enum ticket_result {
	TICKET_OK = 0,
	TICKET_INVALID, /* malformed, bad signature, or a lifetime over the maximum */
	TICKET_EXPIRED,
};

/* Writes the signed text of t into out (NUL-terminated). A zero nonce is
 * filled with random bytes first. Returns 0, or -1 when t is not valid (an
 * id of the wrong length, an empty relay) or out is too small. */
int ticket_sign(struct ticket *t, const unsigned char sk[crypto_sign_SECRETKEYBYTES], char *out, size_t outsz);

/* Checks text (len bytes, not necessarily NUL-terminated) against the
 * server's public key at time now; on TICKET_OK fills *out. */
enum ticket_result ticket_verify(const char *text, size_t len, const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                                 int64_t now, struct ticket *out);

/* The fixed error code of a result: "ticket_invalid", "ticket_expired"
 * (docs/PROTOCOL.md); "" for TICKET_OK. */
const char *ticket_result_code(enum ticket_result r);

const char *ticket_role_name(enum ticket_role role);

#endif
