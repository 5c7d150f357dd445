/*
 * bench_chat_streams: holds N Server-Sent Events streams open on one
 * server and times messages published to them one at a time: the client
 * of bench/chat/run, the same for vitrine-server (chat visitors) and for
 * nginx + nchan (EventSource subscribers), so both are measured alike.
 *
 *   bench_chat_streams --server 127.0.0.1:PORT --streams FILE
 *                      [--net A] [--per-ip K] [--parallel P] [--timeout-ms T]
 *
 * FILE holds one record a line, fields separated by tabs:
 *   D PATH HEADER...   an extra stream (an operator's), opened at start,
 *                      read and thrown away
 *   S PATH HEADER...   a timed stream (a visitor's, a subscriber's)
 *   P PATH HEADER...   how to publish to the S above it: POST PATH with
 *                      these headers
 *   B BODY             the body of that POST; each "@@" in it becomes the
 *                      message's marker (bm + 8 digits + z: never a part of
 *                      another marker)
 * A HEADER is "Name: value". Each stream is GET PATH with Accept:
 * text/event-stream; it counts as open once a 200 response's headers came
 * (chunked or not: the body is de-chunked, then read as SSE lines).
 *
 * Streams come from many source addresses, 127.A.x.y, K per address (bind
 * before connect, port chosen at connect), so the ephemeral port range
 * never limits; RLIMIT_NOFILE is raised to the hard limit. The publisher
 * is one keep-alive connection from 127.0.0.1.
 *
 * Commands on stdin, one a line; answers are JSON lines on stdout:
 *   (at start)            {"event":"extra_ready",...} once every D is open
 *   open                  opens every S: {"event":"ready","n","seconds"}
 *   measure M GAP SEED    M messages, one at a time, each to a random S
 *                         (xorshift from SEED), GAP ms between: the time
 *                         from the write of the POST to the end of the SSE
 *                         event (type "message", or no type: the SSE
 *                         default) whose data holds the marker, on that
 *                         stream; and to the POST's whole answer.
 *                         {"event":"measure","deliver":{...},"ack":{...},
 *                         "lost","send_failed","statuses":{...}}
 *   status                {"event":"status",...} counters
 *   quit                  closes everything, a last status, exit 0
 * {"event":"error","message"} then exit 1 when something cannot go on.
 * Progress lines go to stderr.
 *
 * Only libc; Linux (epoll).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr, IP_BIND_ADDRESS_NO_PORT */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

#define HBUF_MAX     4096 /* response headers kept until the stream is open */
#define SSE_LINE_MAX 1024 /* an SSE line beyond this is cut (the marker is near its start) */
#define MARKER_LEN   11   /* "bm" + 8 digits + "z" */
#define TAG_STDIN    UINT64_MAX
#define TAG_PUB      (UINT64_MAX - 1)
#define MAX_PENDING  4096 /* stdin bytes */

enum cstate { C_IDLE, C_CONNECTING, C_WAITING, C_OPEN, C_CLOSED };
enum chunk_state { K_SIZE, K_DATA, K_DATA_END, K_DONE };

struct stream {
	int fd;
	enum cstate state;
	bool extra; /* a D stream */
	char *req;  /* the GET request */
	unsigned req_len, sent;
	char *pub_path, *pub_headers, *body; /* S: how to publish to it */
	char *hbuf;
	unsigned hlen;
	bool chunked;
	enum chunk_state ks;
	uint64_t chunk_left;
	char line[SSE_LINE_MAX];
	unsigned line_len;
	bool size_ext;       /* chunk size line: in an extension */
	bool has_fields;     /* the event being read has an event: or data: line */
	bool typed;          /* ... an "event:" line */
	bool type_message;   /* ... and it is "message" */
	bool marker_in_data; /* a data line of it holds the marker of the message in flight */
	unsigned long events, messages;
};

