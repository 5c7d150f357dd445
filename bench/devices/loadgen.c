/*
 * bench_devices: a fleet of simulated screens against vitrine-server, for
 * bench/devices/run. One process, one epoll loop, plain HTTP/1.1 on
 * keep-alive sockets; only libc. Two modes:
 *
 *   pair  Pairs COUNT new screens the way a player does (the RFC 8628
 *         model): POST /api/v1/device/pair from the device's own source
 *         address, POST /api/v1/pairings with a user API token (the person
 *         typing the code), POST /api/v1/device/token. CONCURRENCY devices
 *         at a time; device k pairs from 127.NET.x.y number k / PER_IP, so
 *         no address goes over the server's 30 pair requests per 10 minutes.
 *         Writes "DEVICE_ID ACCESS_TOKEN" lines to OUT.
 *
 *   hold  One keep-alive connection per device (the first COUNT lines of
 *         TOKENS), spread over 127.NET.x.y (PER_IP connections per address),
 *         each in long-poll GET /api/v1/device/instructions?after=SEQ&wait=W.
 *         It re-polls as answers come and acknowledges every instruction
 *         (POST .../ack, then the next poll), like a player. With --spread
 *         the first poll of each device waits a random 1..W seconds, so the
 *         fleet's re-polls are spread evenly over time as in a real fleet.
 *         Commands on stdin, one per line; answers are JSON lines on stdout:
 *           status               counters, and how late empty answers came
 *           measure M [GAP_MS]   sends M "identify" instructions one at a
 *                                time (GAP_MS apart, default 10), each to a
 *                                random device whose long-poll is waiting,
 *                                with the user API token (--token), and
 *                                times, on CLOCK_MONOTONIC in this process,
 *                                the write of the POST -> the device has
 *                                read the whole answer carrying it
 *                                ("deliver"), and -> the sender has its 201
 *                                ("created")
 *           quit                 closes everything and exits (also stdin EOF)
 *         Events: {"event":"ready",...} once every device has sent its first
 *         poll.
 *
 * Usage:
 *   bench_devices pair --server 127.0.0.1:PORT --token vt_... --count N --out FILE
 *                      [--first K] [--concurrency 64] [--net 3] [--per-ip 25]
 *   bench_devices hold --server 127.0.0.1:PORT --tokens FILE --count N
 *                      [--token vt_...] [--wait 30] [--spread] [--net 4]
 *                      [--per-ip 1000] [--connect-batch 256] [--seed S]
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_MAX             (256u * 1024u) /* an answer larger than this is an error */
#define OUT_MAX            4096u
#define MAX_ACKS           64 /* the server sends at most 50 instructions per answer */
#define TOKEN_MAX          96
#define ID_MAX             32
#define MEASURE_TIMEOUT_NS (40ull * NS_PER_S)
#define PAIR_TIMEOUT_NS    (30ull * NS_PER_S)
#define RETRY_NS           (1ull * NS_PER_S)
#define OVERSHOOT_MAX      (1u << 20)

enum req_kind { REQ_NONE, REQ_PAIR, REQ_CONFIRM, REQ_TOKEN, REQ_POLL, REQ_ACK, REQ_SEND, REQ_KINDS };
static const char *const kind_names[REQ_KINDS] = {"none", "pair", "confirm", "token", "poll", "ack", "send"};

struct conn {
	int fd;
	int dev; /* device index; -1: the sender's connection */
	bool connecting;
	bool busy; /* a request is written or being written, no answer yet */
	bool want_out;
	enum req_kind kind;
	struct buf out, in;
	size_t out_off;
	uint64_t sent_ns;
	uint64_t retry_at; /* hold: when to reconnect (fd < 0) or poll again */
	unsigned wait_s;   /* the wait= of the poll in flight */
};

struct device {
	struct conn c;
	char token[TOKEN_MAX];
	char id[ID_MAX];
	int64_t after;
	char acks[MAX_ACKS][ID_MAX];
	int n_acks, ack_next;
	bool started; /* sent its first poll (hold) */
	/* pair mode */
	char device_code[TOKEN_MAX], user_code[16];
	int attempts;
};

