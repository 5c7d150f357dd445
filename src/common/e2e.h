/*
 * The end-to-end layer of a remote-control tunnel (docs/PROTOCOL.md,
 * "Remote control: the end-to-end tunnel"): an authenticated key exchange
 * between a guest (CLI or browser) and a host (vitrine-player) over the byte
 * pipe the relay forwards, then crypto_secretstream_xchacha20poly1305 in
 * each direction with length-prefixed frames. Pure state machine, no
 * networking, no allocation: the caller feeds the bytes it received (in any
 * fragments) and sends the bytes it is given. Every failure is sticky, wipes
 * the keys and maps to one fixed code string (e2e_status_code).
 */
#ifndef VITRINE_E2E_H
#define VITRINE_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define E2E_SESSION_ID_MAX 128 /* bytes of the session id (not empty) */
#define E2E_TICKET_HASH    32  /* BLAKE2b-256 of the ticket text, e2e_ticket_hash */
#define E2E_SESSION_SECRET 32  /* the server's per-session secret, given to guest and host only */
#define E2E_HOST_PK        32  /* Ed25519 public key */
#define E2E_HOST_SK        64  /* Ed25519 secret key (libsodium's seed || pk form) */
#define E2E_EPHEMERAL_SK   32  /* X25519 secret key, test-only injection */

#define E2E_MSG1_LEN      38           /* guest -> host: header(6) e_g(32) */
#define E2E_MSG2_LEN      134          /* host -> guest: header(6) e_h(32) host_pk(32) sig(64) */
#define E2E_MSG3_LEN      38           /* guest -> host: header(6) confirm(32) */
#define E2E_HANDSHAKE_OUT E2E_MSG2_LEN /* room e2e_handshake needs in out */

#define E2E_MAX_PLAINTEXT  16384                                              /* bytes of payload in one frame */
#define E2E_FRAME_OVERHEAD (2 + crypto_secretstream_xchacha20poly1305_ABYTES) /* length prefix + tag/MAC */
#define E2E_MAX_FRAME      (E2E_MAX_PLAINTEXT + E2E_FRAME_OVERHEAD)
#define E2E_REKEY_BYTES    (1u << 20) /* a sender rekeys once this much payload ... */
#define E2E_REKEY_FRAMES   1024u      /* ... or this many frames went out since the last rekey */

enum e2e_role {
	E2E_GUEST = 1,
	E2E_HOST = 2,
};

enum e2e_status {
	E2E_OK = 0,
	E2E_HOST_KEY_MISMATCH, /* "host_key_mismatch": the host is not the key the server handed out */
	E2E_FRAME_TAMPERED,    /* "frame_tampered": a frame failed authentication, was replayed,
	                          reordered, truncated in length, or came after the final frame */
	E2E_HANDSHAKE_INVALID, /* "handshake_invalid": malformed handshake message, bad signature or
	                          key confirmation (other session id or ticket), weak ephemeral key */
	E2E_STREAM_TRUNCATED,  /* "stream_truncated": the pipe ended before the peer's final frame */
	E2E_USAGE,             /* "e2e_usage": the caller's mistake (bad argument, wrong state, small
	                          buffer, sealing after the final frame); not sticky */
	E2E_INTERNAL,          /* "e2e_internal": libsodium could not start */
};

enum e2e_state {
	E2E_STATE_START = 0,
	E2E_STATE_WAIT_MSG1, /* host */
	E2E_STATE_WAIT_MSG2, /* guest, msg1 sent */
	E2E_STATE_WAIT_MSG3, /* host, msg2 sent */
	E2E_STATE_ESTABLISHED,
	E2E_STATE_FAILED,
};

/* Opaque in spirit: callers use only the functions below (and may read
 * rekeys_sent / rekeys_received for diagnostics). About 17 KiB. */
struct e2e {
	enum e2e_role role;
	enum e2e_state state;
	enum e2e_status error; /* sticky once FAILED */
	uint8_t session_id[E2E_SESSION_ID_MAX];
	size_t session_id_len;
	uint8_t ticket_hash[E2E_TICKET_HASH];
	uint8_t session_secret[E2E_SESSION_SECRET]; /* wiped once the keys are derived */
	uint8_t host_pk[E2E_HOST_PK];               /* guest: expected; host: own */
	uint8_t host_sk[E2E_HOST_SK];               /* host only */
	uint8_t eph_pk[crypto_scalarmult_BYTES];
	uint8_t eph_sk[crypto_scalarmult_SCALARBYTES];
	uint8_t msg1[E2E_MSG1_LEN];
	uint8_t expect_confirm[crypto_generichash_BYTES]; /* host, until msg3 */
	uint8_t hs_in[E2E_MSG2_LEN];                      /* the handshake message being received */
	size_t hs_in_len;
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	uint64_t tx_bytes_since_rekey;
	uint32_t tx_frames_since_rekey;
	uint64_t rekeys_sent, rekeys_received;
	bool tx_final, rx_final;
	uint8_t rx_frame[E2E_MAX_FRAME]; /* the frame being received */
	size_t rx_len;
};

