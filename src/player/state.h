/*
 * The player's one data folder (mode 0700): its Ed25519 key pair
 * (device.key, 0600), hardware id, access token (token, 0600), and
 * state.json (the last instruction done and the acknowledgements not yet
 * delivered). Every file is written atomically (temp file, fsync, rename),
 * so a power cut leaves either the old or the new version.
 */
#ifndef VITRINE_PLAYER_STATE_H
#define VITRINE_PLAYER_STATE_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/codes.h"

struct player_state {
	char dir[1024];
	uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
	uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
	char public_key_b64[64];
	char hardware_id[64];
	char token[CODES_TOKEN_LEN + 8]; /* empty while unpaired */
	char device_id[CODES_ID_LEN + 1];
	int64_t last_seq;     /* highest instruction sequence number done */
	json_t *pending_acks; /* [{id, status, result}] not yet delivered */
};

/* Creates the folder and the key pair on first use, loads the rest.
 * Returns 0, or -1 with a sentence in err. */
int state_open(struct player_state *st, const char *dir, char *err, size_t errsz);
void state_close(struct player_state *st);

int state_save(struct player_state *st); /* state.json */
int state_save_token(struct player_state *st, const char *token, const char *device_id);
void state_forget_token(struct player_state *st);

/* Writes data to dir/name atomically with the given mode. */
int state_write_file(const char *dir, const char *name, const void *data, size_t len, int mode);

#endif