static struct {
	struct sockaddr_in dst;
	char host[64];
	const char *streams_path;
	unsigned net, per_ip, parallel, timeout_ms;
} opt = {.net = 6, .per_ip = 100, .parallel = 100, .timeout_ms = 10000};

static struct stream *streams;
static unsigned nstreams, nextra, ntimed;
static unsigned *timed; /* indexes of the S streams */
static int ep = -1;
static volatile sig_atomic_t stop_flag;
static unsigned next_to_open, in_progress, open_extra, open_timed, closed_by_server;
static bool opening_timed, announced_extra, announced_ready;
static uint64_t t_open_start;
static unsigned long long body_bytes;

/* the publisher connection and the measurement */
static struct {
	int fd;
	char resp[16384];
	size_t rlen;
} pub = {.fd = -1};

static struct {
	bool active, in_flight;
	unsigned total, done, k;
	unsigned gap_ms;
	uint64_t rng;
	uint64_t next_at, t0, t_event, t_resp;
	unsigned target; /* index into streams */
	char marker[MARKER_LEN + 1];
	unsigned status;
	bool close_after;
	uint64_t *deliver, *ack;
	unsigned ndeliver, nack, lost, send_failed;
	unsigned statuses[600];
	char first_bad[200];
} ms;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* a JSON string of s (quotes and control characters escaped) */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printf("{\"event\":\"error\",\"message\":");
	json_str(stdout, msg);
	printf("}\n");
	fflush(stdout);
	fprintf(stderr, "bench_chat_streams: %s\n", msg);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

/* ---------- the streams file ---------- */

/* "Name: value\r\n" for each field from the second on */
static char *join_headers(char **fields, unsigned n)
{
	size_t len = 1;
	for (unsigned i = 0; i < n; i++)
		len += strlen(fields[i]) + 2;
	char *out = xmalloc(len), *p = out;
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(fields[i]);
		memcpy(p, fields[i], l);
		p += l;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p = '\0';
	return out;
}

static void load_streams(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	size_t cap = 1024;
	streams = xmalloc(cap * sizeof *streams);
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	unsigned lineno = 0;
	struct stream *last_s = NULL;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		char *fields[64];
		unsigned nf = 0;
		for (char *p = line, *tab; nf < 64; p = tab + 1) {
			fields[nf++] = p;
			tab = strchr(p, '\t');
			if (!tab)
				break;
			*tab = '\0';
		}
		char kind = fields[0][0];
		if ((kind == 'D' || kind == 'S') && nf >= 2) {
			if (nstreams == cap) {
				cap *= 2;
				struct stream *n = realloc(streams, cap * sizeof *streams);
				if (!n)
					die("out of memory");
				streams = n;
			}
			struct stream *s = &streams[nstreams++];
			memset(s, 0, sizeof *s);
			s->fd = -1;
			s->extra = kind == 'D';
			char *h = join_headers(fields + 2, nf - 2);
			size_t rl = strlen(fields[1]) + strlen(h) + strlen(opt.host) + 128;
			s->req = xmalloc(rl);
			int n = snprintf(s->req, rl,
			                 "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: "
			                 "no-cache\r\n%s\r\n",
			                 fields[1], opt.host, h);
			free(h);
			s->req_len = (unsigned)n;
			if (s->extra)
				nextra++;
			else
				ntimed++;
			last_s = s->extra ? NULL : s;
		} else if (kind == 'P' && nf >= 2 && last_s) {
			last_s->pub_path = xstrdup(fields[1]);
			last_s->pub_headers = join_headers(fields + 2, nf - 2);
		} else if (kind == 'B' && nf >= 2 && last_s) {
			last_s->body = xstrdup(fields[1]);
		} else {
			die("%s:%u: not a record this tool knows (D, S, P after an S, B after an S)", path, lineno);
		}
	}
	free(line);
	fclose(f);
	/* D streams first: they open before the timed ones */
	struct stream *sorted = xmalloc((nstreams ? nstreams : 1) * sizeof *sorted);
	unsigned k = 0;
	for (unsigned i = 0; i < nstreams; i++)
		if (streams[i].extra)
			sorted[k++] = streams[i];
	timed = xmalloc((ntimed ? ntimed : 1) * sizeof *timed);
	unsigned t = 0;
	for (unsigned i = 0; i < nstreams; i++)
		if (!streams[i].extra) {
			if (!streams[i].pub_path || !streams[i].body)
				die("%s: timed stream %u has no P or B record", path, t);
			timed[t++] = k;
			sorted[k++] = streams[i];
		}
	free(streams);
	streams = sorted;
}

