/*
 * bench_idle_clients: opens N HTTP connections to one server, makes one
 * request on each and then holds them all open, so a benchmark can measure
 * what N idle requests cost the server. Two modes:
 *
 *   sse        GET PATH with a Bearer token; each connection is "ready" once
 *              the response is 200 and the SSE preamble "retry: 3000" came.
 *              The request then stays suspended in the server's wake hub.
 *   keepalive  GET PATH once; ready once the whole 200 response is read. The
 *              connection then sits idle in HTTP keep-alive (the peer figure
 *              for servers, like nginx, that have no suspended request).
 *
 * It spreads the source addresses over 127.0.0.2..127.0.0.254 (bind before
 * connect, port chosen at connect) so the ephemeral port range is never the
 * limit, and raises RLIMIT_NOFILE to the hard limit.
 *
 * Output is line-based on stdout for a driver to read:
 *   progress opened=K ready=K
 *   ready n=N ms=T                 every connection is ready
 *   lost n=K                       connections the server closed while idle
 *   wake ...                       result of a wake (below)
 *   error ...                      then exit status 1
 * Commands on stdin, one per line: "wake" (also SIGUSR1), "status", "quit".
 * stdin EOF, SIGTERM and SIGINT close everything and exit 0 (a stdin that
 * epoll cannot watch, such as /dev/null or a file, is ignored).
 *
 * "wake" (sse mode, needs -a) sends POST /api/v1/tokens on one more
 * connection: creating a token writes an audit entry, which wakes every
 * stream of the account. It reports the POST's latency and, over the N
 * streams, when the "event: audit" line arrived, measured from the moment
 * the POST was written: first, median, p99 and last. The last one is the
 * fan-out time of one event to N suspended requests.
 *
 * Only libc; Linux (epoll).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, IP_BIND_ADDRESS_NO_PORT */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HBUF_MAX        4096 /* bytes of a response kept until it is ready */
#define WAKE_PATTERN    "event: audit"
#define TAIL_LEN        (sizeof WAKE_PATTERN - 2)
#define WAKE_TIMEOUT_NS (60ull * 1000000000ull)
#define TAG_STDIN       UINT64_MAX
#define TAG_TRIGGER     (UINT64_MAX - 1)

enum mode { MODE_SSE, MODE_KEEPALIVE };
enum cstate { C_FREE, C_CONNECTING, C_WAITING, C_READY, C_CLOSED };

struct conn {
	int fd;
	enum cstate state;
	unsigned short sent; /* request bytes written so far */
	unsigned short hlen; /* bytes in hbuf */
	char *hbuf;          /* response so far; freed once ready */
	char tail[TAIL_LEN]; /* last bytes seen, for a pattern split over reads */
	unsigned char tail_len;
	uint64_t got_ns; /* when this wake's event arrived, 0 = not yet */
};

static struct {
	const char *host;
	unsigned port;
	unsigned n;
	unsigned parallel;
	unsigned sources;
	enum mode mode;
	const char *path;
	const char *token;
	bool quiet;
} opt = {"127.0.0.1", 0, 10000, 200, 253, MODE_SSE, NULL, NULL, false};

static volatile sig_atomic_t stop_flag, wake_flag;
static struct conn *conns;
static int ep = -1;
static char request[2048];
static size_t request_len;
static struct sockaddr_in dst;
static unsigned opened, ready, lost, in_progress, next_to_open;

/* the wake trigger */
static struct {
	int fd;
	bool active; /* waiting for events */
	unsigned seq;
	uint64_t t0, post_ns;
	unsigned post_status;
	unsigned got;
	char req[512];
	size_t req_len, sent;
	char resp[512];
	size_t resp_len;
} wk = {.fd = -1};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		wake_flag = 1;
	else
		stop_flag = 1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("error ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_idle_clients -p PORT [-h HOST] [-n N] [-m sse|keepalive] [-u PATH]\n"
	                "                          [-a TOKEN] [-c PARALLEL] [-s SOURCES] [-q]\n"
	                "  -n N          connections to hold (default 10000)\n"
	                "  -m MODE       sse (default: GET /api/v1/events, needs -a) or keepalive\n"
	                "  -u PATH       request path (default /api/v1/events or /)\n"
	                "  -a TOKEN      API token sent as \"Authorization: Bearer TOKEN\"\n"
	                "  -c PARALLEL   connections being opened at once (default 200)\n"
	                "  -s SOURCES    spread source addresses over 127.0.0.2.. (default 253, 0 = no bind)\n"
	                "  -q            no progress lines\n");
	exit(2);
}

