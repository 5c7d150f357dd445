/*
 * Accounts, users and security (SPEC section 1): password policy and
 * argon2id hashing, proof-of-work login challenges, TOTP, sessions and API
 * tokens, the authentication hook of the HTTP server, and the handlers of
 * the session, user, token and account routes.
 */
#ifndef VITRINE_AUTH_H
#define VITRINE_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;
struct db;

#define AUTH_SECRET_BYTES              32
#define AUTH_PASSWORD_MIN              10
#define AUTH_PASSWORD_MAX              256
#define AUTH_FAILURES_BEFORE_CHALLENGE 5
#define AUTH_FAILURE_WINDOW_S          (30 * 60)

/* Server-wide settings of this area, set once at start. */
struct auth_settings {
	uint8_t secret[AUTH_SECRET_BYTES]; /* HMAC key for challenges */
	unsigned session_idle_s;
	unsigned session_max_s;
	bool tls; /* cookies get Secure */
	unsigned pwhash_opslimit;
	size_t pwhash_memlimit;
};
extern struct auth_settings auth_settings;

/* --- passwords.c --- */
/* NULL when acceptable, else a sentence saying what is wrong. */
const char *auth_password_problem(const char *password, const char *login);
/* NULL when acceptable, else a sentence. */
const char *auth_login_problem(const char *login);
/* argon2id string into out[crypto_pwhash_STRBYTES]; 0 or -1 (out of memory). */
int auth_password_hash(const char *password, char *out);
bool auth_password_verify(const char *hash, const char *password);
/* A random password of 16 characters for resets, into out[17]. */
void auth_password_generate(char out[17]);

/* --- challenge.c: proof of work after repeated failures --- */
#define AUTH_CHALLENGE_TTL_S   300
#define AUTH_CHALLENGE_MAX_LEN 192
/* Difficulty in leading zero bits for a number of consecutive failures. */
unsigned auth_challenge_difficulty(unsigned failures);
/* Makes a challenge bound to login, into out[AUTH_CHALLENGE_MAX_LEN]. */
void auth_challenge_make(const char *login, unsigned difficulty, int64_t now, char *out);
enum challenge_verdict {
	CHALLENGE_OK,
	CHALLENGE_MALFORMED,
	CHALLENGE_FORGED, /* MAC does not match (or another login's) */
	CHALLENGE_EXPIRED,
	CHALLENGE_TOO_EASY, /* issued at a lower difficulty than now required */
	CHALLENGE_WRONG,    /* the solution does not have enough zero bits */
};
/* Checks challenge+solution for login at the required difficulty. On
 * CHALLENGE_OK, *nonce_id receives the challenge's id (for replay
 * protection) and *expires its expiry. */
enum challenge_verdict auth_challenge_verify(const char *login, const char *challenge, const char *solution,
                                             unsigned min_difficulty, int64_t now, char nonce_id[32], int64_t *expires);
/* Leading zero bits of SHA-256(challenge ":" solution). */
unsigned auth_challenge_zero_bits(const char *challenge, const char *solution);

/* --- known_client.c: device cookies of earlier good logins --- */
#define AUTH_KNOWN_CLIENT_MAX_LEN 128
void auth_known_client_make(const char *user_id, int64_t now, char out[AUTH_KNOWN_CLIENT_MAX_LEN]);
/* True when value is an unexpired cookie this server issued for user_id;
 * id_out then receives its id (what its failures are counted against). */
bool auth_known_client_check(const char *value, const char *user_id, int64_t now, char id_out[17]);
/* Adds a fresh vitrine_device cookie for user_id to the reply. */
void auth_known_client_set_cookie(struct http_req *r, const char *user_id);

