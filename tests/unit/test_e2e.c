/*
 * Unit tests of src/common/e2e.c, the end-to-end tunnel: a full handshake
 * and data both ways (also fed one byte at a time), a wrong host key, a
 * transcript of another session or ticket, a flipped byte anywhere in a
 * handshake message or frame, replayed and reordered frames, rekeying over
 * many frames, the final frame and a truncated stream, and the fixed test
 * vectors of tests/vectors/e2e.json that a browser implementation must
 * reproduce too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/e2e.h"

#define SID    "k7d2m4x9q3r5t8vw"
#define TICKET "vt_example.ticket.for-the-vectors"

static const uint8_t SECRET[E2E_SESSION_SECRET] = "the server's secret of 32 bytes";

struct pair {
	struct e2e guest, host;
	uint8_t host_pk[E2E_HOST_PK], host_sk[E2E_HOST_SK];
	uint8_t ticket_hash[E2E_TICKET_HASH];
};

static struct pair *new_pair(void)
{
	struct pair *p = calloc(1, sizeof *p);
	assert_non_null(p);
	crypto_sign_keypair(p->host_pk, p->host_sk);
	e2e_ticket_hash(TICKET, strlen(TICKET), p->ticket_hash);
	assert_int_equal(e2e_init(&p->guest, E2E_GUEST, SID, p->ticket_hash, SECRET, p->host_pk), E2E_OK);
	assert_int_equal(e2e_init(&p->host, E2E_HOST, SID, p->ticket_hash, SECRET, p->host_sk), E2E_OK);
	return p;
}

static void free_pair(struct pair *p)
{
	e2e_wipe(&p->guest);
	e2e_wipe(&p->host);
	free(p);
}

/* Feeds len bytes of a handshake message to e, chunk bytes at a time;
 * returns the status of the last call and what e produced. */
static int feed_handshake(struct e2e *e, const uint8_t *in, size_t len, size_t chunk, uint8_t *out, size_t *out_len)
{
	*out_len = 0;
	size_t off = 0;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, used = 0, produced = 0;
		int rc = e2e_handshake(e, in + off, n, &used, out, E2E_HANDSHAKE_OUT, &produced);
		if (rc != E2E_OK)
			return rc;
		assert_true(used <= n);
		off += used;
		if (produced) {
			*out_len = produced;
			assert_int_equal(off, len); /* a reply comes only with the message's last byte */
		}
		if (used == 0)
			break;
	}
	assert_int_equal(off, len);
	return E2E_OK;
}

/* Runs the three messages between the pair, chunk bytes at a time. */
static void handshake(struct pair *p, size_t chunk)
{
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT], none[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, l4, used;
	assert_int_equal(e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1), E2E_OK);
	assert_int_equal(l1, E2E_MSG1_LEN);
	assert_int_equal(feed_handshake(&p->host, m1, l1, chunk, m2, &l2), E2E_OK);
	assert_int_equal(l2, E2E_MSG2_LEN);
	assert_false(e2e_established(&p->guest));
	assert_int_equal(feed_handshake(&p->guest, m2, l2, chunk, m3, &l3), E2E_OK);
	assert_int_equal(l3, E2E_MSG3_LEN);
	assert_true(e2e_established(&p->guest));
	assert_false(e2e_established(&p->host)); /* the host sends nothing before the guest's confirmation */
	assert_int_equal(feed_handshake(&p->host, m3, l3, chunk, none, &l4), E2E_OK);
	assert_int_equal(l4, 0);
	assert_true(e2e_established(&p->host));
}

static size_t seal(struct e2e *e, const char *text, bool final, uint8_t *out)
{
	size_t n = 0;
	assert_int_equal(e2e_seal(e, (const uint8_t *)text, strlen(text), final, out, E2E_MAX_FRAME, &n), E2E_OK);
	assert_int_equal(n, strlen(text) + E2E_FRAME_OVERHEAD);
	return n;
}

