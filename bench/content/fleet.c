/*
 * bench_content_fleet: simulated players syncing content from vitrine-server,
 * for bench/content/run. One process, one epoll loop, plain HTTP/1.1 on
 * keep-alive sockets, only libc (Linux: epoll, IP_BIND_ADDRESS_NO_PORT).
 *
 *   pair  Pairs COUNT new screens the way a player does (RFC 8628 model):
 *         POST /api/v1/device/pair from the device's own source address,
 *         POST /api/v1/pairings with a user API token (the person typing the
 *         code), POST /api/v1/device/token, then (with --channel) PUT
 *         /api/v1/screens/{id}/channel to give it that default channel.
 *         Device k pairs from 127.NET.x.y number k / PER_IP, so no address
 *         goes over the server's 30 pair requests per 10 minutes.
 *         Appends "DEVICE_ID ACCESS_TOKEN" lines to OUT.
 *
 *   sync  One keep-alive connection per device (the first COUNT lines of
 *         TOKENS), each behaving like a player (docs/PROTOCOL.md, "Content"):
 *         fetch the manifest (If-None-Match: the ETag held), download every
 *         object it lists that the device does not have, acknowledge the
 *         instructions, long-poll GET /api/v1/device/instructions?after=SEQ
 *         &wait=30 (until the first save, wait=1..30 at random, so that the
 *         fleet's long-polls end at times spread over 30 s as in a real
 *         fleet); on a manifest_changed newer than what it holds, start over. Once every device is synced and waiting,
 * it saves the channel SAVES times (PUT /api/v1/channels/CHANNEL, from this process, with the user token), each save
 * replacing the channel's medium by the next object of OBJECTS (one SHA-256 per line; line 0 is what the channel holds
 * at the start). For each save it times, on CLOCK_MONOTONIC in this process, from the write of the PUT (T0): notice the
 * device has read the poll answer carrying the manifest_changed of the new version manifest  the device has read the
 * whole new manifest (200) ready     the device also has every new object (it could switch) put       the saver has the
 * PUT's answer and counts the bytes on the devices' sockets, by request kind. One JSON line per save on stdout, then
 * {"event":"done"}.
 *
 * Usage:
 *   bench_content_fleet pair --server HOST:PORT --token vt_... --count N --out FILE
 *                            [--channel ID] [--first K] [--concurrency 32] [--net 6] [--per-ip 25]
 *   bench_content_fleet sync --server HOST:PORT --token vt_... --tokens FILE --count N
 *                            --channel ID --objects FILE [--saves 5] [--net 7] [--per-ip 100]
 *                            [--wait 30] [--settle-ms 1000] [--timeout 60] [--server-pid PID] [--seed S]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#define NS_PER_MS       1000000ull
#define NS_PER_S        1000000000ull
#define KEEP_MAX        (1u << 20) /* a kept answer (JSON) larger than this is an error */
#define OUT_MAX         (64u * 1024u)
#define READ_CHUNK      (64u * 1024u)
#define TOKEN_MAX       96
#define ID_MAX          32
#define SHA_LEN         64
#define MAX_OBJS        32 /* objects per manifest that a device keeps track of */
#define MAX_ACKS        64 /* the server sends at most 50 instructions per answer */
#define MAX_SAVES       1000
#define RETRY_NS        (1ull * NS_PER_S)
#define PAIR_TIMEOUT_NS (30ull * NS_PER_S)

enum kind { K_NONE, K_PAIR, K_CONFIRM, K_TOKEN, K_ASSIGN, K_MANIFEST, K_OBJECT, K_POLL, K_ACK, K_PUT, K_KINDS };
static const char *const kind_names[K_KINDS] = {"none",     "pair",   "confirm", "token", "assign",
                                                "manifest", "object", "poll",    "ack",   "put"};

/* ---------- small helpers ---------- */

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[bench_content_fleet] ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rand64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more, size_t max)
{
	if (b->len + more <= b->cap)
		return 0;
	if (b->len + more > max)
		return -1;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more)
		cap *= 2;
	if (cap > max)
		cap = max;
	char *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* nearest rank */
static double pct_ms(const uint64_t *sorted, size_t n, double q)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(q * (double)n + 0.999999);
	rank = rank < 1 ? 1 : rank > n ? n : rank;
	return (double)sorted[rank - 1] / (double)NS_PER_MS;
}

static void print_latency(const char *name, uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)ns[i];
	printf("\"%s\":{\"n\":%zu,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	       "\"mean_ms\":%.3f}",
	       name, n, n ? (double)ns[0] / (double)NS_PER_MS : 0.0, pct_ms(ns, n, 0.5), pct_ms(ns, n, 0.9),
	       pct_ms(ns, n, 0.99), n ? (double)ns[n - 1] / (double)NS_PER_MS : 0.0,
	       n ? sum / (double)n / (double)NS_PER_MS : 0.0);
}

/* utime + stime of a process, seconds (0 if unknown) */
static double proc_cpu_s(long pid)
{
	if (pid <= 0)
		return 0;
	char path[64], text[2048];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *p = strrchr(text, ')');
	unsigned long long ut = 0, sys = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &sys) != 2)
		return 0;
	return (double)(ut + sys) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* "key":"value" of a compact JSON text into out; false if absent or too long */
