/*
 * bench_tunnel_end: one end of a relayed session for bench/relay/run. It
 * connects to vitrine-relay with its ticket (first frame, then the status
 * line), and then either forwards bytes as they are (--raw: what the relay
 * alone costs) or runs the end-to-end layer (src/common/e2e.c) as guest or
 * host and forwards plaintext to and from a local socket: the guest
 * listens on ADDR for one connection (and says "ready" on stdout when it
 * listens), the host connects to ADDR. One
 * thread, poll(), full frames; a clean end sends the final frame.
 *
 *   bench_tunnel_end guest|host RELAY_HOST:PORT SESSION_ID TICKET
 *                    GUEST_TICKET SECRET_HEX HOST_SEED_HEX ADDR [--raw]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/e2e.h"

static void die(const char *what)
{
	fprintf(stderr, "bench_tunnel_end: %s\n", what);
	exit(1);
}

static struct sockaddr_in parse_addr(const char *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		die("an address is HOST:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("an address is an IPv4 HOST:PORT");
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	return a;
}

static int tcp_connect(const char *addr)
{
	struct sockaddr_in a = parse_addr(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die("cannot connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Listens on addr, says "ready" on stdout, takes one connection. */
static int accept_one(const char *addr)
{
	struct sockaddr_in a = parse_addr(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0)
		die("cannot listen");
	puts("ready");
	fflush(stdout);
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("cannot accept");
	close(lfd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write failed");
		p += w;
		n -= (size_t)w;
	}
}

static void read_exact(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			die("the relay closed");
		p += r;
		n -= (size_t)r;
	}
}

/* First frame, then "paired\n" (read byte by byte: what follows is the session's). */
static int relay_join(const char *relay, const char *ticket)
{
	int fd = tcp_connect(relay);
	size_t len = strlen(ticket);
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	write_all(fd, hdr, 2);
	write_all(fd, (const uint8_t *)ticket, len);
	char line[64];
	size_t n = 0;
	while (n < sizeof line - 1) {
		read_exact(fd, (uint8_t *)line + n, 1);
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	if (strcmp(line, "paired\n") != 0) {
		fprintf(stderr, "bench_tunnel_end: the relay said %s", line);
		exit(1);
	}
	return fd;
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t got;
	if (sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL) != 0 || got != len)
		die("bad hex argument");
}

/* Raw forwarding both ways until either side ends. */
static void pump_raw(int a, int b)
{
	static uint8_t buf[1 << 16];
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(p[i].fd, buf, sizeof buf);
			if (r <= 0)
				return;
			write_all(p[1 - i].fd, buf, (size_t)r);
		}
	}
}

/* Plaintext on plain <-> frames on relay. */
static void pump_e2e(struct e2e *e, int plain, int relay)
{
	static uint8_t in[E2E_MAX_PLAINTEXT], frame[E2E_MAX_FRAME], rbuf[1 << 17], out[E2E_MAX_PLAINTEXT];
	struct pollfd p[2] = {{.fd = plain, .events = POLLIN}, {.fd = relay, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(plain, in, sizeof in);
			size_t fl;
			if (e2e_seal(e, in, r > 0 ? (size_t)r : 0, r <= 0, frame, sizeof frame, &fl) != E2E_OK)
				die("seal");
			write_all(relay, frame, fl);
			if (r <= 0)
				return;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(relay, rbuf, sizeof rbuf);
			if (r <= 0)
				return;
			for (size_t pos = 0; pos < (size_t)r;) {
				size_t used, ol;
				bool done;
				int rc = e2e_open(e, rbuf + pos, (size_t)r - pos, &used, out, sizeof out, &ol, &done);
				if (rc != E2E_OK) {
					fprintf(stderr, "bench_tunnel_end: %s\n", e2e_status_code(rc));
					exit(1);
				}
				pos += used;
				if (ol)
					write_all(plain, out, ol);
			}
		}
	}
}

static void handshake(struct e2e *e, int relay)
{
	uint8_t out[E2E_HANDSHAKE_OUT], in[E2E_HANDSHAKE_OUT];
	size_t used, ol;
	if (e2e_handshake(e, NULL, 0, &used, out, sizeof out, &ol) != E2E_OK)
		die("handshake");
	if (ol)
		write_all(relay, out, ol);
	while (!e2e_established(e)) {
		size_t want = e->role == E2E_GUEST              ? E2E_MSG2_LEN
		              : e->state == E2E_STATE_WAIT_MSG1 ? E2E_MSG1_LEN
		                                                : E2E_MSG3_LEN;
		read_exact(relay, in, want);
		int rc = e2e_handshake(e, in, want, &used, out, sizeof out, &ol);
		if (rc != E2E_OK) {
			fprintf(stderr, "bench_tunnel_end: %s\n", e2e_status_code(rc));
			exit(1);
		}
		if (ol)
			write_all(relay, out, ol);
	}
}

int main(int argc, char **argv)
{
	if ((argc != 9 && argc != 10) || sodium_init() < 0) {
		fputs(
		    "usage: bench_tunnel_end guest|host RELAY SESSION_ID TICKET GUEST_TICKET SECRET_HEX HOST_SEED_HEX "
		    "ADDR [--raw]\n",
		    stderr);
		return 2;
	}
	bool guest = strcmp(argv[1], "guest") == 0, raw = argc == 10 && strcmp(argv[9], "--raw") == 0;
	const char *relay = argv[2], *sid = argv[3], *ticket = argv[4], *guest_ticket = argv[5], *addr = argv[8];
	uint8_t secret[E2E_SESSION_SECRET], seed[32], pk[E2E_HOST_PK], sk[E2E_HOST_SK], th[E2E_TICKET_HASH];
	unhex(argv[6], secret, sizeof secret);
	unhex(argv[7], seed, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	e2e_ticket_hash(guest_ticket, strlen(guest_ticket), th);

	int plain = guest ? accept_one(addr) : -1;
	int rfd = relay_join(relay, ticket);
	if (!guest)
		plain = tcp_connect(addr);
	if (raw) {
		pump_raw(plain, rfd);
		return 0;
	}
	struct e2e *e = malloc(sizeof *e);
	if (!e || e2e_init(e, guest ? E2E_GUEST : E2E_HOST, sid, th, secret, guest ? pk : sk) != E2E_OK)
		die("init");
	handshake(e, rfd);
	pump_e2e(e, plain, rfd);
	e2e_wipe(e);
	free(e);
	return 0;
}
