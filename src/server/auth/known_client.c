/*
 * Known clients ("device cookies", after OWASP's answer to lockout used as
 * a weapon). A good login sets the cookie vitrine_device, signed and bound
 * to the user: "k1.EXPIRES.ID.MAC" with MAC = HMAC-SHA-256(server secret,
 * "known-client|k1.EXPIRES.ID|USER_ID"). It grants nothing by itself (the
 * password is still checked), but a login that carries a valid one for
 * its user:
 *   - has its failures counted against that cookie's id, not against the
 *     login name or the address, so someone else's failures never make the
 *     real user answer challenges;
 *   - is admitted on a reserved lane of the password-hashing gate
 *     (login_gate.c), so a flood of attempts cannot keep the user out.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../http/server.h"
#include "auth.h"

#define KNOWN_CLIENT_TTL_S (180 * 86400)

static void mac_hex(const char *body, const char *user_id, char out[65])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, auth_settings.secret, sizeof auth_settings.secret);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"known-client|", 13);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, strlen(body));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"|", 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)user_id, strlen(user_id));
	crypto_auth_hmacsha256_final(&st, mac);
	codes_hex(mac, sizeof mac, out);
}

void auth_known_client_make(const char *user_id, int64_t now, char out[AUTH_KNOWN_CLIENT_MAX_LEN])
{
	char id[CODES_ID_LEN + 1], body[48], mac[65];
	codes_new_id(id);
	snprintf(body, sizeof body, "k1.%" PRId64 ".%s", now + KNOWN_CLIENT_TTL_S, id);
	mac_hex(body, user_id, mac);
	snprintf(out, AUTH_KNOWN_CLIENT_MAX_LEN, "%s.%s", body, mac);
}

bool auth_known_client_check(const char *value, const char *user_id, int64_t now, char id_out[CODES_ID_LEN + 1])
{
	/* k1 . expires (digits) . id . mac (64 hex) */
	if (!value || !*user_id || strncmp(value, "k1.", 3) != 0 || strlen(value) >= AUTH_KNOWN_CLIENT_MAX_LEN)
		return false;
	const char *exp = value + 3, *dot1 = strchr(exp, '.');
	if (!dot1 || dot1 == exp || dot1 - exp > 12 || strspn(exp, "0123456789") != (size_t)(dot1 - exp))
		return false;
	const char *id = dot1 + 1, *dot2 = strchr(id, '.');
	if (!dot2 || dot2 - id != CODES_ID_LEN || strlen(dot2 + 1) != 64)
		return false;
	char body[64], mac[65], idcopy[CODES_ID_LEN + 1];
	snprintf(body, sizeof body, "%.*s", (int)(dot2 - value), value);
	snprintf(idcopy, sizeof idcopy, "%.*s", CODES_ID_LEN, id);
	if (!codes_is_id(idcopy))
		return false;
	mac_hex(body, user_id, mac);
	if (!codes_equal(mac, dot2 + 1) || strtoll(exp, NULL, 10) < now)
		return false;
	memcpy(id_out, idcopy, CODES_ID_LEN + 1);
	return true;
}

void auth_known_client_set_cookie(struct http_req *r, const char *user_id)
{
	char value[AUTH_KNOWN_CLIENT_MAX_LEN], cookie[AUTH_KNOWN_CLIENT_MAX_LEN + 128];
	auth_known_client_make(user_id, (int64_t)time(NULL), value);
	/* only the login route ever needs it */
	snprintf(cookie, sizeof cookie,
	         "vitrine_device=%s; Path=/api/v1/session; Max-Age=%d; HttpOnly; SameSite=Strict%s", value,
	         KNOWN_CLIENT_TTL_S, auth_settings.tls ? "; Secure" : "");
	http_reply_header(r, "Set-Cookie", cookie);
}