static bool json_str(const char *p, size_t len, const char *key, char *out, size_t outsz)
{
	char pat[64];
	int pl = snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *s = memmem(p, len, pat, (size_t)pl);
	if (!s)
		return false;
	s += pl;
	const char *e = memchr(s, '"', len - (size_t)(s - p));
	if (!e || (size_t)(e - s) >= outsz)
		return false;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	return true;
}

static bool json_int(const char *p, size_t len, const char *key, int64_t *out)
{
	char pat[64];
	int pl = snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *s = memmem(p, len, pat, (size_t)pl);
	if (!s || s + pl >= p + len)
		return false;
	*out = strtoll(s + pl, NULL, 10);
	return true;
}

/* ---------- options and state ---------- */

static struct {
	bool pair_mode;
	struct sockaddr_in server;
	char host[64];
	const char *user_token, *tokens_path, *out_path, *objects_path, *channel;
	unsigned count, first, concurrency, net, per_ip, wait_s, saves, settle_ms, timeout_s, connect_batch;
	long server_pid;
} opt = {.concurrency = 32, .wait_s = 30, .saves = 5, .settle_ms = 1000, .timeout_s = 60, .connect_batch = 128};

struct conn {
	int fd;
	int dev; /* device index; -1: the saver */
	bool connecting, busy, want_out;
	enum kind kind;
	struct buf out, in;
	size_t out_off;
	uint64_t sent_ns, retry_at;
	/* the answer being read */
	bool in_body;
	int status;
	bool close_after;
	size_t body_len, body_left;
	char etag[80];
};

struct device {
	struct conn c;
	char id[ID_MAX], token[TOKEN_MAX];
	/* player state */
	int64_t after;   /* highest instruction seq seen */
	int64_t version; /* manifest version held (from its ETag) */
	char etag[80];
	char have[MAX_OBJS][SHA_LEN + 1];
	int n_have;
	char want[MAX_OBJS][SHA_LEN + 1];
	int n_want, want_next;
	char acks[MAX_ACKS][ID_MAX];
	int n_acks, ack_next;
	bool need_manifest, synced;
	/* the save being measured */
	int64_t floor; /* version held at T0 */
	uint64_t t_notice, t_manifest, t_ready;
	/* pair mode */
	char device_code[TOKEN_MAX], user_code[16];
};

static int ep = -1;
static struct device *devs;
static unsigned n_devs;
static struct conn saver = {.fd = -1, .dev = -1};
static char (*objects)[SHA_LEN + 1];
static unsigned n_objects;

static struct {
	uint64_t bytes_in[K_KINDS], bytes_out[K_KINDS], answers[K_KINDS], status[K_KINDS][600];
	uint64_t manifest_200, manifest_304, object_200, connects, connect_errors, conn_errors, closed_by_server,
	    bad_answers, stale_notices;
	unsigned connecting, paired, pair_failed, pair_next, pair_inflight, synced;
} st;

/* ---------- HTTP ---------- */

struct answer {
	int status;
	const char *body; /* NULL for a discarded body (objects) */
	size_t body_len;
	const char *etag;
};

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
	c->connecting = c->busy = c->want_out = c->in_body = false;
	c->kind = K_NONE;
	c->out.len = c->out_off = c->in.len = 0;
}

static void source_address(unsigned k, struct sockaddr_in *out)
{
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	uint32_t a = (127u << 24) | ((opt.net & 255u) << 16) | (((k / 254u) & 255u) << 8) | (k % 254u + 1u);
	out->sin_addr.s_addr = htonl(a);
}

/* src NULL: the default source address */
static int conn_open(struct conn *c, const struct sockaddr_in *src)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	if ((src && bind(fd, (const struct sockaddr *)src, sizeof *src) != 0) ||
	    (connect(fd, (const struct sockaddr *)&opt.server, sizeof opt.server) != 0 && errno != EINPROGRESS)) {
		close(fd);
		goto fail;
	}
	c->fd = fd;
	c->connecting = c->want_out = true;
	c->in_body = false;
	st.connects++;
	st.connecting++;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		c->fd = -1;
		st.connecting--;
		goto fail;
	}
	return 0;
fail:
	st.connect_errors++;
	return -1;
}

static void conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return; /* shows up as EPOLLERR / EOF */
		}
		c->out_off += (size_t)n;
		st.bytes_out[c->kind] += (uint64_t)n;
	}
	if (c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	conn_interest(c, c->out.len > 0);
}

