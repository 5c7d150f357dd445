/* The player's content cache on disk; see cache.h. */
#include "cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/codes.h"
#include "common/log.h"
#include "common/strfmt.h"
#include "state.h"

#define MANIFEST_NAME "manifest.json"
#define BACKUP_NAME   "manifest.backup.json"

int cache_hash_file(const char *path, char out[65], int64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = cache_hash_fd(fd, out, size);
	close(fd);
	return rc;
}

int cache_hash_fd(int fd, char out[65], int64_t *size)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[65536];
	ssize_t n;
	int64_t total = 0;
	while ((n = pread(fd, buf, sizeof buf, (off_t)total)) > 0) {
		crypto_hash_sha256_update(&st, buf, (size_t)n);
		total += n;
	}
	if (n < 0)
		return -1;
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, digest);
	codes_hex(digest, sizeof digest, out);
	*size = total;
	return 0;
}

int cache_object_path(const char *objects_dir, const char *sha, const char *suffix, char *out, size_t outsz)
{
	return strfmt(out, outsz, "%s/%s%s", objects_dir, sha, suffix);
}

bool cache_object_ok(const char *objects_dir, const char *sha, int64_t size)
{
	char path[1200], hex[65];
	int64_t got;
	if (cache_object_path(objects_dir, sha, "", path, sizeof path) != 0)
		return false;
	struct stat sb;
	if (stat(path, &sb) != 0 || sb.st_size != size)
		return false;
	if (cache_hash_file(path, hex, &got) != 0 || strcmp(hex, sha) != 0) {
		log_event(LOG_WARN, "cached object damaged; fetching it again", "sha256", sha, NULL);
		unlink(path);
		return false;
	}
	return true;
}

int64_t cache_free_bytes(const char *dir)
{
	struct statvfs vfs;
	if (statvfs(dir, &vfs) != 0)
		return -1;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

int64_t cache_part_size(const char *objects_dir, const char *sha)
{
	char part[1200];
	struct stat sb;
	if (cache_object_path(objects_dir, sha, ".part", part, sizeof part) != 0 || stat(part, &sb) != 0)
		return 0;
	return (int64_t)sb.st_size;
}

void cache_collect(const char *objects_dir, json_t *keep, json_t *parts)
{
	DIR *d = opendir(objects_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sha[65];
		snprintf(sha, sizeof sha, "%.64s", e->d_name);
		const char *rest = e->d_name + strlen(sha);
		if (*rest == '\0' && json_object_get(keep, sha))
			continue;
		if ((strcmp(rest, ".part") == 0 || strcmp(rest, ".etag") == 0) && json_object_get(parts, sha))
			continue;
		char path[1400];
		if (strfmt(path, sizeof path, "%s/%s", objects_dir, e->d_name) == 0)
			unlink(path);
	}
	closedir(d);
}

const char *cache_manifest_problem(const json_t *m)
{
	json_t *objects = json_object_get(m, "objects"), *version = json_object_get(m, "version");
	if (!json_is_object(m))
		return "the manifest is not a JSON object";
	if (!json_is_integer(version) || json_integer_value(version) < 0)
		return "the manifest has no version";
	if (!json_is_array(objects))
		return "the manifest has no list of objects";
	size_t i;
	json_t *o;
	json_array_foreach (objects, i, o) {
		json_t *size = json_object_get(o, "size");
		if (!codes_is_sha256(json_string_value(json_object_get(o, "sha256"))) || !json_is_integer(size) ||
		    json_integer_value(size) < 0)
			return "an object of the manifest has no valid sha256 or size";
	}
	return NULL;
}

static json_t *load_checked(const char *dir, const char *name)
{
	char path[1200];
	if (strfmt(path, sizeof path, "%s/%s", dir, name) != 0)
		return NULL;
	struct stat sb;
	if (stat(path, &sb) != 0)
		return NULL;
	json_error_t e;
	json_t *m = json_load_file(path, 0, &e);
	const char *why = m ? cache_manifest_problem(m) : e.text;
	if (why) {
		log_event(LOG_WARN, "the cached manifest is damaged; not using it", "file", name, "reason", why, NULL);
		json_decref(m);
		return NULL;
	}
	return m;
}

json_t *cache_manifest_load(const char *dir)
{
	json_t *m = load_checked(dir, MANIFEST_NAME);
	char backup[1200];
	struct stat sb;
	if (m && strfmt(backup, sizeof backup, "%s/%s", dir, BACKUP_NAME) == 0 && stat(backup, &sb) != 0) {
		char *text = json_dumps(m, JSON_COMPACT); /* a folder from before the backup copy */
		if (text)
			state_write_file(dir, BACKUP_NAME, text, strlen(text), 0600);
		free(text);
	}
	if (m)
		return m;
	m = load_checked(dir, BACKUP_NAME);
	if (!m)
		return NULL;
	log_event(LOG_INFO, "using the backup copy of the manifest", NULL);
	char *text = json_dumps(m, JSON_COMPACT);
	if (!text || state_write_file(dir, MANIFEST_NAME, text, strlen(text), 0600) != 0)
		log_event(LOG_WARN, "cannot write the manifest back", "dir", dir, NULL);
	free(text);
	return m;
}

int cache_manifest_save(const char *dir, const char *text, size_t len)
{
	if (state_write_file(dir, MANIFEST_NAME, text, len, 0600) != 0)
		return -1;
	return state_write_file(dir, BACKUP_NAME, text, len, 0600);
}
