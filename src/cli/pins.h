/*
 * The CLI's pinned host keys of remote control (trust on first use): the
 * file `known_hosts` in the config folder (credentials.h), one line per
 * screen, `SERVER_URL SCREEN_ID BASE64KEY`, the key being the screen's
 * Ed25519 public key as the server handed it out the first time. The
 * folder is 0700, the file 0600, replaced atomically like the credentials.
 */
#ifndef VITRINE_CLI_PINS_H
#define VITRINE_CLI_PINS_H

#include <stddef.h>

#define PINS_FILE    "known_hosts"
#define PINS_KEY_MAX 64 /* room for a base64 key and its NUL */

/* Looks up the pin of (server, screen_id). Returns 1 with key set, 0 when
 * there is none (or no file), -1 when the file cannot be read (err). */
int pins_lookup(const char *dir, const char *server, const char *screen_id, char key[PINS_KEY_MAX], char *err,
                size_t errsz);

/* Pins key for (server, screen_id), replacing an older pin; key NULL
 * removes the pin. Lines that are not pins are dropped. Returns 0 or -1
 * (err). */
int pins_store(const char *dir, const char *server, const char *screen_id, const char *key, char *err, size_t errsz);

#endif
