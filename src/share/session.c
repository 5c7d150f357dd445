/* The share handshake and its encrypted records; see session.h. */
#include "share/session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

static const uint8_t magic[4] = {'V', 'S', 'H', '1'};
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'v', 't', 's', 'h', 'a', 'r', 'e', '1'};

enum { KEY_MAC_SENDER = 1, KEY_MAC_DISPLAY, KEY_COMMAND_TO_DISPLAY, KEY_COMMAND_TO_SENDER, KEY_STREAM, KEY_INPUT };

int share_auth_key(const char *code_digits, const char *screen_key, uint8_t out[SHARE_AUTH_SIZE])
{
	if (strlen(screen_key) != SHARE_KEY_DIGITS || strspn(screen_key, "0123456789") != SHARE_KEY_DIGITS)
		return -1;
	uint8_t salt[crypto_pwhash_SALTBYTES];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof salt);
	crypto_generichash_update(&st, (const uint8_t *)"vitrine share code ", 19);
	crypto_generichash_update(&st, (const uint8_t *)code_digits, strlen(code_digits));
	crypto_generichash_final(&st, salt, sizeof salt);
	return crypto_pwhash(out, SHARE_AUTH_SIZE, screen_key, SHARE_KEY_DIGITS, salt,
	                     crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                     crypto_pwhash_ALG_ARGON2ID13) == 0
	           ? 0
	           : -1;
}

void share_new_screen_key(char out[SHARE_KEY_DIGITS + 1])
{
	for (int i = 0; i < SHARE_KEY_DIGITS; i++)
		out[i] = (char)('0' + randombytes_uniform(10));
	out[SHARE_KEY_DIGITS] = '\0';
}

/* th, then master from the X25519 secret; false for a low-order key. */
static bool derive_master(const uint8_t auth[SHARE_AUTH_SIZE], const uint8_t secret[32], const uint8_t peer[32],
                          const uint8_t greeting[SHARE_GREETING_SIZE], const uint8_t *sender_key_and_nonce,
                          uint8_t th[32], uint8_t master[32])
{
	uint8_t shared[crypto_scalarmult_BYTES];
	if (crypto_scalarmult(shared, secret, peer) != 0)
		return false;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, greeting, SHARE_GREETING_SIZE);
	crypto_generichash_update(&st, sender_key_and_nonce, 48);
	crypto_generichash_final(&st, th, 32);
	crypto_generichash_init(&st, auth, SHARE_AUTH_SIZE, 32);
	crypto_generichash_update(&st, shared, sizeof shared);
	crypto_generichash_update(&st, th, 32);
	crypto_generichash_final(&st, master, 32);
	sodium_memzero(shared, sizeof shared);
	return true;
}

static void mac_of(const uint8_t master[32], unsigned id, const uint8_t th[32], uint8_t mac[32])
{
	uint8_t key[32];
	crypto_kdf_derive_from_key(key, sizeof key, id, kdf_context, master);
	crypto_generichash(mac, 32, th, 32, key, sizeof key);
	sodium_memzero(key, sizeof key);
}

static void session_keys(const uint8_t master[32], struct share_keys *keys)
{
	crypto_kdf_derive_from_key(keys->command_to_display, 32, KEY_COMMAND_TO_DISPLAY, kdf_context, master);
	crypto_kdf_derive_from_key(keys->command_to_sender, 32, KEY_COMMAND_TO_SENDER, kdf_context, master);
	crypto_kdf_derive_from_key(keys->stream_to_display, 32, KEY_STREAM, kdf_context, master);
	crypto_kdf_derive_from_key(keys->input_to_sender, 32, KEY_INPUT, kdf_context, master);
}

void share_display_greeting(struct share_display_handshake *hs, uint8_t out[SHARE_GREETING_SIZE])
{
	randombytes_buf(hs->secret, sizeof hs->secret);
	memcpy(hs->greeting, magic, 4);
	crypto_scalarmult_base(hs->greeting + 4, hs->secret);
	randombytes_buf(hs->greeting + 36, 16);
	memcpy(out, hs->greeting, SHARE_GREETING_SIZE);
}

