/*
 * What the CLI's commands share: option parsing (global options anywhere on
 * the line), connecting with the stored credentials, turning a failed
 * request into a message and an exit code, and output helpers that keep
 * server-supplied text from driving the terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("vitrine: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_info(const struct cli *cli, const char *fmt, ...)
{
	if (cli->quiet || cli->json)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void cli_note(const struct cli *cli, const char *fmt, ...)
{
	if (cli->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vitrine %s: ", cli->command ? cli->command : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee `vitrine help %s`\n", cli->command ? cli->command : "");
	return CLI_USAGE;
}

void cli_print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	fflush(stdout);
}

char *cli_printable(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = in ? in : ""; *p && o + 1 < outsz; p++) {
		unsigned char c = (unsigned char)*p;
		out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (outsz)
		out[o] = '\0';
	return out;
}

void cli_human_bytes(double bytes, char out[32])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, 32, "%.0f B", bytes);
	else
		snprintf(out, 32, bytes < 10 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void cli_human_age(long long unix_time, char out[32])
{
	if (unix_time <= 0) {
		snprintf(out, 32, "never");
		return;
	}
	long long d = (long long)time(NULL) - unix_time;
	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(out, 32, "%llds ago", d);
	else if (d < 3600)
		snprintf(out, 32, "%lldm ago", d / 60);
	else if (d < 86400)
		snprintf(out, 32, "%lldh ago", d / 3600);
	else
		snprintf(out, 32, "%lldd ago", d / 86400);
}

/* --- options --- */

#define MAX_OPTIONS 32

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *exit_code)
{
	static char **parsing; /* argv of the parse under way */
	static struct option merged[MAX_OPTIONS];
	static char shorts[64];
	if (parsing != argv) {
		static const struct option global[] = {CLI_GLOBAL_OPTIONS};
		size_t n = 0;
		for (const struct option *o = longopts; o && o->name && n + 1 < MAX_OPTIONS; o++)
			merged[n++] = *o;
		/* a command's own option replaces a global one of the same name
		 * (release sign --version V) */
		for (size_t i = 0; i < sizeof global / sizeof global[0] && n + 1 < MAX_OPTIONS; i++) {
			bool own = false;
			for (size_t k = 0; k < n; k++)
				own |= strcmp(merged[k].name, global[i].name) == 0;
			if (!own)
				merged[n++] = global[i];
		}
		memset(&merged[n], 0, sizeof merged[n]);
		snprintf(shorts, sizeof shorts, ":qh%s", shortopts ? shortopts : "");
		parsing = argv;
		optind = 0; /* glibc: start a fresh scan */
		opterr = 0;
	}
	for (;;) {
		int c = getopt_long(argc, argv, shorts, merged, NULL);
		const char *opt = optind - 1 < argc && optind > 0 ? argv[optind - 1] : "an option";
		switch (c) {
		case CLI_OPT_SERVER:
			cli->server_opt = optarg;
			continue;
		case CLI_OPT_CA:
			cli->ca_opt = optarg;
			continue;
		case CLI_OPT_CONFIG_DIR:
			cli->config_dir_opt = optarg;
			continue;
		case CLI_OPT_JSON:
			cli->json = true;
			continue;
		case 'q':
		case CLI_OPT_QUIET:
			cli->quiet = true;
			continue;
		case 'h':
		case CLI_OPT_HELP:
			cli_print_command_help(cli->command);
			parsing = NULL;
			*exit_code = CLI_OK;
			return -2;
		case CLI_OPT_VERSION:
			printf("vitrine %s\n", CLI_VERSION);
			parsing = NULL;
			*exit_code = CLI_OK;
			return -2;
		case ':':
			parsing = NULL;
			*exit_code = cli_usage_error(cli, "%s needs a value", opt);
			return -2;
		case '?':
			parsing = NULL;
			if (optopt > 0 && optopt < 256)
				*exit_code = cli_usage_error(cli, "unknown option -%c", optopt);
			else
				*exit_code = cli_usage_error(cli, "unknown option %s", opt);
			return -2;
		case -1:
			parsing = NULL;
			return -1;
		default:
			return c;
		}
	}
}

