/* See common.h. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

int parse_hostport(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

void source_address(unsigned net, unsigned k, struct sockaddr_in *out)
{
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	uint32_t a = (127u << 24) | ((net & 255u) << 16) | (((k / 254u) & 255u) << 8) | (k % 254u + 1u);
	out->sin_addr.s_addr = htonl(a);
}

int connect_from(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* the port is picked at connect() for the whole 4-tuple, not at bind() */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	if ((src && bind(fd, (const struct sockaddr *)src, sizeof *src) != 0) ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof *dst) != 0 && errno != EINPROGRESS)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

long raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

int buf_reserve(struct buf *b, size_t more, size_t max)
{
	if (b->len + more <= b->cap)
		return 0;
	if (b->len + more > max)
		return -1;
	size_t cap = b->cap ? b->cap : 512;
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

int buf_append(struct buf *b, const void *p, size_t n, size_t max)
{
	if (buf_reserve(b, n, max) != 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t percentile(const uint64_t *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void print_latency_json(FILE *f, const char *name, uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)ns[i];
	double ms = (double)NS_PER_MS;
	fprintf(f,
	        "\"%s\":{\"n\":%zu,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	        "\"mean_ms\":%.3f}",
	        name, n, n ? (double)ns[0] / ms : 0.0, (double)percentile(ns, n, 0.50) / ms,
	        (double)percentile(ns, n, 0.90) / ms, (double)percentile(ns, n, 0.99) / ms,
	        n ? (double)ns[n - 1] / ms : 0.0, n ? sum / (double)n / ms : 0.0);
}

const char *stdin_line(bool *eof)
{
	static char line[4096];
	static size_t len, consumed;
	if (consumed) { /* drop the line returned last time */
		memmove(line, line + consumed, len - consumed);
		len -= consumed;
		consumed = 0;
	}
	for (;;) {
		char *nl = memchr(line, '\n', len);
		if (nl) {
			*nl = '\0';
			consumed = (size_t)(nl - line) + 1;
			return line;
		}
		if (len == sizeof line - 1) /* an over-long line: drop it */
			len = 0;
		ssize_t n = read(0, line + len, sizeof line - 1 - len);
		if (n == 0) {
			*eof = true;
			return NULL;
		}
		if (n < 0)
			return NULL; /* EAGAIN: nothing more now */
		len += (size_t)n;
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void rand_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t rand64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}
