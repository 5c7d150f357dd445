/* Release signature files: parsing, checks, signing; see release.h. */
#include "release.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codes.h"
#include "sha256_file.h"
#include "strfmt.h"

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-"

const char *release_name_problem(const char *name)
{
	static const char why[] = "name must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a "
	                          "letter or a digit (\"vitrine-player\")";
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > RELEASE_NAME_MAX || strspn(name, NAME_CHARS) != n)
		return why;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return why;
	return NULL;
}

/* Splits a version into its numbers; returns how many, or 0 when it is
 * not a version. */
static int version_parts(const char *v, uint32_t parts[RELEASE_VERSION_PARTS])
{
	if (!v)
		return 0;
	int count = 0;
	const char *p = v;
	for (;;) {
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || digits > RELEASE_VERSION_DIGITS || count == RELEASE_VERSION_PARTS)
			return 0;
		uint32_t n = 0;
		for (size_t i = 0; i < digits; i++)
			n = n * 10 + (uint32_t)(p[i] - '0');
		parts[count++] = n;
		p += digits;
		if (*p == '\0')
			break;
		if (*p != '.')
			return 0;
		p++;
	}
	for (int i = count; i < RELEASE_VERSION_PARTS; i++)
		parts[i] = 0;
	return count;
}

const char *release_version_problem(const char *version)
{
	uint32_t parts[RELEASE_VERSION_PARTS];
	return version_parts(version, parts) ? NULL
	                                     : "version must be 1 to 4 dot-separated numbers of 1 to 9 digits each "
	                                       "(\"1.4.2\")";
}

int release_version_compare(const char *a, const char *b)
{
	uint32_t pa[RELEASE_VERSION_PARTS], pb[RELEASE_VERSION_PARTS];
	bool va = version_parts(a, pa) > 0, vb = version_parts(b, pb) > 0;
	if (!va || !vb)
		return (int)va - (int)vb;
	for (int i = 0; i < RELEASE_VERSION_PARTS; i++)
		if (pa[i] != pb[i])
			return pa[i] < pb[i] ? -1 : 1;
	return 0;
}

int release_version_key(const char *version, char out[RELEASE_VERSION_KEY_LEN])
{
	uint32_t parts[RELEASE_VERSION_PARTS];
	if (!version_parts(version, parts))
		return -1;
	int n = snprintf(out, RELEASE_VERSION_KEY_LEN, "%09u.%09u.%09u.%09u", (unsigned)parts[0], (unsigned)parts[1],
	                 (unsigned)parts[2], (unsigned)parts[3]);
	return n == RELEASE_VERSION_KEY_LEN - 1 ? 0 : -1;
}

size_t release_signed_message(const struct release_signature *sig, char out[RELEASE_MESSAGE_MAX])
{
	int n = snprintf(out, RELEASE_MESSAGE_MAX, RELEASE_FORMAT "\n%s\n%s\n%s\n%llu\n", sig->name, sig->version,
	                 sig->sha256, (unsigned long long)sig->size);
	return n > 0 && (size_t)n < RELEASE_MESSAGE_MAX ? (size_t)n : 0;
}

