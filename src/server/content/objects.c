/* Content-addressed files on disk: streamed uploads and serving; see
 * objects.h. */
#include "objects.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/strfmt.h"
#include "../../common/utf8.h"
#include "../http/server.h"

/* Room kept free beside an upload (the database and its journal need
 * some): an upload that would leave less is refused with 507. */
#define DISK_RESERVE ((uint64_t)1 << 20)

/* A temporary file untouched for this long is no live upload's: a live
 * one is written at least every connection timeout (60 s). */
#define TEMP_STALE_S 900

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void objects_lock(void)
{
	pthread_mutex_lock(&lock);
}

void objects_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

int objects_make_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

uint64_t objects_free_bytes(const char *dir)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) != 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

int object_reply_no_space(struct http_req *r, uint64_t size, uint64_t available)
{
	return http_reply_error_extra(r, 507, "insufficient_storage",
	                              json_pack("{s:I, s:I}", "size", (json_int_t)size, "available",
	                                        (json_int_t)(available == UINT64_MAX ? -1 : (int64_t)available)),
	                              "the server's disk has no room for this upload (%llu bytes; %llu free): "
	                              "delete unused media or free space on the server",
	                              (unsigned long long)size,
	                              (unsigned long long)(available == UINT64_MAX ? 0 : available));
}

void objects_sanitize_filename(const char *in, const char *fallback, char *out, size_t outsz)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p;) {
		int len = utf8_sequence(p);
		if (len < 0) { /* not UTF-8 (Latin-1, say): dropped, never stored */
			p++;
			continue;
		}
		if (o + (size_t)len + 1 > outsz)
			break; /* never cut a character in two */
		if (len > 1 || (*p >= 0x20 && *p != 0x7f && *p != '/' && *p != '\\'))
			for (int i = 0; i < len; i++)
				out[o++] = (char)p[i];
		p += len;
	}
	out[o] = '\0';
	if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, outsz, "%.12s", fallback);
}

void object_upload_init(struct object_upload *up)
{
	memset(up, 0, sizeof *up);
	up->fd = -1;
}

void object_upload_discard(struct object_upload *up)
{
	if (up->fd >= 0)
		close(up->fd);
	up->fd = -1;
	if (up->tmp[0])
		unlink(up->tmp); /* a no-op once renamed into place */
	up->tmp[0] = '\0';
}

int object_upload_open(struct http_req *r, struct object_upload *up, const char *tmp_dir, bool announced_known,
                       uint64_t announced)
{
	objects_sweep_temp_files(tmp_dir, false); /* a few files: those of live uploads and crash leftovers */
	/* refused from the headers, before a byte of the body is read */
	uint64_t available = objects_free_bytes(tmp_dir);
	if (announced_known && available != UINT64_MAX &&
	    (available < DISK_RESERVE || announced > available - DISK_RESERVE)) {
		object_reply_no_space(r, announced, available);
		return -1;
	}
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	if (strfmt(up->tmp, sizeof up->tmp, "%s/%s.part", tmp_dir, id) != 0) {
		up->tmp[0] = '\0';
		http_reply_error(r, 500, "internal", "the data folder's path is too long for uploads");
		return -1;
	}
	up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (up->fd < 0) {
		up->tmp[0] = '\0';
		log_event(LOG_ERROR, "cannot create an upload file", "dir", tmp_dir, "error", strerror(errno), NULL);
		http_reply_error(r, 500, "internal", "the upload cannot be stored");
		return -1;
	}
	crypto_hash_sha256_init(&up->hash);
	return 0;
}

void object_upload_fail(struct object_upload *up, int err)
{
	up->failed = true;
	up->failed_errno = err;
	up->failed_at = up->size;
	object_upload_discard(up);
}

int object_upload_write(struct object_upload *up, const char *data, size_t len)
{
	if (up->failed || up->fd < 0)
		return -1;
	up->size += len;
	crypto_hash_sha256_update(&up->hash, (const unsigned char *)data, len);
	while (len > 0) {
		ssize_t w = write(up->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;
			log_event(LOG_ERROR, "cannot write an upload", "error", strerror(err), NULL);
			object_upload_fail(up, err);
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

void object_upload_digest(struct object_upload *up, char hex[65])
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&up->hash, digest);
	codes_hex(digest, sizeof digest, hex);
}

int object_reply_failed(struct http_req *r, const struct object_upload *up, const char *data_dir)
{
	if (up->failed_errno == ENOSPC || up->failed_errno == EDQUOT)
		return object_reply_no_space(r, up->failed_at, objects_free_bytes(data_dir));
	return http_reply_error(r, 507, "insufficient_storage", "the server could not store the upload: %s",
	                        strerror(up->failed_errno));
}

int object_upload_sync(struct http_req *r, struct object_upload *up, const char *data_dir)
{
	if (up->fd < 0) {
		http_reply_error(r, 507, "insufficient_storage", "the server could not store the upload");
		return -1;
	}
	if (fsync(up->fd) != 0) {
		int err = errno;
		object_upload_discard(up);
		if (err == ENOSPC || err == EDQUOT)
			object_reply_no_space(r, up->size, objects_free_bytes(data_dir));
		else
			http_reply_error(r, 507, "insufficient_storage", "the upload could not be written to disk");
		return -1;
	}
	close(up->fd);
	up->fd = -1;
	return 0;
}

int object_upload_move(struct object_upload *up, const char *dest)
{
	if (!up->tmp[0] || rename(up->tmp, dest) != 0)
		return -1;
	up->tmp[0] = '\0';
	return 0;
}

unsigned objects_sweep_temp_files(const char *dir, bool at_start)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	unsigned removed = 0;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		if (!dot || (strcmp(dot, ".part") != 0 && strcmp(dot, ".thumb") != 0))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (!at_start && now - sb.st_mtime < TEMP_STALE_S)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int objects_serve(struct http_req *r, const char *path, const char *sha256, const char *content_type, const char *cache)
{
	char etag[72];
	snprintf(etag, sizeof etag, "\"%s\"", sha256);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		log_event(LOG_ERROR, "object missing from the store", "sha256", sha256, NULL);
		return http_reply_error(r, 500, "internal", "the object is missing from the store");
	}
	http_reply_file(r, fd, (uint64_t)sb.st_size, content_type, etag);
	if (r->status == 200 || r->status == 206 || r->status == 304)
		http_reply_header(r, "Cache-Control", cache);
	return 0;
}
