/*
 * The SHA-256 of a whole file, read in 64 KiB chunks (libsodium's
 * crypto_hash_sha256_*): how the CLI hashes what it uploads and a release
 * file is hashed before it is signed.
 */
#ifndef VITRINE_SHA256_FILE_H
#define VITRINE_SHA256_FILE_H

#include <stdint.h>

/* Hashes what fd reads from its current position to the end: out gets 64
 * lower-case hex digits and a NUL, *size the bytes read. Returns 0, or -1
 * with errno set by the failed read. */
int sha256_file_fd(int fd, char out[65], uint64_t *size);

#endif
