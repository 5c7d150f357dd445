/* The player's data folder; see state.h. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strfmt.h"

int state_write_file(const char *dir, const char *name, const void *data, size_t len, int mode)
{
	char path[1200], tmp[1210];
	if (strfmt(path, sizeof path, "%s/%s", dir, name) != 0 || strfmt(tmp, sizeof tmp, "%s.tmp", path) != 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Reads dir/name into buf (NUL-terminated); returns length or -1. */
static ssize_t read_small(const char *dir, const char *name, void *buf, size_t bufsz)
{
	char path[1200];
	if (strfmt(path, sizeof path, "%s/%s", dir, name) != 0)
		return -1;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, bufsz - 1);
	close(fd);
	if (n >= 0)
		((char *)buf)[n] = '\0';
	return n;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

void state_note_restored(struct player_state *st, const char *file, const char *problem, const char *action)
{
	log_event(LOG_WARN, "watchdog", "file", file, "problem", problem, "action", action, NULL);
	if (st->restored && json_array_size(st->restored) < 32)
		json_array_append_new(st->restored, json_pack("{s:s, s:s, s:s, s:I}", "file", file, "problem", problem,
		                                              "action", action, "at", (json_int_t)time(NULL)));
}

/* Moves dir/name aside as name.damaged (the last damaged copy is kept for
 * a look, never read again). */
static void set_aside(const char *dir, const char *name)
{
	char from[1200], to[1220];
	if (strfmt(from, sizeof from, "%s/%s", dir, name) == 0 &&
	    strfmt(to, sizeof to, "%s/%s.damaged", dir, name) == 0)
		rename(from, to);
}

/* A token or id as codes.h makes them: prefix and lower-case base32. */
static bool looks_like(const char *s, size_t len, const char *prefix)
{
	if (strlen(s) != len || strncmp(s, prefix, strlen(prefix)) != 0)
		return false;
	for (const char *p = s + strlen(prefix); *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '2' && *p <= '7')))
			return false;
	return true;
}

