/*
 * Every help text of the vitrine command line: the overview (`vitrine
 * help`, `vitrine --help`) and one text per command (`vitrine help CMD`,
 * `vitrine CMD --help`). Texts only, no calls into the commands, so that
 * both main.c (dispatch) and util.c (option parsing) can print them without
 * a call circle.
 */
#include <stdio.h>
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
    "  remote SCREEN               remote control of a screen: serves a VNC viewer on 127.0.0.1\n"
    "  share CODE                  share this computer's screen to the display showing CODE\n"
    "  release keygen --out KEYFILE               make a release-signing key; prints its public key\n"
    "  release sign --key KEYFILE --name NAME --version V FILE   write the signature file FILE.vsig\n"
    "  release upload FILE         upload a signed release (with FILE.vsig)\n"
    "  releases                    list the releases\n"
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

struct command_help {
	const char *name;
	const char *help;
};

static const struct command_help helps[] = {
    {"login", "usage: vitrine --server URL login [--user LOGIN] [--password-stdin] [--totp CODE]\n"
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
    {"logout", "usage: vitrine [--server URL] logout\n"
               "\n"
               "Revokes the stored API token on the server and deletes it from the credentials\n"
               "file (the file itself when no other server is left in it).\n"},
    {"publish", "usage: vitrine [--server URL] publish DIR [--dry-run] [--screen SCREEN] [--rate-limit BYTES]\n"
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
    {"screens", "usage: vitrine [--server URL] screens [--json]\n"
                "\n"
                "Lists the account's screens: name, id, online or offline, last contact, channel\n"
                "and player version. --json prints the server's answer ({\"screens\": [...]}).\n"},
    {"channels", "usage: vitrine [--server URL] channels [--json]\n"
                 "\n"
                 "Lists the channels: name, id, canvas size, zones, items, version and last change.\n"
                 "--json prints the server's answer ({\"channels\": [...]}).\n"},
    {"media", "usage: vitrine [--server URL] media [--json]\n"
              "\n"
              "Lists the media library: SHA-256 (first 12 digits), size, type and file name,\n"
              "then the space used. --json prints the server's answer ({\"media\": [...], ...}).\n"},
    {"assign", "usage: vitrine [--server URL] assign SCREEN CHANNEL\n"
               "\n"
               "Makes CHANNEL the default channel of SCREEN (both an id or a unique name).\n"},
    {"send", "usage: vitrine [--server URL] send SCREEN TYPE [KEY=VALUE...] [--wait SECONDS]\n"
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
    {"pair", "usage: vitrine [--server URL] pair CODE --name NAME\n"
             "\n"
             "Adds to the account the screen that shows the pairing code CODE (XXXX-XXXX;\n"
             "dash, spaces and case do not matter) and names it NAME.\n"
             "\n"
             "options:\n"
             "  --name NAME         the screen's name (required)\n"},
    {"remote", "usage: vitrine [--server URL] remote SCREEN [--port N] [--exec 'VIEWER {port}']\n"
               "                 [--forget-host-key] [--relay-ca FILE]\n"
               "\n"
               "Opens a remote-control session to a screen, end-to-end encrypted through a\n"
               "relay, and serves one VNC viewer on 127.0.0.1: once the session is up it prints\n"
               "\n"
               "  VNC: 127.0.0.1:PORT\n"
               "\n"
               "and the viewer connects there (no VNC password). The session ends when the\n"
               "viewer disconnects (exit 0), or fails with a reason (exit 1): the screen\n"
               "refused, the relay refused the ticket, the screen did not prove its key\n"
               "(host_key_mismatch), a frame was altered on the way (frame_tampered), ...\n"
               "\n"
               "The screen's host key is pinned on first use (its fingerprint is printed;\n"
               "compare it with the screen's page in the console) in known_hosts beside the\n"
               "credentials. When the server hands out another key later, the command warns,\n"
               "shows both fingerprints and exits 1 without connecting.\n"
               "\n"
               "examples:\n"
               "  vitrine remote Lobby\n"
               "  vitrine remote Lobby --exec 'vncviewer 127.0.0.1::{port}'\n"
               "\n"
               "options:\n"
               "  --port N            the local port (default: a free one)\n"
               "  --exec COMMAND      start this viewer (sh -c, {port} replaced) once the session\n"
               "                      is up; the session ends when it exits\n"
               "  --forget-host-key   drop the pinned key of this screen first (after a new pairing)\n"
               "  --relay-ca FILE     trust this CA for the relay's WSS fallback (default: the\n"
               "                      system's; env VITRINE_RELAY_CA)\n"},
    {"share", "usage: vitrine share CODE [--key KEY] [--name NAME] [--no-input] [--display :N]\n"
              "                     [--fps N] [--bitrate KBPS] [--codec vp8|h264]\n"
              "\n"
              "Shares this computer's screen (X11) to the display that shows the share code\n"
              "CODE (nine digits, DDD-DDD-DDD) over the local network, encrypted end to end.\n"
              "The display shows a key beside its code: give it with --key (or the\n"
              "VITRINE_SHARE_KEY environment variable), or type it when asked. A mistyped\n"
              "code is refused at once (exit 2); a wrong key, a display that shares four\n"
              "screens already or an unreachable display end with a sentence (exit 1).\n"
              "While sharing, a click or a move of the mouse on the display's tile of this\n"
              "screen is replayed here (XTest), unless --no-input. Ctrl-C or the display's\n"
              "stop ends the share (exit 0). Needs no server and no login, but for a code\n"
              "the server brokered (a display outside the private address ranges): that one\n"
              "is looked up on --server (or the server of the last login). Wayland sessions\n"
              "without X11 cannot be captured yet (PipeWire portal: not built).\n"
              "\n"
              "examples:\n"
              "  vitrine share 713-042-730\n"
              "  vitrine share 713042730 --key 123456 --no-input\n"
              "\n"
              "options:\n"
              "  --key KEY           the six digits the display shows beside its code\n"
              "  --name NAME         the name the display shows (default: this host's name)\n"
              "  --no-input          do not take mouse input from the display\n"
              "  --display :N        the X display to capture (default: $DISPLAY)\n"
              "  --fps N             frames per second, 1-60 (default 30)\n"
              "  --bitrate KBPS      bitrate in kilobits per second (default 6000)\n"
              "  --codec vp8|h264    VP8 (default) or H.264 (x264; the display needs avdec_h264)\n"},
    {"release", "usage: vitrine release keygen --out KEYFILE\n"
                "       vitrine release sign --key KEYFILE --name NAME --version V FILE [--out FILE.vsig]\n"
                "       vitrine [--server URL] release upload FILE [--signature FILE.vsig]\n"
                "\n"
                "Signed releases (over-the-air updates of the players). Screens install only what\n"
                "is signed by a key their account trusts: the server's own release key\n"
                "(vitrine-server release-key) or a key an admin added.\n"
                "\n"
                "keygen   writes a new Ed25519 secret key to KEYFILE (mode 0600; an existing file is\n"
                "         never overwritten) and prints its public key, one line of base64, which an\n"
                "         admin adds to the account's trusted release keys.\n"
                "sign     hashes FILE (SHA-256) and writes the signature file FILE.vsig (or --out): a\n"
                "         JSON file that binds NAME, V, the hash and the size under the key. NAME is\n"
                "         1 to 64 of a-z, 0-9, '.', '_', '-'; V is 1 to 4 numbers (\"1.4.2\"),\n"
                "         compared numerically (1.10 is newer than 1.9). Works offline.\n"
                "upload   streams FILE to the server with its signature file (FILE.vsig unless\n"
                "         --signature), with a progress bar on a terminal. The server checks the\n"
                "         signature before it takes the body, and the hash once it has it: a refused\n"
                "         upload stores nothing. Needs an admin.\n"
                "\n"
                "examples:\n"
                "  vitrine release keygen --out ~/.vitrine-release.key\n"
                "  vitrine release sign --key ~/.vitrine-release.key --name vitrine-player --version 1.4.2 player.deb\n"
                "  vitrine release upload player.deb\n"},
    {"releases", "usage: vitrine [--server URL] releases [--json]\n"
                 "\n"
                 "Lists the account's releases: name, version, size, the key that signed it\n"
                 "(\"no longer trusted\" once that key was removed), id and upload time.\n"
                 "--json prints the server's answer ({\"releases\": [...], \"total\": N}).\n"},
};

void cli_print_global_help(FILE *out)
{
	fputs(global_help, out);
}

int cli_print_command_help(const char *name)
{
	for (size_t i = 0; name && i < sizeof helps / sizeof helps[0]; i++)
		if (strcmp(helps[i].name, name) == 0) {
			fputs(helps[i].help, stdout);
			fputs("\nglobal options: --server URL, --ca FILE, --config-dir DIR, --json, --quiet (see "
			      "`vitrine "
			      "help`)\n",
			      stdout);
			return 0;
		}
	return -1;
}