/* Opens everything in in, chunk bytes at a time, appending payloads to got. */
static int open_all(struct e2e *e, const uint8_t *in, size_t len, size_t chunk, uint8_t *got, size_t *got_len,
                    size_t *frames)
{
	static uint8_t out[E2E_MAX_PLAINTEXT];
	size_t off = 0;
	*got_len = 0;
	*frames = 0;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t sub = 0;
		while (sub < n) {
			size_t used = 0, olen = 0;
			bool done = false;
			int rc = e2e_open(e, in + off + sub, n - sub, &used, out, sizeof out, &olen, &done);
			if (rc != E2E_OK)
				return rc;
			assert_true(used > 0);
			sub += used;
			if (done) {
				memcpy(got + *got_len, out, olen);
				*got_len += olen;
				(*frames)++;
			}
		}
		off += n;
	}
	return E2E_OK;
}

static void expect_text(struct e2e *e, const uint8_t *frame, size_t len, const char *want)
{
	uint8_t got[E2E_MAX_PLAINTEXT];
	size_t glen, frames;
	assert_int_equal(open_all(e, frame, len, len, got, &glen, &frames), E2E_OK);
	assert_int_equal(frames, 1);
	assert_int_equal(glen, strlen(want));
	assert_memory_equal(got, want, glen);
}

static void test_handshake_and_data_both_ways(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	uint8_t f[E2E_MAX_FRAME];
	size_t n = seal(&p->guest, "key press: a", false, f);
	expect_text(&p->host, f, n, "key press: a");
	n = seal(&p->host, "framebuffer update", false, f);
	expect_text(&p->guest, f, n, "framebuffer update");
	/* an empty frame is a frame */
	assert_int_equal(e2e_seal(&p->guest, NULL, 0, false, f, sizeof f, &n), E2E_OK);
	expect_text(&p->host, f, n, "");
	free_pair(p);
}

static void test_byte_at_a_time(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	handshake(p, 1);
	static uint8_t stream[8 * E2E_MAX_FRAME], got[8 * E2E_MAX_FRAME];
	size_t len = 0;
	const char *texts[] = {"one", "", "three three", "four"};
	for (size_t i = 0; i < 4; i++)
		len += seal(&p->host, texts[i], i == 3, stream + len);
	size_t glen, frames;
	assert_int_equal(open_all(&p->guest, stream, len, 1, got, &glen, &frames), E2E_OK);
	assert_int_equal(frames, 4);
	assert_int_equal(glen, strlen("onethree threefour"));
	assert_memory_equal(got, "onethree threefour", glen);
	assert_true(e2e_peer_finished(&p->guest));
	assert_int_equal(e2e_end_of_input(&p->guest), E2E_OK);
	free_pair(p);
}

/* The guest pipelines msg3 and its first frame in one write. */
static void test_frames_right_after_msg3(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], buf[E2E_HANDSHAKE_OUT + E2E_MAX_FRAME],
	    none[1 + E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, used, produced;
	assert_int_equal(e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1), E2E_OK);
	assert_int_equal(e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	assert_int_equal(e2e_handshake(&p->guest, m2, l2, &used, buf, E2E_HANDSHAKE_OUT, &l3), E2E_OK);
	size_t total = l3 + seal(&p->guest, "early", false, buf + l3);
	assert_int_equal(e2e_handshake(&p->host, buf, total, &used, none, sizeof none, &produced), E2E_OK);
	assert_int_equal(used, E2E_MSG3_LEN);
	assert_true(e2e_established(&p->host));
	expect_text(&p->host, buf + used, total - used, "early");
	free_pair(p);
}