/* ---------- connections ---------- */

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
		die("the fd limit is %llu, %u streams need %u", (unsigned long long)rl.rlim_cur, nstreams, need);
}

static void close_stream(struct stream *s, bool by_server)
{
	if (s->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = -1;
	free(s->hbuf);
	s->hbuf = NULL;
	if (s->state == C_OPEN) {
		if (s->extra)
			open_extra--;
		else
			open_timed--;
	} else if (s->state == C_CONNECTING || s->state == C_WAITING) {
		in_progress--;
	}
	s->state = C_CLOSED;
	if (by_server)
		closed_by_server++;
}

static void open_one(unsigned i)
{
	struct stream *s = &streams[i];
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		die("socket (stream %u): %s", i, strerror(errno));
	int one = 1;
	setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	unsigned a = i / opt.per_ip; /* the address: 127.NET.(a / 254).(a % 254 + 1) */
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f000000u | (opt.net << 16) | ((a / 254) << 8) | (a % 254 + 1));
	if (bind(s->fd, (struct sockaddr *)&src, sizeof src) != 0)
		die("bind 127.%u.%u.%u (stream %u): %s", opt.net, a / 254, a % 254 + 1, i, strerror(errno));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s->fd, (struct sockaddr *)&opt.dst, sizeof opt.dst) != 0 && errno != EINPROGRESS)
		die("connect (stream %u): %s", i, strerror(errno));
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = i};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	s->state = C_CONNECTING;
	in_progress++;
}

static void open_more(void)
{
	unsigned limit = opening_timed ? nstreams : nextra;
	while (next_to_open < limit && in_progress < opt.parallel)
		open_one(next_to_open++);
}

static unsigned status_of(const char *buf, size_t len)
{
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return 0;
	return (unsigned)strtoul(buf + 9, NULL, 10);
}

/* the value of header `name` in the head [buf, end), or NULL */
static const char *header_in(const char *buf, const char *end, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = buf; p + nl < end; p++)
		if ((p == buf || p[-1] == '\n') && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			return p;
		}
	return NULL;
}

/* ---------- SSE ---------- */

static void sse_line(unsigned idx, struct stream *s, uint64_t t)
{
	const char *l = s->line;
	unsigned n = s->line_len;
	if (n == 0) { /* the end of an event */
		if (s->has_fields) {
			s->events++;
			if (!s->typed || s->type_message) { /* no "event:" line: the SSE default, "message" */
				s->messages++;
				if (s->marker_in_data && ms.in_flight && ms.target == idx && !ms.t_event)
					ms.t_event = t;
			}
		}
		s->has_fields = s->typed = s->type_message = s->marker_in_data = false;
		return;
	}
	if (l[0] == ':') /* a comment (keep-alive) */
		return;
	if (n >= 6 && memcmp(l, "event:", 6) == 0) {
		const char *v = l + 6;
		unsigned vn = n - 6;
		if (vn && *v == ' ')
			v++, vn--;
		s->has_fields = s->typed = true;
		s->type_message = vn == 7 && memcmp(v, "message", 7) == 0;
	} else if (n >= 5 && memcmp(l, "data:", 5) == 0) {
		s->has_fields = true;
		if (ms.in_flight && ms.target == idx && memmem(l, n, ms.marker, MARKER_LEN))
			s->marker_in_data = true;
	}
}

