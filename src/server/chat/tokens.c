/*
 * Visitor tokens: what the widget sends back as "Authorization: Bearer" on
 * every call after POST .../visitor. A token is
 * "vv_<site id>.<visitor id>.<hex HMAC-SHA256(site key, site id.visitor id)>":
 * bound to the site and the visitor, checked without a store lookup of the
 * token itself, and worthless on another site (other id, other key).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "chat.h"

static void mac_hex(const struct chat_site *s, const char *visitor_id, char out[65])
{
	unsigned char key[32], mac[crypto_auth_hmacsha256_BYTES];
	size_t klen = 0;
	if (sodium_hex2bin(key, sizeof key, s->key, strlen(s->key), NULL, &klen, NULL) != 0 || klen != sizeof key) {
		/* a damaged key signs nothing that verifies */
		randombytes_buf(key, sizeof key);
	}
	char msg[2 * CODES_ID_LEN + 2];
	snprintf(msg, sizeof msg, "%s.%s", s->id, visitor_id);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, strlen(msg), key);
	sodium_bin2hex(out, 65, mac, sizeof mac);
	sodium_memzero(key, sizeof key);
}

int chat_token_make(const struct chat_site *s, const char *visitor_id, char out[CHAT_TOKEN_LEN])
{
	char mac[65];
	mac_hex(s, visitor_id, mac);
	int n = snprintf(out, CHAT_TOKEN_LEN, "vv_%s.%s.%s", s->id, visitor_id, mac);
	return n > 0 && n < CHAT_TOKEN_LEN ? 0 : -1;
}

bool chat_token_check(const struct chat_site *s, const char *token, char visitor_out[CODES_ID_LEN + 1])
{
	visitor_out[0] = '\0';
	if (!token || strlen(token) != 3 + CODES_ID_LEN + 1 + CODES_ID_LEN + 1 + 64 || strncmp(token, "vv_", 3) != 0)
		return false;
	const char *site = token + 3, *visitor = site + CODES_ID_LEN + 1, *mac = visitor + CODES_ID_LEN + 1;
	if (site[CODES_ID_LEN] != '.' || visitor[CODES_ID_LEN] != '.')
		return false;
	char sid[CODES_ID_LEN + 1], vid[CODES_ID_LEN + 1];
	memcpy(sid, site, CODES_ID_LEN);
	sid[CODES_ID_LEN] = '\0';
	memcpy(vid, visitor, CODES_ID_LEN);
	vid[CODES_ID_LEN] = '\0';
	if (strcmp(sid, s->id) != 0 || !chat_is_id(vid))
		return false;
	char want[65];
	mac_hex(s, vid, want);
	if (!codes_equal(want, mac))
		return false;
	memcpy(visitor_out, vid, sizeof vid);
	return true;
}

void chat_token_new_key(char out[65])
{
	unsigned char key[32];
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(out, 65, key, sizeof key);
	sodium_memzero(key, sizeof key);
}