static void test_wrong_host_key(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	uint8_t other_pk[E2E_HOST_PK], other_sk[E2E_HOST_SK];
	crypto_sign_keypair(other_pk, other_sk);
	assert_int_equal(e2e_init(&p->guest, E2E_GUEST, SID, p->ticket_hash, SECRET, other_pk), E2E_OK);
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, used;
	e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1);
	assert_int_equal(e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	int rc = e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3);
	assert_int_equal(rc, E2E_HOST_KEY_MISMATCH);
	assert_string_equal(e2e_status_code(rc), "host_key_mismatch");
	assert_int_equal(l3, 0);
	assert_false(e2e_established(&p->guest));
	/* sticky: the session is over, nothing can be sealed */
	uint8_t f[E2E_MAX_FRAME];
	size_t n;
	assert_int_equal(e2e_seal(&p->guest, (const uint8_t *)"x", 1, false, f, sizeof f, &n), E2E_HOST_KEY_MISMATCH);
	assert_int_equal(e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3), E2E_HOST_KEY_MISMATCH);

	/* a relay that puts the expected key in msg2 but signs with its own */
	struct e2e guest2, fake_host;
	assert_int_equal(e2e_init(&guest2, E2E_GUEST, SID, p->ticket_hash, SECRET, p->host_pk), E2E_OK);
	assert_int_equal(e2e_init(&fake_host, E2E_HOST, SID, p->ticket_hash, SECRET, other_sk), E2E_OK);
	e2e_handshake(&guest2, NULL, 0, &used, m1, sizeof m1, &l1);
	assert_int_equal(e2e_handshake(&fake_host, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	memcpy(m2 + 6 + 32, p->host_pk, E2E_HOST_PK);
	assert_int_equal(e2e_handshake(&guest2, m2, l2, &used, m3, sizeof m3, &l3), E2E_HANDSHAKE_INVALID);
	e2e_wipe(&guest2);
	e2e_wipe(&fake_host);
	free_pair(p);
}

/* Guest and host disagree on the session id or the ticket: refused. */
static void mismatched_binding(const char *host_sid, const char *host_ticket)
{
	struct pair *p = new_pair();
	uint8_t th[E2E_TICKET_HASH];
	e2e_ticket_hash(host_ticket, strlen(host_ticket), th);
	assert_int_equal(e2e_init(&p->host, E2E_HOST, host_sid, th, SECRET, p->host_sk), E2E_OK);
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, used;
	e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1);
	assert_int_equal(e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	int rc = e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3);
	assert_int_equal(rc, E2E_HANDSHAKE_INVALID);
	assert_string_equal(e2e_status_code(rc), "handshake_invalid");
	assert_false(e2e_established(&p->guest));
	free_pair(p);
}

static void test_other_session_or_ticket_refused(void **state)
{
	(void)state;
	mismatched_binding("k7d2m4x9q3r5t8vx", TICKET);
	mismatched_binding(SID, TICKET "x");
}

/* Someone who saw the tickets (the relay) but not the session secret plays
 * the guest: the host refuses its confirmation, and nothing is readable. */
static void test_guest_without_the_secret_refused(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	static const uint8_t guessed[E2E_SESSION_SECRET] = "a relay's guess of the secret..";
	assert_int_equal(e2e_init(&p->guest, E2E_GUEST, SID, p->ticket_hash, guessed, p->host_pk), E2E_OK);
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT], none[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, l, used;
	e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1);
	assert_int_equal(e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	/* the host's signature verifies (it binds no secret): the guest goes on */
	assert_int_equal(e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3), E2E_OK);
	int rc = e2e_handshake(&p->host, m3, l3, &used, none, sizeof none, &l);
	assert_int_equal(rc, E2E_HANDSHAKE_INVALID);
	assert_false(e2e_established(&p->host));
	free_pair(p);
}

/* A guest confirmation made for another transcript: the host refuses. */
static void test_host_refuses_bad_confirmation(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3, used;
	e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1);
	e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2);
	e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3);
	m3[l3 - 1] ^= 1;
	assert_int_equal(e2e_handshake(&p->host, m3, l3, &used, m1, sizeof m1, &l1), E2E_HANDSHAKE_INVALID);
	assert_false(e2e_established(&p->host));
	uint8_t out[E2E_MAX_PLAINTEXT];
	bool done;
	assert_int_equal(e2e_open(&p->host, m3, l3, &used, out, sizeof out, &l1, &done), E2E_HANDSHAKE_INVALID);
	free_pair(p);
}

/* Every single flipped byte in msg1, msg2 or msg3 stops the handshake. */
static void test_flipped_handshake_byte(void **state)
{
	(void)state;
	for (int which = 1; which <= 3; which++) {
		size_t len = which == 2 ? E2E_MSG2_LEN : E2E_MSG1_LEN;
		for (size_t at = 0; at < len; at++) {
			struct pair *p = new_pair();
			uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT],
			    sink[E2E_HANDSHAKE_OUT];
			size_t l1, l2, l3, l4, used;
			int rc;
			e2e_handshake(&p->guest, NULL, 0, &used, m1, sizeof m1, &l1);
			if (which == 1)
				m1[at] ^= 0x40;
			rc = e2e_handshake(&p->host, m1, l1, &used, m2, sizeof m2, &l2);
			if (rc == E2E_OK) {
				if (which == 2)
					m2[at] ^= 0x40;
				rc = e2e_handshake(&p->guest, m2, l2, &used, m3, sizeof m3, &l3);
			}
			if (rc == E2E_OK) {
				if (which == 3)
					m3[at] ^= 0x40;
				rc = e2e_handshake(&p->host, m3, l3, &used, sink, sizeof sink, &l4);
			}
			if (rc == E2E_OK)
				print_error("flipped byte %zu of msg%d went through\n", at, which);
			assert_true(rc == E2E_HANDSHAKE_INVALID || rc == E2E_HOST_KEY_MISMATCH);
			assert_false(e2e_established(&p->guest) && e2e_established(&p->host));
			free_pair(p);
		}
	}
}