static struct {
	bool pair_mode;
	struct sockaddr_in server;
	char host[64]; /* Host: header */
	const char *user_token;
	const char *tokens_path, *out_path;
	unsigned count, first, concurrency, net, per_ip, wait_s, connect_batch;
	bool spread;
	uint64_t seed;
} opt = {.concurrency = 64, .net = 0, .per_ip = 0, .wait_s = 30, .connect_batch = 256};

static int ep = -1;
static struct device *devs;
static unsigned n_devs;
static bool quitting;
static uint64_t t_start;

static struct {
	uint64_t connects, connect_errors, conn_errors, closed_by_server, reconnects;
	uint64_t polls, empty, with_instructions, instructions, acks, unexpected, overdue, bad_answers;
	uint64_t status[REQ_KINDS][600];
	unsigned connecting, started, paired, pair_failed, pair_next, pair_inflight;
} st;

static uint64_t *overshoot; /* empty answers: how much later than wait= they came */
static size_t n_overshoot;

/* the measurement */
static struct conn sender = {.fd = -1, .dev = -1};
static struct {
	bool active, have_201, have_recv;
	unsigned total, sent, lost, send_failed;
	unsigned gap_ms;
	int target;
	uint64_t t_send, t_201, t_recv, next_at;
	uint64_t *deliver, *created;
	size_t n_deliver, n_created;
} m;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[bench_devices] ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---------- minimal JSON field extraction (answers of known shape) ---------- */

static bool json_string_field(const char *body, size_t len, const char *key, char *out, size_t outsz)
{
	char pat[64];
	int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = memmem(body, len, pat, (size_t)pl);
	if (!p)
		return false;
	p += pl;
	const char *end = memchr(p, '"', len - (size_t)(p - body));
	if (!end || (size_t)(end - p) >= outsz)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return true;
}

/* ---------- HTTP ---------- */

struct answer {
	int status;
	const char *body;
	size_t body_len, total;
	bool close;
};

/* 1: a whole answer is in `in`; 0: not yet; -1: malformed. */
static int http_parse(const struct buf *in, struct answer *a)
{
	const char *end = in->len ? memmem(in->data, in->len, "\r\n\r\n", 4) : NULL;
	if (!end)
		return in->len > 16384 ? -1 : 0;
	size_t hlen = (size_t)(end - in->data) + 4;
	if (in->len < 12 || memcmp(in->data, "HTTP/1.", 7) != 0)
		return -1;
	a->status = atoi(in->data + 9);
	if (a->status < 100 || a->status > 599)
		return -1;
	long clen = -1;
	a->close = false;
	for (const char *l = memchr(in->data, '\n', hlen); l && l < end; l = memchr(l, '\n', (size_t)(end - l))) {
		l++;
		if (strncasecmp(l, "Content-Length:", 15) == 0)
			clen = strtol(l + 15, NULL, 10);
		else if (strncasecmp(l, "Connection:", 11) == 0) {
			const char *v = l + 11;
			while (*v == ' ')
				v++;
			a->close = strncasecmp(v, "close", 5) == 0;
		} else if (strncasecmp(l, "Transfer-Encoding:", 18) == 0)
			return -1; /* not expected from these routes */
	}
	if (clen < 0)
		return -1;
	if (in->len < hlen + (size_t)clen)
		return 0;
	a->body = in->data + hlen;
	a->body_len = (size_t)clen;
	a->total = hlen + (size_t)clen;
	return 1;
}

static void conn_interest(struct conn *c, bool out)
{
	if (c->fd < 0 || c->want_out == out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = out;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		if (c->connecting && st.connecting)
			st.connecting--;
	}
	c->fd = -1;
	c->connecting = c->busy = c->want_out = false;
	c->kind = REQ_NONE;
	c->out.len = c->out_off = c->in.len = 0;
}

static int conn_open(struct conn *c, const struct sockaddr_in *src)
{
	c->fd = connect_from(src, &opt.server);
	if (c->fd < 0) {
		st.connect_errors++;
		return -1;
	}
	c->connecting = true;
	c->want_out = true;
	st.connects++;
	st.connecting++;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		close(c->fd);
		c->fd = -1;
		st.connecting--;
		st.connect_errors++;
		return -1;
	}
	return 0;
}

