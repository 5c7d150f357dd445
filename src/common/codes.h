/*
 * Identifiers, secrets and the codes people type. Everything random comes
 * from libsodium. Opaque ids and tokens are lower-case RFC 4648 base32 (no
 * padding); tokens are stored only as their SHA-256 (hex). User codes use
 * the unambiguous alphabet of PROTOCOL.md (no 0/O/1/I).
 * All output buffers are caller-owned; sizes are given by the *_LEN macros.
 */
#ifndef VITRINE_CODES_H
#define VITRINE_CODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CODES_ID_LEN             16 /* 80 random bits, base32 */
#define CODES_TOKEN_BYTES        32 /* 256 random bits */
#define CODES_TOKEN_LEN          56 /* prefix (3) + base32 of 32 bytes (52) + NUL */
#define CODES_HASH_HEX_LEN       65 /* SHA-256 hex + NUL */
#define CODES_USER_CODE_LEN      8
#define CODES_USER_CODE_ALPHABET "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

/* base32 (lower case, no padding). Returns the length written, excluding the
 * NUL, or 0 when out is too small. */
size_t codes_base32_encode(const uint8_t *in, size_t len, char *out, size_t outsz);

/* A fresh opaque id: CODES_ID_LEN chars + NUL into out[CODES_ID_LEN + 1]. */
void codes_new_id(char out[CODES_ID_LEN + 1]);

/* True if s looks like an id made by codes_new_id (length and alphabet). */
bool codes_is_id(const char *s);

/* A fresh 256-bit token with a 3-char prefix such as "vs_" or "vt_". */
void codes_new_token(const char *prefix3, char out[CODES_TOKEN_LEN]);

/* SHA-256 of s as lower-case hex. */
void codes_hash_hex(const char *s, size_t len, char out[CODES_HASH_HEX_LEN]);

/* Constant-time equality of two NUL-terminated strings (time depends only
 * on the lengths). */
bool codes_equal(const char *a, const char *b);

/* A user code (8 chars of CODES_USER_CODE_ALPHABET) into out[9]. */
void codes_new_user_code(char out[CODES_USER_CODE_LEN + 1]);

/* Normalises a typed user code: drops '-' and spaces, upper-cases, checks
 * alphabet and length. Returns false when it cannot be a code. */
bool codes_normalize_user_code(const char *in, char out[CODES_USER_CODE_LEN + 1]);

/* Hex encoding (lower case, libsodium's constant-time sodium_bin2hex) of
 * raw bytes; out needs 2*len+1 bytes. */
void codes_hex(const uint8_t *in, size_t len, char *out);

/* True if s is a SHA-256 as codes_hex writes it: exactly 64 lower-case hex
 * digits (the content address of a medium). NULL is not. */
bool codes_is_sha256(const char *s);

#endif
