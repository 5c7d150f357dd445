/*
 * Unit tests of release signatures (src/common/release.c): a signature made
 * by release_sign parses and verifies against a list of trusted keys; a
 * change to any signed field breaks it, another key is "not trusted", and
 * every malformed signature file is refused with a sentence naming the
 * field. Also the numeric order of versions and the bounds of names and
 * versions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/release.h"

static unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
static unsigned char other_pk[crypto_sign_PUBLICKEYBYTES], other_sk[crypto_sign_SECRETKEYBYTES];

#define SHA "4f2b0c1e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"

static struct release_signature signed_sample(void)
{
	struct release_signature sig;
	char err[RELEASE_ERR_LEN];
	assert_int_equal(release_sign("vitrine-player", "1.4.2", SHA, 1234, sk, &sig, err, sizeof err), 0);
	return sig;
}

/* The signature file of sig with one member's JSON value replaced
 * (member NULL: none). */
static void file_with(const struct release_signature *sig, const char *member, const char *json_value, char *out,
                      size_t outsz)
{
	char key[RELEASE_KEY_B64_LEN], signature[RELEASE_SIG_B64_LEN], size[32];
	sodium_bin2base64(key, sizeof key, sig->key, sizeof sig->key, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(signature, sizeof signature, sig->signature, sizeof sig->signature,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(size, sizeof size, "%llu", (unsigned long long)sig->size);
	const char *names[] = {"format", "name", "version", "sha256", "size", "key", "signature"};
	char quoted[7][200];
	snprintf(quoted[0], sizeof quoted[0], "\"%s\"", RELEASE_FORMAT);
	snprintf(quoted[1], sizeof quoted[1], "\"%s\"", sig->name);
	snprintf(quoted[2], sizeof quoted[2], "\"%s\"", sig->version);
	snprintf(quoted[3], sizeof quoted[3], "\"%s\"", sig->sha256);
	snprintf(quoted[4], sizeof quoted[4], "%s", size);
	snprintf(quoted[5], sizeof quoted[5], "\"%s\"", key);
	snprintf(quoted[6], sizeof quoted[6], "\"%s\"", signature);
	size_t n = (size_t)snprintf(out, outsz, "{");
	for (int i = 0; i < 7; i++) {
		const char *v = member && strcmp(member, names[i]) == 0 ? json_value : quoted[i];
		if (!v) /* left out */
			continue;
		n += (size_t)snprintf(out + n, outsz - n, "%s\"%s\":%s", n > 1 ? "," : "", names[i], v);
	}
	snprintf(out + n, outsz - n, "}");
}

static void test_signed_release_parses_and_verifies(void **state)
{
	(void)state;
	struct release_signature sig = signed_sample(), got;
	char text[RELEASE_SIGNATURE_FILE_MAX], err[RELEASE_ERR_LEN];
	size_t len = release_signature_format(&sig, text, sizeof text);
	assert_true(len > 0 && text[len - 1] == '\n');
	assert_non_null(strstr(text, "\"format\": \"vitrine-release-1\""));
	assert_int_equal(release_signature_parse(text, len, &got, err, sizeof err), 0);
	assert_string_equal(got.name, "vitrine-player");
	assert_string_equal(got.version, "1.4.2");
	assert_string_equal(got.sha256, SHA);
	assert_int_equal(got.size, 1234);
	assert_memory_equal(got.key, pk, sizeof pk);
	unsigned char trusted[2][crypto_sign_PUBLICKEYBYTES];
	memcpy(trusted[0], other_pk, sizeof other_pk);
	memcpy(trusted[1], pk, sizeof pk);
	size_t which = 99;
	assert_int_equal(release_signature_verify(&got, trusted[0], 2, &which, err, sizeof err), RELEASE_VALID);
	assert_int_equal(which, 1);
	/* the signed message is exactly these bytes */
	static const char message[] = "vitrine-release-1\nvitrine-player\n1.4.2\n" SHA "\n1234\n";
	char msg[RELEASE_MESSAGE_MAX];
	assert_int_equal(release_signed_message(&got, msg), sizeof message - 1);
	assert_memory_equal(msg, message, sizeof message - 1);
	assert_int_equal(
	    crypto_sign_verify_detached(got.signature, (const unsigned char *)message, sizeof message - 1, pk), 0);
	/* compact JSON of the same members parses as well */
	char compact[RELEASE_SIGNATURE_FILE_MAX];
	file_with(&sig, NULL, NULL, compact, sizeof compact);
	assert_int_equal(release_signature_parse(compact, strlen(compact), &got, err, sizeof err), 0);
	assert_int_equal(release_signature_verify(&got, trusted[0], 2, NULL, err, sizeof err), RELEASE_VALID);
}

static void test_each_tampered_field_breaks_the_signature(void **state)
{
	(void)state;
	struct release_signature sig = signed_sample(), got;
	char other_key[RELEASE_KEY_B64_LEN], bad_sig[RELEASE_SIG_B64_LEN + 2];
	sodium_bin2base64(other_key, sizeof other_key, other_pk, sizeof other_pk, sodium_base64_VARIANT_ORIGINAL);
	unsigned char flipped[crypto_sign_BYTES];
	memcpy(flipped, sig.signature, sizeof flipped);
	flipped[10] ^= 0x01;
	bad_sig[0] = '"';
	sodium_bin2base64(bad_sig + 1, RELEASE_SIG_B64_LEN, flipped, sizeof flipped, sodium_base64_VARIANT_ORIGINAL);
	strcat(bad_sig, "\"");
	char quoted_other[RELEASE_KEY_B64_LEN + 2];
	snprintf(quoted_other, sizeof quoted_other, "\"%s\"", other_key);
	char other_sha[70] = "\"" SHA "\""; /* the signed hash with one digit changed */
	other_sha[5] = other_sha[5] == '0' ? '1' : '0';
	const struct {
		const char *member, *value;
	} changes[] = {
	    {"name", "\"vitrine-playe\""}, {"version", "\"1.4.3\""},
	    {"version", "\"1.4.2.0\""}, /* the same version numerically, but not the signed bytes */
	    {"sha256", other_sha},         {"size", "1235"},
	    {"signature", bad_sig},        {"key", quoted_other}, /* a trusted key, but not the one that signed */
	};
	unsigned char trusted[2][crypto_sign_PUBLICKEYBYTES];
	memcpy(trusted[0], pk, sizeof pk);
	memcpy(trusted[1], other_pk, sizeof other_pk);
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		char text[RELEASE_SIGNATURE_FILE_MAX], err[RELEASE_ERR_LEN];
		file_with(&sig, changes[i].member, changes[i].value, text, sizeof text);
		assert_int_equal(release_signature_parse(text, strlen(text), &got, err, sizeof err), 0);
		err[0] = '\0';
		assert_int_equal(release_signature_verify(&got, trusted[0], 2, NULL, err, sizeof err),
		                 RELEASE_BAD_SIGNATURE);
		assert_non_null(strstr(err, "signature does not match"));
	}
}

static void test_a_key_not_in_the_list_is_not_trusted(void **state)
{
	(void)state;
	struct release_signature sig = signed_sample();
	char err[RELEASE_ERR_LEN];
	unsigned char trusted[1][crypto_sign_PUBLICKEYBYTES];
	memcpy(trusted[0], other_pk, sizeof other_pk);
	assert_int_equal(release_signature_verify(&sig, trusted[0], 1, NULL, err, sizeof err), RELEASE_UNTRUSTED_KEY);
	assert_non_null(strstr(err, "not trusted"));
	assert_int_equal(release_signature_verify(&sig, NULL, 0, NULL, err, sizeof err), RELEASE_UNTRUSTED_KEY);
	/* signed by the other key: trusted only when that one is listed */
	struct release_signature by_other;
	assert_int_equal(release_sign("vitrine-player", "1.4.2", SHA, 1234, other_sk, &by_other, err, sizeof err), 0);
	assert_int_equal(release_signature_verify(&by_other, trusted[0], 1, NULL, err, sizeof err), RELEASE_VALID);
}

static void expect_refused(const char *text, const char *words)
{
	struct release_signature got;
	char err[RELEASE_ERR_LEN] = "";
	memset(&got, 0x55, sizeof got);
	if (release_signature_parse(text, strlen(text), &got, err, sizeof err) != -1)
		fail_msg("accepted: %s", text);
	if (!strstr(err, words))
		fail_msg("for %s the sentence \"%s\" does not say \"%s\"", text, err, words);
	struct release_signature zero;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&got, &zero, sizeof zero); /* nothing half-filled */
}

