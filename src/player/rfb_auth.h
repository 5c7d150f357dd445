/*
 * The RFB (VNC) handshake on both sides of the remote-control host
 * (docs/PROTOCOL.md, "Remote control: the host"). Towards the local VNC
 * server (x11vnc on 127.0.0.1) the host is the client: it negotiates RFB
 * 3.3, 3.7 or 3.8 and authenticates with the VNC password (the DES
 * challenge-response, nettle) on behalf of the guest. Towards the guest,
 * through the end-to-end tunnel, the host is the server: it offers security
 * type None only, so viewers need no password. After both handshakes the
 * two streams are at the same point (the guest's ClientInit is next) and
 * the rest is copied unchanged. Blocking, with deadlines; no threads.
 */
#ifndef VITRINE_PLAYER_RFB_AUTH_H
#define VITRINE_PLAYER_RFB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A byte stream the handshakes speak through: a socket (rfb_fd_io) or the
 * tunnel. read returns > 0 bytes (at most cap), 0 at the end of the stream,
 * -1 on an error or when nothing came within timeout_ms; write_all returns
 * 0 or -1. */
struct rfb_io {
	ssize_t (*read)(void *ctx, void *buf, size_t cap, int timeout_ms);
	int (*write_all)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

enum rfb_result {
	RFB_OK = 0,
	RFB_IO,          /* "vnc_io": the stream failed, ended or timed out */
	RFB_PROTOCOL,    /* "vnc_protocol": not RFB 3.x, or a message out of the protocol */
	RFB_REFUSED,     /* "vnc_refused": the server refused the connection (its reason is given) */
	RFB_NO_SECURITY, /* "vnc_no_security": no security type both sides support */
	RFB_AUTH_FAILED, /* "vnc_auth_failed": the server refused the password */
};

/* The fixed code of a result ("vnc_auth_failed", ...). */
const char *rfb_result_code(int r);

/* The io of a connected socket: rfb_fd_io_init(&f, fd), then use &f.io. */
struct rfb_fd_io {
	struct rfb_io io;
	int fd;
};
void rfb_fd_io_init(struct rfb_fd_io *f, int fd);

/* The VNC authentication response: DES-ECB of the 16-byte challenge with
 * the key made of the first 8 bytes of password (zero-padded), each byte's
 * bits reversed, as VNC does. */
void rfb_vnc_response(const char *password, const uint8_t challenge[16], uint8_t out[16]);

/* Client side, towards the VNC server: version (the highest of 3.3/3.7/3.8
 * the server allows), then VNC authentication with password when offered
 * (None when the server offers only that, or when password is NULL), then
 * the security result. On RFB_OK the server waits for ClientInit; *minor
 * (if not NULL) is the minor version used. reason gets the server's own
 * words when it gave some. timeout_ms bounds the whole handshake. */
int rfb_client_auth(const struct rfb_io *io, const char *password, int timeout_ms, int *minor, char *reason,
                    size_t reasonsz);

/* Server side, towards the guest: sends "RFB 003.008", accepts a 3.3, 3.7
 * or 3.8 client, offers security type None only and confirms it. On RFB_OK
 * the guest's ClientInit is next; *minor (if not NULL) is its version. */
int rfb_front_none(const struct rfb_io *io, int timeout_ms, int *minor);

#endif
