/*
 * The remote-control tunnel (see tunnel.h): e2e.c's state machine driven
 * over a relay_conn. Bytes read from the relay wait in `in` until e2e_open
 * turns them into one frame's payload in `plain`, which the caller then
 * takes; what the caller writes is sealed frame by frame and written at
 * once. While a write waits for room, the tunnel keeps reading from the
 * relay into `in` (up to TUNNEL_IN_MAX), so two ends that both write a lot
 * never wait on each other through the relay's bounded queues.
 */
#include "tunnel.h"
#include "monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUNNEL_IN_MAX (4u << 20) /* ciphertext read ahead while a write waits */
#define READ_CHUNK    65536

struct tunnel {
	struct relay_conn *rc;
	char code[TUNNEL_CODE_MAX];
	uint8_t *in; /* ciphertext read, not yet given to e2e */
	size_t in_off, in_len, in_cap;
	bool eof;        /* the relay closed the pipe */
	bool final_sent; /* our final frame went out */
	bool peer_final; /* the peer's final frame came */
	size_t plain_off, plain_len;
	struct tunnel_stats st;
	uint8_t frame[E2E_MAX_FRAME];
	uint8_t plain[E2E_MAX_PLAINTEXT];
	struct e2e e;
};

static int fail(struct tunnel *t, const char *code)
{
	if (!t->code[0])
		snprintf(t->code, sizeof t->code, "%s", code);
	return -1;
}

static int fail_e2e(struct tunnel *t, int status)
{
	return fail(t, e2e_status_code(status));
}

/* Whether `in` may take another READ_CHUNK without passing TUNNEL_IN_MAX. */
static bool in_room(const struct tunnel *t)
{
	return !t->eof && t->in_len - t->in_off + READ_CHUNK <= TUNNEL_IN_MAX;
}

/* Reads what the relay has now into `in`. 1 bytes came, 0 nothing (EAGAIN or
 * `in` full), -1 failure (code set); EOF sets t->eof and returns 1. */
static int fill_in(struct tunnel *t)
{
	if (!in_room(t))
		return 0;
	if (t->in_off == t->in_len)
		t->in_off = t->in_len = 0;
	if (t->in_cap - t->in_len < READ_CHUNK) {
		if (t->in_off > 0) {
			memmove(t->in, t->in + t->in_off, t->in_len - t->in_off);
			t->in_len -= t->in_off;
			t->in_off = 0;
		}
		if (t->in_cap - t->in_len < READ_CHUNK) {
			size_t ncap = t->in_cap ? t->in_cap * 2 : READ_CHUNK * 2;
			uint8_t *n = realloc(t->in, ncap);
			if (!n)
				return fail(t, e2e_status_code(E2E_INTERNAL));
			t->in = n;
			t->in_cap = ncap;
		}
	}
	ssize_t n = relay_conn_read(t->rc, t->in + t->in_len, t->in_cap - t->in_len);
	if (n > 0) {
		t->in_len += (size_t)n;
		t->st.wire_received += (uint64_t)n;
		return 1;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		t->eof = true;
		return 1;
	}
	return 0;
}

/* Writes buf to the relay within TUNNEL_WRITE_TIMEOUT_MS, reading what comes
 * meanwhile into `in`. */
static int send_wire(struct tunnel *t, const uint8_t *buf, size_t len)
{
	int64_t deadline = monotonic_ms() + TUNNEL_WRITE_TIMEOUT_MS;
	size_t off = 0;
	while (off < len || relay_conn_write_pending(t->rc)) {
		if (off < len) {
			ssize_t n = relay_conn_write_some(t->rc, buf + off, len - off);
			if (n > 0) {
				off += (size_t)n;
				t->st.wire_sent += (uint64_t)n;
				continue;
			}
			if (errno != EAGAIN)
				return fail(t, TUNNEL_CODE_IO);
		} else {
			if (relay_conn_flush(t->rc) < 0)
				return fail(t, TUNNEL_CODE_IO);
			if (!relay_conn_write_pending(t->rc))
				break;
		}
		if (relay_conn_buffered(t->rc) && in_room(t)) {
			if (fill_in(t) < 0)
				return -1;
		}
		bool want_in = in_room(t);
		struct pollfd p = {.fd = relay_conn_fd(t->rc), .events = (short)(POLLOUT | (want_in ? POLLIN : 0))};
		int w = poll(&p, 1, monotonic_left_ms(deadline));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(t, TUNNEL_CODE_IO);
		if (w == 0)
			return fail(t, TUNNEL_CODE_IO);
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && want_in && fill_in(t) < 0)
			return -1;
	}
	return 0;
}

