/*
 * The player's one data folder (mode 0700): its Ed25519 key pair
 * (device.key, 0600), hardware id, access token (token, 0600), and
 * state.json (the last instruction done and the acknowledgements not yet
 * delivered). Every file is written atomically (temp file, fsync, rename),
 * so a power cut leaves either the old or the new version.
 *
 * Opening the folder is the watchdog's first half: each file is checked
 * and a damaged one is set aside (NAME.damaged) instead of stopping the
 * player. What cannot be rebuilt locally is asked of the server later
 * (manage.h): a damaged token is replaced by proving the pairing key, a
 * damaged key by a new one registered with the token, a damaged state
 * file by the configuration the server keeps. `restored` lists each
 * finding for the console.
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
	/* the watchdog's findings at start: [{file, problem, action}] */
	json_t *restored;
	bool need_token;    /* token damaged: recover it with the pairing key */
	bool need_key_sent; /* key damaged: a new one was made; tell the server */
	bool need_config;   /* state.json or device_id damaged: ask the server */
};

/* Creates the folder and the key pair on first use, loads the rest.
 * Returns 0, or -1 with a sentence in err. */
int state_open(struct player_state *st, const char *dir, char *err, size_t errsz);
void state_close(struct player_state *st);

int state_save(struct player_state *st); /* state.json */
int state_save_token(struct player_state *st, const char *token, const char *device_id);
void state_forget_token(struct player_state *st);
/* Notes a watchdog finding (logged, and reported to the server). */
void state_note_restored(struct player_state *st, const char *file, const char *problem, const char *action);

/* Writes data to dir/name atomically with the given mode. */
int state_write_file(const char *dir, const char *name, const void *data, size_t len, int mode);

#endif