static void sse_bytes(unsigned idx, struct stream *s, const char *p, size_t n, uint64_t t)
{
	body_bytes += n;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n') {
			if (s->line_len && s->line[s->line_len - 1] == '\r')
				s->line_len--;
			sse_line(idx, s, t);
			s->line_len = 0;
		} else if (s->line_len < SSE_LINE_MAX) {
			s->line[s->line_len++] = c;
		}
	}
}

/* the body as it came: de-chunked when the response is chunked */
static void body_bytes_in(unsigned idx, struct stream *s, const char *p, size_t n, uint64_t t)
{
	if (!s->chunked) {
		sse_bytes(idx, s, p, n, t);
		return;
	}
	size_t i = 0;
	while (i < n) {
		switch (s->ks) {
		case K_SIZE: { /* hex size, optional extensions, CRLF */
			char c = p[i++];
			if (c == '\n') {
				if (s->chunk_left == 0)
					s->ks = K_DONE;
				else
					s->ks = K_DATA;
			} else if (s->size_ext) {
				/* in an extension: skip to the LF */
			} else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
				unsigned v = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
				s->chunk_left = s->chunk_left * 16 + v;
			} else if (c != '\r') {
				s->size_ext = true; /* ';' extension */
			}
			if (s->ks != K_SIZE)
				s->size_ext = false;
			break;
		}
		case K_DATA: {
			size_t take = n - i < s->chunk_left ? n - i : (size_t)s->chunk_left;
			sse_bytes(idx, s, p + i, take, t);
			i += take;
			s->chunk_left -= take;
			if (s->chunk_left == 0)
				s->ks = K_DATA_END;
			break;
		}
		case K_DATA_END:
			if (p[i++] == '\n')
				s->ks = K_SIZE;
			break;
		case K_DONE:
			return;
		}
	}
}

/* ---------- stream events ---------- */

static void announce(void)
{
	if (!announced_extra && next_to_open >= nextra && open_extra == nextra) {
		announced_extra = true;
		printf("{\"event\":\"extra_ready\",\"n\":%u,\"seconds\":%.3f}\n", open_extra,
		       (double)(now_ns() - t_open_start) / 1e9);
		fflush(stdout);
	}
	if (opening_timed && !announced_ready && next_to_open >= nstreams && open_timed == ntimed) {
		announced_ready = true;
		printf("{\"event\":\"ready\",\"n\":%u,\"seconds\":%.3f}\n", open_timed,
		       (double)(now_ns() - t_open_start) / 1e9);
		fflush(stdout);
	}
}