/* Waits until the relay has input (or the deadline); 1 ready, 0 timeout. */
static int wait_in(struct tunnel *t, int64_t deadline)
{
	if (relay_conn_buffered(t->rc))
		return 1;
	for (;;) {
		struct pollfd p = {.fd = relay_conn_fd(t->rc), .events = POLLIN};
		int w = poll(&p, 1, monotonic_left_ms(deadline));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(t, TUNNEL_CODE_IO);
		return w > 0;
	}
}

int tunnel_open(struct tunnel **out, struct relay_conn *rc, enum e2e_role role, const char *session_id,
                const uint8_t ticket_hash[E2E_TICKET_HASH], const uint8_t session_secret[E2E_SESSION_SECRET],
                const uint8_t *host_key, unsigned timeout_ms, char code[TUNNEL_CODE_MAX])
{
	*out = NULL;
	code[0] = '\0';
	struct tunnel *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(code, TUNNEL_CODE_MAX, "%s", e2e_status_code(E2E_INTERNAL));
		relay_conn_close(rc);
		return -1;
	}
	t->rc = rc;
	int s = e2e_init(&t->e, role, session_id, ticket_hash, session_secret, host_key);
	if (s != E2E_OK) {
		fail_e2e(t, s);
		goto failed;
	}
	int64_t deadline = monotonic_ms() + timeout_ms;
	uint8_t msg[E2E_HANDSHAKE_OUT];
	size_t consumed = 0, mlen = 0;
	if (role == E2E_GUEST) {
		s = e2e_handshake(&t->e, NULL, 0, &consumed, msg, sizeof msg, &mlen);
		if (s != E2E_OK) {
			fail_e2e(t, s);
			goto failed;
		}
		if (send_wire(t, msg, mlen) < 0)
			goto failed;
	}
	while (!e2e_established(&t->e)) {
		if (t->in_off < t->in_len) {
			s = e2e_handshake(&t->e, t->in + t->in_off, t->in_len - t->in_off, &consumed, msg, sizeof msg,
			                  &mlen);
			if (s != E2E_OK) {
				fail_e2e(t, s);
				goto failed;
			}
			t->in_off += consumed;
			if (mlen > 0 && send_wire(t, msg, mlen) < 0)
				goto failed;
			continue;
		}
		if (t->eof) {
			fail(t, e2e_status_code(E2E_STREAM_TRUNCATED));
			goto failed;
		}
		int r = fill_in(t);
		if (r < 0)
			goto failed;
		if (r > 0)
			continue;
		r = wait_in(t, deadline);
		if (r < 0)
			goto failed;
		if (r == 0) {
			fail(t, RELAY_CODE_TIMEOUT);
			goto failed;
		}
	}
	*out = t;
	return 0;
failed:
	snprintf(code, TUNNEL_CODE_MAX, "%s", t->code);
	tunnel_close(t);
	return -1;
}

static int seal_send(struct tunnel *t, const uint8_t *p, size_t n, bool final)
{
	size_t flen = 0;
	int s = e2e_seal(&t->e, p, n, final, t->frame, sizeof t->frame, &flen);
	if (s != E2E_OK)
		return fail_e2e(t, s);
	if (send_wire(t, t->frame, flen) < 0)
		return -1;
	t->st.sent += n;
	return 0;
}

