/*
 * vitrine: the command line of Vitrine. It logs in once and keeps a
 * revocable API token, publishes a folder as a channel (uploading only the
 * media the server lacks), lists screens, channels and media, assigns
 * channels, pairs screens and sends them instructions, and signs and
 * uploads releases. This file parses the
 * global options and dispatches to the command; the help texts are in
 * help.c, the shared helpers in util.c, the commands in their own files.
 * Exit codes are in cli.h and docs/vitrine.1.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
    {"login", cmd_login},       {"logout", cmd_logout}, {"publish", cmd_publish}, {"screens", cmd_screens},
    {"channels", cmd_channels}, {"media", cmd_media},   {"assign", cmd_assign},   {"send", cmd_send},
    {"pair", cmd_pair},         {"remote", cmd_remote}, {"release", cmd_release}, {"releases", cmd_releases},
    {"share", cmd_share},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; name && i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		cli_print_global_help(stdout);
		return CLI_OK;
	}
	if (cli_print_command_help(argv[1]) != 0) {
		cli_error("no command \"%s\"; the commands are listed by `vitrine help`", argv[1]);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* jansson copies every string it holds, tokens and passwords included:
 * its buffers are wiped when freed. */
static void *wiping_malloc(size_t n)
{
	max_align_t *h = malloc(sizeof *h + n);
	if (!h)
		return NULL;
	*(size_t *)(void *)h = n;
	return h + 1;
}

static void wiping_free(void *p)
{
	if (!p)
		return;
	max_align_t *h = (max_align_t *)p - 1;
	sodium_memzero(h, sizeof *h + *(size_t *)(void *)h);
	free(h);
}

int main(int argc, char **argv)
{
	struct cli cli;
	memset(&cli, 0, sizeof cli);
	int rc = CLI_USAGE;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error("cannot initialise libsodium or libcurl");
		return CLI_FAILED;
	}
	json_set_alloc_funcs(wiping_malloc, wiping_free);

	static const struct option global[] = {CLI_GLOBAL_OPTIONS, {NULL, 0, NULL, 0}};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORT, global, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_SERVER:
			cli.server_opt = optarg;
			break;
		case CLI_OPT_CA:
			cli.ca_opt = optarg;
			break;
		case CLI_OPT_CONFIG_DIR:
			cli.config_dir_opt = optarg;
			break;
		case CLI_OPT_JSON:
			cli.json = true;
			break;
		case 'q':
		case CLI_OPT_QUIET:
			cli.quiet = true;
			break;
		case 'h':
		case CLI_OPT_HELP:
			cli_print_global_help(stdout);
			rc = CLI_OK;
			goto out;
		case CLI_OPT_VERSION:
			printf("vitrine %s\n", CLI_VERSION);
			rc = CLI_OK;
			goto out;
		case ':':
			cli_error("%s needs a value; see `vitrine help`", argv[optind - 1]);
			goto out;
		default:
			if (optopt > 0 && optopt < 256)
				cli_error("unknown option -%c; see `vitrine help`", optopt);
			else
				cli_error("unknown option %s; see `vitrine help`", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		cli_print_global_help(stderr);
		goto out;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		rc = cmd_help(argc - optind, argv + optind);
		goto out;
	}
	const struct command *cmd = find_command(name);
	if (!cmd) {
		cli_error("no command \"%s\"; the commands are listed by `vitrine help`", name);
		goto out;
	}
	cli.command = cmd->name;
	rc = cmd->run(&cli, argc - optind, argv + optind);
out:
	cli_disconnect(&cli);
	curl_global_cleanup();
	return rc;
}
