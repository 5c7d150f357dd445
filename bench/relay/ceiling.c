/*
 * bench_e2e_ceiling: what one core can push through the end-to-end layer
 * (src/common/e2e.c) when encryption is all it does: a guest and a host
 * in this process, a handshake, then full frames (E2E_MAX_PLAINTEXT bytes
 * of payload each) sealed by one side and opened by the other, timed
 * apart. A relayed session needs one seal and one open per frame, on two
 * different machines (or processes), so its ceiling on one core is the
 * slower of the two rates; bench/relay/run compares the relayed
 * throughput with it.
 *
 *   bench_e2e_ceiling [MIB]   (default 512)
 * prints one JSON object: {"mib", "seal_mib_s", "open_mib_s", "ceiling_mib_s"}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/e2e.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_e2e_ceiling: %s: %s\n", what, e2e_status_code(rc));
	exit(1);
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 512;
	if (mib <= 0 || mib > 1 << 20 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_e2e_ceiling [MIB]\n");
		return 2;
	}
	uint8_t pk[E2E_HOST_PK], sk[E2E_HOST_SK], th[E2E_TICKET_HASH], secret[E2E_SESSION_SECRET];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(th, sizeof th);
	randombytes_buf(secret, sizeof secret);
	struct e2e *g = malloc(sizeof *g), *h = malloc(sizeof *h);
	if (!g || !h)
		return 1;
	int rc;
	if ((rc = e2e_init(g, E2E_GUEST, "bench", th, secret, pk)) ||
	    (rc = e2e_init(h, E2E_HOST, "bench", th, secret, sk)))
		die("init", rc);
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT], none[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, l, used;
	if ((rc = e2e_handshake(g, NULL, 0, &used, m1, sizeof m1, &l1)) ||
	    (rc = e2e_handshake(h, m1, l1, &used, m2, sizeof m2, &l2)) ||
	    (rc = e2e_handshake(g, m2, l2, &used, m3, sizeof m3, &l3)) ||
	    (rc = e2e_handshake(h, m3, l3, &used, none, sizeof none, &l)))
		die("handshake", rc);

	size_t frames = (size_t)mib * (1u << 20) / E2E_MAX_PLAINTEXT;
	/* sealed frames are kept to be opened afterwards: 64 at a time, the
	 * way a socket buffer would hold them */
	enum { BATCH = 64 };
	uint8_t *payload = malloc(E2E_MAX_PLAINTEXT), *sealed = malloc((size_t)BATCH * E2E_MAX_FRAME),
	        *opened = malloc(E2E_MAX_PLAINTEXT);
	if (!payload || !sealed || !opened)
		return 1;
	randombytes_buf(payload, E2E_MAX_PLAINTEXT);
	double seal_s = 0, open_s = 0;
	for (size_t done = 0; done < frames; done += BATCH) {
		size_t n = frames - done < BATCH ? frames - done : BATCH, off = 0;
		double t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			size_t fl;
			if ((rc = e2e_seal(g, payload, E2E_MAX_PLAINTEXT, false, sealed + off, E2E_MAX_FRAME, &fl)))
				die("seal", rc);
			off += fl;
		}
		double t1 = now_s();
		for (size_t pos = 0; pos < off;) {
			size_t used_in, out_len;
			bool done_frame;
			if ((rc = e2e_open(h, sealed + pos, off - pos, &used_in, opened, E2E_MAX_PLAINTEXT, &out_len,
			                   &done_frame)))
				die("open", rc);
			pos += used_in;
		}
		double t2 = now_s();
		seal_s += t1 - t0;
		open_s += t2 - t1;
	}
	double total_mib = (double)frames * E2E_MAX_PLAINTEXT / (1 << 20);
	double seal_rate = total_mib / seal_s, open_rate = total_mib / open_s;
	printf("{\"mib\": %.1f, \"seal_mib_s\": %.1f, \"open_mib_s\": %.1f, \"ceiling_mib_s\": %.1f}\n", total_mib,
	       seal_rate, open_rate, seal_rate < open_rate ? seal_rate : open_rate);
	e2e_wipe(g);
	e2e_wipe(h);
	free(g);
	free(h);
	free(payload);
	free(sealed);
	free(opened);
	return 0;
}
