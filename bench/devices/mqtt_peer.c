/*
 * bench_mqtt_peer: the peer of bench_devices hold, for mosquitto. COUNT
 * MQTT 3.1.1 clients (raw packets, written by hand: CONNECT, SUBSCRIBE,
 * PINGREQ, PUBACK) each subscribed at QoS 1 to its own topic dev/K, spread
 * over 127.NET.x.y (PER_IP clients per address). Each client pings every
 * KEEPALIVE seconds, the first ping at a random moment, so that an idle
 * fleet talks to the broker as often as vitrine devices re-poll.
 *
 * Commands on stdin, one per line; answers are JSON lines on stdout:
 *   status               counters
 *   measure M [GAP_MS]   publishes M messages at QoS 1 one at a time (GAP_MS
 *                        apart, default 10), each to the topic of one random
 *                        client, from one more client (the sender), and
 *                        times, on CLOCK_MONOTONIC in this process, the
 *                        write of the PUBLISH -> the subscriber has read the
 *                        whole PUBLISH ("deliver"), and -> the sender has its
 *                        PUBACK ("created")
 *   quit                 (also stdin EOF)
 * Event {"event":"ready",...} once every client has its SUBACK.
 *
 * Usage: bench_mqtt_peer --broker 127.0.0.1:PORT --count N [--keepalive 30]
 *                        [--net 5] [--per-ip 1000] [--connect-batch 256] [--seed S]
 * Only libc; Linux (epoll).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX             (64u * 1024u)
#define OUT_MAX            4096u
#define MEASURE_TIMEOUT_NS (40ull * NS_PER_S)
#define RETRY_NS           (1ull * NS_PER_S)

enum state { S_CLOSED, S_CONNECTING, S_WAIT_CONNACK, S_WAIT_SUBACK, S_READY };

struct client {
	int fd;
	int idx; /* -1: the sender */
	enum state state;
	bool want_out;
	bool counted; /* in st.ready */
	struct buf out, in;
	size_t out_off;
	uint64_t next_ping, ping_sent, retry_at;
};

static struct {
	struct sockaddr_in broker;
	unsigned count, keepalive, net, per_ip, connect_batch;
	uint64_t seed;
} opt = {.keepalive = 30, .net = 5, .per_ip = 1000, .connect_batch = 256};

static int ep = -1;
static struct client *cl;
static struct client sender = {.fd = -1, .idx = -1};
static bool quitting, ready_printed;
static uint64_t t_start;
static unsigned next_connect;

static struct {
	uint64_t connects, connect_errors, conn_errors, closed_by_broker, reconnects;
	uint64_t pings, pongs, publishes, pubacks_sent, unexpected, bad_packets, late_pongs;
	unsigned connecting, ready;
} st;

static struct {
	bool active, have_ack, have_recv;
	unsigned total, sent, lost, send_failed, gap_ms;
	int target;
	uint16_t pid;
	uint64_t t_send, t_ack, t_recv, next_at;
	uint64_t *deliver, *created;
	size_t n_deliver, n_created;
} m;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[bench_mqtt_peer] ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---------- sockets ---------- */