static void expect_member_refused(const struct release_signature *sig, const char *member, const char *value,
                                  const char *words)
{
	char text[RELEASE_SIGNATURE_FILE_MAX + 200];
	file_with(sig, member, value, text, sizeof text);
	expect_refused(text, words);
}

static void test_malformed_signature_files_name_the_field(void **state)
{
	(void)state;
	struct release_signature sig = signed_sample();
	expect_refused("", "not JSON");
	expect_refused("vitrine-release-1", "not JSON");
	expect_refused("{\"format\":", "not JSON");
	expect_refused("[1,2]", "JSON object");
	expect_refused("{}", "no \"format\"");
	expect_member_refused(&sig, "format", "\"vitrine-release-2\"", "format must be \"vitrine-release-1\"");
	expect_member_refused(&sig, "format", "1", "\"format\" of the signature file must be a string");
	const char *members[] = {"format", "name", "version", "sha256", "size", "key", "signature"};
	for (size_t i = 0; i < 7; i++) {
		char words[64];
		snprintf(words, sizeof words, "%s", members[i]);
		expect_member_refused(&sig, members[i], NULL, words); /* missing */
		if (strcmp(members[i], "size") != 0)
			expect_member_refused(&sig, members[i], "[]", words); /* not a string */
	}
	expect_member_refused(&sig, "name", "\"Vitrine\"", "name must be");
	expect_member_refused(&sig, "name", "\"a b\"", "name must be");
	expect_member_refused(&sig, "name", "\"..\"", "name must be");
	expect_member_refused(&sig, "name", "\"-x\"", "name must be");
	expect_member_refused(&sig, "name", "\"\"", "name must be");
	expect_member_refused(&sig, "version", "\"1.4.x\"", "version must be");
	expect_member_refused(&sig, "version", "\"v1.4\"", "version must be");
	expect_member_refused(&sig, "version", "1.4", "version");
	expect_member_refused(&sig, "sha256", "\"4F2B0C1E9D8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C\"",
	                      "sha256");
	expect_member_refused(&sig, "sha256", "\"4f2b\"", "sha256 must be 64 lower-case hex digits");
	expect_member_refused(&sig, "size", "0", "size must be");
	expect_member_refused(&sig, "size", "-5", "size must be");
	expect_member_refused(&sig, "size", "12.5", "size must be");
	expect_member_refused(&sig, "size", "\"1234\"", "size must be");
	expect_member_refused(&sig, "size", "99999999999999999999999", "not JSON"); /* beyond 64 bits */
	expect_member_refused(&sig, "key", "\"not base64!\"", "key must be the base64 of a 32-byte");
	expect_member_refused(&sig, "key", "\"AAAA\"", "key must be the base64 of a 32-byte");
	expect_member_refused(&sig, "signature", "\"AAAA\"", "signature must be the base64 of a 64-byte");
	/* a member the signature does not cover, and a member twice */
	char text[RELEASE_SIGNATURE_FILE_MAX + 200];
	file_with(&sig, NULL, NULL, text, sizeof text);
	char extra[sizeof text + 40];
	snprintf(extra, sizeof extra, "%.*s,\"signed_at\":1}", (int)strlen(text) - 1, text);
	expect_refused(extra, "unknown member \"signed_at\"");
	snprintf(extra, sizeof extra, "%.*s,\"name\":\"x\"}", (int)strlen(text) - 1, text);
	expect_refused(extra, "not JSON");
	/* too large a file is refused before it is parsed */
	char big[RELEASE_SIGNATURE_FILE_MAX + 2];
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, text, strlen(text));
	expect_refused(big, "larger than 2048 bytes");
}

