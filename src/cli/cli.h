/*
 * The vitrine command line: what every command shares. A command is a
 * function that takes the global options (struct cli) and its own
 * arguments, prints what it did, and returns one of the exit codes below,
 * which are a contract for scripts (docs/vitrine.1). Human messages go to
 * stdout, errors to stderr prefixed "vitrine: "; with --json stdout carries
 * exactly one JSON document and nothing else.
 */
#ifndef VITRINE_CLI_H
#define VITRINE_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "api.h"
#include "credentials.h"

enum cli_exit {
	CLI_OK = 0,
	CLI_FAILED = 1, /* the server refused, the network failed, a file is wrong */
	CLI_USAGE = 2,  /* bad command line, ambiguous name */
	CLI_AUTH = 3,   /* not logged in, wrong password, token revoked or expired */
};

/* Long-option codes of the global options (any command accepts them). */
enum {
	CLI_OPT_SERVER = 1000,
	CLI_OPT_CA,
	CLI_OPT_CONFIG_DIR,
	CLI_OPT_JSON,
	CLI_OPT_QUIET,
	CLI_OPT_HELP,
	CLI_OPT_VERSION,
	CLI_OPT_FIRST_COMMAND = 1100 /* commands number their own options from here */
};

#define CLI_GLOBAL_OPTIONS                                                                                             \
	{"server", required_argument, NULL, CLI_OPT_SERVER}, {"ca", required_argument, NULL, CLI_OPT_CA},              \
	    {"config-dir", required_argument, NULL, CLI_OPT_CONFIG_DIR}, {"json", no_argument, NULL, CLI_OPT_JSON},    \
	    {"quiet", no_argument, NULL, CLI_OPT_QUIET}, {"help", no_argument, NULL, CLI_OPT_HELP},                    \
	{                                                                                                              \
		"version", no_argument, NULL, CLI_OPT_VERSION                                                          \
	}
#define CLI_GLOBAL_SHORT "+:qh"

struct cli {
	/* global options (borrowed from argv) */
	const char *server_opt;
	const char *ca_opt;
	const char *config_dir_opt;
	bool json, quiet;
	const char *command; /* the command being run, for messages */

	/* filled by cli_connect() */
	char config_dir[4096];
	struct credentials cred; /* owned */
	struct api api;          /* owned */
	bool connected;
};

/* Parses the arguments of a command (argv[0] is the command name) with
 * getopt_long: the global options are handled here, the command's own are
 * returned one by one like getopt_long does (optarg set). Returns the
 * option code, -1 at the end (optind = first operand), or -2 after printing
 * a usage error or the command's help (*exit_code says which). */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts, const struct option *longopts,
               int *exit_code);

/* Prints the help of a command on stdout. Returns 0, or -1 if there is no
 * such command (help.c). */
int cli_print_command_help(const char *name);

/* Prints the overview of every command and global option (help.c). */
void cli_print_global_help(FILE *out);

/* Loads the credentials for the server (--server or the stored default)
 * and opens the API client with its token. Returns CLI_OK, or an exit code
 * after printing why (CLI_AUTH when not logged in, CLI_USAGE when no server
 * is known at all). */
int cli_connect(struct cli *cli);

/* Opens the API client without credentials (for login). server is the URL
 * to use; ca may be NULL. */
int cli_connect_anonymous(struct cli *cli, const char *server, const char *ca);

/* Frees what cli_connect opened. */
void cli_disconnect(struct cli *cli);

/* Prints why a request failed (transport error or the server's error
 * envelope, prefixed by what was being done) and returns the exit code that
 * goes with it: CLI_AUTH for 401, CLI_FAILED otherwise. */
int cli_fail(struct cli *cli, const struct api_resp *resp, const char *what);

/* "vitrine: " + message on stderr, always. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A message for people on stdout, unless --quiet or --json. */
void cli_info(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note about progress on stderr, unless --quiet. */
void cli_note(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error for the current command and returns CLI_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints a JSON document on stdout (indented, one trailing newline). */
void cli_print_json(json_t *doc);

/* Copies a server-supplied string for a terminal: control characters
 * become '?', so a screen named with escape sequences cannot drive the
 * terminal. Returns out. */
char *cli_printable(const char *in, char *out, size_t outsz);

/* "12 KiB", "3.4 MiB": out needs 32 bytes. */
void cli_human_bytes(double bytes, char out[32]);

/* "5s ago", "3h ago", "never": out needs 32 bytes. */
void cli_human_age(long long unix_time, char out[32]);

/* Commands (one per file or group, see the *.c files). */
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_publish(struct cli *cli, int argc, char **argv);
int cmd_screens(struct cli *cli, int argc, char **argv);
int cmd_channels(struct cli *cli, int argc, char **argv);
int cmd_media(struct cli *cli, int argc, char **argv);
int cmd_assign(struct cli *cli, int argc, char **argv);
int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_pair(struct cli *cli, int argc, char **argv);
int cmd_remote(struct cli *cli, int argc, char **argv);
int cmd_share(struct cli *cli, int argc, char **argv);
int cmd_release(struct cli *cli, int argc, char **argv);
int cmd_releases(struct cli *cli, int argc, char **argv);

/* Finds a screen or a channel by id or unique name (resolve.c). kind is
 * "screen" or "channel". On success returns a new reference to the object
 * (with "id" and "name") and sets *exit_code to CLI_OK; otherwise prints
 * why and returns NULL with *exit_code CLI_USAGE (ambiguous: the candidates
 * are listed), CLI_FAILED (no such name) or the code of cli_fail. */
json_t *resolve_named(struct cli *cli, const char *kind, const char *what, int *exit_code);

#endif
