/*
 * The RFB handshakes of the remote-control host (see rfb_auth.h): the
 * client side that authenticates to the local VNC server with its password,
 * and the server side that offers the guest security type None. Every read
 * asks for exactly the bytes the protocol expects next, so nothing past the
 * handshake is ever consumed here; every wait is bounded by one deadline.
 * Passwords and DES keys are wiped after use.
 */
#include "rfb_auth.h"

#include <errno.h>
#include <nettle/des.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SEC_INVALID 0
#define SEC_NONE    1
#define SEC_VNC     2

#define REASON_MAX 4096 /* longer reasons are read and cut */

const char *rfb_result_code(int r)
{
	switch (r) {
	case RFB_OK:
		return "ok";
	case RFB_IO:
		return "vnc_io";
	case RFB_PROTOCOL:
		return "vnc_protocol";
	case RFB_REFUSED:
		return "vnc_refused";
	case RFB_NO_SECURITY:
		return "vnc_no_security";
	case RFB_AUTH_FAILED:
		return "vnc_auth_failed";
	default:
		return "vnc_internal";
	}
}

/* ---------- sockets ---------- */

static ssize_t fd_read(void *ctx, void *buf, size_t cap, int timeout_ms)
{
	struct rfb_fd_io *f = ctx;
	struct pollfd p = {.fd = f->fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	ssize_t got;
	do
		got = read(f->fd, buf, cap);
	while (got < 0 && errno == EINTR);
	return got;
}

static int fd_write_all(void *ctx, const void *buf, size_t len)
{
	struct rfb_fd_io *f = ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(f->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(f->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void rfb_fd_io_init(struct rfb_fd_io *f, int fd)
{
	f->fd = fd;
	f->io = (struct rfb_io){.read = fd_read, .write_all = fd_write_all, .ctx = f};
}

/* ---------- reading with a deadline ---------- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly len bytes before deadline (monotonic ms). */
static int read_exact(const struct rfb_io *io, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	while (len > 0) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return RFB_IO;
		ssize_t n = io->read(io->ctx, p, len, (int)(left > 60000 ? 60000 : left));
		if (n <= 0 || (size_t)n > len)
			return RFB_IO;
		p += n;
		len -= (size_t)n;
	}
	return RFB_OK;
}

static int write_all(const struct rfb_io *io, const void *buf, size_t len)
{
	return io->write_all(io->ctx, buf, len) == 0 ? RFB_OK : RFB_IO;
}

static uint32_t be32(const uint8_t b[4])
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* A reason string (u32 length + text): kept printable and cut to reasonsz. */
static int read_reason(const struct rfb_io *io, int64_t deadline, char *reason, size_t reasonsz)
{
	uint8_t lenb[4];
	int rc = read_exact(io, lenb, 4, deadline);
	if (rc != RFB_OK)
		return rc;
	uint32_t len = be32(lenb);
	if (len > REASON_MAX)
		return RFB_PROTOCOL;
	char text[REASON_MAX + 1];
	rc = read_exact(io, text, len, deadline);
	if (rc != RFB_OK)
		return rc;
	text[len] = '\0';
	for (uint32_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] == 0x7f)
			text[i] = ' ';
	if (reason && reasonsz)
		snprintf(reason, reasonsz, "%s", text);
	return RFB_OK;
}

/* "RFB 003.00X\n" → minor X (any digits), or -1. */
static int parse_version(const uint8_t v[12])
{
	if (memcmp(v, "RFB 003.", 8) != 0 || v[11] != '\n')
		return -1;
	int minor = 0;
	for (int i = 8; i < 11; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		minor = minor * 10 + (v[i] - '0');
	}
	return minor;
}

/* The version this side speaks for a peer's minor: 3.8 for 3.8 and later
 * (Apple's 3.889 included), 3.7, else 3.3 (as the RFB spec says for 3.5). */
static int usable_minor(int minor)
{
	return minor >= 8 ? 8 : minor == 7 ? 7 : 3;
}

/* ---------- VNC authentication ---------- */

static uint8_t reverse_bits(uint8_t b)
{
	b = (uint8_t)((b & 0xf0) >> 4 | (b & 0x0f) << 4);
	b = (uint8_t)((b & 0xcc) >> 2 | (b & 0x33) << 2);
	b = (uint8_t)((b & 0xaa) >> 1 | (b & 0x55) << 1);
	return b;
}

void rfb_vnc_response(const char *password, const uint8_t challenge[16], uint8_t out[16])
{
	uint8_t key[DES_KEY_SIZE] = {0};
	size_t n = strlen(password);
	for (size_t i = 0; i < DES_KEY_SIZE && i < n; i++)
		key[i] = reverse_bits((uint8_t)password[i]);
	struct des_ctx ctx;
	des_set_key(&ctx, key); /* a weak key is still a key: VNC does not care */
	des_encrypt(&ctx, 16, out, challenge);
	sodium_memzero(&ctx, sizeof ctx);
	sodium_memzero(key, sizeof key);
}

/* ---------- client side: towards the VNC server ---------- */

static int security_result(const struct rfb_io *io, int minor, int64_t deadline, char *reason, size_t reasonsz)
{
	uint8_t res[4];
	int rc = read_exact(io, res, 4, deadline);
	if (rc != RFB_OK)
		return rc;
	uint32_t v = be32(res);
	if (v == 0)
		return RFB_OK;
	if (minor >= 8)
		read_reason(io, deadline, reason, reasonsz); /* best effort: the answer is no either way */
	return v == 1 || v == 2 ? RFB_AUTH_FAILED : RFB_PROTOCOL;
}

static int vnc_auth(const struct rfb_io *io, const char *password, int minor, int64_t deadline, char *reason,
                    size_t reasonsz)
{
	uint8_t challenge[16], response[16];
	int rc = read_exact(io, challenge, sizeof challenge, deadline);
	if (rc != RFB_OK)
		return rc;
	rfb_vnc_response(password, challenge, response);
	rc = write_all(io, response, sizeof response);
	sodium_memzero(response, sizeof response);
	if (rc != RFB_OK)
		return rc;
	return security_result(io, minor, deadline, reason, reasonsz);
}

int rfb_client_auth(const struct rfb_io *io, const char *password, int timeout_ms, int *minor_out, char *reason,
                    size_t reasonsz)
{
	int64_t deadline = mono_ms() + timeout_ms;
	if (reason && reasonsz)
		reason[0] = '\0';
	uint8_t v[12];
	int rc = read_exact(io, v, sizeof v, deadline);
	if (rc != RFB_OK)
		return rc;
	int server_minor = parse_version(v);
	if (server_minor < 3)
		return RFB_PROTOCOL;
	int minor = usable_minor(server_minor);
	char mine[13];
	snprintf(mine, sizeof mine, "RFB 003.%03d\n", minor);
	if ((rc = write_all(io, mine, 12)) != RFB_OK)
		return rc;
	if (minor_out)
		*minor_out = minor;
	if (minor == 3) { /* the server decides: one u32 */
		uint8_t t[4];
		if ((rc = read_exact(io, t, 4, deadline)) != RFB_OK)
			return rc;
		uint32_t type = be32(t);
		if (type == SEC_INVALID) {
			rc = read_reason(io, deadline, reason, reasonsz);
			return rc == RFB_OK ? RFB_REFUSED : rc;
		}
		if (type == SEC_NONE)
			return RFB_OK;
		if (type != SEC_VNC)
			return RFB_NO_SECURITY;
		if (!password)
			return RFB_NO_SECURITY;
		return vnc_auth(io, password, minor, deadline, reason, reasonsz);
	}
	uint8_t count;
	if ((rc = read_exact(io, &count, 1, deadline)) != RFB_OK)
		return rc;
	if (count == 0) {
		rc = read_reason(io, deadline, reason, reasonsz);
		return rc == RFB_OK ? RFB_REFUSED : rc;
	}
	uint8_t types[255];
	if ((rc = read_exact(io, types, count, deadline)) != RFB_OK)
		return rc;
	bool has_none = false, has_vnc = false;
	for (unsigned i = 0; i < count; i++) {
		has_none |= types[i] == SEC_NONE;
		has_vnc |= types[i] == SEC_VNC;
	}
	uint8_t pick = password && has_vnc ? SEC_VNC : has_none ? SEC_NONE : SEC_INVALID;
	if (pick == SEC_INVALID)
		return RFB_NO_SECURITY;
	if ((rc = write_all(io, &pick, 1)) != RFB_OK)
		return rc;
	if (pick == SEC_VNC)
		return vnc_auth(io, password, minor, deadline, reason, reasonsz);
	return minor >= 8 ? security_result(io, minor, deadline, reason, reasonsz) : RFB_OK;
}

/* ---------- server side: towards the guest ---------- */

int rfb_front_none(const struct rfb_io *io, int timeout_ms, int *minor_out)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int rc = write_all(io, "RFB 003.008\n", 12);
	if (rc != RFB_OK)
		return rc;
	uint8_t v[12];
	if ((rc = read_exact(io, v, sizeof v, deadline)) != RFB_OK)
		return rc;
	int guest_minor = parse_version(v);
	if (guest_minor < 3)
		return RFB_PROTOCOL;
	int minor = usable_minor(guest_minor);
	if (minor_out)
		*minor_out = minor;
	uint8_t msg[4];
	if (minor == 3) {
		put_be32(msg, SEC_NONE);
		return write_all(io, msg, 4);
	}
	static const uint8_t offer[2] = {1, SEC_NONE};
	if ((rc = write_all(io, offer, sizeof offer)) != RFB_OK)
		return rc;
	uint8_t pick;
	if ((rc = read_exact(io, &pick, 1, deadline)) != RFB_OK)
		return rc;
	if (pick != SEC_NONE) {
		if (minor >= 8) {
			static const char why[] = "only security type None is offered";
			uint8_t fail[8 + sizeof why - 1];
			put_be32(fail, 1);
			put_be32(fail + 4, sizeof why - 1);
			memcpy(fail + 8, why, sizeof why - 1);
			write_all(io, fail, sizeof fail);
		}
		return RFB_NO_SECURITY;
	}
	if (minor < 8)
		return RFB_OK; /* 3.7: no security result after None */
	put_be32(msg, 0);
	return write_all(io, msg, 4);
}
