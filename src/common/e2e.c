/*
 * The end-to-end tunnel's handshake and frames (see e2e.h and
 * docs/PROTOCOL.md "Remote control: the end-to-end tunnel"). Three
 * handshake messages modelled on Noise NK with the host's static DH
 * replaced by an Ed25519 signature over the transcript hash (as in SIGMA
 * or TLS 1.3's CertificateVerify); keys from crypto_kdf; then one
 * crypto_secretstream_xchacha20poly1305 stream per direction.
 */
#include "e2e.h"

#include <string.h>

#define HDR_LEN 6
static const uint8_t MAGIC[4] = {'V', 'E', '2', 'E'};
#define VERSION     1
#define TYPE_MSG1   1
#define TYPE_MSG2   2
#define TYPE_MSG3   3
#define LABEL_TH    "VTE2E-v1 transcript"
#define LABEL_SIG   "VTE2E-v1 host signature"
#define KDF_CONTEXT "VTE2E-v1"
#define KDF_G2H_KEY 1
#define KDF_H2G_KEY 2
#define KDF_G2H_HDR 3
#define KDF_H2G_HDR 4
#define KDF_CONFIRM 5
#define SS_ABYTES   crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER   crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEY      crypto_secretstream_xchacha20poly1305_KEYBYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_REKEY   crypto_secretstream_xchacha20poly1305_TAG_REKEY
#define TAG_FINAL   crypto_secretstream_xchacha20poly1305_TAG_FINAL
#define MSG2_SIGNED (HDR_LEN + 32 + 32) /* the part of msg2 in the transcript hash */
#define MAX_CIPHER  (E2E_MAX_PLAINTEXT + SS_ABYTES)

_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "KDF context is 8 bytes");
_Static_assert(crypto_sign_BYTES == 64 && crypto_scalarmult_BYTES == 32, "sizes of PROTOCOL.md");
_Static_assert(MAX_CIPHER <= 0xffff, "frame length fits the u16 prefix");

const char *e2e_status_code(int status)
{
	switch (status) {
	case E2E_OK:
		return "ok";
	case E2E_HOST_KEY_MISMATCH:
		return "host_key_mismatch";
	case E2E_FRAME_TAMPERED:
		return "frame_tampered";
	case E2E_HANDSHAKE_INVALID:
		return "handshake_invalid";
	case E2E_STREAM_TRUNCATED:
		return "stream_truncated";
	case E2E_USAGE:
		return "e2e_usage";
	case E2E_INTERNAL:
		return "e2e_internal";
	default:
		return "e2e_unknown";
	}
}

void e2e_ticket_hash(const char *ticket, size_t len, uint8_t out[E2E_TICKET_HASH])
{
	crypto_generichash(out, E2E_TICKET_HASH, (const uint8_t *)ticket, len, NULL, 0);
}

