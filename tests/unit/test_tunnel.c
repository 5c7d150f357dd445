/*
 * Unit tests of src/common/tunnel.c and relay_client.c with both ends in
 * one process: guest and host tunnels over a socketpair (the host in a
 * thread), data both ways through tunnel_write_all/read_some and through
 * tunnel_pump with a clean end, a wrong host key, a byte flipped by a
 * "relay" thread in the middle, a peer that vanishes; relay_connect against
 * a fake relay on loopback (paired with session bytes right behind the
 * status line, an error line, nothing listening); the fingerprint format.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/tunnel.h"

#define SID    "k7d2m4x9q3r5t8vw"
#define TICKET "vt1.guest-ticket.for-the-tests"
#define BIG    (3u << 20)

struct side {
	int fd; /* the end of the "relay" pipe */
	uint8_t host_pk[E2E_HOST_PK], host_sk[E2E_HOST_SK];
	uint8_t expect_pk[E2E_HOST_PK];
	uint8_t ticket_hash[32], secret[32];
	char code[TUNNEL_CODE_MAX];
	int rc;
	size_t echoed;
	int plain_fd; /* pump tests */
	struct tunnel_stats st;
};

static void keys(struct side *s)
{
	crypto_sign_keypair(s->host_pk, s->host_sk);
	memcpy(s->expect_pk, s->host_pk, sizeof s->host_pk);
	e2e_ticket_hash(TICKET, strlen(TICKET), s->ticket_hash);
	randombytes_buf(s->secret, sizeof s->secret);
}

/* The host: opens, echoes everything back until the guest's final frame,
 * then sends its own. */