/* A flipped byte anywhere in a frame (length prefix included): frame_tampered. */
static void test_flipped_frame_byte(void **state)
{
	(void)state;
	const char *text = "a frame of a few bytes";
	size_t flen = strlen(text) + E2E_FRAME_OVERHEAD;
	for (size_t at = 0; at < flen; at++) {
		struct pair *p = new_pair();
		handshake(p, E2E_MSG2_LEN);
		static uint8_t stream[3 * E2E_MAX_FRAME], got[3 * E2E_MAX_FRAME];
		size_t n = seal(&p->guest, text, false, stream);
		stream[at] ^= 0x01;
		/* more authentic frames follow, so a grown length prefix gets its bytes */
		while (n < 2 * E2E_MAX_FRAME)
			n += seal(&p->guest, "filler", false, stream + n);
		size_t glen, frames;
		int rc = open_all(&p->host, stream, n, n, got, &glen, &frames);
		if (rc != E2E_FRAME_TAMPERED)
			print_error("flipped byte %zu: %s\n", at, e2e_status_code(rc));
		assert_int_equal(rc, E2E_FRAME_TAMPERED);
		assert_string_equal(e2e_status_code(rc), "frame_tampered");
		assert_int_equal(frames, 0);
		free_pair(p);
	}
}

static void test_replayed_and_reordered_frames(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	uint8_t f1[E2E_MAX_FRAME], f2[E2E_MAX_FRAME];
	size_t n1 = seal(&p->host, "first", false, f1);
	size_t n2 = seal(&p->host, "second", false, f2);
	expect_text(&p->guest, f1, n1, "first");
	uint8_t got[E2E_MAX_FRAME];
	size_t glen, frames;
	assert_int_equal(open_all(&p->guest, f1, n1, n1, got, &glen, &frames), E2E_FRAME_TAMPERED); /* replay */
	free_pair(p);

	p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	n1 = seal(&p->host, "first", false, f1);
	n2 = seal(&p->host, "second", false, f2);
	assert_int_equal(open_all(&p->guest, f2, n2, n2, got, &glen, &frames), E2E_FRAME_TAMPERED); /* reorder */
	free_pair(p);

	/* a frame of the other direction reflected back */
	p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	n1 = seal(&p->guest, "to host", false, f1);
	assert_int_equal(open_all(&p->guest, f1, n1, n1, got, &glen, &frames), E2E_FRAME_TAMPERED);
	free_pair(p);
}

static void test_rekey_across_many_frames(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	static uint8_t payload[E2E_MAX_PLAINTEXT], frame[E2E_MAX_FRAME], out[E2E_MAX_PLAINTEXT];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	size_t nframes = 3 * E2E_REKEY_FRAMES + 200;
	for (size_t i = 0; i < nframes; i++) {
		size_t len = i % 50 == 0 ? E2E_MAX_PLAINTEXT : i % 97, n, used, olen;
		bool done;
		assert_int_equal(e2e_seal(&p->guest, payload, len, false, frame, sizeof frame, &n), E2E_OK);
		assert_int_equal(e2e_open(&p->host, frame, n, &used, out, sizeof out, &olen, &done), E2E_OK);
		assert_true(done);
		assert_int_equal(used, n);
		assert_int_equal(olen, len);
		assert_memory_equal(out, payload, len);
	}
	assert_true(p->guest.rekeys_sent >= 3);
	assert_int_equal(p->guest.rekeys_sent, p->host.rekeys_received);
	free_pair(p);
}