static int open_key(struct player_state *st, char *err, size_t errsz)
{
	uint8_t key[crypto_sign_SECRETKEYBYTES + 1];
	ssize_t n = read_small(st->dir, "device.key", key, sizeof key);
	bool fresh = n < 0;
	if (n == (ssize_t)crypto_sign_SECRETKEYBYTES) {
		/* an Ed25519 secret key holds its public half: a flipped bit shows */
		uint8_t pk[crypto_sign_PUBLICKEYBYTES], seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
		crypto_sign_ed25519_sk_to_seed(seed, key);
		crypto_sign_seed_keypair(pk, sk, seed);
		if (sodium_memcmp(sk, key, sizeof sk) == 0) {
			memcpy(st->secret_key, key, sizeof st->secret_key);
			memcpy(st->public_key, pk, sizeof pk);
		} else {
			n = -2;
		}
		sodium_memzero(seed, sizeof seed);
		sodium_memzero(sk, sizeof sk);
	}
	sodium_memzero(key, sizeof key);
	if (n != (ssize_t)crypto_sign_SECRETKEYBYTES || !fresh) {
		if (!fresh && n != (ssize_t)crypto_sign_SECRETKEYBYTES) {
			set_aside(st->dir, "device.key");
			state_note_restored(st, "device.key", "damaged", "a new pairing key was made");
			st->need_key_sent = true;
		}
		if (n != (ssize_t)crypto_sign_SECRETKEYBYTES) {
			crypto_sign_keypair(st->public_key, st->secret_key);
			if (state_write_file(st->dir, "device.key", st->secret_key, sizeof st->secret_key, 0600) != 0) {
				snprintf(err, errsz, "cannot write %s/device.key: %s", st->dir, strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

int state_open(struct player_state *st, const char *dir, char *err, size_t errsz)
{
	memset(st, 0, sizeof *st);
	if (strlen(dir) >= sizeof st->dir - 32) {
		snprintf(err, errsz, "the data folder path is too long");
		return -1;
	}
	memcpy(st->dir, dir, strlen(dir) + 1);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create the data folder %s: %s", dir, strerror(errno));
		return -1;
	}
	chmod(dir, 0700);
	st->restored = json_array();
	st->pending_acks = json_array();
	if (open_key(st, err, errsz) != 0)
		return -1;
	sodium_bin2base64(st->public_key_b64, sizeof st->public_key_b64, st->public_key, sizeof st->public_key,
	                  sodium_base64_VARIANT_ORIGINAL);
	ssize_t hn = read_small(dir, "hardware_id", st->hardware_id, sizeof st->hardware_id);
	trim(st->hardware_id);
	if (hn > 0 && !looks_like(st->hardware_id, CODES_ID_LEN, "")) {
		set_aside(dir, "hardware_id");
		state_note_restored(st, "hardware_id", "damaged", "a new hardware id was made");
		hn = -1;
	}
	if (hn <= 0) {
		codes_new_id(st->hardware_id);
		if (state_write_file(dir, "hardware_id", st->hardware_id, strlen(st->hardware_id), 0600) != 0) {
			snprintf(err, errsz, "cannot write %s/hardware_id", dir);
			return -1;
		}
	}
	bool had_token = read_small(dir, "token", st->token, sizeof st->token) >= 0;
	trim(st->token);
	bool had_id = read_small(dir, "device_id", st->device_id, sizeof st->device_id) >= 0;
	trim(st->device_id);
	if (had_id && !looks_like(st->device_id, CODES_ID_LEN, "")) {
		set_aside(dir, "device_id");
		state_note_restored(st, "device_id", "damaged", "asked the server for it");
		st->device_id[0] = '\0';
		st->need_config = true;
	}
	char token[sizeof st->token];
	codes_new_token("vd_", token); /* only its length is used */
	if (had_token && !looks_like(st->token, strlen(token), "vd_")) {
		set_aside(dir, "token");
		state_note_restored(st, "token", "damaged", "a new token is asked for with the pairing key");
		sodium_memzero(st->token, sizeof st->token);
		st->need_token = true;
	} else if (!had_token && had_id) {
		state_note_restored(st, "token", "missing", "a new token is asked for with the pairing key");
		st->need_token = true;
	}
	sodium_memzero(token, sizeof token);
	char path[1200];
	json_error_t jerr;
	bool had_state = strfmt(path, sizeof path, "%s/state.json", dir) == 0 && access(path, F_OK) == 0;
	json_t *j = had_state ? json_load_file(path, 0, &jerr) : NULL;
	json_t *seq = json_object_get(j, "last_seq"), *acks = json_object_get(j, "pending_acks");
	if (had_state &&
	    (!json_is_object(j) || !json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_array(acks))) {
		set_aside(dir, "state.json");
		state_note_restored(st, "state.json", "damaged", "the last instruction done is asked of the server");
		st->need_config = true;
	} else if (j) {
		st->last_seq = json_integer_value(seq);
		json_array_extend(st->pending_acks, acks);
	}
	json_decref(j);
	return 0;
}

void state_close(struct player_state *st)
{
	sodium_memzero(st->secret_key, sizeof st->secret_key);
	sodium_memzero(st->token, sizeof st->token);
	json_decref(st->pending_acks);
	st->pending_acks = NULL;
	json_decref(st->restored);
	st->restored = NULL;
}

int state_save(struct player_state *st)
{
	json_t *j = json_pack("{s:I, s:O}", "last_seq", (json_int_t)st->last_seq, "pending_acks", st->pending_acks);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	int rc = text ? state_write_file(st->dir, "state.json", text, strlen(text), 0600) : -1;
	free(text);
	return rc;
}

int state_save_token(struct player_state *st, const char *token, const char *device_id)
{
	snprintf(st->token, sizeof st->token, "%s", token);
	snprintf(st->device_id, sizeof st->device_id, "%s", device_id);
	st->last_seq = 0; /* a new screen starts its numbering again */
	json_array_clear(st->pending_acks);
	if (state_write_file(st->dir, "token", token, strlen(token), 0600) != 0 ||
	    state_write_file(st->dir, "device_id", device_id, strlen(device_id), 0600) != 0)
		return -1;
	return state_save(st);
}

void state_forget_token(struct player_state *st)
{
	char path[1200];
	sodium_memzero(st->token, sizeof st->token);
	st->device_id[0] = '\0';
	if (strfmt(path, sizeof path, "%s/token", st->dir) == 0)
		unlink(path);
	if (strfmt(path, sizeof path, "%s/device_id", st->dir) == 0)
		unlink(path);
	st->last_seq = 0;
	json_array_clear(st->pending_acks);
	state_save(st);
}
