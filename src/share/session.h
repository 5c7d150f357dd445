/*
 * The secure session between a share sender (the laptop) and a receiver
 * (the display), over the TCP connections the sender opens.
 *
 * Authentication: the display shows, beside its share code, a key of
 * SHARE_KEY_DIGITS digits that it draws itself and shows nowhere else. Both
 * sides stretch code and key with Argon2id into the authentication key
 * (share_auth_key). The handshake is an ephemeral X25519 exchange in which
 * the sender proves first that it knows the authentication key, then the
 * display proves it back:
 *
 *   display -> sender   greeting  "VSH1" | display's X25519 public key | nonce (16)
 *   sender  -> display  hello     "VSH1" | sender's X25519 public key  | nonce (16) | MAC_s (32)
 *   display -> sender   welcome   status (1) | MAC_d (32, zero unless status is 0)
 *
 * th = BLAKE2b-256(greeting | sender's key | sender's nonce); master =
 * BLAKE2b-256 keyed with the authentication key over (X25519 secret | th);
 * every other key is crypto_kdf_derive_from_key(master, id, "vtshare1"):
 * 1 MAC_s key, 2 MAC_d key, 3 command sender->display, 4 command
 * display->sender, 5 stream sender->display, 6 input display->sender.
 * MAC_s and MAC_d are BLAKE2b-256 of th keyed with their keys. A stranger
 * who connects learns nothing it could guess the key from (the display
 * answers no MAC before the sender's is good); a passive listener learns no
 * key at all (X25519).
 *
 * After the handshake every connection carries records of a
 * crypto_secretstream (XChaCha20-Poly1305) per direction: its 24-byte
 * header first, then each record as a 4-byte big-endian length and the
 * ciphertext. A record that does not authenticate ends the connection.
 * All functions are blocking and keep no pointer they are given.
 */
#ifndef VITRINE_SHARE_SESSION_H
#define VITRINE_SHARE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#define SHARE_KEY_DIGITS        6
#define SHARE_AUTH_SIZE         32
#define SHARE_GREETING_SIZE     52
#define SHARE_HELLO_SIZE        84
#define SHARE_WELCOME_SIZE      33
#define SHARE_RECORD_MAX        (4u << 20) /* plaintext bytes of one record */
#define SHARE_MAX_SENDERS       4          /* on one display at once */
#define SHARE_STREAM_PORT_FIRST 49200      /* the display's stream ports */
#define SHARE_STREAM_PORT_LAST  49400

enum share_welcome_status {
	SHARE_WELCOME_OK = 0,
	SHARE_WELCOME_WRONG_KEY = 1, /* the sender's MAC did not verify */
	SHARE_WELCOME_LOCKED = 2,    /* too many wrong keys: the display drew a new one */
	SHARE_WELCOME_FULL = 3,      /* four senders are sharing already */
};

struct share_keys {
	uint8_t command_to_display[32], command_to_sender[32], stream_to_display[32], input_to_sender[32];
};

/* The authentication key of (code, screen key): code_digits is the nine
 * digits without dashes, screen_key SHARE_KEY_DIGITS digits. 0, or -1 when
 * screen_key is malformed or Argon2 had no memory. Takes about 0.1 s. */
int share_auth_key(const char *code_digits, const char *screen_key, uint8_t out[SHARE_AUTH_SIZE]);

/* A fresh screen key: SHARE_KEY_DIGITS random digits and a NUL. */
void share_new_screen_key(char out[SHARE_KEY_DIGITS + 1]);

/* The display's side of one handshake. */
struct share_display_handshake {
	uint8_t secret[32];
	uint8_t greeting[SHARE_GREETING_SIZE];
};
void share_display_greeting(struct share_display_handshake *hs, uint8_t out[SHARE_GREETING_SIZE]);
/* Checks the sender's hello against auth. True: *keys is the session's and
 * welcome says OK with MAC_d. False: welcome says WRONG_KEY. The ephemeral
 * secret is wiped either way. */
