/* The SHA-256 of a file; see sha256_file.h. */
#include "sha256_file.h"

#include <errno.h>
#include <sodium.h>
#include <unistd.h>

#include "codes.h"

#define CHUNK (64u << 10)

int sha256_file_fd(int fd, char out[65], uint64_t *size)
{
	unsigned char buf[CHUNK], digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	uint64_t total = 0;
	for (;;) {
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)got);
		total += (uint64_t)got;
	}
	crypto_hash_sha256_final(&st, digest);
	codes_hex(digest, sizeof digest, out);
	*size = total;
	return 0;
}
