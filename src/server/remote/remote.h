/*
 * Remote control, the server's part (issue 10, the connection manager):
 * the Ed25519 key the server signs relay tickets with (signing_key.c), the
 * registry of relays with their reported load and the choice of a relay for
 * a session, nearest to the guest's region first (relays.c, region.c), and
 * the remote sessions themselves: asking for one (with the person at the
 * screen's consent when the screen asks it), the session secret, support
 * users' grants, listing and ending sessions (sessions.c). The relay
 * (src/relay/) checks the tickets offline with the public half of the key;
 * the player gets its host ticket as a `remote_session` instruction through
 * its long-poll.
 */
#ifndef VITRINE_REMOTE_H
#define VITRINE_REMOTE_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/codes.h"
#include "../geo/geoip.h"

struct http_req;
struct db;

/* --- signing_key.c --- */
#define REMOTE_KEY_FILE   "relay-signing.secret" /* in DATA/keys/, mode 0600 */
#define REMOTE_KEY_B64LEN sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)

/* Loads DATA/keys/relay-signing.secret, creating it first when it is
 * missing (a new data folder, or one made before remote control). Returns
 * 0, or -1 with a sentence in err. */
int remote_key_load(const char *data_dir, char *err, size_t errsz);
/* The loaded key pair (remote_key_load first). */
const unsigned char *remote_key_secret(void);
/* The public key in standard base64 (what `relay-key` prints). */
void remote_key_public_b64(char out[REMOTE_KEY_B64LEN]);
/* Forgets the loaded key (zeroes it). */
void remote_key_forget(void);

/* --- relays.c --- */
#define REMOTE_RELAY_PORT_DEFAULT 1970
#define REMOTE_RELAY_HEALTHY_S    15 /* a relay not heard of for longer is skipped */

struct remote_relay {
	char id[CODES_ID_LEN + 1];
	char host[254];
	unsigned port;
	char ws_url[513];
};

enum remote_choice { REMOTE_CHOSEN, REMOTE_NO_RELAY, REMOTE_NO_HEALTHY_PRIVATE, REMOTE_STORE_ERROR };
/* Picks the relay for a session of account_id at now: when the account
 * has private relays, only those; otherwise the shared relays. Among the
 * healthy candidates, the nearest to the guest (a relay whose region names
 * the guest's country code, else its continent code, else any: see
 * remote_region_rank), then the lowest load (sessions, then bytes). guest
 * NULL or empty: by load only. */
enum remote_choice remote_relay_choose(struct db *db, const char *account_id, const struct geo_place *guest,
                                       int64_t now, struct remote_relay *out);
/* How near a relay's region text is to the guest: 0 when one of its words
 * (letters and digits between other characters, any case) is the guest's
 * country code, 1 when one is its continent code, 2 otherwise. */
int remote_region_rank(const char *relay_region, const struct geo_place *guest);
/* "host:port" (IPv6 in brackets): what a ticket names the relay by. */
int remote_relay_address(const struct remote_relay *relay, char *out, size_t outsz);
/* Firewall rules (ops/ /firewall) for the relays the account's screens may
 * use: TCP to each relay's port and HTTPS/HTTP to its WebSocket URL. */
json_t *remote_firewall_rules(struct db *db, const char *account_id);

int remote_handle_relays_list(struct http_req *r);
int remote_handle_relay_create(struct http_req *r);
int remote_handle_relay_delete(struct http_req *r);

/* --- sessions.c --- */
#define REMOTE_TICKET_LIFETIME_S 60
#define REMOTE_CONSENT_TIMEOUT_S 30 /* the person at the screen answers within */
#define REMOTE_SECRET_BYTES      32 /* the session secret (E2E_SESSION_SECRET) */

int remote_handle_session_create(struct http_req *r);
int remote_handle_sessions_list(struct http_req *r);
int remote_handle_session_end(struct http_req *r);
/* POST .../remote-sessions/{id}/consent {"accepted":bool}: the player's
 * answer for a session of its screen that asks consent (device token). */
int remote_handle_consent(struct http_req *r);
/* GET/PUT /api/v1/users/{id}/remote-grants (admin). */
int remote_handle_grants_get(struct http_req *r);
int remote_handle_grants_put(struct http_req *r);

/* The payload of a stored remote_session instruction holds the session
 * secret sealed (field "secret_sealed", with a key derived from the ticket
 * key): instructions are stored before they are delivered, the secret must
 * not be. For the screen's long-poll, remote_payload_for_host replaces it
 * by "session_secret" (base64); for users, remote_payload_for_users drops
 * it and the host's ticket. Both change payload in place. */
void remote_payload_for_host(json_t *payload);
void remote_payload_for_users(json_t *payload);
/* Seals secret for a stored payload's "secret_sealed" (standard base64).
 * Returns 0, or -1 when the ticket key is not loaded. */
#define REMOTE_SEALED_B64_LEN                                                                                          \
	sodium_base64_ENCODED_LEN(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + REMOTE_SECRET_BYTES,       \
	                          sodium_base64_VARIANT_ORIGINAL)
int remote_secret_seal(const uint8_t secret[REMOTE_SECRET_BYTES], char out[REMOTE_SEALED_B64_LEN]);

/* --- relay_link.c: the relay's report and its cuts long-poll --- */
#define REMOTE_CUT_WINDOW_S 120 /* an admin's end is told to the relay for this long */

int remote_handle_relay_report(struct http_req *r);
int remote_handle_relay_cuts(struct http_req *r);
/* An admin ended session_id (in db's transaction): numbers the end for the
 * relay's cuts long-poll and wakes it after the commit. Returns 0 or -1. */
int remote_relay_session_cut(struct db *db, const char *session_id);
/* Sessions the relay will never report ended: started at a relay that has
 * restarted since (relay_restarted, on its first report of the new run)
 * or that has not reported for REMOTE_RELAY_LOST_S (relay_lost, looked at
 * when the screen's next session is made). Ends them with an audit row
 * each, in db's transaction; ip is the request's. Returns 0 or -1. */
#define REMOTE_RELAY_LOST_S 60
int remote_sessions_end_orphans_of_relay(struct db *db, const char *relay_id, const char *ip);
int remote_sessions_end_lost(struct db *db, const char *screen_id, int64_t now, const char *ip);

#endif
