/*
 * The player agent: one libcurl multi loop that pairs the screen, keeps one
 * long-poll open for instructions, sends heartbeats every 30 s, delivers
 * acknowledgements and screenshots, and backs off exponentially (with
 * jitter) while the server cannot be reached. Every connection is opened
 * by the player: nothing listens on the network.
 */
#ifndef VITRINE_PLAYER_AGENT_H
#define VITRINE_PLAYER_AGENT_H

#include <signal.h>

struct player_state;
struct kiosk;

struct player_config {
	const char *server;  /* base URL, e.g. https://vitrine.example.org */
	const char *ca_file; /* extra CA bundle to trust (optional) */
	const char *kiosk_listen;
	const char *reboot_command;
	const char *volume_command;
	const char *brightness_command;
	const char *screenshot_command;
	unsigned heartbeat_s;
	unsigned poll_wait_s;
	unsigned long long download_rate; /* bytes/s per download, 0 = unlimited */
	char *const *argv;                /* for restart_player */
};

extern volatile sig_atomic_t agent_stop;

/* Runs until agent_stop is set (SIGTERM). Returns the exit status. */
int agent_run(const struct player_config *cfg, struct player_state *st, struct kiosk *kiosk);

/* Applies the common TLS and timeout settings to a curl handle. */
void agent_curl_defaults(void *easy, const struct player_config *cfg);

#endif
