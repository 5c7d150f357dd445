/*
 * known_hosts of `vitrine remote` (see pins.h): read line by line, a line
 * being three fields separated by single spaces; written whole through a
 * temporary file, fsync and rename(2), so a crash leaves the old file or
 * the new one. Fields never contain spaces (URLs and ids are checked by
 * the caller's sources: a normalized server URL, a server id, base64).
 */
#include "pins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strfmt.h"
#include "credentials.h"

static bool field_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 2048)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Splits "A B C\n" into its three fields in place; false when it is not. */
static bool split_line(char *line, char **a, char **b, char **c)
{
	line[strcspn(line, "\r\n")] = '\0';
	*a = line;
	*b = strchr(line, ' ');
	if (!*b)
		return false;
	*(*b)++ = '\0';
	*c = strchr(*b, ' ');
	if (!*c)
		return false;
	*(*c)++ = '\0';
	return **a && **b && **c && !strchr(*c, ' ');
}

int pins_lookup(const char *dir, const char *server, const char *screen_id, char key[PINS_KEY_MAX], char *err,
                size_t errsz)
{
	char path[4200];
	if (strfmt(path, sizeof path, "%s/%s", dir, PINS_FILE) != 0) {
		snprintf(err, errsz, "the config folder's path is too long");
		return -1;
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		char *a, *b, *c;
		if (!split_line(line, &a, &b, &c))
			continue;
		if (strcmp(a, server) == 0 && strcmp(b, screen_id) == 0 && strlen(c) < PINS_KEY_MAX) {
			snprintf(key, PINS_KEY_MAX, "%s", c);
			found = 1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errsz, "cannot read %s", path);
		found = -1;
	}
	fclose(f);
	return found;
}

int pins_store(const char *dir, const char *server, const char *screen_id, const char *key, char *err, size_t errsz)
{
	char path[4200], tmp[4200];
	if (!field_ok(server) || !field_ok(screen_id) || (key && !field_ok(key))) {
		snprintf(err, errsz, "a host key pin cannot hold spaces or control characters");
		return -1;
	}
	if (strfmt(path, sizeof path, "%s/%s", dir, PINS_FILE) != 0 ||
	    strfmt(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, PINS_FILE) != 0) {
		snprintf(err, errsz, "the config folder's path is too long");
		return -1;
	}
	if (credentials_make_dirs(dir) != 0) {
		snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errsz, "cannot write in %s: %s", dir, strerror(errno));
		return -1;
	}
	FILE *out = fdopen(fd, "w");
	if (!out) {
		close(fd);
		unlink(tmp);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	FILE *in = fopen(path, "re");
	if (!in && errno != ENOENT) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		fclose(out);
		unlink(tmp);
		return -1;
	}
	char line[4096];
	while (in && fgets(line, sizeof line, in)) {
		char *a, *b, *c;
		if (!split_line(line, &a, &b, &c))
			continue;
		if (strcmp(a, server) == 0 && strcmp(b, screen_id) == 0)
			continue;
		fprintf(out, "%s %s %s\n", a, b, c);
	}
	if (in)
		fclose(in);
	if (key)
		fprintf(out, "%s %s %s\n", server, screen_id, key);
	bool ok = fflush(out) == 0 && fchmod(fd, 0600) == 0 && fsync(fd) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