static void conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return; /* the error shows up as EPOLLERR/EOF */
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	conn_interest(c, c->out.len > 0);
}

/* Writes one request; the body (may be NULL) is JSON. */
static void conn_request(struct conn *c, enum req_kind kind, const char *method, const char *path, const char *bearer,
                         const char *body)
{
	char head[1024];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s", method, path, opt.host,
	                 bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "");
	if (body)
		n += snprintf(head + n, sizeof head - (size_t)n,
		              "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
	c->out.len = c->out_off = 0;
	if (buf_append(&c->out, head, (size_t)n, OUT_MAX) != 0 ||
	    (body && buf_append(&c->out, body, blen, OUT_MAX) != 0)) {
		logf_("request too large");
		exit(1);
	}
	c->kind = kind;
	c->busy = true;
	c->sent_ns = now_ns();
	conn_flush(c);
}

/* ---------- hold mode: the devices ---------- */

static void device_source(unsigned i, struct sockaddr_in *src)
{
	source_address(opt.net, i / opt.per_ip, src);
}

static void device_poll(struct device *d, unsigned wait_s)
{
	char path[160];
	snprintf(path, sizeof path, "/api/v1/device/instructions?after=%" PRId64 "&wait=%u", d->after, wait_s);
	d->c.wait_s = wait_s;
	d->c.retry_at = 0;
	conn_request(&d->c, REQ_POLL, "GET", path, d->token, NULL);
	st.polls++;
}

static void device_next_ack_or_poll(struct device *d)
{
	if (d->ack_next < d->n_acks) {
		char path[128];
		snprintf(path, sizeof path, "/api/v1/device/instructions/%s/ack", d->acks[d->ack_next++]);
		conn_request(&d->c, REQ_ACK, "POST", path, d->token, "{\"status\":\"ok\"}");
		return;
	}
	d->n_acks = d->ack_next = 0;
	device_poll(d, opt.wait_s);
}

static void device_retry_later(struct device *d, bool reconnect)
{
	if (reconnect)
		conn_close(&d->c);
	d->c.busy = false;
	d->c.kind = REQ_NONE;
	d->c.retry_at = now_ns() + RETRY_NS;
}

static void measure_received(int dev, uint64_t t);

static void device_poll_answer(struct device *d, const struct answer *a, uint64_t t)
{
	/* pair the k-th "seq" with the k-th "id": payloads of identify are {} */
	const char *p = a->body, *end = a->body + a->body_len;
	int n = 0;
	const char *stop = memmem(p, a->body_len, "\"server_time\"", 13);
	if (stop)
		end = stop;
	const char *sp = p, *ip = p;
	for (;;) {
		sp = memmem(sp, (size_t)(end - sp), "\"seq\":", 6);
		ip = memmem(ip, (size_t)(end - ip), "\"id\":\"", 6);
		if (!sp || !ip)
			break;
		sp += 6;
		ip += 6;
		int64_t seq = strtoll(sp, NULL, 10);
		const char *q = memchr(ip, '"', (size_t)(end - ip));
		if (!q || q - ip >= ID_MAX || n >= MAX_ACKS)
			break;
		memcpy(d->acks[n], ip, (size_t)(q - ip));
		d->acks[n][q - ip] = '\0';
		n++;
		if (seq > d->after)
			d->after = seq;
	}
	if (n == 0) {
		if (!memmem(a->body, a->body_len, "\"instructions\":[]", 17))
			st.bad_answers++;
		st.empty++;
		uint64_t took = t - d->c.sent_ns, want = (uint64_t)d->c.wait_s * NS_PER_S;
		if (overshoot && n_overshoot < OVERSHOOT_MAX)
			overshoot[n_overshoot++] = took > want ? took - want : 0;
		device_poll(d, opt.wait_s);
		return;
	}
	st.with_instructions++;
	st.instructions += (unsigned)n;
	measure_received((int)(d - devs), t);
	d->n_acks = n;
	d->ack_next = 0;
	device_next_ack_or_poll(d);
}

