/*
 * Ed25519 key files: the 64-byte secret key in libsodium's form (which
 * holds the public key too), nothing else, mode 0600. The server keeps its
 * ticket-signing and release-signing keys so (DATA/keys/relay-signing.secret
 * and release-signing.secret), and `vitrine release keygen` writes a
 * publisher's key the same way. A new file
 * is written under a temporary name and linked into place: link() never
 * replaces, so a crash leaves no half-written key, and of two processes
 * creating the same key the first one wins and both use it.
 */
#ifndef VITRINE_KEYFILE_H
#define VITRINE_KEYFILE_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define KEYFILE_PUBLIC_B64_LEN sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)

/* Writes a new key pair to path. When path exists already: 0 if
 * exist_ok (the key there stays), else -1 with a sentence (a key is never
 * overwritten). Returns 0, or -1 with a sentence in err. */
int keyfile_create(const char *path, bool exist_ok, char *err, size_t errsz);

/* Reads the secret key of path into sk; a file readable by others is
 * narrowed to 0600 on the way. Returns 0, or -1 with a sentence in err
 * (missing, unreadable, or not exactly a key). */
int keyfile_read(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES], char *err, size_t errsz);

/* keyfile_read, creating the key first when path does not exist. */
int keyfile_load(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES], char *err, size_t errsz);

/* The public half of sk in standard base64 (one line, no newline). */
void keyfile_public_b64(const unsigned char sk[crypto_sign_SECRETKEYBYTES], char out[KEYFILE_PUBLIC_B64_LEN]);

#endif