bool share_display_check(struct share_display_handshake *hs, const uint8_t auth[SHARE_AUTH_SIZE],
                         const uint8_t hello[SHARE_HELLO_SIZE], struct share_keys *keys,
                         uint8_t welcome[SHARE_WELCOME_SIZE]);
/* A welcome that refuses with status (not OK), for a display that does not
 * look at the hello (locked, full). */
void share_display_refusal(enum share_welcome_status status, uint8_t welcome[SHARE_WELCOME_SIZE]);

/* The sender's side of one handshake. */
struct share_sender_handshake {
	uint8_t secret[32];
	uint8_t th[32];
	uint8_t master[32];
};
/* From the display's greeting, the hello to send. False when the greeting
 * is no greeting (wrong magic, a low-order key). */
bool share_sender_hello(struct share_sender_handshake *hs, const uint8_t auth[SHARE_AUTH_SIZE],
                        const uint8_t greeting[SHARE_GREETING_SIZE], uint8_t hello[SHARE_HELLO_SIZE]);
/* Reads the welcome: its status, with *keys filled on OK; -1 when the
 * welcome says OK but its MAC is not the display's (an impostor). */
int share_sender_finish(struct share_sender_handshake *hs, const uint8_t welcome[SHARE_WELCOME_SIZE],
                        struct share_keys *keys);

/* One direction each way of encrypted records over a socket. */
struct share_channel {
	int fd;
	uint8_t tx_key[32], rx_key[32];
	bool can_send, can_receive, tx_started, rx_started;
	crypto_secretstream_xchacha20poly1305_state tx, rx;
};
/* tx_key or rx_key may be NULL for a channel that only receives or sends. */
void share_channel_init(struct share_channel *c, int fd, const uint8_t *tx_key, const uint8_t *rx_key);
/* 0, or -1 with errno (EPIPE, ETIMEDOUT, EMSGSIZE; EINVAL for an empty
 * record: a record always holds something, so 0 from recv means the end). */
int share_channel_send(struct share_channel *c, const void *msg, size_t len);
/* The length of the record read into buf, 0 at the end of the connection
 * before a record, -1 with errno: EBADMSG for a record that does not
 * authenticate, EMSGSIZE for one larger than cap. */
ssize_t share_channel_recv(struct share_channel *c, uint8_t *buf, size_t cap);
/* The same with a JSON object (the command connection's records): send
 * takes the reference to msg whatever happens; recv gives a new object, or
 * NULL when the record is no JSON object, the connection ended or failed. */
struct json_t;
int share_channel_send_json(struct share_channel *c, struct json_t *msg);
struct json_t *share_channel_recv_json(struct share_channel *c);

/* Wipes the keys (does not close the socket). */
void share_channel_wipe(struct share_channel *c);

/* An input event the display sends back to a sender, as one UDP datagram:
 * a random 24-byte nonce, then XChaCha20-Poly1305 (the session's input key)
 * of seq (8, big-endian, increasing), type, button, x, y (2 each: 0..65535
 * across the sender's screen) and two zero bytes. */
#define SHARE_INPUT_SIZE (24 + 16 + 16)
enum share_input_type { SHARE_INPUT_MOTION = 1, SHARE_INPUT_PRESS = 2, SHARE_INPUT_RELEASE = 3 };
struct share_input {
	uint64_t seq;
	uint8_t type, button;
	uint16_t x, y;
};
void share_input_seal(const uint8_t key[32], const struct share_input *in, uint8_t out[SHARE_INPUT_SIZE]);
/* False for a datagram that is not one of this key (or not an event). */
bool share_input_open(const uint8_t key[32], const uint8_t *datagram, size_t len, struct share_input *out);

/* Whole reads and writes of a socket (EINTR retried, no SIGPIPE): 0, or -1
 * with errno; a read that meets the end first fails with ECONNRESET. */
int share_write_all(int fd, const void *buf, size_t len);
int share_read_all(int fd, void *buf, size_t len);

#endif