static void device_answer(struct device *d, const struct answer *a, uint64_t t)
{
	enum req_kind kind = d->c.kind;
	d->c.busy = false;
	st.status[kind][a->status]++;
	if (kind == REQ_POLL) {
		if (a->status == 200)
			device_poll_answer(d, a, t);
		else
			device_retry_later(d, false);
	} else if (kind == REQ_ACK) {
		if (a->status == 200)
			st.acks++;
		device_next_ack_or_poll(d);
	}
}

static void device_start(unsigned i)
{
	struct device *d = &devs[i];
	struct sockaddr_in src;
	device_source(i, &src);
	if (conn_open(&d->c, &src) != 0)
		d->c.retry_at = now_ns() + RETRY_NS;
}

static void device_connected(struct device *d)
{
	unsigned w = opt.wait_s;
	if (!d->started) {
		d->started = true;
		st.started++;
		if (opt.spread && opt.wait_s > 1)
			w = 1 + (unsigned)(rand64() % opt.wait_s);
	}
	device_poll(d, w);
}

/* ---------- pair mode ---------- */

static FILE *pair_out;

static void b64(const uint8_t *in, size_t n, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v =
		    (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

static void pair_step(struct device *d)
{
	unsigned idx = opt.first + (unsigned)(d - devs);
	char body[512];
	switch (d->c.kind) {
	case REQ_NONE: { /* freshly connected: ask to pair */
		uint8_t key[32];
		for (int i = 0; i < 32; i += 8) {
			uint64_t r = rand64();
			memcpy(key + i, &r, 8);
		}
		char k64[64];
		b64(key, sizeof key, k64);
		snprintf(body, sizeof body, "{\"hardware_id\":\"sim-%u\",\"public_key\":\"%s\",\"model\":\"bench\"}",
		         idx, k64);
		conn_request(&d->c, REQ_PAIR, "POST", "/api/v1/device/pair", NULL, body);
		break;
	}
	case REQ_PAIR:
		snprintf(body, sizeof body, "{\"user_code\":\"%s\",\"name\":\"sim-%u\"}", d->user_code, idx);
		conn_request(&d->c, REQ_CONFIRM, "POST", "/api/v1/pairings", opt.user_token, body);
		break;
	case REQ_CONFIRM:
		snprintf(body, sizeof body, "{\"device_code\":\"%s\"}", d->device_code);
		conn_request(&d->c, REQ_TOKEN, "POST", "/api/v1/device/token", NULL, body);
		break;
	default:
		break;
	}
}

static void pair_start_next(void);

static void pair_finish(struct device *d, bool ok)
{
	conn_close(&d->c);
	st.pair_inflight--;
	if (ok)
		st.paired++;
	else
		st.pair_failed++;
	unsigned done = st.paired + st.pair_failed;
	if (done % 1000 == 0 || done == n_devs)
		logf_("paired %u/%u (%u failed) in %.1f s", st.paired, n_devs, st.pair_failed,
		      (double)(now_ns() - t_start) / NS_PER_S);
	pair_start_next();
}

static void pair_answer(struct device *d, const struct answer *a)
{
	enum req_kind kind = d->c.kind;
	st.status[kind][a->status]++;
	d->c.busy = false;
	bool ok = (kind == REQ_PAIR && a->status == 200 &&
	           json_string_field(a->body, a->body_len, "device_code", d->device_code, sizeof d->device_code) &&
	           json_string_field(a->body, a->body_len, "user_code", d->user_code, sizeof d->user_code)) ||
	          (kind == REQ_CONFIRM && a->status == 201) ||
	          (kind == REQ_TOKEN && a->status == 200 &&
	           json_string_field(a->body, a->body_len, "access_token", d->token, sizeof d->token) &&
	           json_string_field(a->body, a->body_len, "device_id", d->id, sizeof d->id));
	if (!ok) {
		if (st.pair_failed < 20)
			logf_("device %u: %s answered %d: %.*s", opt.first + (unsigned)(d - devs), kind_names[kind],
			      a->status, (int)(a->body_len > 300 ? 300 : a->body_len), a->body);
		pair_finish(d, false);
		return;
	}
	if (kind == REQ_TOKEN) {
		fprintf(pair_out, "%s %s\n", d->id, d->token);
		pair_finish(d, true);
		return;
	}
	pair_step(d);
}

static void pair_start_next(void)
{
	while (!quitting && st.pair_inflight < opt.concurrency && st.pair_next < n_devs) {
		unsigned i = st.pair_next++;
		struct sockaddr_in src;
		source_address(opt.net, (opt.first + i) / opt.per_ip, &src);
		st.pair_inflight++;
		if (conn_open(&devs[i].c, &src) != 0) {
			logf_("device %u: connect: %s", opt.first + i, strerror(errno));
			pair_finish(&devs[i], false);
		}
	}
}

/* ---------- the measurement (hold mode) ---------- */

static void measure_send_next(uint64_t now)
{
	/* a device whose long-poll is waiting in the server */
	int target = -1;
	for (int tries = 0; tries < 10000 && target < 0; tries++) {
		unsigned i = (unsigned)(rand64() % n_devs);
		struct device *d = &devs[i];
		if (d->c.fd >= 0 && d->c.busy && d->c.kind == REQ_POLL && d->c.out.len == 0 &&
		    now - d->c.sent_ns > 2 * NS_PER_MS)
			target = (int)i;
	}
	if (target < 0)
		target = (int)(rand64() % n_devs);
	if (sender.fd < 0 && conn_open(&sender, NULL) != 0) {
		m.send_failed++;
		m.next_at = now + 100 * NS_PER_MS;
		return;
	}
	m.target = target;
	m.have_201 = m.have_recv = false;
	m.sent++;
	if (sender.connecting) { /* written once connected */
		m.t_send = 0;
		return;
	}
	char path[128];
	snprintf(path, sizeof path, "/api/v1/screens/%s/instructions", devs[target].id);
	conn_request(&sender, REQ_SEND, "POST", path, opt.user_token, "{\"type\":\"identify\"}");
	m.t_send = sender.sent_ns;
}

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
	conn_close(&sender);
}

static void measure_one_done(uint64_t now)
{
	if (m.have_recv && m.t_send)
		m.deliver[m.n_deliver++] = m.t_recv - m.t_send;
	if (m.have_201 && m.t_send)
		m.created[m.n_created++] = m.t_201 - m.t_send;
	m.t_send = 0;
	m.target = -1;
	if (m.sent >= m.total)
		measure_print();
	else
		m.next_at = now + (uint64_t)m.gap_ms * NS_PER_MS;
}

static void measure_received(int dev, uint64_t t)
{
	if (!m.active || dev != m.target || m.have_recv) {
		st.unexpected++;
		return;
	}
	m.have_recv = true;
	m.t_recv = t;
	if (m.have_201)
		measure_one_done(t);
}

static void sender_answer(const struct answer *a, uint64_t t)
{
	sender.busy = false;
	st.status[REQ_SEND][a->status]++;
	if (!m.active || !m.t_send)
		return;
	if (a->status != 201) {
		m.send_failed++;
		if (m.send_failed <= 5)
			logf_("send answered %d: %.*s", a->status, (int)(a->body_len > 200 ? 200 : a->body_len),
			      a->body);
		m.have_recv = false;
		measure_one_done(t);
		return;
	}
	m.have_201 = true;
	m.t_201 = t;
	if (m.have_recv)
		measure_one_done(t);
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
		logf_("instruction to device %d not delivered within 40 s", m.target);
		measure_one_done(now);
	}
}