void share_display_refusal(enum share_welcome_status status, uint8_t welcome[SHARE_WELCOME_SIZE])
{
	memset(welcome, 0, SHARE_WELCOME_SIZE);
	welcome[0] = (uint8_t)status;
}

bool share_display_check(struct share_display_handshake *hs, const uint8_t auth[SHARE_AUTH_SIZE],
                         const uint8_t hello[SHARE_HELLO_SIZE], struct share_keys *keys,
                         uint8_t welcome[SHARE_WELCOME_SIZE])
{
	uint8_t th[32], master[32], mac[32];
	bool ok = memcmp(hello, magic, 4) == 0 &&
	          derive_master(auth, hs->secret, hello + 4, hs->greeting, hello + 4, th, master);
	if (ok) {
		mac_of(master, KEY_MAC_SENDER, th, mac);
		ok = sodium_memcmp(mac, hello + 52, 32) == 0;
	}
	share_display_refusal(ok ? SHARE_WELCOME_OK : SHARE_WELCOME_WRONG_KEY, welcome);
	if (ok) {
		mac_of(master, KEY_MAC_DISPLAY, th, welcome + 1);
		session_keys(master, keys);
	}
	sodium_memzero(hs->secret, sizeof hs->secret);
	sodium_memzero(master, sizeof master);
	return ok;
}

bool share_sender_hello(struct share_sender_handshake *hs, const uint8_t auth[SHARE_AUTH_SIZE],
                        const uint8_t greeting[SHARE_GREETING_SIZE], uint8_t hello[SHARE_HELLO_SIZE])
{
	if (memcmp(greeting, magic, 4) != 0)
		return false;
	randombytes_buf(hs->secret, sizeof hs->secret);
	memcpy(hello, magic, 4);
	crypto_scalarmult_base(hello + 4, hs->secret);
	randombytes_buf(hello + 36, 16);
	if (!derive_master(auth, hs->secret, greeting + 4, greeting, hello + 4, hs->th, hs->master)) {
		sodium_memzero(hs->secret, sizeof hs->secret);
		return false;
	}
	sodium_memzero(hs->secret, sizeof hs->secret);
	mac_of(hs->master, KEY_MAC_SENDER, hs->th, hello + 52);
	return true;
}

int share_sender_finish(struct share_sender_handshake *hs, const uint8_t welcome[SHARE_WELCOME_SIZE],
                        struct share_keys *keys)
{
	int status = welcome[0];
	if (status == SHARE_WELCOME_OK) {
		uint8_t mac[32];
		mac_of(hs->master, KEY_MAC_DISPLAY, hs->th, mac);
		if (sodium_memcmp(mac, welcome + 1, 32) != 0)
			status = -1;
		else
			session_keys(hs->master, keys);
	}
	sodium_memzero(hs->master, sizeof hs->master);
	return status;
}

int share_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int share_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			return -1;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void share_channel_init(struct share_channel *c, int fd, const uint8_t *tx_key, const uint8_t *rx_key)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	if (tx_key) {
		memcpy(c->tx_key, tx_key, 32);
		c->can_send = true;
	}
	if (rx_key) {
		memcpy(c->rx_key, rx_key, 32);
		c->can_receive = true;
	}
}

int share_channel_send(struct share_channel *c, const void *msg, size_t len)
{
	if (!c->can_send || len == 0 || len > SHARE_RECORD_MAX) {
		errno = !c->can_send ? EBADF : len == 0 ? EINVAL : EMSGSIZE;
		return -1;
	}
	if (!c->tx_started) {
		uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
		crypto_secretstream_xchacha20poly1305_init_push(&c->tx, header, c->tx_key);
		if (share_write_all(c->fd, header, sizeof header) < 0)
			return -1;
		c->tx_started = true;
	}
	size_t clen = len + crypto_secretstream_xchacha20poly1305_ABYTES;
	uint8_t *rec = malloc(4 + clen);
	if (!rec) {
		errno = ENOMEM;
		return -1;
	}
	rec[0] = (uint8_t)(clen >> 24);
	rec[1] = (uint8_t)(clen >> 16);
	rec[2] = (uint8_t)(clen >> 8);
	rec[3] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&c->tx, rec + 4, NULL, msg, len, NULL, 0, 0);
	int r = share_write_all(c->fd, rec, 4 + clen);
	free(rec);
	return r;
}