/* One request; extra: more header lines ("Name: value\r\n") or NULL; body JSON or NULL. */
static void conn_request(struct conn *c, enum kind kind, const char *method, const char *path, const char *bearer,
                         const char *extra, const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	c->out.len = c->out_off = 0;
	if (buf_reserve(&c->out, 2048 + blen, OUT_MAX) != 0) {
		logf_("request too large");
		exit(1);
	}
	int n = snprintf(c->out.data, c->out.cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s", method, path, opt.host,
	                 bearer ? "Authorization: Bearer " : "", bearer ? bearer : "", bearer ? "\r\n" : "",
	                 extra ? extra : "");
	if (body)
		n += snprintf(c->out.data + n, c->out.cap - (size_t)n,
		              "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	n += snprintf(c->out.data + n, c->out.cap - (size_t)n, "\r\n");
	if (body) {
		memcpy(c->out.data + n, body, blen);
		n += (int)blen;
	}
	c->out.len = (size_t)n;
	c->kind = kind;
	c->busy = true;
	c->sent_ns = now_ns();
	conn_flush(c);
}

/* Headers of the answer at the start of c->in: 1 parsed (consumed), 0 need more, -1 malformed. */
static int parse_head(struct conn *c)
{
	const char *end = c->in.len >= 4 ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
	if (!end)
		return c->in.len > 32768 ? -1 : 0;
	size_t hlen = (size_t)(end - c->in.data) + 4;
	if (hlen < 12 || memcmp(c->in.data, "HTTP/1.", 7) != 0)
		return -1;
	c->status = atoi(c->in.data + 9);
	if (c->status < 100 || c->status > 599)
		return -1;
	long clen = -1;
	c->close_after = false;
	c->etag[0] = '\0';
	for (const char *l = memchr(c->in.data, '\n', hlen); l && l < end; l = memchr(l, '\n', (size_t)(end - l))) {
		l++;
		if (strncasecmp(l, "Content-Length:", 15) == 0)
			clen = strtol(l + 15, NULL, 10);
		else if (strncasecmp(l, "Connection:", 11) == 0) {
			const char *v = l + 11;
			while (*v == ' ')
				v++;
			c->close_after = strncasecmp(v, "close", 5) == 0;
		} else if (strncasecmp(l, "ETag:", 5) == 0) {
			const char *v = l + 5;
			while (*v == ' ')
				v++;
			const char *e = memchr(v, '\r', (size_t)(end + 2 - v));
			size_t n = e ? (size_t)(e - v) : 0;
			if (n < sizeof c->etag) {
				memcpy(c->etag, v, n);
				c->etag[n] = '\0';
			}
		} else if (strncasecmp(l, "Transfer-Encoding:", 18) == 0)
			return -1; /* not expected: these routes send a Content-Length */
	}
	if (c->status == 304 || c->status == 204 || c->status < 200)
		clen = 0;
	if (clen < 0)
		return -1;
	c->body_len = c->body_left = (size_t)clen;
	buf_consume(&c->in, hlen);
	c->in_body = true;
	return 1;
}

/* ---------- the devices ---------- */

static struct {
	bool active; /* a save is being measured */
	unsigned index;
	uint64_t t0, t_put;
	int put_status;
	double srv_cpu0, cli_cpu0;
	uint64_t bytes_in0[K_KINDS], bytes_out0[K_KINDS], answers0[K_KINDS];
	uint64_t m200_0, m304_0, o200_0, err0;
	unsigned n_notice, n_manifest, n_ready;
} sv;

static uint64_t put_ms_all[MAX_SAVES];

/* Until the first save, the waits are drawn from 1..WAIT s, so that when
 * the saves start the fleet's long-polls end at times spread evenly over
 * the wait, as in a real fleet (not all at once, as after a common start). */
static bool spreading = true;

static unsigned poll_wait(void)
{
	return spreading ? 1 + (unsigned)(rand64() % opt.wait_s) : opt.wait_s;
}

static void dev_poll(struct device *d, unsigned wait_s)
{
	char path[160];
	snprintf(path, sizeof path, "/api/v1/device/instructions?after=%" PRId64 "&wait=%u", d->after, wait_s);
	d->c.retry_at = 0;
	conn_request(&d->c, K_POLL, "GET", path, d->token, NULL, NULL);
}

static void dev_mark_ready(struct device *d, uint64_t t)
{
	if (sv.active && d->version > d->floor && !d->t_ready) {
		d->t_ready = t;
		sv.n_ready++;
	}
	if (!d->synced) {
		d->synced = true;
		st.synced++;
	}
}

/* the player's next step: manifest, objects, acknowledgements, then the long-poll */
static void dev_next(struct device *d)
{
	if (d->need_manifest) {
		char inm[128] = "";
		if (d->etag[0])
			snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", d->etag);
		conn_request(&d->c, K_MANIFEST, "GET", "/api/v1/device/manifest", d->token, d->etag[0] ? inm : NULL,
		             NULL);
		return;
	}
	if (d->want_next < d->n_want) {
		char path[160];
		snprintf(path, sizeof path, "/api/v1/device/objects/%s", d->want[d->want_next++]);
		conn_request(&d->c, K_OBJECT, "GET", path, d->token, NULL, NULL);
		return;
	}
	if (d->ack_next < d->n_acks) {
		char path[128];
		snprintf(path, sizeof path, "/api/v1/device/instructions/%s/ack", d->acks[d->ack_next++]);
		conn_request(&d->c, K_ACK, "POST", path, d->token, NULL, "{\"status\":\"ok\"}");
		return;
	}
	d->n_acks = d->ack_next = 0;
	dev_poll(d, poll_wait());
}

static bool have_object(const struct device *d, const char *sha)
{
	for (int i = 0; i < d->n_have; i++)
		if (memcmp(d->have[i], sha, SHA_LEN) == 0)
			return true;
	return false;
}

static void dev_manifest_answer(struct device *d, const struct answer *a, uint64_t t)
{
	d->need_manifest = false;
	if (a->status == 304) {
		st.manifest_304++;
		dev_mark_ready(d, t); /* nothing new (only counts if it is newer than the floor: it is not) */
		dev_next(d);
		return;
	}
	if (a->status != 200 || !a->etag || strncmp(a->etag, "\"m", 2) != 0) {
		d->need_manifest = true; /* again in a second */
		d->c.retry_at = t + RETRY_NS;
		if (st.bad_answers++ < 5)
			logf_("manifest answered %d", a->status);
		return;
	}
	st.manifest_200++;
	snprintf(d->etag, sizeof d->etag, "%s", a->etag);
	d->version = strtoll(a->etag + 2, NULL, 10);
	if (sv.active && d->version > d->floor && !d->t_manifest) {
		d->t_manifest = t;
		sv.n_manifest++;
	}
	/* the objects it lists; download those it does not have */
	char listed[MAX_OBJS][SHA_LEN + 1];
	int n_listed = 0;
	const char *p = memmem(a->body, a->body_len, "\"objects\":[", 11);
	const char *end = a->body + a->body_len;
	const char *close_br = p ? memchr(p, ']', (size_t)(end - p)) : NULL;
	while (p && close_br && n_listed < MAX_OBJS) {
		p = memmem(p, (size_t)(close_br - p), "\"sha256\":\"", 10);
		if (!p || p + 10 + SHA_LEN > close_br)
			break;
		p += 10;
		memcpy(listed[n_listed], p, SHA_LEN);
		listed[n_listed++][SHA_LEN] = '\0';
	}
	d->n_want = d->want_next = 0;
	for (int i = 0; i < n_listed; i++)
		if (!have_object(d, listed[i]))
			memcpy(d->want[d->n_want++], listed[i], SHA_LEN + 1);
	/* what it keeps: what the manifest lists (the rest would be collected) */
	memcpy(d->have, listed, sizeof listed[0] * (size_t)n_listed);
	d->n_have = n_listed;
	if (d->n_want == 0)
		dev_mark_ready(d, t);
	dev_next(d);
}

static void dev_object_answer(struct device *d, const struct answer *a, uint64_t t)
{
	if (a->status == 200)
		st.object_200++;
	if (d->want_next >= d->n_want)
		dev_mark_ready(d, t);
	dev_next(d);
}

/* {"instructions":[{...},{...}],"server_time":...}: each object's id, seq, type, payload.version */
static void dev_poll_answer(struct device *d, const struct answer *a, uint64_t t)
{
	if (a->status != 200) {
		d->c.retry_at = t + RETRY_NS;
		return;
	}
	const char *p = memmem(a->body, a->body_len, "\"instructions\":[", 16);
	const char *end = a->body + a->body_len;
	int n = 0;
	bool newer = false;
	if (p) {
		p += 16;
		int depth = 0;
		bool in_str = false;
		const char *obj = NULL;
		for (; p < end; p++) {
			char ch = *p;
			if (in_str) {
				if (ch == '\\')
					p++;
				else if (ch == '"')
					in_str = false;
				continue;
			}
			if (ch == '"')
				in_str = true;
			else if (ch == '{') {
				if (depth++ == 0)
					obj = p;
			} else if (ch == '}') {
				if (--depth == 0 && obj) {
					size_t len = (size_t)(p + 1 - obj);
					char id[ID_MAX], type[48];
					int64_t seq = 0, version = 0;
					if (json_str(obj, len, "id", id, sizeof id) &&
					    json_int(obj, len, "seq", &seq) &&
					    json_str(obj, len, "type", type, sizeof type)) {
						if (seq > d->after)
							d->after = seq;
						if (n < MAX_ACKS)
							memcpy(d->acks[n++], id, sizeof id);
						if (strcmp(type, "manifest_changed") == 0 &&
						    json_int(obj, len, "version", &version)) {
							if (version > d->version)
								newer = true;
							else
								st.stale_notices++;
						}
					}
				}
			} else if (ch == ']' && depth == 0)
				break;
		}
	}
	if (n == 0) { /* the wait ended */
		dev_poll(d, poll_wait());
		return;
	}
	if (newer) {
		d->need_manifest = true;
		if (sv.active && !d->t_notice) {
			d->t_notice = t;
			sv.n_notice++;
		}
	}
	d->n_acks = n;
	d->ack_next = 0;
	dev_next(d);
}

static void dev_answer(struct device *d, const struct answer *a, uint64_t t)
{
	switch (d->c.kind) {
	case K_MANIFEST:
		dev_manifest_answer(d, a, t);
		break;
	case K_OBJECT:
		dev_object_answer(d, a, t);
		break;
	case K_POLL:
		dev_poll_answer(d, a, t);
		break;
	case K_ACK:
		dev_next(d);
		break;
	default:
		break;
	}
}

static void dev_start(unsigned i)
{
	struct device *d = &devs[i];
	struct sockaddr_in src;
	source_address(i / opt.per_ip, &src);
	if (conn_open(&d->c, &src) != 0)
		d->c.retry_at = now_ns() + RETRY_NS;
}

static void dev_connected(struct device *d)
{
	if (!d->synced)
		d->need_manifest = true; /* a player fetches the manifest at start */
	/* after a reconnect: finish what it was doing (the step is redone) */
	if (d->want_next > 0 && d->want_next <= d->n_want && d->c.kind == K_OBJECT)
		d->want_next--;
	dev_next(d);
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
	if (done % 250 == 0 || done == n_devs)
		logf_("paired %u/%u (%u failed)", st.paired, n_devs, st.pair_failed);
	pair_start_next();
}

static void pair_step(struct device *d)
{
	unsigned idx = opt.first + (unsigned)(d - devs);
	char body[512], path[128];
	switch (d->c.kind) {
	case K_NONE: {
		uint8_t key[32];
		for (int i = 0; i < 32; i += 8) {
			uint64_t r = rand64();
			memcpy(key + i, &r, 8);
		}
		char k64[64];
		b64(key, sizeof key, k64);
		snprintf(body, sizeof body,
		         "{\"hardware_id\":\"content-%u\",\"public_key\":\"%s\",\"model\":\"bench\"}", idx, k64);
		conn_request(&d->c, K_PAIR, "POST", "/api/v1/device/pair", NULL, NULL, body);
		break;
	}
	case K_PAIR:
		snprintf(body, sizeof body, "{\"user_code\":\"%s\",\"name\":\"content-%u\"}", d->user_code, idx);
		conn_request(&d->c, K_CONFIRM, "POST", "/api/v1/pairings", opt.user_token, NULL, body);
		break;
	case K_CONFIRM:
		snprintf(body, sizeof body, "{\"device_code\":\"%s\"}", d->device_code);
		conn_request(&d->c, K_TOKEN, "POST", "/api/v1/device/token", NULL, NULL, body);
		break;
	case K_TOKEN:
		snprintf(path, sizeof path, "/api/v1/screens/%s/channel", d->id);
		snprintf(body, sizeof body, "{\"channel_id\":\"%s\"}", opt.channel);
		conn_request(&d->c, K_ASSIGN, "PUT", path, opt.user_token, NULL, body);
		break;
	default:
		break;
	}
}

static void pair_answer(struct device *d, const struct answer *a)
{
	enum kind kind = d->c.kind;
	bool ok = (kind == K_PAIR && a->status == 200 &&
	           json_str(a->body, a->body_len, "device_code", d->device_code, sizeof d->device_code) &&
	           json_str(a->body, a->body_len, "user_code", d->user_code, sizeof d->user_code)) ||
	          (kind == K_CONFIRM && a->status == 201) ||
	          (kind == K_TOKEN && a->status == 200 &&
	           json_str(a->body, a->body_len, "access_token", d->token, sizeof d->token) &&
	           json_str(a->body, a->body_len, "device_id", d->id, sizeof d->id)) ||
	          (kind == K_ASSIGN && a->status == 200);
	if (!ok) {
		if (st.pair_failed < 20)
			logf_("device %u: %s answered %d: %.*s", opt.first + (unsigned)(d - devs), kind_names[kind],
			      a->status, (int)(a->body_len > 300 ? 300 : a->body_len), a->body ? a->body : "");
		pair_finish(d, false);
		return;
	}
	if ((kind == K_TOKEN && !opt.channel) || kind == K_ASSIGN) {
		fprintf(pair_out, "%s %s\n", d->id, d->token);
		pair_finish(d, true);
		return;
	}
	pair_step(d);
}

static void pair_start_next(void)
{
	while (st.pair_inflight < opt.concurrency && st.pair_next < n_devs) {
		unsigned i = st.pair_next++;
		struct sockaddr_in src;
		source_address((opt.first + i) / opt.per_ip, &src);
		st.pair_inflight++;
		if (conn_open(&devs[i].c, &src) != 0) {
			logf_("device %u: connect: %s", opt.first + i, strerror(errno));
			pair_finish(&devs[i], false);
		}
	}
}

/* ---------- the saves ---------- */

static void save_start(unsigned k)
{
	spreading = false;
	memset(&sv, 0, sizeof sv);
	sv.active = true;
	sv.index = k;
	for (unsigned i = 0; i < n_devs; i++) {
		devs[i].floor = devs[i].version;
		devs[i].t_notice = devs[i].t_manifest = devs[i].t_ready = 0;
	}
	memcpy(sv.bytes_in0, st.bytes_in, sizeof st.bytes_in);
	memcpy(sv.bytes_out0, st.bytes_out, sizeof st.bytes_out);
	memcpy(sv.answers0, st.answers, sizeof st.answers);
	sv.m200_0 = st.manifest_200;
	sv.m304_0 = st.manifest_304;
	sv.o200_0 = st.object_200;
	sv.err0 = st.conn_errors + st.closed_by_server + st.bad_answers;
	sv.srv_cpu0 = proc_cpu_s(opt.server_pid);
	sv.cli_cpu0 = self_cpu_s();
	/* one zone: the new medium, then a text that names the save */
	char body[1024], path[128];
	snprintf(body, sizeof body,
	         "{\"name\":\"bench-content\",\"width\":1920,\"height\":1080,\"zones\":[{\"name\":\"main\",\"x\":0,"
	         "\"y\":0,\"w\":1920,\"h\":1080,\"items\":[{\"media\":\"%s\",\"duration\":10},{\"text\":\"save %u\","
	         "\"duration\":5}]}]}",
	         objects[1 + k], k + 1);
	snprintf(path, sizeof path, "/api/v1/channels/%s", opt.channel);
	sv.t0 = now_ns();
	conn_request(&saver, K_PUT, "PUT", path, opt.user_token, NULL, body);
	sv.t0 = saver.sent_ns;
}

static void save_finish(uint64_t t)
{
	uint64_t *notice = calloc(n_devs + 1, sizeof *notice), *manifest = calloc(n_devs + 1, sizeof *manifest),
	         *ready = calloc(n_devs + 1, sizeof *ready);
	size_t nn = 0, nm = 0, nr = 0;
	for (unsigned i = 0; i < n_devs; i++) {
		const struct device *d = &devs[i];
		if (d->t_notice)
			notice[nn++] = d->t_notice - sv.t0;
		if (d->t_manifest)
			manifest[nm++] = d->t_manifest - sv.t0;
		if (d->t_ready)
			ready[nr++] = d->t_ready - sv.t0;
	}
	uint64_t in[K_KINDS], out[K_KINDS], tin = 0, tout = 0;
	for (int k = 0; k < K_KINDS; k++) {
		in[k] = st.bytes_in[k] - sv.bytes_in0[k];
		out[k] = st.bytes_out[k] - sv.bytes_out0[k];
		if (k != K_PUT) {
			tin += in[k];
			tout += out[k];
		}
	}
	double put_ms = sv.t_put ? (double)(sv.t_put - sv.t0) / (double)NS_PER_MS : -1;
	printf("{\"event\":\"save\",\"save\":%u,\"devices\":%u,\"put_status\":%d,\"put_ms\":%.3f,\"notified\":%zu,"
	       "\"manifests\":%zu,\"ready\":%zu,\"round_s\":%.3f,",
	       sv.index + 1, n_devs, sv.put_status, put_ms, nn, nm, nr, (double)(t - sv.t0) / (double)NS_PER_S);
	print_latency("notice", notice, nn);
	putchar(',');
	print_latency("manifest", manifest, nm);
	putchar(',');
	print_latency("ready", ready, nr);
	printf(",\"bytes_in\":{");
	for (int k = K_MANIFEST; k < K_KINDS; k++)
		printf("%s\"%s\":%" PRIu64, k == K_MANIFEST ? "" : ",", kind_names[k], in[k]);
	printf(",\"devices_total\":%" PRIu64 "},\"bytes_out\":{", tin);
	for (int k = K_MANIFEST; k < K_KINDS; k++)
		printf("%s\"%s\":%" PRIu64, k == K_MANIFEST ? "" : ",", kind_names[k], out[k]);
	printf(",\"devices_total\":%" PRIu64 "},\"answers\":{", tout);
	for (int k = K_MANIFEST; k < K_KINDS; k++)
		printf("%s\"%s\":%" PRIu64, k == K_MANIFEST ? "" : ",", kind_names[k], st.answers[k] - sv.answers0[k]);
	printf("},\"manifest_200\":%" PRIu64 ",\"manifest_304\":%" PRIu64 ",\"object_200\":%" PRIu64
	       ",\"errors\":%" PRIu64 ",\"server_cpu_s\":%.3f,\"client_cpu_s\":%.3f}\n",
	       st.manifest_200 - sv.m200_0, st.manifest_304 - sv.m304_0, st.object_200 - sv.o200_0,
	       st.conn_errors + st.closed_by_server + st.bad_answers - sv.err0,
	       opt.server_pid > 0 ? proc_cpu_s(opt.server_pid) - sv.srv_cpu0 : -1.0, self_cpu_s() - sv.cli_cpu0);
	fflush(stdout);
	free(notice);
	free(manifest);
	free(ready);
	sv.active = false;
}

static void saver_answer(const struct answer *a, uint64_t t)
{
	sv.t_put = t;
	sv.put_status = a->status;
	if (a->status != 200)
		logf_("save %u: PUT answered %d: %.*s", sv.index + 1, a->status,
		      (int)(a->body_len > 300 ? 300 : a->body_len), a->body ? a->body : "");
}

/* ---------- events ---------- */

static void conn_failed(struct conn *c, bool by_server)
{
	if (by_server)
		st.closed_by_server++;
	else
		st.conn_errors++;
	if (c == &saver) {
		logf_("the saver's connection %s", by_server ? "was closed by the server" : "failed");
		conn_close(c);
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
	enum kind was = c->kind;
	conn_close(c);
	c->kind = was; /* dev_connected redoes the step */
	if (was == K_MANIFEST)
		d->need_manifest = true;
	c->retry_at = now_ns() + RETRY_NS;
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
	if (c == &saver)
		return;
	struct device *d = &devs[c->dev];
	if (opt.pair_mode)
		pair_step(d);
	else
		dev_connected(d);
}

static void conn_readable(struct conn *c, uint64_t t)
{
	for (;;) {
		if (buf_reserve(&c->in, READ_CHUNK, KEEP_MAX + READ_CHUNK) != 0) {
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
		st.bytes_in[c->kind] += (uint64_t)n;
		/* an object's body is counted and dropped as it comes */
		if (c->in_body && c->kind == K_OBJECT) {
			size_t take = c->in.len < c->body_left ? c->in.len : c->body_left;
			buf_consume(&c->in, take);
			c->body_left -= take;
		}
	}
	for (;;) {
		if (!c->in_body) {
			if (c->in.len == 0)
				return;
			int r = parse_head(c);
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
			if (c->body_len > KEEP_MAX && c->kind != K_OBJECT) {
				st.bad_answers++;
				conn_failed(c, false);
				return;
			}
		}
		struct answer a = {.status = c->status, .etag = c->etag[0] ? c->etag : NULL};
		size_t used = 0;
		if (c->kind == K_OBJECT) {
			size_t take = c->in.len < c->body_left ? c->in.len : c->body_left;
			buf_consume(&c->in, take);
			c->body_left -= take;
			if (c->body_left)
				return;
		} else {
			if (c->in.len < c->body_len)
				return;
			a.body = c->in.data;
			a.body_len = used = c->body_len;
		}
		/* a whole answer */
		c->in_body = false;
		c->busy = false;
		bool close_after = c->close_after;
		st.answers[c->kind]++;
		st.status[c->kind][c->status]++;
		if (c == &saver)
			saver_answer(&a, t);
		else if (opt.pair_mode)
			pair_answer(&devs[c->dev], &a);
		else
			dev_answer(&devs[c->dev], &a, t);
		if (c->fd < 0)
			return; /* closed by the handler (pair mode) */
		buf_consume(&c->in, used);
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

/* ---------- setup and the main loop ---------- */

static unsigned load_lines(const char *path, unsigned want, bool tokens)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		logf_("%s: %s", path, strerror(errno));
		exit(2);
	}
	unsigned n = 0;
	char line[256];
	while (n < want && fgets(line, sizeof line, f)) {
		if (tokens ? sscanf(line, "%31s %95s", devs[n].id, devs[n].token) == 2
		           : (sscanf(line, "%64s", objects[n]) == 1 && strlen(objects[n]) == SHA_LEN))
			n++;
	}
	fclose(f);
	return n;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: bench_content_fleet pair --server HOST:PORT --token vt_... --count N --out FILE\n"
	    "                                [--channel ID] [--first K] [--concurrency 32] [--net 6] [--per-ip 25]\n"
	    "       bench_content_fleet sync --server HOST:PORT --token vt_... --tokens FILE --count N\n"
	    "                                --channel ID --objects FILE [--saves 5] [--net 7] [--per-ip 100]\n"
	    "                                [--wait 30] [--settle-ms 1000] [--timeout 60] [--server-pid PID]\n"
	    "                                [--seed S]\n");
	exit(2);
}

static bool fleet_idle(void)
{
	for (unsigned i = 0; i < n_devs; i++) {
		const struct device *d = &devs[i];
		/* a re-poll is written at once when a wait ends: still idle */
		if (!d->synced || d->c.fd < 0 || d->c.connecting || d->c.kind != K_POLL || !d->c.busy)
			return false;
	}
	return saver.fd >= 0 && !saver.connecting && !saver.busy;
}

static void sync_tick(uint64_t now, unsigned *next_connect)
{
	while (*next_connect < n_devs && st.connecting < opt.connect_batch)
		dev_start((*next_connect)++);
	for (unsigned i = 0; i < *next_connect; i++) {
		struct device *d = &devs[i];
		struct conn *c = &d->c;
		if (c->retry_at && now >= c->retry_at && !c->busy) {
			c->retry_at = 0;
			if (c->fd < 0)
				dev_start(i);
			else
				dev_next(d);
		}
	}
	if (saver.fd < 0 && !saver.connecting)
		conn_open(&saver, NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	opt.pair_mode = strcmp(argv[1], "pair") == 0;
	if (!opt.pair_mode && strcmp(argv[1], "sync") != 0)
		usage();
	const char *server = NULL;
	rng ^= (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
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
		else if (strcmp(a, "--objects") == 0)
			opt.objects_path = v;
		else if (strcmp(a, "--channel") == 0)
			opt.channel = v;
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
		else if (strcmp(a, "--saves") == 0)
			opt.saves = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--settle-ms") == 0)
			opt.settle_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--timeout") == 0)
			opt.timeout_s = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--server-pid") == 0)
			opt.server_pid = strtol(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			rng = strtoull(v, NULL, 10) | 1;
		else
			usage();
	}
	if (!server || !opt.user_token || opt.count == 0 || opt.concurrency == 0 || opt.wait_s < 2 || opt.wait_s > 30)
		usage();
	if (opt.pair_mode ? !opt.out_path
	                  : (!opt.tokens_path || !opt.objects_path || !opt.channel || opt.saves == 0 ||
	                     opt.saves > MAX_SAVES - 1))
		usage();
	{
		char host[64];
		const char *colon = strrchr(server, ':');
		if (!colon || (size_t)(colon - server) >= sizeof host)
			usage();
		memcpy(host, server, (size_t)(colon - server));
		host[colon - server] = '\0';
		opt.server.sin_family = AF_INET;
		opt.server.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &opt.server.sin_addr) != 1)
			usage();
		snprintf(opt.host, sizeof opt.host, "%s", server);
	}
	if (!opt.net)
		opt.net = opt.pair_mode ? 6 : 7;
	if (!opt.per_ip)
		opt.per_ip = opt.pair_mode ? 25 : 100;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!opt.pair_mode && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt.count + 32) {
		logf_("%u devices need %u file descriptors; the limit is %llu", opt.count, opt.count + 32,
		      (unsigned long long)rl.rlim_cur);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
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
		uint64_t t_start = now_ns();
		pair_start_next();
		struct epoll_event evs[256];
		uint64_t next_tick = 0;
		while (st.pair_inflight > 0 || st.pair_next < n_devs) {
			int n = epoll_wait(ep, evs, 256, 50);
			for (int i = 0; i < n; i++)
				conn_event(evs[i].data.ptr, evs[i].events, now_ns());
			uint64_t t = now_ns();
			if (t >= next_tick) {
				next_tick = t + 100 * NS_PER_MS;
				for (unsigned i = 0; i < st.pair_next; i++) {
					struct conn *c = &devs[i].c;
					if (c->fd >= 0 && c->busy && t - c->sent_ns > PAIR_TIMEOUT_NS) {
						logf_("device %u: no answer to %s in 30 s", opt.first + i,
						      kind_names[c->kind]);
						pair_finish(&devs[i], false);
					}
				}
			}
		}
		fclose(pair_out);
		printf("{\"event\":\"paired\",\"paired\":%u,\"failed\":%u,\"seconds\":%.1f}\n", st.paired,
		       st.pair_failed, (double)(now_ns() - t_start) / (double)NS_PER_S);
		return st.pair_failed ? 1 : 0;
	}

	/* sync mode */
	n_devs = load_lines(opt.tokens_path, opt.count, true);
	if (n_devs < opt.count) {
		logf_("%s has %u devices, %u wanted", opt.tokens_path, n_devs, opt.count);
		return 2;
	}
	objects = calloc(opt.saves + 1, sizeof *objects);
	n_objects = objects ? load_lines(opt.objects_path, opt.saves + 1, false) : 0;
	if (n_objects < opt.saves + 1) {
		logf_("%s has %u objects; %u saves need %u", opt.objects_path, n_objects, opt.saves, opt.saves + 1);
		return 2;
	}
	uint64_t t_start = now_ns(), t_idle_since = 0, t_synced = 0, settle = (uint64_t)opt.settle_ms * NS_PER_MS;
	unsigned next_connect = 0, saves_done = 0;
	double srv_cpu_start = proc_cpu_s(opt.server_pid);
	uint64_t sync_in = 0;
	struct epoll_event evs[1024];
	uint64_t next_tick = 0;
	int rc = 0;
	for (;;) {
		int n = epoll_wait(ep, evs, 1024, 5);
		for (int i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events, now_ns());
		uint64_t t = now_ns();
		if (t >= next_tick) {
			next_tick = t + 20 * NS_PER_MS;
			sync_tick(t, &next_connect);
		}
		if (!t_synced && st.synced == n_devs) {
			t_synced = t;
			for (int k = 0; k < K_KINDS; k++)
				sync_in += st.bytes_in[k];
			printf("{\"event\":\"synced\",\"devices\":%u,\"seconds\":%.3f,\"bytes_in\":%" PRIu64
			       ",\"manifest_200\":%" PRIu64 ",\"object_200\":%" PRIu64 ",\"connect_errors\":%" PRIu64
			       ",\"server_cpu_s\":%.3f}\n",
			       n_devs, (double)(t - t_start) / (double)NS_PER_S, sync_in, st.manifest_200,
			       st.object_200, st.connect_errors, proc_cpu_s(opt.server_pid) - srv_cpu_start);
			fflush(stdout);
		}
		if (sv.active) {
			bool all = sv.t_put && sv.n_ready >= n_devs;
			bool late = t - sv.t0 > (uint64_t)opt.timeout_s * NS_PER_S;
			if (all || late) {
				if (late) {
					logf_("save %u: %u of %u devices ready after %u s", sv.index + 1, sv.n_ready,
					      n_devs, opt.timeout_s);
					rc = 1;
				}
				put_ms_all[saves_done] = sv.t_put ? sv.t_put - sv.t0 : 0;
				save_finish(t);
				saves_done++;
				t_idle_since = 0;
			}
			continue;
		}
		if (!t_synced)
			continue;
		if (!fleet_idle()) {
			t_idle_since = 0;
			if (t - t_synced > 120 * NS_PER_S && saves_done == 0) {
				logf_("the fleet never became idle");
				return 1;
			}
			continue;
		}
		if (!t_idle_since)
			t_idle_since = t;
		if (t - t_idle_since < settle)
			continue;
		if (saves_done >= opt.saves)
			break;
		save_start(saves_done);
	}
	printf("{\"event\":\"done\",\"saves\":%u,\"seconds\":%.3f,\"connects\":%" PRIu64 ",\"connect_errors\":%" PRIu64
	       ",\"conn_errors\":%" PRIu64 ",\"closed_by_server\":%" PRIu64 ",\"bad_answers\":%" PRIu64
	       ",\"stale_notices\":%" PRIu64 ",\"statuses\":{",
	       saves_done, (double)(now_ns() - t_start) / (double)NS_PER_S, st.connects, st.connect_errors,
	       st.conn_errors, st.closed_by_server, st.bad_answers, st.stale_notices);
	bool first = true;
	for (int k = 1; k < K_KINDS; k++)
		for (int s = 0; s < 600; s++)
			if (st.status[k][s]) {
				printf("%s\"%s %d\":%" PRIu64, first ? "" : ",", kind_names[k], s, st.status[k][s]);
				first = false;
			}
	printf("}}\n");
	fflush(stdout);
	for (unsigned i = 0; i < n_devs; i++)
		conn_close(&devs[i].c);
	conn_close(&saver);
	return rc;
}
