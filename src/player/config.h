/*
 * The player's settings as the agent and its parts read them (filled by
 * main.c from defaults, the config file, the environment and flags), and
 * the version it reports. A header of plain data: every part of the player
 * may include it.
 */
#ifndef VITRINE_PLAYER_CONFIG_H
#define VITRINE_PLAYER_CONFIG_H

#define PLAYER_VERSION "0.1.0"

struct player_config {
	/* the version this build runs and reports: PLAYER_VERSION, unless main.c
	 * was built with -DPLAYER_BUILD_VERSION="x.y.z" (the tests' second
	 * build, vitrine-player-next, that an update installs) */
	const char *version;
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
	/* remote control (remote_host.h) */
	const char *vnc_command;       /* the x11vnc program */
	const char *vnc_server;        /* "" or HOST:PORT of a running VNC server (wayvnc) */
	const char *vnc_password_file; /* its password, with vnc_server */
	const char *relay_ca;          /* CA file for wss:// relays ("" the system's) */
	/* device management (manage.h) */
	const char *display_on_command;
	const char *display_off_command;
	const char *logs_command;     /* its output goes into collect_logs archives */
	const char *install_dir;      /* over-the-air updates (update.h) */
	const char *sync_interface;   /* sync groups' LAN: "" (the multicast route), a name or an IPv4 address */
	char *const *argv;            /* for restart_player */
	struct share_receiver *share; /* screen share (--share), or NULL: its code may come from the server */
};

#endif
