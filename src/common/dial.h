/*
 * Outgoing TCP connections with a time limit, shared by the relay client
 * and the WebSocket client: every address getaddrinfo gives (IPv4 and
 * IPv6), a non-blocking connect each, one deadline for all.
 */
#ifndef VITRINE_DIAL_H
#define VITRINE_DIAL_H

#include <stddef.h>

/* A connected, non-blocking, close-on-exec TCP socket (TCP_NODELAY) to
 * host:port within timeout_ms, or -1 with err set to a sentence. */
int dial_tcp(const char *host, unsigned port, unsigned timeout_ms, char *err, size_t errsz);

#endif