int tunnel_write_all(struct tunnel *t, const void *buf, size_t len)
{
	if (t->code[0])
		return -1;
	if (t->final_sent)
		return fail_e2e(t, E2E_USAGE);
	const uint8_t *p = buf;
	while (len > 0) {
		size_t n = len < E2E_MAX_PLAINTEXT ? len : E2E_MAX_PLAINTEXT;
		if (seal_send(t, p, n, false) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int tunnel_finish(struct tunnel *t)
{
	if (t->final_sent)
		return 0;
	if (t->code[0])
		return -1;
	if (seal_send(t, NULL, 0, true) < 0)
		return -1;
	t->final_sent = true;
	return 0;
}

/* Opens frames from `in` until one has a payload or `in` is used up.
 * 1 plaintext or the peer's final is there, 0 need more input, -1 failure. */
static int open_in(struct tunnel *t)
{
	while (t->in_off < t->in_len && !t->peer_final) {
		size_t consumed = 0, olen = 0;
		bool done = false;
		int s = e2e_open(&t->e, t->in + t->in_off, t->in_len - t->in_off, &consumed, t->plain, sizeof t->plain,
		                 &olen, &done);
		t->in_off += consumed;
		if (s != E2E_OK)
			return fail_e2e(t, s);
		if (done) {
			t->plain_off = 0;
			t->plain_len = olen;
			t->st.received += olen;
			if (e2e_peer_finished(&t->e))
				t->peer_final = true;
			if (olen > 0 || t->peer_final)
				return 1;
		}
	}
	if (t->peer_final)
		return 1;
	if (t->eof && t->in_off == t->in_len) {
		int s = e2e_end_of_input(&t->e);
		if (s != E2E_OK)
			return fail_e2e(t, s);
	}
	return 0;
}

ssize_t tunnel_read_some(struct tunnel *t, void *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : monotonic_ms() + timeout_ms;
	for (;;) {
		if (t->plain_off < t->plain_len) {
			size_t n = t->plain_len - t->plain_off;
			if (n > cap)
				n = cap;
			memcpy(buf, t->plain + t->plain_off, n);
			t->plain_off += n;
			return (ssize_t)n;
		}
		if (t->peer_final)
			return 0;
		if (t->code[0])
			return -1;
		int r = open_in(t);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (t->eof)
			return fail_e2e(t, E2E_STREAM_TRUNCATED);
		r = fill_in(t);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		r = wait_in(t, deadline);
		if (r < 0)
			return -1;
		if (r == 0)
			return TUNNEL_AGAIN;
	}
}

/* Writes all of the pending plaintext to fd (non-blocking fd or not):
 * 1 all written, 0 would block, -1 fd failed. */
static int drain_plain(struct tunnel *t, int fd)
{
	while (t->plain_off < t->plain_len) {
		ssize_t n = write(fd, t->plain + t->plain_off, t->plain_len - t->plain_off);
		if (n > 0) {
			t->plain_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	return 1;
}

int tunnel_pump(struct tunnel *t, int plain_fd, int stop_fd, struct tunnel_stats *st)
{
	int rc = 0;
	bool plain_in_open = true, plain_out_open = true;
	int64_t final_deadline = INT64_MAX;
	int fl = fcntl(plain_fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(plain_fd, F_SETFL, fl | O_NONBLOCK);
	uint8_t *buf = malloc(E2E_MAX_PLAINTEXT);
	if (!buf) {
		rc = fail_e2e(t, E2E_INTERNAL);
		goto out;
	}
	if (t->code[0]) {
		rc = -1;
		goto out;
	}
	for (;;) {
		/* hand over what was opened */
		if (t->plain_off < t->plain_len) {
			if (!plain_out_open) {
				t->plain_off = t->plain_len; /* the plain side is gone: drop it */
			} else {
				int d = drain_plain(t, plain_fd);
				if (d < 0) {
					plain_out_open = false;
					plain_in_open = false;
					t->plain_off = t->plain_len;
					if (tunnel_finish(t) < 0) {
						rc = -1;
						goto out;
					}
					if (final_deadline == INT64_MAX)
						final_deadline = monotonic_ms() + TUNNEL_FINAL_WAIT_MS;
				}
			}
		}
		bool plain_pending = t->plain_off < t->plain_len;
		if (!plain_pending && t->peer_final) {
			if (plain_out_open)
				shutdown(plain_fd, SHUT_WR);
			rc = tunnel_finish(t);
			goto out;
		}
		if (!plain_pending && t->in_off < t->in_len) {
			int r = open_in(t);
			if (r < 0) {
				rc = -1;
				goto out;
			}
			if (r > 0)
				continue;
		}
		if (!plain_pending && t->eof) {
			if (t->final_sent) /* we ended; the peer went without its final: fine */
				goto out;
			rc = fail_e2e(t, E2E_STREAM_TRUNCATED);
			goto out;
		}
		if (!plain_pending && relay_conn_buffered(t->rc)) {
			if (fill_in(t) < 0) {
				rc = -1;
				goto out;
			}
			continue;
		}
		if (t->final_sent && monotonic_left_ms(final_deadline) == 0)
			goto out;
		struct pollfd p[3];
		int np = 0, ip = -1, ir = -1, is = -1;
		if (plain_in_open || plain_pending) {
			p[np] = (struct pollfd){
			    .fd = plain_fd,
			    .events = (short)((plain_in_open ? POLLIN : 0) | (plain_pending ? POLLOUT : 0))};
			ip = np++;
		}
		if (!plain_pending) {
			p[np] = (struct pollfd){.fd = relay_conn_fd(t->rc), .events = POLLIN};
			ir = np++;
		}
		if (stop_fd >= 0 && !t->final_sent) {
			p[np] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
			is = np++;
		}
		int w = poll(p, (nfds_t)np, t->final_sent ? monotonic_left_ms(final_deadline) : -1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = fail(t, TUNNEL_CODE_IO);
			goto out;
		}
		if (w == 0)
			continue; /* final deadline: checked above */
		if (is >= 0 && p[is].revents) {
			plain_in_open = false;
			if (tunnel_finish(t) < 0) {
				rc = -1;
				goto out;
			}
			final_deadline = monotonic_ms() + TUNNEL_FINAL_WAIT_MS;
			continue;
		}
		if (ir >= 0 && p[ir].revents) {
			if (fill_in(t) < 0) {
				rc = -1;
				goto out;
			}
		}
		if (ip >= 0 && plain_in_open && (p[ip].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(plain_fd, buf, E2E_MAX_PLAINTEXT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (n > 0) {
				if (seal_send(t, buf, (size_t)n, false) < 0) {
					rc = -1;
					goto out;
				}
				continue;
			}
			/* EOF or an error of the plain side: its end, a clean one */
			plain_in_open = false;
			if (n < 0)
				plain_out_open = false;
			if (tunnel_finish(t) < 0) {
				rc = -1;
				goto out;
			}
			final_deadline = monotonic_ms() + TUNNEL_FINAL_WAIT_MS;
		}
	}
out:
	free(buf);
	if (st)
		tunnel_get_stats(t, st);
	return rc;
}

int tunnel_fd(const struct tunnel *t)
{
	return relay_conn_fd(t->rc);
}

bool tunnel_buffered(const struct tunnel *t)
{
	return t->plain_off < t->plain_len || t->in_off < t->in_len || t->peer_final || t->eof ||
	       relay_conn_buffered(t->rc);
}

const char *tunnel_code(const struct tunnel *t)
{
	return t->code;
}

void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *st)
{
	*st = t->st;
}

enum relay_transport tunnel_transport(const struct tunnel *t)
{
	return relay_conn_transport(t->rc);
}

void tunnel_close(struct tunnel *t)
{
	if (!t)
		return;
	e2e_wipe(&t->e);
	sodium_memzero(t->plain, sizeof t->plain);
	sodium_memzero(t->frame, sizeof t->frame);
	relay_conn_close(t->rc);
	free(t->in);
	free(t);
}

void tunnel_fingerprint(const uint8_t host_pk[E2E_HOST_PK], char out[TUNNEL_FINGERPRINT_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, host_pk, E2E_HOST_PK);
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i > 0 && i % 2 == 0)
			out[o++] = ' ';
		out[o++] = hex[h[i] >> 4];
		out[o++] = hex[h[i] & 15];
	}
	out[o] = '\0';
}