static void *host_echo(void *arg)
{
	struct side *s = arg;
	struct tunnel *t = NULL;
	struct relay_conn *rc = relay_conn_from_fd(s->fd);
	s->rc = tunnel_open(&t, rc, E2E_HOST, SID, s->ticket_hash, s->secret, s->host_sk, 5000, s->code);
	if (s->rc < 0)
		return NULL;
	uint8_t buf[20000];
	for (;;) {
		ssize_t n = tunnel_read_some(t, buf, sizeof buf, 10000);
		if (n > 0) {
			s->echoed += (size_t)n;
			if (tunnel_write_all(t, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (n == 0)
			s->rc = tunnel_finish(t);
		else
			s->rc = -1;
		break;
	}
	snprintf(s->code, sizeof s->code, "%s", tunnel_code(t));
	tunnel_close(t);
	return NULL;
}

static struct tunnel *open_guest(struct side *s, int fd, char *code)
{
	struct tunnel *t = NULL;
	int rc = tunnel_open(&t, relay_conn_from_fd(fd), E2E_GUEST, SID, s->ticket_hash, s->secret, s->expect_pk, 5000,
	                     code);
	return rc == 0 ? t : NULL;
}

static void test_data_both_ways_and_clean_end(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[1];
	pthread_t th;
	pthread_create(&th, NULL, host_echo, &s);
	char code[TUNNEL_CODE_MAX];
	struct tunnel *g = open_guest(&s, sv[0], code);
	assert_non_null(g);
	assert_string_equal(tunnel_code(g), "");
	assert_int_equal(tunnel_transport(g), RELAY_TCP);
	uint8_t *data = malloc(BIG), *back = malloc(BIG);
	randombytes_buf(data, BIG);
	/* one big write: the echo comes back while it is written */
	assert_int_equal(tunnel_write_all(g, data, BIG), 0);
	assert_int_equal(tunnel_finish(g), 0);
	size_t got = 0;
	for (;;) {
		ssize_t n = tunnel_read_some(g, back + got, BIG - got, 10000);
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	assert_int_equal(got, BIG);
	assert_memory_equal(data, back, BIG);
	struct tunnel_stats st;
	tunnel_get_stats(g, &st);
	assert_int_equal(st.sent, BIG);
	assert_int_equal(st.received, BIG);
	assert_true(st.wire_sent > BIG && st.wire_received > BIG);
	assert_int_equal(tunnel_read_some(g, back, 10, 0), 0); /* stays ended */
	assert_int_equal(tunnel_write_all(g, data, 1), -1);    /* nothing after our final frame */
	tunnel_close(g);
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.echoed, BIG);
	free(data);
	free(back);
}

struct viewer {
	int fd;
	size_t len;
	uint8_t *data;
	size_t got;
	int ok;
};

/* The plain side of a pump: writes its data, ends its writing, reads the
 * echo until EOF. */
static void *viewer(void *arg)
{
	struct viewer *v = arg;
	uint8_t *back = malloc(v->len);
	size_t off = 0;
	while (off < v->len || v->got < v->len) {
		struct pollfd p = {.fd = v->fd, .events = (short)(POLLIN | (off < v->len ? POLLOUT : 0))};
		if (poll(&p, 1, 10000) <= 0)
			break;
		if ((p.revents & POLLOUT) && off < v->len) {
			ssize_t n = write(v->fd, v->data + off, v->len - off < 8192 ? v->len - off : 8192);
			if (n > 0)
				off += (size_t)n;
			if (off == v->len)
				shutdown(v->fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(v->fd, back + v->got, v->len - v->got);
			if (n <= 0)
				break;
			v->got += (size_t)n;
		}
	}
	uint8_t extra;
	v->ok = v->got == v->len && memcmp(back, v->data, v->len) == 0 && read(v->fd, &extra, 1) == 0;
	free(back);
	return NULL;
}

static void test_pump_plain_socket_clean_end(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	int sv[2], pv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pv), 0);
	s.fd = sv[1];
	pthread_t th, tv;
	pthread_create(&th, NULL, host_echo, &s);
	char code[TUNNEL_CODE_MAX];
	struct tunnel *g = open_guest(&s, sv[0], code);
	assert_non_null(g);
	struct viewer v = {.fd = pv[1], .len = 1000000, .data = malloc(1000000)};
	randombytes_buf(v.data, v.len);
	pthread_create(&tv, NULL, viewer, &v);
	struct tunnel_stats st;
	assert_int_equal(tunnel_pump(g, pv[0], -1, &st), 0);
	assert_string_equal(tunnel_code(g), "");
	assert_int_equal(st.sent, v.len);
	assert_int_equal(st.received, v.len);
	pthread_join(tv, NULL);
	assert_true(v.ok);
	tunnel_close(g);
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0);
	close(pv[0]);
	close(pv[1]);
	free(v.data);
}

static void test_pump_stops_on_stop_fd(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	int sv[2], pv[2], stop[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pv), 0);
	assert_int_equal(pipe(stop), 0);
	s.fd = sv[1];
	pthread_t th;
	pthread_create(&th, NULL, host_echo, &s);
	char code[TUNNEL_CODE_MAX];
	struct tunnel *g = open_guest(&s, sv[0], code);
	assert_non_null(g);
	assert_int_equal(write(stop[1], "x", 1), 1);
	assert_int_equal(tunnel_pump(g, pv[0], stop[0], NULL), 0);
	tunnel_close(g);
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0); /* the host saw a clean end */
	close(pv[0]);
	close(pv[1]);
	close(stop[0]);
	close(stop[1]);
}

static void test_wrong_host_key_is_refused(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	s.expect_pk[5] ^= 1;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[1];
	pthread_t th;
	pthread_create(&th, NULL, host_echo, &s);
	char code[TUNNEL_CODE_MAX];
	assert_null(open_guest(&s, sv[0], code));
	assert_string_equal(code, "host_key_mismatch");
	pthread_join(th, NULL);
	assert_int_equal(s.rc, -1);
	assert_string_equal(s.code, "stream_truncated");
}

static void test_other_session_secret_is_refused(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[1];
	pthread_t th;
	pthread_create(&th, NULL, host_echo, &s);
	char code[TUNNEL_CODE_MAX];
	struct side other = s;
	other.secret[0] ^= 1;
	struct tunnel *g = open_guest(&other, sv[0], code);
	/* the host refuses the key confirmation; the guest may get in first */
	if (g) {
		assert_int_equal(tunnel_read_some(g, code, 1, 5000), -1);
		tunnel_close(g);
	}
	pthread_join(th, NULL);
	assert_int_equal(s.rc, -1);
	assert_string_equal(s.code, "handshake_invalid");
}

struct middle {
	int a, b;       /* guest side, host side */
	size_t flip_at; /* byte offset host -> guest to flip, SIZE_MAX: none */
	size_t passed;
};

