/*
 * `vitrine release keygen | sign | upload`: the publisher's side of signed
 * releases (src/common/release.h). keygen writes an Ed25519 key file (mode
 * 0600, never over an existing one) and prints its public key, which an
 * admin adds to the account's trusted keys; sign writes the detached
 * signature file FILE.vsig (name, version, SHA-256 and size, signed); upload
 * streams the file to the server with its signature in the
 * X-Release-Signature header, with a progress bar on a terminal. keygen and
 * sign work offline. (`vitrine releases` lists: commands.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/keyfile.h"
#include "common/release.h"
#include "common/strfmt.h"
#include "progress.h"

enum { OPT_OUT = CLI_OPT_FIRST_COMMAND, OPT_KEY, OPT_NAME, OPT_VERSION, OPT_SIGNATURE };

static int keygen(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, OPT_OUT}, {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int c, rc = CLI_FAILED;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_OUT)
			out = optarg;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
	if (!out)
		return cli_usage_error(cli, "needs --out KEYFILE, the file to write the new secret key to");
	char err[512], b64[KEYFILE_PUBLIC_B64_LEN];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	if (keyfile_create(out, false, err, sizeof err) != 0 || keyfile_read(out, sk, err, sizeof err) != 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	keyfile_public_b64(sk, b64);
	sodium_memzero(sk, sizeof sk);
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s}", "public_key", b64, "key_file", out);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", b64); /* alone on stdout, for scripts */
		fflush(stdout);
	}
	cli_note(cli,
	         "the secret key is in %s (mode 0600: keep it safe); the line above is its public key: an admin adds "
	         "it to the server's trusted release keys (console, or POST /api/v1/release-keys)",
	         out);
	return CLI_OK;
}

static int sign(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, OPT_KEY},
	                                     {"name", required_argument, NULL, OPT_NAME},
	                                     {"version", required_argument, NULL, OPT_VERSION},
	                                     {"out", required_argument, NULL, OPT_OUT},
	                                     {NULL, 0, NULL, 0}};
	const char *key = NULL, *name = NULL, *version = NULL, *out = NULL;
	int c, rc = CLI_FAILED;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_KEY)
			key = optarg;
		else if (c == OPT_NAME)
			name = optarg;
		else if (c == OPT_VERSION)
			version = optarg;
		else if (c == OPT_OUT)
			out = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs the FILE to sign");
	if (!key || !name || !version)
		return cli_usage_error(cli, "needs --key KEYFILE, --name NAME and --version V");
	const char *problem = release_name_problem(name);
	if (!problem)
		problem = release_version_problem(version);
	if (problem)
		return cli_usage_error(cli, "%s", problem);
	char err[512], written[4200];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	if (keyfile_read(key, sk, err, sizeof err) != 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	struct release_signature sig;
	rc = release_sign_file(argv[optind], name, version, sk, out, &sig, written, sizeof written, err, sizeof err);
	sodium_memzero(sk, sizeof sk);
	if (rc != 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "signature_file", written, "name", sig.name,
		                      "version", sig.version, "sha256", sig.sha256, "size", (json_int_t)sig.size);
		cli_print_json(j);
		json_decref(j);
	} else {
		char shown[300];
		cli_info(cli, "signed %s %s (%llu bytes, sha256 %.12s...): %s", sig.name, sig.version,
		         (unsigned long long)sig.size, sig.sha256, cli_printable(written, shown, sizeof shown));
	}
	return CLI_OK;
}

/* Reads and parses a signature file; the header value (base64) into
 * b64[b64sz]. Returns CLI_OK or CLI_FAILED after saying why. */