/* The fixed code string of a status ("host_key_mismatch", ...). */
const char *e2e_status_code(int status);

/* ticket_hash input of e2e_init: BLAKE2b-256 (crypto_generichash, no key) of
 * the ticket text as the server issued it. */
void e2e_ticket_hash(const char *ticket, size_t len, uint8_t out[E2E_TICKET_HASH]);

/* Decodes host_public_key as the server hands it out (standard base64 with
 * padding, as the player registers it) into out. Returns E2E_OK, or
 * E2E_USAGE when b64 is not exactly 32 bytes in that form. */
int e2e_host_pk_from_base64(const char *b64, uint8_t out[E2E_HOST_PK]);

/* Starts a session with a fresh ephemeral key. host_key is the host's
 * Ed25519 secret key (E2E_HOST_SK bytes) for E2E_HOST, and the expected
 * host public key (E2E_HOST_PK bytes, from host_public_key) for E2E_GUEST.
 * session_id is the server's session id (1..E2E_SESSION_ID_MAX bytes);
 * ticket_hash is e2e_ticket_hash of the guest's ticket; session_secret is
 * the secret the server gave this session's guest and host only (the relay,
 * which sees the tickets, never has it: without it nobody can play the
 * guest). Returns E2E_OK, E2E_USAGE or E2E_INTERNAL. */
int e2e_init(struct e2e *e, enum e2e_role role, const char *session_id, const uint8_t ticket_hash[E2E_TICKET_HASH],
             const uint8_t session_secret[E2E_SESSION_SECRET], const uint8_t *host_key);

/* TEST ONLY (test vectors, fuzzing): e2e_init with the ephemeral X25519
 * secret key given instead of drawn at random. Never call it in a product:
 * a repeated ephemeral key repeats the session keys. */
int e2e_init_with_ephemeral_for_tests(struct e2e *e, enum e2e_role role, const char *session_id,
                                      const uint8_t ticket_hash[E2E_TICKET_HASH],
                                      const uint8_t session_secret[E2E_SESSION_SECRET], const uint8_t *host_key,
                                      const uint8_t ephemeral_sk[E2E_EPHEMERAL_SK]);

/* Drives the handshake. Consumes at most the rest of the handshake message
 * expected from in (*consumed tells how much; bytes after the handshake are
 * frames for e2e_open) and writes at most one handshake message to out
 * (*out_len, 0 when nothing is to be sent; out_cap >= E2E_HANDSHAKE_OUT).
 * The guest's first call (with in_len 0) yields msg1. Call it while
 * !e2e_established() and input arrives; the guest may seal right after
 * sending msg3, the host once msg3 was accepted. */
int e2e_handshake(struct e2e *e, const uint8_t *in, size_t in_len, size_t *consumed, uint8_t *out, size_t out_cap,
                  size_t *out_len);

/* True once this side may seal and open frames. */
bool e2e_established(const struct e2e *e);

/* Seals len (<= E2E_MAX_PLAINTEXT, may be 0) bytes into one frame in out
 * (out_cap >= len + E2E_FRAME_OVERHEAD; *out_len = len + E2E_FRAME_OVERHEAD).
 * final marks the last frame of this direction; sealing after it is
 * E2E_USAGE. Rekeying follows E2E_REKEY_BYTES / E2E_REKEY_FRAMES by itself. */
int e2e_seal(struct e2e *e, const uint8_t *msg, size_t len, bool final, uint8_t *out, size_t out_cap, size_t *out_len);

/* Reads frames: consumes bytes from in until one frame is complete (then
 * its payload goes to out, out_cap >= E2E_MAX_PLAINTEXT, *out_len may be 0
 * for an empty frame) or in is used up (*out_len 0, *frame_done false).
 * Call again with in + *consumed while bytes remain. *frame_done tells a
 * frame was opened; e2e_peer_finished() tells it was the final one. */
int e2e_open(struct e2e *e, const uint8_t *in, size_t in_len, size_t *consumed, uint8_t *out, size_t out_cap,
             size_t *out_len, bool *frame_done);

/* True once the peer's final frame was opened. */
bool e2e_peer_finished(const struct e2e *e);

/* The pipe ended: E2E_OK if the peer's final frame came, else
 * E2E_STREAM_TRUNCATED (made sticky). */
int e2e_end_of_input(struct e2e *e);

/* Wipes every key and buffer (sodium_memzero); call when done. */
void e2e_wipe(struct e2e *e);

#endif
