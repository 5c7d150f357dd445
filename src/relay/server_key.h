/*
 * The server's Ed25519 public key file the relay is given (--server-key):
 * 32 raw bytes, or those bytes in base64 (standard or URL-safe, padded or
 * not) with surrounding whitespace allowed.
 */
#ifndef VITRINE_RELAY_SERVER_KEY_H
#define VITRINE_RELAY_SERVER_KEY_H

#include <sodium.h>
#include <stddef.h>

/* Returns 0 and fills pk, or -1 when buf is neither form. */
int server_key_parse(const unsigned char *buf, size_t len, unsigned char pk[crypto_sign_PUBLICKEYBYTES]);

#endif