static void test_final_frame_and_truncation(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	uint8_t f[E2E_MAX_FRAME], g[E2E_MAX_FRAME];
	size_t n = seal(&p->guest, "bye", true, f);
	size_t m;
	assert_int_equal(e2e_seal(&p->guest, (const uint8_t *)"more", 4, false, g, sizeof g, &m), E2E_USAGE);
	assert_false(e2e_peer_finished(&p->host));
	expect_text(&p->host, f, n, "bye");
	assert_true(e2e_peer_finished(&p->host));
	assert_int_equal(e2e_end_of_input(&p->host), E2E_OK);
	/* anything after the final frame */
	uint8_t out[E2E_MAX_PLAINTEXT];
	size_t used, olen;
	bool done;
	assert_int_equal(e2e_open(&p->host, f, n, &used, out, sizeof out, &olen, &done), E2E_FRAME_TAMPERED);
	free_pair(p);

	/* the pipe ends with no final frame, or in the middle of a frame */
	p = new_pair();
	handshake(p, E2E_MSG2_LEN);
	n = seal(&p->host, "partial", false, f);
	assert_int_equal(e2e_open(&p->guest, f, n - 1, &used, out, sizeof out, &olen, &done), E2E_OK);
	assert_false(done);
	int rc = e2e_end_of_input(&p->guest);
	assert_int_equal(rc, E2E_STREAM_TRUNCATED);
	assert_string_equal(e2e_status_code(rc), "stream_truncated");
	free_pair(p);
}

static void test_no_data_before_handshake(void **state)
{
	(void)state;
	struct pair *p = new_pair();
	uint8_t f[E2E_MAX_FRAME] = {0}, out[E2E_MAX_PLAINTEXT];
	size_t n, used, olen;
	bool done;
	assert_int_equal(e2e_seal(&p->guest, (const uint8_t *)"x", 1, false, f, sizeof f, &n), E2E_USAGE);
	assert_int_equal(e2e_seal(&p->host, (const uint8_t *)"x", 1, false, f, sizeof f, &n), E2E_USAGE);
	assert_int_equal(e2e_open(&p->host, f, 20, &used, out, sizeof out, &olen, &done), E2E_USAGE);
	/* bad arguments */
	struct e2e e;
	uint8_t th[E2E_TICKET_HASH] = {0};
	assert_int_equal(e2e_init(&e, E2E_GUEST, "", th, SECRET, p->host_pk), E2E_USAGE);
	assert_int_equal(e2e_init(&e, (enum e2e_role)7, SID, th, SECRET, p->host_pk), E2E_USAGE);
	assert_int_equal(e2e_init(&e, E2E_GUEST, SID, th, SECRET, NULL), E2E_USAGE);
	assert_int_equal(e2e_init(&e, E2E_GUEST, SID, th, NULL, p->host_pk), E2E_USAGE);
	char long_sid[E2E_SESSION_ID_MAX + 2];
	memset(long_sid, 'a', sizeof long_sid - 1);
	long_sid[sizeof long_sid - 1] = '\0';
	assert_int_equal(e2e_init(&e, E2E_GUEST, long_sid, th, SECRET, p->host_pk), E2E_USAGE);
	/* a low-order ephemeral key from the peer (all-zero DH result) */
	assert_int_equal(e2e_init(&e, E2E_HOST, SID, th, SECRET, p->host_sk), E2E_OK);
	uint8_t m1[E2E_MSG1_LEN] = {'V', 'E', '2', 'E', 1, 1}, m2[E2E_HANDSHAKE_OUT];
	assert_int_equal(e2e_handshake(&e, m1, sizeof m1, &used, m2, sizeof m2, &n), E2E_HANDSHAKE_INVALID);
	assert_int_equal(n, 0);
	/* another version byte is refused, never negotiated */
	assert_int_equal(e2e_init(&e, E2E_HOST, SID, th, SECRET, p->host_sk), E2E_OK);
	uint8_t eph[E2E_EPHEMERAL_SK];
	randombytes_buf(eph, sizeof eph);
	crypto_scalarmult_base(m1 + 6, eph);
	m1[4] = 2;
	assert_int_equal(e2e_handshake(&e, m1, sizeof m1, &used, m2, sizeof m2, &n), E2E_HANDSHAKE_INVALID);
	e2e_wipe(&e);
	free_pair(p);
}