static void measure_start(unsigned total, unsigned gap_ms)
{
	if (!opt.user_token || total == 0) {
		printf("{\"event\":\"error\",\"message\":\"measure needs --token and a count\"}\n");
		fflush(stdout);
		return;
	}
	free(m.deliver);
	free(m.created);
	memset(&m, 0, sizeof m);
	m.deliver = calloc(total, sizeof *m.deliver);
	m.created = calloc(total, sizeof *m.created);
	if (!m.deliver || !m.created) {
		logf_("out of memory");
		exit(1);
	}
	m.active = true;
	m.total = total;
	m.gap_ms = gap_ms;
	m.target = -1;
	m.next_at = now_ns();
}

/* ---------- events ---------- */

static void conn_failed(struct conn *c, bool by_server)
{
	if (by_server)
		st.closed_by_server++;
	else
		st.conn_errors++;
	if (c == &sender) {
		/* the POST failed, or the connection for it could not be made */
		bool was_waiting = m.active && m.target >= 0 && !m.have_201;
		conn_close(c);
		if (was_waiting) {
			m.send_failed++;
			measure_one_done(now_ns());
		}
		return;
	}
	struct device *d = &devs[c->dev];
	if (opt.pair_mode) {
		if (st.pair_failed < 20)
			logf_("device %u: connection %s during %s", opt.first + (unsigned)c->dev,
			      by_server ? "closed by the server" : "failed", kind_names[c->kind]);
		pair_finish(d, false);
		return;
	}
	st.reconnects++;
	device_retry_later(d, true);
}

