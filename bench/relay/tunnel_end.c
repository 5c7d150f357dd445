/*
 * bench_tunnel_end: one end of a relayed session for bench/relay/run, on
 * the product's own client code: relay_connect (first frame, status line)
 * and, unless --raw, the tunnel library the CLI and the player use
 * (tunnel_open, tunnel_pump: the end-to-end layer as guest or host). --raw
 * forwards the bytes as they are instead (what the relay alone costs).
 * Either way it forwards to and from a local socket: the guest
 * listens on ADDR for one connection (and says "ready PORT" on stdout when
 * it listens; port 0 picks one), the host connects to ADDR.
 *
 *   bench_tunnel_end guest|host RELAY_HOST:PORT SESSION_ID TICKET
 *                    GUEST_TICKET SECRET_HEX HOST_SEED_HEX ADDR [--raw]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/e2e.h"
#include "common/relay_client.h"
#include "common/tunnel.h"

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

/* Listens on addr (port 0: any), says "ready PORT" on stdout, takes one
 * connection. */
static int accept_one(const char *addr)
{
	struct sockaddr_in a = parse_addr(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0)
		die("cannot listen");
	socklen_t alen = sizeof a;
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	printf("ready %u\n", ntohs(a.sin_port));
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

/* relay_connect to "HOST:PORT" (TCP) with the ticket; exits on a refusal. */
static struct relay_conn *relay_join(const char *relay, const char *ticket)
{
	struct relay_target t = {0};
	const char *colon = strrchr(relay, ':');
	if (!colon || (size_t)(colon - relay) >= sizeof t.host)
		die("the relay is HOST:PORT");
	memcpy(t.host, relay, (size_t)(colon - relay));
	t.port = (unsigned)atoi(colon + 1);
	struct relay_conn *rc;
	char code[64], err[256];
	if (relay_connect(&t, ticket, 30000, NULL, &rc, code, sizeof code, err, sizeof err) != 0) {
		fprintf(stderr, "bench_tunnel_end: %s (%s)\n", err, code);
		exit(1);
	}
	return rc;
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
	struct relay_conn *rc = relay_join(relay, ticket);
	if (!guest)
		plain = tcp_connect(addr);
	if (raw) {
		if (relay_conn_buffered(rc))
			die("bytes came with the status line");
		int fd = relay_conn_fd(rc); /* relay_connect leaves it non-blocking */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		pump_raw(plain, fd);
		relay_conn_close(rc);
		return 0;
	}
	struct tunnel *t;
	char code[TUNNEL_CODE_MAX];
	if (tunnel_open(&t, rc, guest ? E2E_GUEST : E2E_HOST, sid, th, secret, guest ? pk : sk, 15000, code) != 0) {
		fprintf(stderr, "bench_tunnel_end: handshake: %s\n", code);
		return 1;
	}
	int rcode = tunnel_pump(t, plain, -1, NULL);
	if (rcode != 0)
		fprintf(stderr, "bench_tunnel_end: %s\n", tunnel_code(t));
	tunnel_close(t);
	return rcode == 0 ? 0 : 1;
}
