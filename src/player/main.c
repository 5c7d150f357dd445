/*
 * vitrine-player: the agent on a screen. It pairs the screen by a code
 * shown on it, keeps a long-poll to the server for instructions, reports
 * heartbeats, and serves the kiosk page on 127.0.0.1 for the screen's
 * browser. `--diagnose` checks the network path instead.
 *
 * Settings come from built-in defaults, a config file (--config, section
 * [player]), VITRINE_* environment variables, and flags, each overriding
 * the one before.
 */
#include <curl/curl.h>
#include <ini.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "common/log.h"
#include "diagnose.h"
#include "kiosk.h"
#include "state.h"

enum { S_SERVER, S_DATA, S_CA, S_KIOSK, S_REBOOT, S_VOLUME, S_BRIGHTNESS, S_SCREENSHOT, S_HEARTBEAT, S_RATE, S_COUNT };

static const struct setting {
	const char *flag, *key, *env, *def, *help;
} settings[S_COUNT] = {
    [S_SERVER] = {"--server", "server", "VITRINE_SERVER", "", "URL of the Vitrine server (required)"},
    [S_DATA] = {"--data", "data", "VITRINE_PLAYER_DATA", "player-data", "the player's data folder"},
    [S_CA] = {"--ca", "ca", "VITRINE_CA", "", "extra CA certificate(s) to trust for the server (PEM)"},
    [S_KIOSK] = {"--kiosk-listen", "kiosk_listen", "VITRINE_KIOSK_LISTEN", "127.0.0.1:8181",
                 "loopback address of the kiosk page"},
    [S_REBOOT] = {"--reboot-command", "reboot_command", "VITRINE_REBOOT_COMMAND", "systemctl reboot",
                  "command run for the reboot instruction"},
    [S_VOLUME] = {"--volume-command", "volume_command", "VITRINE_VOLUME_COMMAND", "amixer -q sset Master {level}%",
                  "command for set_volume ({level} = 0-100)"},
    [S_BRIGHTNESS] = {"--brightness-command", "brightness_command", "VITRINE_BRIGHTNESS_COMMAND",
                      "for b in /sys/class/backlight/*; do echo $(( {level} * $(cat $b/max_brightness) / 100 )) "
                      "> $b/brightness; done",
                      "command for set_brightness ({level} = 0-100)"},
    [S_SCREENSHOT] = {"--screenshot-command", "screenshot_command", "VITRINE_SCREENSHOT_COMMAND",
                      "xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng",
                      "command printing a PNG of the display on stdout"},
    [S_HEARTBEAT] = {"--heartbeat-seconds", "heartbeat_seconds", "VITRINE_HEARTBEAT_SECONDS", "30",
                     "seconds between heartbeats"},
    [S_RATE] = {"--download-rate", "download_rate", "VITRINE_DOWNLOAD_RATE", "0",
                "content download limit in bytes per second (0: none), for slow site links"},
};

static char *values[S_COUNT];

static void set_value(int i, const char *v)
{
	free(values[i]);
	values[i] = strdup(v);
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	(void)user;
	if (strcmp(section, "player") != 0)
		return 0;
	for (int i = 0; i < S_COUNT; i++)
		if (strcmp(settings[i].key, name) == 0) {
			set_value(i, value);
			return 1;
		}
	return 0;
}

static void usage(void)
{
	printf("usage: vitrine-player --server URL [--data DIR] [options] [--diagnose]\n\n"
	       "Runs the Vitrine agent of a screen: while unpaired it prints\n"
	       "  PAIRING CODE: XXXX-XXXX\n"
	       "and shows the code on its kiosk page; type it in the console to add the screen.\n\n"
	       "  --diagnose      check DNS, TCP, TLS, clock and the long-poll path, then exit\n"
	       "  --config FILE   INI file with a [player] section\n"
	       "  --help, --version\n\nSettings (flag / config key / environment / default):\n");
	for (int i = 0; i < S_COUNT; i++)
		printf("  %-22s %-20s %-28s %s\n      %s\n", settings[i].flag, settings[i].key, settings[i].env,
		       settings[i].def[0] ? settings[i].def : "(none)", settings[i].help);
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
	for (int i = 0; i < S_COUNT; i++)
		set_value(i, settings[i].def);
	bool diagnose = false;
	int status = 0;
	for (int i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "--config") == 0) {
			int rc = ini_parse(argv[i + 1], on_ini, NULL);
			if (rc != 0) {
				fprintf(stderr, "vitrine-player: %s: %s\n", argv[i + 1],
				        rc < 0 ? "cannot open the config file" : "syntax error or unknown setting");
				return 2;
			}
		}
	for (int i = 0; i < S_COUNT; i++) {
		const char *v = getenv(settings[i].env);
		if (v)
			set_value(i, v);
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage();
			goto out;
		}
		if (strcmp(a, "--version") == 0) {
			printf("vitrine-player 0.1.0\n");
			goto out;
		}
		if (strcmp(a, "--diagnose") == 0) {
			diagnose = true;
			continue;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		bool known = false;
		for (int s = 0; s < S_COUNT && !known; s++)
			if (strcmp(a, settings[s].flag) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "vitrine-player: %s needs a value\n", a);
					status = 2;
					goto out;
				}
				set_value(s, argv[++i]);
				known = true;
			}
		if (!known) {
			fprintf(stderr, "vitrine-player: unknown argument \"%s\" (see --help)\n", a);
			status = 2;
			goto out;
		}
	}
	const char *server = values[S_SERVER];
	if (!*server || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)) {
		fprintf(stderr, "vitrine-player: --server must be the server's http(s):// URL\n");
		status = 2;
		goto out;
	}
	size_t n = strlen(server);
	while (n > 0 && values[S_SERVER][n - 1] == '/') /* "https://x/" == "https://x" */
		values[S_SERVER][--n] = '\0';
	int heartbeat = atoi(values[S_HEARTBEAT]);
	if (heartbeat < 1 || heartbeat > 3600) {
		fprintf(stderr, "vitrine-player: heartbeat_seconds must be 1 to 3600\n");
		status = 2;
		goto out;
	}
	struct player_config cfg = {
	    .server = values[S_SERVER],
	    .ca_file = values[S_CA],
	    .kiosk_listen = values[S_KIOSK],
	    .reboot_command = values[S_REBOOT],
	    .volume_command = values[S_VOLUME],
	    .brightness_command = values[S_BRIGHTNESS],
	    .screenshot_command = values[S_SCREENSHOT],
	    .heartbeat_s = (unsigned)heartbeat,
	    .download_rate = strtoull(values[S_RATE], NULL, 10),
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
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u/", kiosk_port(kiosk));
	log_event(LOG_INFO, "vitrine-player started", "server", cfg.server, "kiosk", url, "paired",
	          st.token[0] ? "yes" : "no", NULL);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = agent_run(&cfg, &st, kiosk);
	kiosk_stop(kiosk);
	state_close(&st);
	log_event(LOG_INFO, "stopped", NULL);
out:
	for (int i = 0; i < S_COUNT; i++)
		free(values[i]);
	curl_global_cleanup();
	return status;
}