static void conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		st.connect_errors++;
		conn_failed(c, false);
		return;
	}
	c->connecting = false;
	st.connecting--;
	conn_interest(c, false);
	if (c == &sender) {
		if (m.active && m.target >= 0 && !m.t_send) {
			char path[128];
			snprintf(path, sizeof path, "/api/v1/screens/%s/instructions", devs[m.target].id);
			conn_request(&sender, REQ_SEND, "POST", path, opt.user_token, "{\"type\":\"identify\"}");
			m.t_send = sender.sent_ns;
		}
		return;
	}
	struct device *d = &devs[c->dev];
	if (opt.pair_mode)
		pair_step(d);
	else
		device_connected(d);
}

static void conn_readable(struct conn *c, uint64_t t)
{
	for (;;) {
		if (buf_reserve(&c->in, 4096, IN_MAX) != 0) {
			st.bad_answers++;
			conn_failed(c, false);
			return;
		}
		ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (n == 0) {
			conn_failed(c, true);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_failed(c, false);
			return;
		}
		c->in.len += (size_t)n;
	}
	for (;;) {
		struct answer a;
		int r = http_parse(&c->in, &a);
		if (r == 0)
			return;
		if (r < 0 || !c->busy) {
			st.bad_answers++;
			if (st.bad_answers <= 5)
				logf_("unexpected bytes from the server: %.*s",
				      (int)(c->in.len > 200 ? 200 : c->in.len), c->in.data);
			conn_failed(c, false);
			return;
		}
		/* copy out: the handlers may write a new request but never read */
		bool close_after = a.close;
		size_t total = a.total;
		if (c == &sender)
			sender_answer(&a, t);
		else if (opt.pair_mode)
			pair_answer(&devs[c->dev], &a);
		else
			device_answer(&devs[c->dev], &a, t);
		if (c->fd < 0)
			return; /* closed by the handler (pair mode) */
		buf_consume(&c->in, total);
		if (close_after) {
			conn_failed(c, true);
			return;
		}
	}
}

static void conn_event(struct conn *c, uint32_t events, uint64_t t)
{
	if (c->fd < 0)
		return;
	if (c->connecting) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_readable(c, t);
	if (c->fd >= 0 && (events & EPOLLOUT))
		conn_flush(c);
}

/* ---------- commands and timers ---------- */

static void print_status(void)
{
	unsigned waiting = 0, connected = 0;
	uint64_t now = now_ns();
	for (unsigned i = 0; i < n_devs; i++) {
		struct conn *c = &devs[i].c;
		if (c->fd >= 0 && !c->connecting)
			connected++;
		if (c->fd >= 0 && c->busy && c->kind == REQ_POLL)
			waiting++;
	}
	printf("{\"event\":\"status\",\"devices\":%u,\"connected\":%u,\"waiting\":%u,\"seconds\":%.1f,"
	       "\"connects\":%" PRIu64 ",\"connect_errors\":%" PRIu64 ",\"conn_errors\":%" PRIu64
	       ",\"closed_by_server\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"polls\":%" PRIu64 ",\"empty\":%" PRIu64
	       ",\"with_instructions\":%" PRIu64 ",\"instructions\":%" PRIu64 ",\"acks\":%" PRIu64
	       ",\"unexpected\":%" PRIu64 ",\"overdue\":%" PRIu64 ",\"bad_answers\":%" PRIu64 ",\"statuses\":{",
	       n_devs, connected, waiting, (double)(now - t_start) / NS_PER_S, st.connects, st.connect_errors,
	       st.conn_errors, st.closed_by_server, st.reconnects, st.polls, st.empty, st.with_instructions,
	       st.instructions, st.acks, st.unexpected, st.overdue, st.bad_answers);
	bool first = true;
	for (int k = 1; k < REQ_KINDS; k++)
		for (int s = 0; s < 600; s++)
			if (st.status[k][s]) {
				printf("%s\"%s %d\":%" PRIu64, first ? "" : ",", kind_names[k], s, st.status[k][s]);
				first = false;
			}
	printf("},");
	/* copy: print_latency_json sorts */
	uint64_t *copy = n_overshoot ? malloc(n_overshoot * sizeof *copy) : NULL;
	if (copy)
		memcpy(copy, overshoot, n_overshoot * sizeof *copy);
	print_latency_json(stdout, "timeout_late", copy, copy ? n_overshoot : 0);
	free(copy);
	printf("}\n");
	fflush(stdout);
}

