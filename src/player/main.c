/*
 * vitrine-player: the agent on a screen. It pairs the screen by a code
 * shown on it, keeps a long-poll to the server for instructions, reports
 * heartbeats, and serves the kiosk page on 127.0.0.1 for the screen's
 * browser. `--diagnose` checks the network path instead.
 *
 * Settings come from built-in defaults, a config file (--config, section
 * [player]), VITRINE_* environment variables, and flags, each overriding
 * the one before. It needs no privilege (the commands it runs may, through
 * their own rules): started as root it says so, and keeps running.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "common/log.h"
#include "common/settings.h"
#include "common/strfmt.h"
#include "diagnose.h"
#include "kiosk.h"
#include "share/receiver.h"
#include "state.h"

#ifndef PLAYER_BUILD_VERSION
#define PLAYER_BUILD_VERSION PLAYER_VERSION
#endif

enum {
	S_SERVER,
	S_DATA,
	S_CA,
	S_KIOSK,
	S_REBOOT,
	S_VOLUME,
	S_BRIGHTNESS,
	S_SCREENSHOT,
	S_HEARTBEAT,
	S_RATE,
	S_VNC_COMMAND,
	S_VNC_SERVER,
	S_VNC_PASSWORD_FILE,
	S_RELAY_CA,
	S_DISPLAY_ON,
	S_DISPLAY_OFF,
	S_LOGS_COMMAND,
	S_INSTALL_DIR,
	S_SYNC_INTERFACE,
	S_SHARE_ADDRESS,
	S_COUNT
};

#define TEXT(flag_, metavar_, key_, env_, def_, help_)                                                                 \
	{                                                                                                              \
		.name = key_, .type = SETTING_TEXT, .def = def_, .env = env_, .flag = flag_, .metavar = metavar_,      \
		.help = help_                                                                                          \
	}

static const struct setting settings[S_COUNT] = {
    [S_SERVER] = {.name = "server",
                  .type = SETTING_URL,
                  .def = "",
                  .env = "VITRINE_SERVER",
                  .flag = "server",
                  .metavar = "URL",
                  .help = "URL of the Vitrine server (required)"},
    [S_DATA] = TEXT("data", "DIR", "data", "VITRINE_PLAYER_DATA", "player-data", "the player's data folder"),
    [S_CA] = TEXT("ca", "FILE", "ca", "VITRINE_CA", "", "extra CA certificate(s) to trust for the server (PEM)"),
    [S_KIOSK] = TEXT("kiosk-listen", "HOST:PORT", "kiosk_listen", "VITRINE_KIOSK_LISTEN", "127.0.0.1:8181",
                     "loopback address of the kiosk page"),
    [S_REBOOT] = TEXT("reboot-command", "CMD", "reboot_command", "VITRINE_REBOOT_COMMAND", "systemctl reboot",
                      "command run for the reboot instruction"),
    [S_VOLUME] = TEXT("volume-command", "CMD", "volume_command", "VITRINE_VOLUME_COMMAND",
                      "amixer -q sset Master {level}%", "command for set_volume ({level} = 0-100)"),
    [S_BRIGHTNESS] = TEXT("brightness-command", "CMD", "brightness_command", "VITRINE_BRIGHTNESS_COMMAND",
                          "for b in /sys/class/backlight/*; do echo $(( {level} * $(cat $b/max_brightness) / 100 )) "
                          "> $b/brightness; done",
                          "command for set_brightness ({level} = 0-100)"),
    [S_SCREENSHOT] =
        TEXT("screenshot-command", "CMD", "screenshot_command", "VITRINE_SCREENSHOT_COMMAND",
             "xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng", "command printing a PNG of the display on stdout"),
    [S_HEARTBEAT] = {.name = "heartbeat_seconds",
                     .type = SETTING_UINT,
                     .def = "30",
                     .env = "VITRINE_HEARTBEAT_SECONDS",
                     .flag = "heartbeat-seconds",
                     .metavar = "N",
                     .min = 1,
                     .max = 3600,
                     .help = "seconds between heartbeats"},
    [S_RATE] = {.name = "download_rate",
                .type = SETTING_UINT,
                .def = "0",
                .env = "VITRINE_DOWNLOAD_RATE",
                .flag = "download-rate",
                .metavar = "BYTES",
                .min = 0,
                .max = UINT64_C(1) << 40,
                .help = "content download limit in bytes per second (0: none), for slow site links"},
    [S_VNC_COMMAND] = TEXT("vnc-command", "PROG", "vnc_command", "VITRINE_VNC_COMMAND", "x11vnc",
                           "x11vnc program started on $DISPLAY for remote control"),
    [S_VNC_SERVER] = TEXT("vnc-server", "HOST:PORT", "vnc_server", "VITRINE_VNC_SERVER", "",
                          "use this running VNC server (e.g. wayvnc on 127.0.0.1:5900) instead of starting x11vnc"),
    [S_VNC_PASSWORD_FILE] = TEXT("vnc-password-file", "FILE", "vnc_password_file", "VITRINE_VNC_PASSWORD_FILE", "",
                                 "password of --vnc-server (first line; none: its security type None)"),
    [S_RELAY_CA] = TEXT("relay-ca", "FILE", "relay_ca", "VITRINE_RELAY_CA", "",
                        "CA certificate(s) to trust for wss:// relays (PEM; default: the system's)"),
    [S_DISPLAY_ON] =
        TEXT("display-on-command", "CMD", "display_on_command", "VITRINE_DISPLAY_ON_COMMAND", "xset dpms force on",
             "command that switches the display on (power schedule, display_power; "
             "e.g. echo 'on 0' | cec-client -s -d 1)"),
    [S_DISPLAY_OFF] =
        TEXT("display-off-command", "CMD", "display_off_command", "VITRINE_DISPLAY_OFF_COMMAND", "xset dpms force off",
             "command that switches the display off (e.g. echo 'standby 0' | "
             "cec-client -s -d 1)"),
    [S_LOGS_COMMAND] = TEXT("logs-command", "CMD", "logs_command", "VITRINE_LOGS_COMMAND",
                            "journalctl -b --no-pager -q -n 5000 2>/dev/null",
                            "command whose output collect_logs adds to the player's own logs (\"\": none)"),
    [S_INSTALL_DIR] = TEXT("install-dir", "DIR", "install_dir", "VITRINE_INSTALL_DIR", "/opt/vitrine-player",
                           "where updates are installed: DIR/releases/VERSION, and DIR/current (a link) the one "
                           "that runs"),
    [S_SYNC_INTERFACE] = TEXT("sync-interface", "IFACE", "sync_interface", "VITRINE_SYNC_INTERFACE", "",
                              "LAN interface (name or IPv4 address) of sync groups' multicast (UDP 16732-16733; "
                              "default: the system's multicast route)"),
    [S_SHARE_ADDRESS] = TEXT("share-address", "IPV4", "share_address", "VITRINE_SHARE_ADDRESS", "",
                             "address the share code stands for (with --share; default: the first private IPv4 "
                             "address of the interfaces; another than a private one gets a code from the server)"),
};

static void usage(const struct settings *s)
{
	printf("usage: vitrine-player --server URL [--data DIR] [options] [--diagnose]\n\n"
	       "Runs the Vitrine agent of a screen: while unpaired it prints\n"
	       "  PAIRING CODE: XXXX-XXXX\n"
	       "and shows the code on its kiosk page; type it in the console to add the screen.\n\n"
	       "  --diagnose      check DNS, TCP, TLS, clock and the long-poll path, then exit\n"
	       "  --share         receive shared screens: prints SHARE CODE: DDD-DDD-DDD and shows it,\n"
	       "                  with its key, on the kiosk page (`vitrine share CODE` on a laptop)\n"
	       "  --config FILE   INI file with a [player] section\n"
	       "  --help, --version\n\n");
	settings_print_help(s, stdout);
}

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "vitrine-player: cannot initialise libsodium/libcurl\n");
		return 1;
	}
	struct settings set;
	if (settings_init(&set, "player", settings, S_COUNT) != 0) {
		fprintf(stderr, "vitrine-player: out of memory\n");
		return 1;
	}
	enum { OPT_HELP = 'h', OPT_VERSION = 1, OPT_DIAGNOSE, OPT_SHARE };
	static const struct option own[] = {{"help", no_argument, NULL, OPT_HELP},
	                                    {"version", no_argument, NULL, OPT_VERSION},
	                                    {"diagnose", no_argument, NULL, OPT_DIAGNOSE},
	                                    {"share", no_argument, NULL, OPT_SHARE},
	                                    {NULL, 0, NULL, 0}};
	bool diagnose = false, share = false;
	int status = 0, c;
	char why[512];
	while ((c = settings_getopt(&set, argc, argv, "h", own, why, sizeof why)) != -1) {
		switch (c) {
		case OPT_HELP:
			usage(&set);
			goto out;
		case OPT_VERSION:
			printf("vitrine-player %s\n", PLAYER_BUILD_VERSION);
			goto out;
		case OPT_DIAGNOSE:
			diagnose = true;
			break;
		case OPT_SHARE:
			share = true;
			break;
		default:
			fprintf(stderr, "vitrine-player: %s\n", why);
			status = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vitrine-player: unknown argument \"%s\" (see --help)\n", argv[optind]);
		status = 2;
		goto out;
	}
	if (settings_load(&set, why, sizeof why) != 0) {
		fprintf(stderr, "vitrine-player: %s\n", why);
		status = 2;
		goto out;
	}
	if (!*settings_get(&set, S_SERVER)) {
		fprintf(stderr, "vitrine-player: --server must be the server's http(s):// URL\n");
		status = 2;
		goto out;
	}
	const char *const *values = (const char *const *)set.values;
	struct player_config cfg = {
	    .version = PLAYER_BUILD_VERSION,
	    .server = values[S_SERVER],
	    .ca_file = values[S_CA],
	    .kiosk_listen = values[S_KIOSK],
	    .reboot_command = values[S_REBOOT],
	    .volume_command = values[S_VOLUME],
	    .brightness_command = values[S_BRIGHTNESS],
	    .screenshot_command = values[S_SCREENSHOT],
	    .heartbeat_s = (unsigned)settings_uint(&set, S_HEARTBEAT),
	    .download_rate = settings_uint(&set, S_RATE),
	    .vnc_command = values[S_VNC_COMMAND],
	    .vnc_server = values[S_VNC_SERVER],
	    .vnc_password_file = values[S_VNC_PASSWORD_FILE],
	    .relay_ca = values[S_RELAY_CA],
	    .display_on_command = values[S_DISPLAY_ON],
	    .display_off_command = values[S_DISPLAY_OFF],
	    .logs_command = values[S_LOGS_COMMAND],
	    .install_dir = values[S_INSTALL_DIR],
	    .sync_interface = values[S_SYNC_INTERFACE],
	    .poll_wait_s = 30,
	    .argv = argv,
	};
	struct player_state st;
	char err[512];
	if (diagnose) {
		/* diagnostics use the token if the folder has one, never create it */
		bool have = state_open(&st, values[S_DATA], err, sizeof err) == 0;
		status = diagnose_run(&cfg, have ? &st : NULL);
		if (have)
			state_close(&st);
		goto out;
	}
	/* the player's own log, for collect_logs; open before the watchdog speaks */
	char logs[1100];
	if (mkdir(values[S_DATA], 0700) == 0 || errno == EEXIST) {
		if (strfmt(logs, sizeof logs, "%s/logs", values[S_DATA]) == 0 &&
		    (mkdir(logs, 0700) == 0 || errno == EEXIST) &&
		    strfmt(logs, sizeof logs, "%s/logs/player.log", values[S_DATA]) == 0 &&
		    log_to_file(logs, 1 << 20) != 0)
			fprintf(stderr, "vitrine-player: cannot write %s; logging to stderr only\n", logs);
	}
	if (state_open(&st, values[S_DATA], err, sizeof err) != 0) {
		fprintf(stderr, "vitrine-player: %s\n", err);
		status = 1;
		goto out;
	}
	struct kiosk *kiosk = kiosk_start(cfg.kiosk_listen, err, sizeof err);
	if (!kiosk) {
		fprintf(stderr, "vitrine-player: %s\n", err);
		state_close(&st);
		status = 1;
		goto out;
	}
	struct share_receiver *receiver = NULL;
	if (share) {
		struct share_receiver_config sc = {.address = values[S_SHARE_ADDRESS]};
		if (!(receiver = share_receiver_start(&sc, err, sizeof err))) {
			fprintf(stderr, "vitrine-player: %s\n", err);
			kiosk_stop(kiosk);
			state_close(&st);
			status = 1;
			goto out;
		}
		char code[SHARE_CODE_TEXT_SIZE];
		if (share_receiver_code(receiver, code)) { /* else the server gives it (share_broker.c) */
			printf("SHARE CODE: %s\n", code);
			fflush(stdout);
		}
		kiosk_set_share(kiosk, receiver);
		cfg.share = receiver;
	}
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u/", kiosk_port(kiosk));
	if (geteuid() == 0)
		log_event(LOG_WARN,
		          "running as root: the player needs no privilege; run it as its own user "
		          "(the vitrine-player service runs it as vitrine-player)",
		          NULL);
	log_event(LOG_INFO, "vitrine-player started", "server", cfg.server, "kiosk", url, "paired",
	          st.token[0] ? "yes" : "no", NULL);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = agent_run(&cfg, &st, kiosk);
	kiosk_set_share(kiosk, NULL);
	share_receiver_stop(receiver);
	kiosk_stop(kiosk);
	state_close(&st);
	log_event(LOG_INFO, "stopped", NULL);
out:
	settings_free(&set);
	curl_global_cleanup();
	return status;
}
