/* The stored logins of the CLI; see credentials.h. */
#include "credentials.h"

#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strfmt.h"

#define MAX_FILE (1u << 20)

static void set_err(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

int credentials_dir(const char *dir_opt, char *out, size_t outsz)
{
	int n;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (dir_opt && *dir_opt)
		n = snprintf(out, outsz, "%s", dir_opt);
	else if (xdg && xdg[0] == '/') /* the XDG spec: a relative value is ignored */
		n = snprintf(out, outsz, "%s/vitrine", xdg);
	else if (home && *home)
		n = snprintf(out, outsz, "%s/.config/vitrine", home);
	else
		return -1;
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

void credentials_free(struct credentials *c)
{
	if (c->token) {
		sodium_memzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->server);
	free(c->token_id);
	free(c->login);
	free(c->ca);
	memset(c, 0, sizeof *c);
}

/* Reads the whole file. Returns the document (new reference), NULL with
 * *missing set when there is no file, NULL otherwise after setting err. */
static json_t *read_file(const char *path, bool *missing, char *err, size_t errsz)
{
	json_t *doc = NULL;
	char *buf = NULL;
	size_t bufsz = 0;
	*missing = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			*missing = true;
		else
			set_err(err, errsz, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_FILE) {
		set_err(err, errsz, "%s is not a credentials file", path);
		goto out;
	}
	if (sb.st_mode & 077)
		fprintf(stderr, "vitrine: warning: %s can be read by other users; run `chmod 600 %s`\n", path, path);
	bufsz = (size_t)sb.st_size + 1;
	buf = malloc(bufsz);
	if (!buf) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	json_error_t jerr;
	doc = json_loadb(buf, got, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc || !json_is_object(json_object_get(doc, "servers"))) {
		set_err(err, errsz, "%s is damaged (%s); delete it and run `vitrine login` again", path,
		        doc ? "no \"servers\"" : jerr.text);
		json_decref(doc);
		doc = NULL;
	}
out:
	if (buf) {
		sodium_memzero(buf, bufsz);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return doc;
}

static char *dup_member(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v && *v ? strdup(v) : NULL;
}

int credentials_load(const char *dir, const char *server, struct credentials *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof *out);
	char path[4200];
	if (strfmt(path, sizeof path, "%s/%s", dir, CREDENTIALS_FILE) != 0) {
		set_err(err, errsz, "the credentials folder's path is too long");
		return -1;
	}
	bool missing;
	json_t *doc = read_file(path, &missing, err, errsz);
	if (!doc)
		return missing ? 0 : -1;
	int rc = 0;
	const char *name = server ? server : json_string_value(json_object_get(doc, "default"));
	json_t *entry = name ? json_object_get(json_object_get(doc, "servers"), name) : NULL;
	if (!json_is_object(entry))
		goto out;
	out->server = strdup(name);
	out->token = dup_member(entry, "token");
	out->token_id = dup_member(entry, "token_id");
	out->login = dup_member(entry, "login");
	out->ca = dup_member(entry, "ca");
	if (!out->server || !out->token || !out->token_id) {
		set_err(err, errsz, "%s: the entry of %s is incomplete; run `vitrine login` again", path, name);
		credentials_free(out);
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	json_decref(doc);
	return rc;
}

/* mkdir -p with mode 0700 for every folder it creates. */
int credentials_make_dirs(const char *dir)
{
	char tmp[4096];
	if (strfmt(tmp, sizeof tmp, "%s", dir) != 0)
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes doc to dir/credentials through a temporary file and rename(2). */
static int write_atomically(const char *dir, json_t *doc, char *err, size_t errsz)
{
	int rc = -1, fd = -1;
	char *text = NULL;
	char tmp[4200], path[4200];
	if (strfmt(path, sizeof path, "%s/%s", dir, CREDENTIALS_FILE) != 0 ||
	    strfmt(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, CREDENTIALS_FILE) != 0) {
		set_err(err, errsz, "the credentials folder's path is too long");
		return -1;
	}
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	fd = mkstemp(tmp); /* 0600 */
	if (fd < 0) {
		set_err(err, errsz, "cannot write in %s: %s", dir, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			set_err(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		set_err(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		set_err(err, errsz, "cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) { /* the rename itself survives a crash */
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	if (text) {
		sodium_memzero(text, strlen(text));
		api_json_free(text);
	}
	return rc;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
	return value ? json_object_set_new(obj, key, json_string(value)) : 0;
}

int credentials_save(const char *dir, const struct credentials *c, bool fix_dir_mode, char *err, size_t errsz)
{
	int rc = -1;
	if (credentials_make_dirs(dir) != 0) {
		set_err(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (stat(dir, &sb) == 0 && (sb.st_mode & 077) && fix_dir_mode && chmod(dir, 0700) != 0) {
		set_err(err, errsz, "cannot make %s private: %s", dir, strerror(errno));
		return -1;
	}
	char path[4200];
	if (strfmt(path, sizeof path, "%s/%s", dir, CREDENTIALS_FILE) != 0) {
		set_err(err, errsz, "the credentials folder's path is too long");
		return -1;
	}
	bool missing;
	char ignored[256];
	json_t *doc = read_file(path, &missing, ignored, sizeof ignored); /* a damaged file is replaced */
	if (!doc)
		doc = json_pack("{s:{}}", "servers");
	json_t *entry = json_object();
	if (!doc || !entry || json_object_set_new(doc, "default", json_string(c->server)) != 0 ||
	    set_string(entry, "token", c->token) != 0 || set_string(entry, "token_id", c->token_id) != 0 ||
	    set_string(entry, "login", c->login) != 0 || set_string(entry, "ca", c->ca) != 0 ||
	    json_object_set(json_object_get(doc, "servers"), c->server, entry) != 0) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	rc = write_atomically(dir, doc, err, errsz);
out:
	json_decref(entry);
	json_decref(doc);
	return rc;
}

int credentials_remove(const char *dir, const char *server, char *err, size_t errsz)
{
	char path[4200];
	if (strfmt(path, sizeof path, "%s/%s", dir, CREDENTIALS_FILE) != 0) {
		set_err(err, errsz, "the credentials folder's path is too long");
		return -1;
	}
	bool missing;
	json_t *doc = read_file(path, &missing, err, errsz);
	if (!doc)
		return missing ? 0 : -1;
	int rc = 0;
	json_t *servers = json_object_get(doc, "servers");
	json_object_del(servers, server);
	if (json_object_size(servers) == 0) {
		if (unlink(path) != 0 && errno != ENOENT) {
			set_err(err, errsz, "cannot delete %s: %s", path, strerror(errno));
			rc = -1;
		}
		goto out;
	}
	const char *def = json_string_value(json_object_get(doc, "default"));
	if (!def || !json_object_get(servers, def)) { /* another server becomes the default */
		const char *key;
		json_t *v;
		json_object_foreach (servers, key, v) {
			json_object_set_new(doc, "default", json_string(key));
			break;
		}
	}
	rc = write_atomically(dir, doc, err, errsz);
out:
	json_decref(doc);
	return rc;
}
