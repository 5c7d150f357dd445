/*
 * The server's ticket-signing key: one Ed25519 key pair per data folder, in
 * DATA/keys/relay-signing.secret (a key file, common/keyfile.h). `init`
 * creates it, and so does the first start of a data folder made before
 * remote control; `vitrine-server relay-key` prints the public half, which
 * relays are given (--server-key) to check tickets offline.
 */
#include <stdio.h>

#include "../../common/keyfile.h"
#include "../../common/strfmt.h"
#include "remote.h"

static unsigned char signing_sk[crypto_sign_SECRETKEYBYTES];
static bool loaded;

int remote_key_load(const char *data_dir, char *err, size_t errsz)
{
	char path[4096];
	if (strfmt(path, sizeof path, "%s/keys/" REMOTE_KEY_FILE, data_dir) != 0) {
		snprintf(err, errsz, "the data folder's path is too long: %s", data_dir);
		return -1;
	}
	loaded = keyfile_load(path, signing_sk, err, errsz) == 0;
	return loaded ? 0 : -1;
}

const unsigned char *remote_key_secret(void)
{
	return loaded ? signing_sk : NULL;
}

void remote_key_public_b64(char out[REMOTE_KEY_B64LEN])
{
	keyfile_public_b64(signing_sk, out);
}

void remote_key_forget(void)
{
	sodium_memzero(signing_sk, sizeof signing_sk);
	loaded = false;
}