static void set_interest(struct client *c, bool out)
{
	if (c->fd < 0 || c->want_out == out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = out;
}

static void flush_out(struct client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	set_interest(c, c->out.len > 0);
}

static void send_bytes(struct client *c, const uint8_t *p, size_t n)
{
	if (c->out_off) { /* compact before appending */
		buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	if (buf_append(&c->out, p, n, OUT_MAX) != 0) {
		logf_("output buffer full");
		exit(1);
	}
	flush_out(c);
}

static void close_client(struct client *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		if (c->state == S_CONNECTING && st.connecting)
			st.connecting--;
	}
	if (c->counted) {
		st.ready--;
		c->counted = false;
	}
	c->fd = -1;
	c->state = S_CLOSED;
	c->want_out = false;
	c->out.len = c->out_off = c->in.len = 0;
	c->ping_sent = 0;
}

static int open_client(struct client *c)
{
	struct sockaddr_in src;
	if (c->idx >= 0)
		source_address(opt.net, (unsigned)c->idx / opt.per_ip, &src);
	c->fd = connect_from(c->idx >= 0 ? &src : NULL, &opt.broker);
	if (c->fd < 0) {
		st.connect_errors++;
		c->retry_at = now_ns() + RETRY_NS;
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->want_out = true;
	c->state = S_CONNECTING;
	st.connects++;
	st.connecting++;
	return 0;
}

/* ---------- MQTT 3.1.1 packets ---------- */

static size_t put_remaining_length(uint8_t *p, size_t len)
{
	size_t n = 0;
	do {
		uint8_t b = len % 128;
		len /= 128;
		p[n++] = (uint8_t)(b | (len ? 0x80 : 0));
	} while (len);
	return n;
}

static size_t put_string(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	p[0] = (uint8_t)(n >> 8);
	p[1] = (uint8_t)n;
	memcpy(p + 2, s, n);
	return n + 2;
}

/* Frames type/flags + body into out; returns the packet length. */
static size_t frame(uint8_t *out, uint8_t first, const uint8_t *body, size_t len)
{
	out[0] = first;
	size_t n = 1 + put_remaining_length(out + 1, len);
	memcpy(out + n, body, len);
	return n + len;
}

static void send_connect(struct client *c)
{
	uint8_t body[128], pkt[160];
	char id[32];
	if (c->idx >= 0)
		snprintf(id, sizeof id, "sim-%d", c->idx);
	else
		snprintf(id, sizeof id, "bench-sender-%d", (int)getpid());
	size_t n = put_string(body, "MQTT");
	body[n++] = 4;    /* protocol level 3.1.1 */
	body[n++] = 0x02; /* clean session */
	body[n++] = (uint8_t)(opt.keepalive >> 8);
	body[n++] = (uint8_t)opt.keepalive;
	n += put_string(body + n, id);
	send_bytes(c, pkt, frame(pkt, 0x10, body, n));
	c->state = S_WAIT_CONNACK;
}

static void send_subscribe(struct client *c)
{
	uint8_t body[64], pkt[80];
	char topic[32];
	snprintf(topic, sizeof topic, "dev/%d", c->idx);
	size_t n = 0;
	body[n++] = 0;
	body[n++] = 1; /* packet id */
	n += put_string(body + n, topic);
	body[n++] = 1; /* QoS 1 */
	send_bytes(c, pkt, frame(pkt, 0x82, body, n));
	c->state = S_WAIT_SUBACK;
}

static void send_ping(struct client *c, uint64_t now)
{
	static const uint8_t ping[2] = {0xc0, 0x00};
	send_bytes(c, ping, 2);
	c->ping_sent = now;
	st.pings++;
}

/* ---------- the measurement ---------- */

static void measure_print(void)
{
	printf("{\"event\":\"measure\",\"sent\":%u,\"delivered\":%zu,\"created\":%zu,\"lost\":%u,\"send_failed\":%u,",
	       m.sent, m.n_deliver, m.n_created, m.lost, m.send_failed);
	print_latency_json(stdout, "deliver", m.deliver, m.n_deliver);
	putchar(',');
	print_latency_json(stdout, "created", m.created, m.n_created);
	printf("}\n");
	fflush(stdout);
	m.active = false;
	close_client(&sender);
}

static void measure_one_done(uint64_t now)
{
	if (m.have_recv && m.t_send)
		m.deliver[m.n_deliver++] = m.t_recv - m.t_send;
	if (m.have_ack && m.t_send)
		m.created[m.n_created++] = m.t_ack - m.t_send;
	m.t_send = 0;
	m.target = -1;
	if (m.sent >= m.total)
		measure_print();
	else
		m.next_at = now + (uint64_t)m.gap_ms * NS_PER_MS;
}

static void publish_to_target(void)
{
	uint8_t body[128], pkt[160];
	char topic[32];
	snprintf(topic, sizeof topic, "dev/%d", m.target);
	m.pid = (uint16_t)(m.pid % 65535 + 1);
	size_t n = put_string(body, topic);
	body[n++] = (uint8_t)(m.pid >> 8);
	body[n++] = (uint8_t)m.pid;
	static const char payload[] = "{\"type\":\"identify\"}";
	memcpy(body + n, payload, sizeof payload - 1);
	n += sizeof payload - 1;
	m.t_send = now_ns();
	send_bytes(&sender, pkt, frame(pkt, 0x32, body, n)); /* PUBLISH, QoS 1 */
	st.publishes++;
}

static void measure_send_next(uint64_t now)
{
	int target = -1;
	for (int tries = 0; tries < 10000 && target < 0; tries++) {
		unsigned i = (unsigned)(rand64() % opt.count);
		if (cl[i].state == S_READY && cl[i].out.len == 0)
			target = (int)i;
	}
	if (target < 0)
		target = (int)(rand64() % opt.count);
	m.target = target;
	m.have_ack = m.have_recv = false;
	m.sent++;
	m.t_send = 0;
	if (sender.state == S_READY)
		publish_to_target();
	else if (sender.fd < 0 && open_client(&sender) != 0) {
		m.send_failed++;
		measure_one_done(now);
	}
}

static void measure_tick(uint64_t now)
{
	if (!m.active)
		return;
	if (m.target < 0 && now >= m.next_at && m.sent < m.total) {
		measure_send_next(now);
		return;
	}
	if (m.target >= 0 && m.t_send && now - m.t_send > MEASURE_TIMEOUT_NS) {
		m.lost++;
		logf_("message to client %d not delivered within 40 s", m.target);
		measure_one_done(now);
	}
}

static void measure_start(unsigned total, unsigned gap_ms)
{
	free(m.deliver);
	free(m.created);
	uint16_t pid = m.pid;
	memset(&m, 0, sizeof m);
	m.pid = pid;
	m.deliver = calloc(total ? total : 1, sizeof *m.deliver);
	m.created = calloc(total ? total : 1, sizeof *m.created);
	if (!m.deliver || !m.created) {
		logf_("out of memory");
		exit(1);
	}
	m.active = total > 0;
	m.total = total;
	m.gap_ms = gap_ms;
	m.target = -1;
	m.next_at = now_ns();
}

/* ---------- incoming packets ---------- */

static void client_failed(struct client *c, bool by_broker)
{
	if (by_broker)
		st.closed_by_broker++;
	else
		st.conn_errors++;
	if (c == &sender) {
		/* the PUBLISH failed, or the sender could not connect */
		bool waiting = m.active && m.target >= 0 && !m.have_ack;
		close_client(c);
		if (waiting) {
			m.send_failed++;
			measure_one_done(now_ns());
		}
		return;
	}
	st.reconnects++;
	close_client(c);
	c->retry_at = now_ns() + RETRY_NS;
}

static void on_packet(struct client *c, uint8_t type_flags, const uint8_t *p, size_t len, uint64_t t)
{
	uint8_t type = type_flags >> 4;
	switch (type) {
	case 2: /* CONNACK */
		if (c->state != S_WAIT_CONNACK || len < 2 || p[1] != 0) {
			st.bad_packets++;
			logf_("CONNACK refused (code %d)", len >= 2 ? p[1] : -1);
			client_failed(c, false);
			return;
		}
		if (c == &sender) {
			c->state = S_READY;
			if (m.active && m.target >= 0 && !m.t_send)
				publish_to_target();
		} else {
			send_subscribe(c);
		}
		return;
	case 9: /* SUBACK */
		if (c->state != S_WAIT_SUBACK || len < 3 || p[2] == 0x80) {
			st.bad_packets++;
			client_failed(c, false);
			return;
		}
		c->state = S_READY;
		c->counted = true;
		st.ready++;
		/* first ping at a random point of the period, then every period */
		c->next_ping = t + (opt.keepalive ? (rand64() % ((uint64_t)opt.keepalive * 1000)) * NS_PER_MS : 0);
		return;
	case 3: { /* PUBLISH to a subscriber */
		uint8_t qos = (type_flags >> 1) & 3;
		if (len < 2) {
			st.bad_packets++;
			return;
		}
		size_t tl = (size_t)p[0] << 8 | p[1];
		if (qos > 0 && len >= 4 + tl) {
			uint8_t ack[4] = {0x40, 0x02, p[2 + tl], p[3 + tl]};
			send_bytes(c, ack, 4);
			st.pubacks_sent++;
		}
		if (m.active && c->idx == m.target && !m.have_recv && m.t_send) {
			m.have_recv = true;
			m.t_recv = t;
			if (m.have_ack)
				measure_one_done(t);
		} else {
			st.unexpected++;
		}
		return;
	}
	case 4: /* PUBACK to the sender */
		if (c == &sender && m.active && m.t_send && len >= 2 && ((uint16_t)(p[0] << 8 | p[1])) == m.pid) {
			m.have_ack = true;
			m.t_ack = t;
			if (m.have_recv)
				measure_one_done(t);
		}
		return;
	case 13: /* PINGRESP */
		st.pongs++;
		if (c->ping_sent && t - c->ping_sent > 100 * NS_PER_MS)
			st.late_pongs++;
		c->ping_sent = 0;
		return;
	default:
		st.bad_packets++;
	}
}

static void client_readable(struct client *c, uint64_t t)
{
	for (;;) {
		if (buf_reserve(&c->in, 2048, IN_MAX) != 0) {
			client_failed(c, false);
			return;
		}
		ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n == 0) {
			client_failed(c, true);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_failed(c, false);
			return;
		}
		c->in.len += (size_t)n;
	}
	while (c->fd >= 0 && c->in.len >= 2) {
		const uint8_t *d = (const uint8_t *)c->in.data;
		size_t rl = 0, i = 1;
		unsigned shift = 0;
		for (;; i++) {
			if (i >= c->in.len)
				return; /* length not complete yet */
			rl |= (size_t)(d[i] & 0x7f) << shift;
			shift += 7;
			if (!(d[i] & 0x80))
				break;
			if (i == 4) {
				client_failed(c, false);
				return;
			}
		}
		size_t hl = i + 1;
		if (c->in.len < hl + rl)
			return;
		on_packet(c, d[0], d + hl, rl, t);
		if (c->fd < 0)
			return;
		buf_consume(&c->in, hl + rl);
	}
}

static void client_event(struct client *c, uint32_t events, uint64_t t)
{
	if (c->fd < 0)
		return;
	if (c->state == S_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t len = sizeof err;
		st.connecting--;
		c->state = S_WAIT_CONNACK; /* so close_client does not count it twice */
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
			st.connect_errors++;
			client_failed(c, false);
			return;
		}
		set_interest(c, false);
		send_connect(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_readable(c, t);
	if (c->fd >= 0 && (events & EPOLLOUT))
		flush_out(c);
}

/* ---------- commands, timers ---------- */

static void print_status(void)
{
	unsigned connected = 0;
	for (unsigned i = 0; i < opt.count; i++)
		if (cl[i].fd >= 0 && cl[i].state != S_CONNECTING)
			connected++;
	printf("{\"event\":\"status\",\"clients\":%u,\"connected\":%u,\"subscribed\":%u,\"seconds\":%.1f,"
	       "\"connects\":%" PRIu64 ",\"connect_errors\":%" PRIu64 ",\"conn_errors\":%" PRIu64
	       ",\"closed_by_broker\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"pings\":%" PRIu64 ",\"pongs\":%" PRIu64
	       ",\"late_pongs\":%" PRIu64 ",\"publishes\":%" PRIu64 ",\"pubacks_sent\":%" PRIu64
	       ",\"unexpected\":%" PRIu64 ",\"bad_packets\":%" PRIu64 "}\n",
	       opt.count, connected, st.ready, (double)(now_ns() - t_start) / NS_PER_S, st.connects, st.connect_errors,
	       st.conn_errors, st.closed_by_broker, st.reconnects, st.pings, st.pongs, st.late_pongs, st.publishes,
	       st.pubacks_sent, st.unexpected, st.bad_packets);
	fflush(stdout);
}

static void handle_command(const char *line)
{
	unsigned a = 0, b = 10;
	if (strcmp(line, "status") == 0)
		print_status();
	else if (sscanf(line, "measure %u %u", &a, &b) >= 1)
		measure_start(a, b);
	else if (strcmp(line, "quit") == 0)
		quitting = true;
	else if (*line) {
		printf("{\"event\":\"error\",\"message\":\"unknown command\"}\n");
		fflush(stdout);
	}
}

static void tick(uint64_t now)
{
	while (next_connect < opt.count && st.connecting < opt.connect_batch)
		open_client(&cl[next_connect++]);
	uint64_t period = (uint64_t)opt.keepalive * NS_PER_S;
	for (unsigned i = 0; i < next_connect; i++) {
		struct client *c = &cl[i];
		if (c->fd < 0) {
			if (c->retry_at && now >= c->retry_at) {
				c->retry_at = 0;
				open_client(c);
			}
		} else if (period && c->state == S_READY && now >= c->next_ping) {
			send_ping(c, now);
			c->next_ping += period;
			if (c->next_ping < now)
				c->next_ping = now + period;
		}
	}
	if (!ready_printed && st.ready == opt.count) {
		ready_printed = true;
		printf("{\"event\":\"ready\",\"clients\":%u,\"seconds\":%.2f,\"connect_errors\":%" PRIu64 "}\n",
		       opt.count, (double)(now - t_start) / NS_PER_S, st.connect_errors);
		fflush(stdout);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_mqtt_peer --broker HOST:PORT --count N [--keepalive 30] [--net 5]\n"
	                "                       [--per-ip 1000] [--connect-batch 256] [--seed S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *broker = NULL;
	opt.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--broker") == 0)
			broker = v;
		else if (strcmp(a, "--count") == 0)
			opt.count = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--keepalive") == 0)
			opt.keepalive = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--net") == 0)
			opt.net = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--per-ip") == 0)
			opt.per_ip = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--connect-batch") == 0)
			opt.connect_batch = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			opt.seed = strtoull(v, NULL, 10);
		else
			usage();
	}
	if (!broker || parse_hostport(broker, &opt.broker) != 0 || opt.count == 0 || opt.per_ip == 0 ||
	    opt.keepalive > 65535 || opt.connect_batch == 0)
		usage();
	rand_seed(opt.seed);
	long fds = raise_fd_limit();
	if (fds > 0 && (long)opt.count + 16 > fds) {
		logf_("%u clients need %u descriptors; the limit is %ld", opt.count, opt.count + 16, fds);
		return 2;
	}
	cl = calloc(opt.count, sizeof *cl);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cl || ep < 0)
		return 1;
	for (unsigned i = 0; i < opt.count; i++) {
		cl[i].fd = -1;
		cl[i].idx = (int)i;
	}
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) != 0)
		logf_("stdin is not a pipe or terminal: no commands (stop with a signal)");
	signal(SIGPIPE, SIG_IGN);
	t_start = now_ns();

	struct epoll_event evs[1024];
	uint64_t next_tick = 0;
	while (!quitting) {
		int n = epoll_wait(ep, evs, 1024, 10);
		uint64_t t = now_ns();
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				bool eof = false;
				const char *line;
				while ((line = stdin_line(&eof)) != NULL)
					handle_command(line);
				if (eof) {
					quitting = true;
					epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
				}
				continue;
			}
			client_event(evs[i].data.ptr, evs[i].events, now_ns());
		}
		t = now_ns(); /* handlers above stamped later times than t */
		if (t >= next_tick) {
			tick(t);
			next_tick = t + 50 * NS_PER_MS;
		}
		measure_tick(t);
	}
	print_status();
	for (unsigned i = 0; i < opt.count; i++)
		close_client(&cl[i]);
	close_client(&sender);
	return 0;
}
