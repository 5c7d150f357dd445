/*
 * libFuzzer target: the end-to-end tunnel's handshake and frame reader
 * (src/common/e2e.c) of both roles, fed arbitrary bytes as if they came
 * from the peer through a hostile relay. The first byte picks the role
 * (bit 0: 0 host, 1 guest) and the size of the fragments the rest arrives
 * in (bits 1-7). Keys and ephemerals are the fixed ones of
 * tests/vectors/e2e.json, so the seed corpus can hold a valid handshake
 * and frames for the fuzzer to mutate. Beyond not crashing, it aborts when
 * a side completes the handshake or opens a frame without the one
 * authentic handshake: only the reference guest's msg1 and msg3 can
 * establish the host, only the host's own msg2 the guest.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/e2e.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SID    "k7d2m4x9q3r5t8vw"
#define TICKET "vt_example.ticket.for-the-vectors"

static uint8_t host_pk[E2E_HOST_PK], host_sk[E2E_HOST_SK], ticket_hash[E2E_TICKET_HASH];
static uint8_t guest_eph[E2E_EPHEMERAL_SK], host_eph[E2E_EPHEMERAL_SK], session_secret[E2E_SESSION_SECRET];
static uint8_t ref_msg1[E2E_HANDSHAKE_OUT], ref_msg2[E2E_HANDSHAKE_OUT], ref_msg3[E2E_HANDSHAKE_OUT];

/* The authentic handshake between the fixed keys, once. */
static void setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	if (sodium_init() < 0)
		abort();
	uint8_t seed[32];
	for (int i = 0; i < 32; i++) {
		seed[i] = (uint8_t)i;
		guest_eph[i] = (uint8_t)(0x20 + i);
		host_eph[i] = (uint8_t)(0x40 + i);
		session_secret[i] = (uint8_t)(0x60 + i);
	}
	crypto_sign_seed_keypair(host_pk, host_sk, seed);
	e2e_ticket_hash(TICKET, strlen(TICKET), ticket_hash);
	static struct e2e g, h;
	uint8_t sink[E2E_HANDSHAKE_OUT];
	size_t used, n;
	if (e2e_init_with_ephemeral_for_tests(&g, E2E_GUEST, SID, ticket_hash, session_secret, host_pk, guest_eph) ||
	    e2e_init_with_ephemeral_for_tests(&h, E2E_HOST, SID, ticket_hash, session_secret, host_sk, host_eph) ||
	    e2e_handshake(&g, NULL, 0, &used, ref_msg1, sizeof ref_msg1, &n) ||
	    e2e_handshake(&h, ref_msg1, E2E_MSG1_LEN, &used, ref_msg2, sizeof ref_msg2, &n) ||
	    e2e_handshake(&g, ref_msg2, E2E_MSG2_LEN, &used, ref_msg3, sizeof ref_msg3, &n) ||
	    e2e_handshake(&h, ref_msg3, E2E_MSG3_LEN, &used, sink, sizeof sink, &n) || !e2e_established(&h))
		abort();
	e2e_wipe(&g);
	e2e_wipe(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	bool guest = data[0] & 1;
	size_t chunk = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;

	static struct e2e e;
	if (guest)
		e2e_init_with_ephemeral_for_tests(&e, E2E_GUEST, SID, ticket_hash, session_secret, host_pk, guest_eph);
	else
		e2e_init_with_ephemeral_for_tests(&e, E2E_HOST, SID, ticket_hash, session_secret, host_sk, host_eph);
	static uint8_t out[E2E_MAX_PLAINTEXT];
	size_t used, n;
	if (guest && e2e_handshake(&e, NULL, 0, &used, out, sizeof out, &n) != E2E_OK)
		abort();

	size_t off = 0, handshake_bytes = 0;
	int rc = E2E_OK;
	while (off < size && rc == E2E_OK) {
		size_t len = size - off < chunk ? size - off : chunk;
		bool frame_done = false;
		if (!e2e_established(&e)) {
			rc = e2e_handshake(&e, data + off, len, &used, out, sizeof out, &n);
			handshake_bytes += used;
			if (rc == E2E_OK && used == 0)
				abort(); /* no progress with input pending */
		} else {
			rc = e2e_open(&e, data + off, len, &used, out, sizeof out, &n, &frame_done);
			if (rc == E2E_OK && used == 0 && !e2e_peer_finished(&e))
				abort();
			if (frame_done && (!e2e_established(&e) || n > E2E_MAX_PLAINTEXT))
				abort();
		}
		if (rc != E2E_OK && e2e_established(&e))
			abort(); /* a failure ends the session */
		off += used;
		if (e2e_established(&e)) {
			/* established only by the authentic handshake */
			const uint8_t *in = data;
			bool authentic =
			    guest ? handshake_bytes == E2E_MSG2_LEN && memcmp(in, ref_msg2, E2E_MSG2_LEN) == 0
			          : handshake_bytes == E2E_MSG1_LEN + E2E_MSG3_LEN &&
			                memcmp(in, ref_msg1, E2E_MSG1_LEN) == 0 &&
			                memcmp(in + E2E_MSG1_LEN, ref_msg3, E2E_MSG3_LEN) == 0;
			if (!authentic)
				abort();
		}
		if (used == 0)
			break; /* after the final frame: nothing more is read */
	}
	if (rc == E2E_OK)
		(void)e2e_end_of_input(&e);
	e2e_wipe(&e);
	return 0;
}
