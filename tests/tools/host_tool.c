/*
 * Test-only helper: plays the host of a remote-control session the way
 * vitrine-player does, without the player: an Ed25519 key from a given
 * seed (the key the test registered at pairing), a connection to the relay
 * with the host ticket (TCP, then the WebSocket fallback), the end-to-end
 * handshake as host, then the decrypted stream bridged to a local TCP port
 * (an echo server, a fake or a real VNC server). Used by
 * tests/integration/test_cli_remote.py and by the relay benchmark.
 *
 *   host_tool --seed HEX64 --instruction FILE --target HOST:PORT
 *             [--relay-ca FILE] [--pair-timeout S]
 *     FILE: the `remote_session` instruction payload as JSON (session_id,
 *     relay {host, port, ws_url}, ticket, guest_ticket_hash,
 *     session_secret); "-" reads it from stdin.
 *   The same fields one by one instead of --instruction:
 *     --session-id SID --relay HOST:PORT [--ws-url URL] --ticket T
 *     --guest-ticket-hash HEX64 --session-secret BASE64
 *
 * Prints "host_tool: paired (tcp|ws|wss)", "host_tool: established",
 * "host_tool: ended" (exit 0) or "host_tool: failed CODE: SENTENCE" (exit 1);
 * exit 2 on bad use.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/dial.h"
#include "common/tunnel.h"

struct opts {
	const char *seed, *instruction, *target, *ca, *sid, *relay, *ws_url, *ticket, *gth, *secret;
	unsigned pair_timeout_s;
};

static int usage(const char *why)
{
	fprintf(stderr,
	        "host_tool: %s\nusage: host_tool --seed HEX64 (--instruction FILE | --session-id SID --relay HOST:PORT "
	        "[--ws-url URL] --ticket T --guest-ticket-hash HEX64 --session-secret B64) --target HOST:PORT "
	        "[--relay-ca FILE] [--pair-timeout S]\n",
	        why);
	return 2;
}

static int split_hostport(const char *s, char *host, size_t hostsz, unsigned *port)
{
	const char *c = strrchr(s, ':');
	if (!c || c == s || (size_t)(c - s) >= hostsz)
		return -1;
	char *end;
	unsigned long p = strtoul(c + 1, &end, 10);
	if (*end || p == 0 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	*port = (unsigned)p;
	return 0;
}

static void failed(const char *code, const char *sentence)
{
	printf("host_tool: failed %s: %s\n", code, sentence);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	/* A peer that has gone is an error from write(), not a death by signal. */
	signal(SIGPIPE, SIG_IGN);
	struct opts o = {.pair_timeout_s = 35};
	for (int i = 1; i < argc; i++) {
		const char **slot = NULL;
		if (strcmp(argv[i], "--seed") == 0)
			slot = &o.seed;
		else if (strcmp(argv[i], "--instruction") == 0)
			slot = &o.instruction;
		else if (strcmp(argv[i], "--target") == 0)
			slot = &o.target;
		else if (strcmp(argv[i], "--relay-ca") == 0)
			slot = &o.ca;
		else if (strcmp(argv[i], "--session-id") == 0)
			slot = &o.sid;
		else if (strcmp(argv[i], "--relay") == 0)
			slot = &o.relay;
		else if (strcmp(argv[i], "--ws-url") == 0)
			slot = &o.ws_url;
		else if (strcmp(argv[i], "--ticket") == 0)
			slot = &o.ticket;
		else if (strcmp(argv[i], "--guest-ticket-hash") == 0)
			slot = &o.gth;
		else if (strcmp(argv[i], "--session-secret") == 0)
			slot = &o.secret;
		else if (strcmp(argv[i], "--pair-timeout") == 0 && i + 1 < argc) {
			o.pair_timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
			continue;
		}
		if (!slot || i + 1 >= argc)
			return usage("unknown option or missing value");
		*slot = argv[++i];
	}
	struct relay_target rt = {0};
	json_t *ins = NULL;
	if (o.instruction) {
		json_error_t jerr;
		ins = strcmp(o.instruction, "-") == 0 ? json_loadf(stdin, 0, &jerr)
		                                      : json_load_file(o.instruction, 0, &jerr);
		if (!json_is_object(ins))
			return usage("the instruction is not a JSON object");
		json_t *r = json_object_get(ins, "relay");
		o.sid = json_string_value(json_object_get(ins, "session_id"));
		o.ticket = json_string_value(json_object_get(ins, "ticket"));
		o.gth = json_string_value(json_object_get(ins, "guest_ticket_hash"));
		o.secret = json_string_value(json_object_get(ins, "session_secret"));
		const char *h = json_string_value(json_object_get(r, "host"));
		const char *w = json_string_value(json_object_get(r, "ws_url"));
		snprintf(rt.host, sizeof rt.host, "%s", h ? h : "");
		rt.port = (unsigned)json_integer_value(json_object_get(r, "port"));
		snprintf(rt.ws_url, sizeof rt.ws_url, "%s", w ? w : "");
	} else {
		if (!o.relay || split_hostport(o.relay, rt.host, sizeof rt.host, &rt.port) < 0)
			return usage("--relay HOST:PORT is needed");
		snprintf(rt.ws_url, sizeof rt.ws_url, "%s", o.ws_url ? o.ws_url : "");
	}
	uint8_t seed[crypto_sign_SEEDBYTES], pk[E2E_HOST_PK], sk[E2E_HOST_SK], gth[32], secret[32];
	size_t bl = 0;
	char thost[256];
	unsigned tport;
	if (!o.seed || sodium_hex2bin(seed, sizeof seed, o.seed, strlen(o.seed), NULL, &bl, NULL) != 0 ||
	    bl != sizeof seed)
		return usage("--seed: 64 hex digits");
	if (!o.gth || sodium_hex2bin(gth, sizeof gth, o.gth, strlen(o.gth), NULL, &bl, NULL) != 0 || bl != 32)
		return usage("guest_ticket_hash: 64 hex digits");
	if (!o.secret ||
	    sodium_base642bin(secret, sizeof secret, o.secret, strlen(o.secret), NULL, &bl, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bl != 32)
		return usage("session_secret: base64 of 32 bytes");
	if (!o.sid || !o.ticket)
		return usage("session id and ticket are needed");
	if (!o.target || split_hostport(o.target, thost, sizeof thost, &tport) < 0)
		return usage("--target HOST:PORT is needed");
	crypto_sign_seed_keypair(pk, sk, seed);
	const char *ca = o.ca ? o.ca : getenv("VITRINE_RELAY_CA");

	struct relay_conn *rc = NULL;
	char code[TUNNEL_CODE_MAX], err[600];
	if (relay_connect(&rt, o.ticket, o.pair_timeout_s * 1000, ca, &rc, code, sizeof code, err, sizeof err) < 0) {
		failed(code, err);
		json_decref(ins);
		return 1;
	}
	printf("host_tool: paired %s\n", relay_transport_name(relay_conn_transport(rc)));
	fflush(stdout);
	struct tunnel *t = NULL;
	if (tunnel_open(&t, rc, E2E_HOST, o.sid, gth, secret, sk, 10000, code) < 0) {
		failed(code, "the end-to-end handshake failed");
		json_decref(ins);
		return 1;
	}
	sodium_memzero(sk, sizeof sk);
	printf("host_tool: established\n");
	fflush(stdout);
	int fd = dial_tcp(thost, tport, 3000, err, sizeof err);
	if (fd < 0) {
		tunnel_close(t);
		failed("target_unreachable", err);
		json_decref(ins);
		return 1;
	}
	struct tunnel_stats st;
	int r = tunnel_pump(t, fd, -1, &st);
	close(fd);
	if (r == 0)
		printf("host_tool: ended sent=%llu received=%llu\n", (unsigned long long)st.sent,
		       (unsigned long long)st.received);
	else
		failed(tunnel_code(t), "the session failed");
	fflush(stdout);
	tunnel_close(t);
	json_decref(ins);
	return r == 0 ? 0 : 1;
}