int e2e_host_pk_from_base64(const char *b64, uint8_t out[E2E_HOST_PK])
{
	size_t n = 0;
	const char *end = NULL;
	if (!b64 || !out || sodium_init() < 0)
		return E2E_USAGE;
	size_t len = strlen(b64);
	if (sodium_base642bin(out, E2E_HOST_PK, b64, len, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != E2E_HOST_PK || end != b64 + len) {
		sodium_memzero(out, E2E_HOST_PK);
		return E2E_USAGE;
	}
	return E2E_OK;
}

/* Every protocol failure ends the session: keys gone, the code kept. */
static int fail(struct e2e *e, enum e2e_status status)
{
	enum e2e_role role = e->role;
	sodium_memzero(e, sizeof *e);
	e->role = role;
	e->state = E2E_STATE_FAILED;
	e->error = status;
	return status;
}

static int init_common(struct e2e *e, enum e2e_role role, const char *session_id,
                       const uint8_t ticket_hash[E2E_TICKET_HASH], const uint8_t session_secret[E2E_SESSION_SECRET],
                       const uint8_t *host_key, const uint8_t *eph_sk)
{
	if (!e)
		return E2E_USAGE;
	memset(e, 0, sizeof *e);
	e->state = E2E_STATE_FAILED;
	e->error = E2E_USAGE;
	if (sodium_init() < 0) {
		e->error = E2E_INTERNAL;
		return E2E_INTERNAL;
	}
	size_t sid_len = session_id ? strlen(session_id) : 0;
	if ((role != E2E_GUEST && role != E2E_HOST) || sid_len == 0 || sid_len > E2E_SESSION_ID_MAX || !ticket_hash ||
	    !session_secret || !host_key)
		return E2E_USAGE;
	e->role = role;
	memcpy(e->session_id, session_id, sid_len);
	e->session_id_len = sid_len;
	memcpy(e->ticket_hash, ticket_hash, E2E_TICKET_HASH);
	memcpy(e->session_secret, session_secret, E2E_SESSION_SECRET);
	if (role == E2E_HOST) {
		memcpy(e->host_sk, host_key, E2E_HOST_SK);
		crypto_sign_ed25519_sk_to_pk(e->host_pk, e->host_sk);
	} else {
		memcpy(e->host_pk, host_key, E2E_HOST_PK);
	}
	if (eph_sk)
		memcpy(e->eph_sk, eph_sk, sizeof e->eph_sk);
	else
		randombytes_buf(e->eph_sk, sizeof e->eph_sk);
	crypto_scalarmult_base(e->eph_pk, e->eph_sk);
	e->state = role == E2E_HOST ? E2E_STATE_WAIT_MSG1 : E2E_STATE_START;
	e->error = E2E_OK;
	return E2E_OK;
}

int e2e_init(struct e2e *e, enum e2e_role role, const char *session_id, const uint8_t ticket_hash[E2E_TICKET_HASH],
             const uint8_t session_secret[E2E_SESSION_SECRET], const uint8_t *host_key)
{
	return init_common(e, role, session_id, ticket_hash, session_secret, host_key, NULL);
}

int e2e_init_with_ephemeral_for_tests(struct e2e *e, enum e2e_role role, const char *session_id,
                                      const uint8_t ticket_hash[E2E_TICKET_HASH],
                                      const uint8_t session_secret[E2E_SESSION_SECRET], const uint8_t *host_key,
                                      const uint8_t ephemeral_sk[E2E_EPHEMERAL_SK])
{
	if (!ephemeral_sk)
		return E2E_USAGE;
	return init_common(e, role, session_id, ticket_hash, session_secret, host_key, ephemeral_sk);
}

static void put_header(uint8_t *out, uint8_t type)
{
	memcpy(out, MAGIC, sizeof MAGIC);
	out[4] = VERSION;
	out[5] = type;
}

static bool header_ok(const uint8_t *in, uint8_t type)
{
	return memcmp(in, MAGIC, sizeof MAGIC) == 0 && in[4] == VERSION && in[5] == type;
}

/* TH = BLAKE2b-256(LABEL_TH || u16be(len sid) || sid || ticket_hash || msg1 || msg2[0..70]) */
static void transcript_hash(const struct e2e *e, const uint8_t *msg2, uint8_t th[32])
{
	crypto_generichash_state st;
	uint8_t len[2] = {(uint8_t)(e->session_id_len >> 8), (uint8_t)e->session_id_len};
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_TH, sizeof LABEL_TH - 1);
	crypto_generichash_update(&st, len, sizeof len);
	crypto_generichash_update(&st, e->session_id, e->session_id_len);
	crypto_generichash_update(&st, e->ticket_hash, sizeof e->ticket_hash);
	crypto_generichash_update(&st, e->msg1, sizeof e->msg1);
	crypto_generichash_update(&st, msg2, MSG2_SIGNED);
	crypto_generichash_final(&st, th, 32);
	sodium_memzero(&st, sizeof st);
}

/* LABEL_SIG || TH: what the host signs. */
static void signed_message(const uint8_t th[32], uint8_t out[sizeof LABEL_SIG - 1 + 32])
{
	memcpy(out, LABEL_SIG, sizeof LABEL_SIG - 1);
	memcpy(out + sizeof LABEL_SIG - 1, th, 32);
}

/* From the DH output, H = BLAKE2b-256(TH || sig) and the session secret
 * (master = BLAKE2b-256(key dh, H || session_secret)): both streams and the
 * guest's key confirmation. Returns -1 on a weak (all-zero) DH result. */