/* --- connecting --- */

int cli_connect_anonymous(struct cli *cli, const char *server, const char *ca)
{
	if (credentials_dir(cli->config_dir_opt, cli->config_dir, sizeof cli->config_dir) != 0) {
		cli_error("no folder for the credentials: set HOME or XDG_CONFIG_HOME, or pass --config-dir DIR");
		return CLI_USAGE;
	}
	if (api_open(&cli->api, server, ca) != 0) {
		cli_error("out of memory");
		return CLI_FAILED;
	}
	cli->connected = true;
	return CLI_OK;
}

int cli_connect(struct cli *cli)
{
	char server[1024], err[512] = "";
	if (credentials_dir(cli->config_dir_opt, cli->config_dir, sizeof cli->config_dir) != 0) {
		cli_error("no folder for the credentials: set HOME or XDG_CONFIG_HOME, or pass --config-dir DIR");
		return CLI_USAGE;
	}
	if (cli->server_opt && api_normalize_url(cli->server_opt, server, sizeof server) != 0) {
		cli_error("--server must be an http:// or https:// URL, not \"%s\"", cli->server_opt);
		return CLI_USAGE;
	}
	int found = credentials_load(cli->config_dir, cli->server_opt ? server : NULL, &cli->cred, err, sizeof err);
	if (found < 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	if (found == 0) {
		if (cli->server_opt)
			cli_error("not logged in to %s: run `vitrine --server %s login`", server, server);
		else
			cli_error("not logged in: run `vitrine --server URL login` first");
		return CLI_AUTH;
	}
	const char *ca = cli->ca_opt ? cli->ca_opt : cli->cred.ca;
	if (api_open(&cli->api, cli->cred.server, ca) != 0 || api_set_token(&cli->api, cli->cred.token) != 0) {
		cli_error("out of memory");
		return CLI_FAILED;
	}
	cli->connected = true;
	return CLI_OK;
}

void cli_disconnect(struct cli *cli)
{
	if (cli->connected)
		api_close(&cli->api);
	cli->connected = false;
	credentials_free(&cli->cred);
}

int cli_fail(struct cli *cli, const struct api_resp *resp, const char *what)
{
	const char *server = cli->connected ? cli->api.base : "the server";
	if (resp->rc == CURLE_URL_MALFORMAT || resp->rc == CURLE_OUT_OF_MEMORY) { /* nothing was sent */
		cli_error("%s: %s", what, resp->errbuf);
		return CLI_FAILED;
	}
	if (resp->rc != CURLE_OK) {
		bool tls = resp->rc == CURLE_PEER_FAILED_VERIFICATION || resp->rc == CURLE_SSL_CACERT_BADFILE ||
		           resp->rc == CURLE_SSL_CONNECT_ERROR || resp->rc == CURLE_SSL_CERTPROBLEM;
		cli_error("%s: cannot reach %s: %s%s", what, server, resp->errbuf,
		          tls ? " (if the server's certificate comes from your own CA, pass it with --ca FILE)" : "");
		return CLI_FAILED;
	}
	char msg[600];
	cli_printable(api_error_message(resp), msg, sizeof msg);
	const char *code = api_error_code(resp);
	if (resp->status == 401) {
		if (!code || strcmp(code, "invalid_token") == 0 || strcmp(code, "unauthenticated") == 0 ||
		    strcmp(code, "session_expired") == 0)
			cli_error("your token was revoked or has expired: run `vitrine login`");
		else
			cli_error("%s: %s", what, msg);
		return CLI_AUTH;
	}
	if (resp->status >= 300 && resp->status < 400 && resp->location[0]) {
		char loc[520];
		cli_printable(resp->location, loc, sizeof loc);
		cli_error("%s: %s redirects to %s; pass that server address with --server", what, server, loc);
		return CLI_FAILED;
	}
	if (code)
		cli_error("%s: %s (HTTP %ld, %s)", what, msg, resp->status, code);
	else
		cli_error("%s: the server answered HTTP %ld", what, resp->status);
	return CLI_FAILED;
}
