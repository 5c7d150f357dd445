/* What the files of the updates area share (not for other areas). */
#ifndef VITRINE_UPDATES_INTERNAL_H
#define VITRINE_UPDATES_INTERNAL_H

#include <sodium.h>
#include <stddef.h>

#include "../../common/codes.h"
#include "updates.h"

struct db;

#define UPDATES_KEY_NAME_CHARS 64                           /* characters of a key's name */
#define UPDATES_KEY_NAME_MAX   (UPDATES_KEY_NAME_CHARS * 4) /* its bytes at most (UTF-8) */

/* The keys an account trusts, the server's own first (id "server"). */
struct updates_trusted {
	size_t count;
	/* one after the other: the list release_signature_verify takes */
	unsigned char public_keys[UPDATES_MAX_KEYS + 1][crypto_sign_PUBLICKEYBYTES];
	char ids[UPDATES_MAX_KEYS + 1][CODES_ID_LEN + 1];
	char names[UPDATES_MAX_KEYS + 1][UPDATES_KEY_NAME_MAX + 1];
};

/* Fills out with the account's trusted keys. Returns 0, or -1 when the
 * store failed (out then holds the server's key only). */
int updates_trusted_load(struct db *db, const char *account_id, struct updates_trusted *out);

/* The server's release public key (updates_key_load first). */
const unsigned char *updates_key_public(void);

#endif