/* A "relay" that forwards both ways and flips one byte host -> guest. */
static void *middle(void *arg)
{
	struct middle *m = arg;
	uint8_t buf[4096];
	for (;;) {
		struct pollfd p[2] = {{.fd = m->a, .events = POLLIN}, {.fd = m->b, .events = POLLIN}};
		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents) {
			ssize_t n = read(m->a, buf, sizeof buf);
			if (n <= 0 || write(m->b, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			ssize_t n = read(m->b, buf, sizeof buf);
			if (n <= 0)
				break;
			if (m->flip_at >= m->passed && m->flip_at < m->passed + (size_t)n)
				buf[m->flip_at - m->passed] ^= 0x40;
			m->passed += (size_t)n;
			if (write(m->a, buf, (size_t)n) != n)
				break;
		}
	}
	close(m->a);
	close(m->b);
	return NULL;
}

static const char *run_tampered(size_t flip_at)
{
	static char code[TUNNEL_CODE_MAX];
	struct side s = {0};
	keys(&s);
	int g2m[2], m2h[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, g2m), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, m2h), 0);
	struct middle m = {.a = g2m[1], .b = m2h[0], .flip_at = flip_at};
	s.fd = m2h[1];
	pthread_t th, tm;
	pthread_create(&tm, NULL, middle, &m);
	pthread_create(&th, NULL, host_echo, &s);
	struct tunnel *g = open_guest(&s, g2m[0], code);
	if (g) {
		uint8_t buf[100] = {1, 2, 3};
		tunnel_write_all(g, buf, sizeof buf);
		ssize_t n;
		while ((n = tunnel_read_some(g, buf, sizeof buf, 5000)) > 0)
			;
		assert_int_equal(n, -1);
		snprintf(code, sizeof code, "%s", tunnel_code(g));
		tunnel_close(g);
	}
	pthread_join(th, NULL);
	pthread_join(tm, NULL);
	return code;
}

static void test_tampered_bytes_are_refused(void **state)
{
	(void)state;
	assert_string_equal(run_tampered(20), "handshake_invalid");  /* inside msg2: the host's ephemeral */
	assert_string_equal(run_tampered(40), "host_key_mismatch");  /* inside msg2: the host key */
	assert_string_equal(run_tampered(100), "handshake_invalid"); /* inside msg2: the signature */
	assert_string_equal(run_tampered(E2E_MSG2_LEN + 5), "frame_tampered");
}

static void test_peer_vanishing_is_truncation(void **state)
{
	(void)state;
	struct side s = {0};
	keys(&s);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char code[TUNNEL_CODE_MAX];
	close(sv[1]);
	assert_null(open_guest(&s, sv[0], code));
	assert_string_equal(code, "stream_truncated");
}

/* ---- relay_connect against a fake relay ---- */

struct fake_relay {
	int lfd;
	const char *answer;
	size_t answer_len;
	char ticket[RELAY_TICKET_MAX + 1];
};

