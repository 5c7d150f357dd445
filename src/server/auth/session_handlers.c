/*
 * Login, logout and the caller's own profile: POST/GET/DELETE
 * /api/v1/session, /api/v1/me (password, TOTP, log out everywhere).
 *
 * A login attempt is checked in three steps: (1) on the network thread,
 * in one write transaction, the failure counters (of the known-client
 * cookie, or else of the login name and the source address) decide
 * whether a proof-of-work answer is required (429 challenge_required, with
 * the challenge, costs no password hashing), the hashing gate
 * (login_gate.c) admits it or answers 503 busy, and the attempt is counted
 * as a failure before it is checked; (2) on the work pool, the password is
 * checked with argon2id, always, even for unknown logins, so timing does
 * not reveal which logins exist; (3) the outcome is written in one
 * transaction: the counters taken back on success, the TOTP step, the
 * session, the audit entry. Only JSON from this server's own pages (or
 * from clients that send no Origin) is taken: no login CSRF.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../common/codes.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/ratelimit.h"
#include "../store/store_reply.h"
#include "auth.h"

struct login_job {
	char login[130];
	char password[AUTH_PASSWORD_MAX + 1];
	char totp[8];
	char user_agent[256];
	/* what the attempt was counted against before the check: the known
	 * client's cookie id, or the login name and the address */
	bool known;
	char known_id[CODES_ID_LEN + 1];
	struct login_ticket ticket;
};