/* --- login_gate.c: admission to password hashing --- */
#define LOGIN_GATE_GENERAL     32 /* places for unknown clients */
#define LOGIN_GATE_KNOWN       16 /* reserved for known clients */
#define LOGIN_GATE_PER_ADDRESS 4  /* of the general places, per IPv4 /32 or IPv6 /64 */
#define LOGIN_GATE_PER_PREFIX  8  /* per IPv4 /24 or IPv6 /48 */
#define LOGIN_GATE_POW_FROM    8  /* taken places from which unknown clients need a proof of work */
enum login_lane { LOGIN_LANE_NONE, LOGIN_LANE_GENERAL, LOGIN_LANE_KNOWN };
struct login_ticket {
	enum login_lane lane;
	unsigned slot;
};
enum login_gate_verdict { LOGIN_GATE_ADMITTED, LOGIN_GATE_SHARE_USED, LOGIN_GATE_FULL };
/* Is the general lane busy enough that unknown clients must prove work? */
bool login_gate_busy(void);
/* Takes a place for a login from ip; the ticket says which, for leave. A
 * login that proved work may go over its address's share. */
enum login_gate_verdict login_gate_enter(const char *ip, bool known, bool proved_work, struct login_ticket *t);
/* Gives the place back (idempotent). */
void login_gate_leave(struct login_ticket *t);

/* --- totp.c --- */
/* A fresh base32 secret (160 bits) into out[40]. */
void auth_totp_new_secret(char out[40]);
/* Checks a 6-digit code against the secret, window +-1 step; returns the
 * matched time step (> last_step to refuse replays) or -1. */
int64_t auth_totp_check(const char *secret_b32, const char *code, int64_t now, int64_t last_step);
/* Current code, for tests and the demo. */
int auth_totp_code(const char *secret_b32, int64_t now, char out[7]);

/* --- authenticate.c --- */
int auth_authenticate(struct http_req *r);
/* Creates a session for user_id; out_token receives the cookie value and
 * out_csrf the CSRF token. Returns 0 or -1. */
int auth_session_create(struct db *db, const char *user_id, const char *ip, const char *user_agent, char *out_token,
                        char *out_csrf);
/* The one session-expiry rule: too long since login (session_max_s) or
 * idle too long (session_idle_s). */
bool auth_session_expired(int64_t created, int64_t last_seen, int64_t now);
/* For long streams that re-check who they serve: whether the session
 * (via_session) or API token credential_id still stands (not revoked, its
 * user not disabled, the session not expired); its user's role goes to
 * role. Returns 1 it stands, 0 it does not, -1 the store failed. */
int auth_credential_role(struct db *db, bool via_session, const char *credential_id, char *role, size_t rolesz);
/* Sets the session cookie (or clears it when token is NULL) on the reply. */
void auth_set_cookie(struct http_req *r, const char *token);
/* JSON view of a user row by id, or NULL. */
json_t *auth_user_json(struct db *db, const char *user_id);
/* Is ip allowed for this account and scope ("console"/"operator")? */
bool auth_ip_allowed(struct db *db, const char *account_id, const char *scope, const char *ip);

/* --- handlers --- */
int auth_handle_login(struct http_req *r);
int auth_handle_session_get(struct http_req *r);
int auth_handle_logout(struct http_req *r);
int auth_handle_logout_everywhere(struct http_req *r);
int auth_handle_me(struct http_req *r);
int auth_handle_change_password(struct http_req *r);
int auth_handle_totp_begin(struct http_req *r);
int auth_handle_totp_confirm(struct http_req *r);
int auth_handle_totp_disable(struct http_req *r);
int auth_handle_users_list(struct http_req *r);
int auth_handle_user_create(struct http_req *r);
int auth_handle_user_get(struct http_req *r);
int auth_handle_user_update(struct http_req *r);
int auth_handle_user_delete(struct http_req *r);
int auth_handle_user_reset_password(struct http_req *r);
int auth_handle_user_reset_totp(struct http_req *r);
int auth_handle_tokens_list(struct http_req *r);
int auth_handle_token_create(struct http_req *r);
int auth_handle_token_delete(struct http_req *r);
int auth_handle_account_get(struct http_req *r);
int auth_handle_allowlist_get(struct http_req *r);
int auth_handle_allowlist_put(struct http_req *r);

/* For `vitrine-server init`: creates account + admin. */
int auth_bootstrap(struct db *db, const char *account_name, const char *login, const char *password);

#endif