static void test_host_pk_from_base64(void **state)
{
	(void)state;
	uint8_t pk[E2E_HOST_PK], got[E2E_HOST_PK];
	char b64[sodium_base64_ENCODED_LEN(E2E_HOST_PK, sodium_base64_VARIANT_ORIGINAL)];
	randombytes_buf(pk, sizeof pk);
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	assert_int_equal(e2e_host_pk_from_base64(b64, got), E2E_OK);
	assert_memory_equal(got, pk, sizeof pk);
	b64[strlen(b64) - 1] = '\0'; /* padding cut */
	assert_int_equal(e2e_host_pk_from_base64(b64, got), E2E_USAGE);
	assert_int_equal(e2e_host_pk_from_base64("AAAA", got), E2E_USAGE); /* 3 bytes */
	assert_int_equal(e2e_host_pk_from_base64("not base64 at all!", got), E2E_USAGE);
	assert_int_equal(e2e_host_pk_from_base64(NULL, got), E2E_USAGE);
	char longer[sizeof b64 + 4];
	sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
	snprintf(longer, sizeof longer, "%sAAAA", b64); /* 35 bytes */
	assert_int_equal(e2e_host_pk_from_base64(longer, got), E2E_USAGE);
}

/* ---- tests/vectors/e2e.json ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= cap);
	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		print_error("vectors: no string \"%s\"\n", key);
	assert_non_null(s);
	return s;
}

static void test_vectors(void **state)
{
	(void)state;
	const char *dir = getenv("VITRINE_VECTORS");
	assert_non_null(dir);
	char path[1024];
	snprintf(path, sizeof path, "%s/e2e.json", dir);
	json_error_t err;
	json_t *v = json_load_file(path, 0, &err);
	if (!v)
		print_error("%s: %s\n", path, err.text);
	assert_non_null(v);

	uint8_t seed[32], pk[32], sk[64], want_pk[32], ge[32], he[32], th[32], want_th[32];
	unhex(str(v, "host_seed"), seed, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	unhex(str(v, "host_public_key"), want_pk, sizeof want_pk);
	assert_memory_equal(pk, want_pk, 32);
	const char *ticket = str(v, "ticket"), *sid = str(v, "session_id");
	e2e_ticket_hash(ticket, strlen(ticket), th);
	unhex(str(v, "ticket_hash"), want_th, sizeof want_th);
	assert_memory_equal(th, want_th, 32);
	uint8_t secret[E2E_SESSION_SECRET];
	assert_int_equal(unhex(str(v, "session_secret"), secret, sizeof secret), sizeof secret);
	unhex(str(v, "guest_ephemeral_sk"), ge, sizeof ge);
	unhex(str(v, "host_ephemeral_sk"), he, sizeof he);

	struct e2e *g = calloc(1, sizeof *g), *h = calloc(1, sizeof *h);
	assert_non_null(g);
	assert_non_null(h);
	assert_int_equal(e2e_init_with_ephemeral_for_tests(g, E2E_GUEST, sid, th, secret, pk, ge), E2E_OK);
	assert_int_equal(e2e_init_with_ephemeral_for_tests(h, E2E_HOST, sid, th, secret, sk, he), E2E_OK);
	uint8_t m[E2E_HANDSHAKE_OUT], want[E2E_MAX_FRAME], none[E2E_HANDSHAKE_OUT];
	size_t l, wl, used;
	assert_int_equal(e2e_handshake(g, NULL, 0, &used, m, sizeof m, &l), E2E_OK);
	wl = unhex(str(v, "msg1"), want, sizeof want);
	assert_int_equal(l, wl);
	assert_memory_equal(m, want, l);
	assert_int_equal(e2e_handshake(h, want, wl, &used, m, sizeof m, &l), E2E_OK);
	wl = unhex(str(v, "msg2"), want, sizeof want);
	assert_int_equal(l, wl);
	assert_memory_equal(m, want, l);
	assert_int_equal(e2e_handshake(g, want, wl, &used, m, sizeof m, &l), E2E_OK);
	wl = unhex(str(v, "msg3"), want, sizeof want);
	assert_int_equal(l, wl);
	assert_memory_equal(m, want, l);
	assert_int_equal(e2e_handshake(h, want, wl, &used, none, sizeof none, &l), E2E_OK);
	assert_true(e2e_established(g) && e2e_established(h));

	json_t *frames = json_object_get(v, "frames"), *fr;
	size_t i;
	assert_true(json_array_size(frames) >= 2);
	json_array_foreach (frames, i, fr) {
		bool from_guest = strcmp(str(fr, "from"), "guest") == 0;
		const char *text = str(fr, "plaintext");
		bool final = json_is_true(json_object_get(fr, "final"));
		uint8_t f[E2E_MAX_FRAME];
		size_t n;
		assert_int_equal(
		    e2e_seal(from_guest ? g : h, (const uint8_t *)text, strlen(text), final, f, sizeof f, &n), E2E_OK);
		wl = unhex(str(fr, "frame"), want, sizeof want);
		assert_int_equal(n, wl);
		assert_memory_equal(f, want, n);
		expect_text(from_guest ? h : g, want, wl, text);
	}

	/* a fresh session, then the frame that carries TAG_REKEY and one after it */
	json_t *r = json_object_get(v, "rekey");
	assert_non_null(r);
	assert_int_equal(e2e_init_with_ephemeral_for_tests(g, E2E_GUEST, sid, th, secret, pk, ge), E2E_OK);
	assert_int_equal(e2e_init_with_ephemeral_for_tests(h, E2E_HOST, sid, th, secret, sk, he), E2E_OK);
	uint8_t m1[E2E_HANDSHAKE_OUT], m2[E2E_HANDSHAKE_OUT], m3[E2E_HANDSHAKE_OUT];
	size_t l1, l2, l3;
	assert_int_equal(e2e_handshake(g, NULL, 0, &used, m1, sizeof m1, &l1), E2E_OK);
	assert_int_equal(e2e_handshake(h, m1, l1, &used, m2, sizeof m2, &l2), E2E_OK);
	assert_int_equal(e2e_handshake(g, m2, l2, &used, m3, sizeof m3, &l3), E2E_OK);
	assert_int_equal(e2e_handshake(h, m3, l3, &used, none, sizeof none, &l), E2E_OK);
	bool from_guest = strcmp(str(r, "from"), "guest") == 0;
	struct e2e *tx = from_guest ? g : h, *rx = from_guest ? h : g;
	json_int_t empties = json_integer_value(json_object_get(r, "empty_frames_before"));
	assert_true(empties > 0);
	for (json_int_t k = 0; k < empties; k++) {
		uint8_t f[E2E_MAX_FRAME];
		size_t n;
		assert_int_equal(e2e_seal(tx, NULL, 0, false, f, sizeof f, &n), E2E_OK);
		expect_text(rx, f, n, "");
	}
	assert_int_equal(tx->rekeys_sent, 0);
	json_array_foreach (json_object_get(r, "frames"), i, fr) {
		const char *text = str(fr, "plaintext");
		uint8_t f[E2E_MAX_FRAME];
		size_t n;
		assert_int_equal(e2e_seal(tx, (const uint8_t *)text, strlen(text), false, f, sizeof f, &n), E2E_OK);
		wl = unhex(str(fr, "frame"), want, sizeof want);
		assert_int_equal(n, wl);
		assert_memory_equal(f, want, n);
		expect_text(rx, want, wl, text);
	}
	assert_int_equal(tx->rekeys_sent, 1);
	assert_int_equal(rx->rekeys_received, 1);

	e2e_wipe(g);
	e2e_wipe(h);
	free(g);
	free(h);
	json_decref(v);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_data_both_ways),
	    cmocka_unit_test(test_byte_at_a_time),
	    cmocka_unit_test(test_frames_right_after_msg3),
	    cmocka_unit_test(test_wrong_host_key),
	    cmocka_unit_test(test_other_session_or_ticket_refused),
	    cmocka_unit_test(test_host_refuses_bad_confirmation),
	    cmocka_unit_test(test_guest_without_the_secret_refused),
	    cmocka_unit_test(test_flipped_handshake_byte),
	    cmocka_unit_test(test_flipped_frame_byte),
	    cmocka_unit_test(test_replayed_and_reordered_frames),
	    cmocka_unit_test(test_rekey_across_many_frames),
	    cmocka_unit_test(test_final_frame_and_truncation),
	    cmocka_unit_test(test_no_data_before_handshake),
	    cmocka_unit_test(test_host_pk_from_base64),
	    cmocka_unit_test(test_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