static void raise_nofile(unsigned need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			die("setrlimit: %s", strerror(errno));
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		die("the fd limit is %llu, %u connections need %u", (unsigned long long)rl.rlim_cur, opt.n, need);
}

static void close_conn(struct conn *c, bool was_lost)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->hbuf);
	c->hbuf = NULL;
	if (c->state == C_READY)
		ready--;
	else if (c->state == C_CONNECTING || c->state == C_WAITING)
		in_progress--;
	c->state = C_CLOSED;
	if (was_lost)
		lost++;
}

static void open_one(unsigned i)
{
	struct conn *c = &conns[i];
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket (connection %u): %s", i, strerror(errno));
	if (opt.sources) {
		int one = 1;
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000002u + i % opt.sources);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0)
			die("bind 127.0.0.%u (connection %u): %s", 2 + i % opt.sources, i, strerror(errno));
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
		die("connect (connection %u): %s", i, strerror(errno));
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = i};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->state = C_CONNECTING;
	opened++;
	in_progress++;
}

static void open_more(void)
{
	while (next_to_open < opt.n && in_progress < opt.parallel)
		open_one(next_to_open++);
}

static void progress(void)
{
	if (!opt.quiet && (ready % 1000 == 0 || ready == opt.n)) {
		printf("progress opened=%u ready=%u\n", opened, ready);
		fflush(stdout);
	}
}

/* Status code of an HTTP/1.x status line, 0 if there is none yet. */
static unsigned status_of(const char *buf, size_t len)
{
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return 0;
	return (unsigned)strtoul(buf + 9, NULL, 10);
}

/* Checks a response being received; returns 1 when ready, 0 for more,
 * -1 when it can never become ready (the message says why). */