static void on_stream_event(unsigned i, uint32_t events)
{
	struct stream *s = &streams[i];
	if (s->state == C_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			die("connect (stream %u): %s", i, strerror(err));
		s->state = C_WAITING;
		s->hbuf = xmalloc(HBUF_MAX);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = i};
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
	}
	if (s->state == C_WAITING && s->sent < s->req_len) {
		ssize_t w = write(s->fd, s->req + s->sent, s->req_len - s->sent);
		if (w < 0 && errno != EAGAIN)
			die("write (stream %u): %s", i, strerror(errno));
		if (w > 0)
			s->sent += (unsigned)w;
		if (s->sent < s->req_len) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = i};
			epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
			return;
		}
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = i};
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		char buf[16384];
		ssize_t r = read(s->fd, buf, sizeof buf);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			if (s->state == C_WAITING)
				die("stream %u closed by the server before its response (%s)", i,
				    r == 0 ? "EOF" : strerror(errno));
			close_stream(s, true);
			fprintf(stderr, "bench_chat_streams: stream %u closed by the server\n", i);
			return;
		}
		uint64_t t = now_ns();
		if (s->state == C_WAITING) {
			size_t room = HBUF_MAX - 1 - s->hlen, n = (size_t)r < room ? (size_t)r : room;
			memcpy(s->hbuf + s->hlen, buf, n);
			s->hlen += (unsigned)n;
			s->hbuf[s->hlen] = '\0';
			char *end = memmem(s->hbuf, s->hlen, "\r\n\r\n", 4);
			if (!end) {
				if (s->hlen >= HBUF_MAX - 1)
					die("stream %u: response headers too long", i);
				continue;
			}
			unsigned status = status_of(s->hbuf, s->hlen);
			if (status != 200) {
				char msg[120];
				snprintf(msg, sizeof msg, "%.110s", s->hbuf);
				for (char *q = msg; *q; q++)
					if (*q == '\r' || *q == '\n')
						*q = ' ';
				die("stream %u: status %u: %s", i, status, msg);
			}
			const char *te = header_in(s->hbuf, end, "Transfer-Encoding");
			s->chunked = te && strncasecmp(te, "chunked", 7) == 0;
			size_t head = (size_t)(end - s->hbuf) + 4;
			size_t rest_len = s->hlen - head;
			char rest[HBUF_MAX];
			memcpy(rest, s->hbuf + head, rest_len);
			/* bytes of this read beyond what hbuf took */
			free(s->hbuf);
			s->hbuf = NULL;
			s->state = C_OPEN;
			in_progress--;
			if (s->extra)
				open_extra++;
			else
				open_timed++;
			body_bytes_in(i, s, rest, rest_len, t);
			if ((size_t)r > n)
				body_bytes_in(i, s, buf + n, (size_t)r - n, t);
			unsigned done = open_extra + open_timed;
			if (done % 1000 == 0)
				fprintf(stderr, "bench_chat_streams: %u streams open\n", done);
			announce();
		} else if (s->state == C_OPEN) {
			body_bytes_in(i, s, buf, (size_t)r, t);
		}
	}
}

/* ---------- the publisher and the measurement ---------- */

static void pub_close(void)
{
	if (pub.fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, pub.fd, NULL);
		close(pub.fd);
	}
	pub.fd = -1;
	pub.rlen = 0;
}

static bool pub_connect(void)
{
	pub.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pub.fd < 0)
		return false;
	int one = 1;
	setsockopt(pub.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(pub.fd, (struct sockaddr *)&opt.dst, sizeof opt.dst) != 0) {
		close(pub.fd);
		pub.fd = -1;
		return false;
	}
	fcntl(pub.fd, F_SETFL, fcntl(pub.fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = TAG_PUB};
	epoll_ctl(ep, EPOLL_CTL_ADD, pub.fd, &ev);
	pub.rlen = 0;
	return true;
}

static uint64_t rng_next(void)
{
	uint64_t x = ms.rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return ms.rng = x;
}

static void measure_finish_one(bool timed_out);