static void *fake_relay(void *arg)
{
	struct fake_relay *f = arg;
	int c = accept(f->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	uint8_t hdr[2];
	if (recv(c, hdr, 2, MSG_WAITALL) == 2) {
		size_t n = (size_t)hdr[0] << 8 | hdr[1];
		if (n <= RELAY_TICKET_MAX && recv(c, f->ticket, n, MSG_WAITALL) == (ssize_t)n)
			f->ticket[n] = '\0';
	}
	if (write(c, f->answer, f->answer_len) < 0)
		f->ticket[0] = '\0';
	usleep(100000);
	close(c);
	return NULL;
}

static int listen_any(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_relay_connect_paired_keeps_session_bytes(void **state)
{
	(void)state;
	struct relay_target t = {.host = "127.0.0.1"};
	static const char answer[] = "paired\nVE2E-session-bytes";
	struct fake_relay f = {.answer = answer, .answer_len = sizeof answer - 1};
	f.lfd = listen_any(&t.port);
	pthread_t th;
	pthread_create(&th, NULL, fake_relay, &f);
	struct relay_conn *c = NULL;
	char code[32], err[256];
	assert_int_equal(relay_connect(&t, TICKET, 5000, NULL, &c, code, sizeof code, err, sizeof err), 0);
	assert_string_equal(code, "");
	assert_int_equal(relay_conn_transport(c), RELAY_TCP);
	assert_string_equal(relay_transport_name(relay_conn_transport(c)), "tcp");
	char buf[64] = {0};
	size_t got = 0;
	while (got < 18) {
		struct pollfd p = {.fd = relay_conn_fd(c), .events = POLLIN};
		poll(&p, 1, 2000);
		ssize_t n = relay_conn_read(c, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	assert_string_equal(buf, "VE2E-session-bytes");
	relay_conn_close(c);
	pthread_join(th, NULL);
	assert_string_equal(f.ticket, TICKET);
	close(f.lfd);
}

static void test_relay_connect_error_line_and_garbage(void **state)
{
	(void)state;
	static const struct {
		const char *answer, *code;
	} cases[] = {
	    {"error ticket_expired\n", "ticket_expired"},
	    {"error ticket_replayed\n", "ticket_replayed"},
	    {"HTTP/1.1 400 Bad Request\r\n", "relay_protocol"},
	    {"error Not A Code\n", "relay_protocol"},
	    {"", "relay_protocol"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct relay_target t = {.host = "127.0.0.1"};
		struct fake_relay f = {.answer = cases[i].answer, .answer_len = strlen(cases[i].answer)};
		f.lfd = listen_any(&t.port);
		pthread_t th;
		pthread_create(&th, NULL, fake_relay, &f);
		struct relay_conn *c = NULL;
		char code[32], err[256];
		assert_int_equal(relay_connect(&t, TICKET, 5000, NULL, &c, code, sizeof code, err, sizeof err), -1);
		assert_null(c);
		assert_string_equal(code, cases[i].code);
		assert_true(err[0] != '\0');
		pthread_join(th, NULL);
		close(f.lfd);
	}
}

static void test_relay_connect_unreachable_and_bad_ticket(void **state)
{
	(void)state;
	unsigned port;
	int fd = listen_any(&port);
	close(fd); /* nothing listens there now */
	struct relay_target t = {.host = "127.0.0.1", .port = port};
	snprintf(t.ws_url, sizeof t.ws_url, "ws://127.0.0.1:%u/relay", port);
	struct relay_conn *c = NULL;
	char code[32], err[512];
	assert_int_equal(relay_connect(&t, TICKET, 2000, NULL, &c, code, sizeof code, err, sizeof err), -1);
	assert_string_equal(code, "relay_unreachable");
	assert_non_null(strstr(err, "TCP"));
	assert_non_null(strstr(err, "WebSocket"));
	assert_int_equal(relay_connect(&t, "", 2000, NULL, &c, code, sizeof code, err, sizeof err), -1);
	assert_string_equal(code, "ticket_invalid");
	snprintf(t.ws_url, sizeof t.ws_url, "http://127.0.0.1/");
	t.port = 0;
	assert_int_equal(relay_connect(&t, TICKET, 2000, NULL, &c, code, sizeof code, err, sizeof err), -1);
	assert_string_equal(code, "relay_unreachable");
	assert_non_null(strstr(err, "not a ws://"));
}

static void test_fingerprint_format(void **state)
{
	(void)state;
	uint8_t zero[E2E_HOST_PK] = {0};
	char fp[TUNNEL_FINGERPRINT_LEN];
	tunnel_fingerprint(zero, fp);
	/* SHA-256 of 32 zero bytes: 66687aad f862bd77 6c8fc18b 8e9f8e20 ... */
	assert_string_equal(fp, "6668 7aad f862 bd77 6c8f c18b 8e9f 8e20");
	assert_int_equal(strlen(fp), TUNNEL_FINGERPRINT_LEN - 1);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_both_ways_and_clean_end),
	    cmocka_unit_test(test_pump_plain_socket_clean_end),
	    cmocka_unit_test(test_pump_stops_on_stop_fd),
	    cmocka_unit_test(test_wrong_host_key_is_refused),
	    cmocka_unit_test(test_other_session_secret_is_refused),
	    cmocka_unit_test(test_tampered_bytes_are_refused),
	    cmocka_unit_test(test_peer_vanishing_is_truncation),
	    cmocka_unit_test(test_relay_connect_paired_keeps_session_bytes),
	    cmocka_unit_test(test_relay_connect_error_line_and_garbage),
	    cmocka_unit_test(test_relay_connect_unreachable_and_bad_ticket),
	    cmocka_unit_test(test_fingerprint_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
