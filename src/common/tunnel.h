/*
 * A remote-control tunnel: the end-to-end session of src/common/e2e.h run
 * over a relay_conn (src/common/relay_client.h), for the host
 * (vitrine-player) and the guest (`vitrine remote`). It runs the handshake,
 * seals what the caller writes into frames and opens what arrives, ends
 * with a final frame on a clean end, and reports every failure with one
 * fixed code (e2e_status_code's, or the relay's). Blocking with poll() and
 * deadlines; no threads inside; one tunnel is used by one thread.
 *
 * API shape as in the session brief ("Tunnel API"), refined: tunnel_open
 * takes ownership of the relay_conn (closed on failure too); read_some has
 * a timeout value TUNNEL_AGAIN; tunnel_fd/tunnel_buffered let a caller poll
 * the tunnel beside its own descriptors; tunnel_finish sends the final
 * frame outside tunnel_pump; tunnel_fingerprint formats host keys.
 */
#ifndef VITRINE_TUNNEL_H
#define VITRINE_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/e2e.h"
#include "common/relay_client.h"

#define TUNNEL_CODE_MAX         32    /* room for a code and its NUL */
#define TUNNEL_AGAIN            (-2)  /* tunnel_read_some: nothing arrived within timeout_ms */
#define TUNNEL_WRITE_TIMEOUT_MS 30000 /* a relay that takes no byte for this long ends the session */
#define TUNNEL_FINAL_WAIT_MS    5000  /* after our final frame, how long tunnel_pump waits for the peer's */
#define TUNNEL_FINGERPRINT_LEN  40    /* "ab12 cd34 ... (8 groups)" + NUL */

/* Codes of the tunnel itself, besides e2e_status_code's and the relay's: */
#define TUNNEL_CODE_IO "stream_truncated" /* the relay pipe failed (reset, write stalled) */

struct tunnel;

/* Bytes each way, counted since tunnel_open. "sent" is plaintext the caller
 * gave (tunnel_write_all, pump from plain_fd), "received" plaintext given
 * back; wire_* are the bytes on the relay pipe (handshake, frames). */
struct tunnel_stats {
	uint64_t sent;
	uint64_t received;
	uint64_t wire_sent;
	uint64_t wire_received;
};

/* Runs the handshake over rc as role (E2E_GUEST or E2E_HOST) within
 * timeout_ms. ticket_hash: e2e_ticket_hash of the GUEST's ticket (both
 * sides); session_secret: the 32 bytes the server drew for the session;
 * host_key: the host's Ed25519 secret key (E2E_HOST_SK bytes) for the host,
 * the expected public key (E2E_HOST_PK bytes) for the guest. Takes rc in
 * every case (closed on failure). Returns 0 with *out set once the session
 * is established, else -1 with code set (host_key_mismatch,
 * handshake_invalid, stream_truncated, session_ended on the deadline,
 * e2e_usage, e2e_internal). */
int tunnel_open(struct tunnel **out, struct relay_conn *rc, enum e2e_role role, const char *session_id,
                const uint8_t ticket_hash[E2E_TICKET_HASH], const uint8_t session_secret[E2E_SESSION_SECRET],
                const uint8_t *host_key, unsigned timeout_ms, char code[TUNNEL_CODE_MAX]);

/* Seals buf into frames and writes them (waits for room at most
 * TUNNEL_WRITE_TIMEOUT_MS). Returns 0, or -1 (tunnel_code set). */
int tunnel_write_all(struct tunnel *t, const void *buf, size_t len);

/* Returns plaintext the peer sent: > 0 bytes (at most cap); 0 the peer ended
 * cleanly (its final frame came); -1 a failure (tunnel_code set);
 * TUNNEL_AGAIN nothing within timeout_ms (0: do not wait; < 0: no limit). */
ssize_t tunnel_read_some(struct tunnel *t, void *buf, size_t cap, int timeout_ms);

/* Pumps plain_fd <-> tunnel until either ends or stop_fd (-1: none) is
 * readable; plain_fd is made non-blocking and is not closed. plain_fd's EOF
 * (or a read/write error of it: the viewer went away) or stop_fd: our final
 * frame goes out, and the peer's is awaited up to TUNNEL_FINAL_WAIT_MS
 * (what arrives meanwhile still goes to plain_fd). The peer's final frame:
 * plain_fd is shut for writing and ours goes out. Returns 0 (a clean end)
 * or -1 (tunnel_code set: frame_tampered, stream_truncated, ...). st (may
 * be NULL) receives tunnel_get_stats. */
int tunnel_pump(struct tunnel *t, int plain_fd, int stop_fd, struct tunnel_stats *st);

/* Sends our final frame (once; later calls do nothing). Returns 0 or -1. */
int tunnel_finish(struct tunnel *t);

/* For poll() beside other descriptors: poll tunnel_fd for POLLIN unless
 * tunnel_buffered is true (then tunnel_read_some(.., 0) has something). */
int tunnel_fd(const struct tunnel *t);
bool tunnel_buffered(const struct tunnel *t);

/* "" while nothing failed, else the code of the first failure. */
const char *tunnel_code(const struct tunnel *t);
void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *st);
enum relay_transport tunnel_transport(const struct tunnel *t);

/* Wipes the keys, closes the relay_conn, frees. NULL is fine. */
void tunnel_close(struct tunnel *t);

/* The host key fingerprint the CLI, the console and the player show: the
 * first 16 bytes of SHA-256 of the raw 32-byte Ed25519 public key, lowercase
 * hex in 8 groups of 4 separated by one space ("ab12 cd34 ..."). */
void tunnel_fingerprint(const uint8_t host_pk[E2E_HOST_PK], char out[TUNNEL_FINGERPRINT_LEN]);

#endif
