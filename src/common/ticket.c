/*
 * Remote-control tickets: signing (server) and offline verification
 * (relay). See ticket.h for the format.
 */
#include "ticket.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

static const char TICKET_PREFIX[] = "vt1.";
static const char SIGN_CONTEXT[] = "vitrine-ticket-v1"; /* signed with its NUL */

#define PAYLOAD_MAX 600

static int sign_over(const char *payload, size_t len, unsigned char msg[sizeof SIGN_CONTEXT + PAYLOAD_MAX],
                     size_t *msglen)
{
	if (len > PAYLOAD_MAX)
		return -1;
	memcpy(msg, SIGN_CONTEXT, sizeof SIGN_CONTEXT);
	memcpy(msg + sizeof SIGN_CONTEXT, payload, len);
	*msglen = sizeof SIGN_CONTEXT + len;
	return 0;
}

static bool is_id(const char *s)
{
	return s && strlen(s) == CODES_ID_LEN && strspn(s, "abcdefghijklmnopqrstuvwxyz234567") == CODES_ID_LEN;
}

const char *ticket_role_name(enum ticket_role role)
{
	return role == TICKET_HOST ? "host" : "guest";
}

int ticket_sign(struct ticket *t, const unsigned char sk[crypto_sign_SECRETKEYBYTES], char *out, size_t outsz)
{
	if (!is_id(t->session_id) || !is_id(t->screen_id) || !is_id(t->user_id) || !t->relay[0] ||
	    strlen(t->relay) >= TICKET_RELAY_MAX)
		return -1;
	static const unsigned char zero[TICKET_NONCE_BYTES];
	if (sodium_memcmp(t->nonce, zero, sizeof zero) == 0)
		randombytes_buf(t->nonce, sizeof t->nonce);
	char nonce[sodium_base64_ENCODED_LEN(TICKET_NONCE_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	sodium_bin2base64(nonce, sizeof nonce, t->nonce, sizeof t->nonce, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "sid", t->session_id, "role",
	                      ticket_role_name(t->role), "relay", t->relay, "exp", (json_int_t)t->expires_at, "screen",
	                      t->screen_id, "user", t->user_id, "nonce", nonce);
	char *payload = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!payload)
		return -1;
	size_t plen = strlen(payload), msglen;
	unsigned char msg[sizeof SIGN_CONTEXT + PAYLOAD_MAX], sig[crypto_sign_BYTES];
	int rc = -1;
	if (sign_over(payload, plen, msg, &msglen) == 0 && crypto_sign_detached(sig, NULL, msg, msglen, sk) == 0) {
		size_t need = sizeof TICKET_PREFIX - 1 +
		              sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
		              sodium_base64_ENCODED_LEN(sizeof sig, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (need <= outsz && need <= TICKET_TEXT_MAX) {
			memcpy(out, TICKET_PREFIX, sizeof TICKET_PREFIX - 1);
			char *p = out + sizeof TICKET_PREFIX - 1;
			sodium_bin2base64(p, outsz - (size_t)(p - out), (const unsigned char *)payload, plen,
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			p += strlen(p);
			*p++ = '.';
			sodium_bin2base64(p, outsz - (size_t)(p - out), sig, sizeof sig,
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			rc = 0;
		}
	}
	free(payload);
	return rc;
}

static bool copy_id(json_t *payload, const char *key, char out[CODES_ID_LEN + 1])
{
	const char *v = json_string_value(json_object_get(payload, key));
	if (!is_id(v))
		return false;
	memcpy(out, v, CODES_ID_LEN + 1);
	return true;
}

enum ticket_result ticket_verify(const char *text, size_t len, const unsigned char pk[crypto_sign_PUBLICKEYBYTES],
                                 int64_t now, struct ticket *out)
{
	size_t plen_text;
	const char *dot;
	if (len > TICKET_TEXT_MAX || len < sizeof TICKET_PREFIX ||
	    memcmp(text, TICKET_PREFIX, sizeof TICKET_PREFIX - 1) != 0)
		return TICKET_INVALID;
	text += sizeof TICKET_PREFIX - 1;
	len -= sizeof TICKET_PREFIX - 1;
	dot = memchr(text, '.', len);
	if (!dot)
		return TICKET_INVALID;
	plen_text = (size_t)(dot - text);
	unsigned char payload[PAYLOAD_MAX + 1], sig[crypto_sign_BYTES];
	size_t plen, siglen;
	const char *end;
	if (sodium_base642bin(payload, PAYLOAD_MAX, text, plen_text, NULL, &plen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != dot)
		return TICKET_INVALID;
	const char *s = dot + 1;
	size_t slen = len - plen_text - 1;
	if (sodium_base642bin(sig, sizeof sig, s, slen, NULL, &siglen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + slen || siglen != sizeof sig)
		return TICKET_INVALID;
	unsigned char msg[sizeof SIGN_CONTEXT + PAYLOAD_MAX];
	size_t msglen;
	if (sign_over((const char *)payload, plen, msg, &msglen) != 0 ||
	    crypto_sign_verify_detached(sig, msg, msglen, pk) != 0)
		return TICKET_INVALID;
	/* signed by the server: now the contents */
	json_error_t jerr;
	json_t *j = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, &jerr);
	enum ticket_result rc = TICKET_INVALID;
	struct ticket t = {0};
	const char *role = json_string_value(json_object_get(j, "role"));
	const char *relay = json_string_value(json_object_get(j, "relay"));
	const char *nonce = json_string_value(json_object_get(j, "nonce"));
	json_t *exp = json_object_get(j, "exp");
	size_t nlen;
	if (json_is_object(j) && copy_id(j, "sid", t.session_id) && copy_id(j, "screen", t.screen_id) &&
	    copy_id(j, "user", t.user_id) && role && (strcmp(role, "guest") == 0 || strcmp(role, "host") == 0) &&
	    relay && relay[0] && strlen(relay) < TICKET_RELAY_MAX && json_is_integer(exp) && nonce &&
	    sodium_base642bin(t.nonce, sizeof t.nonce, nonce, strlen(nonce), NULL, &nlen, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
	    nlen == sizeof t.nonce) {
		t.role = strcmp(role, "host") == 0 ? TICKET_HOST : TICKET_GUEST;
		memcpy(t.relay, relay, strlen(relay) + 1);
		t.expires_at = json_integer_value(exp);
		if (t.expires_at > now + TICKET_LIFETIME_MAX)
			rc = TICKET_INVALID; /* no server signs a longer life */
		else if (t.expires_at <= now)
			rc = TICKET_EXPIRED;
		else
			rc = TICKET_OK;
	}
	json_decref(j);
	if (rc == TICKET_OK && out)
		*out = t;
	return rc;
}

const char *ticket_result_code(enum ticket_result r)
{
	switch (r) {
	case TICKET_OK:
		return "";
	case TICKET_EXPIRED:
		return "ticket_expired";
	case TICKET_INVALID:
		break;
	}
	return "ticket_invalid";
}
