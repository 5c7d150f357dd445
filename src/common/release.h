/*
 * Signed releases (OTA updates): the detached signature file that goes with
 * a release file, and its checks. Shared by the server (which refuses an
 * upload whose signature does not hold before it reads the body), the CLI
 * (which signs) and the player (which checks again before installing).
 *
 * A signature file is JSON (at most RELEASE_SIGNATURE_FILE_MAX bytes):
 *
 *   {"format":"vitrine-release-1","name":"vitrine-player","version":"1.4.2",
 *    "sha256":"<64 lower-case hex>","size":N,"key":"<base64 Ed25519 public key>",
 *    "signature":"<base64 of the 64-byte Ed25519 signature>"}
 *
 * The signature is over the exact bytes
 *
 *   "vitrine-release-1\n" name "\n" version "\n" sha256 "\n" size "\n"
 *
 * (size in decimal), so the name, the version, the file's hash and its size
 * are bound together: changing any one of them breaks the signature. name:
 * 1-64 characters of [a-z0-9._-], starting with a letter or a digit;
 * version: 1 to 4 dot-separated numbers of 1 to 9 digits ("1.4.2"),
 * compared numerically (1.10 > 1.9, 1.4 == 1.4.0); size: at least 1. No
 * other member is allowed: what the signature does not cover is not in the
 * file. "key" says which key signed; the verifier decides whether it trusts
 * that key (release_signature_verify).
 *
 * Every function is pure but release_hash_file; buffers are the caller's.
 */
#ifndef VITRINE_RELEASE_H
#define VITRINE_RELEASE_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define RELEASE_FORMAT             "vitrine-release-1"
#define RELEASE_NAME_MAX           64
#define RELEASE_VERSION_PARTS      4
#define RELEASE_VERSION_DIGITS     9
#define RELEASE_VERSION_MAX        (RELEASE_VERSION_PARTS * (RELEASE_VERSION_DIGITS + 1) - 1) /* 39 */
#define RELEASE_VERSION_KEY_LEN    (RELEASE_VERSION_PARTS * (RELEASE_VERSION_DIGITS + 1))     /* with the NUL */
#define RELEASE_SIGNATURE_FILE_MAX 2048                                                       /* bytes */
#define RELEASE_KEY_B64_LEN        sodium_base64_ENCODED_LEN(crypto_sign_PUBLICKEYBYTES, sodium_base64_VARIANT_ORIGINAL)
#define RELEASE_SIG_B64_LEN        sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)
#define RELEASE_ERR_LEN            256 /* room for any sentence of this module */

struct release_signature {
	char name[RELEASE_NAME_MAX + 1];
	char version[RELEASE_VERSION_MAX + 1];
	char sha256[65];
	uint64_t size;
	unsigned char key[crypto_sign_PUBLICKEYBYTES];
	unsigned char signature[crypto_sign_BYTES];
};

enum release_verdict {
	RELEASE_VALID = 0,
	RELEASE_UNTRUSTED_KEY, /* signed by a key that is not in the trusted list */
	RELEASE_BAD_SIGNATURE, /* the key is trusted but the signature does not match the fields */
};

/* NULL when name is a release name, else a sentence saying why not
 * (static text). */
const char *release_name_problem(const char *name);
/* NULL when version is a release version, else a sentence (static text). */
const char *release_version_problem(const char *version);

/* Compares two release versions numerically: <0, 0 or >0. A missing part
 * counts as 0 (1.4 == 1.4.0). Both must be versions (release_version_problem
 * NULL); anything else sorts before every version. */
int release_version_compare(const char *a, const char *b);

/* The version as a text that sorts like release_version_compare and is
 * equal exactly when the versions compare equal: four parts of nine digits
 * ("000000001.000000004.000000002.000000000"), for a database column.
 * Returns 0, or -1 when version is not a version. */
int release_version_key(const char *version, char out[RELEASE_VERSION_KEY_LEN]);

/* Parses a signature file (len bytes, not necessarily NUL-terminated).
 * Returns 0 with out filled, or -1 with a sentence in err that names the
 * field at fault ("version must be 1 to 4 dot-separated numbers ...").
 * The signature itself is not checked here. */
int release_signature_parse(const char *text, size_t len, struct release_signature *out, char *err, size_t errsz);

/* Checks sig against n trusted public keys (trusted: n keys of 32 bytes
 * one after the other). Returns
 * RELEASE_VALID with *which (if given) the index of the key that signed,
 * or the verdict with a sentence in err. */
enum release_verdict release_signature_verify(const struct release_signature *sig, const unsigned char *trusted,
                                              size_t n, size_t *which, char *err, size_t errsz);

/* Signs name, version, sha256 and size with the Ed25519 secret key sk
 * (64 bytes, libsodium's form, which holds the public key) into out, whose
 * fields are checked as release_signature_parse checks them. Returns 0, or
 * -1 with a sentence in err. */
int release_sign(const char *name, const char *version, const char *sha256, uint64_t size,
                 const unsigned char sk[crypto_sign_SECRETKEYBYTES], struct release_signature *out, char *err,
                 size_t errsz);

/* Writes the signature file of sig (JSON, one member a line, a final
 * newline) into out[outsz]. Returns its length, or 0 when it does not fit
 * (RELEASE_SIGNATURE_FILE_MAX always does). */
size_t release_signature_format(const struct release_signature *sig, char *out, size_t outsz);

/* The signed message of sig into out (RELEASE_MESSAGE_MAX bytes). Returns
 * its length. */
#define RELEASE_MESSAGE_MAX (sizeof RELEASE_FORMAT + RELEASE_NAME_MAX + RELEASE_VERSION_MAX + 64 + 20 + 4)
size_t release_signed_message(const struct release_signature *sig, char out[RELEASE_MESSAGE_MAX]);

/* SHA-256 (lower-case hex) and size of the file at path, read in chunks.
 * Returns 0, or -1 with a sentence in err. */
int release_hash_file(const char *path, char sha256[65], uint64_t *size, char *err, size_t errsz);

/* Signs the file at path as release name and version with sk: hashes it,
 * signs, and writes the signature file to out (NULL: path + ".vsig"),
 * replacing an older one at once (temporary file, rename). sig gets what
 * was signed, written[writtensz] the signature file's path. Returns 0, or
 * -1 with a sentence in err. */
#define RELEASE_SIGNATURE_SUFFIX ".vsig"
int release_sign_file(const char *path, const char *name, const char *version,
                      const unsigned char sk[crypto_sign_SECRETKEYBYTES], const char *out,
                      struct release_signature *sig, char *written, size_t writtensz, char *err, size_t errsz);

#endif