static void measure_send(void)
{
	ms.k++;
	ms.target = timed[rng_next() % ntimed];
	snprintf(ms.marker, sizeof ms.marker, "bm%08uz", ms.k);
	struct stream *s = &streams[ms.target];
	/* the body with each @@ replaced by the marker */
	char body[8192];
	size_t bl = 0;
	for (const char *p = s->body; *p && bl < sizeof body - MARKER_LEN - 1;) {
		if (p[0] == '@' && p[1] == '@') {
			memcpy(body + bl, ms.marker, MARKER_LEN);
			bl += MARKER_LEN;
			p += 2;
		} else {
			body[bl++] = *p++;
		}
	}
	char req[16384];
	int n = snprintf(req, sizeof req,
	                 "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: "
	                 "%zu\r\n\r\n%.*s",
	                 s->pub_path, opt.host, s->pub_headers, bl, (int)bl, body);
	if (n < 0 || (size_t)n >= sizeof req)
		die("publish request too long");
	ms.t_event = ms.t_resp = 0;
	ms.status = 0;
	pub.rlen = 0;
	ms.close_after = false;
	ms.in_flight = true;
	if (pub.fd < 0 && !pub_connect()) {
		ms.t0 = now_ns();
		measure_finish_one(false);
		return;
	}
	ms.t0 = now_ns();
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = write(pub.fd, req + off, (size_t)n - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EAGAIN) {
			struct timespec pause = {0, 100000};
			nanosleep(&pause, NULL);
			continue;
		}
		/* the server closed the idle keep-alive connection: again on a new one, the clock restarted */
		pub_close();
		if (!pub_connect()) {
			measure_finish_one(false);
			return;
		}
		ms.t0 = now_ns();
		off = 0;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_dist(const char *name, uint64_t *d, unsigned n)
{
	qsort(d, n, sizeof *d, cmp_u64);
	double sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += (double)d[i];
	printf("\"%s\":{\"n\":%u", name, n);
	if (n) {
		unsigned p99 = (unsigned)(((uint64_t)n * 99 + 99) / 100) - 1; /* nearest rank */
		printf(
		    ",\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f",
		    (double)d[0] / 1e6, (double)d[(n - 1) / 2] / 1e6,
		    (double)d[((uint64_t)n * 90 + 99) / 100 - 1] / 1e6, (double)d[p99] / 1e6, (double)d[n - 1] / 1e6,
		    sum / n / 1e6);
	}
	printf("}");
}

static void measure_report(void)
{
	printf("{\"event\":\"measure\",\"sent\":%u,", ms.done);
	print_dist("deliver", ms.deliver, ms.ndeliver);
	printf(",");
	print_dist("ack", ms.ack, ms.nack);
	printf(",\"lost\":%u,\"send_failed\":%u,\"statuses\":{", ms.lost, ms.send_failed);
	bool first = true;
	for (unsigned i = 0; i < 600; i++)
		if (ms.statuses[i]) {
			printf("%s\"%u\":%u", first ? "" : ",", i, ms.statuses[i]);
			first = false;
		}
	printf("},\"first_bad_answer\":");
	json_str(stdout, ms.first_bad);
	printf(",\"streams_open\":%u,\"closed_by_server\":%u}\n", open_timed, closed_by_server);
	fflush(stdout);
	free(ms.deliver);
	free(ms.ack);
	ms.deliver = ms.ack = NULL;
	ms.active = false;
}

static void measure_finish_one(bool timed_out)
{
	(void)timed_out;
	if (ms.status && ms.status / 100 == 2)
		ms.ack[ms.nack++] = ms.t_resp - ms.t0;
	if (ms.status < 600)
		ms.statuses[ms.status]++;
	if (!ms.status || ms.status / 100 != 2) {
		ms.send_failed++;
		if (!ms.first_bad[0]) {
			snprintf(ms.first_bad, sizeof ms.first_bad, "%.*s", (int)(pub.rlen < 190 ? pub.rlen : 190),
			         pub.resp);
			if (!ms.first_bad[0])
				snprintf(ms.first_bad, sizeof ms.first_bad, "no answer");
		}
	} else if (ms.t_event) {
		ms.deliver[ms.ndeliver++] = ms.t_event - ms.t0;
	} else {
		ms.lost++;
	}
	if (ms.close_after || !ms.t_resp)
		pub_close();
	pub.rlen = 0;
	ms.in_flight = false;
	ms.done++;
	ms.next_at = now_ns() + (uint64_t)ms.gap_ms * 1000000ull;
	if (ms.done == ms.total)
		measure_report();
}

/* is the answer in pub.resp complete? sets ms.status, ms.close_after */
static bool pub_answer_complete(bool eof)
{
	char *end = memmem(pub.resp, pub.rlen, "\r\n\r\n", 4);
	if (!end)
		return false;
	ms.status = status_of(pub.resp, pub.rlen);
	const char *conn = header_in(pub.resp, end, "Connection");
	ms.close_after = conn && strncasecmp(conn, "close", 5) == 0;
	size_t head = (size_t)(end - pub.resp) + 4, body = pub.rlen - head;
	if (ms.status == 204 || ms.status == 304 || (ms.status >= 100 && ms.status < 200))
		return true;
	const char *cl = header_in(pub.resp, end, "Content-Length");
	if (cl)
		return body >= strtoul(cl, NULL, 10);
	const char *te = header_in(pub.resp, end, "Transfer-Encoding");
	if (te && strncasecmp(te, "chunked", 7) == 0)
		return (body >= 5 && memcmp(pub.resp + pub.rlen - 5, "0\r\n\r\n", 5) == 0 &&
		        (body == 5 || pub.resp[pub.rlen - 6] == '\n'));
	ms.close_after = true;
	return eof;
}

static void on_pub_event(void)
{
	for (;;) {
		if (pub.rlen >= sizeof pub.resp - 1)
			pub.rlen = sizeof pub.resp / 2; /* a long answer: keep reading, status already known */
		ssize_t r = read(pub.fd, pub.resp + pub.rlen, sizeof pub.resp - 1 - pub.rlen);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r > 0) {
			pub.rlen += (size_t)r;
			pub.resp[pub.rlen] = '\0';
			if (ms.in_flight && !ms.t_resp && pub_answer_complete(false))
				ms.t_resp = now_ns();
			continue;
		}
		/* EOF or error */
		if (ms.in_flight && !ms.t_resp && pub_answer_complete(true))
			ms.t_resp = now_ns();
		if (ms.in_flight && !ms.t_resp)
			measure_finish_one(false); /* closes it */
		else
			pub_close();
		return;
	}
}

