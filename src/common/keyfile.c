/* Ed25519 key files; see keyfile.h. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strfmt.h"

int keyfile_create(const char *path, bool exist_ok, char *err, size_t errsz)
{
	char tmp[4200];
	if (strfmt(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) != 0) {
		snprintf(err, errsz, "the key file's path is too long: %s", path);
		return -1;
	}
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk, sk);
	unlink(tmp); /* a leftover of a crash */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, sk, sizeof sk) == (ssize_t)sizeof sk && fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	sodium_memzero(sk, sizeof sk);
	bool exists = false;
	if (ok && link(tmp, path) != 0) {
		saved = errno;
		exists = errno == EEXIST;
		ok = false;
	}
	unlink(tmp);
	if (ok || (exists && exist_ok))
		return 0;
	if (exists)
		snprintf(err, errsz, "%s exists already: a key file is never overwritten", path);
	else
		snprintf(err, errsz, "cannot write %s: %s", path, strerror(saved));
	return -1;
}

int keyfile_read(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES], char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ssize_t n = S_ISREG(st.st_mode) && st.st_size == (off_t)crypto_sign_SECRETKEYBYTES
	                ? read(fd, sk, crypto_sign_SECRETKEYBYTES)
	                : -1;
	if (n == (ssize_t)crypto_sign_SECRETKEYBYTES && (st.st_mode & 077))
		(void)!fchmod(fd, 0600); /* a copy of a key made readable by others: narrowed again */
	close(fd);
	if (n != (ssize_t)crypto_sign_SECRETKEYBYTES) {
		sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
		snprintf(err, errsz,
		         "%s is not a key file (damaged, or another file): it must hold exactly a %d-byte Ed25519 "
		         "secret key",
		         path, (int)crypto_sign_SECRETKEYBYTES);
		return -1;
	}
	return 0;
}

int keyfile_load(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES], char *err, size_t errsz)
{
	if (access(path, F_OK) != 0 && keyfile_create(path, true, err, errsz) != 0)
		return -1;
	return keyfile_read(path, sk, err, errsz);
}

void keyfile_public_b64(const unsigned char sk[crypto_sign_SECRETKEYBYTES], char out[KEYFILE_PUBLIC_B64_LEN])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	sodium_bin2base64(out, KEYFILE_PUBLIC_B64_LEN, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
}
