/*
 * The remote-control host of vitrine-player (docs/PROTOCOL.md, "Remote
 * control: the host"): carries out `remote_session` instructions. Each
 * session runs on its own thread (at most REMOTE_HOST_MAX_SESSIONS at
 * once): it connects out to the relay with its host ticket (raw TCP, then
 * the relay's WebSocket URL), runs the end-to-end handshake as the host
 * with the player's Ed25519 key, authenticates to the local VNC server
 * with the full or the view-only password, offers the guest security type
 * None through the tunnel, and pumps bytes until either side ends.
 *
 * The VNC server is x11vnc on 127.0.0.1, started with the first session on
 * the player's display ($DISPLAY, the one the kiosk browser shows) with
 * one-time passwords and stopped when the last session ends; or a server
 * that is already running (wayvnc on Wayland: vnc_server), never started
 * or stopped here. A failed session logs one line with its code (never a
 * ticket, a secret or a password). The agent's loop thread only calls
 * remote_host_start, which does no network I/O.
 */
#ifndef VITRINE_PLAYER_REMOTE_HOST_H
#define VITRINE_PLAYER_REMOTE_HOST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define REMOTE_HOST_MAX_SESSIONS 4

struct remote_host_config {
	const char *vnc_command;       /* the x11vnc program (name or path) */
	const char *vnc_server;        /* "" to start x11vnc, or HOST:PORT of a running VNC server */
	const char *vnc_password_file; /* with vnc_server: its password (first line); "" for none */
	const char *display;           /* X display for x11vnc; NULL/"": $DISPLAY */
	const char *relay_ca;          /* PEM CA file for wss:// relays; NULL/"": the system's */
	const char *run_dir;           /* private folder (0700) for x11vnc's password file */
	const uint8_t *host_sk;        /* the player's Ed25519 secret key (64 bytes, copied) */
};

struct remote_host;

struct remote_host *remote_host_create(const struct remote_host_config *cfg);

/* Starts the session a remote_session payload describes (docs/PROTOCOL.md)
 * on a thread of its own. Returns 0, or -1 with a sentence in err (a
 * malformed payload, a session already running, too many sessions). */
int remote_host_start(struct remote_host *h, json_t *payload, char *err, size_t errsz);

/* Sessions running now. */
unsigned remote_host_active(struct remote_host *h);

/* Ends every session (their final frames go out), stops the VNC server it
 * started and frees. A session still connecting to its relay is given a
 * few seconds; NULL is fine. */
void remote_host_destroy(struct remote_host *h);

#endif