static void measure_start(unsigned total, unsigned gap, unsigned long long seed)
{
	if (ms.active) {
		printf("{\"event\":\"error\",\"message\":\"a measurement is running\"}\n");
		fflush(stdout);
		return;
	}
	if (!ntimed || open_timed < ntimed) {
		printf("{\"event\":\"error\",\"message\":\"open every stream first (%u of %u open)\"}\n", open_timed,
		       ntimed);
		fflush(stdout);
		return;
	}
	free(ms.deliver);
	free(ms.ack);
	memset(&ms, 0, sizeof ms);
	ms.total = total;
	ms.gap_ms = gap;
	ms.rng = seed ? seed : 88172645463325252ull;
	ms.deliver = xmalloc((total + 1) * sizeof *ms.deliver);
	ms.ack = xmalloc((total + 1) * sizeof *ms.ack);
	ms.active = true;
	ms.next_at = now_ns();
	if (!total)
		measure_report();
}

static void measure_tick(void)
{
	if (!ms.active)
		return;
	uint64_t now = now_ns();
	if (ms.in_flight) {
		if (ms.t_event && ms.t_resp)
			measure_finish_one(false);
		else if (ms.t_resp && ms.status / 100 != 2)
			measure_finish_one(false); /* refused: no event will come */
		else if (now - ms.t0 > (uint64_t)opt.timeout_ms * 1000000ull)
			measure_finish_one(true);
		return;
	}
	if (now >= ms.next_at)
		measure_send();
}

static int wait_ms(void)
{
	if (!ms.active)
		return 1000;
	if (ms.in_flight)
		return 5;
	uint64_t now = now_ns();
	return ms.next_at <= now ? 0 : (int)((ms.next_at - now) / 1000000ull) + 1;
}

/* ---------- stdin ---------- */

static void print_status(void)
{
	unsigned long long events = 0, messages = 0;
	for (unsigned i = 0; i < nstreams; i++)
		if (!streams[i].extra) {
			events += streams[i].events;
			messages += streams[i].messages;
		}
	printf("{\"event\":\"status\",\"extra\":%u,\"extra_open\":%u,\"streams\":%u,\"streams_open\":%u,"
	       "\"closed_by_server\":%u,\"events\":%llu,\"messages\":%llu,\"body_bytes\":%llu}\n",
	       nextra, open_extra, ntimed, open_timed, closed_by_server, events, messages, body_bytes);
	fflush(stdout);
}