static void handle_command(const char *line)
{
	unsigned a = 0, b = 10;
	if (strcmp(line, "status") == 0)
		print_status();
	else if (sscanf(line, "measure %u %u", &a, &b) >= 1)
		measure_start(a, b);
	else if (strcmp(line, "reset") == 0) /* forget the timeout lateness seen so far */
		n_overshoot = 0;
	else if (strcmp(line, "quit") == 0)
		quitting = true;
	else if (*line) {
		printf("{\"event\":\"error\",\"message\":\"unknown command\"}\n");
		fflush(stdout);
	}
}

static unsigned next_connect;
static bool ready_printed;

static void hold_tick(uint64_t now)
{
	while (next_connect < n_devs && st.connecting < opt.connect_batch)
		device_start(next_connect++);
	for (unsigned i = 0; i < next_connect; i++) {
		struct device *d = &devs[i];
		struct conn *c = &d->c;
		if (c->retry_at && now >= c->retry_at && !c->busy) {
			c->retry_at = 0;
			if (c->fd < 0)
				device_start(i);
			else
				device_poll(d, opt.wait_s);
		} else if (c->fd >= 0 && c->busy && c->kind == REQ_POLL &&
		           now - c->sent_ns > ((uint64_t)c->wait_s + 15) * NS_PER_S) {
			/* the server kept this long-poll 15 s past its wait */
			st.overdue++;
			if (st.overdue <= 5)
				logf_("device %u: long-poll still unanswered %u s after its wait of %u s", i, 15,
				      c->wait_s);
			st.reconnects++;
			device_retry_later(d, true);
		}
	}
	if (!ready_printed && st.started == n_devs) {
		ready_printed = true;
		printf("{\"event\":\"ready\",\"devices\":%u,\"seconds\":%.2f,\"connect_errors\":%" PRIu64 "}\n", n_devs,
		       (double)(now - t_start) / NS_PER_S, st.connect_errors);
		fflush(stdout);
	}
}

static void pair_tick(uint64_t now)
{
	for (unsigned i = 0; i < st.pair_next; i++) {
		struct conn *c = &devs[i].c;
		if (c->fd >= 0 && c->busy && now - c->sent_ns > PAIR_TIMEOUT_NS) {
			logf_("device %u: no answer to %s in 30 s", opt.first + i, kind_names[c->kind]);
			pair_finish(&devs[i], false);
		}
	}
}

/* ---------- setup ---------- */

