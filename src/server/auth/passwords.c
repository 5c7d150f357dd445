/*
 * Password policy and hashing. argon2id through libsodium's
 * crypto_pwhash_str; the hash string carries its own salt and parameters,
 * so parameters can be raised later without invalidating stored hashes.
 * Hashing is slow on purpose (~0.1 s, 64 MiB): callers run it on the
 * server's bounded work pool, never on a network thread.
 */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "../../common/utf8.h"
#include "auth.h"

struct auth_settings auth_settings = {
    .session_idle_s = 30 * 60,
    .session_max_s = 12 * 3600,
    .pwhash_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE,
    .pwhash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE,
};

const char *auth_password_problem(const char *password, const char *login)
{
	long len = utf8_chars(password);
	if (len < 0)
		return "the password is not valid UTF-8";
	if (len < AUTH_PASSWORD_MIN)
		return "the password must have at least 10 characters";
	if (strlen(password) > AUTH_PASSWORD_MAX)
		return "the password must have at most 256 bytes";
	if (login && strcasecmp(password, login) == 0)
		return "the password must not be the login name";
	/* compare whole characters, so "éééééééééé" counts as one repeated */
	int first = utf8_sequence((const unsigned char *)password);
	bool all_same = true;
	for (const char *p = password + first; *p; p += first)
		if (strncmp(p, password, (size_t)first) != 0)
			all_same = false;
	if (all_same)
		return "the password must not repeat a single character";
	return NULL;
}

const char *auth_login_problem(const char *login)
{
	size_t n = strlen(login);
	if (n < 2 || n > 64)
		return "the login must have 2 to 64 characters";
	for (const char *p = login; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		          c == '_' || c == '-' || c == '@';
		if (!ok)
			return "the login may only use letters, digits and . _ - @";
	}
	return NULL;
}

int auth_password_hash(const char *password, char *out)
{
	return crypto_pwhash_str(out, password, strlen(password), auth_settings.pwhash_opslimit,
	                         auth_settings.pwhash_memlimit);
}

bool auth_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void auth_password_generate(char out[17])
{
	static const char alpha[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (int i = 0; i < 16; i++)
		out[i] = alpha[randombytes_uniform(sizeof alpha - 1)];
	out[16] = '\0';
}
