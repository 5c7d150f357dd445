/*
 * The server's ticket-signing key: one Ed25519 key pair per data folder, in
 * DATA/keys/relay-signing.secret (the 64-byte libsodium secret key, which
 * holds the public key too; mode 0600). `init` creates it, and so does the
 * first start of a data folder made before remote control; `vitrine-server
 * relay-key` prints the public half, which relays are given (--server-key)
 * to check tickets offline. A new file is written under a temporary name
 * and linked into place, so a crash or two servers starting at once never
 * leave a half-written key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/strfmt.h"
#include "remote.h"

static unsigned char signing_sk[crypto_sign_SECRETKEYBYTES];
static bool loaded;

static int write_new_key(const char *path, const char *tmp, char *err, size_t errsz)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	crypto_sign_keypair(pk, sk);
	unlink(tmp); /* a leftover of a crash */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	bool ok = fd >= 0 && write(fd, sk, sizeof sk) == (ssize_t)sizeof sk && fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	sodium_memzero(sk, sizeof sk);
	/* link() never replaces: a key another process put there first wins */
	if (ok && link(tmp, path) != 0 && errno != EEXIST) {
		saved = errno;
		ok = false;
	}
	unlink(tmp);
	if (!ok)
		snprintf(err, errsz, "cannot write %s: %s", path, strerror(saved));
	return ok ? 0 : -1;
}

int remote_key_load(const char *data_dir, char *err, size_t errsz)
{
	char path[4096], tmp[4096];
	if (strfmt(path, sizeof path, "%s/keys/" REMOTE_KEY_FILE, data_dir) != 0 ||
	    strfmt(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) != 0) {
		snprintf(err, errsz, "the data folder's path is too long: %s", data_dir);
		return -1;
	}
	if (access(path, F_OK) != 0 && write_new_key(path, tmp, err, errsz) != 0)
		return -1;
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_mode & 077)
		(void)!fchmod(fd, 0600); /* a copy made readable by others: narrowed again */
	ssize_t n = st.st_size == (off_t)sizeof signing_sk ? read(fd, signing_sk, sizeof signing_sk) : -1;
	close(fd);
	if (n != (ssize_t)sizeof signing_sk) {
		sodium_memzero(signing_sk, sizeof signing_sk);
		snprintf(err, errsz, "%s is damaged: it must hold a %zu-byte Ed25519 secret key", path,
		         sizeof signing_sk);
		return -1;
	}
	loaded = true;
	return 0;
}

const unsigned char *remote_key_secret(void)
{
	return loaded ? signing_sk : NULL;
}

void remote_key_public_b64(char out[REMOTE_KEY_B64LEN])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	crypto_sign_ed25519_sk_to_pk(pk, signing_sk);
	sodium_bin2base64(out, REMOTE_KEY_B64LEN, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
}

void remote_key_forget(void)
{
	sodium_memzero(signing_sk, sizeof signing_sk);
	loaded = false;
}