static int derive(struct e2e *e, const uint8_t peer_eph[32], const uint8_t th[32], const uint8_t sig[64])
{
	uint8_t dh[crypto_scalarmult_BYTES], h[32], thsig[96], hsecret[32 + E2E_SESSION_SECRET], master[32];
	uint8_t k_g2h[SS_KEY], k_h2g[SS_KEY], hdr_g2h[SS_HEADER], hdr_h2g[SS_HEADER], k_confirm[32];
	int rc = -1;
	if (crypto_scalarmult(dh, e->eph_sk, peer_eph) != 0)
		goto out;
	memcpy(thsig, th, 32);
	memcpy(thsig + 32, sig, 64);
	crypto_generichash(h, sizeof h, thsig, sizeof thsig, NULL, 0);
	memcpy(hsecret, h, 32);
	memcpy(hsecret + 32, e->session_secret, E2E_SESSION_SECRET);
	crypto_generichash(master, sizeof master, hsecret, sizeof hsecret, dh, sizeof dh);
	crypto_kdf_derive_from_key(k_g2h, sizeof k_g2h, KDF_G2H_KEY, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k_h2g, sizeof k_h2g, KDF_H2G_KEY, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hdr_g2h, sizeof hdr_g2h, KDF_G2H_HDR, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(hdr_h2g, sizeof hdr_h2g, KDF_H2G_HDR, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(k_confirm, sizeof k_confirm, KDF_CONFIRM, KDF_CONTEXT, master);
	/* init_push is init_pull with a random header; here the header comes
	 * from the key schedule (one key, one session), so it is never sent
	 * and both ends start each stream from the same state. */
	bool guest = e->role == E2E_GUEST;
	crypto_secretstream_xchacha20poly1305_init_pull(&e->tx, guest ? hdr_g2h : hdr_h2g, guest ? k_g2h : k_h2g);
	crypto_secretstream_xchacha20poly1305_init_pull(&e->rx, guest ? hdr_h2g : hdr_g2h, guest ? k_h2g : k_g2h);
	crypto_generichash(e->expect_confirm, sizeof e->expect_confirm, h, sizeof h, k_confirm, sizeof k_confirm);
	rc = 0;
out:
	sodium_memzero(dh, sizeof dh);
	sodium_memzero(h, sizeof h);
	sodium_memzero(hsecret, sizeof hsecret);
	sodium_memzero(master, sizeof master);
	sodium_memzero(k_g2h, sizeof k_g2h);
	sodium_memzero(k_h2g, sizeof k_h2g);
	sodium_memzero(hdr_g2h, sizeof hdr_g2h);
	sodium_memzero(hdr_h2g, sizeof hdr_h2g);
	sodium_memzero(k_confirm, sizeof k_confirm);
	return rc;
}

static void drop_handshake_secrets(struct e2e *e)
{
	sodium_memzero(e->eph_sk, sizeof e->eph_sk);
	sodium_memzero(e->host_sk, sizeof e->host_sk);
	sodium_memzero(e->session_secret, sizeof e->session_secret);
	sodium_memzero(e->expect_confirm, sizeof e->expect_confirm);
	sodium_memzero(e->hs_in, sizeof e->hs_in);
	e->hs_in_len = 0;
}

/* Host: msg1 in, msg2 out. */
static int host_on_msg1(struct e2e *e, uint8_t *out, size_t *out_len)
{
	const uint8_t *m = e->hs_in;
	if (!header_ok(m, TYPE_MSG1))
		return fail(e, E2E_HANDSHAKE_INVALID);
	memcpy(e->msg1, m, E2E_MSG1_LEN);
	uint8_t th[32], tosign[sizeof LABEL_SIG - 1 + 32];
	put_header(out, TYPE_MSG2);
	memcpy(out + HDR_LEN, e->eph_pk, 32);
	memcpy(out + HDR_LEN + 32, e->host_pk, 32);
	transcript_hash(e, out, th);
	signed_message(th, tosign);
	crypto_sign_detached(out + MSG2_SIGNED, NULL, tosign, sizeof tosign, e->host_sk);
	if (derive(e, m + HDR_LEN, th, out + MSG2_SIGNED) != 0) {
		sodium_memzero(out, E2E_MSG2_LEN);
		return fail(e, E2E_HANDSHAKE_INVALID);
	}
	sodium_memzero(e->eph_sk, sizeof e->eph_sk);
	sodium_memzero(e->host_sk, sizeof e->host_sk);
	sodium_memzero(e->session_secret, sizeof e->session_secret);
	*out_len = E2E_MSG2_LEN;
	e->state = E2E_STATE_WAIT_MSG3;
	return E2E_OK;
}

/* Guest: msg2 in, msg3 out. */
static int guest_on_msg2(struct e2e *e, uint8_t *out, size_t *out_len)
{
	const uint8_t *m = e->hs_in;
	if (!header_ok(m, TYPE_MSG2))
		return fail(e, E2E_HANDSHAKE_INVALID);
	if (sodium_memcmp(m + HDR_LEN + 32, e->host_pk, E2E_HOST_PK) != 0)
		return fail(e, E2E_HOST_KEY_MISMATCH);
	uint8_t th[32], tosigned[sizeof LABEL_SIG - 1 + 32];
	transcript_hash(e, m, th);
	signed_message(th, tosigned);
	if (crypto_sign_verify_detached(m + MSG2_SIGNED, tosigned, sizeof tosigned, e->host_pk) != 0)
		return fail(e, E2E_HANDSHAKE_INVALID);
	if (derive(e, m + HDR_LEN, th, m + MSG2_SIGNED) != 0)
		return fail(e, E2E_HANDSHAKE_INVALID);
	put_header(out, TYPE_MSG3);
	memcpy(out + HDR_LEN, e->expect_confirm, 32);
	*out_len = E2E_MSG3_LEN;
	drop_handshake_secrets(e);
	e->state = E2E_STATE_ESTABLISHED;
	return E2E_OK;
}

/* Host: msg3 in, established. */
static int host_on_msg3(struct e2e *e)
{
	const uint8_t *m = e->hs_in;
	if (!header_ok(m, TYPE_MSG3) || sodium_memcmp(m + HDR_LEN, e->expect_confirm, 32) != 0)
		return fail(e, E2E_HANDSHAKE_INVALID);
	drop_handshake_secrets(e);
	e->state = E2E_STATE_ESTABLISHED;
	return E2E_OK;
}

int e2e_handshake(struct e2e *e, const uint8_t *in, size_t in_len, size_t *consumed, uint8_t *out, size_t out_cap,
                  size_t *out_len)
{
	if (!e || !consumed || !out_len || (!in && in_len))
		return E2E_USAGE;
	*consumed = 0;
	*out_len = 0;
	if (e->state == E2E_STATE_FAILED)
		return e->error;
	if (e->state == E2E_STATE_ESTABLISHED)
		return E2E_USAGE;
	if (!out || out_cap < E2E_HANDSHAKE_OUT)
		return E2E_USAGE;
	if (e->state == E2E_STATE_START) {
		put_header(e->msg1, TYPE_MSG1);
		memcpy(e->msg1 + HDR_LEN, e->eph_pk, 32);
		memcpy(out, e->msg1, E2E_MSG1_LEN);
		*out_len = E2E_MSG1_LEN;
		e->state = E2E_STATE_WAIT_MSG2;
		return E2E_OK; /* the host speaks only after msg1: no input can be pending */
	}
	size_t want = e->state == E2E_STATE_WAIT_MSG1   ? E2E_MSG1_LEN
	              : e->state == E2E_STATE_WAIT_MSG2 ? E2E_MSG2_LEN
	                                                : E2E_MSG3_LEN;
	size_t take = want - e->hs_in_len;
	if (take > in_len)
		take = in_len;
	memcpy(e->hs_in + e->hs_in_len, in, take);
	e->hs_in_len += take;
	*consumed = take;
	if (e->hs_in_len < want)
		return E2E_OK;
	int rc;
	if (e->state == E2E_STATE_WAIT_MSG1)
		rc = host_on_msg1(e, out, out_len);
	else if (e->state == E2E_STATE_WAIT_MSG2)
		rc = guest_on_msg2(e, out, out_len);
	else
		rc = host_on_msg3(e);
	if (e->state != E2E_STATE_FAILED) {
		sodium_memzero(e->hs_in, sizeof e->hs_in);
		e->hs_in_len = 0;
	}
	return rc;
}

bool e2e_established(const struct e2e *e)
{
	return e && e->state == E2E_STATE_ESTABLISHED;
}

bool e2e_peer_finished(const struct e2e *e)
{
	return e && e->state == E2E_STATE_ESTABLISHED && e->rx_final;
}

int e2e_seal(struct e2e *e, const uint8_t *msg, size_t len, bool final, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (!e || !out_len || (!msg && len))
		return E2E_USAGE;
	*out_len = 0;
	if (e->state == E2E_STATE_FAILED)
		return e->error;
	if (e->state != E2E_STATE_ESTABLISHED || e->tx_final || len > E2E_MAX_PLAINTEXT || !out ||
	    out_cap < len + E2E_FRAME_OVERHEAD)
		return E2E_USAGE;
	uint8_t tag = TAG_MESSAGE;
	if (final) {
		tag = TAG_FINAL;
	} else if (e->tx_bytes_since_rekey + len >= E2E_REKEY_BYTES ||
	           e->tx_frames_since_rekey + 1 >= E2E_REKEY_FRAMES) {
		tag = TAG_REKEY;
	}
	size_t clen = len + SS_ABYTES;
	out[0] = (uint8_t)(clen >> 8);
	out[1] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&e->tx, out + 2, NULL, msg, len, out, 2, tag);
	*out_len = clen + 2;
	if (tag == TAG_REKEY) {
		e->tx_bytes_since_rekey = 0;
		e->tx_frames_since_rekey = 0;
		e->rekeys_sent++;
	} else {
		e->tx_bytes_since_rekey += len;
		e->tx_frames_since_rekey++;
	}
	if (final) {
		e->tx_final = true;
		sodium_memzero(&e->tx, sizeof e->tx);
	}
	return E2E_OK;
}

int e2e_open(struct e2e *e, const uint8_t *in, size_t in_len, size_t *consumed, uint8_t *out, size_t out_cap,
             size_t *out_len, bool *frame_done)
{
	if (!e || !consumed || !out_len || !frame_done || (!in && in_len))
		return E2E_USAGE;
	*consumed = 0;
	*out_len = 0;
	*frame_done = false;
	if (e->state == E2E_STATE_FAILED)
		return e->error;
	if (e->state != E2E_STATE_ESTABLISHED || !out || out_cap < E2E_MAX_PLAINTEXT)
		return E2E_USAGE;
	if (in_len == 0)
		return E2E_OK;
	if (e->rx_final)
		return fail(e, E2E_FRAME_TAMPERED); /* nothing authentic follows the final frame */
	size_t used = 0;
	if (e->rx_len < 2) {
		size_t take = 2 - e->rx_len;
		if (take > in_len)
			take = in_len;
		memcpy(e->rx_frame + e->rx_len, in, take);
		e->rx_len += take;
		used += take;
		if (e->rx_len < 2) {
			*consumed = used;
			return E2E_OK;
		}
	}
	size_t clen = ((size_t)e->rx_frame[0] << 8) | e->rx_frame[1];
	if (clen < SS_ABYTES || clen > MAX_CIPHER)
		return fail(e, E2E_FRAME_TAMPERED);
	size_t take = 2 + clen - e->rx_len;
	if (take > in_len - used)
		take = in_len - used;
	memcpy(e->rx_frame + e->rx_len, in + used, take);
	e->rx_len += take;
	used += take;
	*consumed = used;
	if (e->rx_len < 2 + clen)
		return E2E_OK;
	unsigned long long mlen = 0;
	uint8_t tag = 0xff;
	if (crypto_secretstream_xchacha20poly1305_pull(&e->rx, out, &mlen, &tag, e->rx_frame + 2, clen, e->rx_frame,
	                                               2) != 0 ||
	    (tag != TAG_MESSAGE && tag != TAG_REKEY && tag != TAG_FINAL)) {
		sodium_memzero(out, clen - SS_ABYTES);
		return fail(e, E2E_FRAME_TAMPERED);
	}
	e->rx_len = 0;
	if (tag == TAG_REKEY)
		e->rekeys_received++;
	if (tag == TAG_FINAL) {
		e->rx_final = true;
		sodium_memzero(&e->rx, sizeof e->rx);
	}
	*out_len = (size_t)mlen;
	*frame_done = true;
	return E2E_OK;
}

int e2e_end_of_input(struct e2e *e)
{
	if (!e)
		return E2E_USAGE;
	if (e->state == E2E_STATE_FAILED)
		return e->error;
	if (e->state == E2E_STATE_ESTABLISHED && e->rx_final && e->rx_len == 0)
		return E2E_OK;
	return fail(e, E2E_STREAM_TRUNCATED);
}

void e2e_wipe(struct e2e *e)
{
	if (e)
		sodium_memzero(e, sizeof *e);
}