/* Decodes exactly want bytes of standard base64 (with its padding). */
static bool decode_b64(const char *text, unsigned char *out, size_t want)
{
	size_t got = 0;
	const char *end = NULL;
	if (!text ||
	    sodium_base642bin(out, want, text, strlen(text), NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	return got == want && end && *end == '\0';
}

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* The string member key of obj, or NULL after a sentence in err. */
static const char *string_member(json_t *obj, const char *key, char *err, size_t errsz)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		fail(err, errsz, "the signature file has no \"%s\"", key);
	else if (!json_is_string(v))
		fail(err, errsz, "\"%s\" of the signature file must be a string", key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int check_fields(const struct release_signature *s, char *err, size_t errsz)
{
	const char *problem = release_name_problem(s->name);
	if (!problem)
		problem = release_version_problem(s->version);
	if (problem) {
		snprintf(err, errsz, "%s", problem);
		return -1;
	}
	if (!codes_is_sha256(s->sha256))
		return fail(err, errsz, "%s must be 64 lower-case hex digits (the file's SHA-256)", "sha256");
	if (s->size < 1 || s->size > (uint64_t)INT64_MAX)
		return fail(err, errsz, "%s must be a whole number of bytes, at least 1", "size");
	return 0;
}

int release_signature_parse(const char *text, size_t len, struct release_signature *out, char *err, size_t errsz)
{
	static const char *const members[] = {"format", "name", "version", "sha256", "size", "key", "signature"};
	memset(out, 0, sizeof *out);
	if (len > RELEASE_SIGNATURE_FILE_MAX) {
		snprintf(err, errsz, "the signature file is larger than %d bytes", RELEASE_SIGNATURE_FILE_MAX);
		return -1;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = -1;
	if (!doc || !json_is_object(doc)) {
		if (doc)
			snprintf(err, errsz, "the signature file must be a JSON object");
		else
			snprintf(err, errsz, "the signature file is not JSON (line %d: %.120s)", jerr.line, jerr.text);
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach (doc, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
			known |= strcmp(key, members[i]) == 0;
		if (!known) {
			snprintf(err, errsz, "the signature file has an unknown member \"%.40s\" (it has %s)", key,
			         "format, name, version, sha256, size, key and signature");
			goto out;
		}
	}
	const char *format = string_member(doc, "format", err, errsz);
	if (!format)
		goto out;
	if (strcmp(format, RELEASE_FORMAT) != 0) {
		snprintf(err, errsz, "format must be \"%s\" (got \"%.40s\")", RELEASE_FORMAT, format);
		goto out;
	}
	const char *name = string_member(doc, "name", err, errsz), *version, *sha256;
	if (!name || !(version = string_member(doc, "version", err, errsz)) ||
	    !(sha256 = string_member(doc, "sha256", err, errsz)))
		goto out;
	json_t *size = json_object_get(doc, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 1) {
		fail(err, errsz, "%s must be a whole number of bytes, at least 1", "size");
		goto out;
	}
	/* too long to be valid: the checks below say why, on a cut copy */
	snprintf(out->name, sizeof out->name, "%s", strlen(name) < sizeof out->name ? name : "");
	snprintf(out->version, sizeof out->version, "%s", strlen(version) < sizeof out->version ? version : "");
	snprintf(out->sha256, sizeof out->sha256, "%s", strlen(sha256) < sizeof out->sha256 ? sha256 : "");
	out->size = (uint64_t)json_integer_value(size);
	if (check_fields(out, err, errsz) != 0)
		goto out;
	const char *pk = string_member(doc, "key", err, errsz), *sig;
	if (!pk)
		goto out;
	if (!decode_b64(pk, out->key, sizeof out->key)) {
		fail(err, errsz, "%s must be the base64 of a 32-byte Ed25519 public key", "key");
		goto out;
	}
	if (!(sig = string_member(doc, "signature", err, errsz)))
		goto out;
	if (!decode_b64(sig, out->signature, sizeof out->signature)) {
		fail(err, errsz, "%s must be the base64 of a 64-byte Ed25519 signature", "signature");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}

enum release_verdict release_signature_verify(const struct release_signature *sig, const unsigned char *trusted,
                                              size_t n, size_t *which, char *err, size_t errsz)
{
	size_t i = 0;
	while (i < n && memcmp(trusted + i * sizeof sig->key, sig->key, sizeof sig->key) !=
	                    0) /* public keys: no secret to time */
		i++;
	if (i == n) {
		char b64[RELEASE_KEY_B64_LEN];
		sodium_bin2base64(b64, sizeof b64, sig->key, sizeof sig->key, sodium_base64_VARIANT_ORIGINAL);
		snprintf(err, errsz, "the release is signed by a key that is not trusted (%s)", b64);
		return RELEASE_UNTRUSTED_KEY;
	}
	char msg[RELEASE_MESSAGE_MAX];
	size_t len = release_signed_message(sig, msg);
	if (len == 0 || crypto_sign_verify_detached(sig->signature, (const unsigned char *)msg, len, sig->key) != 0) {
		snprintf(
		    err, errsz,
		    "the signature does not match the release's name, version, sha256 and size: the signature file "
		    "was altered or signed for another file");
		return RELEASE_BAD_SIGNATURE;
	}
	if (which)
		*which = i;
	return RELEASE_VALID;
}

int release_sign(const char *name, const char *version, const char *sha256, uint64_t size,
                 const unsigned char sk[crypto_sign_SECRETKEYBYTES], struct release_signature *out, char *err,
                 size_t errsz)
{
	memset(out, 0, sizeof *out);
	const char *problem = release_name_problem(name);
	if (!problem)
		problem = release_version_problem(version);
	if (problem) {
		snprintf(err, errsz, "%s", problem);
		return -1;
	}
	snprintf(out->name, sizeof out->name, "%s", name);
	snprintf(out->version, sizeof out->version, "%s", version);
	snprintf(out->sha256, sizeof out->sha256, "%s", sha256 && strlen(sha256) == 64 ? sha256 : "");
	out->size = size;
	if (check_fields(out, err, errsz) != 0)
		return -1;
	crypto_sign_ed25519_sk_to_pk(out->key, sk);
	char msg[RELEASE_MESSAGE_MAX];
	size_t len = release_signed_message(out, msg);
	if (len == 0 || crypto_sign_detached(out->signature, NULL, (const unsigned char *)msg, len, sk) != 0) {
		snprintf(err, errsz, "the release could not be signed");
		return -1;
	}
	return 0;
}

size_t release_signature_format(const struct release_signature *sig, char *out, size_t outsz)
{
	char key[RELEASE_KEY_B64_LEN], signature[RELEASE_SIG_B64_LEN];
	sodium_bin2base64(key, sizeof key, sig->key, sizeof sig->key, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(signature, sizeof signature, sig->signature, sizeof sig->signature,
	                  sodium_base64_VARIANT_ORIGINAL);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "format", RELEASE_FORMAT, "name", sig->name,
	                        "version", sig->version, "sha256", sig->sha256, "size", (json_int_t)sig->size, "key",
	                        key, "signature", signature);
	size_t n = doc ? json_dumpb(doc, out, outsz, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : 0;
	json_decref(doc);
	if (n == 0 || n + 2 > outsz)
		return 0;
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

int release_hash_file(const char *path, char sha256[65], uint64_t *size, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || sha256_file_fd(fd, sha256, size) != 0) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (*size == 0) {
		snprintf(err, errsz, "%s is empty: a release has at least one byte", path);
		return -1;
	}
	return 0;
}

int release_sign_file(const char *path, const char *name, const char *version,
                      const unsigned char sk[crypto_sign_SECRETKEYBYTES], const char *out,
                      struct release_signature *sig, char *written, size_t writtensz, char *err, size_t errsz)
{
	char sha256[65], text[RELEASE_SIGNATURE_FILE_MAX], tmp[4200];
	uint64_t size;
	if (out ? strfmt(written, writtensz, "%s", out) != 0
	        : strfmt(written, writtensz, "%s" RELEASE_SIGNATURE_SUFFIX, path) != 0) {
		snprintf(err, errsz, "the signature file's path is too long");
		return -1;
	}
	if (release_hash_file(path, sha256, &size, err, errsz) != 0 ||
	    release_sign(name, version, sha256, size, sk, sig, err, errsz) != 0)
		return -1;
	size_t len = release_signature_format(sig, text, sizeof text);
	if (len == 0 || strfmt(tmp, sizeof tmp, "%s.tmp%ld", written, (long)getpid()) != 0) {
		snprintf(err, errsz, "the signature file of %s could not be made", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	int saved = errno;
	if (fd >= 0 && close(fd) != 0 && ok) {
		saved = errno;
		ok = false;
	}
	if (ok && rename(tmp, written) != 0) {
		saved = errno;
		ok = false;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errsz, "cannot write %s: %s", written, strerror(saved));
		return -1;
	}
	return 0;
}
