/*
 * Helpers shared by the device-fleet load generators (loadgen.c for
 * vitrine-server, mqtt_peer.c for mosquitto): the monotonic clock, source
 * addresses spread over 127.NET.0.0/16, non-blocking connects bound to such
 * an address, a capped byte buffer, percentiles and the stdin command line.
 * Only libc; Linux (epoll, IP_BIND_ADDRESS_NO_PORT).
 */
#ifndef BENCH_DEVICES_COMMON_H
#define BENCH_DEVICES_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

uint64_t now_ns(void);

/* "HOST:PORT" (IPv4 literal) -> address; 0 or -1. */
int parse_hostport(const char *s, struct sockaddr_in *out);

/* The k-th source address of the network 127.NET.0.0/16: 127.NET.(k/254).(k%254+1),
 * so no address ends in .0 or .255. */
void source_address(unsigned net, unsigned k, struct sockaddr_in *out);

/* Non-blocking TCP socket bound to src (port chosen at connect), connecting
 * to dst, TCP_NODELAY. Returns the fd (connect may be in progress) or -1. */
int connect_from(const struct sockaddr_in *src, const struct sockaddr_in *dst);

/* Raises RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
long raise_fd_limit(void);

/* A growable byte buffer with a hard cap. */
struct buf {
	char *data;
	size_t len, cap;
};
int buf_reserve(struct buf *b, size_t more, size_t max);
int buf_append(struct buf *b, const void *p, size_t n, size_t max);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/* Nearest-rank percentile (q in 0..1) of n sorted values. */
uint64_t percentile(const uint64_t *sorted, size_t n, double q);

/* Prints `"name":{"n":..,"p50_ms":..,"p90_ms":..,"p99_ms":..,"max_ms":..,"mean_ms":..}`
 * for n durations in nanoseconds (sorts them in place). */
void print_latency_json(FILE *f, const char *name, uint64_t *ns, size_t n);

/* Reads what stdin has (non-blocking) and returns one complete line at a
 * time (without the newline), NULL when there is none; *eof set at EOF. */
const char *stdin_line(bool *eof);

/* xorshift64*: a reproducible pseudo-random sequence (not for secrets). */
uint64_t rand64(void);
void rand_seed(uint64_t seed);

#endif