ssize_t share_channel_recv(struct share_channel *c, uint8_t *buf, size_t cap)
{
	if (!c->can_receive) {
		errno = EBADF;
		return -1;
	}
	if (!c->rx_started) {
		uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
		ssize_t n;
		do
			n = recv(c->fd, header, 1, MSG_PEEK);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return 0;
		if (share_read_all(c->fd, header, sizeof header) < 0)
			return -1;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, header, c->rx_key) != 0) {
			errno = EBADMSG;
			return -1;
		}
		c->rx_started = true;
	}
	uint8_t len4[4];
	ssize_t peek;
	do
		peek = recv(c->fd, len4, 1, MSG_PEEK);
	while (peek < 0 && errno == EINTR);
	if (peek == 0)
		return 0;
	if (share_read_all(c->fd, len4, 4) < 0)
		return -1;
	size_t clen = (size_t)len4[0] << 24 | (size_t)len4[1] << 16 | (size_t)len4[2] << 8 | len4[3];
	if (clen < crypto_secretstream_xchacha20poly1305_ABYTES) {
		errno = EBADMSG;
		return -1;
	}
	size_t plen = clen - crypto_secretstream_xchacha20poly1305_ABYTES;
	if (plen > cap || plen > SHARE_RECORD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t *rec = malloc(clen);
	if (!rec) {
		errno = ENOMEM;
		return -1;
	}
	int r = share_read_all(c->fd, rec, clen);
	unsigned long long got = 0;
	uint8_t tag = 0;
	if (r == 0 && crypto_secretstream_xchacha20poly1305_pull(&c->rx, buf, &got, &tag, rec, clen, NULL, 0) != 0) {
		errno = EBADMSG;
		r = -1;
	}
	free(rec);
	return r < 0 ? -1 : (ssize_t)got;
}

#define COMMAND_RECORD_MAX 4096

int share_channel_send_json(struct share_channel *c, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	int rc = share_channel_send(c, text, strlen(text));
	json_free_t release; /* the CLI gives jansson an allocator of its own */
	json_get_alloc_funcs(NULL, &release);
	release(text);
	return rc;
}

json_t *share_channel_recv_json(struct share_channel *c)
{
	uint8_t buf[COMMAND_RECORD_MAX];
	ssize_t n = share_channel_recv(c, buf, sizeof buf);
	if (n <= 0)
		return NULL;
	json_t *msg = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

void share_channel_wipe(struct share_channel *c)
{
	sodium_memzero(c, sizeof *c);
	c->fd = -1;
}

void share_input_seal(const uint8_t key[32], const struct share_input *in, uint8_t out[SHARE_INPUT_SIZE])
{
	uint8_t plain[16] = {0};
	for (int i = 0; i < 8; i++)
		plain[i] = (uint8_t)(in->seq >> (56 - 8 * i));
	plain[8] = in->type;
	plain[9] = in->button;
	plain[10] = (uint8_t)(in->x >> 8);
	plain[11] = (uint8_t)in->x;
	plain[12] = (uint8_t)(in->y >> 8);
	plain[13] = (uint8_t)in->y;
	randombytes_buf(out, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, plain, sizeof plain, NULL, 0, NULL, out, key);
}

bool share_input_open(const uint8_t key[32], const uint8_t *datagram, size_t len, struct share_input *out)
{
	uint8_t plain[16];
	if (len != SHARE_INPUT_SIZE || crypto_aead_xchacha20poly1305_ietf_decrypt(
	                                   plain, NULL, NULL, datagram + 24, len - 24, NULL, 0, datagram, key) != 0)
		return false;
	if (plain[8] < SHARE_INPUT_MOTION || plain[8] > SHARE_INPUT_RELEASE || plain[14] || plain[15])
		return false;
	out->seq = 0;
	for (int i = 0; i < 8; i++)
		out->seq = out->seq << 8 | plain[i];
	out->type = plain[8];
	out->button = plain[9];
	out->x = (uint16_t)(plain[10] << 8 | plain[11]);
	out->y = (uint16_t)(plain[12] << 8 | plain[13]);
	return true;
}
