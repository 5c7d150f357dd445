/* The player's data folder; see state.h. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	uint8_t key[crypto_sign_SECRETKEYBYTES + 1];
	ssize_t n = read_small(dir, "device.key", key, sizeof key);
	if (n == (ssize_t)crypto_sign_SECRETKEYBYTES) {
		memcpy(st->secret_key, key, sizeof st->secret_key);
		crypto_sign_ed25519_sk_to_pk(st->public_key, st->secret_key);
	} else if (n < 0) {
		crypto_sign_keypair(st->public_key, st->secret_key);
		if (state_write_file(dir, "device.key", st->secret_key, sizeof st->secret_key, 0600) != 0) {
			snprintf(err, errsz, "cannot write %s/device.key: %s", dir, strerror(errno));
			return -1;
		}
	} else {
		snprintf(err, errsz, "%s/device.key is damaged (wrong size); move it away to make a new identity", dir);
		return -1;
	}
	sodium_memzero(key, sizeof key);
	sodium_bin2base64(st->public_key_b64, sizeof st->public_key_b64, st->public_key, sizeof st->public_key,
	                  sodium_base64_VARIANT_ORIGINAL);
	if (read_small(dir, "hardware_id", st->hardware_id, sizeof st->hardware_id) <= 0) {
		codes_new_id(st->hardware_id);
		if (state_write_file(dir, "hardware_id", st->hardware_id, strlen(st->hardware_id), 0600) != 0) {
			snprintf(err, errsz, "cannot write %s/hardware_id", dir);
			return -1;
		}
	}
	trim(st->hardware_id);
	if (read_small(dir, "token", st->token, sizeof st->token) > 0)
		trim(st->token);
	else
		st->token[0] = '\0';
	if (read_small(dir, "device_id", st->device_id, sizeof st->device_id) > 0)
		trim(st->device_id);
	char path[1200];
	json_error_t jerr;
	json_t *j = strfmt(path, sizeof path, "%s/state.json", dir) == 0 ? json_load_file(path, 0, &jerr) : NULL;
	st->pending_acks = json_array();
	if (j) {
		json_t *seq = json_object_get(j, "last_seq"), *acks = json_object_get(j, "pending_acks");
		if (json_is_integer(seq) && json_integer_value(seq) >= 0)
			st->last_seq = json_integer_value(seq);
		if (json_is_array(acks))
			json_array_extend(st->pending_acks, acks);
		json_decref(j);
	}
	return 0;
}

void state_close(struct player_state *st)
{
	sodium_memzero(st->secret_key, sizeof st->secret_key);
	sodium_memzero(st->token, sizeof st->token);
	json_decref(st->pending_acks);
	st->pending_acks = NULL;
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
