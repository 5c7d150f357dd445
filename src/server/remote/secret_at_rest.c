/*
 * The session secret at rest: a remote_session instruction is stored
 * before the screen's long-poll delivers it, and the secret it carries must
 * not be stored in the clear. The stored payload holds it sealed
 * (secretbox, field "secret_sealed") with a key derived from the server's
 * ticket-signing key; remote_payload_for_host opens it as the instruction
 * is delivered to the screen, remote_payload_for_users drops it (and the
 * host's ticket) from what users read. Used by sessions.c (sealing) and
 * screens/instructions.c (delivery), which otherwise do not know each
 * other's internals.
 */
#include <string.h>

#include "remote.h"

#define SECRET_B64_LEN sodium_base64_ENCODED_LEN(REMOTE_SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL)
#define SEALED_BYTES   (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + REMOTE_SECRET_BYTES)

/* The key that seals secrets in stored instructions: derived from the
 * ticket-signing key, so it lives and dies with it. */
static bool rest_key(unsigned char key[crypto_secretbox_KEYBYTES])
{
	static const char label[] = "vitrine remote session secret at rest v1";
	const unsigned char *sk = remote_key_secret();
	return sk && crypto_generichash(key, crypto_secretbox_KEYBYTES, (const unsigned char *)label, sizeof label - 1,
	                                sk, crypto_sign_SECRETKEYBYTES) == 0;
}

int remote_secret_seal(const uint8_t secret[REMOTE_SECRET_BYTES], char out[REMOTE_SEALED_B64_LEN])
{
	unsigned char key[crypto_secretbox_KEYBYTES], sealed[SEALED_BYTES];
	if (!rest_key(key))
		return -1;
	randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, secret, REMOTE_SECRET_BYTES, sealed, key);
	sodium_memzero(key, sizeof key);
	sodium_bin2base64(out, REMOTE_SEALED_B64_LEN, sealed, sizeof sealed, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

void remote_payload_for_host(json_t *payload)
{
	const char *text = json_string_value(json_object_get(payload, "secret_sealed"));
	unsigned char key[crypto_secretbox_KEYBYTES], sealed[SEALED_BYTES], secret[REMOTE_SECRET_BYTES];
	size_t len = 0;
	char b64[SECRET_B64_LEN];
	if (text &&
	    sodium_base642bin(sealed, sizeof sealed, text, strlen(text), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    len == sizeof sealed && rest_key(key)) {
		if (crypto_secretbox_open_easy(secret, sealed + crypto_secretbox_NONCEBYTES,
		                               sizeof sealed - crypto_secretbox_NONCEBYTES, sealed, key) == 0) {
			sodium_bin2base64(b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(payload, "session_secret", json_string(b64));
			sodium_memzero(b64, sizeof b64);
			sodium_memzero(secret, sizeof secret);
		}
		sodium_memzero(key, sizeof key);
	}
	/* without a secret the host cannot finish the handshake: it fails the
	 * session rather than running it with a wrong key */
	json_object_del(payload, "secret_sealed");
}

void remote_payload_for_users(json_t *payload)
{
	json_object_del(payload, "ticket");
	json_object_del(payload, "secret_sealed");
	json_object_del(payload, "session_secret");
}