static const char *json_str(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void lower_copy(char *out, size_t outsz, const char *in)
{
	size_t i = 0;
	for (; in[i] && i + 1 < outsz; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
	out[i] = '\0';
}

static int64_t failures_of(struct db *db, const char *kind, const char *subject, int64_t now)
{
	int rc;
	struct db_stmt *st = db_query(
	    db, &rc, "SELECT failures FROM login_failures WHERE kind = ? AND subject = ? AND last_failure >= ?", "ssi",
	    kind, subject, now - AUTH_FAILURE_WINDOW_S);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}

/* Counts one attempt (a failure until the check says otherwise). */
static int count_failure(struct db *db, const char *kind, const char *subject, int64_t now)
{
	return db_exec(
	    db,
	    "INSERT INTO login_failures(kind, subject, failures, last_failure) VALUES(?,?,1,?) "
	    "ON CONFLICT(kind, subject) DO UPDATE SET "
	    "failures = CASE WHEN login_failures.last_failure < ? THEN 1 ELSE login_failures.failures + 1 END, "
	    "last_failure = excluded.last_failure",
	    "ssii", kind, subject, now, now - AUTH_FAILURE_WINDOW_S);
}

/* Takes back an attempt counted in advance that turned out not to fail. */
static void uncount_failure(struct db *db, const char *kind, const char *subject)
{
	db_exec(db, "UPDATE login_failures SET failures = MAX(failures - 1, 0) WHERE kind = ? AND subject = ?", "ss",
	        kind, subject);
}

/* The account a login belongs to (for audit entries), or "" */
static void account_of(struct db *db, const char *login, char out[CODES_ID_LEN + 1])
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT account_id FROM users WHERE login = ?", "s", login);
	snprintf(out, CODES_ID_LEN + 1, "%s", st ? db_col_text(st, 0) : "");
	db_done(st);
}

static int reply_challenge(struct http_req *r, const char *login, unsigned difficulty, const char *why)
{
	char challenge[AUTH_CHALLENGE_MAX_LEN];
	auth_challenge_make(login, difficulty, (int64_t)time(NULL), challenge);
	json_t *extra =
	    json_pack("{s:{s:s, s:s, s:i, s:i, s:s}}", "challenge", "algorithm", "sha256-leading-zero-bits",
	              "challenge", challenge, "difficulty", (int)difficulty, "expires_in", AUTH_CHALLENGE_TTL_S, "how",
	              "find a string S of at most 64 characters such that SHA-256(challenge + \":\" + S) starts with "
	              "`difficulty` zero bits, then send the login again with \"challenge\" and \"solution\": S");
	http_reply_error_extra(r, 429, "challenge_required", extra, "%s", why);
	/* audited once per login per 5 minutes, in the login's account, so an
	 * attacker cannot grow the log with free 429s */
	struct db *db = store_db();
	char subject[130], account[CODES_ID_LEN + 1];
	lower_copy(subject, sizeof subject, login);
	if (db && ratelimit_hit(db, "challenge_audit", subject, 300, (int64_t)time(NULL)) == 1) {
		account_of(db, login, account);
		audit_append(db, *account ? account : NULL, NULL, login, r->ip, "login.challenged", login, why);
	}
	return 0;
}

/* Login CSRF: a browser always sends Origin on a cross-site POST; a login
 * is taken only from this server's own pages (http_origin_is_own). */
static bool is_json_type(const char *type)
{
	size_t n = strlen("application/json");
	return type && strncasecmp(type, "application/json", n) == 0 &&
	       (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

static int login_job_run(struct http_req *r);

static void login_job_cleanup(struct http_req *r)
{
	struct login_job *job = r->scratch;
	if (job) {
		login_gate_leave(&job->ticket);
		sodium_memzero(job->password, sizeof job->password);
	}
}

static const char *const challenge_why[] = {
    [CHALLENGE_MALFORMED] = "the challenge answer is malformed: answer the new challenge",
    [CHALLENGE_FORGED] = "the challenge was not issued for this login: answer the new challenge",
    [CHALLENGE_EXPIRED] = "the challenge has expired: answer the new challenge",
    [CHALLENGE_TOO_EASY] = "more failures happened since: answer the new, harder challenge",
    [CHALLENGE_WRONG] = "the solution does not solve the challenge: answer the new challenge",
};

/*
 * Admission, on the network thread, in one write transaction (so parallel
 * attempts are counted one after the other, never all against the same
 * old count): the failures decide whether a proof of work is required,
 * the hashing gate whether there is room, and then the attempt is counted
 * as a failure before the password is even looked at; the check takes it
 * back if it succeeds.
 */
int auth_handle_login(struct http_req *r)
{
	if (!is_json_type(http_header(r, "Content-Type")))
		return http_reply_error(r, 415, "unsupported_media_type",
		                        "a login is sent as JSON (Content-Type: application/json)");
	const char *origin = http_header(r, "Origin");
	if (origin && !http_origin_is_own(r, origin))
		return http_reply_error(r, 403, "cross_origin", "logins are only taken from this server's own pages");
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *login = json_str(body, "login"), *password = json_str(body, "password");
	const char *totp = json_str(body, "totp");
	if (!login || !*login || strlen(login) > 128)
		return http_reply_error(r, 400, "invalid_field",
		                        "login must be a non-empty string of at most 128 bytes");
	if (!password || strlen(password) > AUTH_PASSWORD_MAX)
		return http_reply_error(r, 400, "invalid_field", "password must be a string of at most %d bytes",
		                        AUTH_PASSWORD_MAX);
	if (totp && strlen(totp) > 6)
		return http_reply_error(r, 400, "invalid_field", "totp must be the 6-digit code");
	struct db *db = store_db();
	if (!db)
		return store_reply_error(r, DB_ERROR, NULL);
	int64_t now = (int64_t)time(NULL);
	if (randombytes_uniform(64) == 0) { /* counters nobody needs any more */
		db_exec(db, "DELETE FROM login_failures WHERE last_failure < ?", "i", now - AUTH_FAILURE_WINDOW_S);
		db_exec(db, "DELETE FROM rate_counters WHERE window_start < ?", "i", now - 86400);
		db_exec(db, "DELETE FROM used_challenges WHERE expires_at < ?", "i", now);
	}
	struct login_job *job = calloc(1, sizeof *job);
	if (!job)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	r->scratch = job;
	r->cleanup = login_job_cleanup;
	char subject[130];
	lower_copy(subject, sizeof subject, login);
	if (db_begin(db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, "the login attempt could not be recorded");
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT id FROM users WHERE login = ?", "s", login);
	char user_id[CODES_ID_LEN + 1];
	snprintf(user_id, sizeof user_id, "%s", st ? db_col_text(st, 0) : "");
	db_done(st);
	job->known = auth_known_client_check(http_cookie(r, "vitrine_device"), user_id, now, job->known_id);
	int64_t failures = 0;
	if (job->known) {
		failures = failures_of(db, "device", job->known_id, now);
	} else {
		int64_t lf = failures_of(db, "login", subject, now), ipf = failures_of(db, "ip", r->ip, now);
		failures = lf > ipf ? lf : ipf;
	}
	unsigned required = auth_challenge_difficulty(failures > UINT32_MAX ? UINT32_MAX : (unsigned)failures);
	const char *why = "too many failed logins: answer the challenge to try again";
	if (!job->known && login_gate_busy() && required < auth_challenge_difficulty(AUTH_FAILURES_BEFORE_CHALLENGE)) {
		required = auth_challenge_difficulty(AUTH_FAILURES_BEFORE_CHALLENGE);
		why = "many logins are being checked: answer the challenge to get in line";
	}
	if (required) {
		const char *challenge = json_str(body, "challenge"), *solution = json_str(body, "solution");
		char nonce_id[32];
		int64_t expires = 0;
		enum challenge_verdict v =
		    challenge && solution
		        ? auth_challenge_verify(login, challenge, solution, required, now, nonce_id, &expires)
		        : CHALLENGE_MALFORMED;
		if (v == CHALLENGE_OK && db_exec(db, "INSERT INTO used_challenges(nonce_id, expires_at) VALUES(?,?)",
		                                 "si", nonce_id, expires) != DB_DONE) {
			v = CHALLENGE_MALFORMED;
			why = "this challenge was already used: answer the new challenge";
		} else if (v != CHALLENGE_OK && challenge && solution) {
			why = challenge_why[v];
		}
		if (v != CHALLENGE_OK) {
			db_rollback(db);
			return reply_challenge(r, login, required, why);
		}
	}
	enum login_gate_verdict gate = login_gate_enter(r->ip, job->known, required > 0, &job->ticket);
	if (gate != LOGIN_GATE_ADMITTED) {
		db_rollback(db);                   /* not checked, so not counted (and a used challenge stays usable) */
		if (gate == LOGIN_GATE_SHARE_USED) /* over its share only with a proof of work */
			return reply_challenge(r, login, auth_challenge_difficulty(AUTH_FAILURES_BEFORE_CHALLENGE),
			                       "many logins from your network are being checked: answer the "
			                       "challenge to get in line");
		http_reply_error(r, 503, "busy", "too many logins are being checked; retry in a second");
		return http_reply_header(r, "Retry-After", "1");
	}
	bool counted = job->known ? count_failure(db, "device", job->known_id, now) == DB_DONE
	                          : count_failure(db, "login", subject, now) == DB_DONE &&
	                                count_failure(db, "ip", r->ip, now) == DB_DONE;
	if (!counted)
		db_rollback(db);
	if (!counted || db_commit(db) != DB_DONE) {
		login_gate_leave(&job->ticket);
		return store_reply_error(r, DB_ERROR, "the login attempt could not be recorded");
	}
	snprintf(job->login, sizeof job->login, "%s", login);
	snprintf(job->password, sizeof job->password, "%s", password);
	snprintf(job->totp, sizeof job->totp, "%s", totp ? totp : "");
	const char *ua = http_header(r, "User-Agent");
	snprintf(job->user_agent, sizeof job->user_agent, "%s", ua ? ua : "");
	return http_defer(r, login_job_run);
}

/* A hash to verify against when the login does not exist, so that an unknown
 * login costs the same time as a wrong password. */
static char decoy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;
static void make_decoy(void)
{
	char pw[17];
	auth_password_generate(pw);
	if (auth_password_hash(pw, decoy_hash) != 0)
		decoy_hash[0] = '\0';
}

enum login_outcome { LOGIN_OK, LOGIN_BAD, LOGIN_TOTP_REQUIRED, LOGIN_TOTP_BAD };

/* The attempt counted in advance was no failure after all. */
static void take_back_attempt(struct db *db, const struct login_job *job, const char *subject, const char *ip,
                              bool logged_in)
{
	if (job->known) {
		if (logged_in)
			db_exec(db, "DELETE FROM login_failures WHERE kind = 'device' AND subject = ?", "s",
			        job->known_id);
		else
			uncount_failure(db, "device", job->known_id);
		return;
	}
	if (logged_in)
		db_exec(db, "DELETE FROM login_failures WHERE kind = 'login' AND subject = ?", "s", subject);
	else
		uncount_failure(db, "login", subject);
	uncount_failure(db, "ip", ip);
}

static int login_job_run(struct http_req *r)
{
	struct login_job *job = r->scratch;
	struct db *db = store_db();
	if (!db) {
		sodium_memzero(job->password, sizeof job->password);
		return store_reply_error(r, DB_ERROR, NULL);
	}
	char user_id[CODES_ID_LEN + 1] = "", account_id[CODES_ID_LEN + 1] = "", hash[crypto_pwhash_STRBYTES] = "";
	char totp_secret[40] = "", role[16] = "";
	bool disabled = false, totp_enabled = false;
	int64_t totp_last = 0;
	int rc;
	struct db_stmt *st = db_query(db, &rc,
	                              "SELECT id, account_id, password_hash, disabled, totp_enabled, totp_secret, "
	                              "totp_last_step, role FROM users WHERE login = ?",
	                              "s", job->login);
	if (st) {
		snprintf(user_id, sizeof user_id, "%s", db_col_text(st, 0));
		snprintf(account_id, sizeof account_id, "%s", db_col_text(st, 1));
		snprintf(hash, sizeof hash, "%s", db_col_text(st, 2));
		disabled = db_col_int(st, 3) != 0;
		totp_enabled = db_col_int(st, 4) != 0;
		snprintf(totp_secret, sizeof totp_secret, "%s", db_col_text(st, 5));
		totp_last = db_col_int(st, 6);
		snprintf(role, sizeof role, "%s", db_col_text(st, 7));
		db_done(st);
	} else if (rc != DB_DONE) {
		sodium_memzero(job->password, sizeof job->password);
		return store_reply_error(r, DB_ERROR, NULL);
	}
	/* The allowlist is checked before the password, so that from outside it
	 * a right guess and a wrong one get the same answer. */
	if (*user_id && !disabled &&
	    !auth_ip_allowed(db, account_id, strcmp(role, "operator") == 0 ? "operator" : "console", r->ip)) {
		sodium_memzero(job->password, sizeof job->password);
		sodium_memzero(hash, sizeof hash);
		sodium_memzero(totp_secret, sizeof totp_secret);
		if (db_begin(db, true) == DB_DONE) {
			audit_append(db, account_id, user_id, job->login, r->ip, "login.refused_ip", job->login,
			             "address not in the allowlist");
			db_commit(db);
		}
		return http_reply_error(r, 403, "ip_not_allowed", "your address %s is not in this account's allowlist",
		                        r->ip);
	}
	pthread_once(&decoy_once, make_decoy);
	bool password_ok = auth_password_verify(*user_id ? hash : decoy_hash, job->password) && *user_id && !disabled;
	sodium_memzero(job->password, sizeof job->password);
	sodium_memzero(hash, sizeof hash);
	login_gate_leave(&job->ticket); /* the costly part is over */

	int64_t now = (int64_t)time(NULL), step = 0;
	enum login_outcome outcome = password_ok ? LOGIN_OK : LOGIN_BAD;
	if (outcome == LOGIN_OK && totp_enabled) {
		if (!job->totp[0])
			outcome = LOGIN_TOTP_REQUIRED;
		else if ((step = auth_totp_check(totp_secret, job->totp, now, totp_last)) < 0)
			outcome = LOGIN_TOTP_BAD;
	}
	sodium_memzero(totp_secret, sizeof totp_secret);

	if (db_begin(db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, "the login could not be recorded");
	/* A code is good once: of two parallel logins with the same code, the
	 * one that records its step second finds it already used. */
	if (outcome == LOGIN_OK && totp_enabled &&
	    (db_exec(db, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", "isi", step,
	             user_id, step) != DB_DONE ||
	     db_changes(db) != 1))
		outcome = LOGIN_TOTP_BAD;
	char subject[130];
	lower_copy(subject, sizeof subject, job->login);
	const char *acct = *account_id ? account_id : NULL, *actor_id = *user_id ? user_id : NULL;
	char token[CODES_TOKEN_LEN], csrf[CODES_TOKEN_LEN];
	switch (outcome) {
	case LOGIN_BAD:
	case LOGIN_TOTP_BAD: /* counted before the check */
		audit_append(db, acct, actor_id, job->login, r->ip, "login.failed", job->login,
		             outcome == LOGIN_BAD ? "wrong login or password" : "wrong TOTP code");
		break;
	case LOGIN_TOTP_REQUIRED:
		take_back_attempt(db, job, subject, r->ip, false);
		break;
	case LOGIN_OK:
		take_back_attempt(db, job, subject, r->ip, true);
		if (auth_session_create(db, user_id, r->ip, job->user_agent, token, csrf) != 0 ||
		    audit_append(db, acct, actor_id, job->login, r->ip, "login.ok", job->login, "") != 0) {
			db_rollback(db);
			return store_reply_error(r, DB_ERROR, "the session could not be saved");
		}
		break;
	}
	json_t *user = outcome == LOGIN_OK ? auth_user_json(db, user_id) : NULL;
	if (db_commit(db) != DB_DONE) {
		json_decref(user);
		return store_reply_error(r, DB_ERROR, "the login could not be recorded");
	}
	switch (outcome) {
	case LOGIN_BAD:
		return http_reply_error(r, 401, "invalid_credentials", "wrong login or password");
	case LOGIN_TOTP_BAD:
		return http_reply_error(r, 401, "invalid_totp", "wrong or reused authenticator code");
	case LOGIN_TOTP_REQUIRED:
		return http_reply_error(r, 401, "totp_required", "enter the 6-digit code of your authenticator app");
	case LOGIN_OK:
		break;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:s}", "user", user ? user : json_object(), "csrf_token", csrf));
	auth_set_cookie(r, token);
	auth_known_client_set_cookie(r, user_id);
	sodium_memzero(token, sizeof token);
	return 0;
}

int auth_handle_session_get(struct http_req *r)
{
	json_t *user = auth_user_json(r->db, r->auth.user_id);
	if (!user)
		return http_reply_error(r, 401, "unauthenticated", "the session has ended; log in again");
	json_t *out = json_pack("{s:o}", "user", user);
	if (r->auth.via_session) {
		int rc;
		struct db_stmt *st =
		    db_query(r->db, &rc, "SELECT csrf_token FROM sessions WHERE id = ?", "s", r->auth.session_id);
		if (st)
			json_object_set_new(out, "csrf_token", json_string(db_col_text(st, 0)));
		db_done(st);
	}
	http_reply_json(r, 200, out);
	return 0;
}

int auth_handle_logout(struct http_req *r)
{
	if (r->auth.via_session)
		db_exec(r->db, "DELETE FROM sessions WHERE id = ?", "s", r->auth.session_id);
	audit_request(r, "logout", r->auth.login, "");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	auth_set_cookie(r, NULL);
	return 0;
}

int auth_handle_logout_everywhere(struct http_req *r)
{
	db_exec(r->db, "DELETE FROM sessions WHERE user_id = ?", "s", r->auth.user_id);
	int64_t n = db_changes(r->db);
	char detail[64];
	snprintf(detail, sizeof detail, "%lld sessions ended", (long long)n);
	audit_request(r, "logout.everywhere", r->auth.login, detail);
	http_reply_json(r, 200, json_pack("{s:I}", "sessions_ended", (json_int_t)n));
	auth_set_cookie(r, NULL);
	return 0;
}

int auth_handle_me(struct http_req *r)
{
	json_t *user = auth_user_json(r->db, r->auth.user_id);
	if (!user)
		return http_reply_error(r, 404, "not_found", "no such user");
	http_reply_json(r, 200, json_pack("{s:o}", "user", user));
	return 0;
}

/* --- password change (deferred: two argon2id operations) --- */

struct password_job {
	char current[AUTH_PASSWORD_MAX + 1];
	char next[AUTH_PASSWORD_MAX + 1];
};

static int change_password_run(struct http_req *r)
{
	struct password_job *job = r->scratch;
	struct db *db = store_db();
	char hash[crypto_pwhash_STRBYTES] = "", fresh[crypto_pwhash_STRBYTES];
	int rc;
	struct db_stmt *st =
	    db ? db_query(db, &rc, "SELECT password_hash FROM users WHERE id = ?", "s", r->auth.user_id) : NULL;
	if (st) {
		snprintf(hash, sizeof hash, "%s", db_col_text(st, 0));
		db_done(st);
	}
	bool ok = *hash && auth_password_verify(hash, job->current);
	int hashed = ok ? auth_password_hash(job->next, fresh) : -1;
	sodium_memzero(job, sizeof *job);
	if (!ok) {
		audit_request_detached(r, "password.change_failed", r->auth.login, "wrong current password");
		return http_reply_error(r, 403, "wrong_password", "the current password is wrong");
	}
	if (hashed != 0)
		return http_reply_error(r, 503, "unavailable", "out of memory while hashing");
	if (db_begin(db, true) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	int64_t now = (int64_t)time(NULL);
	db_exec(db, "UPDATE users SET password_hash = ?, must_change_password = 0, updated_at = ? WHERE id = ?", "sis",
	        fresh, now, r->auth.user_id);
	/* every other session of this user ends; this one stays */
	db_exec(db, "DELETE FROM sessions WHERE user_id = ? AND id <> ?", "ss", r->auth.user_id,
	        r->auth.via_session ? r->auth.session_id : "");
	audit_append(db, r->auth.account_id, r->auth.user_id, r->auth.login, r->ip, "password.changed", r->auth.login,
	             "");
	if (db_commit(db) != DB_DONE)
		return store_reply_error(r, DB_ERROR, NULL);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}

int auth_handle_change_password(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *cur = json_str(body, "current_password"), *next = json_str(body, "new_password");
	if (!cur || !next)
		return http_reply_error(r, 400, "invalid_field",
		                        "current_password and new_password are required strings");
	const char *problem = auth_password_problem(next, r->auth.login);
	if (problem)
		return http_reply_error(r, 400, "weak_password", "%s", problem);
	if (strlen(cur) > AUTH_PASSWORD_MAX)
		return http_reply_error(r, 403, "wrong_password", "the current password is wrong");
	if (strcmp(cur, next) == 0)
		return http_reply_error(r, 400, "weak_password", "the new password must differ from the current one");
	struct password_job *job = calloc(1, sizeof *job);
	if (!job)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	snprintf(job->current, sizeof job->current, "%s", cur);
	snprintf(job->next, sizeof job->next, "%s", next);
	r->scratch = job;
	http_defer(r, change_password_run);
	return 0;
}

/* --- TOTP enrolment --- */

int auth_handle_totp_begin(struct http_req *r)
{
	char secret[40];
	auth_totp_new_secret(secret);
	if (!*secret)
		return http_reply_error(r, 500, "internal", "cannot create a TOTP secret");
	int rc;
	struct db_stmt *st = db_query(r->db, &rc, "SELECT totp_enabled FROM users WHERE id = ?", "s", r->auth.user_id);
	bool enabled = st && db_col_int(st, 0);
	db_done(st);
	if (enabled)
		return http_reply_error(r, 409, "totp_enabled", "two-factor login is already on; turn it off first");
	db_exec(r->db, "UPDATE users SET totp_secret = ?, updated_at = ? WHERE id = ?", "sis", secret,
	        (int64_t)time(NULL), r->auth.user_id);
	char uri[256];
	snprintf(uri, sizeof uri, "otpauth://totp/Vitrine:%s?secret=%s&issuer=Vitrine&digits=6&period=30",
	         r->auth.login, secret);
	http_reply_json(r, 200, json_pack("{s:s, s:s}", "secret", secret, "otpauth_uri", uri));
	sodium_memzero(secret, sizeof secret);
	return 0;
}

int auth_handle_totp_confirm(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *code = json_str(body, "code");
	if (!code)
		return http_reply_error(r, 400, "invalid_field", "code (the 6-digit code) is required");
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?", "s",
	             r->auth.user_id);
	if (!st || db_col_is_null(st, 0)) {
		db_done(st);
		return http_reply_error(r, 409, "totp_not_started", "start the enrolment first (POST /api/v1/me/totp)");
	}
	char secret[40];
	snprintf(secret, sizeof secret, "%s", db_col_text(st, 0));
	bool enabled = db_col_int(st, 1) != 0;
	int64_t last = db_col_int(st, 2);
	db_done(st);
	if (enabled)
		return http_reply_error(r, 409, "totp_enabled", "two-factor login is already on");
	int64_t step = auth_totp_check(secret, code, (int64_t)time(NULL), last);
	sodium_memzero(secret, sizeof secret);
	if (step < 0)
		return http_reply_error(r, 400, "invalid_totp",
		                        "the code does not match; check the clock of your phone");
	db_exec(r->db, "UPDATE users SET totp_enabled = 1, totp_last_step = ?, updated_at = ? WHERE id = ?", "iis",
	        step, (int64_t)time(NULL), r->auth.user_id);
	audit_request(r, "totp.enabled", r->auth.login, "");
	http_reply_json(r, 200, json_pack("{s:b}", "totp_enabled", 1));
	return 0;
}

int auth_handle_totp_disable(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *code = json_str(body, "code");
	if (!code)
		return http_reply_error(r, 400, "invalid_field", "code (a current 6-digit code) is required");
	int rc;
	struct db_stmt *st =
	    db_query(r->db, &rc, "SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?", "s",
	             r->auth.user_id);
	if (!st || !db_col_int(st, 1)) {
		db_done(st);
		return http_reply_error(r, 409, "totp_not_enabled", "two-factor login is not on");
	}
	char secret[40];
	snprintf(secret, sizeof secret, "%s", db_col_text(st, 0));
	int64_t last = db_col_int(st, 2);
	db_done(st);
	int64_t step = auth_totp_check(secret, code, (int64_t)time(NULL), last);
	sodium_memzero(secret, sizeof secret);
	if (step < 0)
		return http_reply_error(r, 400, "invalid_totp", "the code does not match");
	db_exec(r->db, "UPDATE users SET totp_enabled = 0, totp_secret = NULL, updated_at = ? WHERE id = ?", "is",
	        (int64_t)time(NULL), r->auth.user_id);
	audit_request(r, "totp.disabled", r->auth.login, "");
	http_reply_json(r, 200, json_pack("{s:b}", "totp_enabled", 0));
	return 0;
}