static int read_signature(const char *path, struct release_signature *sig, char *b64, size_t b64sz)
{
	char text[RELEASE_SIGNATURE_FILE_MAX + 1], err[RELEASE_ERR_LEN];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(text, 1, sizeof text, f) : 0;
	if (!f || ferror(f)) {
		cli_error("cannot read the signature file %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return CLI_FAILED;
	}
	fclose(f);
	if (release_signature_parse(text, n, sig, err, sizeof err) != 0) {
		cli_error("%s: %s", path, err);
		return CLI_FAILED;
	}
	sodium_bin2base64(b64, b64sz, (const unsigned char *)text, n, sodium_base64_VARIANT_ORIGINAL);
	return CLI_OK;
}

static void on_progress(void *ud, uint64_t sent, uint64_t total)
{
	(void)total;
	progress_update(ud, sent);
}

static int upload(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"signature", required_argument, NULL, OPT_SIGNATURE}, {NULL, 0, NULL, 0}};
	const char *signature = NULL;
	int c, rc = CLI_FAILED;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_SIGNATURE)
			signature = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs the release FILE to upload");
	const char *file = argv[optind];
	char vsig[4200], shown[300];
	if (!signature && strfmt(vsig, sizeof vsig, "%s" RELEASE_SIGNATURE_SUFFIX, file) != 0)
		return cli_usage_error(cli, "the file's path is too long");
	if (!signature)
		signature = vsig;
	cli_printable(file, shown, sizeof shown);
	/* everything local first: a wrong pair of files is said before any request */
	struct release_signature sig;
	char header[sizeof "X-Release-Signature: " +
	            sodium_base64_ENCODED_LEN(RELEASE_SIGNATURE_FILE_MAX + 1, sodium_base64_VARIANT_ORIGINAL)];
	size_t prefix = (size_t)snprintf(header, sizeof header, "X-Release-Signature: ");
	if (read_signature(signature, &sig, header + prefix, sizeof header - prefix) != CLI_OK)
		return CLI_FAILED;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		cli_error("cannot read %s: %s", shown, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_FAILED;
	}
	if ((uint64_t)sb.st_size != sig.size) {
		cli_error("%s has %lld bytes, but %s signs %llu: it is not the file that was signed (sign it again)",
		          shown, (long long)sb.st_size, signature, (unsigned long long)sig.size);
		close(fd);
		return CLI_FAILED;
	}
	if ((rc = cli_connect(cli)) != CLI_OK) {
		close(fd);
		return rc;
	}
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	bool bar = isatty(STDOUT_FILENO) && !cli->json && !cli->quiet;
	struct progress progress;
	if (bar)
		progress_begin(&progress, stdout, base, sig.size, 1, 1);
	struct api_upload_req req = {.method = "POST",
	                             .path = "/api/v1/releases",
	                             .fd = fd,
	                             .size = sig.size,
	                             .filename = base,
	                             .header = header,
	                             .progress = bar ? on_progress : NULL,
	                             .ud = &progress};
	struct api_resp resp;
	double start = progress_now();
	int sent = api_upload(&cli->api, &req, &resp);
	double took = progress_now() - start;
	close(fd);
	if (bar)
		progress_end(&progress);
	const char *code = api_error_code(&resp);
	json_t *release = json_object_get(resp.json, "release");
	if (sent == 0 && resp.status == 201 && release) {
		rc = CLI_OK;
		if (cli->json) {
			cli_print_json(resp.json);
		} else {
			char speed[32], key[200];
			cli_human_bytes(took > 0 ? (double)sig.size / took : 0, speed);
			cli_info(
			    cli, "uploaded %s %s (%llu bytes in %.1f s, %s/s) as release %s, signed by %s", sig.name,
			    sig.version, (unsigned long long)sig.size, took, speed,
			    json_string_value(json_object_get(release, "id")),
			    cli_printable(json_string_value(json_object_get(release, "key_name")), key, sizeof key));
		}
	} else if (code && resp.status != 401) {
		char msg[600];
		cli_error("uploading %s: the server refused it: %s (%s)", shown,
		          cli_printable(api_error_message(&resp), msg, sizeof msg), code);
		rc = CLI_FAILED;
	} else {
		char doing[400];
		snprintf(doing, sizeof doing, "uploading %s", shown);
		rc = cli_fail(cli, &resp, doing);
	}
	api_resp_free(&resp);
	return rc;
}

int cmd_release(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *cli, int argc, char **argv);
	} subcommands[] = {{"keygen", keygen}, {"sign", sign}, {"upload", upload}};
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			cli_print_command_help("release");
			return CLI_OK;
		}
		return cli_usage_error(cli, "needs a subcommand: keygen, sign or upload");
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "no subcommand \"%s\": keygen, sign or upload", argv[1]);
}