static void test_versions_compare_numerically(void **state)
{
	(void)state;
	assert_true(release_version_compare("1.10", "1.9") > 0);
	assert_true(release_version_compare("1.9", "1.10") < 0);
	assert_int_equal(release_version_compare("1.4", "1.4.0"), 0);
	assert_int_equal(release_version_compare("1.4.0.0", "1.4"), 0);
	assert_int_equal(release_version_compare("01.004", "1.4"), 0);
	assert_true(release_version_compare("2", "1.999999999.999999999.999999999") > 0);
	assert_true(release_version_compare("0.0.0.1", "0") > 0);
	assert_true(release_version_compare("1.4.2", "1.4.10") < 0);
	assert_true(release_version_compare("garbage", "0") < 0); /* not a version: before every one */
	assert_int_equal(release_version_compare("x", "y"), 0);
	/* the key column sorts and matches the same way */
	char a[RELEASE_VERSION_KEY_LEN], b[RELEASE_VERSION_KEY_LEN];
	assert_int_equal(release_version_key("1.10", a), 0);
	assert_int_equal(release_version_key("1.9", b), 0);
	assert_true(strcmp(a, b) > 0);
	assert_string_equal(a, "000000001.000000010.000000000.000000000");
	assert_int_equal(release_version_key("1.4", a), 0);
	assert_int_equal(release_version_key("1.4.0.0", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(release_version_key("1.4.", a), -1);
}

static void test_name_and_version_bounds(void **state)
{
	(void)state;
	char name[RELEASE_NAME_MAX + 2];
	memset(name, 'a', sizeof name);
	name[RELEASE_NAME_MAX] = '\0';
	assert_null(release_name_problem(name)); /* 64 */
	name[RELEASE_NAME_MAX] = 'a';
	name[RELEASE_NAME_MAX + 1] = '\0';
	assert_non_null(release_name_problem(name)); /* 65 */
	assert_null(release_name_problem("a"));
	assert_null(release_name_problem("0.x_y-z"));
	assert_non_null(release_name_problem(NULL));
	assert_non_null(release_name_problem("a/b"));
	assert_non_null(release_name_problem("_a"));
	const char *good[] = {"1", "0", "1.4.2", "999999999", "999999999.999999999.999999999.999999999", "1.2.3.4"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (release_version_problem(good[i]))
			fail_msg("refused version %s", good[i]);
	assert_int_equal(strlen(good[4]), RELEASE_VERSION_MAX);
	const char *bad[] = {"",   "1000000000", "1.2.3.4.5", "1.", ".1",  "1..2", "1.a", "+1",
	                     " 1", "1 ",         "1.-2",      "-1", "1,2", "0x10", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (!release_version_problem(bad[i]))
			fail_msg("accepted version %s", bad[i] ? bad[i] : "(null)");
	/* signing checks the same */
	struct release_signature sig;
	char err[RELEASE_ERR_LEN];
	assert_int_equal(release_sign("Bad", "1.0", SHA, 1, sk, &sig, err, sizeof err), -1);
	assert_non_null(strstr(err, "name must be"));
	assert_int_equal(release_sign("ok", "1.0.", SHA, 1, sk, &sig, err, sizeof err), -1);
	assert_non_null(strstr(err, "version must be"));
	assert_int_equal(release_sign("ok", "1.0", "abc", 1, sk, &sig, err, sizeof err), -1);
	assert_non_null(strstr(err, "sha256"));
	assert_int_equal(release_sign("ok", "1.0", SHA, 0, sk, &sig, err, sizeof err), -1);
	assert_non_null(strstr(err, "size"));
	/* the longest name and version still fit a signature file */
	memset(name, 'z', RELEASE_NAME_MAX);
	name[RELEASE_NAME_MAX] = '\0';
	assert_int_equal(release_sign(name, good[4], SHA, (uint64_t)INT64_MAX, sk, &sig, err, sizeof err), 0);
	char text[RELEASE_SIGNATURE_FILE_MAX];
	size_t len = release_signature_format(&sig, text, sizeof text);
	assert_true(len > 0);
	struct release_signature got;
	assert_int_equal(release_signature_parse(text, len, &got, err, sizeof err), 0);
	assert_int_equal(got.size, (uint64_t)INT64_MAX);
	assert_int_equal(release_signature_format(&sig, text, 40), 0); /* too small a buffer */
}

static void test_signing_a_file_writes_its_signature_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/vitrine-release-XXXXXX", path[100], vsig[120], err[RELEASE_ERR_LEN];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/player.deb", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < 100000; i++)
		fputc(i * 7, f);
	fclose(f);
	struct release_signature sig, got;
	assert_int_equal(
	    release_sign_file(path, "vitrine-player", "2.0", sk, NULL, &sig, vsig, sizeof vsig, err, sizeof err), 0);
	char want[120];
	snprintf(want, sizeof want, "%s.vsig", path);
	assert_string_equal(vsig, want);
	assert_int_equal(sig.size, 100000);
	char sha[65];
	uint64_t size;
	assert_int_equal(release_hash_file(path, sha, &size, err, sizeof err), 0);
	assert_string_equal(sha, sig.sha256);
	char text[RELEASE_SIGNATURE_FILE_MAX + 1];
	f = fopen(vsig, "rb");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text, f);
	fclose(f);
	assert_int_equal(release_signature_parse(text, n, &got, err, sizeof err), 0);
	unsigned char trusted[1][crypto_sign_PUBLICKEYBYTES];
	memcpy(trusted[0], pk, sizeof pk);
	assert_int_equal(release_signature_verify(&got, trusted[0], 1, NULL, err, sizeof err), RELEASE_VALID);
	/* an empty file, a missing one */
	char empty[100];
	snprintf(empty, sizeof empty, "%s/empty", dir);
	fclose(fopen(empty, "wb"));
	assert_int_equal(release_sign_file(empty, "x", "1", sk, NULL, &sig, vsig, sizeof vsig, err, sizeof err), -1);
	assert_non_null(strstr(err, "is empty"));
	assert_int_equal(release_hash_file("/nonexistent/x", sha, &size, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot read /nonexistent/x"));
	unlink(empty);
	unlink(want);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(other_pk, other_sk);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signed_release_parses_and_verifies),
	    cmocka_unit_test(test_each_tampered_field_breaks_the_signature),
	    cmocka_unit_test(test_a_key_not_in_the_list_is_not_trusted),
	    cmocka_unit_test(test_malformed_signature_files_name_the_field),
	    cmocka_unit_test(test_versions_compare_numerically),
	    cmocka_unit_test(test_name_and_version_bounds),
	    cmocka_unit_test(test_signing_a_file_writes_its_signature_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
