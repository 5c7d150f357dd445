/*
 * vitrine: the command line of Vitrine. It logs in once and keeps a
 * revocable API token, publishes a folder as a channel (uploading only the
 * media the server lacks), lists screens, channels and media, assigns
 * channels, pairs screens and sends them instructions. This file parses the
 * global options, dispatches to the command and holds every help text;
 * the shared helpers are in util.c, the commands in their own files.
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

static const char global_help[] =
    "usage: vitrine [GLOBAL OPTIONS] COMMAND [ARGUMENTS]\n"
    "\n"
    "The command line of Vitrine, self-hosted digital signage.\n"
    "\n"
    "commands:\n"
    "  login                       log in and store an API token for this computer\n"
    "  logout                      revoke the stored token and forget it\n"
    "  publish DIR                 upload a folder's media and publish its channel.json\n"
    "  screens                     list the screens\n"
    "  channels                    list the channels\n"
    "  media                       list the media library\n"
    "  assign SCREEN CHANNEL       set the channel a screen plays\n"
    "  send SCREEN TYPE [K=V...]   send an instruction to a screen and wait for its answer\n"
    "  pair CODE --name NAME       add the screen that shows this pairing code\n"
    "  remote SCREEN               remote control of a screen (not available yet)\n"
    "  help [COMMAND]              show this help, or a command's\n"
    "\n"
    "global options (before or after the command):\n"
    "  --server URL       the Vitrine server (default: the one of the last login)\n"
    "  --ca FILE          also trust this CA certificate (PEM) for TLS; TLS is always verified\n"
    "  --config-dir DIR   folder of the credentials file (default: $XDG_CONFIG_HOME/vitrine,\n"
    "                     else ~/.config/vitrine)\n"
    "  --json             print JSON for scripts\n"
    "  -q, --quiet        print nothing but errors and requested data\n"
    "  -h, --help         show help; `vitrine help COMMAND` for one command\n"
    "  --version          print the version\n"
    "\n"
    "SCREEN and CHANNEL are an id or a unique name.\n"
    "exit status: 0 done, 1 failed, 2 usage error or ambiguous name,\n"
    "             3 not logged in, wrong password, or token revoked or expired.\n"
    "See vitrine(1) for more.\n";

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"login", cmd_login,
     "usage: vitrine --server URL login [--user LOGIN] [--password-stdin] [--totp CODE]\n"
     "\n"
     "Logs in, creates a user API token named \"vitrine CLI on <hostname>\" and stores it\n"
     "with the server's URL in the credentials file (folder 0700, file 0600). Later\n"
     "commands use it, so --server becomes optional. The login name and password are\n"
     "asked on the terminal (the password without echo), and the 6-digit code of an\n"
     "authenticator app when the account has two-factor login. After repeated failed\n"
     "logins the server asks for a proof of work, which is solved automatically.\n"
     "\n"
     "options:\n"
     "  --user LOGIN        the login name (default: ask)\n"
     "  --password-stdin    read the password from the first line of stdin\n"
     "  --totp CODE         the authenticator code (default: ask when needed)\n"},
    {"logout", cmd_logout,
     "usage: vitrine [--server URL] logout\n"
     "\n"
     "Revokes the stored API token on the server and deletes it from the credentials\n"
     "file (the file itself when no other server is left in it).\n"},
    {"publish", cmd_publish,
     "usage: vitrine [--server URL] publish DIR [--dry-run] [--screen SCREEN] [--rate-limit BYTES]\n"
     "\n"
     "Publishes DIR/channel.json as a channel. Items may name a file of DIR with\n"
     "\"file\": \"a.png\"; it is hashed (SHA-256), uploaded when the server does not\n"
     "have it yet, and sent as \"media\": \"<sha256>\". The channel is checked before\n"
     "anything is sent (errors name the JSON path, e.g. zones[0].items[1].file),\n"
     "then created, or replaced when a channel with the same name exists. Running it\n"
     "again with nothing changed uploads nothing and says so.\n"
     "\n"
     "channel.json:\n"
     "  {\"name\": \"Lobby\", \"width\": 1920, \"height\": 1080,\n"
     "   \"zones\": [{\"name\": \"main\", \"x\": 0, \"y\": 0, \"w\": 1920, \"h\": 1080,\n"
     "              \"items\": [{\"file\": \"welcome.png\", \"duration\": 10},\n"
     "                        {\"url\": \"https://example.org/menu\", \"duration\": 30},\n"
     "                        {\"text\": \"Hello\", \"transition\": \"slide\"}]}]}\n"
     "\n"
     "options:\n"
     "  --dry-run           show what would be uploaded and changed; change nothing\n"
     "  --screen SCREEN     then make it the channel of this screen\n"
     "  --rate-limit BYTES  upload at most BYTES per second (suffixes k, M: 500k, 2M)\n"},
    {"screens", cmd_screens,
     "usage: vitrine [--server URL] screens [--json]\n"
     "\n"
     "Lists the account's screens: name, id, online or offline, last contact, channel\n"
     "and player version. --json prints the server's answer ({\"screens\": [...]}).\n"},
    {"channels", cmd_channels,
     "usage: vitrine [--server URL] channels [--json]\n"
     "\n"
     "Lists the channels: name, id, canvas size, zones, items, version and last change.\n"
     "--json prints the server's answer ({\"channels\": [...]}).\n"},
    {"media", cmd_media,
     "usage: vitrine [--server URL] media [--json]\n"
     "\n"
     "Lists the media library: SHA-256 (first 12 digits), size, type and file name,\n"
     "then the space used. --json prints the server's answer ({\"media\": [...], ...}).\n"},
    {"assign", cmd_assign,
     "usage: vitrine [--server URL] assign SCREEN CHANNEL\n"
     "\n"
     "Makes CHANNEL the default channel of SCREEN (both an id or a unique name).\n"},
    {"send", cmd_send,
     "usage: vitrine [--server URL] send SCREEN TYPE [KEY=VALUE...] [--wait SECONDS]\n"
     "\n"
     "Sends an instruction to a screen and waits for the screen's answer, which it\n"
     "prints. TYPE is identify, reboot, restart_player, screenshot, set_volume,\n"
     "set_brightness or change_channel. KEY=VALUE pairs make the payload; a value\n"
     "that is an integer is sent as a number, anything else as a string, and\n"
     "KEY:=JSON sends raw JSON. Exits 1 when the screen answers \"failed\" or does\n"
     "not answer in time (the instruction stays queued until it expires).\n"
     "\n"
     "examples:\n"
     "  vitrine send Lobby identify\n"
     "  vitrine send Lobby set_volume level=40\n"
     "\n"
     "options:\n"
     "  --wait SECONDS      how long to wait for the answer (default 30; 0: do not wait)\n"},
    {"pair", cmd_pair,
     "usage: vitrine [--server URL] pair CODE --name NAME\n"
     "\n"
     "Adds to the account the screen that shows the pairing code CODE (XXXX-XXXX;\n"
     "dash, spaces and case do not matter) and names it NAME.\n"
     "\n"
     "options:\n"
     "  --name NAME         the screen's name (required)\n"},
    {"remote", cmd_remote,
     "usage: vitrine [--server URL] remote SCREEN\n"
     "\n"
     "Opens a remote-control session to a screen. Not available yet: the server has\n"
     "no remote-control sessions so far, and this command says so and exits 1.\n"},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; name && i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int cli_print_command_help(const char *name)
{
	const struct command *c = find_command(name);
	if (!c)
		return -1;
	fputs(c->help, stdout);
	fputs("\nglobal options: --server URL, --ca FILE, --config-dir DIR, --json, --quiet (see `vitrine help`)\n",
	      stdout);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		fputs(global_help, stdout);
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
			fputs(global_help, stdout);
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
		fputs(global_help, stderr);
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
