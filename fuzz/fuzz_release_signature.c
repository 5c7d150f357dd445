/*
 * libFuzzer target: release signature files (src/common/release.c), what
 * the server reads from an upload's X-Release-Signature header and a
 * player from its server. A refused file has a sentence and leaves the
 * result zeroed; an accepted one has valid fields, formats to a file that
 * parses to the same fields, and verifies only against its own key (and
 * then only if its signature holds, which a fuzzer cannot make). Versions
 * compare equal to themselves and their key form agrees with the order.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct release_signature sig, again;
	char err[RELEASE_ERR_LEN] = "";
	if (release_signature_parse((const char *)data, size, &sig, err, sizeof err) != 0) {
		static const struct release_signature zero;
		if (!err[0] || memcmp(&sig, &zero, sizeof sig) != 0)
			abort();
		return 0;
	}
	if (release_name_problem(sig.name) || release_version_problem(sig.version) || sig.size < 1)
		abort();
	char text[RELEASE_SIGNATURE_FILE_MAX];
	size_t len = release_signature_format(&sig, text, sizeof text);
	if (len == 0 || release_signature_parse(text, len, &again, err, sizeof err) != 0 ||
	    memcmp(&sig, &again, sizeof sig) != 0)
		abort();
	unsigned char other[crypto_sign_PUBLICKEYBYTES];
	memcpy(other, sig.key, sizeof other);
	other[0] ^= 1;
	if (release_signature_verify(&sig, other, 1, NULL, err, sizeof err) != RELEASE_UNTRUSTED_KEY)
		abort();
	enum release_verdict v = release_signature_verify(&sig, sig.key, 1, NULL, err, sizeof err);
	if (v == RELEASE_UNTRUSTED_KEY)
		abort();
	if (release_version_compare(sig.version, sig.version) != 0)
		abort();
	char a[RELEASE_VERSION_KEY_LEN], b[RELEASE_VERSION_KEY_LEN];
	if (release_version_key(sig.version, a) != 0 || release_version_key("1.4.2", b) != 0)
		abort();
	int by_key = strcmp(a, b), by_compare = release_version_compare(sig.version, "1.4.2");
	if ((by_key > 0) != (by_compare > 0) || (by_key == 0) != (by_compare == 0))
		abort();
	return 0;
}