static void on_command(char *line)
{
	unsigned m, gap;
	unsigned long long seed;
	if (strcmp(line, "open") == 0) {
		if (!opening_timed) {
			opening_timed = true;
			t_open_start = now_ns();
		}
		announce();
	} else if (sscanf(line, "measure %u %u %llu", &m, &gap, &seed) == 3) {
		measure_start(m, gap, seed);
	} else if (strcmp(line, "status") == 0) {
		print_status();
	} else if (strcmp(line, "quit") == 0) {
		stop_flag = 1;
	} else if (*line) {
		printf("{\"event\":\"error\",\"message\":\"unknown command\"}\n");
		fflush(stdout);
	}
}

static void on_stdin(void)
{
	static char buf[MAX_PENDING];
	static size_t len;
	ssize_t r = read(0, buf + len, sizeof buf - 1 - len);
	if (r <= 0) {
		stop_flag = 1;
		return;
	}
	len += (size_t)r;
	char *nl;
	while ((nl = memchr(buf, '\n', len))) {
		*nl = '\0';
		on_command(buf);
		size_t used = (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, len - used);
		len -= used;
	}
	if (len == sizeof buf - 1)
		len = 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_chat_streams --server 127.0.0.1:PORT --streams FILE [--net A] [--per-ip K]\n"
	                "                          [--parallel P] [--timeout-ms T]\n"
	                "  --net A        streams come from 127.A.x.y (default 6)\n"
	                "  --per-ip K     streams per source address (default 100)\n"
	                "  --parallel P   connections being opened at once (default 100)\n"
	                "  --timeout-ms T a message not seen on its stream after T ms is lost (default 10000)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {{"server", required_argument, NULL, 's'},
	                                      {"streams", required_argument, NULL, 'f'},
	                                      {"net", required_argument, NULL, 'n'},
	                                      {"per-ip", required_argument, NULL, 'k'},
	                                      {"parallel", required_argument, NULL, 'c'},
	                                      {"timeout-ms", required_argument, NULL, 't'},
	                                      {NULL, 0, NULL, 0}};
	const char *server = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 's':
			server = optarg;
			break;
		case 'f':
			opt.streams_path = optarg;
			break;
		case 'n':
			opt.net = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			opt.per_ip = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			opt.parallel = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			opt.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!server || !opt.streams_path || !opt.net || opt.net > 255 || !opt.per_ip || !opt.parallel)
		usage();
	const char *colon = strrchr(server, ':');
	if (!colon)
		usage();
	char host[48];
	snprintf(host, sizeof host, "%.*s", (int)(colon - server), server);
	opt.dst.sin_family = AF_INET;
	opt.dst.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &opt.dst.sin_addr) != 1 || (ntohl(opt.dst.sin_addr.s_addr) >> 24) != 127)
		die("--server wants a loopback IPv4 address and a port, not %s", server);
	snprintf(opt.host, sizeof opt.host, "%s", server);

	load_streams(opt.streams_path);
	raise_nofile(nstreams + 64);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct epoll_event sev = {.events = EPOLLIN, .data.u64 = TAG_STDIN};
	bool have_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) == 0;

	t_open_start = now_ns();
	static struct epoll_event evs[512];
	while (!stop_flag) {
		open_more();
		announce();
		int k = epoll_wait(ep, evs, 512, wait_ms());
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int e = 0; e < k; e++) {
			uint64_t tag = evs[e].data.u64;
			if (tag == TAG_STDIN && have_stdin)
				on_stdin();
			else if (tag == TAG_PUB)
				on_pub_event();
			else if (tag < nstreams)
				on_stream_event((unsigned)tag, evs[e].events);
		}
		measure_tick();
	}
	print_status();
	for (unsigned i = 0; i < nstreams; i++)
		if (streams[i].fd >= 0)
			close_stream(&streams[i], false);
	pub_close();
	return 0;
}