static unsigned load_tokens(const char *path, unsigned want)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		logf_("%s: %s", path, strerror(errno));
		exit(2);
	}
	unsigned n = 0;
	char line[256];
	while (n < want && fgets(line, sizeof line, f)) {
		struct device *d = &devs[n];
		if (sscanf(line, "%31s %95s", d->id, d->token) == 2)
			n++;
	}
	fclose(f);
	return n;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: bench_devices pair --server HOST:PORT --token vt_... --count N --out FILE\n"
	        "                          [--first K] [--concurrency 64] [--net 3] [--per-ip 25] [--seed S]\n"
	        "       bench_devices hold --server HOST:PORT --tokens FILE --count N [--token vt_...]\n"
	        "                          [--wait 30] [--spread] [--net 4] [--per-ip 1000] [--connect-batch 256]\n"
	        "                          [--seed S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	opt.pair_mode = strcmp(argv[1], "pair") == 0;
	if (!opt.pair_mode && strcmp(argv[1], "hold") != 0)
		usage();
	const char *server = NULL;
	opt.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--spread") == 0) {
			opt.spread = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--server") == 0)
			server = v;
		else if (strcmp(a, "--token") == 0)
			opt.user_token = v;
		else if (strcmp(a, "--tokens") == 0)
			opt.tokens_path = v;
		else if (strcmp(a, "--out") == 0)
			opt.out_path = v;
		else if (strcmp(a, "--count") == 0)
			opt.count = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--first") == 0)
			opt.first = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--concurrency") == 0)
			opt.concurrency = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--net") == 0)
			opt.net = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--per-ip") == 0)
			opt.per_ip = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--wait") == 0)
			opt.wait_s = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--connect-batch") == 0)
			opt.connect_batch = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			opt.seed = strtoull(v, NULL, 10);
		else
			usage();
	}
	if (!server || parse_hostport(server, &opt.server) != 0 || opt.count == 0 || opt.concurrency == 0 ||
	    opt.wait_s > 30 || opt.connect_batch == 0 ||
	    (opt.pair_mode ? !opt.user_token || !opt.out_path : !opt.tokens_path))
		usage();
	snprintf(opt.host, sizeof opt.host, "%s", server);
	if (!opt.net)
		opt.net = opt.pair_mode ? 3 : 4;
	if (!opt.per_ip)
		opt.per_ip = opt.pair_mode ? 25 : 1000;
	rand_seed(opt.seed);
	long fds = raise_fd_limit();
	if (!opt.pair_mode && fds > 0 && (long)opt.count + 16 > fds) {
		logf_("%u devices need %u descriptors; the limit is %ld (run several processes)", opt.count,
		      opt.count + 16, fds);
		return 2;
	}

	devs = calloc(opt.count, sizeof *devs);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!devs || ep < 0) {
		logf_("out of memory");
		return 1;
	}
	for (unsigned i = 0; i < opt.count; i++) {
		devs[i].c.fd = -1;
		devs[i].c.dev = (int)i;
	}
	n_devs = opt.count;
	if (opt.pair_mode) {
		pair_out = fopen(opt.out_path, "a");
		if (!pair_out) {
			logf_("%s: %s", opt.out_path, strerror(errno));
			return 2;
		}
	} else {
		n_devs = load_tokens(opt.tokens_path, opt.count);
		if (n_devs < opt.count) {
			logf_("%s has %u devices, %u wanted", opt.tokens_path, n_devs, opt.count);
			return 2;
		}
		overshoot = malloc(OVERSHOOT_MAX * sizeof *overshoot);
		/* commands on stdin (a pipe from the driver) */
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0)
			logf_("stdin is not a pipe or terminal: no commands (stop with a signal)");
	}
	signal(SIGPIPE, SIG_IGN);
	t_start = now_ns();
	if (opt.pair_mode)
		pair_start_next();

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
			conn_event(evs[i].data.ptr, evs[i].events, now_ns());
		}
		t = now_ns(); /* handlers above stamped later times than t */
		if (opt.pair_mode) {
			if (t >= next_tick) {
				pair_tick(t);
				next_tick = t + 100 * NS_PER_MS;
			}
			if (st.pair_inflight == 0 && st.pair_next >= n_devs)
				break;
		} else {
			if (t >= next_tick) {
				hold_tick(t);
				next_tick = t + 50 * NS_PER_MS;
			}
			measure_tick(t);
		}
	}
	if (opt.pair_mode) {
		fclose(pair_out);
		printf("{\"event\":\"paired\",\"paired\":%u,\"failed\":%u,\"seconds\":%.1f}\n", st.paired,
		       st.pair_failed, (double)(now_ns() - t_start) / NS_PER_S);
		return st.pair_failed ? 1 : 0;
	}
	print_status();
	for (unsigned i = 0; i < n_devs; i++)
		conn_close(&devs[i].c);
	conn_close(&sender);
	return 0;
}