static int check_handshake(struct conn *c, const char **why)
{
	char *end = memmem(c->hbuf, c->hlen, "\r\n\r\n", 4);
	if (!end)
		return c->hlen >= HBUF_MAX - 1 ? (*why = "headers too long", -1) : 0;
	unsigned status = status_of(c->hbuf, c->hlen);
	if (status != 200) {
		static char msg[96];
		snprintf(msg, sizeof msg, "status %u: %.60s", status, c->hbuf);
		for (char *p = msg; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		*why = msg;
		return -1;
	}
	size_t head = (size_t)(end - c->hbuf) + 4;
	if (opt.mode == MODE_SSE) {
		if (memmem(c->hbuf + head, c->hlen - head, "retry: 3000", 11))
			return 1;
		return c->hlen >= HBUF_MAX - 1 ? (*why = "no SSE preamble", -1) : 0;
	}
	const char *cl = NULL;
	for (char *p = c->hbuf; p < end; p++)
		if ((p == c->hbuf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0)
			cl = p + 15;
	if (!cl) {
		*why = "no Content-Length";
		return -1;
	}
	size_t body = strtoul(cl, NULL, 10);
	return c->hlen >= head + body ? 1 : 0;
}

static void note_event(struct conn *c, const char *data, size_t len, uint64_t t)
{
	char scan[TAIL_LEN + 16384];
	if (len > sizeof scan - TAIL_LEN)
		len = sizeof scan - TAIL_LEN;
	memcpy(scan, c->tail, c->tail_len);
	memcpy(scan + c->tail_len, data, len);
	size_t total = c->tail_len + len;
	if (wk.active && c->got_ns == 0 && memmem(scan, total, WAKE_PATTERN, sizeof WAKE_PATTERN - 1)) {
		c->got_ns = t;
		wk.got++;
	}
	size_t keep = total < TAIL_LEN ? total : TAIL_LEN;
	memcpy(c->tail, scan + total - keep, keep);
	c->tail_len = (unsigned char)keep;
}

static void on_conn_event(unsigned i, uint32_t events)
{
	struct conn *c = &conns[i];
	if (c->state == C_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			die("connect (connection %u): %s", i, strerror(err));
		c->state = C_WAITING;
		c->hbuf = malloc(HBUF_MAX);
		if (!c->hbuf)
			die("out of memory");
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = i};
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	if (c->state == C_WAITING && c->sent < request_len) {
		ssize_t w = write(c->fd, request + c->sent, request_len - c->sent);
		if (w < 0 && errno != EAGAIN)
			die("write (connection %u): %s", i, strerror(errno));
		if (w > 0)
			c->sent += (unsigned short)w;
		if (c->sent < request_len) { /* rare: wait until writable */
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = i};
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		char buf[16384];
		ssize_t r = read(c->fd, buf, sizeof buf);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			if (c->state == C_WAITING)
				die("connection %u closed by the server before its response (%s)", i,
				    r == 0 ? "EOF" : strerror(errno));
			close_conn(c, true);
			printf("lost n=%u\n", lost);
			fflush(stdout);
			return;
		}
		uint64_t t = now_ns();
		if (c->state == C_WAITING) {
			size_t room = HBUF_MAX - 1 - c->hlen, n = (size_t)r < room ? (size_t)r : room;
			memcpy(c->hbuf + c->hlen, buf, n);
			c->hlen += (unsigned short)n;
			c->hbuf[c->hlen] = '\0';
			const char *why = "";
			int v = check_handshake(c, &why);
			if (v < 0)
				die("connection %u: %s", i, why);
			if (v > 0) {
				free(c->hbuf);
				c->hbuf = NULL;
				c->state = C_READY;
				in_progress--;
				ready++;
				progress();
			}
		} else if (c->state == C_READY) {
			if (opt.mode == MODE_SSE)
				note_event(c, buf, (size_t)r, t);
		}
	}
}

/* ---- wake ---- */

static void wake_start(void)
{
	if (opt.mode != MODE_SSE || !opt.token) {
		printf("error wake needs -m sse and -a TOKEN\n");
		fflush(stdout);
		return;
	}
	if (wk.active || wk.fd >= 0) {
		printf("error a wake is already running\n");
		fflush(stdout);
		return;
	}
	for (unsigned i = 0; i < opt.n; i++)
		conns[i].got_ns = 0;
	wk.got = 0;
	wk.post_ns = 0;
	wk.post_status = 0;
	wk.resp_len = 0;
	wk.sent = 0;
	char body[64];
	int bl = snprintf(body, sizeof body, "{\"name\":\"bench-wake-%u\"}", ++wk.seq);
	wk.req_len =
	    (size_t)snprintf(wk.req, sizeof wk.req,
	                     "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	                     "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
	                     opt.token, bl, body);
	/* connect first (blocking, loopback: quick), then start the clock at the write */
	wk.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(wk.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (wk.fd < 0 || connect(wk.fd, (struct sockaddr *)&dst, sizeof dst) != 0)
		die("wake connect: %s", strerror(errno));
	wk.active = true;
	wk.t0 = now_ns();
	ssize_t w = write(wk.fd, wk.req, wk.req_len);
	if (w != (ssize_t)wk.req_len)
		die("wake write: %s", w < 0 ? strerror(errno) : "short");
	fcntl(wk.fd, F_SETFL, fcntl(wk.fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = TAG_TRIGGER};
	epoll_ctl(ep, EPOLL_CTL_ADD, wk.fd, &ev);
}

static void on_trigger_event(void)
{
	for (;;) {
		char buf[1024];
		ssize_t r = read(wk.fd, buf, sizeof buf);
		if (r < 0 && errno == EAGAIN)
			return;
		if (r > 0) {
			if (!wk.post_ns)
				wk.post_ns = now_ns();
			size_t room = sizeof wk.resp - 1 - wk.resp_len, n = (size_t)r < room ? (size_t)r : room;
			memcpy(wk.resp + wk.resp_len, buf, n);
			wk.resp_len += n;
			wk.resp[wk.resp_len] = '\0';
			if (!wk.post_status)
				wk.post_status = status_of(wk.resp, wk.resp_len);
			continue;
		}
		epoll_ctl(ep, EPOLL_CTL_DEL, wk.fd, NULL);
		close(wk.fd);
		wk.fd = -1;
		return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void wake_report(bool timed_out)
{
	uint64_t *d = malloc(sizeof *d * (opt.n + 1));
	if (!d)
		die("out of memory");
	size_t k = 0;
	for (unsigned i = 0; i < opt.n; i++)
		if (conns[i].got_ns)
			d[k++] = conns[i].got_ns - wk.t0;
	qsort(d, k, sizeof *d, cmp_u64);
	double ms = 1e-6;
	printf("wake status=%u got=%zu of=%u post_ms=%.3f first_ms=%.3f p50_ms=%.3f p99_ms=%.3f last_ms=%.3f%s\n",
	       wk.post_status, k, ready, wk.post_ns ? (double)(wk.post_ns - wk.t0) * ms : -1.0,
	       k ? (double)d[0] * ms : -1.0, k ? (double)d[k / 2] * ms : -1.0,
	       k ? (double)d[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1] * ms : -1.0, k ? (double)d[k - 1] * ms : -1.0,
	       timed_out ? " timeout=1" : "");
	fflush(stdout);
	free(d);
	wk.active = false;
}

static void wake_check(void)
{
	if (!wk.active)
		return;
	bool done = wk.got >= ready && (wk.post_status || wk.fd < 0);
	bool late = now_ns() - wk.t0 > WAKE_TIMEOUT_NS;
	if (done || late)
		wake_report(!done);
}

/* ---- stdin commands ---- */

static void on_stdin(void)
{
	static char line[256];
	static size_t len;
	ssize_t r = read(0, line + len, sizeof line - 1 - len);
	if (r <= 0) {
		stop_flag = 1;
		return;
	}
	len += (size_t)r;
	char *nl;
	while ((nl = memchr(line, '\n', len))) {
		*nl = '\0';
		if (strcmp(line, "wake") == 0)
			wake_start();
		else if (strcmp(line, "status") == 0) {
			printf("status opened=%u ready=%u lost=%u\n", opened, ready, lost);
			fflush(stdout);
		} else if (strcmp(line, "quit") == 0)
			stop_flag = 1;
		size_t used = (size_t)(nl - line) + 1;
		memmove(line, nl + 1, len - used);
		len -= used;
	}
	if (len == sizeof line - 1)
		len = 0;
}

int main(int argc, char **argv)
{
	int ch;
	while ((ch = getopt(argc, argv, "h:p:n:m:u:a:c:s:q")) != -1) {
		switch (ch) {
		case 'h':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			opt.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			if (strcmp(optarg, "sse") == 0)
				opt.mode = MODE_SSE;
			else if (strcmp(optarg, "keepalive") == 0)
				opt.mode = MODE_KEEPALIVE;
			else
				usage();
			break;
		case 'u':
			opt.path = optarg;
			break;
		case 'a':
			opt.token = optarg;
			break;
		case 'c':
			opt.parallel = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			opt.sources = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			opt.quiet = true;
			break;
		default:
			usage();
		}
	}
	if (!opt.port || opt.port > 65535 || !opt.n || !opt.parallel || opt.sources > 253)
		usage();
	if (opt.mode == MODE_SSE && !opt.token)
		usage();
	if (!opt.path)
		opt.path = opt.mode == MODE_SSE ? "/api/v1/events" : "/";
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1)
		die("-h wants an IPv4 address, not %s", opt.host);
	if (opt.sources && (ntohl(dst.sin_addr.s_addr) >> 24) != 127)
		opt.sources = 0; /* spreading only works on loopback */
	int n = opt.mode == MODE_SSE
	            ? snprintf(
	                  request, sizeof request,
	                  "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n",
	                  opt.path, opt.token)
	            : snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", opt.path);
	if (n < 0 || (size_t)n >= sizeof request)
		die("request too long");
	request_len = (size_t)n;

	raise_nofile(opt.n + 32);
	conns = calloc(opt.n, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		die("setup: %s", strerror(errno));
	for (unsigned i = 0; i < opt.n; i++)
		conns[i].fd = -1;

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct epoll_event sev = {.events = EPOLLIN, .data.u64 = TAG_STDIN};
	bool have_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) == 0; /* not when stdin is a file */

	uint64_t t_start = now_ns();
	bool announced = false;
	static struct epoll_event evs[512];
	while (!stop_flag) {
		open_more();
		if (!announced && ready == opt.n) {
			announced = true;
			printf("ready n=%u ms=%.1f\n", ready, (double)(now_ns() - t_start) / 1e6);
			fflush(stdout);
		}
		if (wake_flag) {
			wake_flag = 0;
			wake_start();
		}
		int k = epoll_wait(ep, evs, 512, wk.active ? 100 : 1000);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int e = 0; e < k; e++) {
			uint64_t tag = evs[e].data.u64;
			if (tag == TAG_STDIN && have_stdin)
				on_stdin();
			else if (tag == TAG_TRIGGER)
				on_trigger_event();
			else
				on_conn_event((unsigned)tag, evs[e].events);
		}
		wake_check();
	}
	for (unsigned i = 0; i < opt.n; i++)
		if (conns[i].fd >= 0)
			close_conn(&conns[i], false);
	printf("closed n=%u lost=%u\n", opt.n, lost);
	fflush(stdout);
	free(conns);
	return 0;
}
